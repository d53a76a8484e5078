"""The durable, append-only outcome store: campaigns, their members, and outcome events.

SQLite under the models directory by default (``<models_dir>/outcomes.db``, WAL journal and
``synchronous=FULL``, so a batch is on disk before the caller hears it was stored and a
``kill -9`` leaves either the whole batch or nothing); PostgreSQL or any SQLAlchemy database
through ``outcomes.store_url``.

Rows are only ever inserted. One call is one transaction. Events follow the idempotency-key
rule: an ``event_id`` already stored for the clinic with the same content hash is a
*duplicate* (counted, not stored again), with another hash a *conflict* (refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from features.config import Settings
from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES
from features.outcomes.database import from_micros, make_engine, to_micros
from features.outcomes.schema import campaign_members, campaigns, metadata, outcome_events
from features.store_paths import outcomes_db

_IN_CHUNK = 900  # below SQLite's default limit of bound parameters
_TIME_COLUMNS = {"assigned_at": "assigned_at_us", "at": "at_us", "appointment_at": "appointment_at_us"}


EVENT_COLUMNS: tuple[str, ...] = (
    "clinic_id", "event_id", "content_hash", "patient_id", "campaign_id", "channel", "type",
    "at_us", "revenue", "cost", "appointment_at_us",
)


# what the service's in-memory event log keeps of each event (``events_after``)
LOG_COLUMNS: tuple[str, ...] = (
    "clinic_id", "patient_id", "campaign_id", "channel", "type", "at_us", "revenue", "cost",
)


class CampaignExists(ValueError):
    """The clinic already has a campaign with that id."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one ``add_events`` call did.

    Attributes:
        accepted: events newly stored.
        duplicates: events whose ``event_id`` was stored before with the same content (or
            repeated within the batch).
        conflicts: positions (in the frame given) of events whose ``event_id`` is already
            stored with different content; none of them was stored.
        stored: positions of the events stored by this call.
        seqs: ``(before, last)``: the store's last ``seq`` before this batch and after it,
            when the batch got the ``seq`` values in between, in order (None: unknown, or
            nothing stored).
    """

    accepted: int
    duplicates: int
    conflicts: list[int] = field(default_factory=list)
    stored: list[int] = field(default_factory=list)
    seqs: tuple[int, int] | None = None


def store_url(settings: Settings) -> str:
    """The configured store URL, else the SQLite file in ``models_dir``."""
    if settings.outcomes.store_url:
        return settings.outcomes.store_url
    return f"sqlite:///{outcomes_db(settings.models_dir).resolve()}"


class OutcomeStore:
    """Append-only access to the outcome tables (created when missing).

    Args:
        url: SQLAlchemy URL of the database.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._insert_sql = (
            f"INSERT INTO outcome_events ({', '.join(EVENT_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(EVENT_COLUMNS))})"
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OutcomeStore:
        """The store the settings name (see :func:`store_url`)."""
        return cls(store_url(settings))

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # --- campaigns -------------------------------------------------------------------------

    def create_campaign(
        self,
        clinic_id: str,
        campaign_id: str,
        *,
        name: str | None,
        started_at: pd.Timestamp,
        holdout_share: float,
        seed: int,
        request: dict,
        members: pd.DataFrame,
    ) -> None:
        """Record a campaign and all its members in one transaction.

        Args:
            members: columns ``patient_id``, ``arm``, ``channel``; all get ``started_at`` as
                ``assigned_at``.

        Raises:
            CampaignExists: the clinic already has ``campaign_id`` (nothing is written).
        """
        started = to_micros(pd.Series([started_at]))[0]
        rows = [
            {"clinic_id": clinic_id, "campaign_id": campaign_id, "patient_id": str(pid),
             "assigned_at_us": started, "arm": str(arm), "channel": None if ch is None else str(ch)}
            for pid, arm, ch in zip(members["patient_id"], members["arm"], members["channel"],
                                    strict=True)
        ]
        try:
            with self.engine.begin() as con:
                con.execute(campaigns.insert().values(
                    clinic_id=clinic_id, campaign_id=campaign_id, name=name,
                    started_at_us=started, holdout_share=float(holdout_share), seed=int(seed),
                    request=json.dumps(request, sort_keys=True, default=str),
                ))
                if rows:
                    con.execute(campaign_members.insert(), rows)
        except sa.exc.IntegrityError:
            if self.campaign(clinic_id, campaign_id) is not None:
                raise CampaignExists(campaign_id) from None
            raise

    def campaign(self, clinic_id: str, campaign_id: str) -> dict | None:
        """The campaign's record (``started_at`` as a Timestamp, ``request`` parsed), or None."""
        query = sa.select(campaigns).where(
            campaigns.c.clinic_id == clinic_id, campaigns.c.campaign_id == campaign_id
        )
        with self.engine.connect() as con:
            row = con.execute(query).mappings().first()
        if row is None:
            return None
        record = dict(row)
        record["started_at"] = from_micros(pd.Series([record.pop("started_at_us")])).iloc[0]
        record["request"] = json.loads(record["request"])
        return record

    def campaign_ids(self, clinic_id: str) -> set[str]:
        """Ids of the clinic's campaigns."""
        query = sa.select(campaigns.c.campaign_id).where(campaigns.c.clinic_id == clinic_id)
        with self.engine.connect() as con:
            return {r[0] for r in con.execute(query)}

    def campaign_keys(self) -> list[tuple[str, str]]:
        """``(clinic_id, campaign_id)`` of every stored campaign."""
        query = sa.select(campaigns.c.clinic_id, campaigns.c.campaign_id)
        with self.engine.connect() as con:
            return [(r[0], r[1]) for r in con.execute(query)]

    # --- events ----------------------------------------------------------------------------

    def add_events(self, clinic_id: str, events: pd.DataFrame) -> BatchOutcome:
        """Store checked events of one clinic in one transaction.

        Args:
            events: normalised events (``features.outcomes.events.check_events``): the
                columns of ``OUTCOME_EVENT_DTYPES`` plus ``content_hash``.
        """
        if not len(events):
            return BatchOutcome(0, 0)
        ids = pd.Index(events["event_id"].astype(str).to_numpy(object))
        hashes = events["content_hash"].astype(str).to_numpy(object)
        with self.engine.begin() as con:
            stored = self._stored_hashes(con, clinic_id, ids.unique())
            fresh, duplicate, conflict = classify(ids, hashes, stored)
            seqs = None
            if fresh.any():
                last_sql = "SELECT COALESCE(MAX(seq), 0) FROM outcome_events"
                before = int(con.exec_driver_sql(last_sql).scalar_one())
                # Straight to the driver's executemany: SQLAlchemy's per-row parameter
                # processing would cost more than the insert itself on 10,000 rows.
                con.exec_driver_sql(self._insert_sql, _event_rows(clinic_id, events[fresh]))
                last = int(con.exec_driver_sql(last_sql).scalar_one())
                # contiguous under SQLite's write lock; a concurrent writer elsewhere breaks it
                seqs = (before, last) if last - before == int(fresh.sum()) else None
        return BatchOutcome(int(fresh.sum()), int(duplicate.sum()),
                            np.flatnonzero(conflict).tolist(), np.flatnonzero(fresh).tolist(),
                            seqs)

    def _stored_hashes(self, con: sa.Connection, clinic_id: str, ids: pd.Index) -> pd.Series:
        """Content hash of each of ``ids`` already stored for the clinic, by event id.

        One query per batch: SQLite reads the ids from a JSON array (``json_each``),
        PostgreSQL from an array parameter; other databases get ``IN`` lists in chunks.
        """
        dialect = self.engine.dialect.name
        table = "outcome_events"
        if dialect == "sqlite":
            rows = con.exec_driver_sql(
                f"SELECT event_id, content_hash FROM {table} WHERE clinic_id = ? AND event_id "
                "IN (SELECT value FROM json_each(?))",
                (clinic_id, json.dumps(ids.tolist())),
            ).fetchall()
        elif dialect == "postgresql":
            rows = con.exec_driver_sql(
                f"SELECT event_id, content_hash FROM {table} WHERE clinic_id = %s AND "
                "event_id = ANY(%s)",
                (clinic_id, ids.tolist()),
            ).fetchall()
        else:
            rows = []
            for chunk in _chunks(ids.tolist(), _IN_CHUNK):
                query = sa.select(outcome_events.c.event_id, outcome_events.c.content_hash).where(
                    outcome_events.c.clinic_id == clinic_id, outcome_events.c.event_id.in_(chunk))
                rows += con.execute(query).fetchall()
        found = pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype=object)
        return found

    # --- frames ----------------------------------------------------------------------------

    def members_frame(self, clinic_id: str | None = None, campaign_id: str | None = None,
                      columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Campaign members: ``clinic_id`` + the columns of ``CAMPAIGN_MEMBER_DTYPES``
        (or only ``columns`` of them)."""
        table = campaign_members
        query = sa.select(*_sources(table, CAMPAIGN_MEMBER_DTYPES, columns))
        if clinic_id is not None:
            query = query.where(table.c.clinic_id == clinic_id)
        if campaign_id is not None:
            query = query.where(table.c.campaign_id == campaign_id)
        return _frame(self.engine, query, CAMPAIGN_MEMBER_DTYPES)

    def events_frame(
        self, clinic_id: str | None = None, types: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Outcome events in storage order: ``clinic_id`` + the columns of
        ``OUTCOME_EVENT_DTYPES`` (or only ``columns`` of them: a million events read in
        seconds, so read only what is needed)."""
        table = outcome_events
        query = sa.select(*_sources(table, OUTCOME_EVENT_DTYPES, columns))
        if clinic_id is not None:
            query = query.where(table.c.clinic_id == clinic_id)
        if types is not None:
            query = query.where(table.c.type.in_(list(types)))
        return _frame(self.engine, query.order_by(table.c.seq), OUTCOME_EVENT_DTYPES)

    def events_after(self, seq: int, limit: int) -> tuple[int, list[tuple]]:
        """Up to ``limit`` events stored after ``seq`` (every clinic), in storage order.

        For the service's in-memory logs, which take in only the rows they have not seen:
        rows are ``LOG_COLUMNS`` tuples straight from the driver (``at_us`` in
        microseconds); the first value returned is the last row's ``seq`` (``seq`` itself
        when there is none).
        """
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (f"SELECT seq, {', '.join(LOG_COLUMNS)} FROM outcome_events WHERE seq > {mark} "
               f"ORDER BY seq LIMIT {int(limit)}")
        with self.engine.connect() as con:
            rows = con.exec_driver_sql(sql, (int(seq),)).fetchall()
        if not rows:
            return seq, []
        return int(rows[-1][0]), rows

    def count_events(self, clinic_id: str | None = None) -> int:
        """How many events are stored (for one clinic or all)."""
        query = sa.select(sa.func.count()).select_from(outcome_events)
        if clinic_id is not None:
            query = query.where(outcome_events.c.clinic_id == clinic_id)
        with self.engine.connect() as con:
            return int(con.execute(query).scalar_one())


def classify(ids: pd.Index, hashes: np.ndarray,
             stored: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each event of a batch as fresh, duplicate or conflict (boolean masks, batch order).

    An id stored before is compared with the stored hash; an id new to the store is fresh
    at its first position in the batch, and its repeats are compared with that first one.
    """
    known = stored.reindex(ids).to_numpy(object) if len(stored) else np.full(len(ids), None)
    new = pd.isna(known)
    first = ~ids.duplicated(keep="first")
    fresh = new & first
    # a repeat of a new id refers to the hash of that id's first position in the batch
    reference = known.copy()
    if (new & ~first).any():
        firsts = pd.Series(hashes[fresh], index=ids[fresh])
        repeats = new & ~first
        reference[repeats] = firsts.reindex(ids[repeats]).to_numpy(object)
    same = reference == hashes
    duplicate = ~fresh & same
    conflict = ~fresh & ~same
    return fresh, duplicate, conflict


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _nullable(values: np.ndarray, missing: np.ndarray) -> list:
    out = values.astype(object)
    out[missing] = None
    return out.tolist()


def _text_or_none(values: pd.Series) -> list:
    raw = values.to_numpy(object)
    return [v if type(v) is str else (None if v is None or (isinstance(v, float) and v != v)
                                      else str(v)) for v in raw]


def _micros(values: pd.Series) -> list:
    """Naive datetime values as microseconds since the epoch (None where missing)."""
    stamps = values.to_numpy(dtype="datetime64[ns]")
    return _nullable(stamps.view(np.int64) // 1000, np.isnat(stamps))


def log_values(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ``LOG_COLUMNS`` (but ``clinic_id``) of normalised events as the store holds them
    (text or None, ``at`` in whole microseconds, NaN for no amount): what
    ``events_after`` would read back."""
    out = {name: np.asarray(_text_or_none(events[name]) if len(events) else [], dtype=object)
           for name in ("patient_id", "campaign_id", "channel", "type")}
    out["at_us"] = events["at"].to_numpy(dtype="datetime64[ns]").view(np.int64) // 1000
    out["revenue"] = events["revenue"].to_numpy(dtype=float)
    out["cost"] = events["cost"].to_numpy(dtype=float)
    return out


def _event_rows(clinic_id: str, events: pd.DataFrame) -> list[tuple]:
    """Driver parameter tuples in ``EVENT_COLUMNS`` order (plain Python values)."""
    revenue = events["revenue"].to_numpy(dtype=float)
    cost = events["cost"].to_numpy(dtype=float)
    columns = {
        "event_id": _text_or_none(events["event_id"]),
        "content_hash": _text_or_none(events["content_hash"]),
        "patient_id": _text_or_none(events["patient_id"]),
        "campaign_id": _text_or_none(events["campaign_id"]),
        "channel": _text_or_none(events["channel"]),
        "type": _text_or_none(events["type"]),
        "at_us": _micros(events["at"]),
        "revenue": _nullable(revenue, np.isnan(revenue)),
        "cost": _nullable(cost, np.isnan(cost)),
        "appointment_at_us": _micros(events["appointment_at"]),
    }
    clinic = [clinic_id] * len(events)
    return list(zip(clinic, *(columns[c] for c in EVENT_COLUMNS[1:]), strict=True))


def _sources(table: sa.Table, dtypes: dict[str, str],
             columns: Sequence[str] | None) -> list[sa.Column]:
    """The table columns behind the wanted contract columns (``clinic_id`` always)."""
    wanted = [c for c in dtypes if columns is None or c in columns]
    return [table.c.clinic_id, *(table.c[_TIME_COLUMNS.get(c, c)] for c in wanted)]


def _frame(engine: sa.Engine, query: sa.Select, dtypes: dict[str, str]) -> pd.DataFrame:
    """Run ``query`` and give its contract columns (times back from microseconds).

    Rows come straight from the driver's cursor and each column is converted once as an
    array: no per-row SQLAlchemy processing, no per-value pandas conversion.
    """
    compiled = query.compile(engine, compile_kwargs={"render_postcompile": True})
    names = [c.name for c in query.selected_columns]
    with engine.connect() as con:
        params = compiled.construct_params()
        statement = str(compiled)
        if compiled.positiontup is not None:
            params = tuple(params[k] for k in compiled.positiontup)
        rows = con.exec_driver_sql(statement, params).fetchall()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    raw = dict(zip(names, values, strict=True))
    out: dict[str, object] = {"clinic_id": _objects(raw["clinic_id"])}
    for column, dtype in dtypes.items():
        source = _TIME_COLUMNS.get(column, column)
        if source not in raw:
            continue
        if source != column:
            out[column] = _stamps(raw[source])
        elif dtype == "float64":
            out[column] = np.array(raw[column], dtype=float) if rows else np.zeros(0)
        else:
            out[column] = _objects(raw[column])
    return pd.DataFrame(out)


def _objects(values: tuple) -> pd.Series:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return pd.Series(array, dtype=object)


def _stamps(values: tuple) -> np.ndarray:
    """Microseconds since the epoch (None: missing) -> naive ``datetime64[ns]``."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    missing = array == None  # noqa: E711 - elementwise on objects
    micros = np.where(missing, 0, array).astype(np.int64)
    stamps = (micros * 1000).view("datetime64[ns]")
    stamps[missing] = np.datetime64("NaT")
    return stamps
