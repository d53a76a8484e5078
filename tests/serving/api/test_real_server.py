"""One real server: ``reactivate serve`` (which execs ``bentoml serve``) on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.serving.conftest import auth, copy_world
from training.scored_snapshot import snapshot_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 150.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("server not ready in time")


@pytest.mark.slow
def test_the_real_server_answers_over_http_refuses_a_broken_snapshot_and_logs_no_secrets(
    world, tmp_path: Path
) -> None:
    models_dir = copy_world(world, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "REACTIVATE_SERVING__RELOAD_SECONDS": "0.5",
        "REACTIVATE_SERVING__PRECOMPUTE_EXPLANATIONS": "200",
        # The operator's way to trace the data routes, which the service leaves untraced by
        # default (docs/serving.md): here /model is left out instead, to see both sides.
        "BENTOML_CONFIG_OPTIONS": (
            "services.reactivate.tracing.sample_rate=1.0 "
            'services.reactivate.tracing.excluded_urls=["/model"]'
        ),
    }
    log = (tmp_path / "server.log").open("w")
    command = [
        sys.executable,
        "-m",
        "serving.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--models-dir",
        str(models_dir),
        "--tokens",
        str(world.tokens_file),
    ]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(url, process)
        ranked = httpx.post(
            f"{url}/rank",
            json={"clinic_id": "south", "limit": 5, "rank_by": "probability"},
            headers=auth(world.south_token),
            timeout=30,
        )
        assert ranked.status_code == 200, ranked.text
        patients = ranked.json()["patients"]
        assert len(patients) == 5 and all(p["reasons"] for p in patients)
        scored = httpx.post(
            f"{url}/score",
            json={"clinic_id": "south", "patient_ids": [patients[0]["patient_id"]]},
            headers=auth(world.south_token),
            timeout=30,
        )
        assert scored.json()["patients"][0]["rank"] == 1
        assert httpx.post(f"{url}/rank", json={"clinic_id": "south"}, timeout=10).status_code == 401
        assert (
            httpx.post(
                f"{url}/rank",
                json={"clinic_id": "north"},
                headers=auth(world.south_token),
                timeout=10,
            ).status_code
            == 403
        )
        bad = httpx.post(
            f"{url}/score",
            json={"clinic_id": "south", "patient_ids": "x", "oops": 1},
            headers=auth(world.south_token),
            timeout=10,
        )
        assert bad.status_code == 400
        assert (
            httpx.get(f"{url}/model", headers=auth(world.south_token), timeout=10).json()["version"]
            == "1"
        )
        broken = snapshot_path(models_dir, world.as_of + pd.Timedelta(days=1))
        broken.write_bytes(b"PAR1 half-written")
        deadline = time.monotonic() + 30
        model: dict = {}
        while time.monotonic() < deadline and not model.get("reload", {}).get("last_error"):
            time.sleep(0.5)
            model = httpx.get(f"{url}/model", headers=auth(world.south_token), timeout=10).json()
        assert model["reload"]["last_error"] and model["snapshot_as_of"] == str(world.as_of.date())
        again = httpx.post(
            f"{url}/rank",
            json={"clinic_id": "south", "limit": 5, "rank_by": "probability"},
            headers=auth(world.south_token),
            timeout=30,
        )
        assert again.json()["patients"] == patients  # still the last good snapshot
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "/rank" in text  # the access log is there ...
    lines = text.splitlines()
    assert all("sampled=1" in line for line in lines if "path=/rank" in line)
    assert not any("trace=" in line for line in lines if "path=/model" in line)
    assert world.south_token not in text and world.north_token not in text
    assert patients[0]["patient_id"] not in text  # ... but no secret and no patient id
