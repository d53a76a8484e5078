"""The loader's patient positions of visits and contacts equal mapping the ids again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from features.export.loading import load
from features.pipeline.events import prepare
from features.pipeline.grouping import ids_to_codes
from tests.conftest import write_export

# Padded and blank ids, a broken patient row, visits and contacts of unknown patients.
EXPORT = {
    "patients": (
        "patient_id,created_at\n p1 ,2020-01-01\np2,2020-01-01\np3,never\np4,2020-02-01\n"
    ),
    "visits": (
        "patient_id,visit_at\np2,2024-01-05\n p1,2024-01-06\np9,2024-01-07\np3,2024-01-08\n"
        "p4 ,2024-02-01\n ,2024-02-02\np1,2024-03-01\n"
    ),
    "contacts": (
        "patient_id,channel,sent_at\np1,sms,2024-01-01\np9,email,2024-01-02\np4,phone,2024-01-03\n"
        "p3,mail,2024-01-04\n"
    ),
}


def _mapped_again(tables, table: str) -> np.ndarray:  # noqa: ANN001
    ids = pd.Index(tables.patients["patient_id"].astype(object))
    return ids_to_codes(getattr(tables, table)["patient_id"], ids)


@pytest.mark.parametrize("with_patients", [True, False])
def test_the_loaders_positions_equal_the_ids_mapped_again(tmp_path: Path,
                                                          with_patients: bool) -> None:
    tables_text = EXPORT if with_patients else {k: v for k, v in EXPORT.items()
                                                if k != "patients"}
    folder = write_export(tmp_path / "x", **tables_text)
    result = load(folder, Settings(), lenient=True)
    tables = result.tables
    assert sum(result.report.rejected.values()) > 0  # positions survive the rows left out
    for table in ("visits", "contacts"):
        known = tables.patient_positions(table)
        assert known is not None, table
        np.testing.assert_array_equal(known, _mapped_again(tables, table))
    # prepare sees the same patients whichever way it gets them
    fresh = replace(tables, patient_rows={})
    assert fresh.patient_positions("visits") is None
    a, b = prepare(tables), prepare(fresh)
    np.testing.assert_array_equal(a.visits.pid, b.visits.pid)
    np.testing.assert_array_equal(a.contacts.pid, b.contacts.pid)


def test_a_replaced_table_is_mapped_again(tmp_path: Path) -> None:
    tables = load(write_export(tmp_path / "x", **EXPORT), Settings(), lenient=True).tables
    fewer = tables.contacts.iloc[::-1].reset_index(drop=True)
    changed = replace(tables, contacts=fewer)
    assert changed.patient_positions("contacts") is None
    assert changed.patient_positions("visits") is not None  # visits are the same frame
    swapped = replace(tables, patients=tables.patients.copy())
    assert swapped.patient_positions("visits") is None  # positions index the old frame
    again = _mapped_again(changed, "contacts")
    np.testing.assert_array_equal(prepare(changed).contacts.pid, again[again >= 0])
