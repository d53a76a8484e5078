"""The one channel choice: permissions, the NaN rule, ties, costs and never-contact patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from features.config import Settings
from features.vocabulary import CHANNELS, NO_ALLOWED_CHANNEL
from training.channel_choice import (
    best_channels,
    channel_labels,
    channel_permissions,
    choose_channels,
)

SETTINGS = Settings()


def patients(n: int, **columns: object) -> pd.DataFrame:
    """``n`` patients who consent to every channel, unless ``columns`` say otherwise."""
    frame = pd.DataFrame({
        "do_not_contact": pd.array([False] * n, dtype="boolean"),
        "deceased": pd.array([False] * n, dtype="boolean"),
        **{f"consent_{c}": pd.array([True] * n, dtype="boolean") for c in CHANNELS},
        **{f"opted_out_{c}": pd.array([False] * n, dtype="boolean") for c in CHANNELS},
    })
    for name, value in columns.items():
        frame[name] = value
    return frame


@hyp_settings(max_examples=60, deadline=None)
@given(
    probabilities=st.lists(
        st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=4, max_size=4),
        min_size=1,
        max_size=20,
    ),
    permitted=st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=20, max_size=20),
)
def test_the_choice_is_the_likeliest_permitted_channel_unknowns_last_ties_to_the_earlier(
    probabilities: list[list[float | None]], permitted: list[list[bool]]
) -> None:
    p = np.array(probabilities, dtype=float)
    ok = np.array(permitted[: len(p)], dtype=bool)
    choice = choose_channels(p, ok, SETTINGS)
    for row, pick in enumerate(choice):
        if not ok[row].any():
            assert pick == -1
            continue
        assert ok[row, pick]
        known = np.where(ok[row] & ~np.isnan(p[row]), p[row], -1.0)
        assert known[pick] == known[ok[row]].max()
        assert pick == np.flatnonzero(ok[row] & (known == known[pick]))[0]  # earliest tie


def test_channel_costs_can_outweigh_a_small_probability_edge() -> None:
    probs = np.array([[0.08, 0.09, 0.11, 0.02]])
    allowed = np.ones((1, 4), dtype=bool)
    assert channel_labels(choose_channels(probs, allowed, SETTINGS))[0] == "phone"
    costly = Settings(policy={"cost_weight": 0.05})  # phone costs 2.0 -> 0.1 penalty
    assert channel_labels(choose_channels(probs, allowed, costly))[0] == "email"


def test_unknown_probabilities_on_every_allowed_channel_never_choose_sms_without_consent() -> None:
    frame = patients(3, consent_sms=pd.array([False, False, None], dtype="boolean"),
                     opted_out_email=pd.array([False, True, False], dtype="boolean"))
    unknown = np.full((3, len(CHANNELS)), np.nan)
    chosen = best_channels(frame, unknown, SETTINGS).tolist()
    assert "sms" not in chosen
    assert chosen == ["email", "phone", "email"]  # the earliest permitted channel
    sms_only_known = np.array([[0.9, np.nan, np.nan, np.nan]] * 3)
    assert "sms" not in best_channels(frame, sms_only_known, SETTINGS).tolist()


def test_a_patient_who_may_not_be_contacted_gets_no_channel() -> None:
    no_consent = {f"consent_{c}": pd.array([True, True, False, True], dtype="boolean")
                  for c in CHANNELS}
    frame = patients(
        4,
        do_not_contact=pd.array([True, False, False, False], dtype="boolean"),
        deceased=pd.array([False, True, False, None], dtype="boolean"),
        **no_consent,
    )
    probs = np.tile([0.1, 0.2, 0.3, 0.4], (4, 1))
    assert best_channels(frame, probs, SETTINGS).tolist() == [
        NO_ALLOWED_CHANNEL, NO_ALLOWED_CHANNEL, NO_ALLOWED_CHANNEL, "mail"]


def test_unknown_sms_consent_never_allows_texts_but_allows_email_by_default() -> None:
    frame = patients(
        2,
        consent_sms=pd.array([None, True], dtype="boolean"),
        consent_email=pd.array([None, None], dtype="boolean"),
    )
    permissions = channel_permissions(frame, SETTINGS)
    assert permissions["sms"].tolist() == [False, True]
    assert permissions["email"].tolist() == [True, True]
    strict = Settings(features={"email_phone_mail_allowed_when_unknown": False})
    assert channel_permissions(frame, strict)["email"].tolist() == [False, False]


def test_a_missing_consent_column_counts_as_unknown() -> None:
    frame = patients(2).drop(columns=["consent_sms", "consent_phone"])
    permissions = channel_permissions(frame, SETTINGS)
    assert permissions["sms"].tolist() == [False, False]
    assert permissions["phone"].tolist() == [True, True]
