"""SHAP contributions -> reasons in words a receptionist understands.

For each listed patient the strongest contributions (log-odds, from LightGBM's TreeSHAP) of
the score the list is ordered by - the return model's, or the uplift learner's patient part
(``training.bundle.ModelBundle.contributions``) - become reasons. A reason is shown only when
it moves the log-odds by at least ``serving.reason_min_effect``; the reasons pushing the
way of the patient's group come first, strongest first (``serving.targeting.kinds``:
"needs a nudge" is explained by what raises the uplift, "likely to come back on their own"
by what lowers it); the others follow, and never alone. Each reason is phrased from the
patient's own snapshot values, e.g. "8 months since the last botox; usually returns every
3-4 months" or "answered 2 of 3 texts".

Phrasing works per feature on all selected rows at once (vectorised); identical sentences of
one patient (two timing features saying the same thing) are kept once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from features.spec import BY_NAME
from features.vocabulary import CHANNELS
from serving.targeting import wording as w
from training.bundle import RETURN_BASIS, UPLIFT_BASIS

Phrase = Callable[[pd.DataFrame], pd.Series]


def _col(ctx: pd.DataFrame, name: str) -> pd.Series:
    if name in ctx.columns:
        return ctx[name]
    return pd.Series(np.nan, index=ctx.index)


def _num(ctx: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(_col(ctx, name), errors="coerce").astype(float)


def _since_last_visit(ctx: pd.DataFrame) -> pd.Series:
    service = w.label(_col(ctx, "last_service"), "visit")
    base = w.duration(_num(ctx, "days_since_last_visit")) + " since the last " + service
    interval = _num(ctx, "expected_interval_days")
    usual = "; usually returns " + w.every(interval)
    return w.choose(interval.notna(), base + usual, base)


def _overdue_ratio(ctx: pd.DataFrame) -> pd.Series:
    ratio = _num(ctx, "overdue_ratio")
    times = ratio.round(1).map(lambda r: f"{r:g}")
    late = "overdue: " + times + " times their usual gap since the last visit"
    interval = _num(ctx, "expected_interval_days")
    early = w.choose(
        interval.notna(),
        "not due yet: usually returns " + w.every(interval),
        pd.Series("not due yet", index=ctx.index),
    )
    return w.choose(ratio >= 1, late, early)


def _days_overdue(ctx: pd.DataFrame) -> pd.Series:
    d = _num(ctx, "days_overdue")
    late = w.duration(d) + " past their usual time to come back"
    early = "not due for another " + w.duration(-d)
    return w.choose(d > 0, late, early)


def _usual(name: str) -> Phrase:
    return lambda ctx: "usually returns " + w.every(_num(ctx, name))


def _count(name: str, noun: str, tail: str) -> Phrase:
    return lambda ctx: w.plural(_num(ctx, name), noun) + tail


def _days(name: str, template: str) -> Phrase:
    return lambda ctx: template + w.duration(_num(ctx, name)) + " ago"


def _flag(name: str, yes: str, no: str) -> Phrase:
    def phrase(ctx: pd.DataFrame) -> pd.Series:
        value = _num(ctx, name).fillna(0) > 0
        return w.choose(value, pd.Series(yes, index=ctx.index), pd.Series(no, index=ctx.index))

    return phrase


def _channel_phrases(channel: str) -> dict[str, Phrase]:
    one, many = w.CHANNEL_NOUNS[channel]

    def answered(ctx: pd.DataFrame) -> pd.Series:
        sent = _num(ctx, f"{channel}_sent").fillna(0)
        got = _num(ctx, f"{channel}_responses").fillna(0).round().astype(np.int64).astype(str)
        text = "answered " + got + " of " + w.plural(sent, one, many)
        return w.choose(sent > 0, text, pd.Series(f"never sent a {one} yet", index=ctx.index))

    def since(kind: str, verb: str) -> Phrase:
        def phrase(ctx: pd.DataFrame) -> pd.Series:
            d = _num(ctx, f"{channel}_days_since_last_{kind}")
            never = pd.Series(f"never {verb} a {one}", index=ctx.index)
            return w.choose(d.notna(), f"last {verb} a {one} " + w.duration(d) + " ago", never)

        return phrase

    def waiting(ctx: pd.DataFrame) -> pd.Series:
        n = _num(ctx, f"{channel}_attempts_since_response").fillna(0)
        text = w.plural(n, one, many) + " without an answer since the last reply"
        return w.choose(n > 0, text, pd.Series(f"answered the latest {one}", index=ctx.index))

    bookings = _num_phrase(
        f"{channel}_bookings", f"booked after a {one}", f"booked after {{}} {many}"
    )
    return {
        f"{channel}_sent": answered,
        f"{channel}_responses": answered,
        f"{channel}_response_rate": answered,
        f"{channel}_bookings": bookings,
        f"{channel}_days_since_last_contact": since("contact", "got"),
        f"{channel}_days_since_last_response": since("response", "answered"),
        f"{channel}_attempts_since_response": waiting,
    }


def _num_phrase(name: str, once: str, several: str) -> Phrase:
    def phrase(ctx: pd.DataFrame) -> pd.Series:
        n = _num(ctx, name).fillna(0).round().astype(np.int64)
        text = pd.Series(np.where(n == 1, once, several), index=ctx.index).astype(str)
        text = pd.Series([t.format(k) for t, k in zip(text, n, strict=True)], index=ctx.index)
        return w.choose(n > 0, text, pd.Series("never " + once, index=ctx.index))

    return phrase


_FEATURE_PHRASES: dict[str, Phrase] = {
    "days_since_last_visit": _since_last_visit,
    "overdue_ratio": _overdue_ratio,
    "days_overdue": _days_overdue,
    "expected_interval_days": _usual("expected_interval_days"),
    "gap_median_days": _usual("gap_median_days"),
    "gap_mean_days": _usual("gap_mean_days"),
    "gap_std_days": lambda ctx: (
        "visit timing varies by about " + w.duration(_num(ctx, "gap_std_days"))
    ),
    "visits_6m": _count("visits_6m", "visit", " in the last 6 months"),
    "visits_12m": _count("visits_12m", "visit", " in the last 12 months"),
    "episode_visits": _count("episode_visits", "visit", " in the current course of care"),
    "episodes_lifetime": _count("episodes_lifetime", "course", " of care so far"),
    "episode_interval_days": lambda ctx: "comes every " + w.duration(
        _num(ctx, "episode_interval_days")) + " during a course",
    "course_length_typical": _count("course_length_typical", "visit",
                                    " in a typical course here"),
    "episode_progress": lambda ctx: "has done " + w.share(
        _num(ctx, "episode_progress").clip(upper=1.0)) + " of a typical course",
    "episode_complete": _flag("episode_complete", "finished a typical course of care",
                              "a course of care is still under way"),
    "gap_cv": lambda ctx: pd.Series(np.where(_num(ctx, "gap_cv").to_numpy() < 0.25,
                                             "comes back very regularly",
                                             "comes back at irregular intervals"),
                                    index=ctx.index),
    "visits_24m": _count("visits_24m", "visit", " in the last 2 years"),
    "visits_lifetime": _count("visits_lifetime", "visit", " in total"),
    "tenure_days": lambda ctx: "a patient for " + w.duration(_num(ctx, "tenure_days")),
    "days_since_registration": _days("days_since_registration", "registered "),
    "last_service": lambda ctx: (
        "last treatment was " + w.label(_col(ctx, "last_service"), "unknown")
    ),
    "main_service": lambda ctx: "mostly comes for " + w.label(_col(ctx, "main_service"), "unknown"),
    "main_service_share": lambda ctx: (
        w.share(_num(ctx, "main_service_share"))
        + " of visits were "
        + w.label(_col(ctx, "main_service"), "one service")
    ),
    "distinct_services": _count("distinct_services", "different treatment", " so far"),
    "last_provider_active": _flag(
        "last_provider_active",
        "their last provider still sees patients here",
        "their last provider no longer sees patients here",
    ),
    "has_booked_appointment": _flag(
        "has_booked_appointment", "already has an appointment booked", "no appointment booked yet"
    ),
    "revenue_lifetime": lambda ctx: (
        "has spent " + w.money(_num(ctx, "revenue_lifetime")) + " in total"
    ),
    "revenue_12m": lambda ctx: (
        "spent " + w.money(_num(ctx, "revenue_12m")) + " in the last 12 months"
    ),
    "revenue_per_visit": lambda ctx: (
        "spends about " + w.money(_num(ctx, "revenue_per_visit")) + " per visit"
    ),
    "appointments_lifetime": _count("appointments_lifetime", "appointment", " booked so far"),
    "noshow_count": _num_phrase("noshow_count", "missed an appointment", "missed {} appointments"),
    "cancel_count": _num_phrase(
        "cancel_count", "cancelled an appointment", "cancelled {} appointments"
    ),
    "noshow_rate": lambda ctx: (
        "misses about " + w.share(_num(ctx, "noshow_rate")) + " of appointments"
    ),
    "cancel_rate": lambda ctx: (
        "cancels about " + w.share(_num(ctx, "cancel_rate")) + " of appointments"
    ),
    "age_years": lambda ctx: (
        "aged " + _num(ctx, "age_years").fillna(0).round().astype(np.int64).astype(str)
    ),
    "sex": lambda ctx: "sex: " + w.label(_col(ctx, "sex"), "unknown"),
}
# Built in one expression (no mutation at import): the per-feature phrases, then every
# channel's family of phrases.
PHRASES: dict[str, Phrase] = {
    **_FEATURE_PHRASES,
    **{name: phrase for channel in CHANNELS for name, phrase in _channel_phrases(channel).items()},
}


def phrase_feature(feature: str, ctx: pd.DataFrame) -> pd.Series:
    """Sentences about ``feature`` for every row of ``ctx`` (snapshot rows).

    Features without a dedicated phrase fall back to the feature list's meaning and unit.
    """
    if feature in PHRASES:
        return PHRASES[feature](ctx)
    spec = BY_NAME.get(feature)
    meaning = spec.meaning if spec else feature.replace("_", " ")
    values = _col(ctx, feature).astype(object).where(_col(ctx, feature).notna(), "unknown")
    return meaning[:1].lower() + meaning[1:] + ": " + values.astype(str)


def _python(value: object) -> str | float | int | bool | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | float | int | bool) else str(value)


BROUGHT_FORWARD = ", but a message now can bring the visit forward"

# Features that tell one story in different units form a topic: a row gets one reason per
# topic, carrying the topic's summed contribution (the story's whole effect) and the words
# of its strongest feature pushing the same way - so a list never says "not due for 8 days"
# and then "not due yet" again, and three small timing pieces can make one real reason.
TOPICS: dict[str, str] = {
    "days_since_last_visit": "timing",
    "days_overdue": "timing",
    "overdue_ratio": "timing",
    **{f"{ch}_{part}": f"{ch}_answers" for ch in CHANNELS
       for part in ("sent", "responses", "response_rate")},
}


def topic_members(feature: str, features: Sequence[str]) -> list[str]:
    """The features whose contributions a reason about ``feature`` sums (itself if alone)."""
    topic = TOPICS.get(feature)
    return [f for f in features if TOPICS.get(f) == topic] if topic else [feature]


def _fold_topics(c: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """Each topic's summed contribution on its representative column, zeros elsewhere."""
    out = c.copy()
    names = list(features)
    for topic in sorted(set(TOPICS.values())):
        cols = [j for j, f in enumerate(names) if TOPICS.get(f) == topic]
        if len(cols) < 2:
            continue
        part = c[:, cols]
        total = part.sum(axis=1)
        rep = np.argmax(part * np.where(total < 0, -1.0, 1.0)[:, None], axis=1)
        out[:, cols] = 0.0
        out[np.arange(len(c)), np.asarray(cols)[rep]] = total
    return out


