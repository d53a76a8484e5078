"""A hand-made campaign of a dozen patients (expected figures are worked out in the tests).

Campaign ``C1`` assigned 2026-03-02 09:00; window 14 days (to 2026-03-16 09:00).
Treatment P01-P08, holdout P09-P12. Another campaign ``C0`` texts P06 after C1's email, so
attribution credits P06's booking to C0.
"""

from __future__ import annotations

import pandas as pd

from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES

ASSIGNED = "2026-03-02 09:00"

# (patient, campaign, channel, type, at, revenue, cost)
EVENTS = [
    ("P01", "C1", "sms", "sent", "2026-03-02 10:00", None, None),
    ("P01", "C1", "sms", "delivered", "2026-03-02 10:01", None, None),
    ("P01", "C1", "sms", "replied", "2026-03-02 11:00", None, None),
    ("P01", None, None, "booked", "2026-03-03 12:00", None, None),
    ("P01", None, None, "attended", "2026-03-10 10:00", 200.0, None),
    ("P02", "C1", "email", "sent", "2026-03-02 10:00", None, None),
    ("P02", "C1", "email", "delivered", "2026-03-02 10:01", None, None),
    ("P02", "C1", "email", "sent", "2026-03-09 10:00", None, None),
    ("P02", "C1", "email", "clicked", "2026-03-09 12:00", None, None),
    ("P03", "C1", "phone", "sent", "2026-03-03 10:00", None, 3.0),
    ("P04", "C1", "sms", "sent", "2026-03-02 10:00", None, None),
    ("P04", "C1", "sms", "opted_out", "2026-03-02 10:30", None, None),
    ("P05", "C1", "sms", "sent", "2026-03-02 10:00", None, None),
    ("P05", "C1", "mail", "sent", "2026-03-09 10:00", None, None),
    ("P05", None, None, "booked", "2026-03-20 10:00", None, None),
    ("P05", None, None, "attended", "2026-03-27 10:00", 80.0, None),
    ("P06", "C1", "email", "sent", "2026-03-02 10:00", None, None),
    ("P06", "C1", "email", "delivered", "2026-03-02 10:01", None, None),
    ("P06", "C0", "sms", "sent", "2026-03-04 10:00", None, None),
    ("P06", None, None, "booked", "2026-03-05 10:00", None, None),
    ("P06", None, None, "no_show", "2026-03-12 10:00", None, None),
    ("P08", "C1", "sms", "sent", "2026-03-02 10:00", None, None),
    ("P08", "C1", "sms", "failed", "2026-03-02 10:01", None, None),
    ("P08", "C1", "sms", "sent", "2026-03-09 10:00", None, None),
    ("P08", "C1", "sms", "delivered", "2026-03-09 10:01", None, None),
    ("P08", None, None, "booked", "2026-03-11 10:00", None, None),
    ("P08", None, None, "attended", "2026-03-18 10:00", 100.0, None),
    ("P09", None, None, "booked", "2026-03-05 10:00", None, None),
    ("P09", None, None, "attended", "2026-03-12 10:00", 250.0, None),
    ("P12", None, None, "booked", "2026-03-25 10:00", None, None),
    ("P99", "C1", "sms", "sent", "2026-03-02 10:00", None, None),  # not a member
]

# (patient, visit_at, status, booked_at, revenue)
VISITS = [
    ("P02", "2026-03-20 10:00", "completed", "2026-03-10 15:00", 300.0),
    ("P03", "2026-03-06 10:00", "completed", "2026-02-20 10:00", 90.0),  # booked before
    ("P07", "2026-03-12 10:00", "completed", "2026-03-04 10:00", 150.0),
    ("P08", "2026-03-18 10:00", "completed", "2026-03-11 10:00", 100.0),  # same as event
    ("P10", "2025-06-01 10:00", "completed", "2025-05-20 10:00", 400.0),  # history
    ("P11", "2026-03-15 10:00", "cancelled", "2026-03-08 10:00", 0.0),
]

SEGMENTS = {"P01": "lapsing", "P02": "lapsing", "P03": "lapsing", "P04": "lapsing",
            "P05": "dormant", "P06": "dormant", "P07": "dormant",
            "P09": "lapsing", "P10": "lapsing", "P11": "dormant", "P12": "dormant"}


def members() -> pd.DataFrame:
    """Campaign members of C1 (and one member of another campaign, to be ignored)."""
    ids = [f"P{i:02d}" for i in range(1, 13)]
    frame = pd.DataFrame({
        "campaign_id": ["C1"] * 12 + ["C0"],
        "patient_id": ids + ["P06"],
        "assigned_at": pd.to_datetime([ASSIGNED] * 12 + ["2026-03-04 09:00"]),
        "arm": ["treatment"] * 8 + ["holdout"] * 4 + ["treatment"],
        "channel": [None] * 13,
    })
    return frame.astype(CAMPAIGN_MEMBER_DTYPES)


def events() -> pd.DataFrame:
    """The outcome events above, with unique ids."""
    frame = pd.DataFrame(EVENTS, columns=["patient_id", "campaign_id", "channel", "type", "at",
                                          "revenue", "cost"])
    frame.insert(0, "event_id", [f"e{i}" for i in range(len(frame))])
    frame["at"] = pd.to_datetime(frame["at"])
    frame["appointment_at"] = pd.NaT
    return frame[list(OUTCOME_EVENT_DTYPES)].astype(OUTCOME_EVENT_DTYPES)


def visits() -> pd.DataFrame:
    """Exported visits of some members."""
    frame = pd.DataFrame(VISITS, columns=["patient_id", "visit_at", "status", "booked_at",
                                          "revenue"])
    frame["visit_at"] = pd.to_datetime(frame["visit_at"])
    frame["booked_at"] = pd.to_datetime(frame["booked_at"])
    return frame


def segments() -> pd.Series:
    """Segments (P08 unknown)."""
    return pd.Series(SEGMENTS, name="segment")
