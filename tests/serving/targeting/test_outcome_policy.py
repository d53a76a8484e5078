"""The policy's view of posted outcomes, on hand-made events with hand-worked answers, and
the overlay's views patched batch by batch equal to views computed from scratch."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.targeting.index import build_index
from serving.targeting.outcome_policy import OutcomeOverlay
from serving.targeting.outcome_state import ClinicOutcomes
from tests.serving.frames import snapshot

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


def verdicts(outcomes: ClinicOutcomes) -> dict[str, tuple[bool, int]]:
    counts = COUNTS.reindex(outcomes.ids).fillna(0.0).to_numpy()
    rules, removed = outcomes.verdicts(np.arange(outcomes.size), dt.date(2026, 6, 1),
                                       SNAPSHOT_AS_OF, counts, Settings())
    blocked = np.logical_or.reduce(list(rules.values()))
    return {p: (bool(b), int(r)) for p, b, r in zip(outcomes.ids, blocked, removed, strict=True)}


def test_each_outcome_rule_gives_the_hand_worked_verdict() -> None:
    outcomes = ClinicOutcomes()
    outcomes.fold(EVENTS)
    assert verdicts(outcomes) == {
        "sent-10d": (True, 0), "sent-20d": (False, 0), "capped": (True, 0),
        "old-send": (False, 0), "opted": (False, 0b1010),  # email (bit 1) and mail (bit 3)
        "booked-ahead": (True, 0), "booked-past": (False, 0), "booked-open": (True, 0),
        "booked-kept": (False, 0), "re-booked": (True, 0), "cancelled": (False, 0),
    }


def test_folding_batches_one_by_one_gives_the_state_of_all_of_them() -> None:
    rng = np.random.default_rng(3)
    parts = np.array_split(EVENTS.iloc[rng.permutation(len(EVENTS))], 4)
    folded, whole = ClinicOutcomes(), ClinicOutcomes()
    touched = [folded.fold(part) for part in parts]
    whole.fold(EVENTS)
    assert verdicts(folded) == verdicts(whole)
    assert [sorted(folded.ids[t]) for t in touched] == [sorted(set(p["patient_id"])) for p in parts]
    for name in ("last_send", "opted", "booked_at", "appointment_at", "closed_at"):
        mine = pd.Series(getattr(folded, name), index=folded.ids).sort_index()
        theirs = pd.Series(getattr(whole, name), index=whole.ids).sort_index()
        pd.testing.assert_series_equal(mine, theirs, check_names=False)


def test_the_later_of_two_bookings_at_the_same_moment_wins() -> None:
    outcomes = ClinicOutcomes()
    outcomes.fold(frame([("p", "booked", None, "2026-05-01", "2026-05-10"),
                         ("p", "booked", None, "2026-05-01", "2026-07-01")]))
    assert outcomes.appointment_at[0] == T("2026-07-01").value
    outcomes.fold(frame([("p", "booked", None, "2026-05-01", "2026-05-15")]))
    assert outcomes.appointment_at[0] == T("2026-05-15").value


def random_batch(rng: np.random.Generator, patients: list[str], size: int) -> pd.DataFrame:
    kinds = np.array(["sent", "opted_out", "booked", "attended", "cancelled", "no_show"])
    kind = kinds[rng.integers(0, len(kinds), size)]
    at = T("2026-05-01") + pd.to_timedelta(rng.integers(0, 40 * 24, size), unit="h")
    appointment = at + pd.to_timedelta(rng.integers(0, 30, size), unit="D")
    return pd.DataFrame({
        "patient_id": np.asarray(patients, dtype=object)[rng.integers(0, len(patients), size)],
        "type": kind,
        "channel": np.where(np.isin(kind, ["sent", "opted_out"]),
                            np.asarray(CHANNELS, dtype=object)[rng.integers(0, 4, size)], None),
        "at": at.to_numpy("datetime64[ns]"),
        "appointment_at": np.where(rng.random(size) < 0.5, appointment.to_numpy("datetime64[ns]"),
                                   np.datetime64("NaT", "ns")),
    })


def test_views_patched_batch_by_batch_equal_views_computed_from_scratch() -> None:
    settings = Settings()
    index = build_index(snapshot(60, contacts_180d=np.tile([0.0, 4.0, 1.0], 20)), settings)
    patients = [f"north-p{i}" for i in range(60)] + ["not-in-snapshot"]
    rng = np.random.default_rng(7)
    patched, day = OutcomeOverlay(settings), dt.date(2026, 6, 1)
    batches, views = [], []
    for _ in range(6):
        batches.append(random_batch(rng, patients, 15))
        patched.add(batches[-1], "north")
        views.append(patched.index_for(index, "north", day, SNAPSHOT_AS_OF))
        fresh = OutcomeOverlay(settings)
        fresh.add(pd.concat(batches, ignore_index=True), "north")
        expected = fresh.index_for(index, "north", day, SNAPSHOT_AS_OF)
        assert (views[-1].channel_bits == expected.channel_bits).all()
        for name, arrays in expected.clinics["north"].orders.items():
            got = views[-1].clinics["north"].orders[name].channel_bits
            assert (got == arrays.channel_bits).all(), name
    assert len({id(v.channel_bits) for v in views}) == len(views)  # a view is never edited
    assert (views[-1].channel_bits != index.channel_bits).any()
    again = patched.index_for(index, "north", day, SNAPSHOT_AS_OF)
    assert again is views[-1]  # nothing new: the cached view


def test_members_kept_off_by_sequences_are_a_layer_over_the_outcomes() -> None:
    settings = Settings()
    index = build_index(snapshot(6), settings)
    overlay = OutcomeOverlay(settings)
    overlay.add(frame([("north-p1", "opted_out", "email", "2026-05-01", None)]), "north")
    resting = pd.Series(np.array(["2026-06-05", "2026-05-01"], "M8[D]"),
                        index=["north-p2", "north-p3"])
    view = overlay.index_for(index, "north", dt.date(2026, 6, 1), SNAPSHOT_AS_OF, resting, "k1")
    bits = view.channel_bits
    assert bits[2] == 0 and bits[3] == index.channel_bits[3]  # p3's rest ended
    assert int(index.channel_bits[1]) == 0b1111 and bits[1] == 0b1101  # p1: all but email
    later = overlay.index_for(index, "north", dt.date(2026, 6, 6), SNAPSHOT_AS_OF, resting, "k1")
    assert later.channel_bits[2] == index.channel_bits[2]
