"""Features and scoring of a clinic group: pandas in one process vs Spark local on the same cores.

Usage: ``python bench/spark_bench.py [--clinics 30] [--patients 100000] [--master local[2]]``.
The default is the issue's 30-clinic, 3,000,000-patient group; ``--clinics 6 --patients
50000`` is a quick run. Each engine runs in its own subprocess (wall time and that process's
peak memory; Spark's JVM is measured as a child). The time per clinic partition (the pandas
unit ``serving.batch.per_clinic.run_clinic`` on one clinic, the same code a Spark task runs)
gives the projection to 30 million patients on 16 executors, written beside the figures.

Memory per process: the parent samples the resident memory of each child's whole process
tree (the engine's Python process, Spark's JVM, its Python workers) every half second. Time
per clinic partition inside Spark: the Spark event log's task-end records of the per-clinic
stage (one task per clinic).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
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

        events = Path(tempfile.mkdtemp(prefix="reactivate-spark-events-"))
        settings = settings.model_copy(update={"spark": settings.spark.model_copy(update={
            "conf": {"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri(),
            "spark.eventLog.compress": "false", "spark.ui.showConsoleProgress": "false"}})})
        path, _ = run_spark("score", str(folder), out, settings, master, as_of,
                            bundle=bundle, model_version="bench")
        result["rows"] = int(len(pd.read_parquet(path, columns=["patient_id"])))
        result["wall_s"] = round(time.perf_counter() - started, 1)
        result["stages"] = stage_times(events)
    result.setdefault("wall_s", round(time.perf_counter() - started, 1))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    result["peak_gb_driver"] = round(own, 2)
    result["peak_gb_largest_child"] = round(kids, 2)
    return result


def stage_times(events: Path) -> list[dict]:
    """Per Spark stage of the job: tasks, wall time and task durations (from the event log)."""
    log = max(events.iterdir(), key=lambda p: p.stat().st_mtime)
    # Spark 4 writes rolling logs: a folder of event files, in name order
    files = sorted(p for p in log.iterdir() if p.name.startswith("events")) if log.is_dir() else [
        log]
    tasks: dict[int, list[float]] = {}
    stages: dict[int, dict] = {}
    for line in (ln for f in files for ln in f.read_text().splitlines()):
        event = json.loads(line)
        kind = event.get("Event")
        if kind == "SparkListenerTaskEnd":
            info = event["Task Info"]
            tasks.setdefault(event["Stage ID"], []).append(
                (info["Finish Time"] - info["Launch Time"]) / 1000)
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            stages[info["Stage ID"]] = {
                "stage": info["Stage ID"], "name": info["Stage Name"].split(" at ")[0],
                "tasks": info["Number of Tasks"],
                "wall_s": round((info["Completion Time"] - info["Submission Time"]) / 1000, 1)}
    out = []
    for stage_id, stage in sorted(stages.items()):
        durations = tasks.get(stage_id, [])
        if durations:
            stage.update(task_median_s=round(statistics.median(durations), 2),
                         task_max_s=round(max(durations), 2),
                         task_total_s=round(sum(durations), 1))
        out.append(stage)
    return out


def run_sampled(command: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``command``, sampling the peak resident memory of every process of its tree.

    Returns the finished process and peaks in GB: the engine's own process, the largest JVM,
    the largest Python worker of Spark, and the whole tree at once.
    """
    import psutil

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    root = psutil.Process(proc.pid)
    peaks = {"engine_process": 0.0, "jvm": 0.0, "python_worker": 0.0, "whole_tree": 0.0}
    import threading

    chunks: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, f=f: chunks.__setitem__(n, f.read()))
               for n, f in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    while proc.poll() is None:
        total = 0.0
        try:
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in members:
            try:
                rss = member.memory_info().rss / 1024**3
                name = member.name()
            except psutil.Error:
                continue
            total += rss
            role = ("engine_process" if member.pid == root.pid else
                    "jvm" if name == "java" else "python_worker")
            peaks[role] = max(peaks[role], rss)
        peaks["whole_tree"] = max(peaks["whole_tree"], total)
        time.sleep(0.5)
    for reader in readers:
        reader.join()
    proc.wait()
    done = subprocess.CompletedProcess(command, proc.returncode, chunks.get("out", ""),
                                       chunks.get("err", ""))
    return done, {k: round(v, 2) for k, v in peaks.items()}


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
    load_before = os.getloadavg()[0]
    for engine in ("pandas", "spark", "clinic"):
        done, peaks = run_sampled(
            [sys.executable, __file__, "--child", engine, "--clinics", str(args.clinics),
             "--patients", str(args.patients), "--master", args.master])
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode or not lines:
            raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
        runs[engine] = json.loads(lines[-1])
        runs[engine]["peak_gb_sampled"] = peaks
    one = runs.pop("clinic")
    patients = args.clinics * args.patients
    per_100k = one["one_clinic_task_s"] / one["one_clinic_patients"] * 100_000
    gb_per_100k = one["task_peak_gb"] / one["one_clinic_patients"] * 100_000
    # the per-clinic stage: the job's last (applyInPandas and the write), one task a clinic
    spark = runs["spark"]
    per_clinic = next((s for s in reversed(spark["stages"]) if "task_median_s" in s), None)
    in_spark_100k = (per_clinic["task_median_s"] / args.patients * 100_000
                     if per_clinic else per_100k)
    overhead_s = spark["wall_s"] - (per_clinic["wall_s"] if per_clinic else 0)
    inside = args.master.removeprefix("local[").removesuffix("]")
    cores = int(inside) if inside.isdigit() else os.cpu_count() or 1
    scale = 3_000_000 / patients
    projected_3m = spark["wall_s"] * scale
    tasks_30m = 300
    projected_30m = ((-(-tasks_30m // 16)) * in_spark_100k
                     + overhead_s * 30_000_000 / patients * cores / 16)
    write_result({
        "group": {"clinics": args.clinics, "patients_per_clinic": args.patients,
                  "patients": patients, "prepared_s": round(prepared_s)},
        "machine": {"cores": os.cpu_count(), "load_average_before": round(load_before, 1),
                    "load_average_after": round(os.getloadavg()[0], 1)},
        "runs": runs,
        "spark_over_pandas_wall": round(spark["wall_s"] / runs["pandas"]["wall_s"], 2),
        "per_clinic_stage": per_clinic,
        "spark_outside_the_per_clinic_stage_s": round(overhead_s, 1),
        "one_clinic_alone": one,
        "task_seconds_per_100k_patients_alone": round(per_100k, 2),
        "task_seconds_per_100k_patients_in_spark": round(in_spark_100k, 2),
        "task_memory_gb_per_100k_patients": round(gb_per_100k, 2),
        "largest_clinic_for_8gb_executor": int(8 / max(gb_per_100k, 1e-9) * 100_000 * 0.8),
        "projection_3m_patients_local_2_cores_s": round(projected_3m),
        "projection_3m_pandas_one_process_s": round(runs["pandas"]["wall_s"] * scale),
        "projection_30m_patients_16_executors_s": round(projected_30m),
        # the time outside the per-clinic stage barely grows with patients (1,000 patients:
        # about 180 s of it, 300,000: about 130 s): the optimistic end, that time kept fixed
        "projection_30m_patients_16_executors_fixed_overhead_s": round(
            (-(-tasks_30m // 16)) * in_spark_100k + overhead_s),
        "projection_note": (
            f"3M on {cores} cores: the measured {patients:,}-patient walls scaled linearly "
            "(30 clinics of 100,000 instead of 30 of the measured size; not run). 30M on 16 "
            "one-core executors: 300 clinic tasks of 100,000 patients, ceil(300/16) = 19 in "
            "turn per executor at the per-100k task time measured inside Spark here, plus "
            "this run's time outside the per-clinic stage (reading, numbering, size check, "
            f"shuffle, writing) scaled to 30M and from {cores} cores to 16 executors (paper "
            "estimate)."),
    }, args.out)


if __name__ == "__main__":
    main()
