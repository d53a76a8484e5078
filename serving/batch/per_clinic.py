"""The engine-neutral unit of the nightly job: one clinic's raw tables in, its rows out.

pandas calls it once for a whole export (every clinic at once gives the same rows, since no
feature or score looks across clinics); Spark calls it once per clinic. It is the library's
own path — ``features.export.loading.load_frames``, ``features.build``,
``training.scoring.score`` — with the export moment and the as-of date fixed by the caller, so
a clinic scored alone sees exactly what it sees inside the whole export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.loading import load_frames
from features.export.validation import ContractError, Violation

Kind = Literal["features", "score"]


class ClinicTooLarge(ValueError):
    """A clinic has more patients than one task may hold; raised before any task runs."""

    def __init__(self, clinics: list[tuple[str, int]], limit: int) -> None:
        named = ", ".join(f"{c} ({n:,} patients)" for c, n in clinics[:5])
        super().__init__(
            f"{len(clinics)} clinic(s) exceed the {limit:,} patients one Spark task holds: "
            f"{named}. One clinic must fit in one executor's memory (docs/spark.md gives the "
            "memory per 100,000 patients); raise spark.max_patients_per_task together with "
            "spark.executor.memory, or score that clinic with the pandas engine.")
        self.clinics = clinics


@dataclass(frozen=True)
class JobSpec:
    """What every clinic's task does, fixed on the driver.

    Attributes:
        kind: ``features`` (one row per patient) or ``score`` (the scored snapshot).
        as_of: the as-of date (the same for every clinic).
        model_version: the registry version of the bundle (``score`` only).
        lenient: drop contract-breaking rows (counted) instead of failing.
        columns: per table of the export, the columns the source has (a clinic with no
            contacts still gets an empty contacts table, as inside the whole export).
        export_moment: the whole export's moment (the loader's rule over all clinics).
        export_date: the day the export was taken, when the user gave it (it wins).
        merge_outcomes: fold the configured outcome store's posted contacts and campaign
            members into each clinic's tables before features
            (``features.outcomes.merge.merge_from_settings``), as ``reactivate score`` does on
            the pandas engine.
    """

    kind: Kind
    as_of: pd.Timestamp
    model_version: str | None = None
    lenient: bool = False
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    export_moment: pd.Timestamp | None = None
    export_date: str | None = None
    merge_outcomes: bool = False

    def with_export_moment(self, moment: pd.Timestamp | None) -> JobSpec:
        """The same spec with the export moment computed over all clinics."""
        return replace(self, export_moment=moment)


def run_clinic(raw: dict[str, pd.DataFrame], spec: JobSpec, settings: Settings,
               bundle: Any | None) -> pd.DataFrame:
    """Validate, build and (for ``score``) score one clinic's raw tables.

    Returns:
        The rows of the features frame (``patient_id`` as a column) or the scored snapshot,
        in the column order and dtypes the pandas engine writes.
    """
    frames = {name: raw.get(name, pd.DataFrame(columns=list(cols)))
              for name, cols in spec.columns.items()}
    try:
        tables = load_frames(frames, settings, export_date=spec.export_date,
                             export_moment=spec.export_moment, lenient=spec.lenient).tables
    except ContractError as err:
        raise export_numbered(err, frames, settings) from None
    if spec.merge_outcomes:
        # per clinic is the same merge as over the whole export: the store is read by
        # clinic and its rows join on (clinic, patient), up to the whole export's date
        from features.outcomes.merge import merge_from_settings

        tables = merge_from_settings(tables, settings)
    return clinic_rows(tables, spec, settings, bundle)


def export_numbered(err: ContractError, frames: dict[str, pd.DataFrame], settings: Settings
                    ) -> ContractError:
    """``err`` with the export's row numbers instead of positions in this clinic's slice.

    The loader names rows by their position in the frames it is given; a clinic's frames are
    indexed by their rows' positions in the whole export (``_row``), which is what the pandas
    engine names.
    """
    def export_rows(v: Violation) -> tuple[int, ...]:
        frame = frames.get(v.table)
        if frame is None or not v.rows:
            return v.rows
        return tuple(int(frame.index[r]) for r in v.rows)

    return ContractError([replace(v, rows=export_rows(v)) for v in err.violations],
                         settings.load.max_rows_in_error)


def clinic_rows(tables: Any, spec: JobSpec, settings: Settings, bundle: Any | None
                ) -> pd.DataFrame:
    """Features or the scored snapshot of loaded ``tables`` (any number of clinics)."""
    if spec.kind == "features":
        import features

        return features.build(tables, spec.as_of, settings).reset_index()
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    return finish_snapshot(score(tables, spec.as_of, bundle, settings), spec.as_of,
                           spec.model_version)


def spark_type_of(dtype: Any) -> str:
    """The Spark SQL type name that carries a pandas column of ``dtype`` without loss."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp_ntz"
    return "string"


def to_spark_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Arrow hands to Spark unchanged: categories as text, nullable ints as floats."""
    out = {}
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_integer_dtype(values.dtype) and values.isna().any():
            values = values.astype("float64")
        elif values.dtype == object:
            values = values.where(values.notna(), None)
        out[col] = values
    return pd.DataFrame(out)


def output_columns(spec: JobSpec, settings: Settings) -> list[tuple[str, str]]:
    """(name, dtype) of the task's output, from the declarations (never from the data).

    ``score``: the scored snapshot (``training.snapshot_schema``); ``features``: the patient
    id, the clinic and the declared features (``features.spec``).
    """
    window = settings.policy.max_contacts_window_days
    if spec.kind == "score":
        from training.snapshot_schema import snapshot_columns

        return [(c.name, c.dtype) for c in snapshot_columns(window)]
    from features.spec import declared_features

    return [("patient_id", "object"), ("clinic_id", "object"),
            *((f.name, f.dtype) for f in declared_features(window))]


def spark_schema(columns: list[tuple[str, str]]) -> str:
    """The Spark DDL schema of declared (name, dtype) columns."""
    return ", ".join(f"`{name}` {spark_type_of(np.dtype(dtype))}" for name, dtype in columns)


def restore_dtypes(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Undo what Arrow did to a frame that went through Spark (dtypes of ``like``)."""
    out = {}
    for col in like.columns:
        values = frame[col]
        want = like[col].dtype
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        if isinstance(want, pd.CategoricalDtype):
            values = pd.Categorical(values, categories=want.categories)
        elif str(want) != str(values.dtype):
            try:
                values = values.astype(want)
            except (TypeError, ValueError):
                values = values.astype(object).where(values.notna(), np.nan)
        out[col] = values
    return pd.DataFrame(out, index=frame.index)
