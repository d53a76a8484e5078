"""The one configuration object of the product.

Built once at an entry point (CLI command, service start, notebook cell) and passed down.
Sources, later ones winning: defaults here, a TOML/JSON file (``--config``), environment
variables ``REACTIVATE_*`` (nested with ``__``, e.g. ``REACTIVATE_FEATURES__HORIZON_DAYS``),
then CLI flags. Importing this module has no side effects.

Two ways in: the CLI calls :meth:`Settings.from_file` with its ``--config`` path and flags;
every other entry point (the service, its auth middleware, the notebook, a scheduler) calls
:meth:`Settings.from_environment`, which reads the file named by ``REACTIVATE_CONFIG`` (the
CLI's ``serve`` command passes ``--config`` on that way). A bare ``Settings()`` ignores the
settings file and is for tests and benchmarks only.

Each section is read by its own layer: ``load`` and ``features`` by ``features``,
``training`` by ``training``, ``policy`` by the channel choice and the contact policy,
``serving`` by ``serving.api`` (and the CLI's ``serve``/``token`` commands that start or feed
it), ``monitoring`` by ``serving.monitoring.drift`` (training packs ``reference_rows`` into the
bundle), ``report`` by ``serving.monitoring.report``. The top-level fields (``models_dir``,
``seed``, ``horizon_days``) are shared by every layer.

It lives in ``features`` because every layer needs it and ``features`` is the bottom layer.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

CONFIG_ENV = "REACTIVATE_CONFIG"


class LoadConfig(BaseModel):
    """How a clinic export is read and checked."""

    lenient: bool = Field(
        False, description="Drop contract-breaking rows (reported) instead of failing."
    )
    max_rows_in_error: int = Field(10, description="How many offending row numbers an error lists.")


class SegmentConfig(BaseModel):
    """Calendar thresholds (days since the last completed visit) for the inactivity segment.

    active < lapsing_days <= lapsing < inactive_days <= inactive < dormant_days <= dormant
    < lost_days <= lost.
    """

    lapsing_days: int = Field(120, description="From here a patient is lapsing (calendar rule).")
    inactive_days: int = Field(182, description="From here (about 6 months) inactive.")
    dormant_days: int = Field(365, description="From here (12 months) dormant.")
    lost_days: int = Field(1095, description="From here (36 months) lost.")
    overdue_lapsing_ratio: float = Field(
        1.25, description="Cadence rule: lapsing from this overdue ratio."
    )
    overdue_inactive_ratio: float = Field(
        2.0, description="Cadence rule: inactive from this overdue ratio."
    )
    overdue_dormant_ratio: float = Field(
        4.0, description="Cadence rule: dormant from this overdue ratio."
    )


class FeatureConfig(BaseModel):
    """Parameters of the point-in-time feature families.

    ``attribution_days`` is also read by training (the channel model's labels use the same
    attribution rule); ``email_phone_mail_allowed_when_unknown`` by the contact policy, which
    applies the consent rule the feature declares.
    """

    attribution_days: int = Field(
        14, description="A booking within this many days after a contact converts it."
    )
    provider_active_days: int = Field(
        90, description="A provider still sees patients if seen any in this window."
    )
    interval_prior_visits: float = Field(
        2.0,
        description="Pseudo-count of gaps that shrinks a patient's interval toward the service's typical one.",
    )
    rate_prior_strength: float = Field(
        5.0,
        description="Pseudo-count that shrinks a patient's channel response rate toward the clinic's.",
    )
    reliability_prior_strength: float = Field(
        4.0, description="Pseudo-count that shrinks no-show and cancel rates toward the clinic's."
    )
    default_interval_days: float = Field(
        180.0, description="Expected interval when nothing better is known."
    )
    revenue_prior_visits: float = Field(
        2.0,
        description="Pseudo-count of visits that shrinks a patient's revenue per visit toward the clinic's.",
    )
    episode_break_factor: float = Field(
        3.0,
        description="A gap longer than this many times the patient's median gap ends an episode of care.",
    )
    episode_min_break_days: int = Field(
        28, description="Shortest gap that can end an episode of care."
    )
    segments: SegmentConfig = Field(default_factory=SegmentConfig)
    email_phone_mail_allowed_when_unknown: bool = Field(
        True,
        description="Unknown consent counts as allowed for email, phone and mail (never for SMS).",
    )


class TrainingConfig(BaseModel):
    """Snapshots, models and the registry (owned by ``training``).

    ``registered_model_name`` is also read by serving and the CLI, to find the champion.
    """

    snapshot_every_days: int = Field(30, description="Days between training as-of dates.")
    include_booked: bool = Field(
        False, description="Keep patients with a booked appointment in training rows."
    )
    registered_model_name: str = Field(
        "reactivation", description="Name in the MLflow model registry."
    )
    num_leaves: int = Field(31, description="LightGBM num_leaves of the return model.")
    learning_rate: float = Field(0.2, description="LightGBM learning rate of the return model.")
    max_rounds: int = Field(
        300, description="Upper bound on boosting rounds (early stopping picks fewer)."
    )
    early_stopping_rounds: int = Field(
        30, description="Stop when validation loss has not improved this long."
    )
    min_child_samples: int = Field(50, description="LightGBM min_data_in_leaf.")
    min_history_days: int = Field(
        180,
        description="First training as-of date: this many days after the first visit of the export.",
    )
    short_min_history_days: int = Field(
        28,
        description="Short exports: first as-of date this many days after the first visit.",
    )
    short_snapshot_every_days: int = Field(
        14, description="Short exports: days between (overlapping) training as-of dates."
    )
    cross_fit_folds: int = Field(
        3, description="Patient folds of the cross-fitted calibration of short exports.",
    )
    max_snapshots: int = Field(
        12, description="Keep at most this many (the latest) training as-of dates."
    )
    max_training_rows: int = Field(
        1_500_000,
        ge=0,
        description="At most this many (patient, as-of) rows over all snapshot dates (0: no "
        "cap). A large clinic is sampled per date, stratified by label and segment, seeded; "
        "1.5M rows keep a 1,000,000-patient training under 10 GB.",
    )
    calibration_windows: int = Field(
        2,
        description="As-of dates (after the training ones) used for early stopping and calibration.",
    )
    validation_windows: int = Field(
        1,
        description="Latest labelled as-of dates held out for evaluation and champion comparison.",
    )
    calibration_method: str = Field(
        "platt",
        description="'isotonic', 'spline' or 'platt' (all strictly monotone; see docs/training.md).",
    )
    lambda_l2: float = Field(1.0, description="LightGBM L2 regularisation of both models.")
    feature_fraction: float = Field(0.9, description="LightGBM share of features tried per tree.")
    channel_num_leaves: int = Field(15, description="LightGBM num_leaves of the channel model.")
    channel_learning_rate: float = Field(0.15, description="Learning rate of the channel model.")
    channel_max_rounds: int = Field(
        300, description="Upper bound on boosting rounds of the channel model."
    )
    channel_min_child_samples: int = Field(
        100, description="min_data_in_leaf of the channel model."
    )
    channel_grid_days: int = Field(
        14, description="Contacts take features as of the latest grid date before their send day."
    )
    max_contact_rows: int = Field(
        500_000,
        ge=0,
        description="At most this many past contacts train the channel model (0: no cap): the "
        "latest ones, the most like the contacts it will score. Each grid date the kept "
        "contacts touch costs one feature build of every patient, so the cap bounds time and "
        "memory of a large clinic (a 1,000,000-patient group sends about 800,000 a year).",
    )
    channel_validation_share: float = Field(
        0.2, description="Latest share of training contacts (by send time) used for early stopping."
    )
    num_threads: int = Field(
        1, description="LightGBM threads for training (more than free cores slows it badly)."
    )
    scoring_threads: int = Field(2, description="LightGBM threads for scoring.")
    promotion_metric: str = Field(
        "auc", description="Metric a challenger must beat the champion on (same validation rows)."
    )
    uplift_learner: Literal["pull_forward", "structured", "t_learner", "dr_learner"] = Field(
        "pull_forward",
        description="Uplift learner of the bundle: 'pull_forward' (k_c x max(P(book within L) "
        "- P(book within W), 0), measured best on the simulator's truth and on held-out "
        "campaigns: docs/training.md), or the T-, DR- and structured learners it beat.",
    )
    uplift_long_days: int = Field(
        180, description="L of the pull-forward learner: 'would book eventually' horizon in "
        "days (at least horizon_days).",
    )
    uplift_tilt: Literal["channel_model", "response", "reaction"] = Field(
        "reaction", description="Channel tilt of the pull-forward learner: 'reaction' (a "
        "log-linear P(reaction | contacted on c) from the channel, the age gradient of each "
        "channel, no-shows, cancellations and past reactions against those expected: the most "
        "extra bookings in the top 1,000 on both bench clinics), 'channel_model' (the channel "
        "model's P(booking | contacted on c)) or 'response' (a booster of reactions on past "
        "contacts); docs/training.md.",
    )
    uplift_max_rounds: int = Field(200, description="Upper bound on boosting rounds per uplift part.")
    default_ordering: Literal["auto", "probability", "incremental_value"] = Field(
        "auto",
        description="Default list order; 'auto': incremental value only when the clinic's own "
        "held-out campaigns show it brings more extra bookings than return probability.",
    )


class SequenceConfig(BaseModel):
    """Outreach sequences: several attempts per patient across channels (the guide's 4-5)."""

    max_attempts: int = Field(5, ge=1, le=10, description="Attempts per patient and campaign.")
    min_gap_days: int = Field(7, ge=1, description="Days between the first two attempts.")
    max_gap_days: int = Field(
        14, ge=1, description="Days between the last two attempts (gaps widen from the minimum)."
    )
    rest_days: int = Field(
        75, ge=0,
        description="A sequence that ended without a booking rests the patient this long "
        "before another campaign may list them (the guide: every two to three months).",
    )


class PolicyConfig(BaseModel):
    """Who may be contacted, on which channel, at what cost.

    Read by the channel choice (``training.channel_choice``, used when scoring and when
    ranking) and by the contact policy (``serving.targeting.policy``); the manager report ranks
    with the same costs, and training logs them with each run.

    ``max_contacts_window_days`` is also read by the feature pipeline (documented exception):
    it counts contacts in exactly this window (the ``contacts_<N>d`` column,
    ``features.spec.contacts_column``), so the policy always finds the column its cap needs.
    One setting, owned by the policy, so the count and the cap cannot disagree.
    """

    channel_costs: dict[str, float] = Field(
        default_factory=lambda: {"sms": 0.05, "email": 0.01, "phone": 2.0, "mail": 1.2},
        description="Cost of one contact per channel, in the clinic's currency.",
    )
    cost_weight: float = Field(
        0.0, description="How much channel cost trades against booking probability."
    )

    min_days_between_contacts: int = Field(
        14, description="No patient contacted within this many days."
    )
    max_contacts: int = Field(5, description="At most this many contacts ...")
    max_contacts_window_days: int = Field(180, description="... within this many days.")
    nudge_uplift: float = Field(
        0.01, description="A patient 'needs a nudge' when a message adds at least this much "
        "booking probability (uplift of the chosen channel).",
    )
    on_their_own_probability: float = Field(
        0.5, description="A patient with a smaller uplift is 'likely to come back on their "
        "own' from this return probability up.",
    )
    left_alone_uplift: float = Field(
        -0.005, description="A patient is 'better left alone' when the uplift is below this.",
    )
    include_booked: bool = Field(
        False, description="List patients who already have an appointment booked."
    )
    sequences: SequenceConfig = Field(default_factory=SequenceConfig)


class ServingConfig(BaseModel):
    """The HTTP service (owned by ``serving``)."""

    host: str = Field("127.0.0.1", description="Address the service binds.")
    port: int = Field(3000, description="Port the service binds.")
    tokens_file: Path | None = Field(
        None, description="Tokens file (SHA-256 digests and clinic scopes)."
    )
    reload_seconds: float = Field(
        30.0, description="How often the service checks for a new champion or snapshot."
    )
    precompute_explanations: int = Field(
        50_000,
        description="Snapshot rows explained in the background after a load, best-ranked first (0: none).",
    )
    reason_min_effect: float = Field(
        0.15,
        description="A reason is shown only when its feature (or topic) moves the log-odds of "
        "the explained score by at least this much (0.15: the odds by about 16%); weaker "
        "contributions are filler. The manager report uses the same rule.",
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1_024, description="Largest request body accepted (413 above it)."
    )
    body_limits: dict[str, int] = Field(
        default_factory=lambda: {"/outcomes": 16_000_000},
        description="Per-path body limits overriding max_body_bytes (outcome batches are "
        "larger: 10,000 events).",
    )
    docs_page: bool = Field(
        True, description="Serve the offline API docs page at / (the OpenAPI document at "
        "/docs.json is always served)."
    )
    page_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads building large pages (over 200 patients) off the event loop; "
        "more concurrent large requests queue for them, so health checks stay fast.",
    )
    max_concurrency: int = Field(
        4,
        ge=1,
        le=1_000,
        description="Data requests in flight at once (health, docs, /model and /drift not "
        "counted); one more is answered 429 with Retry-After at once (docs/serving.md).",
    )
    retry_after_seconds: int = Field(
        1, ge=1, le=3_600, description="Retry-After of a 429 at capacity, in seconds."
    )


