"""Two rules of the reasons (issue 12): no filler, and no contradiction with the group.

* A reason is shown only when it moves the log-odds of the explained score by at least
  ``serving.reason_min_effect`` (measured before: "registered 9 years ago" and "aged 71"
  filled the third slot with contributions of 0.01-0.1).
* A patient's group and first reason never contradict each other: the first reason points
  the way of the group (``serving.targeting.kinds.DIRECTIONS``), and the report's group
  words are calendar facts, never "a little overdue" beside "not due for another 8 days".

Hand-made cases, a property over random contributions, and a property over every listed
patient of a trained small model (the serving world) under each ordering.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.targeting.kinds import DIRECTIONS, KINDS
from serving.targeting.reasons import top_reasons, topic_members
from training.bundle import RETURN_BASIS, UPLIFT_BASIS

FEATURES = ["age_years", "days_since_registration", "visits_12m", "days_overdue",
            "overdue_ratio", "days_since_last_visit", "sms_sent", "sms_responses"]
CTX = pd.DataFrame({"age_years": [71.0], "days_since_registration": [3300.0],
                    "visits_12m": [3.0], "days_overdue": [-8.0], "overdue_ratio": [0.95],
                    "days_since_last_visit": [158.0], "last_service": ["laser"],
                    "expected_interval_days": [166.0], "sms_sent": [3.0],
                    "sms_responses": [2.0]})


def _reasons(c: list[float], min_effect: float = 0.15, direction: int = 1,
             basis: str = RETURN_BASIS) -> list[dict]:
    return top_reasons(np.array([c]), FEATURES, CTX, 3, min_effect, direction, basis)[0]


def test_filler_under_the_set_effect_is_never_a_reason() -> None:
    reasons = _reasons([0.03, 0.11, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert [r["text"] for r in reasons] == ["3 visits in the last 12 months"]
    lowered = _reasons([0.03, 0.11, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0], min_effect=0.1)
    assert [r["feature"] for r in lowered] == ["visits_12m", "days_since_registration"]
    assert lowered[1]["text"] == "registered 9 years ago"


def test_a_topic_counts_its_pieces_together_and_speaks_once() -> None:
    # three timing pieces of 0.1 each: none is a reason alone, together they are (0.3)
    reasons = _reasons([0.0, 0.0, 0.0, 0.1, 0.08, 0.12, 0.1, 0.1])
    assert [r["feature"] for r in reasons] == ["days_since_last_visit", "sms_sent"]
    assert reasons[0]["contribution"] == pytest.approx(0.3)
    assert reasons[1]["text"] == "answered 2 of 3 texts"
    assert reasons[1]["contribution"] == pytest.approx(0.2)


def test_a_row_with_only_reasons_against_its_group_shows_none() -> None:
    c = [0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.3]
    assert [r["feature"] for r in _reasons(c, direction=-1)] == ["visits_12m", "sms_responses"]
    assert [r["feature"] for r in _reasons(c, direction=1)] == ["sms_responses", "visits_12m"]
    assert _reasons([0.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0], direction=1) == []


def test_explaining_the_uplift_not_due_yet_says_the_visit_comes_forward() -> None:
    c = [0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.0]
    uplift = _reasons(c, basis=UPLIFT_BASIS)[0]["text"]
    assert uplift == "not due for another 8 days, but a message now can bring the visit forward"
    assert _reasons(c)[0]["text"] == "not due for another 8 days"


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(-2, 2, allow_nan=False), min_size=len(FEATURES) * 3,
                    max_size=len(FEATURES) * 3),
    directions=st.lists(st.sampled_from([-1, 1]), min_size=3, max_size=3),
    min_effect=st.floats(0.0, 1.0),
    k=st.integers(1, 5),
)
def test_property_reasons_are_strong_enough_and_headed_the_groups_way(
    values: list[float], directions: list[int], min_effect: float, k: int
) -> None:
    c = np.array(values).reshape(3, len(FEATURES))
    ctx = pd.concat([CTX] * 3, ignore_index=True)
    found = top_reasons(c, FEATURES, ctx, k, min_effect, np.array(directions))
    for row, (reasons, way) in enumerate(zip(found, directions, strict=True)):
        assert len(reasons) <= k
        assert all(abs(r["contribution"]) >= min_effect and r["contribution"] != 0
                   for r in reasons)
        if reasons:
            assert np.sign(reasons[0]["contribution"]) == way
        texts = [r["text"] for r in reasons]
        assert len(texts) == len(set(texts))
        for r in reasons:  # each reason carries its topic's whole contribution
            members = [FEATURES.index(f) for f in topic_members(r["feature"], FEATURES)]
            assert r["contribution"] == pytest.approx(c[row, members].sum())


ORDERINGS = [None, "probability", "expected_value", "uplift", "incremental_value"]


@pytest.fixture(scope="module")
def served(world):
    from serving.api.state import ServingState
    from tests.serving.conftest import world_settings

    state = ServingState(world_settings(world.models_dir).model_copy(update={
        "serving": world_settings(world.models_dir).serving.model_copy(
            update={"precompute_explanations": 0})}))
    state.refresh()
    yield state.current, state.settings
    state.stop()


@pytest.mark.parametrize("rank_by", ORDERINGS)
def test_property_every_listed_patient_of_a_trained_model_keeps_both_rules(
    served, rank_by: str | None
) -> None:
    from serving.api import handlers
    from serving.api.models import RankRequest

    current, config = served
    min_effect = config.serving.reason_min_effect
    checked = 0
    for clinic_id in sorted(current.index.clinics):
        request = RankRequest(clinic_id=clinic_id, limit=5000, rank_by=rank_by, max_reasons=10)
        ordering = handlers.ordering(current, request)[0]
        selection = handlers.select(current, request)
        store = current.explanations_for(ordering)
        records = handlers.build_records(current, selection, config, True, 10, ordering)
        raw = store.contributions(selection.rows)
        position = {f: j for j, f in enumerate(store.features)}
        for record, contrib in zip(records, raw, strict=True):
            assert record.patient_kind in (*KINDS, None)
            reasons = record.reasons
            assert all(abs(r.contribution) >= min_effect for r in reasons)
            if reasons:  # the first reason points the way of the patient's group
                way = DIRECTIONS[store.basis][record.patient_kind]
                assert np.sign(reasons[0].contribution) == way, (record.patient_kind, reasons)
            for r in reasons:  # and is the model's own SHAP, its topic summed
                members = [position[f] for f in topic_members(r.feature, store.features)]
                assert r.contribution == pytest.approx(contrib[members].sum(), abs=1e-6)
            checked += 1
    assert checked > 100
    if rank_by in ("uplift", "incremental_value") and current.bundle.explains_uplift:
        assert store.basis == UPLIFT_BASIS


def test_the_report_never_puts_an_overdue_group_beside_a_not_due_reason(world) -> None:
    from serving.monitoring.report import assemble, render
    from serving.monitoring.report.tables import segment_words
    from tests.serving.conftest import world_settings
    from training.registry import load_champion

    config = world_settings(world.models_dir)
    bundle, version = load_champion(config)
    data = assemble(world.snapshot, bundle, config, str(world.as_of.date()), None, version)
    assert not any("overdue" in words for words in segment_words(config).values())
    page = render(data)
    assert "a little overdue" not in page
    for r in data.contacts.itertuples(index=False):
        group = f"{r.kind or ''} {r.segment_words}"
        first = r.reasons.split("; ")[0]
        assert not ("overdue" in group and first.startswith("not due"))
        assert not ("not due" in group and "overdue" in first)
