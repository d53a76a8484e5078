"""How good are the planned sequences? Their true booking probability against simple orders.

Why in ``serving``: the planned sequences come from the real planner
(:mod:`serving.targeting.sequences`), and ``training`` must not import ``serving``. The
truth is a callable, so these functions do not know where it comes from; on the demo clinic
it is the simulator's exact ``p_book_sequence`` (:func:`simulator_truth`).

Every strategy gets the same members, the same send days (the planner's: attempt ``i`` on
day ``offset_i`` after the first) and as many attempts as the planner gave the member (its
budget: at most ``max_attempts``, less what the contact cap leaves), and is judged on the
same window (first attempt to the last one's day plus the attribution window). Only the
channels differ:

* ``planned``: the planner's sequence;
* ``same channel``: the planner's first channel (the model's best single channel by
  expected incremental value) on every attempt;
* ``fixed order``: text, email, text, phone, mail, the order recall products send to
  everyone. Rule for channels a patient does not allow: they are dropped from the order and
  what remains repeats until the member's attempts are filled (a patient allowing email and
  phone gets email, phone, email, phone, email); it ignores the phone's cost, as those
  products do;
* ``single contact``: the planner's first attempt only;
* ``best found``: per member, the best of every strategy above and of every cyclic order of
  every non-empty subset of the member's allowed channels (64 orders with four channels,
  e.g. phone, text, phone, text, phone). A lower bound on the best sequence the truth allows:
  the exhaustive search (4**5 = 1,024 sequences per attempt count, each an exact outcome-tree
  run) is too slow for ``reactivate evaluate``. So "share of the best" is an upper bound of
  the planned order's share of the true best.

A member with no allowed channel has no plan and is left out (nobody may contact them).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import permutations

import numpy as np
import pandas as pd

from features.vocabulary import CHANNELS, EMAIL, MAIL, PHONE, SMS

FIXED_ORDER: tuple[int, ...] = tuple(CHANNELS.index(c) for c in (SMS, EMAIL, SMS, PHONE, MAIL))
STRATEGIES: tuple[str, ...] = ("planned", "same channel", "fixed order", "single contact",
                               "best found")
Sequence = list[tuple[int, int]]  # (channel code, day offset from the first attempt)
# member positions, a sequence -> P(booking in the window) of each of those members
TruthFn = Callable[[np.ndarray, Sequence], np.ndarray]


def planned_channels(plan: pd.DataFrame, n: int) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Each member's planned channel codes in attempt order, and the attempts' day offsets.

    Args:
        plan: ``serving.targeting.sequences.plan_sequences`` output (``member``, ``attempt``,
            ``channel``, ``send_on``), sorted by member then attempt.
        n: members planned for.

    Returns:
        ``(channels, offsets)``: n tuples (empty: no attempt), and ``offsets[k - 1]`` the days
        from the first attempt to attempt k (the planner's gaps are the same for everyone).

    Raises:
        ValueError: when members' attempts do not share one schedule.
    """
    out: list[tuple[int, ...]] = [() for _ in range(n)]
    codes = pd.Index(CHANNELS).get_indexer(plan["channel"].astype(object))
    for member, group in pd.Series(codes).groupby(plan["member"].to_numpy()):
        out[int(member)] = tuple(int(c) for c in group.to_numpy())
    if plan.empty:
        return out, np.zeros(0, np.int64)
    days = plan["send_on"].to_numpy("M8[D]")
    first = days[plan["attempt"].to_numpy() == 1].min()
    offset = (days - first).astype(np.int64)
    per_attempt = pd.Series(offset).groupby(plan["attempt"].to_numpy()).agg(["min", "max"])
    if (per_attempt["min"] != per_attempt["max"]).any():
        raise ValueError("the plan's attempts do not share one schedule")
    return out, per_attempt["min"].to_numpy(np.int64)


def cycled(order: tuple[int, ...], n: int) -> tuple[int, ...]:
    """``order`` repeated until it has ``n`` attempts."""
    return tuple(order[i % len(order)] for i in range(n)) if order else ()


def fixed_order(allowed: np.ndarray, n: int) -> tuple[int, ...]:
    """The fixed order without the channels ``allowed`` (C,) excludes, repeated to ``n``."""
    return cycled(tuple(c for c in FIXED_ORDER if allowed[c]), n)


def strategy_channels(planned: list[tuple[int, ...]], allowed: np.ndarray
                      ) -> dict[str, list[tuple[int, ...]]]:
    """The channel sequence of each member under each strategy but ``best found``."""
    return {
        "planned": list(planned),
        "same channel": [p[:1] * len(p) for p in planned],
        "fixed order": [fixed_order(allowed[i], len(p)) for i, p in enumerate(planned)],
        "single contact": [p[:1] for p in planned],
    }


def candidate_orders(channels: int = len(CHANNELS)) -> list[tuple[int, ...]]:
    """Every order of every non-empty subset of the channels (64 for four)."""
    return [o for size in range(1, channels + 1) for o in permutations(range(channels), size)]


