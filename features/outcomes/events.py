"""Checking posted outcome events: one function shared by ``POST /outcomes`` and the CLI import.

An event is accepted only when every field holds (see ``docs/data-contract.md``, "Outcome
events"): a patient of the posting clinic, a campaign the clinic started (when one is named),
a channel for contact events, a time no later than the service clock plus
``outcomes.max_future_minutes``, revenue and cost >= 0, a type of ``OUTCOME_TYPES``.
A refused event is reported as ``{"index", "field", "reason"}``; reasons never quote the
event's values, so no patient id reaches an answer or a log.

Times: a timestamp with an offset is converted to the clinic's local time
(``outcomes.clinic_timezone``, default the server's zone) and stored naive; a naive timestamp
already is local time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import OUTCOME_EVENT_DTYPES
from features.outcomes.event_values import iso_text, local_times, missing, numbers, texts
from features.vocabulary import CHANNELS, CONTACT_EVENT_TYPES, OUTCOME_TYPES

MAX_ID_LENGTH = 200
MONEY_FIELDS: tuple[str, ...] = ("revenue", "cost")
TIME_RULE = "ISO 8601 timestamp (with offset, or naive = clinic local time)"


@dataclass(frozen=True)
class CheckedEvents:
    """Events split by the checks.

    Attributes:
        events: the accepted events, normalised: the columns of ``OUTCOME_EVENT_DTYPES`` (times
            local naive) plus ``content_hash`` and ``index`` (position in the input).
        rejected: one ``{"index", "field", "reason"}`` per refused event, in input order.
    """

    events: pd.DataFrame
    rejected: list[dict] = field(default_factory=list)


def clinic_zone(settings: Settings) -> ZoneInfo | None:
    """The clinic's zone (None: the server's local zone)."""
    name = settings.outcomes.clinic_timezone
    return ZoneInfo(name) if name else None


def clinic_now(settings: Settings) -> pd.Timestamp:
    """The service clock in clinic local time, naive (set back by ``outcomes.clock_shift_days``
    when the service replays a past day; never ahead of the real clock)."""
    zone = clinic_zone(settings)
    now = dt.datetime.now(zone) if zone else dt.datetime.now()
    shift = pd.Timedelta(days=settings.outcomes.clock_shift_days)
    return pd.Timestamp(now.replace(tzinfo=None)) + shift


class _Verdicts:
    """The first broken rule of each event: checks run in the contract's order, first wins."""

    def __init__(self, n: int) -> None:
        self.field = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)

    @property
    def open(self) -> np.ndarray:
        """Events no rule has refused yet."""
        return self.reason == None  # noqa: E711 - elementwise on objects

    def refuse(self, broken: np.ndarray, field_name: str | np.ndarray, reason: str) -> None:
        rows = broken & self.open
        self.field[rows] = field_name if isinstance(field_name, str) else field_name[rows]
        self.reason[rows] = reason


