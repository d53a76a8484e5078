"""Features and scoring of a clinic group: pandas in one process vs Spark local on the same cores.

Usage: ``python bench/spark_bench.py [--clinics 30] [--patients 100000] [--master local[2]]``.
The default is the issue's 30-clinic, 3,000,000-patient group; ``--clinics 6 --patients
50000`` is a quick run. Each engine runs in its own subprocess (wall time and that process's
peak memory; Spark's JVM is measured as a child). The time per clinic partition (the pandas
unit ``serving.batch.per_clinic.run_clinic`` on one clinic, the same code a Spark task runs)
gives the projection to 30 million patients on 16 executors, written beside the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_result  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "spark_group"
END = "2026-10-31"


def make_group(clinics: int, patients: int, folder: Path) -> None:
    """The group as Parquet tables (cached) and a bundle trained on its first clinic."""
    from features.simulator.group import simulate_group

    if (folder / "visits.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    parts = {}
    for k in range(clinics):  # one clinic at a time keeps memory to one clinic's run
        tables = simulate_group({f"clinic-{k:02d}": patients}, seed=100 + k,
                                start="2023-01-01", end=END)
        for name in ("patients", "visits", "contacts"):
            parts.setdefault(name, []).append(getattr(tables, name))
            if k == 0:  # the first clinic alone: what one Spark task is handed
                (folder / "first_clinic").mkdir(exist_ok=True)
                getattr(tables, name).to_parquet(folder / "first_clinic" / f"{name}.parquet",
                                                 index=False)
    import pandas as pd

    for name, frames in parts.items():
        pd.concat(frames, ignore_index=True).to_parquet(folder / f"{name}.parquet", index=False)


def train_bundle(folder: Path, out: Path) -> None:
    """A model trained on one clinic of the group (scoring speed does not depend on it)."""
    if (out / "bundle.json").exists():
        return
    import pandas as pd

    from features.config import Settings
    from features.export.loading import load_frames
    from training.fit import train

    patients = pd.read_parquet(folder / "patients.parquet")
    first = patients["clinic_id"].iloc[0]
    ids = set(patients.loc[patients["clinic_id"] == first, "patient_id"].head(20_000))
    raw = {name: (frame := pd.read_parquet(folder / f"{name}.parquet")).loc[
        frame["patient_id"].isin(ids)].reset_index(drop=True)
           for name in ("patients", "visits", "contacts")}
    tables = load_frames(raw, Settings()).tables
    train(tables, pd.Timestamp(END), Settings()).bundle.save(out)


def child(engine: str, folder: Path, bundle_dir: Path, out: Path, master: str) -> dict:
    """One engine's features + scoring, timed inside the subprocess."""
    import pandas as pd

    from features.config import Settings
    from serving.batch.per_clinic import JobSpec, clinic_rows
    from training.bundle import ModelBundle

    settings = Settings()
    bundle = ModelBundle.load(bundle_dir)
    as_of = pd.Timestamp(END)
    started = time.perf_counter()
    result: dict = {"engine": engine}
    if engine == "clinic":  # one clinic alone in a fresh process: what one Spark task holds
        from features.export.loading import load_frames

        raw = {n: pd.read_parquet(folder / "first_clinic" / f"{n}.parquet")
               for n in ("patients", "visits", "contacts")}
        ids = raw["patients"]["patient_id"]
        import tracemalloc

        import pyarrow as pa

        tracemalloc.start()
        arrow_before = pa.total_allocated_bytes()
        t = time.perf_counter()
        one = load_frames(raw, settings).tables
        clinic_rows(one, JobSpec(kind="score", as_of=as_of, model_version="bench"), settings,
                    bundle)
        seconds = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] + max(pa.total_allocated_bytes()
                                                        - arrow_before, 0)
        tracemalloc.stop()
        # numpy and pandas allocations are traced; the task's own inputs come on top
        inputs = sum(int(f.memory_usage(deep=True).sum()) for f in raw.values())
        result.update(one_clinic_patients=len(ids), one_clinic_task_s=round(seconds, 2),
                      task_peak_gb=round((peak + inputs) / 1024**3, 3))
    elif engine == "pandas":
        from features.export.loading import load

        tables = load(folder, settings).tables
        result["load_s"] = round(time.perf_counter() - started, 1)
        t = time.perf_counter()
        rows = clinic_rows(tables, JobSpec(kind="score", as_of=as_of, model_version="bench"),
                           settings, bundle)
        result["score_s"] = round(time.perf_counter() - t, 1)
        result["rows"] = len(rows)
        result["wall_s"] = round(time.perf_counter() - started, 1)
    else:
        from serving.batch.jobs import run_spark

        path, _ = run_spark("score", str(folder), out, settings, master, as_of,
                            bundle=bundle, model_version="bench")
        result["rows"] = int(len(pd.read_parquet(path, columns=["patient_id"])))
    result.setdefault("wall_s", round(time.perf_counter() - started, 1))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    result["peak_gb_driver"] = round(own, 2)
    result["peak_gb_largest_child"] = round(kids, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clinics", type=int, default=30)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--child", choices=("pandas", "spark", "clinic"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spark.json")
    args = parser.parse_args()
    folder = CACHE / f"{args.clinics}x{args.patients}"
    bundle_dir = CACHE / "bundle"
    if args.child:
        print(json.dumps(child(args.child, folder, bundle_dir, folder / "scored.parquet",
                               args.master)))
        return
    t = time.perf_counter()
    make_group(args.clinics, args.patients, folder)
    train_bundle(folder, bundle_dir)
    prepared_s = time.perf_counter() - t
    runs = {}
    for engine in ("pandas", "spark", "clinic"):
        done = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--clinics", str(args.clinics),
             "--patients", str(args.patients), "--master", args.master],
            capture_output=True, text=True, cwd=ROOT)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode or not lines:
            raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
        runs[engine] = json.loads(lines[-1])
        # the largest process reaped so far (pandas: the child; Spark: its JVM too)
        runs[engine]["peak_gb_any_process_so_far"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2, 2)
    one = runs.pop("clinic")
    per_100k = one["one_clinic_task_s"] / one["one_clinic_patients"] * 100_000
    task_gb = one["task_peak_gb"]
    gb_per_100k = task_gb / one["one_clinic_patients"] * 100_000
    projected = 30_000_000 / 100_000 * per_100k / 16
    write_result({
        "group": {"clinics": args.clinics, "patients_per_clinic": args.patients,
                  "patients": args.clinics * args.patients, "prepared_s": round(prepared_s)},
        "runs": runs,
        "spark_over_pandas_wall": round(runs["spark"]["wall_s"] / runs["pandas"]["wall_s"], 2),
        "one_clinic_alone": one,
        "task_seconds_per_100k_patients": round(per_100k, 2),
        "task_memory_gb_per_100k_patients": round(gb_per_100k, 2),
        "largest_clinic_for_8gb_executor": int(8 / max(gb_per_100k, 1e-9) * 100_000 * 0.8),
        "projection_30m_patients_16_executors_s": round(projected),
        "projection_note": "30M patients = 300 tasks of 100k; each executor (one core) runs "
                           "300/16 tasks in turn at the measured per-clinic time; load, shuffle "
                           "and write overheads not included (paper estimate).",
    }, args.out)


if __name__ == "__main__":
    main()