class OutcomesConfig(BaseModel):
    """Where campaign outcomes are kept and how posted times are read (``features.outcomes``)."""

    store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the outcome store (PostgreSQL in production); "
        "unset: SQLite file outcomes.db in models_dir.",
    )
    clinic_timezone: str | None = Field(
        None,
        description="IANA zone of the clinic's local time: posted times with an offset are "
        "converted to it; unset: the server's local zone.",
    )
    max_future_minutes: float = Field(
        5.0, description="Refuse an event whose time is later than the service clock plus this."
    )
    clock_shift_days: float = Field(
        0.0, le=0.0,
        description="Days to set the service clock back (campaign start, policy day, the "
        "future-time check): replaying a day that has passed, as `make demo` starts its "
        "campaign the morning after its export, weeks ago. 0 in production. Never forward, "
        "so an event later than the real clock plus `max_future_minutes` is always refused.",
    )


class MonitoringConfig(BaseModel):
    """Drift monitoring thresholds (owned by ``serving.monitoring.drift``)."""

    drifted_share_threshold: float = Field(
        0.3, description="Flag drift when this share of columns drifted."
    )
    score_drift_threshold: float = Field(
        0.1, description="Flag drift when the score distribution moved this much."
    )
    reference_rows: int = Field(
        5000, description="Rows of the reference sample kept in a model bundle (training packs it)."
    )
    current_rows: int = Field(
        50_000,
        description="At most this many rows of the current snapshot enter the drift tests (seeded sample).",
    )
    channel_shift_threshold: float = Field(
        0.1,
        description="Flag drift when the best-channel mix moved this much (total variation distance).",
    )


