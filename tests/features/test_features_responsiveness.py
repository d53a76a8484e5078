"""Responsiveness pooled over channels: hand-computed shares, behaviour, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from features.config import Settings
from features.pipeline import responsiveness
from features.vocabulary import CHANNELS
from tests.features.test_features_properties import (
    BASE,
    PROPERTY_SETTINGS,
    contact_rows,
    exports,
    later_visits,
    tables_of,
)

SETTINGS = Settings()


def _values(sent: dict[str, list[float]], resp: dict[str, list[float]],
            age: list[float]) -> dict[str, np.ndarray]:
    n = len(age)
    out = {"age_years": np.asarray(age, float)}
    for ch in CHANNELS:
        out[f"{ch}_sent"] = np.asarray(sent.get(ch, [0] * n), float)
        out[f"{ch}_responses"] = np.asarray(resp.get(ch, [0] * n), float)
    return out


def test_pooled_shares_match_the_hand_computed_empirical_bayes():
    # One clinic, everyone 40: texts 2/4 answered, calls 2/4, so each expected share is 0.5,
    # E = 1 for everyone, R = 2, 0, 2, 0, binomial variance 0.5 each. Method of moments:
    # 1/a = sum((R - E)^2 - V) / sum(E^2) = (4 x 0.5) / 4 -> a = 2.
    values = _values({"sms": [2, 2, 0, 0], "phone": [0, 0, 2, 2]},
                     {"sms": [2, 0, 0, 0], "phone": [0, 0, 2, 0]}, [40, 40, 40, 40])
    out = responsiveness.columns(values, np.zeros(4, np.int64), SETTINGS)
    np.testing.assert_allclose(out["responsiveness"], [4 / 3, 2 / 3, 4 / 3, 2 / 3])
    k = SETTINGS.features.rate_prior_strength
    # patient 1: own texts (2 of 2) pulled toward 0.5 x 4/3; never phoned: the pooled rate
    assert out["sms_response_pooled"][0] == pytest.approx((2 + k * 0.5 * 4 / 3) / (2 + k))
    assert out["phone_response_pooled"][0] == pytest.approx(0.5 * 4 / 3)
    assert out["phone_response_pooled"][1] == pytest.approx(0.5 * 2 / 3)
    assert np.isnan(out["email_response_pooled"]).all()  # nobody was ever emailed


def test_answering_texts_raises_the_expected_chance_of_answering_a_call():
    sent = {"sms": [3, 3] + [2] * 20, "phone": [0, 0] + [2] * 20}
    resp = {"sms": [3, 0] + [1] * 20, "phone": [0, 0] + [1, 0] * 10}
    out = responsiveness.columns(_values(sent, resp, [50] * 22), np.zeros(22, np.int64),
                                 SETTINGS)
    assert out["phone_response_pooled"][0] > out["phone_response_pooled"][1]
    assert out["responsiveness"][0] > 1 > out["responsiveness"][1]


def test_the_age_band_sets_the_expected_share_of_someone_never_contacted():
    # the young answer texts (8 of 10), the old do not (1 of 10): a new patient of each age
    # starts from their own band's share, pulled toward the clinic's 45 %
    sent = {"sms": [10, 10, 0, 0]}
    resp = {"sms": [8, 1, 0, 0]}
    out = responsiveness.columns(_values(sent, resp, [25, 70, 25, 70]), np.zeros(4, np.int64),
                                 SETTINGS)
    m = SETTINGS.features.responsiveness_band_strength
    assert out["responsiveness"][2] == out["responsiveness"][3] == 1.0
    assert out["sms_response_pooled"][2] == pytest.approx((8 + m * 0.45) / (10 + m))
    assert out["sms_response_pooled"][3] == pytest.approx((1 + m * 0.45) / (10 + m))


def test_without_a_contacts_table_every_column_is_missing(make_tables, settings):
    tables = make_tables([{"patient_id": "a", "visit_at": "2024-01-05"}])
    frame = responsiveness.build(tables, "2024-06-01", settings)
    assert list(frame.columns) == ["responsiveness",
                                   *(f"{ch}_response_pooled" for ch in CHANNELS)]
    assert frame.isna().all().all()


@given(data=st.data(), export=exports())
@PROPERTY_SETTINGS
def test_contacts_and_responses_at_or_after_the_cutoff_change_nothing(data, export):
    tables, as_of, visits, contacts = export
    end = as_of + pd.Timedelta(days=1)  # the cutoff: midnight after day T
    day = (as_of - BASE).days + 1
    with_revenue = "revenue" in tables.provided_columns["visits"]
    more_contacts = data.draw(contact_rows((day, day + 200)))
    if more_contacts and data.draw(st.booleans()):
        more_contacts[0] = {**more_contacts[0], "sent_at": end}  # exactly at the cutoff
    answered_later = []
    for row in contacts:
        row = dict(row)
        if row["responded_at"] is None and data.draw(st.booleans()):
            row["responded_at"] = end + pd.Timedelta(hours=data.draw(st.integers(0, 100)))
        answered_later.append(row)
    later = tables_of(visits + later_visits(data.draw, as_of, with_revenue),
                      answered_later + more_contacts, tables.patients["clinic_id"].tolist(),
                      with_revenue)
    assert_frame_equal(responsiveness.build(tables, as_of, SETTINGS),
                       responsiveness.build(later, as_of, SETTINGS))
