"""The oracle as files: what :func:`features.simulator.write_demo` writes under ``truth/``.

Why a reader here: the truth is the simulator's output, so the simulator owns its format.
Training takes a :class:`Truth` as an explicit input (``reactivate evaluate SOURCE --truth
DIR``) instead of looking beside an export for a folder of a conventional name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

RETURNS_FILE = "returns.parquet"
CHANNELS_FILE = "channels.parquet"
META_FILE = "meta.json"
CLINICS_KEY = "clinics"  # in meta.json: clinic id -> practice type (a group demo)


@dataclass(frozen=True)
class Truth:
    """The simulator's true probabilities (only the demo clinic has them).

    Attributes:
        returns: ``as_of``, ``patient_id``, ``p_return``.
        channels: ``as_of``, ``patient_id``, ``channel``, ``p_book`` (consented channels).
        clinics: each clinic's practice type (``meta.json`` of a group demo), else None.
    """

    returns: pd.DataFrame
    channels: pd.DataFrame
    clinics: dict[str, str] | None = None  # clinic id -> practice type, when the demo says


def read_truth(folder: str | Path) -> Truth:
    """Read the ``truth/`` folder written by ``write_demo`` (or ``reactivate demo-data``).

    Raises:
        FileNotFoundError: naming the folder and the missing file, when ``folder`` is not such
            a folder (a wrong ``--truth`` must not silently drop the oracle row).
    """
    folder = Path(folder)
    missing = [n for n in (RETURNS_FILE, CHANNELS_FILE) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a demo truth folder: {', '.join(missing)} missing "
            "(it is the truth/ folder that `reactivate demo-data` writes)"
        )
    returns = pd.read_parquet(folder / RETURNS_FILE)
    channels = pd.read_parquet(folder / CHANNELS_FILE)
    for frame in (returns, channels):
        frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.normalize()
        frame["patient_id"] = frame["patient_id"].astype(object)
    meta = folder / META_FILE
    clinics = json.loads(meta.read_text()).get(CLINICS_KEY) if meta.is_file() else None
    return Truth(returns, channels, clinics)
