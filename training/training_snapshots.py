"""Training snapshots: (patient, as-of) rows with features at T and the label after T.

Why time splits are decided here: the only honest backtest trains on the past and scores the
future. For ``--as-of T`` every snapshot's label window ends by T; the latest windows are held
out for validation, the ones before them (whose labels were known when validation starts)
serve early stopping and calibration, and the model trains only on snapshots whose labels
were known before calibration starts. Nothing is ever split at random across time.

A short export (a clinic that changed systems a year ago) has no room for three windows that
do not overlap; :func:`short_split` then uses overlapping snapshot dates, cross-fits the
calibration and, at the very shortest, validates on held-out patients. The split says in
plain words what its backtest could and could not check (``AsOfSplit.validated`` /
``not_validated``); training, the bundle, MLflow and the evaluation carry those words.

Why a row cap: rows grow with patients x snapshot dates (a 1,000,000-patient clinic has
about 10M), and holding all of them needed ~36 GB. ``training.max_training_rows`` bounds
them: each date gets an equal share of the cap, and within a date the rows are sampled with
the same fraction from every (label, segment) stratum, with ``settings.seed`` — so every
as-of date is represented, the return rate and segment mix of each date are kept, and the
same seed gives the same rows. Features are computed one date at a time and only the sampled
rows are kept, floats stored as float32 (what the LightGBM matrix holds anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.readiness import scoring_problem
from features.export.tables import Tables
from features.pipeline.assemble import build_prepared
from features.pipeline.events import Prepared, prepare
from features.vocabulary import COMPLETED, as_timestamp
from training.context import add_context
from training.labels import label_known_by, prepared_return_labels


class InsufficientHistory(ValueError):
    """The export cannot train a model at the requested as-of date.

    Too short a history, no completed visit, or too few patients of either outcome; the
    message says what is needed. Such an export may still be scored with a trained model.
    """


SEPARATE = "separate windows"
CROSS_FITTED = "cross-fitted calibration"
HELD_OUT_PATIENTS = "held-out patients"


@dataclass(frozen=True)
class AsOfSplit:
    """As-of dates of one run, oldest first in each part, and how the run can be validated.

    ``mode`` is one of ``SEPARATE`` (calibration and validation windows each later than the
    training labels), ``CROSS_FITTED`` (validation is later than every training label; no
    room for a calibration window, so early stopping and calibration are cross-fitted over
    patient folds of the training rows) and ``HELD_OUT_PATIENTS`` (the model is pooled over
    every overlapping date up to the validation date and judged on patients it never saw,
    at the latest labelled date, over the same period it learned from).
    """

    train: list[pd.Timestamp]
    calibration: list[pd.Timestamp]
    validation: list[pd.Timestamp]
    as_of: pd.Timestamp
    horizon_days: int
    mode: str = SEPARATE

    @property
    def dates(self) -> list[pd.Timestamp]:
        """Every as-of date the run needs rows for, oldest first, each once."""
        return sorted({*self.train, *self.calibration, *self.validation})

    def validated(self) -> list[str]:
        """Plain statements of what the backtest of this split checks."""
        val = ", ".join(str(t.date()) for t in self.validation)
        if self.mode == HELD_OUT_PATIENTS:
            return [f"ranking and calibration on patients held out of training, as of {val}"]
        return [f"ranking and calibration on the latest labelled window ({val}), later than "
                "every training label"]

    def not_validated(self) -> list[str]:
        """Plain statements of what this split cannot check (empty with separate windows)."""
        if self.mode == CROSS_FITTED:
            return ["calibration cross-fitted over patient folds of the training dates: no "
                    "window later than the training data to fit it on"]
        if self.mode == HELD_OUT_PATIENTS:
            return ["no window later than the training data: the backtest does not show how "
                    "the model holds up as the clinic changes over time",
                    "calibration cross-fitted over patient folds of the same period"]
        return []

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description of the data window and of what could be validated."""
        return {
            "as_of": str(self.as_of.date()),
            "horizon_days": self.horizon_days,
            "train": [str(t.date()) for t in self.train],
            "calibration": [str(t.date()) for t in self.calibration],
            "validation": [str(t.date()) for t in self.validation],
            "validation_mode": self.mode,
            "validated": self.validated(),
            "not_validated": self.not_validated(),
        }


