"""The same counts under the latest-contact attribution rule, shown beside the lift.

Every booking of a treatment member (posted ``booked`` events and exported visits) is
credited by ``features.vocabulary.credited_contacts`` to the latest contact of that patient
(all posted sends, of any campaign); it counts for this campaign when that contact is one of
its sends and lies inside the attribution window (``within_attribution``). This is what
recall tools report; it also credits patients who would have booked anyway, which is why the
randomised comparison is the headline and this block is labelled.
"""

from __future__ import annotations

import numpy as np

from features.vocabulary import CHANNELS, credited_contacts, within_attribution
from training.campaign_results.frames import Events, Members, Visits
from training.campaign_results.outcomes import BOOKED, SENT, Sends, earliest, kept_visits
from training.campaign_results.tally import Rows, tally

_EMPTY = np.zeros(0, dtype=np.int64)


def attribution(members: Members, events: Events, visits: Visits, sends: Sends,
                treated: np.ndarray, window_days: int) -> dict[str, object]:
    """Attributed bookings, kept visits and revenue of this campaign, overall and by channel.

    ``by_channel`` groups by the channel of the credited send; a patient's cost and contacts
    count on every channel they were sent on.
    """
    is_contact = (events.type_ == SENT) & (events.channel >= 0)
    c_member, c_at = events.member[is_contact], events.at[is_contact]
    c_channel, c_ours = events.channel[is_contact], events.ours[is_contact]
    is_booked = (events.type_ == BOOKED) & treated[events.member]
    mine = treated[visits.member]
    b_member = np.r_[events.member[is_booked], visits.member[mine]]
    b_at = np.r_[events.at[is_booked], visits.booked[mine]]
    credit = credited_contacts(b_member, b_at.view("datetime64[ns]"), c_member,
                               c_at.view("datetime64[ns]"), c_channel)
    # credit -1 (no contact) picks the padding: not ours, never inside the window
    c_ours, c_at = np.r_[c_ours, False], np.r_[c_at, b_at.max(initial=0)]
    c_channel = np.r_[c_channel, -1]
    ok = c_ours[credit] & within_attribution(
        b_at.view("datetime64[ns]"), c_at[credit].view("datetime64[ns]"), window_days)
    src = credit
    first_at, row = earliest(b_member[ok], b_at[ok], members.n, c_channel[src][ok])
    kept, revenue = kept_visits(members, events, visits, first_at)
    credited_channel = np.full(members.n, -1, dtype=np.int64)
    has = row >= 0
    credited_channel[has] = c_channel[src][ok][row[has]]
    booked_idx = np.flatnonzero(has)
    kept_idx = np.flatnonzero(kept)
    t_sends = treated[sends.member]
    s_member, s_channel, s_cost = sends.member[t_sends], sends.channel[t_sends], sends.cost[t_sends]

    def rows(send_group: np.ndarray, member_group: np.ndarray) -> Rows:
        return Rows(
            sends=(s_member, send_group), send_cost=s_cost,
            delivered=(_EMPTY, _EMPTY), responded=(_EMPTY, _EMPTY), opted_out=(_EMPTY, _EMPTY),
            booked=(booked_idx, member_group[booked_idx]),
            attended=(kept_idx, member_group[kept_idx]), attended_revenue=revenue[kept_idx],
        )

    zeros = np.zeros(members.n, dtype=np.int64)
    overall = _attributed(tally(rows(np.zeros(len(s_member), np.int64), zeros), 1)[0])
    by_channel = [
        {"channel": CHANNELS[c], **_attributed(item)}
        for c, item in enumerate(tally(rows(s_channel, credited_channel), len(CHANNELS)))
        if item["contacted"] or item["booked"]
    ]
    return {
        "label": "attribution",
        "rule": f"a booking is credited to the patient's latest contact when it was sent at "
                f"most {window_days} days before; this also credits patients who would have "
                "booked anyway",
        "overall": overall,
        "by_channel": by_channel,
    }


def _attributed(item: dict[str, object]) -> dict[str, object]:
    """A results block without the reaction counts (attribution says nothing about them)."""
    return {k: v for k, v in item.items() if k not in ("delivered", "responded", "opted_out")}
