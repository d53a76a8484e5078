"""Attempt factors: what an unanswered attempt does to the next one, learned point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.attempt_model import (
    PRIOR_SAME,
    AttemptFactors,
    attempt_rows,
    fit_attempt_factors,
    prior_factors,
)


def _contacts(rows):
    return pd.DataFrame(rows, columns=["patient_id", "campaign_id", "channel", "sent_at",
                                       "responded_at"]).assign(
        sent_at=lambda f: pd.to_datetime(f["sent_at"]),
        responded_at=lambda f: pd.to_datetime(f["responded_at"]))


def test_earlier_attempts_count_as_unanswered_only_if_no_reaction_was_known_at_the_send():
    c = _contacts([
        ("a", "c1", "sms", "2026-01-01", None),
        ("a", "c1", "sms", "2026-01-08", "2026-01-20"),  # reaction after the third send
        ("a", "c1", "email", "2026-01-15", None),
        ("a", "c2", "sms", "2026-06-01", None),  # another campaign starts afresh
        ("b", None, "sms", "2026-01-01", None),  # not a campaign contact
    ])
    rows = attempt_rows(c, "2026-12-31")
    assert rows["attempt"].tolist() == [1, 2, 3, 1]
    assert rows["unanswered_same"].tolist() == [0, 1, 0, 0]
    assert rows["unanswered_other"].tolist() == [0, 0, 2, 0]
    assert rows["reacted"].tolist() == [0, 1, 0, 0]


def test_a_reaction_after_the_as_of_date_is_not_known():
    c = _contacts([("a", "c1", "sms", "2026-01-01", "2026-01-03")])
    assert attempt_rows(c, "2026-01-02")["reacted"].tolist() == [0]
    assert attempt_rows(c, "2026-01-03")["reacted"].tolist() == [1]


def test_factors_recover_a_known_fatigue_and_fall_back_to_the_prior_on_thin_history():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(4000):
        prev: list[tuple] = []
        for k in range(4):
            ch = ["sms", "email"][rng.integers(2)]
            silent_same = sum(1 for r in prev if r[2] == ch and r[4] is None)
            silent_other = sum(1 for r in prev if r[2] != ch and r[4] is None)
            p = 0.12 * 0.5 ** silent_same * 0.9 ** silent_other
            day = pd.Timestamp("2026-01-01") + pd.Timedelta(days=10 * k)
            answer = day + pd.Timedelta(hours=2) if rng.random() < p else None
            prev.append((f"p{i}", "c1", ch, day, answer))
            rows.append(prev[-1])
            if answer is not None:
                break
    factors = fit_attempt_factors(_contacts(rows), "2026-12-31")
    assert factors.learned
    assert 0.35 < factors.same_channel < 0.7
    assert 0.7 < factors.other_channel <= 1.0
    thin = fit_attempt_factors(_contacts(rows[:20]), "2026-12-31")
    assert not thin.learned and thin.same_channel == PRIOR_SAME


def test_training_stores_the_attempt_factors_in_the_bundle_and_loading_keeps_them(
    trained, tmp_path
):
    import dataclasses
    import json

    from training.bundle import ModelBundle

    learned = AttemptFactors(0.42, 0.81, 1234, learned=True)
    assert isinstance(trained.bundle.attempt_factors, AttemptFactors)
    bundle = dataclasses.replace(trained.bundle, attempt_factors=learned)
    path = bundle.save(tmp_path / "bundle")
    assert ModelBundle.load(path).attempt_factors == learned
    meta = json.loads((path / "bundle.json").read_text())
    del meta["attempt_factors"]  # a bundle written before sequences existed
    (path / "bundle.json").write_text(json.dumps(meta))
    assert ModelBundle.load(path).attempt_factors == prior_factors()
