"""Campaign results on a hand-made campaign of a dozen patients (figures worked out by hand).

Costs: sms 0.05, email 0.01, phone 2.00 (P03's send says 3.00), mail 1.20.
"""

from __future__ import annotations

import json
import math

import pytest

from features.config import Settings
from tests.training import campaign_case as case
from training.campaign_results import campaign_results


@pytest.fixture(scope="module")
def results() -> dict:
    return campaign_results(case.members(), case.events(), case.visits(), Settings(), "C1",
                            segments=case.segments())


def _figures(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("channel", "segment", "attempt",
                                                      "versus_holdout")}


def test_overall_counts_only_contacted_treatment_patients_inside_the_window(results):
    # contacted P01-P06, P08 (P07 never sent); booked P01 P02 P06 P08 (P05 after the window);
    # kept P01 200, P02 300, P08 100 (posted and exported: once); P06 did not show.
    # cost .05 + .01*2 + 3 + .05 + (.05 + 1.2) + .01 + .05*2 = 4.48
    assert results["overall"] == pytest.approx({
        "contacted": 7, "delivered": 4, "responded": 2, "booked": 4, "attended": 3,
        "opted_out": 1, "conversion_rate": 4 / 7, "revenue": 600.0, "cost": 4.48,
        "cost_per_reactivation": 1.12, "roi": (600 - 4.48) / 4.48,
    })


def test_by_channel_groups_patients_by_the_channel_of_their_first_message(results):
    by = {item["channel"]: _figures(item) for item in results["by_channel"]}
    assert list(by) == ["sms", "email", "phone"]  # mail was never a first message
    assert by["sms"] == pytest.approx({  # P01 P04 P05 P08
        "contacted": 4, "delivered": 2, "responded": 1, "booked": 2, "attended": 2,
        "opted_out": 1, "conversion_rate": 0.5, "revenue": 300.0, "cost": 1.45,
        "cost_per_reactivation": 0.725, "roi": (300 - 1.45) / 1.45,
    })
    assert by["email"] == pytest.approx({  # P02 P06
        "contacted": 2, "delivered": 2, "responded": 1, "booked": 2, "attended": 1,
        "opted_out": 0, "conversion_rate": 1.0, "revenue": 300.0, "cost": 0.03,
        "cost_per_reactivation": 0.015, "roi": (300 - 0.03) / 0.03,
    })
    assert by["phone"] == pytest.approx({
        "contacted": 1, "delivered": 0, "responded": 0, "booked": 0, "attended": 0,
        "opted_out": 0, "conversion_rate": 0.0, "revenue": 0.0, "cost": 3.0,
        "cost_per_reactivation": None, "roi": -1.0,
    })


def test_by_attempt_credits_reactions_and_bookings_to_the_attempt_before_them(results):
    first, second = (_figures(item) for item in results["by_attempt"])
    assert [item["attempt"] for item in results["by_attempt"]] == [1, 2]
    # attempt 1: delivered P01 P02 P06, replied P01, opted out P04, booked P01 P06 (P06's
    # booking follows a C0 text, but C0 is not an attempt of C1); kept P01.
    assert first == pytest.approx({
        "contacted": 7, "delivered": 3, "responded": 1, "booked": 2, "attended": 1,
        "opted_out": 1, "conversion_rate": 2 / 7, "revenue": 200.0, "cost": 3.22,
        "cost_per_reactivation": 1.61, "roi": (200 - 3.22) / 3.22,
    })
    # attempt 2: P02 email, P05 mail, P08 sms; P08 delivered, P02 clicked; both booked, kept.
    assert second == pytest.approx({
        "contacted": 3, "delivered": 1, "responded": 1, "booked": 2, "attended": 2,
        "opted_out": 0, "conversion_rate": 2 / 3, "revenue": 400.0, "cost": 1.26,
        "cost_per_reactivation": 0.63, "roi": (400 - 1.26) / 1.26,
    })


def test_versus_holdout_compares_all_members_of_each_arm(results):
    lift = results["versus_holdout"]
    # treatment booked P01 P02 P06 P07 P08 of 8; holdout P09 P11 of 4 (P12 too late).
    assert lift["treatment"] == {"members": 8, "booked": 5, "booking_rate": 0.625}
    assert lift["holdout"] == {"members": 4, "booked": 2, "booking_rate": 0.5, "contacted": 0}
    assert lift["incremental_bookings"] == pytest.approx(5 - 0.5 * 8)
    assert lift["incremental_rate"] == pytest.approx(0.125)
    # revenue per member: treatment (200+300+150+100)/8 = 93.75, holdout 250/4 = 62.5
    assert lift["incremental_revenue"] == pytest.approx((93.75 - 62.5) * 8)
    assert lift["enough_data"] is False
    # z^2 (.625*.375/(2/3) + .5*.5/(1/3)) / .125^2 = 3.8415 * 1.1015625 / .015625 = 270.8
    assert lift["members_needed"] == 271


