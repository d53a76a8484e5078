"""Counting distinct patients per group, and the ratios of a results block.

A group is an overall total, a channel, a segment or an attempt number; every count is of
distinct patients, so a patient who replied twice counts once. Ratios over zero are
``None`` (JSON ``null``), never NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Pairs = tuple[np.ndarray, np.ndarray]  # (member, group) rows


def ratio(top: float, bottom: float) -> float | None:
    """``top / bottom``, or None when the bottom is zero or either side is not a number."""
    if bottom == 0 or not math.isfinite(top) or not math.isfinite(bottom):
        return None
    return float(top / bottom)


def distinct(pairs: Pairs, n_groups: int) -> np.ndarray:
    """Distinct members per group (groups below zero are ignored).

    A flag per (member, group) cell instead of ``np.unique``: no sort, one pass.
    """
    member, group = pairs
    ok = group >= 0
    if not ok.any():
        return np.zeros(n_groups, dtype=np.int64)
    cells = member[ok].astype(np.int64) * n_groups + group[ok]
    seen = np.zeros(int(member.max()) * n_groups + n_groups, dtype=bool)
    seen[cells] = True
    if n_groups == 1:
        return np.array([np.count_nonzero(seen)], dtype=np.int64)
    return np.bincount(np.flatnonzero(seen) % n_groups, minlength=n_groups).astype(np.int64)


def summed(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of ``values`` per group (groups below zero are ignored)."""
    ok = group >= 0
    return np.bincount(group[ok], weights=values[ok], minlength=n_groups)[:n_groups]


@dataclass(frozen=True)
class Rows:
    """What happened, as (member, group) rows, ready to count per group.

    Attributes:
        sends, delivered, responded, opted_out, booked, attended: (member, group) pairs.
        send_cost: cost parallel to ``sends``; attended_revenue: parallel to ``attended``
            (one kept visit per member and group).
    """

    sends: Pairs
    send_cost: np.ndarray
    delivered: Pairs
    responded: Pairs
    opted_out: Pairs
    booked: Pairs
    attended: Pairs
    attended_revenue: np.ndarray


def tally(rows: Rows, n_groups: int) -> list[dict[str, float | int | None]]:
    """One results block per group: counts, revenue, cost and their ratios."""
    contacted = distinct(rows.sends, n_groups)
    counts = {name: distinct(getattr(rows, name), n_groups)
              for name in ("delivered", "responded", "opted_out", "booked", "attended")}
    revenue = summed(rows.attended[1], rows.attended_revenue, n_groups)
    cost = summed(rows.sends[1], rows.send_cost, n_groups)
    return [block(int(contacted[g]), *(int(counts[k][g]) for k in counts),
                  float(revenue[g]), float(cost[g])) for g in range(n_groups)]


def block(contacted: int, delivered: int, responded: int, opted_out: int, booked: int,
          attended: int, revenue: float, cost: float) -> dict[str, float | int | None]:
    """The figures of one block, in the order the results answer lists them."""
    revenue, cost = round(revenue, 2), round(cost, 2)
    return {
        "contacted": contacted,
        "delivered": delivered,
        "responded": responded,
        "booked": booked,
        "attended": attended,
        "opted_out": opted_out,
        "conversion_rate": ratio(booked, contacted),
        "revenue": revenue,
        "cost": cost,
        "cost_per_reactivation": ratio(cost, booked),
        "roi": ratio(revenue - cost, cost),
    }


@dataclass(frozen=True)
class MemberFlags:
    """What happened to each member, for groupings fixed per member (overall, channel,
    segment): one flag per count and the kept visit's revenue (0 without one), plus the
    campaign's sends (member and cost) for the cost."""

    contacted: np.ndarray
    delivered: np.ndarray
    responded: np.ndarray
    opted_out: np.ndarray
    booked: np.ndarray
    attended: np.ndarray
    revenue: np.ndarray
    send_member: np.ndarray
    send_cost: np.ndarray


def member_tally(flags: MemberFlags, group: np.ndarray,
                 n_groups: int) -> list[dict[str, float | int | None]]:
    """:func:`tally` for a group per member, counting contacted members only.

    Every count is a ``bincount`` of the members' groups, no (member, group) cells: a member
    sits in exactly one group, so distinct patients are just flagged members.
    """
    grouped = np.where(flags.contacted, group, -1)
    ok = grouped >= 0
    inside = grouped[ok]

    def count(flag: np.ndarray) -> np.ndarray:
        return np.bincount(inside[flag[ok]], minlength=n_groups)[:n_groups]

    contacted = np.bincount(inside, minlength=n_groups)[:n_groups]
    counts = [count(getattr(flags, name)) for name in
              ("delivered", "responded", "opted_out", "booked", "attended")]
    kept = flags.attended & ok
    revenue = summed(grouped[kept], flags.revenue[kept], n_groups)
    cost = summed(grouped[flags.send_member], flags.send_cost, n_groups)
    return [block(int(contacted[g]), *(int(c[g]) for c in counts), float(revenue[g]),
                  float(cost[g])) for g in range(n_groups)]


def flagged(n: int, members: np.ndarray) -> np.ndarray:
    """A boolean per member, True for those in ``members``."""
    out = np.zeros(n, dtype=bool)
    out[members] = True
    return out
