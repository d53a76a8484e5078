"""Channel responsiveness and contact-policy columns, checked by hand."""

from __future__ import annotations

import math

import pytest

from features.config import FeatureConfig, Settings
from features.pipeline import channels

VISITS = [
    {"patient_id": "a", "visit_at": "2024-05-01"},
    # booked 3 days after the email of 06-05 (the latest contact before it)
    {"patient_id": "a", "visit_at": "2024-06-20", "booked_at": "2024-06-08"},
    # booked 20 days after b's last sms: outside the 14-day window
    {"patient_id": "b", "visit_at": "2024-06-25", "booked_at": "2024-06-21"},
    # booked after T: not known yet
    {"patient_id": "a", "visit_at": "2024-08-01", "booked_at": "2024-07-05"},
]
CONTACTS = [
    {"patient_id": "a", "channel": "sms", "sent_at": "2024-05-20", "responded_at": "2024-05-21"},
    {"patient_id": "a", "channel": "sms", "sent_at": "2024-06-01"},
    {"patient_id": "a", "channel": "email", "sent_at": "2024-06-05"},
    {"patient_id": "a", "channel": "sms", "sent_at": "2024-06-25",
     "responded_at": "2024-07-02", "opted_out": True},  # answered (opt-out) after T
    {"patient_id": "b", "channel": "sms", "sent_at": "2024-06-01", "responded_at": "2024-06-01"},
    {"patient_id": "b", "channel": "phone", "sent_at": "2024-06-10", "opted_out": True},
    {"patient_id": "b", "channel": "mail", "sent_at": "2024-07-10"},  # after T
]
AS_OF = "2024-06-30"


@pytest.fixture
def features(make_tables, settings):
    tables = make_tables(VISITS, contacts=CONTACTS, export_date="2024-07-31")
    return channels.build(tables, AS_OF, settings)


def test_counts_only_what_was_known_at_t(features):
    a = features.loc["a"]
    assert (a["sms_sent"], a["sms_responses"], a["email_sent"]) == (3, 1, 1)
    assert features.loc["b", "mail_sent"] == 0
    assert features.loc["a", "contacts_180d"] == 4


def test_booking_goes_to_the_latest_contact_within_the_window(features):
    assert features.loc["a", "email_bookings"] == 1
    assert features.loc["a", "sms_bookings"] == 0
    assert features.loc["b", "sms_bookings"] == 0


def test_recency_and_attempts_since_the_last_response(features):
    a = features.loc["a"]
    assert a["sms_days_since_last_contact"] == 5
    assert a["sms_days_since_last_response"] == 40
    assert a["sms_attempts_since_response"] == 2
    assert a["email_attempts_since_response"] == 1  # never answered: every attempt
    assert math.isnan(a["phone_days_since_last_contact"])
    assert a["days_since_last_contact"] == 5
    assert features.loc["b", "sms_attempts_since_response"] == 0


def test_response_rate_is_shrunk_toward_the_clinic_rate_of_the_channel(features, settings):
    k = settings.features.rate_prior_strength
    clinic_sms = 2 / 4
    assert features.loc["a", "sms_response_rate"] == pytest.approx((1 + k * clinic_sms) / (3 + k))
    assert features.loc["b", "sms_response_rate"] == pytest.approx((1 + k * clinic_sms) / (1 + k))
    assert features.loc["b", "email_response_rate"] == pytest.approx(0.0)  # clinic: 0 of 1
    assert math.isnan(features.loc["a", "mail_response_rate"])  # nobody got mail yet


def test_opt_out_counts_from_its_own_time(features):
    assert not features.loc["a", "opted_out_sms"]  # the opt-out reply came after T
    assert features.loc["b", "opted_out_phone"]  # no reply time: known when sent


def test_unknown_consent_means_no_sms_and_configurable_others(make_tables):
    tables = make_tables(
        [{"patient_id": p, "visit_at": "2024-01-01"} for p in ("a", "b")],
        patients=[{"patient_id": "a", "clinic_id": "k", "consent_sms": True,
                   "consent_email": False},
                  {"patient_id": "b", "clinic_id": "k"}],
    )
    f = channels.build(tables, "2024-02-01", Settings())
    assert f.loc["a", ["consent_sms", "consent_email", "consent_phone"]].tolist() == [
        True, False, True]
    assert f.loc["b", ["consent_sms", "consent_email", "consent_mail"]].tolist() == [
        False, True, True]
    strict = Settings(features=FeatureConfig(email_phone_mail_allowed_when_unknown=False))
    f = channels.build(tables, "2024-02-01", strict)
    assert f.loc["b", ["consent_email", "consent_phone", "consent_mail"]].tolist() == [
        False, False, False]


def test_without_a_contacts_table_channel_features_are_missing(make_tables, settings):
    f = channels.build(make_tables(VISITS), AS_OF, settings)
    assert f["sms_sent"].isna().all()
    assert not f["opted_out_email"].any()
    assert f["consent_email"].all()