def _records(raw_events: list | pd.DataFrame) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Events as dicts, whether each was an object, and the first unknown field of each."""
    if isinstance(raw_events, pd.DataFrame):
        frame = raw_events.astype(object).where(raw_events.notna(), None)
        raw_events = frame.to_dict(orient="records")
    n = len(raw_events)
    objects = np.fromiter((isinstance(r, dict) for r in raw_events), dtype=bool, count=n)
    records = [r if ok else {} for r, ok in zip(raw_events, objects, strict=True)]
    unknown = np.full(n, None, dtype=object)
    for i, record in enumerate(records):
        if not _KNOWN.issuperset(record):  # rare: a field the contract does not have
            extra = [k for k, v in record.items() if k not in _KNOWN and not missing(v)]
            unknown[i] = str(extra[0]) if extra else None
    return records, objects, unknown


_KNOWN = frozenset(OUTCOME_EVENT_DTYPES)


def check_events(
    raw_events: list[dict] | pd.DataFrame,
    known_patients: pd.Index,
    known_campaigns: set[str],
    settings: Settings,
    now: pd.Timestamp | None = None,
) -> CheckedEvents:
    """Normalise and check posted events of one clinic, the whole batch at once.

    Each rule runs over every event's column; an event is refused for the first rule it
    breaks, in this order: an object, known fields, ``event_id``, ``type``, ``patient_id``,
    ``campaign_id``, ``channel``, ``at`` (present, readable), ``appointment_at`` (readable),
    ``at`` (not in the future), ``revenue``, ``cost``.

    Args:
        raw_events: the events as posted (dicts) or read from a file (a frame of raw values).
        known_patients: patient ids of the posting clinic (the served snapshot's).
        known_campaigns: campaign ids the clinic started.
        settings: ``outcomes`` section (zone, allowed clock skew).
        now: the service clock, local naive (default: :func:`clinic_now`).
    """
    zone = clinic_zone(settings)
    clock = clinic_now(settings) if now is None else pd.Timestamp(now)
    latest = clock + pd.Timedelta(minutes=settings.outcomes.max_future_minutes)
    records, objects, unknown = _records(raw_events)
    n = len(records)
    column = {name: [r.get(name) for r in records] for name in OUTCOME_EVENT_DTYPES}
    verdicts = _Verdicts(n)
    verdicts.refuse(~objects, "event", "not an object")
    verdicts.refuse(unknown != None, unknown, "not a field of outcome events")  # noqa: E711

    event_id = texts(column["event_id"])
    id_missing = event_id == None  # noqa: E711
    verdicts.refuse(id_missing, "event_id", "required")
    too_long = np.zeros(n, dtype=bool)
    too_long[~id_missing] = pd.Series(event_id[~id_missing], dtype=object).str.len().to_numpy() \
        > MAX_ID_LENGTH
    verdicts.refuse(too_long, "event_id", f"at most {MAX_ID_LENGTH} characters")
    kind = texts(column["type"], lower=True)
    verdicts.refuse(~pd.Index(kind).isin(OUTCOME_TYPES), "type", "one of " + ", ".join(OUTCOME_TYPES))
    patient = texts(column["patient_id"])
    no_patient = patient == None  # noqa: E711
    verdicts.refuse(no_patient, "patient_id", "required")
    verdicts.refuse(~no_patient & ~_isin(patient, known_patients), "patient_id",
                    "not a patient of this clinic")
    campaign = texts(column["campaign_id"])
    verdicts.refuse((campaign != None) & ~_isin(campaign, pd.Index(list(known_campaigns))),  # noqa: E711
                    "campaign_id", "not a campaign of this clinic")
    channel = texts(column["channel"], lower=True)
    no_channel = channel == None  # noqa: E711
    verdicts.refuse(no_channel & pd.Index(kind).isin(CONTACT_EVENT_TYPES), "channel",
                    "required for contact events")
    verdicts.refuse(~no_channel & ~_isin(channel, pd.Index(CHANNELS)), "channel",
                    "one of " + ", ".join(CHANNELS))
    at, at_missing, at_bad = local_times(column["at"], zone)
    verdicts.refuse(at_missing, "at", "required")
    verdicts.refuse(at_bad, "at", TIME_RULE)
    appointment, _, appointment_bad = local_times(column["appointment_at"], zone)
    verdicts.refuse(appointment_bad, "appointment_at", TIME_RULE)
    verdicts.refuse(at > np.datetime64(latest.to_datetime64(), "us"), "at",
                    "later than the service clock plus the allowed skew")
    money = {}
    for name in MONEY_FIELDS:
        values, absent, unreadable = numbers(column[name])
        verdicts.refuse(unreadable, name, "number")
        with np.errstate(invalid="ignore"):
            allowed = np.isfinite(values) & (values >= 0)
        verdicts.refuse(~absent & ~unreadable & ~allowed, name, f"{name} >= 0")
        money[name] = values

    keep = verdicts.open
    rows = np.flatnonzero(~keep)
    rejected = [{"index": int(i), "field": str(verdicts.field[i]), "reason": str(verdicts.reason[i])}
                for i in rows]
    events = pd.DataFrame({
        "event_id": pd.Series(event_id[keep], dtype=object),
        "patient_id": pd.Series(patient[keep], dtype=object),
        "campaign_id": pd.Series(campaign[keep], dtype=object),
        "channel": pd.Series(channel[keep], dtype=object),
        "type": pd.Series(kind[keep], dtype=object),
        "at": at[keep].astype("datetime64[ns]"),
        "revenue": money["revenue"][keep],
        "cost": money["cost"][keep],
        "appointment_at": appointment[keep].astype("datetime64[ns]"),
    })
    events["content_hash"] = pd.Series(_hashes(events, at[keep], appointment[keep]), dtype=object)
    events["index"] = np.flatnonzero(keep).astype(np.int64)
    return CheckedEvents(events=events, rejected=rejected)


def _isin(values: np.ndarray, allowed: pd.Index) -> np.ndarray:
    """Membership of each value (None is never a member of an id list).

    A unique index answers from its cached hash table (the served snapshot's patients are
    hashed once, not once per batch).
    """
    if not len(allowed) or not len(values):
        return np.zeros(len(values), dtype=bool)
    if allowed.is_unique:
        return allowed.get_indexer(values) >= 0
    return pd.Index(values, dtype=object).isin(allowed)


def _hashes(events: pd.DataFrame, at: np.ndarray, appointment: np.ndarray) -> list[str]:
    """SHA-256 of each accepted event's normalised content (everything but ``event_id``).

    The parts, joined by ``\\x1f`` with a missing part empty: patient, campaign, channel,
    type, ``at`` and ``appointment_at`` as ``datetime.isoformat()``, revenue and cost as
    ``repr(float)``. The stored hashes follow this spelling: it must never change, or a
    retried event would read as a conflict.
    """
    n = len(events)
    has_appointment = ~np.isnat(appointment)
    appointment_text = np.full(n, "", dtype=object)
    appointment_text[has_appointment] = iso_text(appointment[has_appointment])
    parts = [
        events["patient_id"].to_numpy(object), _blank(events["campaign_id"].to_numpy(object)),
        _blank(events["channel"].to_numpy(object)), events["type"].to_numpy(object),
        iso_text(at), appointment_text,
        _float_text(events["revenue"].to_numpy()), _float_text(events["cost"].to_numpy()),
    ]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "\x1f" + part
    sha = hashlib.sha256
    return [sha(text.encode()).hexdigest() for text in joined.tolist()]


def _blank(values: np.ndarray) -> np.ndarray:
    """Object array with None as the empty string (how a missing part enters the hash)."""
    out = values.copy()
    out[out == None] = ""  # noqa: E711 - elementwise on objects
    return out


def _float_text(values: np.ndarray) -> np.ndarray:
    """``repr(float(v))`` of each value, the empty string where missing."""
    return np.array(["" if v != v else repr(v) for v in values.tolist()], dtype=object)
