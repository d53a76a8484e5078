"""One training run: snapshots, both models, baselines, evaluation, the bundle.

Why an orchestrator with no logic of its own: every step lives in its module (splits in
``snapshots``, models in ``return_model``/``channel_model``, the backtest in
``evaluation``); this file only wires them so the CLI, the notebook and the tests run the
very same sequence. No MLflow here: logging and registering is ``training.registry``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.memory import release_memory
from features.pipeline.events import prepare
from features.simulator.truth_files import Truth
from features.spec import feature_names
from features.vocabulary import as_timestamp
from training.attempt_model import fit_attempt_factors
from training.bundle import ModelBundle
from training.channel_model import fit_channel_model
from training.contact_rows import build_contact_rows
from training.context import CONTEXT_FEATURES
from training.cross_fit import fit_short_history
from training.evaluation import (
    channel_ranking,
    channel_table,
    quality_bars,
    return_forecasts,
    return_table,
)
from training.group_evaluation import by_group
from training.labels import label_known_by
from training.return_model import fit_return_model
from training.training_snapshots import (
    SEPARATE,
    AsOfSplit,
    build_training_rows,
    check_learnable,
    trainable_split,
)
from training.uplift.training_step import uplift_step

StepCallback = Callable[[str], None]
STEPS: tuple[str, ...] = (
    "snapshots", "return model", "channel model", "uplift model", "baselines", "bundle",
)


@dataclass
class TrainResult:
    """What a run produced: the bundle, its data window and the backtest."""

    bundle: ModelBundle
    split: AsOfSplit
    validation: pd.DataFrame
    evaluation: dict[str, object]
    timings: dict[str, float] = field(default_factory=dict)
    p_validation: np.ndarray | None = None  # the backtest's probabilities (out-of-fold when
    # the split holds out patients: the bundle itself has seen those rows)


def train(
    tables: Tables,
    as_of: str | pd.Timestamp,
    settings: Settings,
    truth: Truth | None = None,
    on_step: StepCallback | None = None,
) -> TrainResult:
    """Train and backtest on the history known at the end of day ``as_of``.

    Args:
        tables: the validated export (not modified).
        as_of: T; every label window used ends by T.
        settings: the product settings.
        truth: the simulator's truth, for the oracle rows of the evaluation (demo only).
        on_step: called with each name of ``STEPS`` before it runs (progress display).
    """
    marks: list[tuple[str, float]] = []

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)
        marks.append((name, time.perf_counter()))

    step("snapshots")
    T = as_timestamp(as_of)
    split = trainable_split(tables, T, settings)
    dates = split.dates
    if not all(label_known_by(d, settings.horizon_days, T) for d in dates):
        raise AssertionError("a label window crosses the training as-of date")
    prepared = prepare(tables)
    rows = build_training_rows(tables, dates, settings, prepared)
    check_learnable(rows, split, settings)
    part = {name: rows.loc[rows["as_of"].isin(getattr(split, name))].reset_index(drop=True)
            for name in ("train", "calibration", "validation")}
    available = int(rows.attrs.get("rows_available", len(rows)))
    counts = {k: int(len(v)) for k, v in part.items()}
    if split.mode == SEPARATE:
        del rows  # the parts hold every row: do not keep a million-row frame twice
    release_memory()  # what each snapshot date's feature build freed (features.memory)

    step("return model")
    choice: dict[str, object] | None = None
    if split.mode == SEPARATE:
        model = fit_return_model(part["train"], part["calibration"], settings)
        validation, rule_rows = part["validation"], part["calibration"]
        p_val = model.predict(validation)
    else:  # a short export: cross-fitted (see training.cross_fit)
        short = fit_short_history(rows, split, settings)
        model, validation, p_val = short.model, short.validation, short.p_validation
        rule_rows, choice, split = short.rule_rows, short.choice, short.split

    step("channel model")
    contacts = build_contact_rows(tables, prepared, split.validation[0], settings)
    release_memory()  # one feature build per grid date: gigabytes of freed columns held
    channel = fit_channel_model(contacts, model.features, model.levels, settings)
    ranking = channel_ranking(contacts)
    attempts = fit_attempt_factors(tables.contacts, T, settings.seed)

    step("uplift model")
    history = pd.concat([part["train"], part["calibration"]], ignore_index=True)
    uplift, uplift_report = uplift_step(
        tables, prepared, history, contacts, split.validation[0], T, model, channel,
        validation, p_val, truth, settings)
    # Nothing after this needs the sorted event logs or the training rows: the baselines
    # and the bundle run at the end of a million-patient run, when memory peaked.
    n_contacts = int(len(contacts))
    contacts_available = int(contacts.attrs.get("contacts_available", n_contacts))
    del prepared, history, contacts, part
    rows = None  # a short export's cross-fit kept every row (deleted above otherwise)
    release_memory()

    step("baselines")
    # One set of forecasts (BG/NBD fitted once per validation date) for both tables.
    forecasts = return_forecasts(validation, rule_rows, p_val, tables.visits,
                                 settings.horizon_days, truth)
    table = return_table(validation, rule_rows, p_val, tables.visits,
                         settings.horizon_days, truth, forecasts=forecasts)
    p_chan = channel.predict(validation) if channel is not None else None
    channels = channel_table(validation, p_chan, ranking, truth)
    evaluation = {"return": table, "channels": channels, "bars": quality_bars(table, channels),
                  "validation": validation_summary(split, table, choice),
                  "uplift": uplift_report,
                  "by_practice": by_group(validation, rule_rows, p_val, tables.visits,
                                          settings.horizon_days, truth, forecasts=forecasts)}

    step("bundle")
    window = split.to_dict() | {
        "rows": counts | {"validation": int(len(validation))},
        "model_choice": choice,
        "not_validated": evaluation["validation"]["not_validated"],
        "rows_available": available,
        "max_training_rows": int(settings.training.max_training_rows),
        "contacts": n_contacts,
        "contacts_available": contacts_available,
        "max_contact_rows": int(settings.training.max_contact_rows),
        "return_trees": int(model.booster.num_trees()),
        "channel_trees": int(channel.booster.num_trees()) if channel else 0,
    }
    bundle = ModelBundle(
        return_model=model,
        channel_model=channel,
        reference=_reference(validation, p_val, settings),
        metrics=evaluation,
        window=window,
        settings=settings.model_dump(mode="json"),
        channel_ranking=ranking,
        created_at=pd.Timestamp.now("UTC").isoformat(timespec="seconds"),
        uplift_model=uplift,
        attempt_factors=attempts,
    )
    step("done")
    timings = {a[0]: round(b[1] - a[1], 3) for a, b in zip(marks, marks[1:], strict=False)}
    return TrainResult(bundle, split, validation, evaluation, timings, p_val)


def validation_summary(
    split: AsOfSplit, table: dict[str, dict[str, float]], choice: dict[str, object] | None
) -> dict[str, object]:
    """What this run's backtest could check and what not, in plain words.

    Adds a warning when BG/NBD beats the model on the backtest (AUC or Brier), so a short
    export's weak model is never shipped silently.
    """
    not_validated = split.not_validated()
    model, bg = table["model"], table.get("bgnbd")
    if bg is not None and (bg["auc"] > model["auc"] or bg["brier"] < model["brier"]):
        not_validated = [*not_validated, (
            f"BG/NBD beats the model on this backtest (AUC {bg['auc']:.3f} vs "
            f"{model['auc']:.3f}, Brier {bg['brier']:.4f} vs {model['brier']:.4f})")]
    return {"mode": split.mode, "validated": split.validated(),
            "not_validated": not_validated, "model_choice": choice}


def _reference(validation: pd.DataFrame, p: np.ndarray, settings: Settings) -> pd.DataFrame:
    """A seeded sample of validation rows with their scores: the drift reference."""
    frame = validation[["clinic_id", *feature_names(settings.policy.max_contacts_window_days),
                        *CONTEXT_FEATURES, "label"]].assign(
        return_probability=p)
    n = min(settings.monitoring.reference_rows, len(frame))
    return frame.sample(n=n, random_state=settings.seed).reset_index(drop=True)