def top_reasons(
    contributions: np.ndarray,
    features: Sequence[str],
    ctx: pd.DataFrame,
    max_reasons: int,
    min_effect: float = 0.0,
    direction: np.ndarray | int = 1,
    basis: str = RETURN_BASIS,
) -> list[list[dict]]:
    """The strongest reasons of each row, in words.

    Args:
        contributions: (n, len(features)) SHAP values in log-odds (bias column removed).
        features: model feature names, in column order of ``contributions``.
        ctx: the n snapshot rows (feature values and context columns), same order.
        max_reasons: reasons per row at most.
        min_effect: a reason must move the log-odds by at least this much (``serving.
            reason_min_effect``): weaker ones are filler ("aged 71") and are never shown.
        direction: per row (or one for all), +1 when the reasons should say why the score
            is high, -1 why it is low (``serving.targeting.kinds.reason_direction``).
        basis: what the contributions explain (``training.bundle``); explaining the uplift,
            "not due yet" raising it says what the learner means: the visit comes forward.

    Returns:
        One list per row of dicts ``feature``, ``value``, ``contribution``, ``text``: the
        reasons pushing the row's way first (strongest first), then the others; a row
        with no reason pushing its way gets none (a list headed by a reason against the
        patient's group would contradict it). See :func:`split_reasons`.
    """
    both = split_reasons(contributions, features, ctx, max_reasons, min_effect, basis)
    way = np.broadcast_to(np.asarray(direction), (len(both),))
    return [arrange(pair, int(d), max_reasons) for pair, d in zip(both, way, strict=True)]


