"""Benchmark: health checks and the admission bound while clients saturate ``POST /rank``.

Run: ``.venv/bin/python bench/health_bench.py`` (defaults: the world of
``bench/paging_bench.py``, a model trained on a 5,000-patient demo clinic and its snapshot
resampled to one clinic of 500,000 patients). Writes ``bench/results/health.json``.

For each ``--clients`` count N, a window of ``--seconds``: N closed-loop keep-alive clients
ask ``/rank`` for 2,000-5,000 patients each (every third with reasons); a client answered
429 waits the ``Retry-After`` seconds plus up to half as much again at random (what a
well-behaved client does; without the jitter every refused client comes back in the same
instant) and asks again. Meanwhile a prober in its own process (so that it does not
compete with the load generator's threads for that process's GIL) asks ``/readyz`` and
``/livez`` every 50 ms. Reported per window: the statuses of ``/rank``, the share of 429,
p50/p99 of the answered (200) requests and of the refusals, pages answered per second, the
probes' p50/p99/max, and the 1-minute load average at the window's start and end (the
machine is shared). The server keeps its own default admission bound unless
``--max-concurrency`` is given.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (2000, 3000, 4000, 5000)
PROBE_PATHS = ("/readyz", "/livez")
PROBE_PAUSE_S = 0.05


def connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)


def probe(url: str, seconds: float) -> dict[str, list[float]]:
    """``/readyz`` and ``/livez`` in turn every 50 ms for ``seconds``; latencies in ms."""
    times: dict[str, list[float]] = {path: [] for path in PROBE_PATHS}
    conn = connect(url)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for path in PROBE_PATHS:
            started = time.perf_counter()
            conn.request("GET", path)
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{path} answered {answer.status}")
            times[path].append((time.perf_counter() - started) * 1000)
        time.sleep(PROBE_PAUSE_S)
    return times


def summary(values: list[float]) -> dict:
    import numpy as np

    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": round(float(np.percentile(values, 50)), 1),
            "p99_ms": round(float(np.percentile(values, 99)), 1),
            "max_ms": round(max(values), 1)}


def window(url: str, token: str, clients: int, seconds: float) -> dict:
    """One saturation window (see the module doc)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    stop = threading.Event()
    lock = threading.Lock()
    ok_ms: list[float] = []
    refused_ms: list[float] = []
    statuses: dict[str, int] = {}
    refusal_bodies: set[str] = set()

    def client(number: int) -> None:
        conn, i, rng = connect(url), number, random.Random(number)
        while not stop.is_set():
            body = {"clinic_id": "big", "limit": SIZES[i % len(SIZES)], "explain": i % 3 == 0}
            started = time.perf_counter()
            try:
                conn.request("POST", "/rank", body=json.dumps(body), headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                status, wait = answer.status, answer.getheader("Retry-After")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn, status, wait, data = connect(url), -1, None, b""
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                (ok_ms if status == 200 else refused_ms if status == 429 else []).append(elapsed)
                if status == 429:
                    refusal_bodies.add(",".join(sorted(json.loads(data))))
            if status == 429:
                stop.wait(float(wait or 1) * (1 + 0.5 * rng.random()))
            i += 1
        conn.close()

    load_before = os.getloadavg()[0]
    prober = subprocess.Popen(
        [sys.executable, __file__, "--probe", url, str(seconds)], stdout=subprocess.PIPE
    )
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    probes = json.loads(prober.communicate()[0])
    stop.set()
    for thread in threads:
        thread.join()
    answered = sum(statuses.values())
    return {
        "clients": clients,
        "seconds": seconds,
        "rank_statuses": dict(sorted(statuses.items())),
        "share_429": round(statuses.get("429", 0) / max(answered, 1), 3),
        "rank_200": summary(ok_ms),
        "rank_200_per_s": round(len(ok_ms) / seconds, 2),
        "rank_429": summary(refused_ms),
        "refusal_body_keys": sorted(refusal_bodies),
        **{path.strip("/"): summary(times) for path, times in probes.items()},
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def wait_for_warmup(url: str, token: str, budget: int, limit_s: float = 600) -> int:
    """Wait until the service's background explanation warm-up is done (steady state)."""
    import httpx

    started, ready = time.perf_counter(), 0
    while ready < budget and time.perf_counter() - started < limit_s:
        time.sleep(2)
        answer = httpx.get(f"{url}/model", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        ready = answer.json()["reload"]["explanations_ready"]
    return ready


def world(args: argparse.Namespace, folder: Path) -> tuple[dict, str]:
    """Build the benchmark's world in ``folder`` (or reuse the one built there); model, token."""
    from bench import serving_bench
    from serving.api.auth import add_token

    marker = folder / "health-world.json"
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved["patients"] == args.patients and saved["train_patients"] == args.train_patients:
            return saved["model"], saved["token"]
    folder.mkdir(parents=True, exist_ok=True)
    _, model = serving_bench.build_world(args, folder)
    token = add_token(folder / "tokens.json", ["big"])
    marker.write_text(json.dumps({"patients": args.patients, "train_patients": args.train_patients,
                                  "model": model, "token": token}))
    return model, token


def main(argv: list[str]) -> int:
    if argv[:1] == ["--probe"]:
        print(json.dumps(probe(argv[1], float(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500_000)
    parser.add_argument("--train-patients", type=int, default=5_000)
    parser.add_argument("--clients", type=lambda t: [int(n) for n in t.split(",")],
                        default=[1, 5, 10, 20, 40])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-concurrency", type=int, default=None,
                        help="Override serving.max_concurrency (default: the service's).")
    parser.add_argument("--port", type=int, default=None, help="Server port (default: free).")
    parser.add_argument("--precompute", type=int, default=20_000)
    parser.add_argument("--world", type=Path, default=None,
                        help="Keep the built world in this folder and reuse it next time.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "health.json")
    args, _ = parser.parse_known_args(argv)

    from bench import serving_bench
    from bench.common import write_result
    from features.config import Settings

    serving_bench.CLINICS = {"big": args.patients}
    env = {"REACTIVATE_SERVING__PRECOMPUTE_EXPLANATIONS": str(args.precompute)}
    if args.max_concurrency is not None:
        env["REACTIVATE_SERVING__MAX_CONCURRENCY"] = str(args.max_concurrency)
    os.environ.update(env)  # the server inherits it; the settings reported are the served ones
    served = Settings.from_environment().serving
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model, token = world(args, args.world or work)
        process, url = serving_bench.start_server(
            Settings(models_dir=(args.world or work) / "models"), work,
            (args.world or work) / "tokens.json", args.port, env
        )
        try:
            explained = wait_for_warmup(url, token, args.precompute)
            windows = [window(url, token, n, args.seconds) for n in args.clients]
        finally:
            process.terminate()
            process.wait(timeout=60)
        log = (work / "server.log").read_text(errors="replace")
    result = {
        "benchmark": "health",
        "patients": args.patients,
        "model": model,
        "max_concurrency": served.max_concurrency,
        "page_threads": served.page_threads,
        "retry_after_seconds": served.retry_after_seconds,
        "explained_rows_before_load": explained,
        "windows": windows,
        "targets": {
            "health_p99_under_100ms": all(
                w[p]["p99_ms"] < 100 for w in windows for p in ("readyz", "livez")
            ),
        },
        "server_log_500s": log.count("status=500"),
        "server_log_tracebacks": log.count("Traceback"),
        "cpus": os.cpu_count(),
    }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