class ReportConfig(BaseModel):
    """The manager report (owned by ``serving.monitoring.report``)."""

    top_n: int = Field(
        25, description="Patients listed under 'who to contact' in the manager report."
    )
    currency_symbol: str = Field(
        "$", description="Currency sign used for money in the manager report."
    )


class SparkConfig(BaseModel):
    """The Spark engine of the nightly job (``--engine spark``; owned by ``serving.batch``)."""

    master: str = Field("local[*]", description="Spark master URL (spark://host:7077, yarn, ...).")
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark settings, e.g. {\"spark.executor.memory\": \"8g\"}.",
    )
    shuffle_partitions: int = Field(
        64, description="spark.sql.shuffle.partitions: clinic groups are spread over these."
    )
    max_patients_per_task: int = Field(
        750_000,
        description="Largest clinic one task takes (one clinic must fit in one executor's "
        "memory; docs/spark.md has the memory per 100,000 patients).",
    )
    jdbc_options: dict[str, str] = Field(
        default_factory=dict, description="Options of a JDBC source (user, password, driver)."
    )
    jdbc_jars: str = Field(
        "/usr/share/java/postgresql.jar",
        description="spark.jars of a JDBC source: the PostgreSQL JDBC driver (Debian's "
        "libpostgresql-jdbc-java installs it here); comma-separated paths or URLs.",
    )


