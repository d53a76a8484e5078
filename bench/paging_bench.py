"""Benchmark: paging through a 500,000-patient clinic over HTTP.

Run: ``.venv/bin/python bench/paging_bench.py`` (defaults: a model trained on a 5,000-patient
demo clinic, its snapshot resampled to one clinic of 500,000 patients, as
``bench/serving_bench.py`` builds its world). Writes ``bench/results/paging.json``.

``POST /rank`` with ``limit`` 5,000 and ``explain`` false, following ``next_cursor`` until
the list ends: total seconds, pages, per-page p50/max, and a check that every eligible
patient came exactly once. Health checks and the admission bound under many clients are
``bench/health_bench.py``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500_000)
    parser.add_argument("--train-patients", type=int, default=5_000)
    parser.add_argument("--page-size", type=int, default=5_000)
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
        finally:
            process.terminate()
            process.wait(timeout=60)
        log = (work / "server.log").read_text(errors="replace")
    result = {
        "benchmark": "paging",
        "patients": args.patients,
        "model": model,
        "paging": paging,
        "server_log_500s": log.count("status=500"),
    }
    write_result(result, args.out)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
