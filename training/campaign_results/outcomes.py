"""Per member: the sends of the campaign, the first booking in the window, the kept visit.

Definitions (docs/campaigns.md):

* **sends**: ``sent`` events tagged with the campaign; the k-th of a patient (by time, then
  channel and cost, so row order never matters) is attempt k. Cost: the event's ``cost``,
  else the configured cost of its channel.
* **booked**: a ``booked`` event, or an exported visit whose booking moment
  (``booked_at``, else ``visit_at``) lies at or after ``assigned_at`` and inside the
  attribution window after it (``features.vocabulary.within_attribution``).
* **kept**: the first ``attended`` event or completed exported visit at or after that first
  booking; its revenue is the campaign's revenue for that patient (one visit per patient, so
  an attended visit posted and later exported is not counted twice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline.grouping import first_rows, time_ordinals
from features.vocabulary import CHANNELS, OUTCOME_TYPES, within_attribution
from training.campaign_results.frames import NAT, Events, Members, Visits

SENT, BOOKED, ATTENDED = (OUTCOME_TYPES.index(t) for t in ("sent", "booked", "attended"))


def earliest(member: np.ndarray, at: np.ndarray, n: int,
             *tiebreaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per member the earliest ``at`` (``NAT`` if none) and that row (-1 if none).

    Ties in time go to the row smallest in ``tiebreaks`` (most significant first), so the
    choice never depends on row order.
    """
    first_at = np.full(n, NAT, dtype=np.int64)
    row = np.full(n, -1, dtype=np.int64)
    if len(member) == 0:
        return first_at, row
    (t,), span = time_ordinals(at.view("datetime64[ns]"))
    order = np.lexsort((*reversed(tiebreaks), member.astype(np.int64) * span + t))
    firsts = order[first_rows(member[order])]
    first_at[member[firsts]] = at[firsts]
    row[member[firsts]] = firsts
    return first_at, row


def first_bookings(members: Members, events: Events, visits: Visits,
                   window_days: int) -> np.ndarray:
    """Per member the first booking moment in the window after ``assigned_at`` (or ``NAT``)."""
    is_booked = events.type_ == BOOKED
    member = np.r_[events.member[is_booked], visits.member]
    at = np.r_[events.at[is_booked], visits.booked]
    assigned = members.assigned[member]
    inside = (at >= assigned) & within_attribution(
        at.view("datetime64[ns]"), assigned.view("datetime64[ns]"), window_days)
    return earliest(member[inside], at[inside], members.n)[0]


def kept_visits(members: Members, events: Events, visits: Visits,
                after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per member: whether a visit was kept at or after ``after`` (NAT: none) and its revenue.

    Revenue is 0 for members without a kept visit and for kept visits without a revenue.
    """
    is_att = events.type_ == ATTENDED
    member = np.r_[events.member[is_att], visits.member[visits.kept]]
    at = np.r_[events.at[is_att], visits.at[visits.kept]]
    revenue = np.r_[events.revenue[is_att], visits.revenue[visits.kept]]
    from_export = np.r_[np.ones(int(is_att.sum()), np.int8), np.zeros(int(visits.kept.sum()),
                                                                       np.int8)]
    since = after[member]
    ok = (since != NAT) & (at >= since)
    revenue = np.nan_to_num(revenue[ok], nan=0.0)
    first_at, row = earliest(member[ok], at[ok], members.n, from_export[ok], -revenue)
    kept = first_at != NAT
    return kept, np.where(kept, np.r_[revenue, 0.0][row], 0.0)  # row -1: the 0.0


@dataclass(frozen=True)
class Sends:
    """The campaign's sends sorted by (member, time, channel, cost).

    Attributes:
        member, at, channel, cost: per send; attempt: 1 for a patient's first send, ...
        count: sends per member; first_channel: channel code of each member's first send
            (-1 when never sent).
    """

    member: np.ndarray
    at: np.ndarray
    channel: np.ndarray
    cost: np.ndarray
    attempt: np.ndarray
    count: np.ndarray
    first_channel: np.ndarray

    def attempt_at(self, member: np.ndarray, at: np.ndarray) -> np.ndarray:
        """How many sends each (member, moment) had received at or before it (0: none)."""
        if len(self.member) == 0 or len(member) == 0:
            return np.zeros(len(member), dtype=np.int64)
        (t_send, t_query), span = time_ordinals(self.at.view("datetime64[ns]"),
                                                at.view("datetime64[ns]"))
        keys = self.member * span + t_send
        query = member * span + t_query
        order = np.argsort(query)  # sorted needles: searchsorted walks memory in order
        position = np.empty(len(query), dtype=np.int64)
        position[order] = np.searchsorted(keys, query[order], side="right")
        starts = np.cumsum(self.count) - self.count
        return position - starts[member]


def campaign_sends(members: Members, events: Events,
                   channel_costs: dict[str, float]) -> Sends:
    """The campaign's ``sent`` events of treatment and holdout members, with their cost."""
    rows = np.flatnonzero((events.type_ == SENT) & events.ours)
    member, at, channel = events.member[rows], events.at[rows], events.channel[rows]
    if (channel < 0).any():
        raise ValueError("outcome_events.channel: a 'sent' event needs a channel of "
                         f"{CHANNELS} ({int((channel < 0).sum())} rows have none)")
    configured = np.asarray([channel_costs.get(c, np.nan) for c in CHANNELS], dtype=np.float64)
    cost = events.cost[rows]
    unpriced = np.isnan(cost)
    if unpriced.any():
        cost = np.where(unpriced, configured[channel], cost)
        if np.isnan(cost).any():
            raise ValueError("outcome_events.cost: no cost given and no configured cost for "
                             "the channel (settings.policy.channel_costs)")
    (t,), span = time_ordinals(at.view("datetime64[ns]"))
    key = (member * span + t) * len(CHANNELS) + channel
    # the cheaper first among sends at one moment on one channel: the cost's rank is the
    # key's last digit (rows equal in all four are interchangeable: no stable sort needed)
    rank, prices = pd.factorize(cost, sort=True)
    if int(key.max(initial=0)) < np.iinfo(np.int64).max // (len(prices) + 1):
        order = np.argsort(key * max(len(prices), 1) + rank)
    else:
        order = np.lexsort((cost, key))
    member, at, channel, cost = member[order], at[order], channel[order], cost[order]
    count = np.bincount(member, minlength=members.n)
    starts = np.cumsum(count) - count
    attempt = np.arange(len(member)) - starts[member] + 1
    first_channel = np.full(members.n, -1, dtype=np.int64)
    first_channel[member[attempt == 1]] = channel[attempt == 1]
    return Sends(member, at, channel, cost, attempt, count, first_channel)
