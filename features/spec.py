"""The declared feature list: every column ``features.build`` returns after ``clinic_id``.

Why declared here and not inferred from the frame: training versions this list with the
model bundle, serving explains features in words from it, and ``docs/features.md`` (the
analyst-readable list) is generated from it (see ``REGENERATE``; a test keeps the two
identical).

``model_input`` is False for current-state columns (consent, do_not_contact, deceased: they
describe the patient at the export date and would leak the future in past snapshots) and for
columns kept only for the contact policy, filters and reports. ``pooled`` marks columns that
depend on other patients of the clinic (priors learned at T), so removing one patient may
change them for the others.

One column's name depends on the settings: the contacts counted in the contact cap's window,
``contacts_<N>d`` with N = ``policy.max_contacts_window_days`` (the one window the features
count and the policy caps on, see ``features.config.PolicyConfig``). ``FEATURES``,
``FEATURE_NAMES`` and ``BY_NAME`` declare the default window; :func:`declared_features` and
:func:`feature_names` give the list for another window.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import pandas as pd

from features.config import PolicyConfig
from features.vocabulary import CHANNELS

Kind = Literal["numeric", "categorical", "flag"]
REGENERATE = (
    "python -c \"from features.spec import to_markdown; print(to_markdown(), end='')\" "
    "> docs/features.md"
)


@dataclass(frozen=True)
class FeatureSpec:
    """One feature column: what it means, its unit and how the model may use it."""

    name: str
    meaning: str
    unit: str
    kind: Kind
    model_input: bool
    family: str
    pooled: bool = False
    missing_flag: bool = False

    @property
    def dtype(self) -> str:
        """Column dtype: float64 for numbers (NaN = unknown), bool for flags that are never
        unknown, float64 0/1 for flags that can be, object for categories."""
        if self.kind == "categorical":
            return "object"
        if self.kind == "flag" and not self.missing_flag:
            return "bool"
        return "float64"


def _f(family: str, name: str, meaning: str, unit: str, kind: Kind = "numeric",
       model: bool = True, pooled: bool = False, missing_flag: bool = False) -> FeatureSpec:
    return FeatureSpec(name, meaning, unit, kind, model, family, pooled, missing_flag)


_CADENCE = [
    _f("cadence", "days_since_last_visit", "Days from the last completed visit to the as-of date",
       "days"),
    _f("cadence", "visits_6m", "Completed visits in the last 182 days", "visits"),
    _f("cadence", "visits_12m", "Completed visits in the last 365 days", "visits"),
    _f("cadence", "visits_24m", "Completed visits in the last 730 days", "visits"),
    _f("cadence", "visits_lifetime", "Completed visits ever", "visits"),
    _f("cadence", "tenure_days", "Days from the first completed visit to the as-of date", "days"),
    _f("cadence", "gap_median_days", "Median days between consecutive visit days", "days"),
    _f("cadence", "gap_mean_days", "Mean days between consecutive visit days", "days"),
    _f("cadence", "gap_std_days", "Spread (standard deviation) of the days between visits",
       "days"),
    _f("cadence", "expected_interval_days",
       "Expected days between visits: own median gap, pulled toward the clinic's typical gap "
       "after the last service when the patient has few visits", "days", pooled=True),
    _f("cadence", "overdue_ratio", "Days since the last visit divided by the expected interval",
       "ratio", pooled=True),
    _f("cadence", "days_overdue", "Days since the last visit minus the expected interval "
       "(negative: not due yet)", "days", pooled=True),
    _f("cadence", "last_service", "Service of the last completed visit", "service",
       "categorical"),
    _f("cadence", "main_service", "Most frequent service of the completed visits", "service",
       "categorical"),
    _f("cadence", "main_service_share", "Share of completed visits that were the main service",
       "share 0-1"),
    _f("cadence", "distinct_services", "Number of different services received", "services"),
    _f("cadence", "last_provider_id", "Provider of the last completed visit", "provider id",
       "categorical", model=False),
    _f("cadence", "last_provider_active",
       "Whether the last provider completed any visit in the clinic in the 90 days before the "
       "as-of date (1 yes, 0 no)", "yes/no", "flag", pooled=True, missing_flag=True),
    _f("cadence", "location_id", "Patient's home location, else the last visit's location",
       "location id", "categorical", model=False),
    _f("cadence", "has_booked_appointment",
       "A future appointment was already booked at the as-of date", "yes/no", "flag"),
]

_EPISODES = [
    _f("episodes", "episode_visits", "Visit days in the current episode of care (since the last "
       "gap longer than 3x the patient's median gap, at least 28 days)", "visits"),
    _f("episodes", "episodes_lifetime", "Episodes of care so far (runs of visits separated by "
       "such breaks)", "episodes"),
    _f("episodes", "episode_interval_days", "Median days between visits inside the current "
       "episode", "days"),
    _f("episodes", "course_length_typical", "The clinic's median length of finished episodes "
       "ending in the patient's last service (else of all its finished episodes), known at "
       "the as-of date", "visits", pooled=True),
    _f("episodes", "episode_progress", "Visits in the current episode divided by the typical "
       "course length", "ratio", pooled=True),
    _f("episodes", "episode_complete", "The current episode has reached the typical course "
       "length (1 yes, 0 no)", "yes/no", "flag", pooled=True, missing_flag=True),
    _f("episodes", "gap_cv", "Regularity: spread of the days between visits divided by their "
       "mean (0 = clockwork)", "ratio"),
]

_VALUE = [
    _f("value", "revenue_lifetime", "Revenue collected over all visits (fees included)",
       "currency"),
    _f("value", "revenue_12m", "Revenue collected in the last 365 days", "currency"),
    _f("value", "revenue_per_visit", "Revenue of completed visits divided by their number",
       "currency per visit"),
    _f("value", "expected_revenue_per_visit",
       "Revenue the next visit is expected to bring: own average, pulled toward the clinic's "
       "average for the last service", "currency per visit", model=False, pooled=True),
]

_RELIABILITY = [
    _f("reliability", "appointments_lifetime", "Past appointments: completed, no-shows and "
       "cancellations", "appointments"),
    _f("reliability", "noshow_count", "Past appointments the patient did not show up for",
       "appointments"),
    _f("reliability", "cancel_count", "Past appointments that were cancelled", "appointments"),
    _f("reliability", "noshow_rate", "No-show share, pulled toward the clinic's share",
       "share 0-1", pooled=True),
    _f("reliability", "cancel_rate", "Cancellation share, pulled toward the clinic's share",
       "share 0-1", pooled=True),
]

_SEGMENTS = [
    _f("segments", "segment", "Inactivity segment by calendar thresholds on days since the "
       "last visit (active, lapsing, inactive, dormant, lost)", "segment", "categorical",
       model=False),
    _f("segments", "segment_cadence", "Inactivity segment by the patient's own rhythm (overdue "
       "ratio); lost beyond the calendar 'lost' threshold", "segment", "categorical",
       model=False, pooled=True),
]


CHANNEL_WORDS: dict[str, str] = {
    "sms": "Text (SMS)", "email": "Email", "phone": "Phone call", "mail": "Letter",
}


DEFAULT_CONTACTS_WINDOW_DAYS: int = PolicyConfig.model_fields["max_contacts_window_days"].default


def contacts_column(window_days: int) -> str:
    """Name of the column counting contacts in the last ``window_days`` days."""
    return f"contacts_{int(window_days)}d"


def _channel_specs(window_days: int) -> list[FeatureSpec]:
    specs = [
        _f("channels", "days_since_last_contact", "Days since the last contact on any channel",
           "days", model=False),
        _f("channels", contacts_column(window_days), "Contacts on any channel in the last "
           f"{int(window_days)} days: the contact cap's window, `policy.max_contacts_window_days`"
           " (the column is named `contacts_<N>d` for it)", "contacts", model=False),
    ]
    for ch in CHANNELS:
        word = CHANNEL_WORDS[ch]
        specs += [
            _f("channels", f"{ch}_sent", f"{word} contacts sent", "contacts"),
            _f("channels", f"{ch}_responses", f"{word} contacts the patient responded to",
               "contacts"),
            _f("channels", f"{ch}_bookings", f"Bookings credited to {word} contacts "
               "(latest contact within the attribution window before the booking)", "bookings"),
            _f("channels", f"{ch}_response_rate", f"{word} response share, pulled toward "
               "the clinic's share for that channel", "share 0-1", pooled=True),
            _f("channels", f"{ch}_days_since_last_contact", f"Days since the last {word} "
               "contact", "days"),
            _f("channels", f"{ch}_days_since_last_response", f"Days since the last "
               f"{word} response", "days"),
            _f("channels", f"{ch}_attempts_since_response", f"{word} contacts sent since "
               "the last response (all of them if never answered)", "contacts"),
        ]
    for ch in CHANNELS:
        specs.append(_f("channels", f"opted_out_{ch}", f"Patient asked to stop "
                        f"{CHANNEL_WORDS[ch]} contacts", "yes/no", "flag", model=False))
    for ch in CHANNELS:
        specs.append(_f("channels", f"consent_{ch}", f"{CHANNEL_WORDS[ch]} contact allowed now "
                        "(current state; unknown: SMS no, others by configuration)", "yes/no",
                        "flag", model=False))
    return specs


_DEMOGRAPHICS = [
    _f("demographics", "age_years", "Age at the as-of date", "years"),
    _f("demographics", "sex", "Sex as exported", "category", "categorical"),
    _f("demographics", "days_since_registration", "Days since the patient registered", "days"),
    _f("demographics", "do_not_contact", "Never list for outreach (current state)", "yes/no",
       "flag", model=False),
    _f("demographics", "deceased", "Deceased (current state)", "yes/no", "flag", model=False),
]



@cache
def declared_features(contacts_window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS
                      ) -> tuple[FeatureSpec, ...]:
    """Every feature column, with the contacts column of that cap window."""
    return tuple(_CADENCE + _EPISODES + _VALUE + _RELIABILITY + _SEGMENTS
                 + _channel_specs(contacts_window_days) + _DEMOGRAPHICS)


def feature_names(contacts_window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS) -> tuple[str, ...]:
    """Names of :func:`declared_features`, in order (the columns ``build`` returns)."""
    return tuple(f.name for f in declared_features(contacts_window_days))


FEATURES: tuple[FeatureSpec, ...] = declared_features()
FEATURE_NAMES: tuple[str, ...] = feature_names()
MODEL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.model_input)
POOLED_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.pooled)
BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}


def family_columns(family: str, contacts_window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS
                   ) -> tuple[str, ...]:
    """Column names of one family, in declared order."""
    return tuple(f.name for f in declared_features(contacts_window_days) if f.family == family)


def typed_frame(values: dict[str, Any], index: pd.Index, family: str | None = None,
                contacts_window_days: int = DEFAULT_CONTACTS_WINDOW_DAYS) -> pd.DataFrame:
    """A family's frame (every feature when ``family`` is None): the declared columns, in
    order, each in its declared dtype; extra keys of ``values`` (like ``clinic_id``) first.

    Why: a column's dtype must not depend on the data (an empty group makes ``bincount``
    return integers, a missing table makes NaN), or frames of two as-of dates would differ.
    """
    declared = declared_features(contacts_window_days)
    known = {f.name for f in declared}
    data = {name: np.asarray(v) for name, v in values.items() if name not in known}
    data.update({f.name: np.asarray(values[f.name]).astype(f.dtype, copy=False)
                 for f in declared if family is None or f.family == family})
    # copy=False: the arrays are fresh, and consolidating 75 columns would copy them all again
    return pd.DataFrame(data, index=index, columns=list(data), copy=False)


def to_markdown() -> str:
    """The analyst-readable feature list (the content of ``docs/features.md``)."""
    lines = [
        "# Features",
        "",
        "One row per patient, computed as of a date T using only what was known by the end of",
        "day T (an event counts when its timestamp is before midnight after T). Empty means",
        "unknown (for example no completed visit yet, or the export lacks that column).",
        "\"Model\" says whether the prediction model uses the column; the others serve the",
        "contact policy, filters and reports. Consent, do-not-contact and deceased describe the",
        "patient at the export date, never the past.",
        "",
        f"Generated from `features/spec.py`: `{REGENERATE}`.",
        "",
    ]
    for family in dict.fromkeys(f.family for f in FEATURES):
        lines += [f"## {family.capitalize()}", "", "| column | meaning | unit | model |",
                  "|---|---|---|---|"]
        for f in FEATURES:
            if f.family == family:
                lines.append(f"| `{f.name}` | {f.meaning} | {f.unit} | "
                             f"{'yes' if f.model_input else 'no'} |")
        lines.append("")
    return "\n".join(lines)

