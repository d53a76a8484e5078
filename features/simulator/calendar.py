"""The clinic's calendar: day numbers, opening days, seasonality and campaign dates.

The simulator counts time in whole days from ``start`` (day 0). Both the engine and the
oracle derive every calendar effect from these functions, so they agree to the day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.simulator.params import SimConfig


class Calendar:
    """Day-indexed calendar tables from ``start`` to ``n_days`` days after it.

    Attributes:
        start: midnight of day 0.
        season: booking-hazard multiplier per day (months, summer and year-end dips).
        next_open: for each day, the first day on or after it the clinic is open
            (closed on Sundays, Dec 25 and Jan 1).
    """

    def __init__(self, start: pd.Timestamp, n_days: int, cfg: SimConfig) -> None:
        self.start = pd.Timestamp(start).normalize()
        self.n_days = int(n_days)
        dates = pd.date_range(self.start, periods=self.n_days + 8, freq="D")
        month = dates.month.to_numpy()
        day = dates.day.to_numpy()
        season = np.asarray(cfg.month_season, dtype=np.float64)[month - 1]
        holiday = ((month == 12) & (day >= 20)) | ((month == 1) & (day <= 2))
        self.season = np.where(holiday, season * cfg.holiday_dip, season)
        closed = (
            (dates.dayofweek.to_numpy() == 6)
            | ((month == 12) & (day == 25))
            | ((month == 1) & (day == 1))
        )
        next_open = np.arange(len(dates))
        for i in range(len(dates) - 2, -1, -1):  # a few thousand days, once
            if closed[i]:
                next_open[i] = next_open[i + 1]
        self.next_open = next_open
        self.closed = closed

    def day_of(self, ts: str | pd.Timestamp) -> int:
        """Day number of a date (its midnight) relative to ``start``."""
        return int((pd.Timestamp(ts).normalize() - self.start).days)

    def visit_day(self, book_day: np.ndarray | int, lead: np.ndarray | int) -> np.ndarray:
        """The appointment day for a booking made on ``book_day`` with ``lead`` days ahead.

        A target on a closed day moves 0-5 days later (then to the next open day), spread by
        a fixed function of booking day and lead, so Sunday demand does not pile up on
        Mondays. Deterministic, so the oracle maps bookings to days exactly as the engine.
        """
        target = np.asarray(book_day) + np.asarray(lead)
        spread = (np.asarray(book_day) * 5 + np.asarray(lead) * 3) % 6
        return self.next_open[np.where(self.closed[target], target + spread, target)]

    def timestamps(self, day: np.ndarray, minute: np.ndarray) -> np.ndarray:
        """``datetime64[ns]`` values for day numbers and minutes after midnight."""
        base = np.datetime64(self.start.to_datetime64(), "ns")
        ns_day, ns_min = 86_400_000_000_000, 60_000_000_000
        offset = day.astype(np.int64) * ns_day + minute.astype(np.int64) * ns_min
        return base + offset.astype("timedelta64[ns]")


def campaign_days(cfg: SimConfig, last_day: int) -> np.ndarray:
    """Launch days of the quarterly win-back campaigns up to ``last_day``."""
    days = np.arange(cfg.campaign_first_day, last_day + 1, cfg.campaign_every_days)
    if cfg.campaigns_until_day is not None:
        days = days[days <= cfg.campaigns_until_day]
    return days
