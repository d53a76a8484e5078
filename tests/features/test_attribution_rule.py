"""The one attribution rule: the vocabulary's function and training's contact labels agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.vocabulary import (
    CHANNELS,
    booking_moment,
    credited_contacts,
    within_attribution,
)
from training.labels import contact_labels

T = pd.Timestamp
NAT = pd.NaT

# Rows: 0-2 and 5 are p1's, 3-4 p2's. Rows 1 and 2 are sent at the same minute (a tie).
CONTACTS = pd.DataFrame({
    "patient_id": ["p1", "p1", "p1", "p2", "p2", "p1"],
    "channel": ["sms", "email", "phone", "mail", "sms", "mail"],
    "sent_at": [T("2024-01-01 09:00"), T("2024-01-05 10:00"), T("2024-01-05 10:00"),
                T("2024-01-03 08:00"), T("2024-01-10 12:00"), T("2024-03-01 09:00")],
}, index=[10, 11, 12, 13, 14, 15])
VISITS = pd.DataFrame({
    "patient_id": ["p1", "p2", "p1", "p1"],
    # v0: booked after the tie; v1: no booked_at, so booked at its visit time (before p2's
    # sms); v2: booked the very minute p1's sms went out; v3: 19 days after p1's letter.
    "visit_at": [T("2024-01-20"), T("2024-01-09 09:00"), T("2024-01-02"), T("2024-04-01")],
    "booked_at": [T("2024-01-06"), NAT, T("2024-01-01 09:00"), T("2024-03-20 09:00")],
    "status": ["completed", "completed", "completed", "scheduled"],
})


def _codes(values: pd.Series, labels: list[str]) -> np.ndarray:
    return pd.Index(labels).get_indexer(values.to_numpy(object))


def test_the_vocabulary_rule_credits_the_latest_contact_and_the_later_channel_on_a_tie():
    booking_at = booking_moment(VISITS["booked_at"].to_numpy("datetime64[ns]"),
                                VISITS["visit_at"].to_numpy("datetime64[ns]"))
    credited = credited_contacts(
        _codes(VISITS["patient_id"], ["p1", "p2"]), booking_at,
        _codes(CONTACTS["patient_id"], ["p1", "p2"]), CONTACTS["sent_at"].to_numpy(),
        _codes(CONTACTS["channel"], list(CHANNELS)),
    )
    assert credited.tolist() == [2, 3, 0, 5]  # phone beats email at the same minute
    inside = within_attribution(booking_at, CONTACTS["sent_at"].to_numpy()[credited], 14)
    assert inside.tolist() == [True, True, True, False]


def test_training_contact_labels_follow_the_vocabulary_rule():
    labels = contact_labels(CONTACTS, VISITS, 14)
    assert labels.index.tolist() == CONTACTS.index.tolist()
    assert labels.tolist() == [1, 0, 1, 1, 0, 0]
    # A window long enough for the letter's 19 days credits it too; nothing else changes.
    assert contact_labels(CONTACTS, VISITS, 19).tolist() == [1, 0, 1, 1, 0, 1]


def test_contact_labels_do_not_depend_on_row_order():
    shuffled = CONTACTS.sample(frac=1.0, random_state=3)
    labels = contact_labels(shuffled, VISITS.iloc[::-1], 14)
    assert labels.sort_index().tolist() == [1, 0, 1, 1, 0, 0]


def test_contact_labels_refuse_a_channel_outside_the_vocabulary():
    bad = CONTACTS.assign(channel=["sms", "fax", "phone", "mail", "sms", "mail"])
    with pytest.raises(ValueError, match=r"contacts\.channel: one of .*\(1 rows are not\)"):
        contact_labels(bad, VISITS, 14)


MINUTE = np.timedelta64(1, "m")
BASE = np.datetime64("2024-01-01T00:00", "ns")


@st.composite
def events(draw) -> tuple[np.ndarray, ...]:
    """Bookings and contacts of up to 3 patients on a 20-minute clock (ties are common)."""
    n_b = draw(st.integers(0, 8))
    n_c = draw(st.integers(0, 8))
    b_pid = np.array(draw(st.lists(st.integers(0, 2), min_size=n_b, max_size=n_b)), np.int64)
    b_min = draw(st.lists(st.one_of(st.none(), st.integers(0, 20)), min_size=n_b, max_size=n_b))
    c_pid = np.array(draw(st.lists(st.integers(0, 2), min_size=n_c, max_size=n_c)), np.int64)
    c_min = draw(st.lists(st.integers(0, 20), min_size=n_c, max_size=n_c))
    channel = np.array(draw(st.lists(st.integers(0, len(CHANNELS) - 1), min_size=n_c,
                                     max_size=n_c)), np.int64)
    b_at = np.array([np.datetime64("NaT", "ns") if m is None else BASE + m * MINUTE
                     for m in b_min], dtype="datetime64[ns]")
    c_at = np.array([BASE + m * MINUTE for m in c_min], dtype="datetime64[ns]")
    return b_pid, b_at, c_pid, c_at, channel


@settings(max_examples=200, deadline=None)
@given(events())
def test_credit_goes_only_to_the_same_patients_latest_contact_sent_by_the_booking(data):
    b_pid, b_at, c_pid, c_at, channel = data
    credited = credited_contacts(b_pid, b_at, c_pid, c_at, channel)
    assert credited.shape == (len(b_pid),)
    for i, row in enumerate(credited):
        candidates = (c_pid == b_pid[i]) & (c_at <= b_at[i]) if not np.isnat(b_at[i]) else None
        if row < 0:
            # No credit only when nothing of this patient was sent by then (or no time).
            assert candidates is None or not candidates.any()
            continue
        assert candidates is not None
        assert c_pid[row] == b_pid[i]  # never another patient's contact
        assert c_at[row] <= b_at[i]  # never a contact sent after the booking
        assert c_at[row] == c_at[candidates].max()  # the latest one
        tied = candidates & (c_at == c_at[row])
        assert channel[row] == channel[tied].max()  # ties: the later channel
