"""Benchmark: ``POST /rank`` on a 1,000,000-patient snapshot, over HTTP and in process.

Run: ``.venv/bin/python bench/serving_bench.py`` (defaults: a model trained with the default
settings on a 20,000-patient demo clinic, its snapshot resampled to 1,000,000 patients in
five clinics - one group of 600,000 and four of 100,000 - and requests on the big one).
Writes ``bench/results/serving.json``.

What is measured, in this order:

1. load: reading the snapshot, checking it and building the per-clinic index;
2. TreeSHAP cost of 100 rows explained cold (the on-demand path) and the background warm-up
   of the rows most likely to be listed;
3. in process: the service's own steps (``handlers.select``, explaining the pending rows,
   ``handlers.rank_response``) plus JSON serialisation, ``--seconds`` in total each with
   ``explain`` false and true, cycling through eight campaign bodies (filters, channels,
   ``rank_by``) with ``limit`` 100, after one first request per body (timed separately: it
   explains the listed rows the warm-up did not reach);
4. over HTTP: ``reactivate serve`` (``bentoml serve``) on 127.0.0.1 driven by a bounded
   loopback load generator (keep-alive stdlib clients, closed loop) with the same bodies, after the
   service reports its warm-up done; p50/p99/requests per second, and the peak resident
   memory of the server's process tree.

The machine is shared, so the in-process and HTTP latency runs (one client) are interleaved
in ``--rounds`` windows: both paths see the same background load and their ratio means
something. Throughput runs with more clients (``--concurrency``, keys ``explain_*_c2``) follow.

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

from bench.common import write_result  # noqa: E402
from features.config import Settings  # noqa: E402
from features.vocabulary import DORMANT, EMAIL, INACTIVE, LAPSING, SMS  # noqa: E402

AS_OF = "2026-06-30"
CLINICS = {"group": 600_000, "c1": 100_000, "c2": 100_000, "c3": 100_000, "c4": 100_000}
BODIES: list[dict] = [
    {},
    {"segments": [LAPSING, INACTIVE]},
    {"services": ["botox", "filler"]},
    {"channels": [SMS, EMAIL]},
    {"rank_by": "expected_value"},
    {"min_days_since_visit": 180, "max_days_since_visit": 720},
    {"segments": [DORMANT], "channels": [EMAIL], "rank_by": "expected_value"},
    {"location_ids": ["downtown"], "services": ["botox"]},
]


def build_world(args: argparse.Namespace, work: Path) -> tuple[Settings, dict]:
    """Train and register a champion, score, resample to ``--patients``, write the snapshot."""
    from features.simulator import simulate
    from training.fit import train
    from training.registry import log_and_register
    from training.scored_snapshot import snapshot_path, write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    settings = Settings(models_dir=work / "models")
    tables = simulate(args.train_patients, seed=7, start="2023-01-01", end=AS_OF).tables
    started = time.perf_counter()
    result = train(tables, AS_OF, settings)
    train_s = time.perf_counter() - started
    version = log_and_register(result, settings).version
    base = score(tables, AS_OF, result.bundle, settings)
    picks = np.random.default_rng(settings.seed).integers(0, len(base), args.patients)
    big = base.iloc[picks].reset_index(drop=True)
    big["patient_id"] = pd.Series(np.arange(args.patients)).map("B{:08d}".format).astype(object)
    shares = np.array(list(CLINICS.values()), dtype=float)
    sizes = np.floor(shares / shares.sum() * args.patients).astype(int)
    sizes[0] += args.patients - sizes.sum()
    big["clinic_id"] = np.repeat(np.array(list(CLINICS), dtype=object), sizes)
    write_scored_snapshot(finish_snapshot(big, AS_OF, version),
                          snapshot_path(settings.models_dir, AS_OF))
    model = {
        "trained_on_patients": args.train_patients,
        "train_s": round(train_s, 1),
        "return_trees": int(result.bundle.return_model.booster.num_trees()),
        "features": len(result.bundle.features),
        "clinics": dict(zip(CLINICS, sizes.tolist(), strict=True)),
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


def bodies(explain: bool) -> list[dict]:
    return [{"clinic_id": "group", "limit": 100, "explain": explain, **b} for b in BODIES]


class Local:
    """The in-process path: the service's own state and handler, plus JSON serialisation."""

    def __init__(self, settings: Settings) -> None:
        from serving.api import handlers
        from serving.api.state import ServingState

        self.settings, self.handlers = settings, handlers
        self.state = ServingState(settings)
        started = time.perf_counter()
        self.state.refresh()
        self.served = handlers.require(self.state.current)
        self.stats: dict = {"load_s": round(time.perf_counter() - started, 2)}
        cold = np.random.default_rng(1).choice(self.served.index.rows, 100, replace=False)
        started = time.perf_counter()
        self.served.explanations.compute(cold)
        self.stats["explain_100_rows_cold_ms"] = round((time.perf_counter() - started) * 1000, 1)
        self.started = time.perf_counter()

    def call(self, body: dict) -> None:
        from serving.api.models import RankRequest

        request = RankRequest(**body)
        selection = self.handlers.select(self.served, request)
        if request.explain:  # the service does this on a worker thread (explain_pending)
            ordering = self.handlers.ordering(self.served, request)[0]
            explanations = self.served.explanations_for(ordering)
            pending = explanations.pending(selection.rows)
            if len(pending):
                explanations.prepare(pending)
        self.handlers.rank_response(
            self.served, request, selection, self.settings).model_dump_json()


