"""Properties that must hold for any export: point-in-time, order and patient independence."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from features import build
from features.config import Settings
from features.export.tables import Tables, conform
from features.spec import POOLED_FEATURES
from features.vocabulary import CHANNELS

BASE = pd.Timestamp("2024-01-01")
EXPORT = BASE + pd.Timedelta(days=700)
PATIENTS = [f"p{i}" for i in range(5)]
SETTINGS = Settings()
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])

# Columns that depend on other patients of the clinic (priors learned at T), stated here on
# purpose and checked against the spec's "pooled" flags.
CLINIC_PRIOR_COLUMNS = {
    "expected_interval_days", "overdue_ratio", "days_overdue", "last_provider_active",
    "expected_revenue_per_visit", "noshow_rate", "cancel_rate", "segment_cadence",
    "course_length_typical", "episode_progress", "episode_complete",
    *(f"{ch}_response_rate" for ch in CHANNELS),
}


def stamp(day: int, half_hours: int) -> pd.Timestamp:
    return BASE + pd.Timedelta(days=day, minutes=30 * half_hours)


@st.composite
def visit_rows(draw, days: tuple[int, int], with_revenue: bool) -> list[dict]:
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        at = stamp(draw(st.integers(*days)), draw(st.integers(0, 3)))
        booked = draw(st.one_of(st.none(), st.integers(0, 60)))
        rows.append({
            "patient_id": draw(st.sampled_from(PATIENTS)),
            "visit_at": at,
            "status": draw(st.sampled_from(["completed", "completed", "no_show", "cancelled"])),
            "booked_at": None if booked is None else at - pd.Timedelta(days=booked),
            "service": draw(st.sampled_from(["botox", "filler", None])),
            "provider_id": draw(st.sampled_from(["d1", "d2", None])),
            "location_id": draw(st.sampled_from(["north", None])),
            "revenue": float(draw(st.integers(0, 3)) * 100) if with_revenue else None,
        })
    return rows


@st.composite
def contact_rows(draw, days: tuple[int, int]) -> list[dict]:
    rows = []
    for _ in range(draw(st.integers(0, 10))):
        sent = stamp(draw(st.integers(*days)), draw(st.integers(0, 3)))
        reply = draw(st.one_of(st.none(), st.integers(0, 5)))
        rows.append({
            "patient_id": draw(st.sampled_from(PATIENTS)),
            "channel": draw(st.sampled_from(CHANNELS)),
            "sent_at": sent,
            "responded_at": None if reply is None else sent + pd.Timedelta(days=reply),
            "opted_out": draw(st.booleans()),
        })
    return rows


def tables_of(visits: list[dict], contacts: list[dict], clinics: list[str],
              with_revenue: bool) -> Tables:
    def table(rows: list[dict], name: str, columns: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame(rows, columns=columns)
        for col in ("visit_at", "booked_at", "sent_at", "responded_at"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col])
        return conform(frame.astype({"revenue": float} if "revenue" in frame else {}), name)

    patients = pd.DataFrame({"patient_id": PATIENTS, "clinic_id": clinics,
                             "consent_sms": [True, False, None, True, None]})
    return Tables(
        visits=table(visits, "visits", ["patient_id", "visit_at", "status", "booked_at",
                                        "service", "provider_id", "location_id", "revenue"]),
        patients=conform(patients, "patients"),
        contacts=table(contacts, "contacts", ["patient_id", "channel", "sent_at",
                                              "responded_at", "opted_out"]),
        export_date=EXPORT,
        provided_columns={"visits": ("patient_id", "visit_at", "revenue") if with_revenue
                          else ("patient_id", "visit_at")},
    )


@st.composite
def exports(draw) -> tuple[Tables, pd.Timestamp, list[dict], list[dict]]:
    as_of_day = draw(st.integers(0, 400))
    with_revenue = draw(st.booleans())
    visits = draw(visit_rows((0, as_of_day), with_revenue))
    contacts = draw(contact_rows((0, as_of_day)))
    clinics = draw(st.lists(st.sampled_from(["k1", "k2"]), min_size=5, max_size=5))
    tables = tables_of(visits, contacts, clinics, with_revenue)
    return tables, BASE + pd.Timedelta(days=as_of_day), visits, contacts


def later_visits(draw, after: pd.Timestamp, with_revenue: bool) -> list[dict]:
    """Visits happening after the cutoff and booked after it (or with no booking time)."""
    day = (after - BASE).days + 1
    rows = draw(visit_rows((day, day + 200), with_revenue))
    for row in rows:
        if row["booked_at"] is not None and row["booked_at"] < after + pd.Timedelta(days=1):
            row["booked_at"] = None
    return rows


@given(data=st.data(), export=exports())
@PROPERTY_SETTINGS
def test_adding_events_after_t_changes_no_feature_at_t(data, export):
    tables, as_of, visits, contacts = export
    end = as_of + pd.Timedelta(days=1)
    day = (as_of - BASE).days + 1
    with_revenue = "revenue" in tables.provided_columns["visits"]
    more_visits = later_visits(data.draw, as_of, with_revenue)
    more_contacts = data.draw(contact_rows((day, day + 200)))
    answered_later = []
    for row in contacts:
        row = dict(row)
        if row["responded_at"] is None and not row["opted_out"] and data.draw(st.booleans()):
            row["responded_at"] = end + pd.Timedelta(hours=data.draw(st.integers(0, 100)))
            row["opted_out"] = data.draw(st.booleans())
        answered_later.append(row)
    clinics = tables.patients["clinic_id"].tolist()
    later = tables_of(visits + more_visits, answered_later + more_contacts, clinics,
                      with_revenue)
    assert_frame_equal(build(tables, as_of, SETTINGS), build(later, as_of, SETTINGS))


@given(export=exports(), seed=st.integers(0, 2**16))
@PROPERTY_SETTINGS
def test_shuffling_rows_changes_nothing(export, seed):
    tables, as_of, _, _ = export
    shuffled = Tables(
        visits=tables.visits.sample(frac=1, random_state=seed),
        patients=tables.patients.sample(frac=1, random_state=seed + 1),
        contacts=tables.contacts.sample(frac=1, random_state=seed + 2),
        export_date=tables.export_date,
        provided_columns=tables.provided_columns,
    )
    expected = build(tables, as_of, SETTINGS)
    got = build(shuffled, as_of, SETTINGS).loc[expected.index]
    assert_frame_equal(expected, got)


@given(export=exports(), gone=st.sampled_from(PATIENTS))
@PROPERTY_SETTINGS
def test_removing_a_patient_changes_no_other_row_except_clinic_priors(export, gone):
    tables, as_of, _, _ = export
    smaller = Tables(
        visits=tables.visits[tables.visits["patient_id"] != gone],
        patients=tables.patients[tables.patients["patient_id"] != gone],
        contacts=tables.contacts[tables.contacts["patient_id"] != gone],
        export_date=tables.export_date,
        provided_columns=tables.provided_columns,
    )
    full = build(tables, as_of, SETTINGS).drop(index=gone)
    without = build(smaller, as_of, SETTINGS)
    keep = [c for c in full.columns if c not in CLINIC_PRIOR_COLUMNS]
    assert_frame_equal(full[keep], without[keep])


def test_clinic_prior_columns_are_exactly_the_pooled_features_of_the_spec():
    assert set(POOLED_FEATURES) == CLINIC_PRIOR_COLUMNS
