"""Reliability with a real server: kill -9 never loses an acknowledged batch nor half-stores one."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
import sqlalchemy as sa

from features.config import Settings
from features.outcomes.events import clinic_now
from features.outcomes.store import store_url
from tests.serving.api.test_real_server import free_port, wait_ready
from tests.serving.conftest import auth, copy_world


def start(models_dir: Path, tokens: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "BENTOML_HOME": str(models_dir.parent / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true", "REACTIVATE_SERVING__RELOAD_SECONDS": "0",
           "REACTIVATE_SERVING__PRECOMPUTE_EXPLANATIONS": "50"}
    command = [sys.executable, "-m", "serving.cli", "serve", "--host", "127.0.0.1", "--port",
               str(port), "--models-dir", str(models_dir), "--tokens", str(tokens)]
    # Its own session, so kill -9 reaches the server and every worker it spawned.
    return subprocess.Popen(command, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill_9(process: subprocess.Popen) -> None:
    """SIGKILL the server's session and every process it spawned.

    BentoML's workers do not always stay in the server's process group: killing the group
    alone left a worker running (holding its port and the store) after the test.
    """
    workers = psutil.Process(process.pid).children(recursive=True)
    os.killpg(process.pid, signal.SIGKILL)
    for worker in workers:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()
    process.wait(timeout=30)
    psutil.wait_procs(workers, timeout=30)


def stored_ids(models_dir: Path, prefix: str) -> int:
    """Events of ``prefix`` in the store, read straight from the file the server wrote."""
    engine = sa.create_engine(store_url(Settings(models_dir=models_dir)))
    try:
        with engine.connect() as con:
            return con.execute(sa.text(
                "SELECT count(*) FROM outcome_events WHERE event_id LIKE :p"), {"p": f"{prefix}%"}
            ).scalar_one()
    finally:
        engine.dispose()


def batch(prefix: str, patients: list[str], size: int) -> list[dict]:
    at = clinic_now(Settings()).floor("s").isoformat()
    return [{"event_id": f"{prefix}{i}", "patient_id": patients[i % len(patients)],
             "type": "delivered", "channel": "sms", "at": at} for i in range(size)]


@pytest.mark.slow
def test_an_acknowledged_batch_survives_kill_9_and_an_interrupted_one_is_all_or_nothing(
    world, tmp_path: Path
) -> None:
    models_dir = copy_world(world, tmp_path)
    log = tmp_path / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = auth(world.south_token)
    server = start(models_dir, world.tokens_file, port, log)
    try:
        wait_ready(url, server)
        ranked = httpx.post(f"{url}/rank", json={"clinic_id": "south", "limit": 200,
                                                 "explain": False}, headers=headers, timeout=30)
        patients = [p["patient_id"] for p in ranked.json()["patients"]]
        acked = batch("acked-", patients, 2000)
        acked.append({"event_id": "acked-send", "patient_id": patients[0], "type": "sent",
                      "channel": "email", "at": acked[0]["at"]})
        answer = httpx.post(f"{url}/outcomes", json={"clinic_id": "south", "events": acked},
                            headers=headers, timeout=60)
        assert answer.status_code == 200 and answer.json()["accepted"] == 2001
        kill_9(server)
        assert stored_ids(models_dir, "acked-") == 2001

        server = start(models_dir, world.tokens_file, port, log)
        wait_ready(url, server)
        after = httpx.post(f"{url}/rank", json={"clinic_id": "south", "limit": 5000,
                                                "explain": False}, headers=headers, timeout=30)
        assert patients[0] not in [p["patient_id"] for p in after.json()["patients"]]
        big = batch("cut-", patients, 10_000)
        errors: list[BaseException] = []

        def send() -> None:
            try:
                httpx.post(f"{url}/outcomes", json={"clinic_id": "south", "events": big},
                           headers=headers, timeout=60)
            except httpx.HTTPError as exc:
                errors.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.4)  # the batch is in flight: being read, checked or written
        kill_9(server)
        sender.join(timeout=60)
        assert stored_ids(models_dir, "cut-") in (0, 10_000)
        assert stored_ids(models_dir, "acked-") == 2001
    finally:
        if server.poll() is None:
            kill_9(server)
