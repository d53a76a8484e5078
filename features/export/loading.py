"""Load a clinic export into :class:`features.export.tables.Tables`, checked against the contract.

Strict by default: any broken rule raises :class:`features.export.validation.ContractError` naming
table, column, rule and the first offending rows. Lenient: the broken rows are left out and
reported (``LoadReport.rejects``), so that for every table ``accepted + rejected == read``.
Stale scheduled visits (scheduled before the export date) are never used and always reported,
in both modes, without failing the load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.config import Settings
from features.export.parsing import ParsedTable, parse_table, raw_rows
from features.export.sources import TABLE_NAMES, as_arrow, read_source
from features.export.tables import PatientRows, Tables, conform
from features.export.text_columns import TextCodes
from features.export.validation import (
    ContractError,
    Violation,
    find_violations,
    missing_required_columns,
)
from features.memory import release_memory
from features.vocabulary import COMPLETED, SCHEDULED, as_timestamp, cutoff

REJECT_COLUMNS = ("table", "data_row", "spreadsheet_row", "reason")
STALE_RULE = "stale scheduled visit (scheduled before the export date): not used"


@dataclass
class LoadReport:
    """What the loader read, kept and left out.

    Attributes:
        read, accepted, rejected: row counts per table.
        violations: every broken rule found (also in lenient mode).
        rejects: one row per rejected source row: ``table``, ``data_row`` (1-based, the
            first row after the header is 1), ``spreadsheet_row`` (``data_row + 1``: the
            header is a spreadsheet's row 1), ``reason``, then the row's raw values.
        ignored_columns: columns of the source that are not in the contract.
        export_date: the export moment used for the "after the export" rule.
    """

    read: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    export_date: pd.Timestamp | None = None

    def write_rejects(self, path: Path) -> Path:
        """Write the rejected rows with their reasons as CSV (an empty file with headers if none)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = (
            self.rejects if len(self.rejects) else pd.DataFrame(columns=list(REJECT_COLUMNS))
        )
        frame.to_csv(path, index=False)
        return path


@dataclass(frozen=True)
class LoadResult:
    """The loaded tables and the report of how they were obtained."""

    tables: Tables
    report: LoadReport


def load(
    source: str | Path,
    settings: Settings | None = None,
    export_date: str | pd.Timestamp | None = None,
    lenient: bool | None = None,
    schema: str | None = None,
) -> LoadResult:
    """Read, parse and validate an export from a folder, DuckDB file or SQLAlchemy URL.

    Args:
        source: where the export is.
        settings: the config object (``settings.load.lenient`` is the default mode).
        export_date: the day the export was taken (end of that day); default: the latest
            timestamp of any non-scheduled event.
        lenient: overrides ``settings.load.lenient``.
        schema: database schema for SQLAlchemy sources.
    """
    settings = settings or Settings()
    return load_frames(read_source(source, schema=schema, lazy=True), settings, export_date,
                       lenient)


def load_frames(
    raw_tables: Mapping[str, pd.DataFrame | pa.Table],
    settings: Settings | None = None,
    export_date: str | pd.Timestamp | None = None,
    lenient: bool | None = None,
    *,
    export_moment: pd.Timestamp | None = None,
) -> LoadResult:
    """Validate raw frames (what ``load`` does after reading).

    ``export_moment`` is the exact moment of an export whose frames are only a part of it (one
    clinic of a group, as the Spark engine loads them): the default rule (the latest event)
    would otherwise be taken over that part alone.

    Why one table at a time: each raw table is parsed as soon as it is read and only its
    parsed form is kept (``features.export.sources.read_source(lazy=True)`` reads a table
    when asked for it), and each table's parsed masks are dropped once it is judged, so the
    raw text of the whole export is never in memory at once.

    Args:
        raw_tables: ``{table: frame}`` as pandas frames or Arrow tables (row numbers in
            messages are their positions); a mapping that reads each table when asked.
    """
    settings = settings or Settings()
    lenient = settings.load.lenient if lenient is None else lenient
    max_rows = settings.load.max_rows_in_error
    report = LoadReport()
    parsed: dict[str, ParsedTable] = {}
    provided: dict[str, tuple[str, ...]] = {}
    missing: list[Violation] = []
    empty: dict[str, list[Violation]] = {}
    for name in list(raw_tables):
        raw = as_arrow(raw_tables[name])
        provided[name] = tuple(raw.column_names)
        missing += missing_required_columns(name, pd.Index(raw.column_names))
        empty[name] = empty_tables({name: raw})
        if not missing and not any(empty.values()) and name in TABLE_NAMES:
            parsed[name] = parse_table(raw, name)
            report.ignored_columns[name] = [
                c for c in raw.column_names if c not in parsed[name].frame.columns]
        del raw
    fatal = missing + [v for name in ("visits", "patients") for v in empty.get(name, [])]
    if fatal:
        raise ContractError(fatal, max_rows)

    export_ts = (pd.Timestamp(export_moment) if export_moment is not None and export_date is None
                 else _export_moment(parsed, export_date))
    export_cutoff = (
        cutoff(export_ts)
        if export_date is not None
        else (export_ts + pd.Timedelta(microseconds=1))
    )
    report.export_date = export_ts

    kept: dict[str, pd.DataFrame] = {}
    gaps: dict[str, set[str]] = {}  # per table, the columns with a missing value in kept rows
    reject_frames: list[pd.DataFrame] = []
    known: pd.Index | pa.Array | None = None
    id_codes: dict[str, TextCodes] = {}  # the kept rows' patient id codes, per table
    for name in TABLE_NAMES:
        if name not in parsed:
            continue
        table = parsed.pop(name)  # its masks and raw values go once it is judged
        violations = find_violations(name, table, known, export_cutoff)
        report.violations.extend(violations)
        bad_rows = _rows_by_reason(violations)
        if name == "visits":
            stale = _stale_scheduled(table, export_ts)
            for row in stale:
                bad_rows.setdefault(row, []).append(STALE_RULE)
        keep = np.ones(len(table.frame), bool)
        keep[list(bad_rows)] = False
        kept[name] = table.frame.loc[keep] if bad_rows else table.frame
        gaps[name] = {c for c in table.present.columns
                      if not table.present[c].to_numpy()[keep if bad_rows else slice(None)].all()}
        reject_frames.append(_rejects(name, table, bad_rows))
        coded = table.codes.get("patient_id")
        if name in PATIENT_ROW_TABLES and isinstance(coded, TextCodes):
            id_codes[name] = TextCodes(coded.codes[keep] if bad_rows else coded.codes,
                                       coded.values)
        report.read[name] = len(table.frame)
        report.accepted[name] = int(keep.sum())
        report.rejected[name] = len(bad_rows)
        if name == "patients":
            # Strict mode reports each broken patient row once, not again on its visits.
            pool = keep if lenient else np.ones(len(keep), bool)
            known = _known_ids(table, pool)
        del table
    if report.violations and not lenient:
        raise ContractError(report.violations, max_rows)
    if not len(kept["visits"]):
        raise ContractError([*report.violations, Violation(
            "visits", "", "at least one usable visit", (), (),
            f"all {report.read['visits']:,} data rows were left out (see the rules above)")],
            max_rows)
    report.rejects = (
        pd.concat(reject_frames, ignore_index=True) if reject_frames else pd.DataFrame()
    )
    tables = _with_patient_rows(_assemble(kept, gaps, export_ts, provided), id_codes)
    del kept, parsed, id_codes
    release_memory()  # the parse buffers: half a GB at a million patients (features.memory)
    return LoadResult(tables=tables, report=report)


def empty_tables(raw_tables: Mapping[str, pa.Table]) -> list[Violation]:
    """Violations for tables that have a header but no data rows, where that is fatal.

    Visits are the one table every answer needs; an empty patients table would make every
    visit one of an unknown patient. An empty contacts or campaign members table is a valid
    answer (no outreach yet), so it passes.
    """
    out = []
    if "visits" in raw_tables and raw_tables["visits"].num_rows == 0:
        out.append(Violation(
            "visits", "", "at least one data row", (), (),
            "the table has a header line but no data rows: at least one visit "
            "(patient_id, visit_at) is needed"))
    if "patients" in raw_tables and raw_tables["patients"].num_rows == 0:
        out.append(Violation(
            "patients", "", "at least one data row", (), (),
            "the table has a header line but no data rows, so every visit would be of an "
            "unknown patient: fill it, or leave it out to derive the patients from the visits"))
    return out


def _known_ids(patients: ParsedTable, rows: np.ndarray) -> pd.Index | pa.Array:
    """Distinct patient ids of the given patient rows (Arrow when the ids came as text)."""
    coded = patients.codes.get("patient_id")
    if coded is not None:
        used = np.unique(coded.codes[rows & (coded.codes >= 0)])
        return coded.values.take(pa.array(used, type=pa.int64()))
    return pd.Index(patients.frame.loc[rows, "patient_id"].dropna().unique())


def _export_moment(
    parsed: dict[str, ParsedTable], export_date: str | pd.Timestamp | None
) -> pd.Timestamp:
    """The export date given, else the latest timestamp of any non-scheduled event."""
    if export_date is not None:
        return pd.Timestamp(export_date)
    candidates: list[pd.Timestamp] = []
    visits = parsed["visits"].frame
    visit_at = visits["visit_at"]
    if "status" in visits.columns:
        visit_at = visit_at[~parsed["visits"].holds("status", SCHEDULED)]
    candidates.append(visit_at.max())
    if "booked_at" in visits.columns:
        candidates.append(visits["booked_at"].max())
    if "contacts" in parsed:
        for col in ("sent_at", "responded_at"):
            if col in parsed["contacts"].frame.columns:
                candidates.append(parsed["contacts"].frame[col].max())
    valid = [c for c in candidates if pd.notna(c)]
    if not valid:
        raise ContractError([Violation(
            "visits", "visit_at", "at least one dated visit", (), (),
            "no data row has a usable visit_at other than a scheduled visit (and no booking "
            "or contact is dated), so the export date cannot be told: give past visits, or "
            "--export-date")])
    return max(valid)


def _stale_scheduled(visits: ParsedTable, export_ts: pd.Timestamp) -> list[int]:
    """Scheduled visits on a day before the export day: they should have been resolved."""
    if "status" not in visits.frame.columns:
        return []
    stale = visits.holds("status", SCHEDULED) & (
        visits.frame["visit_at"] < as_timestamp(export_ts)).to_numpy()
    return np.flatnonzero(stale).tolist()


def _rows_by_reason(violations: list[Violation]) -> dict[int, list[str]]:
    rows: dict[int, list[str]] = {}
    for v in violations:
        for r in v.rows:
            rows.setdefault(r, []).append(f"{v.column}: {v.rule}")
    return rows


def _rejects(name: str, table: ParsedTable, bad_rows: dict[int, list[str]]) -> pd.DataFrame:
    if not bad_rows:
        return pd.DataFrame(columns=list(REJECT_COLUMNS))
    idx = sorted(bad_rows)
    raw = raw_rows(table.raw, idx)
    head = pd.DataFrame(
        {
            "table": name,
            "data_row": [i + 1 for i in idx],
            "spreadsheet_row": [i + 2 for i in idx],
            "reason": ["; ".join(bad_rows[i]) for i in idx],
        },
        index=raw.index,
    )
    return pd.concat([head, raw], axis=1)


def _assemble(
    kept: dict[str, pd.DataFrame], gaps: dict[str, set[str]], export_ts: pd.Timestamp,
    provided: dict[str, tuple[str, ...]],
) -> Tables:
    """The loaded ``Tables``: defaults filled, rows renumbered, contract columns and dtypes.

    No frame is copied: the kept frames are this load's own (parsed here, or the rows kept
    by a lenient load), so their columns become the tables' columns as they are. ``gaps``
    (columns with a missing value) spares scanning ten million ids for missing ones.
    """
    visits = kept["visits"]
    status = (visits["status"] if "status" not in gaps["visits"]
              else visits["status"].fillna(COMPLETED)) if "status" in visits.columns else (
        pd.Series(COMPLETED, index=visits.index, dtype=object))
    visits = _renumbered(_with_columns(visits, status=status, visit_id=_row_ids(
        visits, "visit_id", gaps["visits"])))
    has_patients = "patients" in kept
    if has_patients:
        patients = _renumbered(kept["patients"])
    else:
        patients = pd.DataFrame({"patient_id": pd.unique(visits["patient_id"].dropna())})
    clinic = (patients["clinic_id"].fillna("default") if "clinic_id" in patients.columns
              else pd.Series("default", index=patients.index, dtype=object))
    patients = _with_columns(patients, clinic_id=clinic)
    contacts = None
    if "contacts" in kept:
        frame = kept["contacts"]
        contacts = conform(_renumbered(_with_columns(
            frame, contact_id=_row_ids(frame, "contact_id", gaps["contacts"]))), "contacts",
            copy=False)
    members = kept.get("campaign_members")
    return Tables(
        campaign_members=None if members is None else conform(
            _renumbered(members), "campaign_members", copy=False),
        visits=conform(visits, "visits", copy=False),
        patients=conform(patients, "patients", copy=False),
        contacts=contacts,
        export_date=export_ts,
        has_patients_table=has_patients,
        provided_columns=provided,
    )


PATIENT_ROW_TABLES = ("visits", "contacts")


def _with_patient_rows(tables: Tables, id_codes: dict[str, TextCodes]) -> Tables:
    """``tables`` with each visit's and contact's patient position (``Tables.patient_rows``),
    from the codes the parse already made: one lookup per distinct id, not one per row."""
    ids = pd.Index(tables.patients["patient_id"].astype(object))
    if not ids.is_unique:  # positions would be ambiguous; prepare maps the ids itself
        return tables
    rows = {}
    for name, coded in id_codes.items():
        frame = getattr(tables, name)
        if frame is None or len(frame) != len(coded.codes):
            continue
        lookup = np.append(ids.get_indexer(coded.values.to_numpy(zero_copy_only=False)), -1)
        positions = lookup[np.where(coded.codes >= 0, coded.codes, len(coded.values))]
        rows[name] = PatientRows.of(positions.astype(np.int64, copy=False), frame,
                                    tables.patients)
    return replace(tables, patient_rows=rows) if rows else tables


def _with_columns(frame: pd.DataFrame, **columns: pd.Series) -> pd.DataFrame:
    """``frame`` with ``columns`` set (like ``DataFrame.assign``, which copies every column)."""
    return pd.DataFrame({**dict(frame.items()), **columns}, index=frame.index, copy=False)


def _renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with rows numbered 0..n-1 (a lenient load left some out), set in place:
    the frame is this load's own."""
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        frame.index = pd.RangeIndex(len(frame))
    return frame


def _row_ids(frame: pd.DataFrame, key: str, gaps: set[str]) -> pd.Series:
    """``frame[key]`` with each missing value ``row-<data row>``: derived from the source row
    number (the frame's index before renumbering), so reloads give the same ids."""
    if key in frame.columns and key not in gaps:
        return frame[key]
    ids = frame[key] if key in frame.columns else pd.Series(None, index=frame.index,
                                                                  dtype=object)
    missing = ids.isna().to_numpy()
    if missing.any():
        ids = ids.copy()
        ids[missing] = "row-" + (frame.index[missing] + 1).astype(str)
    return ids
