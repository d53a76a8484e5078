"""The three practice types the demo group simulates, as parameter sets of one engine.

* ``aesthetics``: the documented aesthetics and dermatology group (``SimConfig()``, as it
  always was).
* ``dental``: a six-month hygiene recall (some patients on a three-month periodontal
  recall), highly regular; after a check some need a filling or a crown a few weeks later.
  Overdue recall is the common reactivation case.
* ``physio``: physiotherapy / chiropractic with episodes of care: a course of 6-10 visits
  about a week apart, often cut short because the patient feels better, then nothing until
  a new problem (a rare daily hazard); a massage service on a plain monthly cadence.

Figures are orders of magnitude from practice reports, not fitted to any clinic; the rates
they produce are measured and bounded per practice type in ``rates.PRACTICE_RANGES``.
"""

from __future__ import annotations

from features.simulator.params import SimConfig

PRACTICES: tuple[str, ...] = ("aesthetics", "dental", "physio")

_DENTAL = dict(
    practice="dental",
    locations=("harbour", "elmwood"),
    location_weights=(0.6, 0.4),
    providers_per_location=(4, 3),
    services=("exam", "hygiene", "perio_maintenance", "filling", "crown"),
    main_services=(1, 2),
    main_service_shares=(0.85, 0.15),
    main_interval_days=(182.0, 91.0),
    interval_sigma=0.05,
    series_service=-1,
    service_age=((0, 1), (42, 17), (58, 12), (0, 1), (0, 1)),
    service_female=(0, 0.55, 0.45, 0, 0),
    restorative_share=0.15,
    restorative_services=(3, 4),
    restorative_probs=(0.75, 0.25),
    restorative_interval=21.0,
    post_consult_interval=30.0,
    new_patient_interval=20.0,
    cross_sell_share=0.0,
    booking_hazard_range=(0.06, 0.18),
    overdue_grace_days=45.0,
    forget_scale=0.5,
    month_season=(1.05, 1.0, 1.05, 1.0, 1.0, 0.95, 0.8, 0.8, 1.05, 1.05, 1.0, 0.9),
    no_show_mean=0.05,
    cancel_mean=0.07,
    churn_hazard_mean=0.0002,
    no_fit_after_consult=0.08,
    campaign_lapsed_days=(240, 900),
    service_price=(95.0, 140.0, 190.0, 220.0, 1100.0),
    free_consult_share=0.2,
)

_PHYSIO = dict(
    practice="physio",
    locations=("westside", "parkway"),
    location_weights=(0.55, 0.45),
    providers_per_location=(4, 3),
    services=("assessment", "physiotherapy", "sports_rehab", "chiropractic", "massage"),
    main_services=(1, 2, 3, 4),
    main_service_shares=(0.45, 0.2, 0.2, 0.15),
    main_interval_days=(7.0, 7.0, 10.0, 35.0),  # a course's spacing; massage's cadence
    interval_sigma=0.2,
    series_service=-1,
    service_age=((0, 1), (48, 16), (32, 10), (50, 14), (45, 13)),
    service_female=(0, 0.6, 0.4, 0.55, 0.75),
    course_visits=((0, 0), (6, 8), (8, 10), (6, 10), (0, 0)),
    improved_stop=0.05,
    episode_hazard_mean=1 / 900,
    episode_hazard_sigma=0.6,
    problem_booking_hazard=0.25,
    in_course_share=0.25,
    post_consult_interval=14.0,
    new_patient_interval=5.0,
    cross_sell_share=0.03,
    min_gap_days=3,
    booking_hazard_range=(0.12, 0.35),
    lead_days=(1, 2, 3, 4, 5, 6, 7, 10, 14),
    lead_probs=(0.12, 0.14, 0.14, 0.12, 0.12, 0.12, 0.12, 0.07, 0.05),
    month_season=(1.1, 1.05, 1.05, 1.0, 1.0, 0.95, 0.8, 0.8, 1.05, 1.05, 1.0, 0.9),
    no_show_mean=0.05,
    cancel_mean=0.08,
    churn_hazard_mean=0.00025,
    no_fit_after_consult=0.1,
    campaign_lapsed_days=(150, 730),
    service_price=(90.0, 75.0, 85.0, 65.0, 80.0),
    free_consult_share=0.1,
)


def practice_config(practice: str, **overrides: object) -> SimConfig:
    """The simulator parameters of a practice type (``overrides`` replace any of them).

    Raises:
        ValueError: for a practice type other than those in ``PRACTICES``.
    """
    if practice not in PRACTICES:
        raise ValueError(f"unknown practice type {practice!r}; one of {', '.join(PRACTICES)}")
    base = {"aesthetics": {}, "dental": _DENTAL, "physio": _PHYSIO}[practice]
    return SimConfig(**{**base, **overrides})
