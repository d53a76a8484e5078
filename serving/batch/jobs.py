"""The nightly job's two steps on the Spark engine, as the command line runs them.

Thin glue: start a session on the configured master, run the per-clinic unit over every
clinic (:func:`serving.batch.spark_engine.run_job`), stop the session. The pandas engine is
the library itself (``features.build``, ``training.scoring.score``); both write the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from features.config import Settings
from serving.batch.per_clinic import JobSpec

ENGINES: tuple[str, ...] = ("pandas", "spark")


def run_spark(
    kind: str,
    source: str,
    out: Path | Callable[[pd.Timestamp], Path],
    settings: Settings,
    master: str | None,
    as_of: pd.Timestamp | None,
    export_date: str | None = None,
    lenient: bool = False,
    bundle: Any | None = None,
    model_version: str | None = None,
) -> tuple[Path, pd.Timestamp]:
    """Features or scores of every clinic of ``source`` on Spark, written to ``out``.

    Args:
        kind: ``features`` or ``score``.
        source: a folder of Parquet contract tables, or a ``jdbc:postgresql://`` URL.
        out: the Parquet dataset to write (partitioned by ``clinic_id``), or a function of
            the as-of day that names it.
        settings: the settings (``spark`` section: master, conf, task size limit).
        master: Spark master URL; None takes ``settings.spark.master``.
        as_of: the as-of day; None: the export's day (its latest event, over all clinics).
        export_date: the day the export was taken, as ``--export-date`` gives it.
        lenient: leave contract-breaking rows out (counted) instead of failing.
        bundle, model_version: the champion, for ``score``.

    Returns:
        The dataset's path and the as-of day used.
    """
    from pyspark.sql import SparkSession

    from serving.batch.spark_engine import export_moment, read_tables, run_job, spark_session

    ours = SparkSession.getActiveSession() is None
    spark = spark_session(master or settings.spark.master, settings,
                          jdbc=source.startswith("jdbc:"))
    try:
        if as_of is None:
            moment = (pd.Timestamp(export_date) if export_date
                      else export_moment(read_tables(spark, source, settings)))
            if moment is None:
                raise ValueError("visits.visit_at: no dated visit in the export")
            as_of = moment.normalize()
        spec = JobSpec(kind=kind, as_of=pd.Timestamp(as_of).normalize(),
                       model_version=model_version, lenient=lenient, export_date=export_date,
                       # as the pandas `reactivate score` does; `features` reads the export only
                       merge_outcomes=kind == "score")
        target = out(spec.as_of) if callable(out) else out
        return run_job(spark, source, spec, settings, target, bundle), spec.as_of
    finally:
        if ours:  # a session the caller started (a notebook, a test) stays theirs
            spark.stop()