class Settings(BaseSettings):
    """Everything configurable, in one object."""

    model_config = SettingsConfigDict(
        env_prefix="REACTIVATE_", env_nested_delimiter="__", extra="ignore"
    )

    models_dir: Path = Field(
        Path("models"), description="The local model store: MLflow DB, artifacts, snapshots."
    )
    seed: int = Field(42, description="Seed for every random choice of training and evaluation.")
    horizon_days: int = Field(
        90, description="A patient returns if they complete a visit within this many days."
    )
    load: LoadConfig = Field(default_factory=LoadConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    outcomes: OutcomesConfig = Field(default_factory=OutcomesConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)

    @classmethod
    def from_file(cls, path: Path | None = None, **overrides: Any) -> Settings:
        """Build settings: defaults < the TOML/JSON file at ``path`` < environment < ``overrides``.

        ``overrides`` are the command-line flags; ``None`` values mean "flag not given".
        """
        data: dict[str, Any] = {}
        if path is not None:
            text = Path(path).read_text()
            data = tomllib.loads(text) if str(path).endswith(".toml") else json.loads(text)
        data = _deep_merge(data, EnvSettingsSource(cls)())
        data = _deep_merge(data, {k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    @classmethod
    def from_environment(cls, **overrides: Any) -> Settings:
        """Settings of an entry point that has no ``--config`` flag (service, auth, notebook).

        The file named by ``REACTIVATE_CONFIG`` (when set and not empty), then the
        environment, then ``overrides`` (``None`` values ignored), as in :meth:`from_file`.
        """
        path = os.environ.get(CONFIG_ENV)
        return cls.from_file(Path(path) if path else None, **overrides)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, merging nested sections instead of replacing them."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
