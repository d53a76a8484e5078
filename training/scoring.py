"""Scoring: the champion bundle applied to every patient as of a date.

Why scoring is split from feature building: the feature build is the data layer's job and
its cost; :func:`score_features` is the part this layer owns (and benchmarks). It works on
numpy matrices (``training.matrix``) and predicts every channel from one matrix, so a
million patients score in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from features.config import Settings
from features.export.tables import Tables
from features.memory import release_memory
from features.pipeline.assemble import build_prepared
from features.pipeline.events import prepare
from features.vocabulary import CHANNELS, NO_CHANNEL_MODEL
from training.bundle import ModelBundle
from training.channel_choice import channel_labels, choose_channels, reachable_channels
from training.context import add_context
from training.matrix import to_matrix
from training.rank_score import rank_scores
from training.snapshot_schema import UPLIFT_COLUMNS, snapshot_column_names
from training.uplift.columns import uplift_columns


def score(
    tables: Tables, as_of: str | pd.Timestamp, bundle: ModelBundle, settings: Settings
) -> pd.DataFrame:
    """The scored snapshot of ``tables`` as of the end of day ``as_of``.

    Returns:
        See :func:`score_features`.
    """
    prepared = prepare(tables)  # once, for the features and the context
    frame = build_prepared(prepared, as_of, settings)
    horizon = int(bundle.window.get("horizon_days", settings.horizon_days))  # as trained
    frame = add_context(frame, tables, as_of, horizon, prepared)
    del prepared  # the sorted event logs are not needed to score
    release_memory()  # ... nor what building the features freed (features.memory)
    return score_features(frame, bundle, settings)


def score_features(
    frame: pd.DataFrame, bundle: ModelBundle, settings: Settings
) -> pd.DataFrame:
    """Scores for a feature frame of ``features.build`` plus ``training.context.add_context``.

    Only patients with at least one completed visit are scored (the model knows nothing of
    the others). Deceased, do-not-contact and booked patients are kept, with their flags:
    the contact policy in ``serving`` decides who may be listed. Their ``best_channel`` is
    ``none``: the channel choice (``training.channel_choice``) names no channel for a patient
    who may not be contacted.

    Returns:
        The scored columns of ``training.snapshot_schema`` (see ``docs/scored-snapshot.md``)
        except the stamps ``as_of`` and ``model_version``, which
        :func:`training.snapshot_schema.finish_snapshot` adds. ``best_channel`` is ``unknown``
        without a channel model; ``p_<channel>`` is NaN then.
    """
    keep = frame["visits_lifetime"].fillna(0).to_numpy() > 0
    frame = frame if keep.all() else frame.loc[keep]
    threads = settings.training.scoring_threads
    channel = bundle.channel_model
    k = len(bundle.features)
    # One float32 matrix for every booster: the return model and the uplift learner read
    # its first k columns (a view), the channel model writes its own columns after them.
    x_full = to_matrix(frame, bundle.features, bundle.levels,
                       spare=len(channel.features) - k if channel is not None else 0)
    x = x_full[:, :k]
    margin = bundle.return_model.margin_matrix(x, num_threads=threads)
    p_return = bundle.return_model.calibrator.transform(expit(margin))
    n = len(frame)
    allowed = reachable_channels(frame, settings)
    probs = channel.predict_in_place(x_full, bundle.features, threads) if channel is not None \
        else np.full((n, len(CHANNELS)), np.nan)
    revenue = pd.to_numeric(frame["expected_revenue_per_visit"], errors="coerce").to_numpy()
    uplift = uplift_columns(frame, x, bundle, settings,  # see training.uplift.columns
                            probs if channel is not None else None, allowed)
    if np.isfinite(uplift["incremental_value"]).any():  # one channel choice: by added value
        best = uplift["uplift_channel"]
    elif channel is not None:
        best = channel_labels(choose_channels(probs, allowed, settings))
    else:
        best = np.full(n, NO_CHANNEL_MODEL, dtype=object)
    columns: dict[str, object] = {
        "patient_id": frame.index.to_numpy(dtype=object),
        "clinic_id": frame["clinic_id"].to_numpy(dtype=object),
        "return_probability": p_return,
        "rank_score": rank_scores(margin, frame["overdue_ratio"]),
        "best_channel": best,
        **{f"p_{c}": probs[:, j] for j, c in enumerate(CHANNELS)},
        "expected_value": p_return * revenue,
        **{name: uplift[name] for name in UPLIFT_COLUMNS},
    }
    names = snapshot_column_names(stamped=False,
                                  window_days=settings.policy.max_contacts_window_days)
    for name in names:
        if name not in columns:
            columns[name] = _column(frame[name])
    # copy=False: one block per column, no consolidation - this frame is written out once.
    return pd.DataFrame({c: columns[c] for c in names}, copy=False)


def _column(values: pd.Series) -> object:
    """A passed-through column as is: numpy for numpy dtypes (wrapping them in pandas'
    array costs a NaN scan per object column), the extension array otherwise."""
    return values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
