"""The nightly job on Spark: the same per-clinic pandas pipeline, one clinic per task.

Why this shape: every feature and score of a patient depends only on that patient's clinic
(clinic-level priors, season, cadence medians are all per clinic), so the unit of work is
:func:`serving.batch.per_clinic.run_clinic` on one clinic's rows. pandas runs it once for the
whole export; Spark groups the export by ``clinic_id`` and runs it once per clinic with
``applyInPandas``. Nothing about Spark leaks into ``features`` or ``training``: this module
only moves rows. Validation, features, scoring and the snapshot layout are the library's.

How rows travel: the contract's tables are stacked into one "long" Spark frame (a ``_table``
column, the clinic id joined from patients, each table's columns prefixed), grouped by clinic,
and unstacked inside the task back into the raw frames ``features.export.loading.load_frames``
validates. Arrow's conversions are undone there: timestamps are made naive again (the session
runs in UTC), and the raw frames keep their export row numbers so contract errors name the
same rows as the pandas engine.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from features.config import Settings
from features.export.sources import TABLE_NAMES
from features.export.validation import ContractError, Violation
from serving.batch.per_clinic import (
    ClinicTooLarge,
    JobSpec,
    output_columns,
    run_clinic,
    spark_schema,
    to_spark_frame,
)

ROW = "_row"
TABLE = "_table"
CLINIC = "clinic_id"
SEP = "__"


def spark_session(master: str, settings: Settings, jdbc: bool = False) -> Any:
    """A Spark session for ``master`` with the settings' Spark configuration applied.

    ``jdbc``: the session reads a JDBC source, so the driver jar (``spark.jdbc_jars``) joins
    ``spark.jars``; a jar must be on the classpath when the JVM starts, not per read.

    Raises:
        FileNotFoundError: ``jdbc`` and a local driver jar that does not exist (the message
            says which Debian package installs it).
    """
    from pyspark.sql import SparkSession

    # Local workers start the interpreter named here; this one has the project's packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("reactivate")
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        # pandas writes nanosecond timestamps, which Spark cannot read as timestamps: read
        # them as numbers and convert them (read_tables) to naive timestamps.
        "spark.sql.legacy.parquet.nanosAsLong": "true",
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        # Adaptive execution merges small shuffle partitions: a group's clinics (a few MB
        # each) would then run one after the other in a single task, on one core.
        "spark.sql.adaptive.coalescePartitions.enabled": "false",
        # the workers run this interpreter (its packages) unless the cluster says otherwise
        "spark.pyspark.python": sys.executable,
        **settings.spark.conf,
    }
    if jdbc:
        conf["spark.jars"] = ",".join(j for j in (conf.get("spark.jars", ""),
                                                  jdbc_jars(settings)) if j)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def jdbc_jars(settings: Settings) -> str:
    """The JDBC driver jars of the settings, each local one checked to exist."""
    jars = [j.strip() for j in settings.spark.jdbc_jars.split(",") if j.strip()]
    for jar in jars:
        if "://" not in jar and not Path(jar).exists():
            raise FileNotFoundError(
                f"{jar}: the PostgreSQL JDBC driver is missing (Debian: apt-get install "
                "libpostgresql-jdbc-java), or set spark.jdbc_jars to its path")
    return ",".join(jars)


def jdbc_defaults(url: str) -> dict[str, str]:
    """JDBC read options the engine needs (``spark.jdbc_options`` may override them)."""
    options = {
        # "timestamp without time zone" as Spark's TIMESTAMP_NTZ: the wall clock as stored,
        # not shifted through the JVM's zone (the loader reads naive timestamps).
        "preferTimestampNTZ": "true",
    }
    if url.startswith("jdbc:postgresql:"):
        # a jar from spark.jars is not visible to java.sql.DriverManager: name its class
        options["driver"] = "org.postgresql.Driver"
    return options


def _missing_table(err: Exception) -> bool:
    """Whether a JDBC read failed because the table does not exist (PostgreSQL's wording)."""
    text = str(err)
    return "does not exist" in text and "relation" in text


def read_tables(spark: Any, source: str, settings: Settings) -> dict[str, Any]:
    """The contract's tables as Spark frames: a Parquet folder or a PostgreSQL JDBC URL.

    Each frame gains ``_row``, the row's 0-based position in its table (as the pandas loader
    numbers rows), so errors name the same rows under both engines.
    """
    frames: dict[str, Any] = {}
    if source.startswith("jdbc:"):
        for name in TABLE_NAMES:
            reader = spark.read.format("jdbc").option("url", source).option("dbtable", name)
            for key, value in {**jdbc_defaults(source), **settings.spark.jdbc_options}.items():
                reader = reader.option(key, value)
            try:
                frames[name] = reader.load()
            except Exception as err:
                if not _missing_table(err):  # a wrong login, no driver, no server: as it is
                    raise
                if name == "visits":
                    raise FileNotFoundError(f"{source}: the required table 'visits' is missing"
                                            ) from err
                # a missing optional table is not an error
    else:
        folder = Path(source)
        for name in TABLE_NAMES:
            path = folder / f"{name}.parquet"
            if path.exists():
                frames[name] = _naive_timestamps(
                    _with_file_position(spark.read.parquet(str(path))), path)
        if "visits" not in frames:
            raise FileNotFoundError(
                f"{folder}: the Spark engine reads a folder of Parquet tables and found no "
                "visits.parquet")
        return {name: _numbered(frame, folder / f"{name}.parquet")
                for name, frame in frames.items()}
    return {name: _numbered(frame) for name, frame in frames.items()}


def _naive_timestamps(frame: Any, path: Path) -> Any:
    """Timestamps as the loader sees them: naive wall-clock times, whatever their Parquet unit.

    Nanosecond columns arrive as numbers (``nanosAsLong``); time-zone-aware ones are turned
    into the session's zone (UTC) wall clock, as the pandas loader does.
    """
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    schema = pq.read_schema(next(iter(sorted(path.rglob("*.parquet"))), path)
                            if path.is_dir() else path)
    for field in schema:
        if not hasattr(field.type, "unit") or field.name not in frame.columns:
            continue
        col = F.col(field.name)
        if field.type.unit == "ns":
            col = F.timestamp_micros(F.floor(col / 1000)).cast("timestamp_ntz")
        else:
            col = col.cast("timestamp_ntz")
        frame = frame.withColumn(field.name, col)
    return frame


FILE = "_file"
BLOCK = "_block"


def _with_file_position(frame: Any) -> Any:
    """A Parquet frame with each row's file and split start (``_metadata``), for numbering."""
    from pyspark.sql import functions as F

    return frame.select("*", F.col("_metadata.file_path").alias(FILE),
                        F.col("_metadata.file_block_start").alias(BLOCK))


def _file_order(path: Path) -> dict[str, int]:
    """Rank of each file of a Parquet table in the order the pandas loader reads them.

    ``pyarrow.parquet.read_table`` of a folder concatenates its files in sorted path order;
    keys are the resolved local paths.
    """
    import pyarrow.dataset as ds

    files = ds.dataset(str(path), format="parquet").files if path.is_dir() else [str(path)]
    return {str(Path(f).resolve()): rank for rank, f in enumerate(files)}


def _local(uri: str) -> str:
    """A Spark file URI (``file:/a/b%20c``) as a resolved local path."""
    from urllib.parse import unquote, urlparse

    return str(Path(unquote(urlparse(uri).path)).resolve())


def _numbered(frame: Any, path: Path | None = None) -> Any:
    """``frame`` with ``_row``: positions in the table's own order, without a Python pass.

    ``monotonically_increasing_id`` is consecutive inside a partition, and a partition reads
    its file splits one after the other, so within one split a row's position is its id minus
    the split's first id. Spark packs splits into partitions largest first, not in file order,
    so each split's offset is the row count of the splits before it in the pandas loader's
    order: files by ``_file_order``, splits of a file by their start. Frames that are not
    read from files (JDBC) have no splits; there partitions play that part, in their order.
    """
    from pyspark.sql import functions as F

    lowered = frame.toDF(*[c if c in (FILE, BLOCK) else c.strip().lower()
                           for c in frame.columns])
    if FILE in lowered.columns:
        keys = [FILE, BLOCK]
    else:
        lowered = lowered.withColumn("_part", F.spark_partition_id())
        keys = ["_part"]
    tagged = lowered.withColumn("_mid", F.monotonically_increasing_id())
    stats = tagged.groupBy(*keys).agg(F.count(F.lit(1)).alias("n"),
                                      F.min("_mid").alias("first")).collect()
    if FILE in lowered.columns:
        order = _file_order(path) if path is not None else {}
        ranked = sorted(stats, key=lambda r: (order.get(_local(r[FILE]), len(order)),
                                              r[FILE], r[BLOCK]))
        schema = f"{FILE} string, {BLOCK} long, _delta long"
    else:
        ranked = sorted(stats, key=lambda r: r["_part"])
        schema = "_part int, _delta long"
    deltas, total = [], 0
    for r in ranked:
        deltas.append((*(r[k] for k in keys), total - r["first"]))
        total += r["n"]
    spark = lowered.sparkSession
    if not deltas:
        return tagged.withColumn(ROW, F.col("_mid")).drop("_mid", *keys)
    table = spark.createDataFrame(deltas, schema)
    return tagged.join(F.broadcast(table), keys).withColumn(
        ROW, F.col("_mid") + F.col("_delta")).drop("_mid", "_delta", *keys)


def stacked(frames: dict[str, Any]) -> Any:
    """One long frame: ``_table``, ``clinic_id`` and every table's columns, prefixed.

    Visits and contacts take the clinic of their patient; rows whose patient is unknown get a
    null clinic and travel as their own group, where the loader reports them.
    """
    from pyspark.sql import functions as F

    patients = frames.get("patients")
    parts = {}
    for name, frame in frames.items():
        cols = [F.col(c).alias(f"{name}{SEP}{c}") for c in frame.columns]
        if name == "patients":
            part = frame.select(_clinic_of(frame).alias(CLINIC), *cols)
        elif patients is not None and "clinic_id" in patients.columns:
            owners = patients.select(F.col("patient_id").alias("_pid"),
                                     _clinic_of(patients).alias(CLINIC))
            part = frame.join(owners, frame["patient_id"] == owners["_pid"], "left").select(
                F.col(CLINIC), *cols)
        else:
            part = frame.select(F.lit("default").alias(CLINIC), *cols)
        parts[name] = part.withColumn(TABLE, F.lit(name))
    out = None
    for part in parts.values():
        out = part if out is None else out.unionByName(part, allowMissingColumns=True)
    return out


def _clinic_of(patients: Any) -> Any:
    """The clinic column of patients as the loader reads it (missing: ``default``)."""
    from pyspark.sql import functions as F

    if "clinic_id" not in patients.columns:
        return F.lit("default")
    return F.coalesce(F.col("clinic_id").cast("string"), F.lit("default"))


def unstack(pdf: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The raw frames of one clinic, as the pandas loader would have read them."""
    raw: dict[str, pd.DataFrame] = {}
    for name, rows in pdf.groupby(TABLE, sort=False):
        prefix = f"{name}{SEP}"
        cols = [c for c in rows.columns if c.startswith(prefix)]
        frame = rows[cols].rename(columns={c: c[len(prefix):] for c in cols})
        frame = frame.set_index(ROW).sort_index()
        frame.index.name = None
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_convert("UTC").dt.tz_localize(None)
        raw[str(name)] = frame
    return raw


def pack_bundle(directory: Path) -> bytes:
    """A saved model bundle folder as one tar archive (broadcast once to every executor)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(directory, arcname="bundle")
    return buffer.getvalue()


_BUNDLES: dict[int, Any] = {}


def unpack_bundle(data: bytes) -> Any:
    """The bundle of an archive, loaded once per Python worker."""
    from training.bundle import ModelBundle

    key = hash(data)
    if key not in _BUNDLES:
        folder = Path(tempfile.mkdtemp(prefix="reactivate-bundle-"))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(folder, filter="data")
        _BUNDLES[key] = ModelBundle.load(folder / "bundle")
    return _BUNDLES[key]


def run_job(spark: Any, source: str, spec: JobSpec, settings: Settings, out: Path,
            bundle: Any | None = None) -> Path:
    """Run features or scoring for every clinic of ``source`` and write a Parquet dataset.

    The dataset is partitioned by ``clinic_id`` and written to a temporary folder beside
    ``out``, then moved into place, so readers never see half a snapshot.

    Raises:
        ClinicTooLarge: a clinic has more patients than one task takes
            (``settings.spark.max_patients_per_task``), before any task starts.
        ContractError: rows whose patient is in no clinic (strict mode), or a clinic's rows
            break the contract (the loader's message, as the pandas engine gives it).
    """
    from pyspark.sql import functions as F

    if spec.merge_outcomes:  # the tasks open the outcome store: the driver's models dir
        settings = settings.model_copy(update={"models_dir": Path(settings.models_dir).resolve()})
    frames = read_tables(spark, source, settings)
    sizes = dict(iter_clinic_sizes(frames))
    limit = settings.spark.max_patients_per_task
    too_big = sorted((c, n) for c, n in sizes.items() if n > limit)
    if too_big:
        raise ClinicTooLarge(too_big, limit)
    spec = JobSpec(**{**spec.__dict__, "columns": {
        name: tuple(c for c in frame.columns if c != ROW) for name, frame in frames.items()}})
    spec = spec.with_export_moment(export_moment(frames))
    long = stacked(frames)
    orphans = _orphans(long, spec, settings)
    if orphans:
        long = long.where(F.col(CLINIC).isNotNull())
    columns = output_columns(spec, settings)
    names = [name for name, _ in columns]
    schema = spark_schema(columns)
    shared = spark.sparkContext.broadcast(_packed(bundle))

    def task(pdf: pd.DataFrame) -> pd.DataFrame:
        model = unpack_bundle(shared.value) if shared.value is not None else None
        return to_spark_frame(run_clinic(unstack(pdf), spec, settings, model)[names])

    # One shuffle partition per clinic (up to the setting): empty partitions still cost a
    # task each, and a clinic is the unit of work anyway.
    spark.conf.set("spark.sql.shuffle.partitions",
                   str(max(1, min(len(sizes), settings.spark.shuffle_partitions))))
    result = long.groupBy(CLINIC).applyInPandas(task, schema=schema)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        result.write.mode("overwrite").partitionBy(CLINIC).parquet(str(tmp))
    except Exception as err:
        raise _task_error(err) from err
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    tmp.replace(out)
    return out


def _packed(bundle: Any | None) -> bytes | None:
    """The bundle as bytes for a broadcast (None for the features job)."""
    if bundle is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        bundle.save(Path(folder) / "bundle")
        return pack_bundle(Path(folder) / "bundle")


def _orphans(long: Any, spec: JobSpec, settings: Settings) -> int:
    """Visits and contacts of patients in no clinic: an error, or left out when lenient."""
    from pyspark.sql import functions as F

    rows = long.where(F.col(CLINIC).isNull() & (F.col(TABLE) != "patients"))
    found = rows.select(TABLE, F.col(f"visits{SEP}{ROW}").alias("v"),
                        *([F.col(f"contacts{SEP}{ROW}").alias("c")]
                          if "contacts" in spec.columns else [])).collect()
    if not found:
        return 0
    if not spec.lenient:
        by_table: dict[str, list[int]] = {}
        for row in found:
            table = row[TABLE]
            by_table.setdefault(table, []).append(int(row["v"] if table == "visits" else row["c"]))
        raise ContractError([
            Violation(table, "patient_id", "known patient (exists in patients)",
                      tuple(sorted(numbers)), ())
            for table, numbers in sorted(by_table.items())], settings.load.max_rows_in_error)
    return len(found)


def _task_error(err: Exception) -> Exception:
    """A clinic's contract error from inside a task, as the loader worded it."""
    text = str(err)
    marker = "ContractError: "
    if marker in text:
        message = text.split(marker, 1)[1].split("\n\n", 1)[0].strip()
        return ValueError(message)
    return err


def export_moment(frames: dict[str, Any]) -> pd.Timestamp | None:
    """The export moment by the loader's rule, computed over all clinics at once.

    The latest timestamp of any non-scheduled visit, booking, send or response; None when
    the export has none (the loader then reports it).
    """
    from pyspark.sql import functions as F

    candidates = []
    visits = frames["visits"]
    aggregates = []
    if "visit_at" in visits.columns:
        done = F.col("status").isNull() | (F.lower(F.trim(F.col("status"))) != "scheduled") if (
            "status" in visits.columns) else F.lit(True)
        aggregates.append(F.max(F.when(done, F.col("visit_at"))))
    if "booked_at" in visits.columns:
        aggregates.append(F.max("booked_at"))
    if aggregates:
        candidates += list(visits.agg(*aggregates).first())
    contacts = frames.get("contacts")
    if contacts is not None:
        cols = [F.max(c) for c in ("sent_at", "responded_at") if c in contacts.columns]
        candidates += list(contacts.agg(*cols).first()) if cols else []
    valid = [pd.Timestamp(c) for c in candidates if c is not None and pd.notna(c)]
    return max(valid) if valid else None


def iter_clinic_sizes(frames: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(clinic, patients) of the export, for the memory check and the benchmark."""

    patients = frames.get("patients")
    if patients is None or "clinic_id" not in patients.columns:
        source = patients if patients is not None else frames["visits"]
        yield "default", int(source.select("patient_id").distinct().count())
        return
    for row in patients.groupBy(_clinic_of(patients).alias(CLINIC)).count().collect():
        yield row[0], int(row[1])
