"""Benchmark: the nightly job and a retraining, end to end, on a large clinic's CSV export.

Run: ``.venv/bin/python bench/nightly_bench.py`` (default 1,000,000 patients; the demo export
is generated once with ``reactivate demo-data`` and cached under ``bench/.cache/``). Every
step runs in its own process, so each peak memory is that step's alone:

* ``pyarrow`` / ``duckdb``: the well-kept readers on the same three CSV files;
* ``load``: ``features.export.loading.load`` (read, parse, validate) — target within 3x of
  ``pyarrow.csv.read_csv(...).to_pandas()``;
* ``train``: ``reactivate train --promote`` — target < 10 min and < 10 GB;
* ``score``: ``reactivate score`` (load, validate, features, score, drift summary) — the
  nightly job, target < 60 s and < 6 GB; its drift step is timed on its own too (< 10 s);
* ``--auc-patients N`` (optional): the backtest AUC with the default row cap against all
  rows (``max_training_rows=0``) on an N-patient clinic — target within 0.005.

Writes ``bench/results/nightly.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_gb, write_result  # noqa: E402

TABLES = ("patients", "visits", "contacts", "campaign_members")


def _files(folder: Path) -> list[Path]:
    """The export's CSV files that ``load`` reads too (campaign members when there are any),
    so the readers are timed on exactly the same bytes."""
    return [folder / f"{t}.csv" for t in TABLES if (folder / f"{t}.csv").exists()]


def export_dir(cache: Path, patients: int) -> Path:
    """The cached demo export of ``patients`` patients (generated on first use)."""
    folder = cache / f"demo-{patients}"
    if not (folder / "visits.csv").exists():
        subprocess.check_call([sys.executable, "-m", "serving.cli", "demo-data", "--patients",
                               str(patients), "--out", str(folder)], cwd=ROOT)
    return folder


def step(name: str, folder: Path, models: Path, extra: dict) -> dict:
    """Run one step in this process and return its wall time, peak memory and figures."""
    start = time.perf_counter()
    out: dict = {}
    if name == "pyarrow":
        import pyarrow.csv as pacsv

        for path in _files(folder):
            pacsv.read_csv(path).to_pandas()
    elif name == "duckdb":
        import duckdb

        with duckdb.connect() as con:
            for path in _files(folder):
                con.sql(f"SELECT * FROM read_csv('{path}')").df()
    elif name == "load":
        from features.export.loading import load

        result = load(folder)
        out["rows"] = result.report.read
    elif name in ("train", "score"):
        from serving.cli.app import app

        args = [name, str(folder), "--models-dir", str(models)]
        app([*args, "--promote"] if name == "train" else args, standalone_mode=False)
        if name == "score":
            # The nightly job's own figures, before the drift step is timed again on its own.
            done = {"wall_s": round(time.perf_counter() - start, 2),
                    "peak_gb": round(peak_rss_gb(), 2)}
            return done | {"drift_s": _drift_seconds(folder, models)}
    elif name == "auc":
        out.update(_auc(folder, int(extra["cap"])))
    return {"wall_s": round(time.perf_counter() - start, 2), "peak_gb": round(peak_rss_gb(), 2),
            **out}


def _drift_seconds(folder: Path, models: Path) -> float:
    """Time the drift step alone on the snapshot just written (summary only, as nightly)."""
    from features.config import Settings
    from serving.monitoring.drift import drift_after_scoring
    from training.registry import load_champion
    from training.scored_snapshot import latest_snapshot, read_snapshot

    settings = Settings(models_dir=models)
    bundle = load_champion(settings)[0]
    path = latest_snapshot(models)
    frame = read_snapshot(path)
    start = time.perf_counter()
    drift_after_scoring(path, bundle, settings, snapshot=frame)
    return round(time.perf_counter() - start, 2)


def _auc(folder: Path, cap: int) -> dict:
    from features.config import Settings
    from features.export.loading import load
    from training.fit import train

    tables = load(folder).tables
    settings = Settings(training={"max_training_rows": cap})
    result = train(tables, tables.export_date.normalize(), settings)
    window = result.bundle.window
    return {"auc": float(result.evaluation["return"]["model"]["auc"]),
            "rows_used": int(sum(window["rows"].values())),
            "rows_available": int(window["rows_available"])}


def run_step(name: str, folder: Path, models: Path, timeout: float | None = None,
             **extra: object) -> dict:
    """``step`` in a fresh process (its own peak memory), stopped after ``timeout`` seconds."""
    print(f"-- {name}", flush=True)
    cmd = [sys.executable, __file__, "--step", name, "--folder", str(folder), "--models",
           str(models), "--extra", json.dumps(extra)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"   stopped after {timeout:.0f} s", flush=True)
        return {"status": f"stopped after {timeout:.0f} s (not finished)", "wall_s": timeout,
                "peak_gb": None}
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"step {name} failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"   {result}", flush=True)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache")
    parser.add_argument("--auc-patients", type=int, default=0)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--train-timeout", type=float, default=1500.0)
    parser.add_argument("--step")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--models", type=Path)
    parser.add_argument("--extra", default="{}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nightly.json")
    args, _ = parser.parse_known_args(argv)
    if args.step:
        print(json.dumps(step(args.step, args.folder, args.models, json.loads(args.extra))))
        return 0
    folder = export_dir(args.cache, args.patients)
    models = args.cache / f"models-{args.patients}"
    result: dict = {"patients": args.patients, "export": str(folder), "cpus": os.cpu_count(),
                    "load_average_start": os.getloadavg()}
    for name in ("pyarrow", "duckdb", "load"):
        result[name] = run_step(name, folder, models)
    result["load_vs_pyarrow"] = round(result["load"]["wall_s"] / result["pyarrow"]["wall_s"], 2)
    if not args.skip_training:
        result["train"] = run_step("train", folder, models, timeout=args.train_timeout)
    result["score"] = run_step("score", folder, models)
    if args.auc_patients:
        small = export_dir(args.cache, args.auc_patients)
        capped = run_step("auc", small, models, cap=500_000)
        full = run_step("auc", small, models, cap=0)
        result["auc_cap"] = {"patients": args.auc_patients, "capped": capped, "all_rows": full,
                             "difference": round(abs(capped["auc"] - full["auc"]), 4)}
    result["targets"] = {
        "nightly_under_60s_6gb": result["score"]["wall_s"] < 60 and result["score"]["peak_gb"] < 6,
        "load_within_3x_pyarrow": result["load_vs_pyarrow"] <= 3,
        "drift_under_10s": result["score"]["drift_s"] < 10,
    }
    if "train" in result:
        result["targets"]["train_under_10min_10gb"] = (
            result["train"]["peak_gb"] is not None and result["train"]["wall_s"] < 600
            and result["train"]["peak_gb"] < 10)
    if "auc_cap" in result:
        result["targets"]["auc_within_0.005"] = result["auc_cap"]["difference"] <= 0.005
    result["load_average_end"] = os.getloadavg()
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
