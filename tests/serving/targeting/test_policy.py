"""The contact policy as invariants over generated snapshots, plus a few exact cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting import policy
from serving.targeting.index import build_index
from serving.targeting.ranking import RankFilters, patient_records, rank_patients
from tests.serving.frames import snapshot
from training.channel_choice import channel_permissions

SETTINGS = Settings()
flags = st.sampled_from([True, False, None])


@st.composite
def policy_snapshots(draw: st.DrawFn) -> pd.DataFrame:
    """Snapshots whose policy inputs are drawn at random (unknown values included)."""
    n = draw(st.integers(1, 25))

    def boolean_column() -> pd.arrays.BooleanArray:
        return pd.array(draw(st.lists(flags, min_size=n, max_size=n)), dtype="boolean")

    columns: dict[str, object] = {
        "do_not_contact": boolean_column(),
        "deceased": boolean_column(),
        "has_booked_appointment": boolean_column(),
        "days_since_last_contact": draw(
            st.lists(st.one_of(st.none(), st.integers(0, 400)), min_size=n, max_size=n)
        ),
        "contacts_180d": draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)),
    }
    for channel in CHANNELS:
        columns[f"consent_{channel}"] = boolean_column()
        columns[f"opted_out_{channel}"] = boolean_column()
        columns[f"p_{channel}"] = draw(
            st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=n, max_size=n)
        )
    frame = snapshot(n, **columns)
    frame["days_since_last_contact"] = frame["days_since_last_contact"].astype(float)
    for channel in CHANNELS:
        frame[f"p_{channel}"] = frame[f"p_{channel}"].astype(float)
    return frame


def truthy(value: object) -> bool:
    """True only for a known true flag."""
    return bool(pd.notna(value) and value)


def allowed_by_hand(row: pd.Series, channel: str) -> bool:
    """The channel rule restated row by row, as the data contract words it."""
    consent = row[f"consent_{channel}"]
    if pd.isna(consent):
        consent = channel != "sms" and SETTINGS.features.email_phone_mail_allowed_when_unknown
    return bool(consent) and not truthy(row[f"opted_out_{channel}"])


def blocked_by_hand(row: pd.Series) -> bool:
    """Patient-level rules restated row by row."""
    return (
        truthy(row["do_not_contact"])
        or truthy(row["deceased"])
        or truthy(row["has_booked_appointment"])
        or (pd.notna(row["days_since_last_contact"]) and row["days_since_last_contact"] < 14)
        or row["contacts_180d"] >= 5
    )


@hyp_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=policy_snapshots(), campaign=st.sets(st.sampled_from(CHANNELS), min_size=1))
def test_listed_patients_always_satisfy_the_policy_and_every_contactable_patient_is_listed(
    frame: pd.DataFrame, campaign: set[str]
) -> None:
    channels = sorted(campaign)
    index = build_index(frame, SETTINGS)
    selection = rank_patients(index, "north", RankFilters(channels=channels), limit=5000)
    records = patient_records(index, selection, SETTINGS)
    by_id = frame.set_index("patient_id")
    listed = {r["patient_id"] for r in records}
    for record in records:
        row = by_id.loc[record["patient_id"]]
        assert not blocked_by_hand(row)
        assert record["best_channel"] in channels
        assert allowed_by_hand(row, record["best_channel"])
        assert set(record["channel_probabilities"]) <= set(channels)
        assert all(allowed_by_hand(row, c) for c in record["channel_probabilities"])
    expected = {
        pid
        for pid, row in by_id.iterrows()
        if not blocked_by_hand(row) and any(allowed_by_hand(row, c) for c in channels)
    }
    assert listed == expected
    assert selection.total_eligible == len(expected)


def test_contact_gap_and_cap_boundaries_follow_the_configuration() -> None:
    frame = snapshot(
        4, days_since_last_contact=[13.0, 14.0, np.nan, 30.0], contacts_180d=[0, 0, 4, 5]
    )
    blocks = policy.patient_blocks(frame, SETTINGS)
    assert blocks["contacted_recently"].tolist() == [True, False, False, False]
    assert blocks["contact_cap_reached"].tolist() == [False, False, False, True]
    loose = Settings(policy={"min_days_between_contacts": 7, "max_contacts": 6})
    assert (
        not policy.patient_blocks(frame, loose)[["contacted_recently", "contact_cap_reached"]]
        .any()
        .any()
    )


def test_booked_patients_are_listed_only_when_configured() -> None:
    frame = snapshot(2, has_booked_appointment=pd.array([True, False], dtype="boolean"))
    assert policy.patient_blocks(frame, SETTINGS)["booked"].tolist() == [True, False]
    opted_in = Settings(policy={"include_booked": True})
    assert policy.patient_blocks(frame, opted_in)["booked"].tolist() == [False, False]


def test_blocking_rules_name_every_rule_that_excludes_a_patient() -> None:
    frame = snapshot(
        3,
        do_not_contact=pd.array([True, False, False], dtype="boolean"),
        contacts_180d=[5, 0, 0],
        opted_out_email=pd.array([False, True, False], dtype="boolean"),
    )
    rules = policy.blocking_rules(
        policy.patient_blocks(frame, SETTINGS),
        channel_permissions(frame, SETTINGS),
        ["email"],
    )
    assert rules == [["do_not_contact", "contact_cap_reached"], ["no_allowed_channel"], []]


def test_a_snapshot_without_the_configured_cap_window_is_refused() -> None:
    frame = snapshot(2)
    wide = Settings(policy={"max_contacts_window_days": 365})
    with pytest.raises(ValueError, match="contacts_365d"):
        build_index(frame, wide)


def test_a_missing_policy_column_counts_as_unknown() -> None:
    frame = snapshot(2).drop(columns=["consent_sms", "do_not_contact", "days_since_last_contact"])
    assert channel_permissions(frame, SETTINGS)["sms"].tolist() == [False, False]
    assert not policy.patient_blocks(frame, SETTINGS).any().any()


def test_unknown_campaign_channels_are_rejected() -> None:
    with pytest.raises(ValueError, match="fax"):
        policy.campaign_channels(["sms", "fax"])


def test_a_90_day_contact_window_is_counted_by_the_features_and_capped_by_the_policy():
    from features.pipeline.assemble import build
    from tests.features.conftest import make

    settings = Settings(policy={"max_contacts_window_days": 90, "max_contacts": 3})
    as_of = pd.Timestamp("2024-06-30")
    days_ago = {"recent": [10, 30, 50], "older": [100, 120, 150]}  # both 3 within 180 days
    contacts = [
        {"patient_id": p, "channel": "email", "sent_at": str((as_of - pd.Timedelta(days=d)).date())}
        for p, ds in days_ago.items() for d in ds
    ]
    visits = [{"patient_id": p, "visit_at": "2023-06-01"} for p in days_ago]
    frame = build(make(visits, contacts=contacts), as_of, settings)

    assert "contacts_90d" in frame.columns and "contacts_180d" not in frame.columns
    assert frame["contacts_90d"].to_dict() == {"recent": 3.0, "older": 0.0}
    policy.check_policy_columns(frame, settings)  # accepted: the window the policy caps on
    capped = policy.patient_blocks(frame, settings)["contact_cap_reached"]
    assert capped.to_dict() == {"recent": True, "older": False}

    default = build(make(visits, contacts=contacts), as_of, Settings())
    assert default["contacts_180d"].to_dict() == {"recent": 3.0, "older": 3.0}
