"""Benchmark: paging through a 500,000-patient clinic, and health checks while saturated.

Run: ``.venv/bin/python bench/paging_bench.py`` (defaults: a model trained on a 5,000-patient
demo clinic, its snapshot resampled to one clinic of 500,000 patients, as
``bench/serving_bench.py`` builds its world). Writes ``bench/results/paging.json``.

1. paging: ``POST /rank`` over HTTP with ``limit`` 5,000 and ``explain`` false, following
   ``next_cursor`` until the list ends; total seconds, pages, per-page p50/max, and a check
   that every eligible patient came exactly once;
2. saturation: ``--clients`` closed-loop clients asking for 2,000-5,000 patients each while
   one prober times ``/readyz`` and ``/livez``; probe p50/p99/max and the data requests'
   latency and status counts (queueing, not refusals, is what happens past the page threads).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import serving_bench  # noqa: E402
from bench.common import write_result  # noqa: E402


def page_through(url: str, token: str, size: int) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    body = {"clinic_id": "big", "limit": size, "explain": False}
    seen: list[str] = []
    page_s: list[float] = []
    total_eligible = None
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        cursor = None
        while True:
            t0 = time.perf_counter()
            answer = client.post(f"{url}/rank", json={**body, **({"cursor": cursor} if cursor else {})},
                                 headers=headers)
            page_s.append(time.perf_counter() - t0)
            answer.raise_for_status()
            data = answer.json()
            total_eligible = data["total_eligible"]
            seen.extend(p["patient_id"] for p in data["patients"])
            cursor = data["next_cursor"]
            if cursor is None:
                break
    total = time.perf_counter() - started
    return {
        "page_size": size,
        "pages": len(page_s),
        "total_s": round(total, 2),
        "page_p50_ms": round(float(np.percentile(page_s, 50)) * 1000, 1),
        "page_max_ms": round(max(page_s) * 1000, 1),
        "patients_listed": len(seen),
        "total_eligible": total_eligible,
        "every_patient_once": len(seen) == len(set(seen)) == total_eligible,
    }


def saturate(url: str, token: str, clients: int, seconds: float) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    stop = threading.Event()
    data_ms: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client_loop(number: int) -> None:
        sizes = [2000, 3000, 4000, 5000]
        with httpx.Client(timeout=300) as client:
            i = number
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    status = client.post(f"{url}/rank", headers=headers, json={
                        "clinic_id": "big", "limit": sizes[i % 4], "explain": i % 3 == 0,
                    }).status_code
                except httpx.HTTPError:
                    status = -1
                with lock:
                    data_ms.append((time.perf_counter() - t0) * 1000)
                    statuses[status] = statuses.get(status, 0) + 1
                i += 1

    probes: dict[str, list[float]] = {"/readyz": [], "/livez": []}

    def prober() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                for path, times in probes.items():
                    t0 = time.perf_counter()
                    client.get(f"{url}{path}")
                    times.append((time.perf_counter() - t0) * 1000)
                time.sleep(0.05)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=prober))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()

    def summary(times: list[float]) -> dict:
        return {"n": len(times), "p50_ms": round(float(np.percentile(times, 50)), 1),
                "p99_ms": round(float(np.percentile(times, 99)), 1),
                "max_ms": round(max(times), 1)}

    return {
        "clients": clients,
        "seconds": seconds,
        "data_requests": summary(data_ms),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        **{path.strip("/"): summary(times) for path, times in probes.items()},
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500_000)
    parser.add_argument("--train-patients", type=int, default=5_000)
    parser.add_argument("--page-size", type=int, default=5_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "paging.json")
    args = parser.parse_args(argv)
    serving_bench.CLINICS = {"big": args.patients}
    os.environ["REACTIVATE_SERVING__PRECOMPUTE_EXPLANATIONS"] = "20000"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        settings, model = serving_bench.build_world(args, work)
        from serving.api.auth import add_token

        token_file = work / "tokens.json"
        token = add_token(token_file, ["big"])
        process, url = serving_bench.start_server(settings, work, token_file)
        try:
            paging = page_through(url, token, args.page_size)
            saturation = saturate(url, token, args.clients, args.seconds)
        finally:
            process.terminate()
            process.wait(timeout=60)
        log = (work / "server.log").read_text(errors="replace")
    result = {
        "benchmark": "paging",
        "patients": args.patients,
        "model": model,
        "paging": paging,
        "saturation": saturation,
        "server_log_500s": log.count("status=500"),
    }
    write_result(result, args.out)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
