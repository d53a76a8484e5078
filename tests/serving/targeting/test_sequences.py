"""The sequence planner and its re-planning from outcomes (plain functions, no HTTP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.config import SequenceConfig
from features.vocabulary import CHANNELS
from serving.targeting.sequences import (
    SequenceInputs,
    SequenceState,
    due_attempts,
    fatigue_model,
    plan_sequences,
    resting_until,
    sequence_state,
)

CONFIG = SequenceConfig()
COSTS = np.array([0.05, 0.01, 2.0, 1.2])
START = pd.Timestamp("2026-12-07")
C = len(CHANNELS)


def inputs(probabilities, permitted, value, recent=None) -> SequenceInputs:
    p = np.asarray(probabilities, dtype=float)
    return SequenceInputs(
        probabilities=p, permitted=np.asarray(permitted, bool),
        value=np.asarray(value, dtype=float),
        recent_contacts=np.zeros(len(p)) if recent is None else np.asarray(recent, float),
    )


def test_each_unanswered_attempt_moves_the_next_one_to_the_best_remaining_channel():
    # texts are the best first try, but each unanswered text halves their chance
    x = inputs([[0.10, 0.07, 0.09, 0.01]], [[True, True, True, False]], [400.0])
    plan = plan_sequences(x, START, COSTS, fatigue_model(0.5, 0.95), CONFIG, max_contacts=5)
    assert plan["channel"].tolist()[:3] == ["sms", "phone", "email"]
    assert plan["attempt"].tolist() == [1, 2, 3, 4, 5]


def test_a_channel_is_repeated_while_it_stays_the_best_but_a_second_one_is_always_tried():
    x = inputs([[0.20, 0.02, 0.0, 0.0]], [[True, True, False, False]], [300.0])
    plan = plan_sequences(x, START, COSTS, fatigue_model(0.9, 1.0), CONFIG, max_contacts=5)
    assert plan["channel"].tolist() == ["sms", "sms", "sms", "sms", "email"]


def test_a_phone_call_is_planned_only_when_its_expected_value_covers_its_cost():
    cheap_patient = inputs([[0.0, 0.0, 0.01, 0.0]], [[False, True, True, False]], [100.0])
    plan = plan_sequences(cheap_patient, START, COSTS, fatigue_model(0.7, 1.0), CONFIG, 5)
    assert "phone" not in set(plan["channel"])  # 0.01 x 100 = 1 < 2 a call
    valuable = inputs([[0.0, 0.0, 0.05, 0.0]], [[False, True, True, False]], [900.0])
    plan = plan_sequences(valuable, START, COSTS, fatigue_model(0.7, 1.0), CONFIG, 5)
    assert plan["channel"].iloc[0] == "phone"


def test_the_contact_cap_counts_contacts_already_made_in_the_window():
    x = inputs([[0.1, 0.1, 0.1, 0.1]], [[True] * C], [500.0], recent=[3])
    plan = plan_sequences(x, START, COSTS, fatigue_model(0.5, 0.9), CONFIG, max_contacts=5)
    assert len(plan) == 2


def test_attempts_follow_the_configured_spacing():
    x = inputs([[0.1, 0.1, 0.1, 0.1]], [[True] * C], [500.0])
    plan = plan_sequences(x, START, COSTS, fatigue_model(0.5, 0.9), CONFIG, max_contacts=5)
    gaps = np.diff(plan["send_on"].to_numpy()).astype("m8[D]").astype(int).tolist()
    assert plan["send_on"].iloc[0] == np.datetime64("2026-12-07")
    assert gaps == [7, 9, 12, 14]


def _events(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["patient_id", "campaign_id", "channel", "type", "at"]
                        ).assign(at=lambda f: pd.to_datetime(f["at"]))


MEMBERS = pd.DataFrame({"patient_id": ["a", "b"],
                        "assigned_at": pd.to_datetime(["2026-12-07", "2026-12-07"])})
TWO = inputs([[0.10, 0.08, 0.09, 0.02]] * 2, [[True, True, True, True]] * 2, [500.0, 500.0])


def test_a_booking_ends_the_sequence_and_an_unanswered_send_moves_the_next_attempt():
    ev = _events([("a", "c1", "sms", "sent", "2026-12-07 10:00"),
                  ("b", "c1", "sms", "sent", "2026-12-07 10:00"),
                  ("b", None, None, "booked", "2026-12-09 12:00")])
    state = sequence_state(MEMBERS, ev, "c1")
    model = fatigue_model(0.5, 0.95)
    due = due_attempts(TWO, state, START, pd.Timestamp("2026-12-14"), COSTS, model, CONFIG, 5)
    assert due[["member", "attempt", "channel"]].values.tolist() == [[0, 2, "phone"]]
    assert due_attempts(TWO, state, START, pd.Timestamp("2026-12-13"), COSTS, model,
                        CONFIG, 5).empty


def test_a_reply_without_booking_moves_the_next_attempt_to_a_call_and_opt_outs_hold():
    ev = _events([("a", "c1", "email", "sent", "2026-12-07 10:00"),
                  ("a", "c1", "email", "replied", "2026-12-08 09:00"),
                  ("b", "c1", "sms", "sent", "2026-12-07 10:00"),
                  ("b", "c1", "sms", "opted_out", "2026-12-07 11:00")])
    state = sequence_state(MEMBERS, ev, "c1")
    model = fatigue_model(0.5, 0.95)
    due = due_attempts(TWO, state, START, pd.Timestamp("2026-12-20"), COSTS, model, CONFIG, 5)
    by_member = dict(zip(due["member"], due["channel"], strict=True))
    assert by_member[0] == "phone"
    assert by_member[1] != "sms"


def test_a_finished_sequence_without_a_booking_rests_the_patient():
    state = SequenceState.fresh(2)
    state.sent[:] = [5, 2]
    state.last_sent[:] = np.datetime64("2027-01-20")
    until = resting_until(TWO, state, CONFIG, 5)
    assert until[0] == np.datetime64("2027-01-20") + np.timedelta64(CONFIG.rest_days, "D")
    assert np.isnat(until[1])


patients = st.integers(1, 12)


@st.composite
def worlds(draw):
    n = draw(patients)
    probs = np.array(draw(st.lists(st.lists(st.one_of(st.floats(0, 0.5), st.just(np.nan)),
                                            min_size=C, max_size=C), min_size=n, max_size=n)))
    permitted = np.array(draw(st.lists(st.lists(st.booleans(), min_size=C, max_size=C),
                                       min_size=n, max_size=n)))
    value = np.array(draw(st.lists(st.floats(0, 2000), min_size=n, max_size=n)))
    recent = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    same, other = draw(st.floats(0.1, 1.0)), draw(st.floats(0.5, 1.0))
    return inputs(probs, permitted, value, recent), fatigue_model(same, other)


@settings(max_examples=80, deadline=None)
@given(worlds())
def test_every_planned_attempt_respects_permissions_spacing_cap_and_phone_cost(world):
    x, model = world
    plan = plan_sequences(x, START, COSTS, model, CONFIG, max_contacts=5)
    code = pd.Index(CHANNELS).get_indexer(plan["channel"])
    assert x.permitted[plan["member"], code].all()
    per_member = plan.groupby("member")
    assert (per_member.size() <= np.clip(5 - x.recent_contacts, 0, 5)[per_member.size().index]).all()
    for _, attempts in per_member:
        gaps = np.diff(attempts["send_on"].to_numpy()).astype("m8[D]").astype(int)
        assert ((gaps >= CONFIG.min_gap_days) & (gaps <= CONFIG.max_gap_days)).all()
    cheap = x.permitted[:, [0, 1, 3]].sum(axis=1)
    for member, attempts in per_member:
        if cheap[member] >= 2 and len(attempts) >= 2:
            assert attempts["channel"].nunique() >= 2
    phone = plan["channel"].eq("phone").to_numpy()
    m = plan["member"].to_numpy()[phone]
    first_call_worth = np.nan_to_num(x.probabilities[m, 2]) * x.value[m] - COSTS[2]
    assert (first_call_worth >= -1e-9).all()


@settings(max_examples=60, deadline=None)
@given(worlds(), st.lists(st.tuples(st.integers(0, 11), st.sampled_from(CHANNELS),
                                    st.sampled_from(["sent", "replied", "opted_out", "booked"]),
                                    st.integers(0, 40)), max_size=25))
def test_no_attempt_is_due_after_a_booking_or_on_an_opted_out_channel(world, stream):
    x, model = world
    n = len(x)
    members = pd.DataFrame({"patient_id": [f"p{i}" for i in range(n)],
                            "assigned_at": pd.Timestamp(START)})
    rows = [(f"p{i % n}", "c1", ch, kind, START + pd.Timedelta(days=d, hours=9))
            for i, ch, kind, d in stream]
    ev = _events(rows)
    state = sequence_state(members, ev, "c1")
    on = START + pd.Timedelta(days=60)
    due = due_attempts(x, state, START, on, COSTS, model, CONFIG, 5)
    code = pd.Index(CHANNELS).get_indexer(due["channel"])
    assert not state.booked[due["member"]].any()
    assert not state.opted_out[due["member"], code].any()
    assert x.permitted[due["member"], code].all()
    assert (state.sent[due["member"]] < 5).all()
