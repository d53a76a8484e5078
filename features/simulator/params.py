"""Every number that shapes the demo clinic, in one frozen object.

The simulator's engine and its ground-truth oracle both read these values, so the oracle
computes probabilities under exactly the model that generated the data. Defaults were tuned
so the marginal rates (documented in ``docs/simulator.md``) look like a real aesthetics and
dermatology group: 4 locations, a few providers each, five services.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICES: tuple[str, ...] = ("consultation", "botox", "filler", "laser", "skin_check")
CONSULTATION, BOTOX, FILLER, LASER, SKIN_CHECK = range(5)
MAIN_SERVICES: tuple[int, ...] = (BOTOX, FILLER, LASER, SKIN_CHECK)

# Visit statuses and channels are the contract's (``features.vocabulary``): the engine uses
# ``STATUS_CODE`` / ``*_CODE`` integers and channel positions in ``CHANNELS``.

# Modes of the episode-of-care dynamics (physiotherapy / chiropractic practices; latent):
# ``CADENCE`` books by the gap since the last visit, ``IDLE`` finished (or stopped) a course and
# does not want care until a new problem arises, ``PROBLEM`` has a new problem, not yet seen.
CADENCE, IDLE, PROBLEM = range(3)

# Why an engaged patient stops coming (latent; only ``deceased`` ever shows in the export).
CHURN_REASONS: tuple[str, ...] = (
    "drifted", "moved", "deceased", "unhappy_visit", "provider_left", "no_fit_after_consult",
)
DRIFTED, MOVED, DECEASED, UNHAPPY, PROVIDER_LEFT, NO_FIT = range(6)

LOCATIONS: tuple[str, ...] = ("downtown", "riverside", "northgate", "lakeview")


@dataclass(frozen=True)
class SimConfig:
    """Parameters of the demo clinic (defaults are the documented demo).

    Attributes are grouped by the part of the model they drive; every rate is per day unless
    the name says otherwise.
    """

    # --- practice type (``practices`` builds the dental and physiotherapy configs) ---------
    practice: str = "aesthetics"
    locations: tuple[str, ...] = LOCATIONS  # one weight and provider count each, below
    services: tuple[str, ...] = SERVICES  # code = position; 0 is the first-visit service
    main_services: tuple[int, ...] = MAIN_SERVICES  # a patient's usual service (codes)
    series_service: int = LASER  # main service that starts with a series (-1: none)
    service_age: tuple[tuple[float, float], ...] = (
        (0, 1), (44, 10), (47, 10), (36, 9), (55, 14))  # (mean, sd) age by main service
    service_female: tuple[float, ...] = (0, 0.85, 0.9, 0.75, 0.5)
    # dental: after a completed visit, share needing restorative treatment (then which codes)
    restorative_share: float = 0.0
    restorative_services: tuple[int, ...] = ()
    restorative_probs: tuple[float, ...] = ()
    restorative_interval: float = 21.0
    # physiotherapy: per service, (min, max) visits in a course of care; (0, 0) = no episodes
    course_visits: tuple[tuple[int, int], ...] = ()
    improved_stop: float = 0.0  # chance per course visit the patient stops early (improved)
    episode_hazard_mean: float = 0.0  # daily chance an idle patient gets a new problem
    episode_hazard_sigma: float = 0.5
    problem_booking_hazard: float = 0.2  # daily chance a patient with a new problem books
    in_course_share: float = 0.3  # existing episodic patients in a course at ``start``

    # --- population -------------------------------------------------------------------------
    existing_share: float = 0.45  # patients already registered before ``start`` (history unseen)
    existing_churned_share: float = 0.25  # of those, silently gone before ``start``
    location_weights: tuple[float, ...] = (0.34, 0.28, 0.22, 0.16)
    providers_per_location: tuple[int, ...] = (5, 4, 4, 3)
    leaver_share: float = 0.5  # share of non-senior providers who leave during the history
    main_service_shares: tuple[float, ...] = (0.46, 0.16, 0.18, 0.2)  # botox, filler, laser, skin
    main_interval_days: tuple[float, ...] = (105.0, 225.0, 180.0, 182.0)  # per MAIN_SERVICES
    interval_sigma: float = 0.15  # patient's own cadence = service cadence * lognormal
    post_consult_interval: float = 21.0
    laser_series_interval: float = 30.0
    laser_series_sessions: tuple[int, int] = (4, 6)
    new_patient_interval: float = 25.0  # cadence before the first completed visit
    cross_sell_share: float = 0.12  # bookings for a service other than the main one

    # --- booking ----------------------------------------------------------------------------
    booking_hazard_range: tuple[float, float] = (0.04, 0.14)  # patient's max daily hazard
    min_gap_days: int = 14  # nobody books within this many days of a completed visit
    overdue_grace_days: float = 30.0  # after cadence + grace the urge to book fades ...
    forget_scale: float = 0.6  # ... with e-folding time forget_scale * cadence ...
    forget_floor: float = 0.02  # ... down to this share of the plateau (reminders help here)
    lead_days: tuple[int, ...] = (1, 2, 3, 4, 5, 7, 10, 14, 21, 28)
    lead_probs: tuple[float, ...] = (0.06, 0.08, 0.09, 0.09, 0.1, 0.15, 0.15, 0.14, 0.09, 0.05)
    month_season: tuple[float, ...] = (
        1.1, 1.05, 1.05, 1.05, 1.0, 0.9, 0.6, 0.62, 1.05, 1.05, 1.0, 0.85,
    )
    holiday_dip: float = 0.45  # Dec 20 .. Jan 2

    # --- reliability ------------------------------------------------------------------------
    no_show_mean: float = 0.06
    cancel_mean: float = 0.065
    no_show_fee_share: float = 0.3
    late_cancel_fee_share: float = 0.1

    # --- engagement -------------------------------------------------------------------------
    churn_hazard_mean: float = 0.00028  # about 10 % a year while engaged
    churn_hazard_sigma: float = 0.6
    no_fit_after_consult: float = 0.15  # leave right after the first consultation
    bad_visit_share: float = 0.03
    churn_after_bad_visit: float = 0.4
    provider_leave_shock: float = 0.3  # engaged patients of a leaving provider who leave too
    provider_leave_hazard_mult: float = 2.5
    provider_leave_hazard_days: int = 180

    # --- outreach ---------------------------------------------------------------------------
    campaign_every_days: int = 91
    campaign_first_day: int = 45
    campaign_lapsed_days: tuple[int, int] = (180, 730)
    campaign_cooldown_days: int = 270  # not re-targeted within this many days
    campaign_holdout: float = 0.15
    attempts: tuple[int, int] = (4, 5)
    first_attempt_spread_days: int = 7  # first attempts spread over this many days
    attempt_spacing_days: tuple[int, int] = (7, 14)
    campaigns_until_day: int | None = None  # no campaign launches after this day (tests)
    # sms, email, phone, mail: a first attempt's chance. Set so the per-contact rates of the
    # contact log (all attempts, fatigue and deaf channels included) stay in the documented
    # bands: 1.35 x the rates used before follow-up fatigue existed (0.12, 0.07, 0.25, 0.04).
    response_base: tuple[float, ...] = (0.162, 0.0945, 0.3375, 0.054)
    response_age_slope: tuple[float, ...] = (-0.35, -0.2, 0.3, 0.35)  # per 15 years over 50
    response_delay_days: tuple[int, ...] = (0, 0, 0, 4)
    churned_response_factor: float = 0.25
    book_if_responded: tuple[float, ...] = (0.5, 0.45, 0.6, 0.45)  # within the window
    book_if_not_responded: float = 0.05
    attribution_days: int = 14
    opt_out_rate: tuple[float, ...] = (0.01, 0.006, 0.005, 0.003)
    winback_by_reason: tuple[float, ...] = (0.2, 0.03, 0.0, 0.12, 0.3, 0.1)
    # reactions to repeated attempts (``hazards.response_prob``; 1.0 / 1.0 / 0.0 turns them
    # off). The guide's follow-up pattern: a channel left unanswered loses much of its pull
    # (a fourth text gets 0.6**3 = 22 % of the first's), another channel little (the patient
    # saw a message; the channel was the problem, not the clinic); one patient in five has a
    # channel never answered (an old address, calls from unknown numbers screened).
    fatigue_same: float = 0.6  # response x this per earlier unanswered attempt, same channel
    fatigue_other: float = 0.9  # ... and x this per earlier unanswered attempt, other channels
    deaf_channel_share: float = 0.2  # patients with one channel they never answer

    # --- consent and flags ------------------------------------------------------------------
    consent_base: tuple[float, ...] = (0.55, 0.82, 0.9, 0.8)
    consent_age_slope: tuple[float, ...] = (-0.5, -0.2, 0.2, 0.3)
    consent_unknown_share: float = 0.03
    do_not_contact_share: float = 0.015

    # --- revenue ----------------------------------------------------------------------------
    service_price: tuple[float, ...] = (60.0, 420.0, 680.0, 280.0, 140.0)
    free_consult_share: float = 0.5
    price_sigma: float = 0.15
