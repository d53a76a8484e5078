"""How much an unanswered attempt lowers the next one's chance: learned from past campaigns.

Why a model of its own: the channel model says how likely a first contact on each channel is
to bring a booking; a sequence needs the same for attempt k *given no response to the attempts
before it*. Past campaigns answer that: within one campaign, each contact after the first has
some unanswered attempts before it, on its own channel and on others. A logistic regression of
the reaction on the channel and those two counts gives two multiplicative factors (per
unanswered attempt on the same channel, and on another channel), which
``serving.targeting.sequences.fatigue_model`` applies to the channel model's probabilities.
Reactions, not bookings, are the label: the contract credits a booking to the latest contact
only, which blurs which attempt worked, while every contact's reaction is observed.

Point in time: a reaction counts as "answered" for a later attempt only when it was known
before that attempt was sent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from features.vocabulary import CHANNELS, cutoff

# Used when the history has too few follow-up attempts to learn from (documented prior:
# an ignored channel loses about a third of its pull, the others a tenth).
PRIOR_SAME, PRIOR_OTHER = 0.65, 0.9
MIN_FOLLOW_UPS = 300


@dataclass(frozen=True)
class AttemptFactors:
    """Multiplicative effect of one earlier unanswered attempt on a contact's reaction.

    Attributes:
        same_channel: per unanswered attempt on the contact's own channel.
        other_channel: per unanswered attempt on any other channel.
        follow_ups: contacts with at least one earlier attempt the factors were learned on.
        learned: False when the prior was used (too little history).
    """

    same_channel: float
    other_channel: float
    follow_ups: int
    learned: bool


def prior_factors() -> AttemptFactors:
    """The documented prior, for a history too short to learn from (or an older bundle)."""
    return AttemptFactors(PRIOR_SAME, PRIOR_OTHER, 0, learned=False)


def attempt_rows(contacts: pd.DataFrame, until: str | pd.Timestamp) -> pd.DataFrame:
    """One row per campaign contact sent before ``until``, with what preceded it.

    Args:
        contacts: the contract's contacts (``patient_id``, ``channel``, ``sent_at``,
            ``campaign_id``, ``responded_at``).
        until: only contacts sent, and reactions known, before ``cutoff(until)``.

    Returns:
        Frame with ``channel`` (code into ``CHANNELS``), ``attempt`` (1-based within the
        patient's campaign), ``unanswered_same``, ``unanswered_other`` (earlier attempts of
        the campaign with no reaction known at this send) and ``reacted`` (0/1, a reaction
        known by the cutoff).
    """
    end = cutoff(until)
    c = contacts.loc[contacts["campaign_id"].notna() & (contacts["sent_at"] < end),
                     ["patient_id", "campaign_id", "channel", "sent_at", "responded_at"]]
    c = c.assign(code=pd.Index(CHANNELS).get_indexer(c["channel"].astype(object)))
    c = c.loc[c["code"] >= 0].sort_values(["patient_id", "campaign_id", "sent_at"],
                                          kind="stable").reset_index(drop=True)
    responded = c["responded_at"].where(c["responded_at"] < end)
    group = (c["patient_id"].astype(str) + "\x1f" + c["campaign_id"].astype(str)).to_numpy()
    start = np.r_[True, group[1:] != group[:-1]]
    first_row = np.maximum.accumulate(np.where(start, np.arange(len(c)), 0))
    attempt = np.arange(len(c)) - first_row + 1
    same = np.zeros(len(c), np.int64)
    other = np.zeros(len(c), np.int64)
    sent = c["sent_at"].to_numpy("M8[ns]")
    answered_at = responded.to_numpy("M8[ns]")
    code = c["code"].to_numpy()
    # campaigns have at most a handful of attempts: compare each row with the few before it
    for lag in range(1, int(attempt.max(initial=1))):
        prev = np.arange(len(c)) - lag
        ok = attempt > lag
        prev = np.where(ok, prev, 0)
        silent = ok & ~(answered_at[prev] < sent)  # no reaction known when this one went out
        same += silent & (code[prev] == code)
        other += silent & (code[prev] != code)
    return pd.DataFrame({"channel": code, "attempt": attempt, "unanswered_same": same,
                         "unanswered_other": other,
                         "reacted": responded.notna().to_numpy().astype(np.int8)})


def fit_attempt_factors(contacts: pd.DataFrame | None, until: str | pd.Timestamp,
                        seed: int = 0) -> AttemptFactors:
    """Learn the two factors from past campaign contacts (the prior when there are few)."""
    if contacts is None or contacts.empty or contacts["campaign_id"].isna().all():
        return prior_factors()
    rows = attempt_rows(contacts, until)
    follow_ups = int((rows["attempt"] > 1).sum())
    if follow_ups < MIN_FOLLOW_UPS or rows["reacted"].nunique() < 2:
        return AttemptFactors(PRIOR_SAME, PRIOR_OTHER, follow_ups, learned=False)
    x = np.column_stack([np.eye(len(CHANNELS))[rows["channel"]],
                         rows["unanswered_same"], rows["unanswered_other"]])
    fit = LogisticRegression(C=10.0, fit_intercept=False, max_iter=500, random_state=seed)
    fit.fit(x, rows["reacted"])
    same, other = np.exp(fit.coef_[0][-2:])
    return AttemptFactors(float(np.clip(same, 0.05, 1.0)), float(np.clip(other, 0.05, 1.0)),
                          follow_ups, learned=True)
