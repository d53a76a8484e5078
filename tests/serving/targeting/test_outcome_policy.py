"""The policy's view of posted outcomes, on hand-made events with hand-worked answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.config import Settings
from serving.targeting.outcome_policy import combine, patient_bits, summarise

T = pd.Timestamp


def frame(rows: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=["patient_id", "type", "channel", "at", "appointment_at"])
    out["at"] = pd.to_datetime(out["at"]).astype("datetime64[ns]")
    out["appointment_at"] = pd.to_datetime(out["appointment_at"]).astype("datetime64[ns]")
    return out


EVENTS = frame([
    ("sent-10d", "sent", "sms", "2026-05-22", None),       # 10 days before 06-01: spacing
    ("sent-20d", "sent", "sms", "2026-05-12", None),       # 20 days: free again
    ("capped", "sent", "sms", "2026-03-01", None),          # 3 posted + 2 in the snapshot = 5
    ("capped", "sent", "email", "2026-04-01", None),
    ("capped", "sent", "sms", "2026-05-01", None),
    ("old-send", "sent", "sms", "2026-01-10", None),        # before the snapshot cut: not recounted
    ("opted", "opted_out", "email", "2026-05-01", None),
    ("opted", "opted_out", "mail", "2026-05-02", None),
    ("booked-ahead", "booked", None, "2026-05-20", "2026-06-10"),
    ("booked-past", "booked", None, "2026-05-01", "2026-05-20"),
    ("booked-open", "booked", None, "2026-05-01", None),
    ("booked-kept", "booked", None, "2026-05-01", None),
    ("booked-kept", "attended", None, "2026-05-08", None),
    ("re-booked", "cancelled", None, "2026-05-01", None),   # a cancel before the new booking
    ("re-booked", "booked", None, "2026-05-03", "2026-07-01"),
    ("cancelled", "booked", None, "2026-05-01", "2026-07-01"),
    ("cancelled", "cancelled", None, "2026-05-05", None),
])
SNAPSHOT_AS_OF = dt.date(2026, 1, 31)
COUNTS = pd.Series({"capped": 2.0, "old-send": 4.0})


def verdicts(summary: pd.DataFrame, events: pd.DataFrame) -> dict[str, tuple[bool, int]]:
    sends = events[events["type"] == "sent"]
    patients, blocked, removed = patient_bits(
        summary, sends["patient_id"].to_numpy(object), sends["at"].to_numpy("datetime64[ns]"),
        dt.date(2026, 6, 1), SNAPSHOT_AS_OF, Settings(), COUNTS)
    return {p: (bool(b), int(r)) for p, b, r in zip(patients, blocked, removed, strict=True)}


def test_each_outcome_rule_gives_the_hand_worked_verdict() -> None:
    assert verdicts(summarise(EVENTS), EVENTS) == {
        "sent-10d": (True, 0), "sent-20d": (False, 0), "capped": (True, 0),
        "old-send": (False, 0), "opted": (False, 0b1010),  # email (bit 1) and mail (bit 3)
        "booked-ahead": (True, 0), "booked-past": (False, 0), "booked-open": (True, 0),
        "booked-kept": (False, 0), "re-booked": (True, 0), "cancelled": (False, 0),
    }


def test_folding_batches_one_by_one_gives_the_summary_of_all_of_them() -> None:
    rng = np.random.default_rng(3)
    parts = np.array_split(EVENTS.iloc[rng.permutation(len(EVENTS))], 4)
    folded = summarise(parts[0])
    for part in parts[1:]:
        folded = combine(folded, summarise(part))
    assert verdicts(folded, EVENTS) == verdicts(summarise(EVENTS), EVENTS)
    whole = summarise(EVENTS).sort_index()
    pd.testing.assert_frame_equal(folded.sort_index(), whole, check_dtype=False,
                                  check_index_type=False)
