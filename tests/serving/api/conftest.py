"""One real server for the whole session, shared by the contract and hostile-client tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving.api.test_real_server import free_port, wait_ready
from tests.serving.conftest import World, copy_world

# Data requests the session's server admits at once: enough that the hostile-client tests'
# hang-ups (several sockets cut mid-body in a row) never meet the bound.
MAX_CONCURRENCY = 4


@dataclass
class RealServer:
    """A running ``reactivate serve`` on 127.0.0.1 and where its log goes."""

    url: str
    host: str
    port: int
    log_path: Path
    world: World
    max_concurrency: int  # the server's admission bound (serving.max_concurrency)

    def log_text(self) -> str:
        """Everything the server logged so far."""
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def real_server(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """``reactivate serve`` on a private copy of the session world (stopped at the end)."""
    root = tmp_path_factory.mktemp("real-server")
    models_dir = copy_world(world, root)
    port = free_port()
    env = {
        **os.environ,
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "REACTIVATE_SERVING__RELOAD_SECONDS": "0",
        "REACTIVATE_SERVING__PRECOMPUTE_EXPLANATIONS": "300",
        "REACTIVATE_SERVING__MAX_BODY_BYTES": "100000",
        "REACTIVATE_SERVING__MAX_CONCURRENCY": str(MAX_CONCURRENCY),
    }
    log_path = root / "server.log"
    log = log_path.open("w")
    command = [
        sys.executable, "-m", "serving.cli", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--models-dir", str(models_dir), "--tokens", str(world.tokens_file),
    ]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield RealServer(url, "127.0.0.1", port, log_path, world, MAX_CONCURRENCY)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
