"""The outcome store's tables (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Times are stored as integer microseconds since 1970-01-01 of the clinic's *local* naive time
(the contract's time), so a million events read back into ``datetime64`` columns without one
Python ``datetime`` per value, and SQLite and PostgreSQL hold the very same numbers. Every
table is keyed by ``clinic_id`` first: two clinics may use the same campaign, event or
patient ids without meeting.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("clinic_id", sa.String(200), primary_key=True),
    sa.Column("campaign_id", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(500), nullable=True),
    sa.Column("started_at_us", sa.BigInteger, nullable=False),
    sa.Column("holdout_share", sa.Float, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("request", sa.Text, nullable=False),  # the /rank fields, JSON
)

campaign_members = sa.Table(
    "campaign_members",
    metadata,
    sa.Column("clinic_id", sa.String(200), primary_key=True),
    sa.Column("campaign_id", sa.String(200), primary_key=True),
    sa.Column("patient_id", sa.String(200), primary_key=True),
    sa.Column("assigned_at_us", sa.BigInteger, nullable=False),
    sa.Column("arm", sa.String(20), nullable=False),
    sa.Column("channel", sa.String(20), nullable=True),
)

outcome_events = sa.Table(
    "outcome_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("clinic_id", sa.String(200), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.String(200), nullable=False),
    sa.Column("campaign_id", sa.String(200), nullable=True),
    sa.Column("channel", sa.String(20), nullable=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("at_us", sa.BigInteger, nullable=False),
    sa.Column("revenue", sa.Float, nullable=True),
    sa.Column("cost", sa.Float, nullable=True),
    sa.Column("appointment_at_us", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("clinic_id", "event_id", name="uq_outcome_events_clinic_event"),
)
