"""Benchmark: ``POST /rank`` on a 1,000,000-patient snapshot, over HTTP and in process.

Run: ``.venv/bin/python bench/serving_bench.py`` (defaults: a model trained with the default
settings on a 20,000-patient demo clinic, its snapshot resampled to 1,000,000 patients in
five clinics - one group of 600,000 and four of 100,000 - and requests on the big one).
Writes ``bench/results/serving.json``.

What is measured, in this order:

1. load: reading the snapshot, checking it and building the per-clinic index;
2. TreeSHAP cost of 100 rows explained cold (the on-demand path) and the background warm-up
   of the rows most likely to be listed;
3. in process: ``serving.handlers.rank`` plus JSON serialisation, for ``--seconds`` each with
   ``explain`` false and true, cycling through eight campaign bodies (filters, channels,
   ``rank_by``) with ``limit`` 100, after one first request per body (timed separately: it
   explains the listed rows the warm-up did not reach);
4. over HTTP: ``reactivate serve`` (``bentoml serve``) on 127.0.0.1 driven by a bounded
   loopback load generator (``--concurrency`` keep-alive clients, closed loop: 1 for the
   latency comparison with in-process, 2 for throughput; keys ``explain_*_c2``) with the
   same bodies, after the service reports its warm-up done; p50/p99/requests per second,
   and the peak resident memory of the server's process tree.

Why resample instead of simulating a million patients: ranking and explaining cost depend
on row count, model size and columns, which the resampled snapshot has exactly; simulating
and training at that scale belongs to other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.config import Settings  # noqa: E402

AS_OF = "2026-06-30"
CLINICS = {"group": 600_000, "c1": 100_000, "c2": 100_000, "c3": 100_000, "c4": 100_000}
BODIES: list[dict] = [
    {},
    {"segments": ["lapsing", "inactive"]},
    {"services": ["botox", "filler"]},
    {"channels": ["sms", "email"]},
    {"rank_by": "expected_value"},
    {"min_days_since_visit": 180, "max_days_since_visit": 720},
    {"segments": ["dormant"], "channels": ["email"], "rank_by": "expected_value"},
    {"location_ids": ["downtown"], "services": ["botox"]},
]


def build_world(args: argparse.Namespace, work: Path) -> tuple[Settings, dict]:
    """Train and register a champion, score, resample to ``--patients``, write the snapshot."""
    from features.simulator import simulate
    from training.fit import train
    from training.registry import log_and_register
    from training.scoring import score
    from training.snapshot_store import snapshot_path, write_snapshot

    settings = Settings(models_dir=work / "models")
    tables = simulate(args.train_patients, seed=7, start="2023-01-01", end=AS_OF).tables
    started = time.perf_counter()
    result = train(tables, AS_OF, settings)
    train_s = time.perf_counter() - started
    log_and_register(result, settings)
    base = score(tables, AS_OF, result.bundle, settings)
    picks = np.random.default_rng(settings.seed).integers(0, len(base), args.patients)
    big = base.iloc[picks].reset_index(drop=True)
    big["patient_id"] = pd.Series(np.arange(args.patients)).map("B{:08d}".format).astype(object)
    shares = np.array(list(CLINICS.values()), dtype=float)
    sizes = np.floor(shares / shares.sum() * args.patients).astype(int)
    sizes[0] += args.patients - sizes.sum()
    big["clinic_id"] = np.repeat(np.array(list(CLINICS), dtype=object), sizes)
    write_snapshot(big, snapshot_path(settings.models_dir, AS_OF))
    model = {
        "trained_on_patients": args.train_patients,
        "train_s": round(train_s, 1),
        "return_trees": int(result.bundle.return_model.booster.num_trees()),
        "features": len(result.bundle.features),
    }
    return settings, model


def percentiles(latencies_ms: list[float], seconds: float) -> dict:
    values = np.asarray(latencies_ms)
    return {
        "requests": int(len(values)),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "rps": round(len(values) / seconds, 1),
    }


def in_process(settings: Settings, seconds: float) -> dict:
    """Load like the service does, then call the ranking handler in a loop."""
    from serving import handlers
    from serving.api_models import RankRequest
    from serving.state import ServingState

    state = ServingState(settings)
    started = time.perf_counter()
    state.refresh()
    served = handlers.require(state.current)
    out: dict = {"load_s": round(time.perf_counter() - started, 2)}
    cold = np.random.default_rng(1).choice(served.index.rows, 100, replace=False)
    started = time.perf_counter()
    served.explanations.compute(cold)
    out["explain_100_rows_cold_ms"] = round((time.perf_counter() - started) * 1000, 1)
    started = time.perf_counter()
    served.explanations.join()
    out["warmup_s"] = round(time.perf_counter() - started, 1)
    out["warmed_rows"] = served.explanations.ready
    first = []
    for body in BODIES:  # each campaign's first request: rows beyond the warm-up explained now
        t0 = time.perf_counter()
        handlers.rank(served, RankRequest(clinic_id="group", limit=100, **body), settings)
        first.append((time.perf_counter() - t0) * 1000)
    out["first_request_per_body_ms"] = {
        "max": round(max(first), 1),
        "median": round(float(np.median(first)), 1),
    }
    for explain in (False, True):
        requests = [RankRequest(clinic_id="group", limit=100, explain=explain, **b) for b in BODIES]
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            request = requests[len(latencies) % len(requests)]
            t0 = time.perf_counter()
            handlers.rank(served, request, settings).model_dump_json()
            latencies.append((time.perf_counter() - t0) * 1000)
        out[f"explain_{str(explain).lower()}"] = percentiles(latencies, seconds)
    out["explained_rows_after"] = served.explanations.ready
    state.stop()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MemoryWatch(threading.Thread):
    """Samples the resident memory of a process tree; keeps the peak of the sum."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.done.wait(0.25):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass


