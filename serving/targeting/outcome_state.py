"""One clinic's posted outcomes as the contact policy needs them, folded batch by batch.

Every patient an outcome concerns gets a number (first seen, first numbered); per number the
state keeps what the rules read, as int64 nanosecond arrays (``NAT`` for none):

* ``last_send``: the latest ``sent`` (spacing rule), plus every send's number and time
  (the cap counts the sends inside its window, which moves with the policy day);
* ``opted``: bit i set once channel i of ``CHANNELS`` was opted out of;
* ``booked_at``/``appointment_at``: the latest ``booked`` (at equal times the later posted
  one), ``closed_at``: the latest ``attended``, ``cancelled`` or ``no_show``.

Folding a batch costs work in proportion to the batch, never to what is already stored, and
tells which patients it touched, so the overlay can redo the verdicts of those patients only.
:meth:`ClinicOutcomes.verdicts` applies the rules of :mod:`serving.targeting.outcome_policy`
on a policy day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import CHANNELS, VISIT_EVENT_TYPES, cutoff

NAT = np.iinfo(np.int64).min
DAY_NS = 86_400 * 10**9
_CLOSES = VISIT_EVENT_TYPES[1:]  # attended, cancelled, no_show


def _ns(values: pd.Series) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ns]").view(np.int64)


class ClinicOutcomes:
    """The per-patient summary of one clinic's outcomes, and every send."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.ids = np.zeros(0, dtype=object)
        self.last_send = np.zeros(0, dtype=np.int64)
        self.opted = np.zeros(0, dtype=np.uint8)
        self.booked_at = np.zeros(0, dtype=np.int64)
        self.appointment_at = np.zeros(0, dtype=np.int64)
        self.closed_at = np.zeros(0, dtype=np.int64)
        self.send_number = np.zeros(0, dtype=np.int64)
        self.send_at = np.zeros(0, dtype=np.int64)
        self.version = 0

    @property
    def size(self) -> int:
        """Patients numbered so far."""
        return len(self.numbers)

    def number_of(self, patient_ids: np.ndarray) -> np.ndarray:
        """Numbers of known patients (-1 for the others); nothing is numbered."""
        get = self.numbers.get
        return np.fromiter((get(p, -1) for p in patient_ids), dtype=np.int64,
                           count=len(patient_ids))

    def _number(self, patient_ids: np.ndarray) -> np.ndarray:
        numbers = self.numbers
        codes, uniques = pd.factorize(patient_ids)  # one dict probe per patient, not per row
        found = np.fromiter((numbers.setdefault(p, len(numbers)) for p in uniques),
                            dtype=np.int64, count=len(uniques))
        codes = found[codes]
        grown = len(numbers) - len(self.ids)
        if grown:
            new_ids = np.empty(grown, dtype=object)
            new_ids[:] = list(numbers)[len(self.ids):]
            self.ids = np.concatenate([self.ids, new_ids])
            pad = np.full(grown, NAT, dtype=np.int64)
            self.last_send = np.concatenate([self.last_send, pad])
            self.booked_at = np.concatenate([self.booked_at, pad])
            self.appointment_at = np.concatenate([self.appointment_at, pad])
            self.closed_at = np.concatenate([self.closed_at, pad])
            self.opted = np.concatenate([self.opted, np.zeros(grown, dtype=np.uint8)])
        return codes

    def fold(self, events: pd.DataFrame) -> np.ndarray:
        """Take in a batch (``patient_id``, ``type``, ``channel``, ``at``,
        ``appointment_at``, in posting order); returns the numbers of the patients touched."""
        if not len(events):
            return np.zeros(0, dtype=np.int64)
        code = self._number(events["patient_id"].to_numpy(dtype=object))
        kind = events["type"].to_numpy(dtype=object)
        at = _ns(events["at"])
        sent = kind == "sent"
        if sent.any():
            np.maximum.at(self.last_send, code[sent], at[sent])
            self.send_number = np.concatenate([self.send_number, code[sent]])
            self.send_at = np.concatenate([self.send_at, at[sent]])
        opted = kind == "opted_out"
        if opted.any():
            channel = pd.Categorical(events["channel"].to_numpy(dtype=object)[opted],
                                     categories=list(CHANNELS)).codes
            known = channel >= 0
            bits = (1 << channel[known].astype(np.int64)).astype(np.uint8)
            np.bitwise_or.at(self.opted, code[opted][known], bits)
        closes = np.isin(kind, _CLOSES)
        if closes.any():
            np.maximum.at(self.closed_at, code[closes], at[closes])
        booked = np.flatnonzero(kind == "booked")
        if len(booked):
            self._book(code[booked], at[booked], _ns(events["appointment_at"])[booked])
        self.version += 1
        return np.unique(code)

    def _book(self, code: np.ndarray, at: np.ndarray, appointment: np.ndarray) -> None:
        """Keep each patient's latest booking: by time, then the later posted."""
        order = np.lexsort((np.arange(len(code)), at, code))
        last = order[np.r_[code[order][1:] != code[order][:-1], True]]
        code, at, appointment = code[last], at[last], appointment[last]
        newer = (self.booked_at[code] == NAT) | (self.booked_at[code] <= at)
        self.booked_at[code[newer]] = at[newer]
        self.appointment_at[code[newer]] = appointment[newer]

    def verdicts(self, numbers: np.ndarray, on: dt.date, snapshot_as_of: dt.date,
                 snapshot_counts: np.ndarray,
                 settings: Settings) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The rules ``numbers`` break on policy day ``on``, and the channels they removed.

        Args:
            snapshot_counts: per number, the snapshot's own contacts in the cap window
                (sends before the snapshot's cut are in it already; later ones are added).

        Returns:
            ``(rules, removed)``: per rule of ``serving.targeting.policy.PATIENT_RULES`` the
            outcomes decide (``contacted_recently``, ``contact_cap_reached``, ``booked``) a
            boolean array, and the opted-out channel bits.
        """
        policy = settings.policy
        day = pd.Timestamp(on).normalize().value
        last = self.last_send[numbers]
        has_send = last != NAT
        gap_days = (day - (np.where(has_send, last, 0) // DAY_NS) * DAY_NS) // DAY_NS
        recent = has_send & (gap_days < policy.min_days_between_contacts)
        window_start = day - policy.max_contacts_window_days * DAY_NS
        late = (self.send_at >= pd.Timestamp(cutoff(snapshot_as_of)).value) & (
            self.send_at > window_start)
        counted = np.bincount(self.send_number[late], minlength=self.size)[numbers]
        capped = counted + snapshot_counts >= policy.max_contacts
        booked = np.zeros(len(numbers), dtype=bool)
        if not policy.include_booked:
            booked_at = self.booked_at[numbers]
            closed_at = self.closed_at[numbers]
            appointment = self.appointment_at[numbers]
            closed = (closed_at != NAT) & (closed_at >= booked_at)
            pending = (appointment == NAT) | (appointment >= day)
            booked = (booked_at != NAT) & ~closed & pending
        rules = {"contacted_recently": recent, "contact_cap_reached": capped, "booked": booked}
        return rules, self.opted[numbers]

    def sends_between(self, numbers: np.ndarray, after: int, start: int,
                      before: int) -> np.ndarray:
        """Per number (-1: none), the sends at or after ``start``, after ``after`` and
        before ``before`` (int64 nanoseconds)."""
        at = self.send_at
        inside = (at >= start) & (at > after) & (at < before)
        counts = np.append(np.bincount(self.send_number[inside], minlength=self.size), 0)
        return counts[np.where(numbers >= 0, numbers, self.size)].astype(float)
