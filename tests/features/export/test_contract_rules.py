"""Each rule of the data contract: a bad table gets an error naming table, column, rule, rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.export.loading import load
from features.export.sources import SourceError
from features.export.validation import ContractError
from tests.conftest import write_export

VISITS_OK = "patient_id,visit_at\np1,2024-01-05\np1,2024-04-05\n"


def _error(folder: Path, **kw: object) -> str:
    with pytest.raises(ContractError) as info:
        load(folder, **kw)
    return str(info.value)


def test_valid_export_loads_every_table_with_contract_types(export_dir: Path) -> None:
    tables = load(export_dir).tables
    assert len(tables.patients) == 3 and len(tables.visits) == 6 and len(tables.contacts) == 4
    assert str(tables.visits["visit_at"].dtype) == "datetime64[ns]"
    assert tables.visits["revenue"].tolist()[:2] == [350.0, 350.5]
    assert tables.patients.set_index("patient_id")["consent_sms"].tolist()[:2] == [True, False]
    assert pd.isna(tables.patients.set_index("patient_id").loc["p3", "consent_sms"])
    assert tables.patients.set_index("patient_id").loc["p1", "consent_phone"]
    assert tables.export_date == pd.Timestamp("2023-06-25")  # latest non-scheduled event: a booking


def test_bare_visit_log_loads_with_derived_patients_in_default_clinic(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "bare", visits="patient_id,visit_at,revenue\np1,2024-01-05,10\np2,2024-02-01,\n"
    )
    tables = load(folder).tables
    assert not tables.has_patients_table and tables.contacts is None
    assert sorted(tables.patients["patient_id"]) == ["p1", "p2"]
    assert set(tables.patients["clinic_id"]) == {"default"}
    assert set(tables.visits["status"]) == {"completed"}
    assert tables.visits["visit_id"].notna().all() and tables.visits["visit_id"].is_unique


def test_missing_required_value_names_table_column_rule_and_row(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x", visits="patient_id,visit_at\np1,2024-01-05\n,2024-02-01\n"
    )
    msg = _error(folder)
    assert (
        "visits.patient_id: rule 'required value present' broken by 1 row "
        "(data row 2; spreadsheet row 3)" in msg
    )


def test_missing_required_column_is_an_error_even_when_lenient(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", visits="patient_id,when\np1,2024-01-05\n")
    msg = _error(folder, lenient=True)
    assert "visits.visit_at: rule 'required column present'" in msg


def test_unparseable_date_is_named_with_its_value(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x", visits="patient_id,visit_at\np1,2024-01-05\np1,05/13/2024\np2,soon\n"
    )
    msg = _error(folder)
    assert (
        "visits.visit_at: rule 'ISO 8601 date or timestamp' broken by 2 rows "
        "(data rows 2, 3; spreadsheet rows 3, 4)" in msg
    )
    assert "'05/13/2024'" in msg and "'soon'" in msg


def test_unknown_status_and_channel_values_are_errors(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x",
        visits="patient_id,visit_at,status\np1,2024-01-05,done\np1,2024-02-05,COMPLETED\n",
        contacts="patient_id,channel,sent_at\np1,fax,2024-01-06\np1,SMS,2024-01-07\n",
    )
    msg = _error(folder)
    assert (
        "visits.status: rule 'one of completed, no_show, cancelled, scheduled' broken by 1 row "
        "(data row 1; spreadsheet row 2)"
        in msg
    )
    assert (
        "contacts.channel: rule 'one of sms, email, phone, mail' broken by 1 row "
        "(data row 1; spreadsheet row 2); e.g. 'fax'"
        in msg
    )


def test_bad_boolean_is_an_error(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x", patients="patient_id,consent_email\np1,maybe\n", visits=VISITS_OK
    )
    assert "patients.consent_email: rule 'boolean (true/false, 1/0, yes/no, t/f)'" in _error(folder)


@pytest.mark.parametrize(
    ("table", "text"),
    [
        ("patients", "patient_id\np1\np1\n"),
        ("visits", "visit_id,patient_id,visit_at\nv1,p1,2024-01-05\nv1,p1,2024-02-05\n"),
        (
            "contacts",
            "contact_id,patient_id,channel,sent_at\nc1,p1,sms,2024-01-01\nc1,p1,sms,2024-01-02\n",
        ),
    ],
)
def test_duplicate_key_is_an_error(tmp_path: Path, table: str, text: str) -> None:
    tables = {"visits": VISITS_OK, table: text}
    msg = _error(write_export(tmp_path / "x", **tables))
    key = {"patients": "patient_id", "visits": "visit_id", "contacts": "contact_id"}[table]
    assert f"{table}.{key}: rule 'unique key' broken by 1 row (data row 2; spreadsheet row 3)" in msg


def test_negative_revenue_is_an_error(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", visits="patient_id,visit_at,revenue\np1,2024-01-05,-20\n")
    assert (
        "visits.revenue: rule 'revenue >= 0' broken by 1 row (data row 1; spreadsheet row 2); "
        "e.g. '-20'" in _error(folder)
    )


def test_visit_or_contact_of_unknown_patient_is_an_error_without_echoing_ids(
    tmp_path: Path,
) -> None:
    folder = write_export(
        tmp_path / "x",
        patients="patient_id\np1\n",
        visits="patient_id,visit_at\np1,2024-01-05\nsecret-77,2024-01-06\n",
        contacts="patient_id,channel,sent_at\nsecret-78,sms,2024-01-01\n",
    )
    msg = _error(folder)
    assert (
        "visits.patient_id: rule 'known patient (exists in patients)' broken by 1 row "
        "(data row 2; spreadsheet row 3)"
        in msg
    )
    assert (
        "contacts.patient_id: rule 'known patient (exists in patients)' broken by 1 row "
        "(data row 1; spreadsheet row 2)"
        in msg
    )
    assert "secret" not in msg


def test_events_after_the_export_date_are_errors_except_scheduled_visits(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x",
        visits="patient_id,visit_at,status\np1,2024-01-05,completed\np1,2024-03-01,completed\np1,2024-03-02,scheduled\n",
        contacts="patient_id,channel,sent_at\np1,sms,2024-02-28\np1,email,2024-03-10\n",
    )
    msg = _error(folder, export_date="2024-02-29")
    assert (
        "visits.visit_at: rule 'not after the export date (2024-02-29); only scheduled visits may be'"
        in msg
    )
    assert "broken by 1 row (data row 2; spreadsheet row 3)" in msg
    assert (
        "contacts.sent_at: rule 'not after the export date (2024-02-29)' broken by 1 row "
        "(data row 2; spreadsheet row 3)"
        in msg
    )


def test_stale_scheduled_visit_is_reported_and_not_used(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x",
        visits="patient_id,visit_at,status\np1,2024-01-05,scheduled\np1,2024-03-01,completed\n",
    )
    result = load(folder)
    assert len(result.tables.visits) == 1
    assert result.report.rejected["visits"] == 1
    assert "stale scheduled visit" in result.report.rejects.loc[0, "reason"]


def test_lenient_load_accounts_for_every_row_and_writes_rejects(tmp_path: Path) -> None:
    folder = write_export(
        tmp_path / "x",
        patients="patient_id,created_at\np1,2020-01-01\np2,never\np3,2020-01-01\np3,2020-02-01\n",
        visits="patient_id,visit_at,revenue\np1,2024-01-05,10\np2,2024-01-06,10\np9,2024-01-07,1\np3,bad,1\np3,2024-01-08,-1\np3,2024-01-09,5\n",
        contacts="patient_id,channel,sent_at\np1,sms,2024-01-01\np1,pigeon,2024-01-02\n",
    )
    result = load(folder, lenient=True)
    r = result.report
    for table in ("patients", "visits", "contacts"):
        assert r.accepted[table] + r.rejected[table] == r.read[table]
    assert (r.read, r.accepted) == (
        {"patients": 4, "visits": 6, "contacts": 2},
        {"patients": 2, "visits": 2, "contacts": 1},
    )
    # p2's patient row is rejected, so its visit is rejected too: nothing dangles.
    assert set(result.tables.visits["patient_id"]) == {"p1", "p3"}
    path = r.write_rejects(tmp_path / "rejects.csv")
    rejects = pd.read_csv(path)
    assert len(rejects) == sum(r.rejected.values())
    assert {"table", "data_row", "spreadsheet_row", "reason", "patient_id"} <= set(rejects.columns)
    assert (rejects["spreadsheet_row"] == rejects["data_row"] + 1).all()
    assert (
        rejects.loc[rejects["table"] == "contacts", "reason"].item()
        == "channel: one of sms, email, phone, mail"
    )


def test_source_without_visits_table_is_refused(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", patients="patient_id\np1\n")
    with pytest.raises(SourceError, match="required table 'visits' is missing"):
        load(folder)


def test_parquet_folder_gives_the_same_tables_as_csv(export_dir: Path, tmp_path: Path) -> None:
    csv_tables = load(export_dir).tables
    pq = tmp_path / "pq"
    pq.mkdir()
    for name in ("patients", "visits", "contacts"):
        pd.read_csv(export_dir / f"{name}.csv", dtype=str).to_parquet(pq / f"{name}.parquet")
    assert_same_tables(load(pq).tables, csv_tables)


def assert_same_tables(a, b) -> None:  # noqa: ANN001
    """Two Tables hold the same rows and values (row order aside)."""
    for name in ("patients", "visits", "contacts"):
        fa, fb = getattr(a, name), getattr(b, name)
        key = fa.columns[0] if name == "patients" else fa.columns[0]
        pd.testing.assert_frame_equal(
            fa.sort_values(key).reset_index(drop=True), fb.sort_values(key).reset_index(drop=True)
        )
    assert a.export_date == b.export_date
