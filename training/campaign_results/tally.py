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


_FLAGS: tuple[str, ...] = ("delivered", "responded", "opted_out", "booked", "attended")


@dataclass(frozen=True)
class MemberFlags:
    """What happened to each member, for groupings fixed per member (overall, channel,
    segment): one flag per count of ``_FLAGS`` packed as bits, the kept visit's revenue
    (0 without one), and the campaign's sends (member and cost) for the cost."""

    contacted: np.ndarray
    bits: np.ndarray
    revenue: np.ndarray
    send_member: np.ndarray
    send_cost: np.ndarray

    @classmethod
    def of(cls, contacted: np.ndarray, flags: dict[str, np.ndarray], revenue: np.ndarray,
           send_member: np.ndarray, send_cost: np.ndarray) -> MemberFlags:
        """Pack the per-member flags named in ``_FLAGS``."""
        bits = np.zeros(len(contacted), dtype=np.int64)
        for i, name in enumerate(_FLAGS):
            bits |= flags[name].astype(np.int64) << i
        return cls(contacted, bits, revenue, send_member, send_cost)


def member_tally(flags: MemberFlags, group: np.ndarray,
                 n_groups: int) -> list[dict[str, float | int | None]]:
    """:func:`tally` for a group per member, counting contacted members only.

    A member sits in exactly one group, so distinct patients are flagged members: one
    ``bincount`` of (group, flag bits) cells gives every count of every group.
    """
    grouped = np.where(flags.contacted, group, -1)
    ok = grouped >= 0
    width = 1 << len(_FLAGS)
    cells = np.bincount(grouped[ok] * width + flags.bits[ok],
                        minlength=n_groups * width)[: n_groups * width].reshape(n_groups, width)
    patterns = np.arange(width)
    contacted = cells.sum(axis=1)
    counts = [cells[:, (patterns >> i) & 1 == 1].sum(axis=1) for i in range(len(_FLAGS))]
    kept = ok & ((flags.bits >> _FLAGS.index("attended")) & 1 == 1)
    revenue = summed(grouped[kept], flags.revenue[kept], n_groups)
    cost = summed(grouped[flags.send_member], flags.send_cost, n_groups)
    return [block(int(contacted[g]), *(int(c[g]) for c in counts), float(revenue[g]),
                  float(cost[g])) for g in range(n_groups)]


def flagged(n: int, members: np.ndarray) -> np.ndarray:
    """A boolean per member, True for those in ``members``."""
    out = np.zeros(n, dtype=bool)
    out[members] = True
    return out
