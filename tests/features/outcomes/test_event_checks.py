"""The event checks shared by POST /outcomes and `reactivate outcomes import`."""

from __future__ import annotations

import pandas as pd
import pytest

from features.outcomes.events import check_events
from tests.features.outcomes.conftest import PATIENTS, sent

NOW = pd.Timestamp("2024-06-01 12:00")


def reasons(events: list[dict], settings, campaigns: set[str] | None = None) -> list[tuple]:
    checked = check_events(events, PATIENTS, campaigns or set(), settings, now=NOW)
    return [(r["index"], r["field"], r["reason"]) for r in checked.rejected]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"type": "waved"}, "type", "one of sent, delivered, failed, opened, clicked, replied, "
         "opted_out, booked, attended, cancelled, no_show"),
        ({"channel": None}, "channel", "required for contact events"),
        ({"channel": "pigeon"}, "channel", "one of sms, email, phone, mail"),
        ({"at": None}, "at", "required"),
        ({"at": "yesterday-ish"}, "at",
         "ISO 8601 timestamp (with offset, or naive = clinic local time)"),
        ({"at": "2024-06-01T12:06:00"}, "at", "later than the service clock plus the allowed skew"),
        ({"cost": -1}, "cost", "cost >= 0"),
        ({"revenue": "lots"}, "revenue", "number"),
        ({"event_id": " "}, "event_id", "required"),
        ({"patient_id": None}, "patient_id", "required"),
        ({"colour": "red"}, "colour", "not a field of outcome events"),
    ],
)
def test_a_broken_field_rejects_the_event_naming_field_and_rule(
    settings, change: dict, field: str, reason: str
) -> None:
    assert reasons([sent("ok"), {**sent("bad"), **change}], settings) == [(1, field, reason)]


def test_an_event_four_minutes_ahead_of_the_clock_is_accepted(settings) -> None:
    assert reasons([sent("e1", at="2024-06-01T12:04:00")], settings) == []


def test_an_offset_is_converted_to_clinic_local_time_before_the_clock_check(settings) -> None:
    # 12:30 in New York is 18:30 in Paris: hours after the clinic's clock.
    late = sent("e1", at="2024-06-01T12:30:00-04:00")
    early = sent("e2", at="2024-06-01T08:30:00-04:00")  # 14:30 in Paris: still late
    utc = sent("e3", at="2024-06-01T09:00:00Z")  # 11:00 Paris: fine
    assert reasons([late, early, utc], settings) == [
        (0, "at", "later than the service clock plus the allowed skew"),
        (1, "at", "later than the service clock plus the allowed skew"),
    ]


def test_visit_events_need_no_channel_and_values_are_normalised(settings) -> None:
    checked = check_events(
        [{"event_id": 17.0, "patient_id": "p2", "type": "BOOKED", "at": "2024-05-01",
          "appointment_at": "2024-05-20T10:00:00+02:00"}],
        PATIENTS, set(), settings, now=NOW)
    row = checked.events.iloc[0]
    assert (row["event_id"], row["type"], row["appointment_at"]) == (
        "17", "booked", pd.Timestamp("2024-05-20 10:00"))


def test_rejections_never_quote_a_patient_id(settings) -> None:
    rejected = reasons([sent("e1", "secret-patient-42"), {**sent("e2"), "type": "x"}], settings)
    assert "secret-patient-42" not in repr(rejected)


def test_the_same_content_gives_the_same_hash_whatever_its_spelling(settings) -> None:
    checked = check_events(
        [sent("a", at="2024-03-01T10:00:00+01:00", cost="0.5"),
         sent("b", at="2024-03-01T10:00:00", cost=0.5),
         sent("c", at="2024-03-01T10:00:00", cost=0.6)],
        PATIENTS, set(), settings, now=NOW)
    hashes = checked.events["content_hash"].tolist()
    assert hashes[0] == hashes[1] != hashes[2]


def test_a_file_frame_is_checked_like_posted_events(settings) -> None:
    frame = pd.DataFrame([sent("e1"), {**sent("e2"), "cost": "-2"}]).astype(str)
    frame.loc[0, "cost"] = ""
    assert reasons(frame, settings) == [(1, "cost", "cost >= 0")]


def test_the_clock_shift_sets_the_service_clock_back_and_never_forward(settings) -> None:
    from pydantic import ValidationError

    from features.config import Settings
    from features.outcomes.events import clinic_now

    shifted = clinic_now(Settings(outcomes={"clock_shift_days": -30}))
    plain = clinic_now(Settings())
    assert pd.Timedelta(days=30) <= plain - shifted < pd.Timedelta(days=30, seconds=5)
    with pytest.raises(ValidationError):
        Settings(outcomes={"clock_shift_days": 1})
    # on a clock set back, an event of the real today is in its future: refused
    replay = Settings(outcomes={"clock_shift_days": -30, "clinic_timezone": "Europe/Paris"})
    today = clinic_now(settings).floor("s").isoformat()
    assert check_events([sent("e1", at=today)], PATIENTS, set(), replay).rejected == [
        {"index": 0, "field": "at", "reason": "later than the service clock plus the allowed skew"}]
