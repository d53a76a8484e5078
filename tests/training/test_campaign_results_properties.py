"""Properties of campaign results on generated campaigns (hypothesis)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.config import Settings
from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES
from features.vocabulary import ARMS, CHANNELS, OUTCOME_TYPES, VISIT_STATUSES
from training.campaign_results import campaign_results

START = pd.Timestamp("2026-01-05 09:00")


@st.composite
def campaigns(draw):
    """Members, events (some of other campaigns and non-members) and visits."""
    n = draw(st.integers(1, 12))
    ids = [f"P{i}" for i in range(n)]
    members = pd.DataFrame({
        "campaign_id": "C1",
        "patient_id": ids,
        "assigned_at": [START + pd.Timedelta(hours=draw(st.integers(0, 48))) for _ in ids],
        "arm": [draw(st.sampled_from(ARMS)) for _ in ids],
        "channel": None,
    }).astype(CAMPAIGN_MEMBER_DTYPES)
    rows = draw(st.lists(st.tuples(
        st.sampled_from([*ids, "X"]), st.sampled_from(["C1", "C1", "C0", None]),
        st.sampled_from(CHANNELS), st.sampled_from(OUTCOME_TYPES), st.integers(-48, 24 * 30),
        st.one_of(st.none(), st.floats(0, 500)), st.one_of(st.none(), st.floats(0, 5)),
    ), max_size=60))
    events = pd.DataFrame(rows, columns=["patient_id", "campaign_id", "channel", "type", "hour",
                                         "revenue", "cost"])
    events["at"] = START + pd.to_timedelta(events["hour"], unit="h")
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    events["appointment_at"] = pd.NaT
    events = events[list(OUTCOME_EVENT_DTYPES)].astype(OUTCOME_EVENT_DTYPES)
    vrows = draw(st.lists(st.tuples(
        st.sampled_from(ids), st.integers(-24 * 20, 24 * 30), st.integers(0, 24 * 10),
        st.sampled_from(VISIT_STATUSES), st.floats(0, 500)), max_size=20))
    visits = pd.DataFrame(vrows, columns=["patient_id", "booked_h", "lead_h", "status",
                                          "revenue"])
    visits["booked_at"] = START + pd.to_timedelta(visits["booked_h"], unit="h")
    visits["visit_at"] = visits["booked_at"] + pd.to_timedelta(visits["lead_h"], unit="h")
    segments = pd.Series({p: draw(st.sampled_from(["lapsing", "dormant"])) for p in ids})
    return members, events, visits, segments


def _run(members, events, visits, segments):
    return campaign_results(members, events, visits, Settings(), "C1", segments=segments)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns())
def test_booked_never_exceeds_contacted_nor_contacted_the_treatment_arm(case):
    res = _run(*case)
    n_treat = res["versus_holdout"]["treatment"]["members"]
    for item in [res["overall"], *res["by_channel"], *res["by_segment"], *res["by_attempt"]]:
        assert item["attended"] <= item["booked"] <= item["contacted"] <= n_treat
        assert item["responded"] <= item["contacted"]
    lift = res["versus_holdout"]
    for arm in ("treatment", "holdout"):
        assert lift[arm]["booked"] <= lift[arm]["members"]
    assert res["overall"]["booked"] <= lift["treatment"]["booked"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns())
def test_channels_and_segments_add_up_to_the_overall_figures(case):
    res = _run(*case)
    overall = res["overall"]
    for key in ("contacted", "booked", "attended", "opted_out"):
        assert sum(i[key] for i in res["by_channel"]) == overall[key]
        assert sum(i[key] for i in res["by_segment"]) == overall[key]
    assert np.isclose(sum(i["cost"] for i in res["by_channel"]), overall["cost"], atol=0.02)
    if res["by_attempt"]:
        assert res["by_attempt"][0]["contacted"] == overall["contacted"]
        contacted = [i["contacted"] for i in res["by_attempt"]]
        assert contacted == sorted(contacted, reverse=True)
    json.dumps(res, allow_nan=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns(), st.randoms(use_true_random=False))
def test_shuffling_the_rows_of_every_frame_changes_nothing(case, rnd):
    members, events, visits, segments = case
    seed = rnd.randint(0, 2**31)

    def shuffled(frame):
        return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)

    assert _run(shuffled(members), shuffled(events), shuffled(visits), segments) == _run(*case)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns())
def test_the_rate_interval_contains_the_observed_difference(case):
    lift = _run(*case)["versus_holdout"]
    if lift["incremental_rate_ci95"] is not None:
        low, high = lift["incremental_rate_ci95"]
        assert -1 <= low <= lift["incremental_rate"] <= high <= 1
        assert lift["enough_data"] == (not low <= 0 <= high)
    else:
        assert lift["enough_data"] is False


def _coded(members, events, visits):
    """The frames with categorical columns, patients sharing one dictionary (in shuffled
    order, so codes never follow the ids' order) plus a patient no table holds."""
    ids = pd.unique(np.concatenate([t["patient_id"].to_numpy(object)
                                    for t in (members, events, visits)]))
    dictionary = pd.CategoricalDtype(pd.Index([*ids[::-1], "nobody"], dtype=object))
    out = []
    for table in (members, events, visits):
        table = table.assign(patient_id=table["patient_id"].astype(dictionary))
        for column in ("type", "channel", "campaign_id", "event_id", "arm", "status"):
            if column in table.columns:
                table[column] = table[column].astype("category")
        out.append(table)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(campaigns())
def test_categorical_frames_give_the_same_results_as_plain_ones(case):
    members, events, visits, segments = case
    plain = _run(members, events, visits, segments)
    coded_members, coded_events, coded_visits = _coded(members, events, visits)
    assert _run(coded_members, coded_events, coded_visits, segments) == plain
    # events coded with a dictionary of their own: joined on patient ids, not on codes
    events_alone = events.assign(patient_id=events["patient_id"].astype("category"))
    assert _run(coded_members, events_alone, coded_visits, segments) == plain
