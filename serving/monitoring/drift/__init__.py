"""Has the data moved away from what the model learned? Evidently drift of a scored snapshot.

A scored snapshot (``training.scoring.score``) is compared with a reference: the sample of
training features kept in the model bundle, or another scored snapshot. Three questions,
each with a threshold in ``settings.monitoring``:

* **Features**: Evidently's per-column drift test on every model input; the run is flagged
  when the share of drifted columns reaches ``drifted_share_threshold``.
* **Scores**: the population stability index (PSI) of ``return_probability``; flagged from
  ``score_drift_threshold`` (0.1 is the usual "moderate shift" rule of thumb).
* **Channel mix**: total variation distance between the shares of each best channel;
  flagged from ``channel_shift_threshold``.

The output is an Evidently HTML report and a small JSON summary (the service's ``GET /drift``
returns it). Evidently is imported lazily: reading a summary must not cost its ~8 s import.
"""

from __future__ import annotations

from serving.monitoring.drift.checks import SCORE_COLUMN, ColumnPlan, plan_columns, prepare_frame
from serving.monitoring.drift.run import CHANNEL_COLUMN, channel_mix, run_drift
from serving.monitoring.drift.store import (
    bundle_reference,
    drift_after_scoring,
    drift_against_bundle,
    latest_summary,
    summary_paths,
)

__all__ = [
    "CHANNEL_COLUMN",
    "SCORE_COLUMN",
    "ColumnPlan",
    "bundle_reference",
    "channel_mix",
    "drift_after_scoring",
    "drift_against_bundle",
    "latest_summary",
    "plan_columns",
    "prepare_frame",
    "run_drift",
    "summary_paths",
]
