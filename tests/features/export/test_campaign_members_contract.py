"""campaign_members: an optional export table, loaded and checked like the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.export.loading import load
from features.export.tables import CAMPAIGN_MEMBER_DTYPES
from features.export.validation import ContractError
from tests.conftest import write_export

HEADER = "campaign_id,patient_id,assigned_at,arm,channel"


def test_an_export_without_campaign_members_loads_with_none(export_dir: Path) -> None:
    assert load(export_dir).tables.campaign_members is None


def test_campaign_members_load_in_the_contract_dtypes(export_dir: Path) -> None:
    write_export(export_dir, campaign_members=f"""
{HEADER}
camp1,p1,2023-02-28,treatment,sms
camp1,p2,2023-02-28T08:00:00,HOLDOUT,
""")
    members = load(export_dir).tables.campaign_members
    assert {c: str(members[c].dtype) for c in members.columns} == CAMPAIGN_MEMBER_DTYPES
    assert members["arm"].tolist() == ["treatment", "holdout"]
    assert members["channel"].tolist()[0] == "sms" and members["channel"].isna().tolist()[1]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("camp1,p1,2023-02-28,control,", "campaign_members.arm: rule 'one of treatment, holdout' "
         "broken by 1 row (data row 1; spreadsheet row 2); e.g. 'control'"),
        ("camp1,p1,2023-02-28,treatment,fax", "campaign_members.channel: rule 'one of sms, "
         "email, phone, mail' broken by 1 row (data row 1; spreadsheet row 2)"),
        ("camp1,p9,2023-02-28,treatment,", "campaign_members.patient_id: rule 'known patient "
         "(exists in patients)' broken by 1 row (data row 1; spreadsheet row 2)"),
        ("camp1,p1,2023-02-28,treatment,\ncamp1,p1,2023-03-01,holdout,",
         "campaign_members.patient_id: rule 'unique (campaign_id, patient_id)' broken by 1 row "
         "(data row 2; spreadsheet row 3)"),
        ("camp1,p1,2031-01-01,treatment,", "campaign_members.assigned_at: rule 'not after the "
         "export date"),
        (",p1,2023-02-28,treatment,", "campaign_members.campaign_id: rule 'required value "
         "present' broken by 1 row (data row 1; spreadsheet row 2)"),
    ],
)
def test_a_broken_member_row_is_named_by_table_column_rule_and_row(
    export_dir: Path, rows: str, message: str
) -> None:
    write_export(export_dir, campaign_members=f"{HEADER}\n{rows}")
    with pytest.raises(ContractError) as err:
        load(export_dir)
    assert message in str(err.value)
    assert "'p9'" not in str(err.value) and "'p1'" not in str(err.value)


def test_lenient_loading_leaves_broken_members_out_and_reports_them(export_dir: Path) -> None:
    write_export(export_dir, campaign_members=f"{HEADER}\ncamp1,p1,2023-02-28,treatment,\n"
                 "camp1,p2,2023-02-28,control,")
    result = load(export_dir, lenient=True)
    assert result.tables.campaign_members["patient_id"].tolist() == ["p1"]
    assert result.report.rejected["campaign_members"] == 1
