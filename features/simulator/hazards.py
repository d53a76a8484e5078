"""The daily probabilities of the clinic model, shared by the engine and the oracle.

Keeping them in one place is what makes the ground truth exact: ``truth`` recomputes the
same hazards the engine drew from, day by day.
"""

from __future__ import annotations

import numpy as np

from features.simulator.params import DECEASED, SimConfig


def booking_hazard(
    gap: np.ndarray, mu: np.ndarray, bmax: np.ndarray, season: float, cfg: SimConfig
) -> np.ndarray:
    """Daily chance an engaged patient without an appointment books one, before outreach.

    It ramps up (logistic) as the days since the last completed visit (``gap``) approach the
    patient's own cadence ``mu`` minus a typical lead time, plateaus at ``bmax`` (most
    patients book within weeks of being due), then fades once they are well overdue: a
    patient who let it slip keeps putting it off (only ``forget_floor`` of the plateau is
    left), which is where a reminder makes the difference. Zero within ``min_gap_days``.
    """
    gap = np.asarray(gap, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    b = bmax / (1.0 + np.exp((mu - 10.0 - gap) / (0.1 * mu + 3.0))) * season
    late = gap - mu - cfg.overdue_grace_days
    m = late > 0  # the fade only touches the (few) well-overdue patients
    if m.any():
        fade = np.exp(-late[m] / (cfg.forget_scale * mu[m]))
        b[m] *= cfg.forget_floor + (1.0 - cfg.forget_floor) * fade
    b[gap < cfg.min_gap_days] = 0.0
    return b


def with_uplift(
    base: np.ndarray, rate: np.ndarray, start: np.ndarray, until: np.ndarray, day: int
) -> np.ndarray:
    """Combine the base booking hazard with an active outreach uplift on ``day``."""
    u = np.where((start <= day) & (day <= until), rate, 0.0)
    return 1.0 - (1.0 - base) * (1.0 - u)


def churn_hazard(h0: np.ndarray, left_day: np.ndarray, day: int, cfg: SimConfig) -> np.ndarray:
    """Daily chance an engaged patient silently stops coming for good.

    Raised for ``provider_leave_hazard_days`` after their usual provider left.
    """
    since = day - left_day
    raised = (since >= 0) & (since < cfg.provider_leave_hazard_days)
    return np.where(raised, h0 * cfg.provider_leave_hazard_mult, h0)


def daily_from_window(p_window: float | np.ndarray, days: int | np.ndarray) -> np.ndarray:
    """The constant daily hazard that gives probability ``p_window`` over ``days`` days."""
    return 1.0 - np.power(1.0 - np.asarray(p_window, dtype=np.float64), 1.0 / np.asarray(days))


def uplift_rates(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per channel: daily uplift if the patient responded, and if not.

    Calibrated so an engaged, free patient's booking chance within the attribution window
    (from the day the message lands) is about ``book_if_responded`` /
    ``book_if_not_responded`` on top of their own booking hazard.
    """
    delay = np.asarray(cfg.response_delay_days)
    days = cfg.attribution_days - delay
    responded = daily_from_window(np.asarray(cfg.book_if_responded), days)
    silent = daily_from_window(cfg.book_if_not_responded, days)
    return responded, np.asarray(silent, dtype=np.float64)


def combine_uplift(
    old_rate: np.ndarray,
    old_start: np.ndarray,
    old_until: np.ndarray,
    new_rate: np.ndarray,
    day: int,
    delay: np.ndarray,
    cfg: SimConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uplift state after a contact sent in the morning of ``day``.

    A still-active uplift keeps its start and the larger rate wins; the window always runs
    ``attribution_days`` from the new contact.
    """
    active = old_until >= day
    rate = np.where(active, np.maximum(old_rate, new_rate), new_rate)
    start = np.where(active, old_start, day + delay)
    until = np.full_like(old_until, day + cfg.attribution_days - 1)
    return rate, start, until


def response_prob(
    channel: np.ndarray | int,
    age: np.ndarray,
    responsiveness: np.ndarray,
    engaged: np.ndarray,
    reason: np.ndarray,
    cfg: SimConfig,
    deaf: np.ndarray | None = None,
    unanswered: np.ndarray | None = None,
) -> np.ndarray:
    """Chance a contact on ``channel`` gets any reaction (reply, click, answered call, card).

    Younger patients answer texts and emails more, older ones calls and letters; a silently
    churned patient rarely reacts and a deceased one never does. Repeated attempts wear off
    (the guide's follow-up fatigue): ``unanswered`` (k, 4) counts the earlier attempts of the
    same campaign left without a reaction, per channel; each one on the same channel
    multiplies the chance by ``fatigue_same``, each one on another by ``fatigue_other``. A
    patient's ``deaf`` channel (-1: none) is never answered.
    """
    base = np.asarray(cfg.response_base)[channel]
    slope = np.asarray(cfg.response_age_slope)[channel]
    p = base * np.exp(slope * (age - 50.0) / 15.0) * responsiveness
    p = np.where(engaged, p, np.where(reason == DECEASED, 0.0, p * cfg.churned_response_factor))
    if unanswered is not None:
        p = p * fatigue_factor(channel, unanswered, cfg)
    if deaf is not None:
        p = np.where(np.asarray(deaf) == channel, 0.0, p)
    return np.clip(p, 0.0, 0.9)


def fatigue_factor(channel: np.ndarray | int, unanswered: np.ndarray,
                   cfg: SimConfig) -> np.ndarray:
    """How much earlier unanswered attempts (k, 4) lower the pull of one on ``channel``."""
    unanswered = np.asarray(unanswered, dtype=np.float64)
    k = len(unanswered)
    same = unanswered[np.arange(k), np.broadcast_to(np.asarray(channel), (k,))]
    other = unanswered.sum(axis=1) - same
    return np.power(cfg.fatigue_same, same) * np.power(cfg.fatigue_other, other)


def lead_pmf(cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """Lead times (days between booking and appointment) and their probabilities."""
    probs = np.asarray(cfg.lead_probs, dtype=np.float64)
    return np.asarray(cfg.lead_days), probs / probs.sum()