def test_the_rate_interval_is_newcombes_hybrid_score_interval(results):
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(5, 8, 2, 4, method="newcomb", compare="diff")
    lift = results["versus_holdout"]
    assert lift["incremental_rate_ci95"] == pytest.approx([low, high])
    assert lift["incremental_bookings_ci95"] == pytest.approx([8 * low, 8 * high], abs=1e-4)
    assert lift["incremental_rate_ci95"][0] < 0 < lift["incremental_rate_ci95"][1]


def test_revenue_interval_is_welchs_normal_interval(results):
    treat = [200, 300, 0, 0, 0, 0, 150, 100]
    hold = [250, 0, 0, 0]

    def var(x):
        mean = sum(x) / len(x)
        return sum((v - mean) ** 2 for v in x) / (len(x) - 1)

    se = math.sqrt(var(treat) / 8 + var(hold) / 4)
    d = 93.75 - 62.5
    assert results["versus_holdout"]["incremental_revenue_ci95"] == pytest.approx(
        [8 * (d - 1.959964 * se), 8 * (d + 1.959964 * se)], abs=0.01)


def test_by_segment_carries_its_own_holdout_comparison(results):
    by = {item["segment"]: item for item in results["by_segment"]}
    assert list(by) == ["lapsing", "dormant", "unknown"]  # vocabulary order, unknown last
    assert _figures(by["lapsing"]) == pytest.approx({  # P01-P04
        "contacted": 4, "delivered": 2, "responded": 2, "booked": 2, "attended": 2,
        "opted_out": 1, "conversion_rate": 0.5, "revenue": 500.0, "cost": 3.12,
        "cost_per_reactivation": 1.56, "roi": (500 - 3.12) / 3.12,
    })
    assert by["lapsing"]["versus_holdout"]["incremental_rate"] == pytest.approx(0.0)
    assert by["dormant"]["contacted"] == 2 and by["dormant"]["booked"] == 1
    assert by["dormant"]["versus_holdout"]["treatment"]["booked"] == 2  # P06, P07
    unknown = by["unknown"]["versus_holdout"]  # P08 alone, no holdout member
    assert unknown["holdout"]["members"] == 0
    assert unknown["incremental_rate"] is None and unknown["incremental_rate_ci95"] is None
    assert unknown["enough_data"] is False and unknown["members_needed"] is None


def test_attribution_credits_the_latest_contact_and_is_labelled(results):
    att = results["attribution"]
    assert att["label"] == "attribution"
    # credited: P01 (sms), P02 (2nd email), P05 (mail, 11 days before its booking), P08 (sms);
    # not P06 (the later C0 text gets the credit) nor P07 (never contacted).
    assert att["overall"] == pytest.approx({
        "contacted": 7, "booked": 4, "attended": 4, "conversion_rate": 4 / 7,
        "revenue": 680.0, "cost": 4.48, "cost_per_reactivation": 1.12,
        "roi": (680 - 4.48) / 4.48,
    })
    by = {item["channel"]: _figures(item) for item in att["by_channel"]}
    assert by["sms"] == pytest.approx({  # sent on sms: P01 P04 P05 P08
        "contacted": 4, "booked": 2, "attended": 2, "conversion_rate": 0.5, "revenue": 300.0,
        "cost": 0.25, "cost_per_reactivation": 0.125, "roi": (300 - 0.25) / 0.25,
    })
    assert by["mail"]["booked"] == 1 and by["mail"]["revenue"] == 80.0
    assert by["email"]["booked"] == 1 and by["phone"]["booked"] == 0


def test_the_answer_is_plain_json_without_nan(results):
    text = json.dumps(results, allow_nan=False)
    assert json.loads(text)["campaign_id"] == "C1"


def test_a_patient_listed_twice_in_a_campaign_is_refused():
    members = case.members()
    twice = members.iloc[[0, 0]].assign(patient_id=["P01", "P01"])
    import pandas as pd
    with pytest.raises(ValueError, match=r"campaign_members\.patient_id.*twice"):
        campaign_results(pd.concat([members, twice]), case.events(), case.visits(), Settings(),
                         "C1")


def test_an_unknown_campaign_is_refused_without_echoing_patients():
    with pytest.raises(ValueError, match="no member has campaign_id 'nope'"):
        campaign_results(case.members(), case.events(), case.visits(), Settings(), "nope")
