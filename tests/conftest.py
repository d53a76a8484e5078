"""Shared test fixtures: small exports written to temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")


def write_export(folder: Path, **tables: pd.DataFrame | str) -> Path:
    """Write tables (frames or CSV text) as ``<name>.csv`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        path = folder / f"{name}.csv"
        if isinstance(table, str):
            path.write_text(table.strip() + "\n")
        else:
            table.to_csv(path, index=False)
    return folder


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """A small valid export: 3 patients, visits of every status, contacts on every channel."""
    return write_export(
        tmp_path / "export",
        patients="""
patient_id,clinic_id,location_id,birth_date,sex,consent_sms,consent_email,consent_phone,consent_mail,do_not_contact,deceased,created_at
p1,north,loc1,1980-05-01,F,true,yes,1,T,false,no,2022-01-01
p2,north,loc2,1990-02-03,M,false,,0,f,true,false,2022-03-01
p3,south,loc1,,,,,,,,,
""",
        visits="""
visit_id,patient_id,visit_at,status,booked_at,service,provider_id,location_id,revenue
v1,p1,2023-01-10T10:00:00,completed,2023-01-01,botox,dr_a,loc1,350
v2,p1,2023-04-12,completed,2023-04-01T09:00:00,botox,dr_a,loc1,350.5
v3,p2,2023-02-01,no_show,2023-01-20,filler,dr_b,loc2,50
v4,p3,2023-03-01,cancelled,,laser,dr_a,loc1,0
v5,p3,2023-06-01,completed,2023-05-20,laser,dr_a,loc1,200
v6,p1,2023-07-15,scheduled,2023-06-25,botox,dr_a,loc1,
""",
        contacts="""
contact_id,patient_id,channel,sent_at,campaign_id,responded_at,opted_out
c1,p1,sms,2023-03-01,camp1,2023-03-02,false
c2,p2,email,2023-03-01,camp1,,
c3,p3,phone,2023-05-01,camp2,2023-05-01T12:00:00,no
c4,p3,mail,2023-05-15,camp2,,true
""",
    )


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the PostgreSQL server .ci/run starts; the tests that need it fail in CI without it."""
    url = os.environ.get("REACTIVATE_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REACTIVATE_TEST_PG_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL: run scripts/pg-test-server.sh and set REACTIVATE_TEST_PG_URL")
    return url