def timed_calls(call, requests: list[dict], seconds: float) -> list[float]:  # noqa: ANN001
    """Closed loop over ``requests`` for ``seconds``; latencies in ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        call(requests[len(latencies) % len(requests)])
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def first_requests(call) -> dict:  # noqa: ANN001
    """Each campaign's first request: it explains the listed rows the warm-up did not reach."""
    first = []
    for body in bodies(True):
        t0 = time.perf_counter()
        call(body)
        first.append((time.perf_counter() - t0) * 1000)
    return {"max": round(max(first), 1), "median": round(float(np.median(first)), 1)}


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


class Connection:
    """One keep-alive HTTP/1.1 connection (stdlib ``http.client``): the load generator's client.

    A lean client on purpose: the load generator shares the two cores with the service, and
    httpx's sync client spends about 1.5 ms of its own Python per request here (p50 7.5 vs
    6.0 ms against the same server), time that belongs to the client, not to the service.
    """

    def __init__(self, url: str, token: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict) -> bytes:
        self.conn.request("POST", path, body=json.dumps(body), headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"a benchmark request failed: {response.status} {data[:200]!r}")
        return data

    def close(self) -> None:
        self.conn.close()


def drive(url: str, token: str, explain: bool, seconds: float, concurrency: int) -> list[float]:
    """Closed-loop load: ``concurrency`` keep-alive clients for ``seconds``; latencies (ms)."""
    latencies: list[float] = []
    lock = threading.Lock()
    requests = bodies(explain)

    def worker(offset: int) -> None:
        client = Connection(url, token)
        try:
            found = timed_calls(
                lambda body: client.post("/rank", body), requests[offset:] + requests[:offset],
                seconds,
            )
        finally:
            client.close()
        with lock:
            latencies.extend(found)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def start_server(
    settings: Settings,
    work: Path,
    token_file: Path,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, str]:
    """``reactivate serve`` on 127.0.0.1 (``port``: a free one), ready; ``env``: overrides."""
    import httpx

    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BENTOML_HOME": str(work / "bentoml"), "BENTOML_DO_NOT_TRACK": "true",
           **(env or {})}
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
        str(token_file),
    ]
    process = subprocess.Popen(
        command, env=env, stdout=(work / "server.log").open("w"), stderr=subprocess.STDOUT
    )
    started = time.perf_counter()
    while True:
        if process.poll() is not None or time.perf_counter() - started > 600:
            raise RuntimeError(f"server did not start; see {work / 'server.log'}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)


def measure(settings: Settings, work: Path, args: argparse.Namespace) -> dict:
    """Both paths up at once; latency windows interleaved so both see the same machine load."""
    import httpx

    from serving.api.auth import add_token

    token = add_token(work / "tokens.json", list(CLINICS))
    local = Local(settings)
    started = time.perf_counter()
    process, url = start_server(settings, work, work / "tokens.json")
    watch = MemoryWatch(process.pid)
    watch.start()
    http: dict = {"ready_s": round(time.perf_counter() - started, 1)}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        local.served.explanations.join()
        local.stats["warmup_s"] = round(time.perf_counter() - local.started, 1)
        budget, ready = settings.serving.precompute_explanations, 0
        while ready < budget and time.perf_counter() - started < args.max_warmup_s:
            time.sleep(2)
            reload = httpx.get(f"{url}/model", headers=headers, timeout=10).json()["reload"]
            ready = reload["explanations_ready"]
        http["explained_rows_before_load"] = ready
        local.stats["first_request_per_body_ms"] = first_requests(local.call)
        client = Connection(url, token)
        http["first_request_per_body_ms"] = first_requests(lambda b: client.post("/rank", b))
        client.close()
        window = args.seconds / args.rounds
        for explain in (False, True):
            key = f"explain_{str(explain).lower()}"
            mine: list[float] = []
            theirs: list[float] = []
            for _ in range(args.rounds):
                mine += timed_calls(local.call, bodies(explain), window)
                theirs += drive(url, token, explain, window, 1)
            local.stats[key] = percentiles(mine, args.seconds)
            http[key] = percentiles(theirs, args.seconds)
            for clients in (c for c in args.concurrency if c > 1):
                http[f"{key}_c{clients}"] = percentiles(
                    drive(url, token, explain, args.seconds, clients), args.seconds
                )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        watch.done.set()
        local.state.stop()
    http["peak_service_rss_gb"] = round(watch.peak / 1024**3, 2)
    return {"in_process": local.stats, "http": http}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--train-patients", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0, help="Per path and explain mode.")
    parser.add_argument("--rounds", type=int, default=6, help="Interleaved windows per mode.")
    parser.add_argument(
        "--concurrency",
        type=lambda t: [int(n) for n in t.split(",")],
        default=[1, 2],
        help="Clients per HTTP run (1: latency, >1: throughput).",
    )
    parser.add_argument("--max-warmup-s", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serving.json")
    args, _ = parser.parse_known_args(argv)

    work = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    settings, model = build_world(args, work)
    result = {
        "patients": args.patients,
        "clinic_ranked": "group",
        "clinic_patients": model.pop("clinics"),
        "limit": 100,
        "bodies": len(BODIES),
        "seconds": args.seconds,
        "model": model,
        "precompute_explanations": settings.serving.precompute_explanations,
    }
    result.update(measure(settings, work, args))
    http, local = result["http"], result["in_process"]
    ratios = {
        f"{stat[:3]}_explain_{mode}": round(
            http[f"explain_{mode}"][stat] / local[f"explain_{mode}"][stat], 2
        )
        for mode in ("false", "true")
        for stat in ("p50_ms", "p99_ms")
    }
    result["http_over_in_process"] = ratios
    result["targets"] = {
        "explain_false_p50_under_50ms": http["explain_false"]["p50_ms"] < 50,
        "explain_true_p99_under_150ms": http["explain_true"]["p99_ms"] < 150,
        "http_p50_within_1_5x_in_process": max(
            ratios["p50_explain_false"], ratios["p50_explain_true"]
        )
        <= 1.5,
        "peak_memory_under_4gb": http["peak_service_rss_gb"] < 4,
    }
    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
