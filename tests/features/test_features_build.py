"""The orchestrator's contract: shape, order, dtypes, the declared list and its document."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

from features import build, build_many
from features.pipeline import assemble as build_module
from features.spec import BY_NAME, FEATURE_NAMES, MODEL_FEATURES, REGENERATE, to_markdown
from features.vocabulary import CHANNELS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"

VISITS = [
    {"patient_id": "a", "visit_at": "2024-01-10", "service": "botox", "revenue": 300},
    {"patient_id": "a", "visit_at": "2024-04-12", "service": "botox", "revenue": 320},
    {"patient_id": "b", "visit_at": "2023-05-01", "service": "laser", "revenue": 800},
    {"patient_id": "c", "visit_at": "2024-09-01", "status": "scheduled",
     "booked_at": "2024-05-20"},
]
PATIENTS = [
    {"patient_id": "c", "clinic_id": "north"},
    {"patient_id": "a", "clinic_id": "north", "consent_sms": True},
    {"patient_id": "b", "clinic_id": "south", "do_not_contact": True},
]
CONTACTS = [{"patient_id": "b", "channel": "email", "sent_at": "2024-03-01",
             "responded_at": "2024-03-02"}]


def test_one_row_per_patient_with_clinic_first_then_the_declared_features(
    make_tables, settings
):
    tables = make_tables(VISITS, patients=PATIENTS, contacts=CONTACTS)
    f = build(tables, "2024-06-01", settings)
    assert f.index.name == "patient_id"
    assert f.index.tolist() == ["c", "a", "b"]
    assert f.columns.tolist() == ["clinic_id", *FEATURE_NAMES]
    assert f["clinic_id"].tolist() == ["north", "north", "south"]
    assert {name: str(f[name].dtype) for name in FEATURE_NAMES} == {
        name: BY_NAME[name].dtype for name in FEATURE_NAMES}
    assert f.loc["c", "has_booked_appointment"]
    assert f.loc["b", "do_not_contact"]


def test_bare_visit_log_gives_a_full_frame_with_missing_extras(make_tables, settings):
    tables = make_tables([{"patient_id": "a", "visit_at": "2024-01-10"},
                          {"patient_id": "a", "visit_at": "2024-03-10"},
                          {"patient_id": "b", "visit_at": "2024-02-01"}])
    f = build(tables, "2024-06-01", settings)
    assert f["clinic_id"].eq("default").all()
    assert f.loc["a", "days_since_last_visit"] == 83
    assert f.loc["a", "segment"] == "active"
    assert f[[f"{ch}_sent" for ch in CHANNELS]].isna().all().all()
    assert f["revenue_lifetime"].isna().all()
    assert f["age_years"].isna().all()


def test_build_many_equals_build_at_each_date(make_tables, settings):
    tables = make_tables(VISITS, patients=PATIENTS, contacts=CONTACTS)
    dates = ["2024-02-01", "2024-06-01"]
    many = build_many(tables, dates, settings)
    assert many.index.names == ["as_of", "patient_id"]
    for date in dates:
        assert_frame_equal(many.xs(pd.Timestamp(date), level="as_of"),
                           build(tables, date, settings))


def test_inputs_are_not_modified(make_tables, settings):
    tables = make_tables(VISITS, patients=PATIENTS, contacts=CONTACTS)
    before = [t.copy() for t in (tables.visits, tables.patients, tables.contacts)]
    build(tables, "2024-06-01", settings)
    for old, new in zip(before, (tables.visits, tables.patients, tables.contacts), strict=True):
        assert_frame_equal(old, new)


def test_progress_callback_hears_every_family(make_tables, settings):
    steps: list[str] = []
    build(make_tables(VISITS), "2024-06-01", settings, on_step=steps.append)
    assert steps == ["prepare", *build_module.FAMILIES]


def test_current_state_columns_are_never_model_inputs():
    current = {"do_not_contact", "deceased", *(f"consent_{ch}" for ch in CHANNELS)}
    assert current <= set(FEATURE_NAMES)
    assert not current & set(MODEL_FEATURES)


def test_feature_document_matches_the_declared_list():
    assert DOCS.read_text() == to_markdown(), f"regenerate: {REGENERATE}"


def test_export_with_nothing_known_at_t_gives_empty_features_not_errors(make_tables, settings):
    tables = make_tables([{"patient_id": "a", "visit_at": "2024-05-01"}],
                         contacts=[{"patient_id": "a", "channel": "sms", "sent_at": "2024-06-01"}])
    f = build(tables, "2024-01-01", settings)
    assert f.loc["a", "visits_lifetime"] == 0
    assert f.loc["a", "sms_sent"] == 0
    assert f.loc["a", "segment"] is None
    empty = make_tables([], patients=[{"patient_id": "a", "clinic_id": "k"}], contacts=[])
    assert build(empty, "2024-01-01", settings).loc["a", "clinic_id"] == "k"


def test_build_rows_gives_each_pair_the_features_of_its_own_day(make_tables, settings):
    tables = make_tables(VISITS, patients=PATIENTS, contacts=CONTACTS)
    rows = pd.DataFrame({"patient_id": ["a", "b", "a", "zz"],
                         "as_of": ["2024-06-01", "2024-02-01", "2024-02-01", "2024-02-01"]},
                        index=[10, 11, 12, 13])
    got = build_module.build_rows(tables, rows, settings)
    assert got.index.tolist() == [10, 11, 12, 13]
    assert got["patient_id"].tolist() == ["a", "b", "a", "zz"]
    for i in (10, 11, 12):
        expected = build(tables, rows.loc[i, "as_of"], settings).loc[rows.loc[i, "patient_id"]]
        assert_frame_equal(got.loc[[i]].drop(columns=["patient_id", "as_of"]),
                           expected.to_frame().T.set_axis([i]), check_dtype=False)
    assert got.loc[13, list(FEATURE_NAMES)].isna().all()


def test_columns_of_the_result_do_not_share_memory(make_tables, settings):
    bare = make_tables([{"patient_id": "a", "visit_at": "2024-01-10"}])  # no contacts, revenue
    f = build(bare, "2024-06-01", settings)
    f.loc["a", "sms_sent"] = 99.0
    f.loc["a", "revenue_lifetime"] = 5.0
    assert pd.isna(f.loc["a", "email_sent"])
    assert pd.isna(f.loc["a", "revenue_12m"])
