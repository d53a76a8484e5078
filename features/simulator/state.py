"""The mutable per-patient state the daily engine advances."""

from __future__ import annotations

import numpy as np

from features.simulator.population import NEVER, Population
from features.simulator.records import (
    CONTACT_COLUMNS,
    EVENT_COLUMNS,
    MEMBER_COLUMNS,
    ONSET_COLUMNS,
    VISIT_COLUMNS,
    Buffer,
)


class State:
    """Arrays over patients describing the clinic at the end of the current day.

    Attributes:
        engaged: still a patient of the clinic in their own mind (latent).
        reason: why an unengaged patient left (``CHURN_REASONS`` index, -1 if engaged).
        last_day / mu: last completed visit day and the cadence expected after it.
        n_completed / laser_done: completed visits and laser sessions so far.
        pend_day / pend_rec: the booked appointment (day, visit row), -1 when none.
        up_rate / up_start / up_until: the booking uplift left by outreach.
        opted_out: (n, 4) channels the patient asked the clinic to stop using.
        last_target / camp_* : the campaign state (see ``outreach``).
        mode / course_k / course_done: episodes of care (``episodes``; CADENCE elsewhere).
        restore: the restorative service a dental patient is to book next (-1: none).
    """

    def __init__(self, pop: Population, expected_visits: int) -> None:
        n = pop.n
        self.engaged = ~pop.init_churned
        self.reason = pop.init_reason.copy()
        self.last_day = pop.init_last_day.copy()
        self.mu = pop.init_mu.copy()
        existing = pop.created_day < 0
        self.n_completed = existing.astype(np.int32)
        self.laser_done = np.where(existing, pop.laser_k, 0).astype(np.int8)
        self.pend_day = np.full(n, -1, np.int32)
        self.pend_rec = np.full(n, -1, np.int64)
        self.up_rate = np.zeros(n, np.float64)
        self.up_start = np.full(n, NEVER, np.int32)
        self.up_until = np.full(n, -1, np.int32)
        self.opted_out = np.zeros((n, 4), bool)
        self.last_target = np.full(n, -NEVER, np.int32)
        self.camp_next = np.full(n, -1, np.int32)
        self.camp_left = np.zeros(n, np.int8)
        self.camp_idx = np.full(n, -1, np.int16)
        self.camp_launch = np.full(n, NEVER, np.int32)
        self.camp_unanswered = np.zeros((n, 4), np.int8)  # this campaign's silent attempts
        self.mode = pop.init_mode.copy()
        self.course_k = pop.course_k0.copy()
        self.course_done = pop.course_done0.copy()
        self.restore = np.full(n, -1, np.int8)
        self.onsets = Buffer(ONSET_COLUMNS, 1024)
        self.visits = Buffer(VISIT_COLUMNS, max(1024, expected_visits))
        self.contacts = Buffer(CONTACT_COLUMNS, max(1024, expected_visits // 2))
        self.events = Buffer(EVENT_COLUMNS, max(1024, n // 2))
        self.members = Buffer(MEMBER_COLUMNS, max(1024, n))
        self.schedule: dict[int, list[np.ndarray]] = {}
        self.contact_days: set[int] = set()  # days with campaign attempts due

    def churn(self, idx: np.ndarray, day: int, reason: np.ndarray | int) -> None:
        """Mark ``idx`` as silently gone from ``day`` on (and log it for the oracle)."""
        if len(idx) == 0:
            return
        reasons = np.broadcast_to(np.asarray(reason, np.int8), idx.shape)
        self.engaged[idx] = False
        self.reason[idx] = reasons
        self.events.append(patient=idx, day=np.full(len(idx), day),
                           engaged=np.zeros(len(idx), bool), reason=reasons)

    def reengage(self, idx: np.ndarray, day: int) -> None:
        """Win back ``idx`` (outreach reached a churned patient who wants to return)."""
        if len(idx) == 0:
            return
        self.engaged[idx] = True
        self.reason[idx] = -1
        self.events.append(patient=idx, day=np.full(len(idx), day),
                           engaged=np.ones(len(idx), bool), reason=np.full(len(idx), -1))
