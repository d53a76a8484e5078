"""Every scored-snapshot column a serving consumer reads is declared for that consumer."""

from __future__ import annotations

from features.config import Settings
from features.vocabulary import CHANNELS
from serving.monitoring.drift.checks import SCORE_COLUMN
from serving.monitoring.drift.run import CHANNEL_COLUMN
from serving.targeting import index
from serving.targeting.policy import contacts_window_column
from training.channel_choice import NEVER_CONTACT_FLAGS
from training.snapshot_schema import columns_read_by


def test_the_service_reads_only_columns_declared_for_the_api() -> None:
    read = {*index.REQUIRED_COLUMNS, *index.NUMERIC_OUTPUTS, *index.LABEL_OUTPUTS,
            *index.CODED_COLUMNS.values(), *index.ORDERINGS.values(), index.RANK_KEY,
            *(f"p_{c}" for c in CHANNELS), "as_of", "model_version"}
    assert read <= set(columns_read_by("api"))


def test_the_policy_reads_only_columns_declared_for_the_policy() -> None:
    read = {*NEVER_CONTACT_FLAGS, "has_booked_appointment", "days_since_last_contact",
            contacts_window_column(Settings()),
            *(f"consent_{c}" for c in CHANNELS), *(f"opted_out_{c}" for c in CHANNELS)}
    assert read <= set(columns_read_by("policy"))


def test_drift_and_the_report_read_the_declared_score_and_channel_columns() -> None:
    assert {SCORE_COLUMN, CHANNEL_COLUMN, "visits_lifetime"} <= set(columns_read_by("drift"))
    assert {"patient_id", "clinic_id", "segment", "return_probability", "expected_value",
            "best_channel", "deceased"} <= set(columns_read_by("report"))