def arrange(pair: tuple[Sequence[dict], Sequence[dict]], direction: int, k: int) -> list[dict]:
    """``k`` reasons from ``(raising, lowering)``: the row's way first, none against alone."""
    first, second = (pair[0], pair[1]) if direction >= 0 else (pair[1], pair[0])
    return [] if not first else [*first, *second][:k]


def split_reasons(
    contributions: np.ndarray,
    features: Sequence[str],
    ctx: pd.DataFrame,
    max_reasons: int,
    min_effect: float = 0.0,
    basis: str = RETURN_BASIS,
) -> list[tuple[tuple[dict, ...], tuple[dict, ...]]]:
    """Per row, up to ``max_reasons`` raising and up to ``max_reasons`` lowering reasons.

    Each is strongest first; topics are folded (:data:`TOPICS`), identical sentences kept
    once, and reasons under ``min_effect`` (or exactly zero) left out. The explanation
    store keeps these two lists per row so that any request's direction is a cheap pick.
    """
    n = len(ctx)
    if n == 0:
        return []
    c = _fold_topics(np.asarray(contributions, dtype=float), features)
    strong = (np.abs(c) >= min_effect) & (c != 0)
    key = np.where(strong, np.abs(c), -np.inf)
    width = min(c.shape[1], 4 * max_reasons)
    order = np.argsort(-key, axis=1, kind="stable")[:, :width]
    rows = np.repeat(np.arange(n), width)
    cols = order.ravel()
    keep = np.isfinite(key[rows, cols])
    long = pd.DataFrame(
        {"row": rows[keep], "col": cols[keep], "slot": np.tile(np.arange(width), n)[keep]}
    )
    long["contribution"] = c[long["row"], long["col"]]
    long["text"] = ""
    long["value"] = None
    names = np.asarray(features, dtype=object)
    for col, group in long.groupby("col", sort=False):
        feature = str(names[col])
        sub = ctx.iloc[group["row"].to_numpy()]
        long.loc[group.index, "text"] = phrase_feature(feature, sub).to_numpy()
        raw = sub[feature] if feature in sub.columns else pd.Series(None, index=sub.index)
        long.loc[group.index, "value"] = pd.Series(
            [_python(v) for v in raw], dtype=object
        ).to_numpy()
    long = long.sort_values(["row", "slot"]).drop_duplicates(["row", "text"])
    long["raising"] = long["contribution"] > 0
    if basis == UPLIFT_BASIS:  # the pull-forward story, in words (training.uplift)
        early = long["raising"] & long["text"].str.startswith("not due")
        long.loc[early, "text"] = long.loc[early, "text"] + BROUGHT_FORWARD
    long = long[long.groupby(["row", "raising"]).cumcount() < max_reasons]
    long["feature"] = names[long["col"].to_numpy()]
    out: list[tuple[list[dict], list[dict]]] = [([], []) for _ in range(n)]
    for record in long[["row", "raising", "feature", "value", "contribution",
                        "text"]].to_dict("records"):
        row, raising = record.pop("row"), record.pop("raising")
        out[row][0 if raising else 1].append(record)
    return [(tuple(up), tuple(down)) for up, down in out]
