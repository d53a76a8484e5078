"""Benchmark: drift check and manager report on a 1,000,000-patient scored snapshot.

Run: ``.venv/bin/python bench/drift_bench.py`` (defaults: a model trained on a 20,000-patient
demo clinic, its snapshot resampled to 1,000,000 patients). Writes
``bench/results/monitoring.json`` with the time of ``import evidently``, of the drift check
against the bundle's reference sample (population cut, seeded sample of
``drift.current_rows`` rows, Evidently run, both files written), the same check on every
row of a 100,000-row snapshot (what sampling saves), the time to build the manager report,
the sizes of the drift HTML/JSON and of the report, and the peak resident memory.

Why resample instead of simulating a million patients: the drift check sees only column
distributions, and a snapshot resampled from a real one has exactly the real columns,
dtypes and missingness; simulating and training at that scale belongs to other benchmarks.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from features.config import Settings  # noqa: E402
from features.simulator import simulate  # noqa: E402

AS_OF = "2026-06-30"


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - any callable
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, round(time.perf_counter() - started, 2)


def resample(snapshot: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """``rows`` patients drawn with replacement from ``snapshot``, each with a new id."""
    picks = np.random.default_rng(seed).integers(0, len(snapshot), rows)
    big = snapshot.iloc[picks].reset_index(drop=True)
    big["patient_id"] = pd.Series(np.arange(rows)).map("B{:08d}".format).astype(object)
    return big


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--train-patients", type=int, default=20_000)
    parser.add_argument("--full-rows", type=int, default=100_000,
                        help="Size of the snapshot also checked without sampling.")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "monitoring.json")
    args, _ = parser.parse_known_args(argv)

    from training.fit import train
    from training.scoring import score

    work = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    settings = Settings(models_dir=work / "models")
    tables = simulate(args.train_patients, seed=7, start="2023-01-01", end=AS_OF).tables
    bundle, train_s = timed(lambda: train(tables, AS_OF, settings).bundle)
    base = score(tables, AS_OF, bundle, settings)
    big = resample(base, args.patients, settings.seed)

    _, import_s = timed(__import__, "evidently")
    from serving.monitoring.drift import drift_against_bundle
    from serving.monitoring.report import assemble, write_report

    summary, drift_s = timed(drift_against_bundle, big, bundle, settings, work, stem="drift_1m")
    full = Settings(models_dir=settings.models_dir, monitoring={"current_rows": args.full_rows})
    _, full_s = timed(drift_against_bundle, big.head(args.full_rows), bundle, full, work,
                      stem="drift_full")
    data, collect_s = timed(assemble, big, bundle, settings, AS_OF, summary, "bench")
    report, render_s = timed(write_report, data, work / "report.html")

    result = {
        "patients": args.patients,
        "columns": int(big.shape[1]),
        "trained_on_patients": args.train_patients,
        "train_s": train_s,
        "import_evidently_s": import_s,
        "drift_s": drift_s,
        "drift_rows_tested": summary["tested_current_rows"],
        "drift_reference_rows": summary["tested_reference_rows"],
        "drift_columns_tested": summary["n_columns"],
        "drift_flagged": summary["flagged"],
        "drift_html_mb": round(Path(summary["html_path"]).stat().st_size / 1e6, 2),
        "drift_json_kb": round(Path(summary["json_path"]).stat().st_size / 1e3, 1),
        "drift_unsampled_rows": args.full_rows,
        "drift_unsampled_s": full_s,
        "report_collect_s": collect_s,
        "report_render_s": render_s,
        "report_kb": round(report.stat().st_size / 1e3, 1),
        "peak_rss_gb": round(peak_rss_gb(), 2),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
