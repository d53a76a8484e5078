"""The default demo clinic stays within its documented, plausible rates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulator import Simulation
from features.simulator.rates import PLAUSIBLE_RANGES, campaign_frame, flat, marginal_rates


def test_marginal_rates_stay_in_their_documented_ranges(default_sim: Simulation) -> None:
    rates = flat(marginal_rates(default_sim))
    outside = {k: (rates[k], lo, hi) for k, (lo, hi) in PLAUSIBLE_RANGES.items()
               if not lo <= rates[k] <= hi}
    assert not outside


def test_campaigns_book_more_patients_than_their_holdouts(default_sim: Simulation) -> None:
    rates = marginal_rates(default_sim)
    lift = rates["campaign_booked_60d_contacted"] - rates["campaign_booked_60d_holdout"]
    assert 0.0 < lift < 0.15


def test_younger_patients_answer_texts_and_older_ones_calls(default_sim: Simulation) -> None:
    t = default_sim.tables
    age = (t.export_date - t.patients.set_index("patient_id")["birth_date"]).dt.days / 365.25
    c = t.contacts.assign(age=t.contacts["patient_id"].map(age),
                          responded=t.contacts["responded_at"].notna())
    young = c[c["age"] < 40].groupby("channel")["responded"].mean()
    old = c[c["age"] >= 55].groupby("channel")["responded"].mean()
    assert young["sms"] > old["sms"] and old["phone"] > young["phone"]


def test_sms_consent_is_the_rarest(default_sim: Simulation) -> None:
    p = default_sim.tables.patients
    share = {ch: p[f"consent_{ch}"].mean() for ch in ("sms", "email", "phone", "mail")}
    assert share["sms"] == min(share.values())
    assert p["consent_sms"].isna().any(), "some consents are unknown (empty cells)"


def test_holdout_patients_are_not_contacted_in_their_campaign(default_sim: Simulation) -> None:
    members = campaign_frame(default_sim)
    held = members[members["holdout"]]
    assert 0.1 < members["holdout"].mean() < 0.2
    sent = default_sim.tables.contacts[["patient_id", "campaign_id"]].drop_duplicates()
    assert held.merge(sent, on=["patient_id", "campaign_id"]).empty


def test_no_contact_on_a_channel_after_the_patient_opted_out_of_it(
    default_sim: Simulation,
) -> None:
    c = default_sim.tables.contacts
    first_out = c[c["opted_out"]].groupby(["patient_id", "channel"])["sent_at"].min()
    later = c.join(first_out.rename("out_at"), on=["patient_id", "channel"])
    assert first_out.size > 0
    assert not (later["sent_at"] > later["out_at"]).any()


def test_each_campaign_attempt_follows_the_previous_by_one_to_two_weeks(
    default_sim: Simulation,
) -> None:
    c = default_sim.tables.contacts.sort_values("sent_at")
    c = c.assign(day=c["sent_at"].dt.normalize())
    gaps = c.groupby(["patient_id", "campaign_id"])["day"].diff().dropna().dt.days
    assert gaps.between(7, 14).all()
    attempts = c.groupby(["patient_id", "campaign_id"]).size()
    assert attempts.max() <= 5 and (attempts >= 4).mean() > 0.3
    assert c.groupby(["patient_id", "campaign_id"])["channel"].nunique().max() > 1


def test_providers_leave_and_services_keep_their_cadence(default_sim: Simulation) -> None:
    v = default_sim.tables.visits
    done = v[v["status"] == "completed"].sort_values("visit_at")
    gap = done.groupby("patient_id")["visit_at"].diff().dt.days
    same = done["service"].eq(done.groupby("patient_id")["service"].shift())
    by_service = gap[same].groupby(done.loc[same, "service"])
    median = by_service.median()
    assert 90 <= median["botox"] <= 125 and 170 <= median["filler"] <= 260
    assert 150 <= median["skin_check"] <= 200
    series = by_service.apply(lambda g: (g <= 45).mean())
    assert series["laser"] > 0.15 and series["filler"] < 0.02  # laser comes in series
    last_seen = v.groupby("provider_id")["visit_at"].max()
    assert (last_seen < v["visit_at"].max() - pd.Timedelta(days=120)).any()
    assert np.isclose(v.loc[v["status"] == "scheduled", "revenue"].isna().mean(), 1.0)


def test_patients_who_miss_appointments_are_likelier_to_have_silently_left(
    default_sim: Simulation,
) -> None:
    v = default_sim.tables.visits
    resolved = v[v["status"] != "scheduled"]
    missed = resolved["status"].isin(["no_show", "cancelled"]).groupby(
        resolved["patient_id"]).agg(["mean", "size"])
    # patients seen often enough to show a habit
    missed = missed[missed["size"] >= 4]
    number = missed.index.str[1:].astype(int) - 1
    gone = ~default_sim.raw.engaged_end[number]
    unreliable = missed["mean"].to_numpy() > 0.2
    assert gone[unreliable].mean() > gone[~unreliable].mean() + 0.05
