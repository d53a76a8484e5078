"""Reasons in words: hand-made contributions and values with hand-written sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.spec import MODEL_FEATURES
from serving.targeting import wording
from serving.targeting.reasons import PHRASES, phrase_feature, top_reasons


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (1, "1 day"),
        (10, "10 days"),
        (21, "3 weeks"),
        (240, "8 months"),
        (730, "2 years"),
        (912, "2.5 years"),
    ],
)
def test_durations_use_the_unit_people_use(days: float, text: str) -> None:
    assert wording.duration(pd.Series([days])).iloc[0] == text


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (7, "every week"),
        (45, "every 6-7 weeks"),
        (91, "every 3 months"),
        (105, "every 3-4 months"),
        (365.25, "every 12 months"),
        (1095, "every 3 years"),
    ],
)
def test_intervals_read_as_every_so_often(days: float, text: str) -> None:
    assert wording.every(pd.Series([days])).iloc[0] == text


def test_the_issue_examples_come_out_word_for_word() -> None:
    ctx = pd.DataFrame(
        {
            "days_since_last_visit": [243.0],
            "last_service": ["botox"],
            "expected_interval_days": [105.0],
            "sms_sent": [3.0],
            "sms_responses": [2.0],
        }
    )
    assert phrase_feature("days_since_last_visit", ctx).iloc[0] == (
        "8 months since the last botox; usually returns every 3-4 months"
    )
    assert phrase_feature("sms_responses", ctx).iloc[0] == "answered 2 of 3 texts"


def test_every_model_feature_has_a_dedicated_sentence() -> None:
    assert set(MODEL_FEATURES) <= set(PHRASES)


def test_missing_values_never_leak_as_nan_into_sentences() -> None:
    ctx = pd.DataFrame({f: [np.nan] for f in MODEL_FEATURES})
    texts = [phrase_feature(f, ctx).iloc[0] for f in MODEL_FEATURES]
    assert not [t for t in texts if "nan" in t.lower() or "none" in t.lower()]


def test_unknown_features_fall_back_to_the_feature_meaning() -> None:
    ctx = pd.DataFrame({"segment_cadence": ["lapsing"], "mystery": [3]})
    assert phrase_feature("segment_cadence", ctx).iloc[0].startswith("inactivity segment by")
    assert phrase_feature("mystery", ctx).iloc[0] == "mystery: 3"


def test_raising_reasons_come_first_then_lowering_ones_and_zeros_never() -> None:
    features = ["visits_12m", "noshow_count", "revenue_12m", "sms_responses"]
    ctx = pd.DataFrame(
        {
            "visits_12m": [4, 1],
            "noshow_count": [2, 0],
            "revenue_12m": [1250.0, 0.0],
            "sms_sent": [0, 3],
            "sms_responses": [0, 2],
        }
    )
    contributions = np.array([[0.2, -0.9, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
    first, second = top_reasons(contributions, features, ctx, max_reasons=3)
    assert [r["feature"] for r in first] == ["revenue_12m", "visits_12m", "noshow_count"]
    assert [r["text"] for r in first] == [
        "spent 1,250 in the last 12 months",
        "4 visits in the last 12 months",
        "missed 2 appointments",
    ]
    assert first[0]["value"] == 1250.0 and isinstance(first[0]["value"], float)
    assert second == []


def test_the_same_sentence_is_not_repeated_for_one_patient() -> None:
    features = ["sms_sent", "sms_responses", "sms_response_rate", "visits_6m"]
    ctx = pd.DataFrame(
        {"sms_sent": [3], "sms_responses": [2], "sms_response_rate": [0.6], "visits_6m": [1]}
    )
    reasons = top_reasons(np.array([[0.3, 0.2, 0.1, 0.05]]), features, ctx, max_reasons=2)[0]
    assert [r["text"] for r in reasons] == ["answered 2 of 3 texts", "1 visit in the last 6 months"]


def test_one_reason_per_topic_so_timing_is_not_said_twice() -> None:
    import numpy as np
    import pandas as pd

    from serving.targeting.reasons import top_reasons

    features = ["days_overdue", "overdue_ratio", "days_since_last_visit", "visits_12m"]
    ctx = pd.DataFrame(
        {
            "days_overdue": [-8.0],
            "overdue_ratio": [0.95],
            "days_since_last_visit": [158.0],
            "visits_12m": [3.0],
            "last_service": ["laser"],
            "expected_interval_days": [166.0],
        }
    )
    reasons = top_reasons(np.array([[2.3, 0.3, 1.3, 0.2]]), features, ctx, max_reasons=3)[0]
    assert [r["feature"] for r in reasons] == ["days_overdue", "visits_12m"]
