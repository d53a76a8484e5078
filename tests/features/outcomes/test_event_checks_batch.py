"""The batch checks give exactly the per-event answer: same refusals, values and hashes.

``check_events`` reads a batch column by column; ``scalar_checks`` is the original
one-event-at-a-time code. Generated batches mix valid events with every kind of bad or odd
value (blanks, case, numbers as ids, offsets, impossible dates, future times, negative or
non-numeric money, unknown fields, non-objects), so each rule and the order in which the
rules are tried are compared on many events at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.config import Settings
from features.outcomes.events import check_events
from tests.features.outcomes.scalar_checks import scalar_check_events

NOW = pd.Timestamp("2024-06-01 12:00")
PATIENTS = pd.Index(["p1", "p2", "p3", "17"])
CAMPAIGNS = {"c1", "spring"}

TIME_TEXTS = [
    "2024-03-01T10:00:00", "2024-03-01 10:00", "2024-03-01", " 2024-03-01T10:00:00.5 ",
    "2024-03-01T10:00:00.123456", "2024-03-01T10:00:00+01:00", "2024-03-01T10:00:00Z",
    "2024-06-01T12:04:59", "2024-06-01T12:05:01", "2024-06-01T16:00:00+02:00",
    "2024-06-01T09:59:00-01:00", "2024-02-30T10:00:00", "2024-13-01", "yesterday-ish",
    "2024-03", "20240301T100000", "2024-03-01T10:00:00+0100", "0999-01-01T00:00:00", "",
    "  ", "2024-10-27T02:30:00", "2024-03-31T02:30:00+00:00", "2024-03-01T24:00:00",
]
TIMES = st.sampled_from(TIME_TEXTS)
TEXTS = st.sampled_from(["p1", " p2 ", "p9", "", " ", "P1", "17", "x" * 201])
MONEY = st.one_of(
    st.none(), st.sampled_from([0, 12, 12.5, -1, -0.0, "3.5", " 4 ", "lots", "", "nan", "inf",
                                True, 1e308]),
    st.floats(min_value=-10, max_value=1e6, allow_nan=False),
)
VALUES = {
    "event_id": st.one_of(st.none(), TEXTS, st.integers(0, 30), st.sampled_from([17.0, 2.5])),
    "patient_id": st.one_of(st.none(), TEXTS, st.sampled_from([17, 17.0, True])),
    "campaign_id": st.one_of(st.none(), st.sampled_from(["c1", " spring ", "other", "", 5])),
    "channel": st.one_of(st.none(), st.sampled_from(["sms", "SMS ", "Email", "pigeon", "", 3])),
    "type": st.one_of(st.none(), st.sampled_from(
        ["sent", "Booked", " opted_out", "attended", "cancelled", "waved", "", 1])),
    "at": st.one_of(st.none(), TIMES, st.just(7)),
    "appointment_at": st.one_of(st.none(), TIMES),
    "revenue": MONEY,
    "cost": MONEY,
    "colour": st.one_of(st.none(), st.sampled_from(["red", "", [1]])),
}


@st.composite
def events(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([None, "sent", 3, ["a"]]))
    names = draw(st.lists(st.sampled_from(list(VALUES)), unique=True, min_size=2))
    event = {"event_id": f"e{draw(st.integers(0, 9))}", "patient_id": "p1", "type": "sent",
             "channel": "sms", "at": "2024-03-01T10:00:00"}
    for name in names:
        event[name] = draw(VALUES[name])
    if draw(st.booleans()):
        event = {k: v for k, v in event.items() if v is not None}
    return event


def same_answer(batch: list, zone: str | None) -> None:
    config = Settings(outcomes={"clinic_timezone": zone})
    fast = check_events(batch, PATIENTS, CAMPAIGNS, config, now=NOW)
    slow = scalar_check_events(batch, PATIENTS, CAMPAIGNS, config, now=NOW)
    assert fast.rejected == slow.rejected
    pd.testing.assert_frame_equal(fast.events.reset_index(drop=True),
                                  slow.events.reset_index(drop=True), check_dtype=True)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=40), st.sampled_from(["Europe/Paris", None]))
def test_batch_checks_match_the_per_event_checks(batch: list, zone: str | None) -> None:
    same_answer(batch, zone)


# A handful of values per field, good and bad, for the pairwise batch.
POOLS: dict[str, list] = {
    "event_id": [None, " ", "e1", 17.0, "x" * 201],
    "patient_id": [None, "p1", " p2 ", "p9", 17],
    "campaign_id": [None, "c1", "other", ""],
    "channel": [None, "SMS ", "pigeon", 3],
    "type": [None, "Booked", "sent", "waved"],
    "at": [None, 7, *TIME_TEXTS],
    "appointment_at": [None, "2024-02-30T10:00:00", "yesterday-ish", "2024-03-01T10:00:00Z",
                       "2024-03-01"],
    "revenue": [None, -1, "lots", "nan", 12.5],
    "cost": [None, "-2", [1], "inf", 0],
    "colour": [None, "red", ""],
}


@pytest.mark.parametrize("zone", ["Europe/Paris", None])
def test_every_pair_of_field_values_matches(zone: str | None) -> None:
    """Each pair of fields set to each pair of pool values: the order of the rules shows."""
    base = {"event_id": "e0", "patient_id": "p1", "type": "sent", "channel": "sms",
            "at": "2024-03-01T10:00:00"}
    names = list(POOLS)
    batch: list = [None, "sent", ["a"]]
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            for a in POOLS[first]:
                for b in POOLS[second]:
                    batch.append({**base, first: a, second: b})
    same_answer(batch, zone)
    # the same with text and nulls only (the columns a JSON client usually sends)
    texts = [e for e in batch if isinstance(e, dict)
             and all(v is None or isinstance(v, str) for v in e.values())]
    same_answer(texts, zone)


def test_a_large_mixed_batch_matches_event_for_event() -> None:
    rng = np.random.default_rng(3)
    kinds = np.array(["sent", "booked", "attended", "opted_out", "delivered", "x"], dtype=object)
    batch = []
    for i in range(3000):
        kind = kinds[rng.integers(0, len(kinds))]
        event = {"event_id": f"e{i}", "patient_id": f"p{rng.integers(1, 5)}", "type": kind,
                 "at": f"2024-0{rng.integers(1, 7)}-{rng.integers(10, 29)}T"
                       f"{rng.integers(10, 23)}:{rng.integers(10, 59)}:00"}
        if kind != "booked":
            event["channel"] = ["sms", "email", "mail", None][rng.integers(0, 4)]
        if kind == "attended":
            event["revenue"] = float(rng.integers(-5, 300))
        if kind == "booked":
            event["appointment_at"] = "2024-07-01T09:00:00+02:00"
        batch.append(event)
    same_answer(batch, "Europe/Paris")
    same_answer(batch, None)


@pytest.mark.parametrize("values", [
    {"cost": [1, None, "2"]},  # a file of text and numbers
    {"at": [pd.Timestamp("2024-03-01 10:00"), pd.Timestamp("2024-03-01 11:00", tz="UTC"),
            None]},
])
def test_a_file_frame_matches_event_for_event(values: dict) -> None:
    frame = pd.DataFrame({"event_id": ["a", "b", "c"], "patient_id": ["p1", "p2", "p3"],
                          "type": ["sent"] * 3, "channel": ["sms"] * 3,
                          "at": ["2024-03-01T10:00:00"] * 3, "extra": [None, "x", None]})
    for name, column in values.items():
        frame[name] = pd.Series(column, dtype=object)
    same_answer(frame, "Europe/Paris")