def true_probabilities(channels: list[tuple[int, ...]], offsets: np.ndarray,
                       truth: TruthFn) -> np.ndarray:
    """P(booking in the window) of each member under its channel sequence.

    Members sharing a sequence are asked in one call (the truth is vectorised over members).
    """
    out = np.full(len(channels), np.nan)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, seq in enumerate(channels):
        groups.setdefault(seq, []).append(i)
    for seq, members in groups.items():
        rows = np.asarray(members, np.int64)
        out[rows] = truth(rows, [(c, int(offsets[k])) for k, c in enumerate(seq)])
    return out


def best_found(planned: list[tuple[int, ...]], allowed: np.ndarray, offsets: np.ndarray,
               truth: TruthFn, floor: np.ndarray) -> np.ndarray:
    """Per member, the best P(booking) over the cyclic candidate orders and ``floor``.

    One truth call per (attempt count, candidate order), over the members with that count
    who allow every channel of the order.
    """
    best = np.asarray(floor, dtype=float).copy()
    counts = np.asarray([len(p) for p in planned])
    for n in np.unique(counts[counts > 0]):
        for order in candidate_orders(allowed.shape[1]):
            ok = (counts == n) & allowed[:, list(order)].all(axis=1)
            rows = np.flatnonzero(ok)
            if len(rows):
                seq = [(c, int(offsets[k])) for k, c in enumerate(cycled(order, int(n)))]
                best[rows] = np.maximum(best[rows], truth(rows, seq))
    return best


def evaluate_sequences(planned: list[tuple[int, ...]], allowed: np.ndarray,
                       offsets: np.ndarray, truth: TruthFn) -> dict:
    """Mean true P(booking) of every strategy, extra bookings per 1,000 and share of the best.

    Args:
        planned: each member's planned channel codes (:func:`planned_channels`); members
            with none are left out.
        allowed: (n, C) channels each member allows (the policy's).
        offsets: days from the first attempt to attempt k (index k - 1).
        truth: the true P(booking in the window) of members under a sequence.

    Returns:
        ``{"members", "no_contact", "strategies": {name: {"mean_p_book",
        "extra_per_1000", "share_of_best"}}, "attempts": {count: members}}``; the share is of
        the best's extra bookings over no contact.
    """
    keep = np.flatnonzero([len(p) > 0 for p in planned])
    planned = [planned[i] for i in keep]
    allowed = np.asarray(allowed, bool)[keep]

    def ask(rows: np.ndarray, seq: Sequence) -> np.ndarray:
        return truth(keep[rows], seq)

    none = ask(np.arange(len(keep)), []) if len(keep) else np.zeros(0)
    probs = {name: true_probabilities(seqs, offsets, ask)
             for name, seqs in strategy_channels(planned, allowed).items()}
    floor = np.max(np.vstack([none, *probs.values()]), axis=0) if len(keep) else none
    probs["best found"] = best_found(planned, allowed, offsets, ask, floor)
    base = float(none.mean()) if len(keep) else float("nan")
    best_gain = float(probs["best found"].mean()) - base if len(keep) else float("nan")
    strategies = {}
    for name in STRATEGIES:
        mean = float(probs[name].mean()) if len(keep) else float("nan")
        strategies[name] = {
            "mean_p_book": mean,
            "extra_per_1000": 1000.0 * (mean - base),
            "share_of_best": (mean - base) / best_gain if best_gain > 0 else float("nan"),
        }
    counts = pd.Series([len(p) for p in planned]).value_counts().sort_index()
    return {"members": int(len(keep)), "no_contact": base, "strategies": strategies,
            "attempts": {int(k): int(v) for k, v in counts.items()}}


def simulator_truth(raw: object, state: object, pop_rows: np.ndarray, window_days: int
                    ) -> TruthFn:
    """The demo clinic's exact truth for members at simulator rows ``pop_rows``.

    Args:
        raw: the clinic's ``RawRun``; ``state``: its ``truth.state_at`` on day T (the day
            before the first attempt); ``pop_rows``: each member's simulator row.
        window_days: the window, counted from the first attempt's day.
    """
    from features.simulator.truth_sequences import p_book_sequence

    def truth(rows: np.ndarray, seq: Sequence) -> np.ndarray:
        sl = np.asarray(pop_rows)[rows]
        return p_book_sequence(raw, state.take(sl), sl, seq, window_days)

    return truth


def table_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """The evaluation as printable rows: strategy, mean true P(booking), extra bookings per
    1,000 patients vs no contact, share of the best found."""
    rows = [("no contact", f"{result['no_contact']:.4f}", "0.0", "")]
    for name, s in result["strategies"].items():
        rows.append((name, f"{s['mean_p_book']:.4f}", f"{s['extra_per_1000']:.1f}",
                     f"{100 * s['share_of_best']:.0f}%"))
    return rows
