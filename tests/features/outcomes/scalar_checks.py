"""The event checks as first written, one event at a time: the oracle of the batch checks.

``features.outcomes.events.check_events`` checks a batch column by column for speed; this is
the original per-event code (kept only here), so a test can hold the two to the same answer
on every event, field, reason, normalised value and content hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import OUTCOME_EVENT_DTYPES
from features.outcomes.events import clinic_now, clinic_zone
from features.vocabulary import CHANNELS, CONTACT_EVENT_TYPES, OUTCOME_TYPES

MAX_ID_LENGTH = 200
TIME_FIELDS: tuple[str, ...] = ("at", "appointment_at")
MONEY_FIELDS: tuple[str, ...] = ("revenue", "cost")


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


def _missing(value: object) -> bool:
    if value is None:
        return True
    if type(value) is str:
        return not value.strip()
    if value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _local_time(value: object, zone: ZoneInfo | None) -> dt.datetime | None:
    """One timestamp (ISO text or datetime) as local naive time; None when it does not parse."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, str):
        text = value.strip()
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                value = pd.Timestamp(text).to_pydatetime()
            except (ValueError, TypeError):
                return None
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is not None:
        value = (value.astimezone(zone) if zone else value.astimezone()).replace(tzinfo=None)
    return value


def _text(value: object) -> str | None:
    if type(value) is str:  # the common case, first
        return value.strip() or None
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def content_hash(event: dict) -> str:
    """SHA-256 of an event's normalised content (everything but ``event_id``)."""
    parts = [
        event["patient_id"], event["campaign_id"], event["channel"], event["type"],
        event["at"].isoformat(),
        None if event["appointment_at"] is None else event["appointment_at"].isoformat(),
        None if event["revenue"] is None else repr(float(event["revenue"])),
        None if event["cost"] is None else repr(float(event["cost"])),
    ]
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def _check_one(
    raw: dict, known_patients: pd.Index, known_campaigns: set[str], latest: dt.datetime,
    zone: ZoneInfo | None,
) -> tuple[dict | None, tuple[str, str] | None]:
    """The normalised event, or the first (field, reason) that refuses it."""
    unknown = [k for k, v in raw.items() if k not in OUTCOME_EVENT_DTYPES and not _missing(v)]
    if unknown:
        return None, (str(unknown[0]), "not a field of outcome events")
    event_id = _text(raw.get("event_id"))
    if event_id is None:
        return None, ("event_id", "required")
    if len(event_id) > MAX_ID_LENGTH:
        return None, ("event_id", f"at most {MAX_ID_LENGTH} characters")
    kind = _text(raw.get("type"))
    kind = kind.lower() if kind else kind
    if kind not in OUTCOME_TYPES:
        return None, ("type", "one of " + ", ".join(OUTCOME_TYPES))
    patient = _text(raw.get("patient_id"))
    if patient is None:
        return None, ("patient_id", "required")
    if patient not in known_patients:
        return None, ("patient_id", "not a patient of this clinic")
    campaign = _text(raw.get("campaign_id"))
    if campaign is not None and campaign not in known_campaigns:
        return None, ("campaign_id", "not a campaign of this clinic")
    channel = _text(raw.get("channel"))
    channel = channel.lower() if channel else channel
    if channel is None and kind in CONTACT_EVENT_TYPES:
        return None, ("channel", "required for contact events")
    if channel is not None and channel not in CHANNELS:
        return None, ("channel", "one of " + ", ".join(CHANNELS))
    times: dict[str, dt.datetime | None] = {}
    for name in TIME_FIELDS:
        value = raw.get(name)
        if _missing(value):
            if name == "at":
                return None, ("at", "required")
            times[name] = None
            continue
        parsed = _local_time(value, zone)
        if parsed is None:
            return None, (name, "ISO 8601 timestamp (with offset, or naive = clinic local time)")
        times[name] = parsed
    if times["at"] > latest:
        return None, ("at", "later than the service clock plus the allowed skew")
    money: dict[str, float | None] = {}
    for name in MONEY_FIELDS:
        value = raw.get(name)
        if _missing(value):
            money[name] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, (name, "number")
        if not math.isfinite(number) or number < 0:
            return None, (name, f"{name} >= 0")
        money[name] = number
    event = {
        "event_id": event_id, "patient_id": patient, "campaign_id": campaign, "channel": channel,
        "type": kind, "at": times["at"], "revenue": money["revenue"], "cost": money["cost"],
        "appointment_at": times["appointment_at"],
    }
    return event, None


def scalar_check_events(
    raw_events: list[dict] | pd.DataFrame,
    known_patients: pd.Index,
    known_campaigns: set[str],
    settings: Settings,
    now: pd.Timestamp | None = None,
) -> CheckedEvents:
    """Normalise and check posted events of one clinic.

    Args:
        raw_events: the events as posted (dicts) or read from a file (a frame of raw values).
        known_patients: patient ids of the posting clinic (the served snapshot's).
        known_campaigns: campaign ids the clinic started.
        settings: ``outcomes`` section (zone, allowed clock skew).
        now: the service clock, local naive (default: :func:`clinic_now`).
    """
    if isinstance(raw_events, pd.DataFrame):
        frame = raw_events.astype(object).where(raw_events.notna(), None)
        raw_events = frame.to_dict(orient="records")
    zone = clinic_zone(settings)
    clock = clinic_now(settings) if now is None else pd.Timestamp(now)
    latest = (clock + pd.Timedelta(minutes=settings.outcomes.max_future_minutes)).to_pydatetime()
    accepted: list[dict] = []
    rejected: list[dict] = []
    for position, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            rejected.append({"index": position, "field": "event", "reason": "not an object"})
            continue
        event, problem = _check_one(raw, known_patients, known_campaigns, latest, zone)
        if problem is not None:
            rejected.append({"index": position, "field": problem[0], "reason": problem[1]})
            continue
        event["content_hash"] = content_hash(event)
        event["index"] = position
        accepted.append(event)
    return CheckedEvents(events=events_frame_of(accepted), rejected=rejected)


def events_frame_of(events: list[dict]) -> pd.DataFrame:
    """Normalised event dicts -> a frame in the contract dtypes (+ ``content_hash``, ``index``)."""
    names = [*OUTCOME_EVENT_DTYPES, "content_hash", "index"]
    columns: dict[str, object] = {}
    for column in names:
        values = [e[column] for e in events]
        dtype = OUTCOME_EVENT_DTYPES.get(column, "object")
        if dtype.startswith("datetime"):
            columns[column] = np.array(values, dtype="datetime64[ns]")
        elif dtype == "float64":
            columns[column] = np.array([np.nan if v is None else v for v in values], dtype=float)
        elif column == "index":
            columns[column] = np.array(values, dtype=np.int64)
        else:
            columns[column] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)
