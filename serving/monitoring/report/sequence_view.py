"""The "Outreach sequences" part of the campaign section: the guide's "contact attempts".

Why so little computing here: attempts sent and bookings per attempt number and per channel
are already in the campaign results (``training.campaign_results``: ``by_attempt`` and
``by_channel``); this module only adds how many sequences are still running, from the
outcome events (:func:`serving.targeting.sequences.sequence_state`), and words.

A sequence counts as running on day ``on`` when its member has not booked, has been sent
fewer than ``policy.sequences.max_attempts`` attempts, has not opted out of every channel the
campaign used for them, and its latest attempt (or the campaign's start, before any) is at
most ``max_gap_days`` old: a longer silence means the campaign tool stopped it.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from features.config import Settings
from features.vocabulary import TREATMENT
from serving.monitoring.report import fmt
from serving.targeting.sequences import sequence_state

CHANNEL_WORDS = {"sms": "text", "email": "email", "phone": "phone call", "mail": "letter"}


def running_sequences(members: pd.DataFrame, events: pd.DataFrame, campaign_id: str,
                      settings: Settings, on: pd.Timestamp) -> int:
    """Treatment members of ``campaign_id`` whose sequence still runs on day ``on``."""
    mine = members.loc[members["campaign_id"].eq(campaign_id).to_numpy()
                       & members["arm"].eq(TREATMENT).to_numpy(),
                       ["patient_id", "assigned_at"]].reset_index(drop=True)
    if mine.empty:
        return 0
    state = sequence_state(mine, events, campaign_id)
    config = settings.policy.sequences
    day = np.datetime64(pd.Timestamp(on).date(), "D")
    started = mine["assigned_at"].to_numpy("M8[D]")
    latest = np.where(np.isnat(state.last_sent), started, state.last_sent)
    fresh = (day - latest).astype(np.int64) <= config.max_gap_days
    all_out = state.used.any(axis=1) & ~(state.used & ~state.opted_out).any(axis=1)
    return int((~state.booked & (state.sent < config.max_attempts) & ~all_out & fresh).sum())


def sequence_block(results: dict, running: int) -> dict:
    """What the report shows of a sequence campaign, reusing ``results`` figures.

    Returns:
        ``running``, ``by_attempt`` (``attempt``, ``sent``, ``booked``) and ``by_channel``
        (``channel``, ``contacted``, ``booked``) — the channel of each patient's first message.
    """
    return {
        "running": int(running),
        "by_attempt": [{"attempt": a["attempt"], "sent": a["contacted"], "booked": a["booked"]}
                       for a in results["by_attempt"]],
        "by_channel": [{"channel": c["channel"], "contacted": c["contacted"],
                        "booked": c["booked"]} for c in results["by_channel"]],
    }


def sequence_html(block: dict) -> str:
    """HTML of the sequences part (tables as in the rest of the report)."""
    from serving.monitoring.report.render import _key, _table

    lead = (f"<p>{_key('sequences-running', fmt.count(block['running']))} outreach sequences "
            "are still running (the patient has not booked and more attempts are planned). "
            "Following up brings patients back that one message does not: the table shows "
            "how many bookings came after each attempt.</p>")
    attempts = _table(["Attempt", "Sent", "Booked after it"],
                      [[escape(f"attempt {a['attempt']}"), fmt.count(a["sent"]),
                        fmt.count(a["booked"])] for a in block["by_attempt"]])
    channels = _table(["First message by", "Patients", "Booked"],
                      [[escape(CHANNEL_WORDS.get(c["channel"], c["channel"])),
                        fmt.count(c["contacted"]), fmt.count(c["booked"])]
                       for c in block["by_channel"]])
    return f'<div id="sequences"><h3>Outreach sequences</h3>{lead}{attempts}{channels}</div>'


def sequence_lines(block: dict) -> list[str]:
    """The same in plain text lines (``reactivate results``)."""
    lines = [f"Sequences still running: {fmt.count(block['running'])}"]
    lines += [f"  attempt {a['attempt']}: sent {fmt.count(a['sent'])}, booked after it "
              f"{fmt.count(a['booked'])}" for a in block["by_attempt"]]
    return lines