def drive(url: str, token: str, explain: bool, seconds: float, concurrency: int) -> dict:
    """Closed-loop load: ``concurrency`` keep-alive clients for ``seconds``."""
    import httpx

    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            n = offset
            while time.perf_counter() < deadline:
                body = {
                    "clinic_id": "group",
                    "limit": 100,
                    "explain": explain,
                    **BODIES[n % len(BODIES)],
                }
                t0 = time.perf_counter()
                response = client.post("/rank", json=body)
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    (latencies if response.status_code == 200 else failures).append(
                        elapsed if response.status_code == 200 else response.status_code
                    )
                n += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**percentiles(latencies, seconds), "failures": len(failures)}


def over_http(settings: Settings, work: Path, args: argparse.Namespace) -> dict:
    """Start the real service, wait for its warm-up, drive it, stop it."""
    import httpx

    from serving.auth import add_token

    token = add_token(work / "tokens.json", list(CLINICS))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BENTOML_HOME": str(work / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}
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
        str(settings.models_dir),
        "--tokens",
        str(work / "tokens.json"),
    ]
    log = (work / "server.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    watch = MemoryWatch(process.pid)
    watch.start()
    out: dict = {"concurrency": args.concurrency}
    try:
        while True:
            if process.poll() is not None or time.perf_counter() - started > 600:
                raise RuntimeError(f"server did not start; see {work / 'server.log'}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        out["ready_s"] = round(time.perf_counter() - started, 1)
        headers = {"Authorization": f"Bearer {token}"}
        budget = settings.serving.precompute_explanations
        ready = 0
        while time.perf_counter() - started < args.max_warmup_s:
            ready = httpx.get(f"{url}/model", headers=headers, timeout=10).json()["reload"][
                "explanations_ready"
            ]
            if ready >= budget:
                break
            time.sleep(2)
        out["explained_rows_before_load"] = ready
        first = []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for body in BODIES:
                t0 = time.perf_counter()
                client.post("/rank", json={"clinic_id": "group", "limit": 100, **body})
                first.append((time.perf_counter() - t0) * 1000)
        out["first_request_per_body_ms"] = {
            "max": round(max(first), 1),
            "median": round(float(np.median(first)), 1),
        }
        for explain in (False, True):
            for clients in args.concurrency:
                drive(url, token, explain, 3, clients)  # warm the connection path
                key = f"explain_{str(explain).lower()}" + ("" if clients == 1 else f"_c{clients}")
                out[key] = drive(url, token, explain, args.seconds, clients)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        watch.done.set()
        log.close()
    out["peak_service_rss_gb"] = round(watch.peak / 1024**3, 2)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--train-patients", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="Closed-loop clients per run, comma-separated (1: latency; more: throughput).",
    )
    parser.add_argument("--max-warmup-s", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serving.json")
    args, _ = parser.parse_known_args(argv)

    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    settings, model = build_world(args, work)
    result = {
        "patients": args.patients,
        "clinic_ranked": "group",
        "clinic_patients": CLINICS,
        "limit": 100,
        "bodies": len(BODIES),
        "seconds": args.seconds,
        "model": model,
        "precompute_explanations": settings.serving.precompute_explanations,
    }
    result["in_process"] = in_process(settings, args.seconds)
    result["http"] = over_http(settings, work, args)
    ratios = {}
    for explain in ("false", "true"):
        http = result["http"][f"explain_{explain}"]
        local = result["in_process"][f"explain_{explain}"]
        for stat in ("p50_ms", "p99_ms"):
            ratios[f"{stat[:3]}_explain_{explain}"] = round(http[stat] / local[stat], 2)
    result["http_over_in_process"] = ratios
    http = result["http"]
    result["targets"] = {
        "explain_false_p50_under_50ms": http["explain_false"]["p50_ms"] < 50,
        "explain_true_p99_under_150ms": http["explain_true"]["p99_ms"] < 150,
        "http_within_1_5x_in_process_p50": max(
            ratios["p50_explain_false"], ratios["p50_explain_true"]
        )
        <= 1.5,
        "peak_memory_under_4gb": http["peak_service_rss_gb"] < 4,
    }
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
