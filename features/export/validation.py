"""Contract rules as pandera schemas, and the errors a clinic can act on.

Every rule of ``docs/data-contract.md`` that a single row can break is a named pandera check
here. Checks run lazily over a whole table so one pass finds every broken row; the failures
become a :class:`Violation` per (table, column, rule) that names the first offending rows.
Row numbers count data rows from 1 (the first row after a CSV header is data row 1); a
spreadsheet that shows the header as its row 1 shows data row n as row n + 1, and every message
says both, so nobody has to guess which count is meant.

Speed: pandera's own overhead is small (about 0.13 s for the visits schema at 1.6M rows), so
pandera stays the validator, run in place (its default copies the whole frame first). What
cost seconds were the rules that hash ids - ``unique key``, ``unique (campaign_id,
patient_id)`` and ``known patient``: on text sources they run on the ids' dictionary codes
(``features.export.text_columns``), so each distinct id is hashed once by Arrow (a key whose
distinct count equals its row count is unique without more work; membership is
``pyarrow.compute.is_in`` over the distinct ids only), and pandera only receives the
resulting masks; typed ids keep pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from features.export.parsing import ENUMS, ParsedTable, raw_rows
from features.export.tables import COMPOSITE_KEYS, KEYS, TABLE_DTYPES
from features.vocabulary import SCHEDULED

REQUIRED: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "visits": ("patient_id", "visit_at"),
    "contacts": ("patient_id", "channel", "sent_at"),
    "campaign_members": ("campaign_id", "patient_id", "assigned_at", "arm"),
}
# Values of these columns identify people or are free text: never echoed in messages.
PRIVATE_COLUMNS = frozenset({"patient_id", "visit_id", "contact_id", "birth_date", "sex"})
RULE_NAMES: dict[str, str] = {
    "datetime64[ns]": "ISO 8601 date or timestamp",
    "boolean": "boolean (true/false, 1/0, yes/no, t/f)",
    "float64": "number",
}


ROW_COUNTING = (
    "data rows count from 1 after the header line; a spreadsheet shows data row n as row n + 1"
)


@dataclass(frozen=True)
class Violation:
    """One rule broken by one or more rows of one column, or by a whole table (no rows).

    ``column`` is empty for a rule about the whole table (no data rows at all); ``detail``
    says what is missing when no row can be named (a column the table lacks, an empty file).
    """

    table: str
    column: str
    rule: str
    rows: tuple[int, ...]  # 0-based frame positions
    examples: tuple[str, ...]
    detail: str = ""

    def describe(self, max_rows: int = 10) -> str:
        """A sentence naming table, column, rule and the broken rows as data and spreadsheet rows.

        A violation without rows (a missing column, a table without data rows) names what is
        missing instead of an empty row list.
        """
        where = f"{self.table}.{self.column}" if self.column else self.table
        if not self.rows:
            return f"{where}: rule '{self.rule}' broken" + (f": {self.detail}" if self.detail else "")
        shown = self.rows[:max_rows]
        more = f" and {len(self.rows) - max_rows} more" if len(self.rows) > max_rows else ""
        plural = "s" if len(self.rows) != 1 else ""
        data = ", ".join(str(r + 1) for r in shown)
        sheet = ", ".join(str(r + 2) for r in shown)
        text = (
            f"{where}: rule '{self.rule}' broken by {len(self.rows)} row{plural} "
            f"(data row{'s' if len(shown) != 1 else ''} {data}{more}; "
            f"spreadsheet row{'s' if len(shown) != 1 else ''} {sheet})"
        )
        if self.examples:
            text += f"; e.g. {', '.join(repr(e) for e in self.examples)}"
        return text


class ContractError(ValueError):
    """The export breaks the data contract; the message names every broken rule."""

    def __init__(self, violations: list[Violation], max_rows: int = 10) -> None:
        self.violations = violations
        lines = [v.describe(max_rows) for v in violations]
        counting = f" ({ROW_COUNTING})" if any(v.rows for v in violations) else ""
        super().__init__(
            f"The clinic export breaks the data contract{counting}:\n  - " + "\n  - ".join(lines)
        )


def missing_required_columns(table: str, columns: pd.Index) -> list[Violation]:
    """Violations for required columns the table does not have at all (fatal in any mode)."""
    schema = pa.DataFrameSchema(
        {c: pa.Column(required=True, nullable=True) for c in REQUIRED[table]}
    )
    try:
        schema.validate(pd.DataFrame(columns=columns), lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        missing = cases.loc[cases["check"] == "column_in_dataframe", "failure_case"].astype(str)
        needs = ", ".join(REQUIRED[table])
        return [
            Violation(table, col, "required column present", (), (),
                      f"the {table} table has no column '{col}' (it needs {needs}; "
                      f"{_columns_found(table, columns)})")
            for col in missing
        ]
    return []


def _columns_found(table: str, columns: pd.Index) -> str:
    """The contract columns a table has, and how many others (their names are not echoed:
    a file without a header line would show its first row's values there)."""
    known = [str(c) for c in columns if str(c) in TABLE_DTYPES[table]]
    others = len(columns) - len(known)
    text = "columns found: " + (", ".join(known) if known else "no contract column")
    if others:
        text += f" and {others} other{'s' if others != 1 else ''}"
    if not known and others:
        text += "; is the first line a header naming the columns?"
    return text


def _check(fn: Callable[[pd.Series], pd.Series], name: str) -> pa.Check:
    return pa.Check(fn, name=name, ignore_na=False, element_wise=False)


def duplicated_keys(parsed: ParsedTable, key: str) -> np.ndarray:
    """True on every repeat of a present key after its first row."""
    coded = parsed.codes.get(key)
    if coded is not None:
        return coded.duplicated()
    s = parsed.frame[key]
    return (s.notna() & s.duplicated(keep="first")).to_numpy(bool)


def unknown_patients(parsed: ParsedTable, known: pd.Index | pyarrow.Array) -> np.ndarray:
    """True where a present patient id is not among ``known``."""
    coded = parsed.codes.get("patient_id")
    if coded is not None and isinstance(known, pyarrow.Array | pyarrow.ChunkedArray):
        inside = pc.is_in(coded.values, value_set=known.cast(coded.values.type))
        inside = np.append(pc.fill_null(inside, True).to_numpy(zero_copy_only=False), True)
        return ~inside[coded.codes]
    s = parsed.frame["patient_id"]
    values = known.to_pylist() if not isinstance(known, pd.Index) else known
    return ~(s.isna() | s.isin(values)).to_numpy(bool)


def _repeated_pairs(parsed: ParsedTable, columns: tuple[str, ...]) -> np.ndarray:
    """True on every repeat of a combination of present values after its first row."""
    coded = [parsed.codes.get(c) for c in columns]
    if any(c is None for c in coded) or np.prod(
            [len(c.values) + 1.0 for c in coded]) >= 2.0**62:
        keyed = parsed.frame[list(columns)]
        return (keyed.duplicated(keep="first") & keyed.notna().all(axis=1)).to_numpy(bool)
    packed = np.zeros(len(parsed.frame), np.int64)
    present = np.ones(len(parsed.frame), bool)
    for c in coded:
        packed = packed * (len(c.values) + 1) + (c.codes.astype(np.int64) + 1)
        present &= c.codes >= 0
    return present & pd.Series(packed).duplicated(keep="first").to_numpy()


def table_checks(
    table: str,
    parsed: ParsedTable,
    known_patients: pd.Index | pyarrow.Array | None,
    export_cutoff: pd.Timestamp,
) -> dict[str, list[pa.Check]]:
    """The checks of every column of ``table`` present in the source.

    Args:
        table: contract table name.
        parsed: the parsed table with presence and parse-failure masks.
        known_patients: patient ids of the patients table (pandas or Arrow), or None when
            there is none.
        export_cutoff: first instant after the export; only scheduled visits may lie there.
    """
    frame, present, bad = parsed.frame, parsed.present, parsed.unparseable
    checks: dict[str, list[pa.Check]] = {c: [] for c in frame.columns}
    for col in frame.columns:
        if col in REQUIRED[table]:
            checks[col].append(_check(lambda s, c=col: present[c], "required value present"))
        if (table, col) in ENUMS:
            rule = "one of " + ", ".join(ENUMS[(table, col)])
            checks[col].append(_check(lambda s, c=col: ~bad[c], rule))
        elif str(frame[col].dtype) in RULE_NAMES:
            rule = RULE_NAMES[str(frame[col].dtype)]
            checks[col].append(_check(lambda s, c=col: ~bad[c], rule))
    key = KEYS.get(table)
    if key in frame.columns:
        repeats = pd.Series(duplicated_keys(parsed, key), index=frame.index)
        checks[key].append(_check(lambda s: ~repeats, "unique key"))
    composite = COMPOSITE_KEYS.get(table, ())
    if composite and all(c in frame.columns for c in composite):
        repeated = pd.Series(_repeated_pairs(parsed, composite), index=frame.index)
        rule = "unique (" + ", ".join(composite) + ")"
        checks[composite[-1]].append(_check(lambda s: ~repeated, rule))
    if table != "patients" and known_patients is not None:
        unknown = pd.Series(unknown_patients(parsed, known_patients), index=frame.index)
        checks["patient_id"].append(
            _check(lambda s: ~unknown, "known patient (exists in patients)")
        )
    if "revenue" in frame.columns:
        checks["revenue"].append(_check(lambda s: ~(s < 0), "revenue >= 0"))
    after = f"not after the export date ({(export_cutoff - pd.Timedelta(days=1)).date()})"
    if table == "visits":
        not_scheduled = ~parsed.holds("status", SCHEDULED) if "status" in frame.columns else True
        checks["visit_at"].append(
            _check(
                lambda s: ~((s >= export_cutoff) & not_scheduled),
                after + "; only scheduled visits may be",
            )
        )
        if "booked_at" in frame.columns:
            checks["booked_at"].append(_check(lambda s: ~(s >= export_cutoff), after))
    if table == "contacts":
        for col in ("sent_at", "responded_at"):
            if col in frame.columns:
                checks[col].append(_check(lambda s: ~(s >= export_cutoff), after))
    if table == "campaign_members" and "assigned_at" in frame.columns:
        checks["assigned_at"].append(_check(lambda s: ~(s >= export_cutoff), after))
    return checks


def find_violations(
    table: str,
    parsed: ParsedTable,
    known_patients: pd.Index | pyarrow.Array | None,
    export_cutoff: pd.Timestamp,
) -> list[Violation]:
    """Run the table's pandera schema lazily and group its failures into violations."""
    checks = table_checks(table, parsed, known_patients, export_cutoff)
    schema = pa.DataFrameSchema(
        {c: pa.Column(checks=cs, nullable=True, required=False) for c, cs in checks.items()},
        name=table,
    )
    try:
        schema.validate(parsed.frame, lazy=True, inplace=True)  # no copy: nothing coerced
    except pa.errors.SchemaErrors as err:
        return _group(table, err.failure_cases, parsed)
    return []


def _group(table: str, cases: pd.DataFrame, parsed: ParsedTable) -> list[Violation]:
    cases = cases.dropna(subset=["index"])
    out: list[Violation] = []
    for (col, rule), group in cases.groupby(["column", "check"], sort=False):
        rows = tuple(sorted(int(i) for i in group["index"].unique()))
        examples: tuple[str, ...] = ()
        if col not in PRIVATE_COLUMNS and rule != "required value present":
            raw = raw_rows(parsed.raw, list(rows[:50]), [str(col)])[col].astype(str)
            examples = tuple(pd.unique(raw)[:3].tolist())
        out.append(Violation(table, str(col), str(rule), rows, examples))
    return out
