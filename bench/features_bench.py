"""Benchmark: point-in-time features for a large clinic, and pandas vs DuckDB on the core sums.

Run: ``.venv/bin/python bench/features_bench.py --cache bench/.cache`` (defaults: 1,000,000
patients from the demo simulator, about 8M visits and 4M contacts; ``--cache`` keeps the
simulated export as Parquet so later runs skip the minutes of simulation). Writes
``bench/results/features.json``: the time of each family, the whole build, the core
aggregations (recency, counts, revenue, gap median, per-channel counts) in pandas/numpy and
as DuckDB SQL over the same frames, their ratio, a check that both give the same numbers,
wall and CPU seconds, the machine's load average, and the peak resident memory.

Targets (issue 2): pandas within 2x of DuckDB on the core aggregations, all families for 1M
patients under 60 s, peak memory under 8 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from features.config import Settings  # noqa: E402
from features.export.tables import Tables, conform  # noqa: E402
from features.pipeline import assemble as build_module  # noqa: E402
from features.pipeline import cadence, channels, demographics, reliability, segments, value  # noqa: E402
from features.pipeline.events import at, day_number, prepare  # noqa: E402
from features.pipeline.grouping import (  # noqa: E402
    group_median,
    ids_to_codes,
    last_rows,
    order_by,
    time_ordinals,
)
from features.vocabulary import CANCELLED, CHANNELS, COMPLETED, NO_SHOW, cutoff  # noqa: E402

CPU: dict[str, float] = {}


def timed(fn: Callable[[], Any], name: str = "") -> tuple[Any, float]:
    """Run ``fn`` once; return its result and the wall time in seconds.

    The process CPU time is kept in ``CPU[name]``: on a shared machine wall time includes
    waiting for a core, CPU time does not (DuckDB's CPU time sums its threads).
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    if name:
        CPU[name] = round(time.process_time() - cpu, 3)
    return result, time.perf_counter() - start


def load_tables(n_patients: int, seed: int, source: str, cache: Path | None
                ) -> tuple[Tables, str]:
    """The demo simulator's export (default), or synthetic frames of the same shape.

    With ``cache``, the simulator's tables are kept there as Parquet and reused by later runs
    with the same size and seed (simulating a million patients takes minutes).
    """
    if source == "synthetic":
        return synthetic_tables(n_patients, seed), "synthetic"
    folder = None if cache is None else cache / f"sim_{n_patients}_{seed}"
    if folder is not None and (folder / "export_date.txt").exists():
        frames = {n: pd.read_parquet(folder / f"{n}.parquet")
                  for n in ("visits", "patients", "contacts")}
        export = pd.Timestamp((folder / "export_date.txt").read_text().strip())
        return Tables(export_date=export, **frames), "simulator (cached)"
    from features.simulator import simulate

    tables = simulate(n_patients, seed).tables
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("visits", "patients", "contacts"):
            getattr(tables, name).to_parquet(folder / f"{name}.parquet")
        (folder / "export_date.txt").write_text(str(tables.export_date))
    return tables, "simulator"


def synthetic_tables(n_patients: int, seed: int) -> Tables:
    """A large export with realistic shapes: ~10 visits and ~5 contacts per patient."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2025-06-30")
    ids = np.char.add("P", np.arange(n_patients).astype(str)).astype(object)
    n_visits = rng.poisson(10, n_patients)
    pid = np.repeat(np.arange(n_patients), n_visits)
    cadence_days = rng.choice([100, 180, 365], n_patients)[pid]
    gaps = rng.gamma(4.0, cadence_days / 4.0)
    first = np.cumsum(n_visits) - n_visits
    walk = np.cumsum(gaps)
    walk -= np.repeat(walk[first] - gaps[first], n_visits)
    span = np.bincount(pid, weights=gaps, minlength=n_patients)[pid]
    lapse = rng.exponential(200.0, n_patients)[pid] + 1.0
    visit_at = end - pd.to_timedelta(np.round((lapse + span - walk) * 1440), unit="min")
    status = rng.choice([COMPLETED, NO_SHOW, CANCELLED], len(pid), p=[0.88, 0.06, 0.06])
    services = np.array(["botox", "filler", "laser", "hygiene", "consult"], dtype=object)
    visits = pd.DataFrame({
        "visit_id": np.arange(len(pid)).astype(str).astype(object),
        "patient_id": ids[pid],
        "visit_at": visit_at,
        "status": status.astype(object),
        "booked_at": visit_at - pd.to_timedelta(rng.integers(1, 40, len(pid)), unit="D"),
        "service": services[rng.integers(0, len(services), len(pid))],
        "provider_id": np.char.add("dr", rng.integers(0, 40, len(pid)).astype(str)).astype(object),
        "revenue": np.where(status == COMPLETED, rng.gamma(2.0, 150.0, len(pid)), 0.0),
    })
    n_contacts = rng.poisson(5, n_patients)
    cpid = np.repeat(np.arange(n_patients), n_contacts)
    sent = end - pd.to_timedelta(rng.integers(0, 5 * 365 * 24, len(cpid)), unit="h")
    answered = rng.random(len(cpid)) < 0.2
    reply = sent + pd.to_timedelta(rng.integers(1, 72, len(cpid)), unit="h")
    contacts = pd.DataFrame({
        "patient_id": ids[cpid],
        "channel": np.asarray(CHANNELS, dtype=object)[rng.integers(0, 4, len(cpid))],
        "sent_at": sent,
        "responded_at": reply.where(answered & (reply < end)),
        "opted_out": rng.random(len(cpid)) < 0.01,
    })
    patients = pd.DataFrame({
        "patient_id": ids,
        "clinic_id": np.char.add("c", rng.integers(0, 3, n_patients).astype(str)).astype(object),
        "sex": rng.choice(np.array(["f", "m"], dtype=object), n_patients),
        "birth_date": end - pd.to_timedelta(rng.integers(18 * 365, 80 * 365, n_patients), "D"),
    })
    return Tables(visits=conform(visits, "visits"), patients=conform(patients, "patients"),
                  contacts=conform(contacts, "contacts"), export_date=end)


def core_pandas(tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
    """Recency, counts, revenue, gap median and per-channel counts with pandas/numpy."""
    ids = pd.Index(tables.patients["patient_id"])
    n = len(ids)
    v = tables.visits
    end = cutoff(as_of)
    known = (v["visit_at"] < end).to_numpy() & (v["status"] == COMPLETED).to_numpy()
    pid = ids_to_codes(v["patient_id"].to_numpy()[known], ids)
    t = v["visit_at"].to_numpy()[known]
    (ordinal,), span = time_ordinals(t)
    order = order_by([(pid, n), (ordinal, span)])
    pid, t = pid[order], t[order]
    last = last_rows(pid)
    out = pd.DataFrame(index=ids)
    last_t = np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    last_t[pid[last]] = t[last]
    out["last_visit"] = last_t
    out["visits"] = np.bincount(pid, minlength=n)
    out["revenue"] = np.bincount(pid, weights=np.nan_to_num(v["revenue"].to_numpy()[known][order]),
                                 minlength=n)
    day = day_number(t)
    same = pid[1:] == pid[:-1]
    gaps = (day[1:] - day[:-1])[same]
    out["gap_median"] = group_median(pid[1:][same], gaps, n)
    c = tables.contacts
    sent = (c["sent_at"] < end).to_numpy()
    cpid = ids_to_codes(c["patient_id"].to_numpy()[sent], ids)
    ch = pd.Categorical(c["channel"].to_numpy()[sent], categories=CHANNELS).codes
    counts = np.bincount(cpid * len(CHANNELS) + ch, minlength=n * len(CHANNELS))
    for j, name in enumerate(CHANNELS):
        out[f"{name}_sent"] = counts.reshape(n, len(CHANNELS))[:, j]
    return out


CORE_SQL = """
WITH v AS (
  SELECT patient_id, visit_at, revenue FROM visits
  WHERE visit_at < $cutoff AND status = 'completed'
), g AS (
  SELECT patient_id,
         date_diff('day', lag(CAST(visit_at AS DATE)) OVER w, CAST(visit_at AS DATE)) AS gap
  FROM v WINDOW w AS (PARTITION BY patient_id ORDER BY visit_at)
), agg AS (
  SELECT patient_id, max(visit_at) AS last_visit, count(*) AS visits,
         sum(coalesce(revenue, 0)) AS revenue
  FROM v GROUP BY patient_id
), med AS (
  SELECT patient_id, median(gap) AS gap_median FROM g WHERE gap IS NOT NULL GROUP BY patient_id
), ch AS (
  SELECT patient_id,
         count(*) FILTER (WHERE channel = 'sms') AS sms_sent,
         count(*) FILTER (WHERE channel = 'email') AS email_sent,
         count(*) FILTER (WHERE channel = 'phone') AS phone_sent,
         count(*) FILTER (WHERE channel = 'mail') AS mail_sent
  FROM contacts WHERE sent_at < $cutoff GROUP BY patient_id
)
SELECT p.patient_id, agg.last_visit, coalesce(agg.visits, 0) AS visits,
       coalesce(agg.revenue, 0) AS revenue, med.gap_median,
       coalesce(ch.sms_sent, 0) AS sms_sent, coalesce(ch.email_sent, 0) AS email_sent,
       coalesce(ch.phone_sent, 0) AS phone_sent, coalesce(ch.mail_sent, 0) AS mail_sent
FROM patients p
LEFT JOIN agg USING (patient_id) LEFT JOIN med USING (patient_id) LEFT JOIN ch USING (patient_id)
"""


def core_duckdb(tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
    """The same aggregations as DuckDB SQL over the same in-memory frames."""
    con = duckdb.connect()
    con.register("visits", tables.visits[["patient_id", "visit_at", "status", "revenue"]])
    con.register("contacts", tables.contacts[["patient_id", "channel", "sent_at"]])
    con.register("patients", tables.patients[["patient_id"]])
    frame = con.execute(CORE_SQL, {"cutoff": cutoff(as_of).to_pydatetime()}).df()
    con.close()
    return frame.set_index("patient_id")


def same_numbers(ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """Whether the pandas and DuckDB aggregations agree on every patient."""
    theirs = theirs.reindex(ours.index)
    for col in ours.columns:
        a, b = ours[col], theirs[col]
        if col == "last_visit":
            ok = (a.isna() == b.isna()).all() and (a.dropna() == pd.to_datetime(b.dropna())).all()
        else:
            ok = np.allclose(a.to_numpy(float), b.to_numpy(float), equal_nan=True)
        if not ok:
            return False
    return True


def time_families(tables: Tables, as_of: pd.Timestamp, settings: Settings) -> dict[str, float]:
    """Seconds spent preparing the export, cutting the as-of view, and in each family."""
    prepared, t_prepare = timed(lambda: prepare(tables), "prepare")
    ev, t_view = timed(lambda: at(prepared, as_of, settings.features.attribution_days),
                       "as_of_view")
    times = {"prepare": t_prepare, "as_of_view": t_view}
    cad, times["cadence"] = timed(lambda: cadence.from_events(ev, settings), "cadence")
    _, times["value"] = timed(lambda: value.from_events(ev, settings), "value")
    _, times["reliability"] = timed(lambda: reliability.from_events(ev, settings),
                                    "reliability")
    _, times["segments"] = timed(lambda: segments.from_cadence(cad, settings), "segments")
    _, times["channels"] = timed(lambda: channels.from_events(ev, settings), "channels")
    _, times["demographics"] = timed(
        lambda: demographics.from_patients(prepared.patients, as_of, settings), "demographics")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", choices=["simulator", "synthetic"], default="simulator")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "features.json")
    parser.add_argument("--cache", type=Path, default=None,
                        help="Folder to keep/reuse the simulated export as Parquet.")
    args = parser.parse_args()
    settings = Settings()
    load_before = os.getloadavg()[0]

    (tables, source), t_data = timed(
        lambda: load_tables(args.patients, args.seed, args.source, args.cache))
    as_of = tables.export_date.normalize()
    rss_data = peak_rss_gb()
    print(f"data ({source}): {len(tables.patients):,} patients, {len(tables.visits):,} visits, "
          f"{0 if tables.contacts is None else len(tables.contacts):,} contacts")

    times = time_families(tables, as_of, settings)
    frame, t_build = timed(lambda: build_module.build(tables, as_of, settings), "build")
    shape = frame.shape
    del frame
    ours, t_pandas = timed(lambda: core_pandas(tables, as_of), "core_pandas")
    theirs, t_duckdb = timed(lambda: core_duckdb(tables, as_of), "core_duckdb")

    result = {
        "source": source,
        "patients": len(tables.patients),
        "visits": len(tables.visits),
        "contacts": 0 if tables.contacts is None else len(tables.contacts),
        "as_of": str(as_of.date()),
        "data_seconds": round(t_data, 3),
        "feature_frame_shape": list(shape),
        "family_seconds": {k: round(v, 3) for k, v in times.items()},
        "build_seconds": round(t_build, 3),
        "cpu_seconds": CPU,
        "core_aggregations": {
            "pandas_seconds": round(t_pandas, 3),
            "duckdb_seconds": round(t_duckdb, 3),
            "pandas_over_duckdb": round(t_pandas / t_duckdb, 3),
            "duckdb_threads": int(duckdb.connect().execute(
                "SELECT current_setting('threads')").fetchone()[0]),
            "same_numbers": same_numbers(ours, theirs),
        },
        "peak_rss_gb_after_data": round(rss_data, 3),
        "peak_rss_gb": round(peak_rss_gb(), 3),
        "targets": {"build_seconds_lt": 60, "pandas_over_duckdb_lt": 2.0, "peak_rss_gb_lt": 8},
        "machine": {"python": platform.python_version(), "pandas": pd.__version__,
                    "duckdb": duckdb.__version__, "cpus": os.cpu_count(),
                    "load_average_at_start": round(load_before, 2),
                    "load_average_at_end": round(os.getloadavg()[0], 2)},
    }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
