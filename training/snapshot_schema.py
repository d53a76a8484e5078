"""The scored snapshot's columns, declared once: name, dtype, meaning and who reads it.

Why declared: the snapshot is the contract between the nightly scoring run and everything
downstream (the service's ``/rank`` and ``/score``, the contact policy, drift monitoring and
the manager report). :func:`finish_snapshot` is the one place that stamps ``as_of`` and
``model_version`` and puts every column in its declared order and dtype, so a snapshot
written by the command line and one written from a notebook are the same file.
``docs/scored-snapshot.md`` is generated from this declaration (see ``REGENERATE``; a test
keeps the two identical).

The scores are declared here; the feature and context columns are taken from their own
declarations (``features.spec.FEATURES``, ``training.context.CONTEXT_SPECS``), never copied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.spec import DEFAULT_CONTACTS_WINDOW_DAYS, FeatureSpec, declared_features
from features.vocabulary import CHANNELS, NO_ALLOWED_CHANNEL, NO_CHANNEL_MODEL, as_timestamp
from training.channel_choice import NEVER_CONTACT_FLAGS
from training.context import CONTEXT_SPECS

READERS: tuple[str, ...] = ("api", "drift", "report", "policy")
STAMPS: tuple[str, ...] = ("as_of", "model_version")
REGENERATE = (
    "python -c \"from training.snapshot_schema import to_markdown; "
    "print(to_markdown(), end='')\" > docs/scored-snapshot.md"
)


@dataclass(frozen=True)
class SnapshotColumn:
    """One column of the scored snapshot."""

    name: str
    dtype: str
    meaning: str
    readers: tuple[str, ...]
    source: str  # "scoring", "stamp", or the feature family it comes from


def _score(name: str, dtype: str, meaning: str, *readers: str) -> SnapshotColumn:
    return SnapshotColumn(name, dtype, meaning, readers, "scoring")


_HEAD: tuple[SnapshotColumn, ...] = (
    _score("patient_id", "object", "The patient's id in the clinic's export", "api", "report"),
    _score("clinic_id", "object", "The clinic (tenant) the patient belongs to", "api", "report"),
    SnapshotColumn("as_of", "datetime64[ns]", "The as-of date T the patient was scored at "
                   "(end of that day)", ("api",), "stamp"),
    SnapshotColumn("model_version", "object", "Registry version of the model that scored the "
                   "snapshot; the service refuses a snapshot of another version than its "
                   "champion", ("api",), "stamp"),
    _score("return_probability", "float64", "Calibrated probability of a completed visit "
           "within the horizon", "api", "drift", "report"),
    _score("rank_score", "float64", "Tie-free ranking key of the `probability` ordering "
           "(`/rank`): the return model's log-odds before calibration plus 1e-9 times the "
           "patient's closeness to their usual interval, which orders only patients the model "
           "scores identically (`training.rank_score`); not a probability", "api"),
    _score("best_channel", "object", "Channel with the highest incremental value (with an "
           "uplift model), else the highest booking probability minus cost, among those the "
           "patient may be contacted on (`training.channel_choice`); "
           f"`{NO_ALLOWED_CHANNEL}` for a patient who may not be contacted, "
           f"`{NO_CHANNEL_MODEL}` without a channel model", "drift", "report"),
    *(_score(f"p_{c}", "float64", f"Booking probability if contacted by {c} (permitted or "
             "not; empty without a channel model)", "api") for c in CHANNELS),
    _score("expected_value", "float64", "Return probability times expected revenue per visit",
           "api", "report"),
    *(_score(f"uplift_{c}", "float64", f"Extra booking probability within the attribution "
             f"window if contacted by {c} now rather than not at all (empty without an uplift "
             "model)", "api", "report") for c in CHANNELS),
    _score("uplift", "float64", "Uplift of the patient's best channel", "api", "report"),
    _score("incremental_value", "float64", "Uplift times expected revenue of the visit minus "
           "the channel's cost (`policy.channel_costs`)", "api", "report"),
)
UPLIFT_COLUMNS: tuple[str, ...] = (*(f"uplift_{c}" for c in CHANNELS), "uplift",
                                   "incremental_value")

# Feature columns read by a consumer beyond the model inputs.
_POLICY_INPUTS: frozenset[str] = frozenset({
    *NEVER_CONTACT_FLAGS, "has_booked_appointment", "days_since_last_contact",
    *(f"consent_{c}" for c in CHANNELS), *(f"opted_out_{c}" for c in CHANNELS),
})
_API_OUTPUTS: frozenset[str] = frozenset({
    "segment", "days_since_last_visit", "last_service", "location_id", "last_provider_id",
})
_DRIFT_POPULATION: frozenset[str] = frozenset({"visits_lifetime", "deceased",
                                               "has_booked_appointment"})
_REPORT_INPUTS: frozenset[str] = frozenset({"segment", "days_since_last_visit", "deceased"})
# Listed right after the scores, so a reader of the file sees who and what first.
_LEAD_FEATURES: tuple[str, ...] = ("segment", "days_since_last_visit", "last_service")


def _readers_of(spec: FeatureSpec, context: bool) -> tuple[str, ...]:
    name = spec.name
    readers = set()
    if spec.model_input:  # explained by the service and the report; drift compares patients
        readers |= {"api", "report"} | (set() if context else {"drift"})
    if name in _API_OUTPUTS:
        readers.add("api")
    if name in _POLICY_INPUTS or name.startswith("contacts_"):
        readers.add("policy")
    if name in _DRIFT_POPULATION:
        readers.add("drift")
    if name in _REPORT_INPUTS:
        readers.add("report")
    return tuple(r for r in READERS if r in readers)


def _from_spec(spec: FeatureSpec, context: bool) -> SnapshotColumn:
    return SnapshotColumn(spec.name, spec.dtype, spec.meaning, _readers_of(spec, context),
                          "context" if context else spec.family)


def snapshot_columns(window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS
                     ) -> tuple[SnapshotColumn, ...]:
    """Every column of a finished scored snapshot, in file order.

    ``window_days`` is the contact cap's window (``policy.max_contacts_window_days``), which
    names one feature column (``contacts_<N>d``).
    """
    specs = declared_features(window_days)
    by_name = {s.name: s for s in specs}
    lead = [_from_spec(by_name[n], False) for n in _LEAD_FEATURES]
    rest = [_from_spec(s, False) for s in specs if s.name not in _LEAD_FEATURES]
    context = [_from_spec(s, True) for s in CONTEXT_SPECS]
    return (*_HEAD, *lead, *rest, *context)


def snapshot_column_names(stamped: bool = True,
                          window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS) -> tuple[str, ...]:
    """Column names in file order; without the stamps when ``stamped`` is False."""
    return tuple(c.name for c in snapshot_columns(window_days)
                 if stamped or c.name not in STAMPS)


def columns_read_by(reader: str, window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS
                    ) -> tuple[str, ...]:
    """The columns one consumer (an entry of ``READERS``) reads, in file order."""
    if reader not in READERS:
        raise ValueError(f"unknown snapshot reader {reader!r}; expected one of {READERS}")
    return tuple(c.name for c in snapshot_columns(window_days) if reader in c.readers)


def window_of(frame: pd.DataFrame) -> int:
    """The contact cap window a scored frame was built with (its ``contacts_<N>d`` column)."""
    found = [int(m.group(1)) for c in frame.columns if (m := _WINDOW.fullmatch(str(c)))]
    return found[0] if len(found) == 1 else DEFAULT_CONTACTS_WINDOW_DAYS


_WINDOW = re.compile(r"contacts_(\d+)d")
SCORE_COLUMNS: tuple[str, ...] = tuple(c.name for c in _HEAD) + _LEAD_FEATURES


def finish_snapshot(
    frame: pd.DataFrame, as_of: str | pd.Timestamp, model_version: str | int
) -> pd.DataFrame:
    """The scored snapshot to write: ``frame`` stamped, in declared column order and dtypes.

    Args:
        frame: the scores of ``training.scoring.score`` (any column order; stamps already
            present are replaced).
        as_of: the as-of date the frame was scored at.
        model_version: registry version of the model that scored it.

    Returns:
        A new frame with exactly the declared columns (``snapshot_columns``).

    Raises:
        ValueError: when ``model_version`` is empty or a declared column is missing.
    """
    version = str(model_version).strip()
    if not version:
        raise ValueError("scored snapshot needs a model_version (the registry version)")
    declared = snapshot_columns(window_of(frame))
    missing = [c.name for c in declared if c.name not in STAMPS and c.name not in frame.columns]
    if missing:
        raise ValueError(f"scored snapshot lacks declared columns {missing[:5]} "
                         f"(of {len(missing)}); see docs/scored-snapshot.md")
    stamps = {"as_of": np.full(len(frame), as_timestamp(as_of).to_datetime64(),
                               dtype="datetime64[ns]"),
              "model_version": np.full(len(frame), version, dtype=object)}
    data = {}
    for column in declared:
        values = stamps[column.name] if column.name in stamps else frame[column.name]
        data[column.name] = _as_dtype(values, column)
    # copy=False: one block per column; the arrays are already in their final dtype.
    return pd.DataFrame(data, index=pd.RangeIndex(len(frame)), copy=False)


def _as_dtype(values: pd.Series | np.ndarray, column: SnapshotColumn) -> np.ndarray:
    """``values`` as a numpy array of the column's dtype (no copy when it already is one).

    Raises:
        ValueError: when a column declared ``bool`` (never unknown) holds unknown values.
    """
    if isinstance(values, pd.Series):
        if column.dtype == "float64":
            return values.to_numpy(dtype="float64", na_value=np.nan)
        if column.dtype == "bool" and not pd.api.types.is_bool_dtype(values.dtype):
            if values.isna().any():
                raise ValueError(f"scored snapshot column {column.name!r} is declared bool "
                                 f"but {int(values.isna().sum())} rows are unknown")
            return values.astype(bool).to_numpy()
        values = values.to_numpy()
    return np.asarray(values).astype(column.dtype, copy=False)


def missing_stamps(frame: pd.DataFrame) -> list[str]:
    """The stamps a snapshot lacks (a column absent, or empty on some row)."""
    return [s for s in STAMPS if s not in frame.columns or frame[s].isna().any()]


def to_markdown() -> str:
    """The column table of the scored snapshot (the content of ``docs/scored-snapshot.md``)."""
    lines = [
        "# Scored snapshot",
        "",
        "One row per scored patient (at least one completed visit before T), written by",
        "`reactivate score` or by `training.scored_snapshot.write_scored_snapshot` from a",
        "notebook: the same function stamps `as_of` and `model_version` and orders the columns,",
        "so both write the same file, `<models dir>/snapshots/scored_<YYYY-MM-DD>.parquet`.",
        "Patients who may not be contacted are kept with their flags; the contact policy decides",
        "who is listed. \"Readers\": `api` the service (`/rank`, `/score`, explanations),",
        "`policy` the contact policy, `drift` drift monitoring, `report` the manager report.",
        "Feature columns are described in more detail in `docs/features.md`.",
        "",
        f"Generated from `training/snapshot_schema.py`: `{REGENERATE}`.",
        "",
        "| column | dtype | meaning | readers | from |",
        "|---|---|---|---|---|",
    ]
    for c in snapshot_columns():
        lines.append(f"| `{c.name}` | {c.dtype} | {c.meaning} | {', '.join(c.readers) or '-'} "
                     f"| {c.source} |")
    lines.append("")
    return "\n".join(lines)
