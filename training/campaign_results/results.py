"""``campaign_results``: what a campaign did, from its members, the outcome events and the export.

Pure function over frames (no I/O): the API, the CLI and the manager report call it with
frames they loaded. Definitions of every figure are in ``docs/campaigns.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import (
    ARMS,
    CHANNELS,
    COMPLETED,
    NO_SEGMENT,
    OUTCOME_TYPES,
    SEGMENTS,
    TREATMENT,
)
from training.campaign_results.attribution import attribution
from training.campaign_results.frames import (
    NAT,
    Events,
    Members,
    Visits,
    events_of,
    members_of,
    visits_of,
)
from training.campaign_results.lift import versus_holdout
from training.campaign_results.outcomes import (
    Sends,
    campaign_sends,
    first_bookings,
    kept_visits,
)
from training.campaign_results.tally import MemberFlags, Rows, flagged, member_tally, tally

_T = ARMS.index(TREATMENT)
DELIVERED, CLICKED, REPLIED, OPTED_OUT = (
    OUTCOME_TYPES.index(t) for t in ("delivered", "clicked", "replied", "opted_out"))


def campaign_results(
    members: pd.DataFrame,
    events: pd.DataFrame,
    visits: pd.DataFrame,
    settings: Settings,
    campaign_id: str,
    segments: pd.Series | pd.DataFrame | None = None,
) -> dict[str, object]:
    """Results of ``campaign_id``: treatment-arm figures, the lift against the holdout, and
    the attribution figures beside it.

    Args:
        members: ``campaign_members`` rows (``CAMPAIGN_MEMBER_DTYPES``); other campaigns' rows
            are ignored.
        events: outcome events (``OUTCOME_EVENT_DTYPES``) of any patients and campaigns.
        visits: the export's visits (``patient_id, visit_at, status, booked_at, revenue``).
        settings: ``features.attribution_days`` (the window) and ``policy.channel_costs``.
        campaign_id: the campaign to measure.
        segments: each patient's segment (a Series indexed by ``patient_id``, or a frame with
            ``patient_id`` and ``segment``, e.g. the scored snapshot); None: no segments.

    Returns:
        ``campaign_id``, ``window_days``, ``overall`` and the lists ``by_channel`` (patients by
        the channel of their first message), ``by_segment`` and ``by_attempt`` (attempt k: the
        k-th message; bookings between it and the next), each with ``contacted, delivered,
        responded, booked, attended, opted_out, conversion_rate, revenue, cost,
        cost_per_reactivation, roi``; ``versus_holdout`` (see ``lift.versus_holdout``; also
        inside each segment); ``attribution`` (latest-contact rule, labelled).
    """
    m = members_of(members, campaign_id, _segment_series(segments))
    return coded_results(m, events_of(events, m, campaign_id), visits_of(visits, m, COMPLETED),
                         settings, campaign_id)


def coded_results(m: Members, ev: Events, vi: Visits, settings: Settings,
                  campaign_id: str) -> dict[str, object]:
    """:func:`campaign_results` of members, events and visits already coded
    (``training.campaign_results.frames``): what a caller holding the coded arrays in
    memory (the service) computes without building frames."""
    window = settings.features.attribution_days
    sends = campaign_sends(m, ev, settings.policy.channel_costs)
    booking = first_bookings(m, ev, vi, window)
    kept, revenue = kept_visits(m, ev, vi, booking)
    treated = m.arm == _T
    contacted = treated & (sends.count > 0)
    booked = booking != NAT
    reactions = _reactions(ev)
    flags = MemberFlags.of(
        contacted,
        {**{name: flagged(m.n, ev.member[rows]) for name, rows in reactions.items()},
         "booked": booked, "attended": kept},
        revenue, sends.member, sends.cost,
    )

    def grouped(member_group: np.ndarray, n_groups: int) -> list[dict[str, object]]:
        return member_tally(flags, member_group, n_groups)

    segment_labels, segment_code = _segment_codes(m.segment)
    by_segment = []
    for code, item in enumerate(grouped(segment_code, len(segment_labels))):
        inside = segment_code == code
        lift = _lift(treated & inside, ~treated & inside, booked, revenue, sends)
        by_segment.append({"segment": segment_labels[code], **item, "versus_holdout": lift})
    return {
        "campaign_id": campaign_id,
        "window_days": window,
        "overall": grouped(np.zeros(m.n, np.int64), 1)[0],
        "by_channel": [{"channel": CHANNELS[c], **item} for c, item in
                       enumerate(grouped(sends.first_channel, len(CHANNELS)))
                       if item["contacted"]],
        "by_segment": by_segment,
        "by_attempt": _by_attempt(ev, reactions, sends, treated, booking, kept, revenue),
        "versus_holdout": _lift(treated, ~treated, booked, revenue, sends),
        "attribution": attribution(m, ev, vi, sends, treated, window),
    }


def _segment_series(segments: pd.Series | pd.DataFrame | None) -> pd.Series | None:
    """Segments as a Series indexed by patient id."""
    if segments is None or isinstance(segments, pd.Series):
        return segments
    return segments.set_index("patient_id")["segment"]


def _segment_codes(segment: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Labels in the vocabulary's order (then others, then unknown) and a code per member."""
    codes, uniques = pd.factorize(segment)  # missing segments get -1
    labels = [str(u) for u in uniques]
    present = set(labels) | ({NO_SEGMENT} if (codes < 0).any() else set())
    order = [s for s in SEGMENTS if s in present]
    order += sorted(present - set(order) - {NO_SEGMENT})
    order += [NO_SEGMENT] if NO_SEGMENT in present else []
    lookup = np.append(pd.Index(order).get_indexer(labels),
                       order.index(NO_SEGMENT) if NO_SEGMENT in present else -1)
    return order, lookup[codes].astype(np.int64)


