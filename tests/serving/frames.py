"""Hand-made scored snapshots for the serving unit tests (documented snapshot columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.vocabulary import CHANNELS


def snapshot(
    n: int = 6, clinic_id: str = "north", seed: int = 0, **columns: object
) -> pd.DataFrame:
    """A small scored snapshot: every patient contactable unless ``columns`` say otherwise.

    Returns:
        Frame with ``patient_id``, ``clinic_id``, ``return_probability`` (decreasing with the
        patient number), ``p_<channel>``, ``expected_value``, ``segment``,
        ``days_since_last_visit``,
        ``last_service``, ``location_id``, ``last_provider_id``, the policy inputs and two model
        features (``visits_12m``, ``sms_responses``).
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": [f"{clinic_id}-p{i}" for i in range(n)],
            "clinic_id": clinic_id,
            "return_probability": np.linspace(0.9, 0.1, n),
            "expected_value": np.linspace(50.0, 500.0, n),
            "segment": pd.Series(["lapsing", "inactive", "dormant"] * n)[:n].to_numpy(),
            "days_since_last_visit": np.linspace(130, 900, n).round(),
            "last_service": pd.Series(["botox", "filler"] * n)[:n].to_numpy(),
            "location_id": pd.Series(["loc1", "loc2"] * n)[:n].to_numpy(),
            "last_provider_id": "dr_a",
            "do_not_contact": pd.array([False] * n, dtype="boolean"),
            "deceased": pd.array([False] * n, dtype="boolean"),
            "has_booked_appointment": pd.array([False] * n, dtype="boolean"),
            "days_since_last_contact": np.full(n, np.nan),
            "contacts_180d": np.zeros(n),
            "visits_12m": rng.integers(0, 5, n).astype(float),
            "sms_responses": rng.integers(0, 3, n).astype(float),
        }
    )
    for i, channel in enumerate(CHANNELS):
        frame[f"p_{channel}"] = 0.1 + 0.05 * i  # mail likeliest, sms least
        frame[f"consent_{channel}"] = pd.array([True] * n, dtype="boolean")
        frame[f"opted_out_{channel}"] = pd.array([False] * n, dtype="boolean")
    for name, value in columns.items():
        frame[name] = value
    frame["best_channel"] = "mail"
    return frame