def _grid(first: pd.Timestamp, last: pd.Timestamp, min_history: int, step: int) -> list:
    """Dates ``last, last - step, ...`` down to ``min_history`` days after ``first``."""
    start = first + pd.Timedelta(days=min_history)
    every = pd.Timedelta(days=step)
    n = int((last - start) // every) + 1 if last >= start else 0
    return [last - k * every for k in range(n)][::-1]


def _first_visit(tables: Tables) -> pd.Timestamp | None:
    first = tables.visits["visit_at"].min()
    return None if pd.isna(first) else as_timestamp(first)


def labelled_as_ofs(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> list:
    """Grid of as-of dates whose label window ends by ``as_of``, oldest first.

    The grid is anchored at ``as_of - horizon`` and steps back every
    ``training.snapshot_every_days`` down to ``min_history_days`` after the first visit.
    """
    end, horizon = as_timestamp(as_of), settings.horizon_days
    first = _first_visit(tables)
    if first is None:
        return []
    cfg = settings.training
    dates = _grid(first, end - pd.Timedelta(days=horizon), cfg.min_history_days,
                  cfg.snapshot_every_days)
    return [d for d in dates if label_known_by(d, horizon, end)]


def trainable_split(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> AsOfSplit:
    """:func:`split_as_ofs`, after the checks that need no features: a completed visit to
    learn from (``features.export.readiness.scoring_problem``) and enough patients.

    Raises:
        InsufficientHistory: saying what the export lacks and what training needs.
    """
    problem = scoring_problem(tables, as_of) or _too_few_patients(tables, settings)
    if problem:
        raise InsufficientHistory(problem)
    return split_as_ofs(tables, as_of, settings)


def split_as_ofs(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> AsOfSplit:
    """Train / calibration / validation as-of dates for a run at ``as_of`` (see module doc).

    With enough history every part has its own window (``SEPARATE``). A shorter export
    falls back to :func:`short_split`.

    Raises:
        InsufficientHistory: when not even the short-history split has a date.
    """
    cfg, horizon = settings.training, settings.horizon_days
    dates = labelled_as_ofs(tables, as_of, settings)
    validation = dates[-cfg.validation_windows:] if dates else []
    cal_pool = [d for d in dates if validation and label_known_by(d, horizon, validation[0])]
    calibration = cal_pool[-cfg.calibration_windows:]
    train_pool = [d for d in cal_pool if calibration and label_known_by(d, horizon, calibration[0])]
    train = train_pool[-cfg.max_snapshots:]
    if train:
        return AsOfSplit(train, calibration, validation, as_timestamp(as_of), horizon)
    return short_split(tables, as_of, settings)


def short_split(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> AsOfSplit:
    """The split of an export too short for separate windows (``HELD_OUT_PATIENTS``).

    Dates every ``short_snapshot_every_days`` (their label windows overlap) from
    ``short_min_history_days`` after the first visit up to the latest labelled date
    V = T - H, which is the validation date. ``training.cross_fit`` trains on all of them,
    judged on patients held out, and - when some dates' labels are known by V - also on
    those alone, judged on V (``CROSS_FITTED``); the backtest keeps the better one.

    Raises:
        InsufficientHistory: when even V has less than ``short_min_history_days`` of history.
    """
    cfg, horizon, end = settings.training, settings.horizon_days, as_timestamp(as_of)
    first = _first_visit(tables)
    grid = [] if first is None else _grid(
        first, end - pd.Timedelta(days=horizon), cfg.short_min_history_days,
        cfg.short_snapshot_every_days)
    if not grid:
        need = cfg.short_min_history_days + horizon
        raise InsufficientHistory(
            f"visits: not enough history before {end.date()} to train with a {horizon}-day horizon: "
            f"at least {need} days from the first visit to the as-of date are needed "
            f"({cfg.short_min_history_days} days of history before the latest date whose "
            f"{horizon}-day outcome is known); 180 or more give a usable model. "
            f"{_visit_span(tables)} A trained model can still score this export."
        )
    return AsOfSplit(grid[-cfg.max_snapshots:], [], [grid[-1]], end, horizon, HELD_OUT_PATIENTS)


def _visit_span(tables: Tables) -> str:
    """What history the visits table holds, in one sentence."""
    days = tables.visits["visit_at"].dropna().dt.normalize()
    first, last = days.min().date(), days.max().date()
    if first == last:
        return f"The visits table has every visit on one day ({first})."
    return f"The visits table runs from {first} to {last} ({(last - first).days} days)."


def check_learnable(rows: pd.DataFrame, split: AsOfSplit, settings: Settings) -> None:
    """Refuse snapshot rows a model cannot learn from or be judged on, saying what is needed.

    A model learns who returns from patients who did and who did not, and the backtest
    needs both among the validation rows (the AUC compares them). Cross-fitting splits the
    patients into ``training.cross_fit_folds`` folds, so each outcome needs at least that
    many distinct patients, or a fold would hold none of it.

    Raises:
        InsufficientHistory: naming the dates, the counts found and the counts needed.
    """
    need = max(2, settings.training.cross_fit_folds)
    horizon = settings.horizon_days
    for part, dates in (("training and validation", split.dates),
                        ("validation", split.validation)):
        block = rows.loc[rows["as_of"].isin(dates)]
        returned = block.loc[block["label"] == 1, "patient_id"].nunique()
        stayed = block.loc[block["label"] == 0, "patient_id"].nunique()
        if min(returned, stayed) >= need:
            continue
        span = f"{min(dates).date()}" + (f" .. {max(dates).date()}" if len(dates) > 1 else "")
        raise InsufficientHistory(
            f"visits: too few patients to train on: the {part} snapshots as of {span} hold "
            f"{_patients(returned)} who returned within {horizon} days and {_patients(stayed)} "
            f"who did not; training needs at least {need} of each, so it needs more patients "
            "or a longer history. A trained model can still score this export."
        )


def _too_few_patients(tables: Tables, settings: Settings) -> str | None:
    """The cheap form of :func:`check_learnable`, before any feature is built."""
    need = max(2, settings.training.cross_fit_folds)
    visits = tables.visits
    n = visits.loc[visits["status"].eq(COMPLETED), "patient_id"].nunique()
    if n >= 2 * need:
        return None
    return (
        f"visits: too few patients to train on: {_patients(n)} with a completed visit; "
        f"training needs at least {2 * need} ({need} who returned within "
        f"{settings.horizon_days} days and {need} who did not). A trained model can still "
        "score this export."
    )


def _patients(n: int) -> str:
    return f"{n:,} patient{'s' if n != 1 else ''}"


def time_split_dates(split: AsOfSplit) -> list[pd.Timestamp]:
    """The dates of a short split whose labels are known by its validation date."""
    return [d for d in split.train if label_known_by(d, split.horizon_days, split.validation[0])]


def population(frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Boolean mask of the patients a snapshot (or a scoring run) is about.

    At least one completed visit before T, not deceased, and (unless
    ``training.include_booked``) no appointment already booked at T.
    """
    keep = frame["visits_lifetime"].fillna(0).to_numpy() > 0
    keep &= ~frame["deceased"].astype("boolean").fillna(False).to_numpy(bool)
    if not settings.training.include_booked:
        keep &= ~frame["has_booked_appointment"].astype("boolean").fillna(False).to_numpy(bool)
    return keep


def build_training_rows(
    tables: Tables,
    as_ofs: Sequence[str | pd.Timestamp],
    settings: Settings,
    prepared: Prepared | None = None,
) -> pd.DataFrame:
    """Labelled (patient, as-of) rows for each date of ``as_ofs``.

    The caller decides which dates may be used (see :func:`split_as_ofs`); labels here look
    at visits after each date.

    Returns:
        Frame with a default index and columns ``as_of``, ``patient_id``, ``clinic_id``,
        every feature of ``features.spec.FEATURE_NAMES``, the context columns of
        ``training.context``, and ``label`` (0/1: a completed
        visit on a day in T+1 … T+H); only the population of :func:`population`.
    """
    prepared = prepared if prepared is not None else prepare(tables)
    cap = settings.training.max_training_rows
    quota = cap // len(as_ofs) if cap and as_ofs else None
    frames, available = [], 0
    for k, as_of in enumerate(as_ofs):
        feats = build_prepared(prepared, as_of, settings)
        inside = population(feats, settings)
        returned = prepared_return_labels(prepared, as_of, settings.horizon_days)
        labels = returned[inside]
        available += len(labels)
        keep = np.flatnonzero(inside)[stratified_rows(
            labels, feats["segment"].to_numpy()[inside], quota, settings.seed + k)]
        feats = add_context(feats.iloc[keep], tables, as_of, settings.horizon_days, prepared)
        block = _compact(feats.reset_index())
        block.insert(0, "as_of", as_timestamp(as_of))
        block["label"] = returned[keep]
        frames.append(block)
    if not frames:
        raise InsufficientHistory("no as-of dates to build training rows for")
    rows = pd.concat(frames, ignore_index=True)
    rows.attrs["rows_available"] = available
    return rows


def stratified_rows(
    labels: np.ndarray, strata: np.ndarray, quota: int | None, seed: int
) -> np.ndarray:
    """Sorted positions of at most ``quota`` rows, the same fraction from every stratum.

    A stratum is one (label, segment) pair; each keeps ``round(fraction x size)`` rows drawn
    with ``seed`` (at least one from a non-empty stratum, so rare strata are not lost).
    ``quota=None`` or a quota at least the row count keeps every row.
    """
    n = len(labels)
    if quota is None or quota >= n:
        return np.arange(n)
    fraction = quota / n
    key = pd.Series(strata).astype(object).fillna("missing").astype(str) + "|" + pd.Series(
        labels).astype(str)
    codes, _ = pd.factorize(key)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    picked = []
    for code in range(codes.max() + 1):
        members = order[codes[order] == code]
        picked.append(members[: max(1, int(round(fraction * len(members))))])
    return np.sort(np.concatenate(picked))


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns as float32: half the memory, and LightGBM's matrix is float32 anyway."""
    floats = frame.select_dtypes("float64").columns
    return frame.astype(dict.fromkeys(floats, "float32"))