def _reactions(ev: Events) -> dict[str, np.ndarray]:
    """Positions of this campaign's deliveries, responses (reply or click) and opt-outs."""
    flags = np.zeros(len(OUTCOME_TYPES), dtype=np.int8)
    flags[DELIVERED], flags[REPLIED], flags[CLICKED], flags[OPTED_OUT] = 1, 2, 2, 3
    kind = np.where(ev.ours, flags[ev.type_], 0)
    rows = np.flatnonzero(kind)
    found = kind[rows]
    return {"delivered": rows[found == 1], "responded": rows[found == 2],
            "opted_out": rows[found == 3]}


def _by_attempt(ev: Events, reactions: dict[str, np.ndarray], sends: Sends, treated: np.ndarray,
                booking: np.ndarray, kept: np.ndarray,
                revenue: np.ndarray) -> list[dict[str, object]]:
    """One block per attempt number: reactions and bookings before the next attempt."""
    t = treated[sends.member]
    n_attempts = int(sends.attempt[t].max(initial=0))
    if n_attempts == 0:
        return []

    # the attempt each reaction and booking followed, all looked up in one pass
    b = np.flatnonzero(booking != NAT)
    parts = [reactions["delivered"], reactions["responded"], reactions["opted_out"]]
    member = np.concatenate([*(ev.member[r] for r in parts), b])
    attempt = sends.attempt_at(member, np.concatenate([*(ev.at[r] for r in parts), booking[b]]))
    group = np.where(treated[member], attempt - 1, -1)
    bounds = np.cumsum([0, *map(len, parts), len(b)])
    pairs = [(member[bounds[i]:bounds[i + 1]], group[bounds[i]:bounds[i + 1]])
             for i in range(len(parts))]
    b_group = group[bounds[-2]:]
    k_group = np.full(len(treated), -1, np.int64)
    k_group[b] = b_group
    k = np.flatnonzero(kept)
    rows = Rows(
        sends=(sends.member, np.where(t, sends.attempt - 1, -1)), send_cost=sends.cost,
        delivered=pairs[0], responded=pairs[1], opted_out=pairs[2],
        booked=(b, b_group), attended=(k, k_group[k]), attended_revenue=revenue[k],
    )
    return [{"attempt": a + 1, **item} for a, item in enumerate(tally(rows, n_attempts))]


def _lift(treatment: np.ndarray, holdout: np.ndarray, booked: np.ndarray,
          revenue: np.ndarray, sends: Sends) -> dict[str, object]:
    """Lift block for the members selected by the two masks."""
    contacted_h = int(np.unique(sends.member[holdout[sends.member]]).size)
    return versus_holdout(booked[treatment], booked[holdout], revenue[treatment],
                          revenue[holdout], contacted_h)
