"""The pull-forward uplift learner on data whose effect is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.vocabulary import CHANNELS
from training.contact_rows import SUFFIXES
from training.uplift.design import CONTROL
from training.uplift.pull_forward import PullForwardUplift

FEATURES = ["engaged", "soon", "has_booked_appointment"]


def _patients(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Engaged patients book within L; 'soon' ones within W as well; the booked never again."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.random(n) < 0.6, rng.random(n) < 0.3,
                         rng.random(n) < 0.1]).astype(np.float32)
    p_long = np.where(x[:, 0] > 0, 0.9, 0.05)
    p_window = np.where((x[:, 0] > 0) & (x[:, 1] > 0), 0.8, 0.02)
    return x, p_window, p_long


def _fitted(seed: int = 0) -> PullForwardUplift:
    rng = np.random.default_rng(seed)
    x, p_window, p_long = _patients(20_000, seed)
    y_window = (rng.random(len(x)) < p_window).astype(float)
    y_long = np.maximum(y_window, (rng.random(len(x)) < p_long).astype(float))
    return PullForwardUplift(FEATURES, {}, seed=1, rounds=60).fit(x, y_window, y_long)


def test_engaged_patients_not_booking_soon_get_the_largest_pull() -> None:
    model = _fitted()
    x = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1]], dtype=np.float32)
    g = model.pull(x)
    assert g[0] > 0.6  # engaged, not soon: 0.9 - 0.02
    assert g[1] < 0.3 and g[2] < 0.1  # books soon anyway / never engaged
    assert g[3] == 0.0  # already holds a booking: nothing to pull forward


def test_the_scale_comes_from_the_randomised_arms_and_channels_keep_their_order() -> None:
    model = _fitted()
    rng = np.random.default_rng(4)
    x, p_window, _ = _patients(40_000, 5)
    t = np.where(rng.random(len(x)) < 0.3, CONTROL, rng.integers(0, len(CHANNELS), len(x)))
    g = model.pull(x)
    k_true = np.array([0.05, 0.10, 0.15, 0.20])
    p = p_window + np.where(t >= 0, k_true[np.maximum(t, 0)] * g, 0.0)
    y = (rng.random(len(x)) < p).astype(float)
    model.calibrate(x, t, y)
    assert np.all(np.diff(model.k_) > 0)
    assert abs(model.k_pooled_ - k_true.mean()) < 0.04
    tau = model.predict(x[:5])
    np.testing.assert_allclose(tau, g[:5, None] * model.k_[None, :])


def test_a_channel_tilt_moves_the_effect_with_the_patients_own_response() -> None:
    model = _fitted()
    x, p_window, _ = _patients(4000, 7)
    rng = np.random.default_rng(8)
    t = np.where(rng.random(len(x)) < 0.5, CONTROL, 0)
    y = (rng.random(len(x)) < p_window + np.where(t >= 0, 0.1 * model.pull(x), 0)).astype(float)
    response = np.full((len(x), len(CHANNELS)), 0.1)
    response[: len(x) // 2, 0] = 0.3
    model.calibrate(x, t, y, response)
    tau = model.predict(x, response=response)
    ratio = tau[: len(x) // 2, 0].sum() / max(model.pull(x[: len(x) // 2]).sum(), 1e-9)
    ratio_rest = tau[len(x) // 2:, 0].sum() / max(model.pull(x[len(x) // 2:]).sum(), 1e-9)
    assert ratio > 2.5 * ratio_rest


def test_the_learner_round_trips_through_plain_json() -> None:
    model = _fitted()
    x, _, _ = _patients(200, 9)
    again = PullForwardUplift.from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict(x), model.predict(x))


def _with_channel_columns(x: np.ndarray, keen: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The test matrix plus ``keen`` and every ``<channel>_<suffix>`` column (all unknown)."""
    names = [*FEATURES, "keen", *(f"{ch}_{s}" for ch in CHANNELS for s in SUFFIXES)]
    extra = np.full((len(x), len(names) - len(FEATURES) - 1), np.nan, dtype=np.float32)
    return np.column_stack([x, keen, extra]).astype(np.float32), names


def test_the_response_booster_tilts_toward_patients_who_react() -> None:
    rng = np.random.default_rng(11)
    x0, p_window, p_long = _patients(20_000, 11)
    keen = (rng.random(len(x0)) < 0.5).astype(np.float32)
    x, names = _with_channel_columns(x0, keen)
    y_window = (rng.random(len(x)) < p_window).astype(float)
    y_long = np.maximum(y_window, (rng.random(len(x)) < p_long).astype(float))
    model = PullForwardUplift(names, {}, seed=1, rounds=60).fit(x, y_window, y_long)
    # past contacts: keen patients react 40 % of the time, the others 5 %, on any channel
    contacts = pd.DataFrame({"channel": rng.choice(CHANNELS, len(x)),
                             "responded": (rng.random(len(x)) < np.where(keen > 0, 0.4, 0.05))
                             .astype(float)})
    model.fit_response(x, contacts)
    t = np.where(rng.random(len(x)) < 0.3, CONTROL, rng.integers(0, len(CHANNELS), len(x)))
    p = p_window + np.where(t >= 0, 0.3 * np.where(keen > 0, 0.4, 0.05) * model.pull(x), 0.0)
    model.calibrate(x, t, (rng.random(len(x)) < p).astype(float))
    same_pull = np.array([[1, 0, 0], [1, 0, 0]], dtype=np.float32)
    pair, _ = _with_channel_columns(same_pull, np.array([1, 0], dtype=np.float32))
    tau = model.predict(pair, response=np.full((2, len(CHANNELS)), 0.5))  # ignored: own booster
    assert np.all(tau[0] > 4 * tau[1])  # 0.4 / 0.05 = 8 in truth
    again = PullForwardUplift.from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict(pair), tau)


def _reaction_contacts(n: int, seed: int) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Contacts whose reaction chance is a known product: channel base x age gradient x the
    patient's responsiveness, which shows in their no-show rate and their past answers."""
    rng = np.random.default_rng(seed)
    names = ["age_years", "noshow_rate", "cancel_rate",
             *(f"{c}_{s}" for c in CHANNELS for s in ("sent", "responses"))]
    keen = rng.normal(size=n)
    age = rng.uniform(20, 80, n)
    noshow = 1 / (1 + np.exp(2.5 + 0.8 * keen + 0.3 * rng.normal(size=n)))
    base, slope = np.array([0.10, 0.05, 0.20, 0.03]), np.array([-0.4, -0.2, 0.4, 0.3])
    own = np.exp(0.5 * keen)
    sent = rng.poisson(2.0, (n, len(CHANNELS)))
    got = rng.binomial(sent, np.clip(base[None, :] * own[:, None], 0, 1))
    x = np.column_stack([age, noshow, np.full(n, 0.05),
                         *(v for c in range(len(CHANNELS)) for v in (sent[:, c], got[:, c]))])
    code = rng.integers(0, len(CHANNELS), n)
    p = np.clip(base[code] * np.exp(slope[code] * (age - 50) / 15) * own, 0, 1)
    return x.astype(np.float32), names, code, (rng.random(n) < p).astype(float)


def test_the_reaction_model_recovers_channel_age_and_the_patients_own_responsiveness() -> None:
    from training.uplift.reaction import ReactionModel

    x, names, code, y = _reaction_contacts(40_000, 21)
    model = ReactionModel(names).fit(x, code, y)
    b = model.coef_
    assert np.argmax(b[: len(CHANNELS)]) == 2 and np.argmin(b[: len(CHANNELS)]) == 3
    assert b[len(CHANNELS)] < 0 < b[len(CHANNELS) + 2]  # sms falls with age, phone rises
    assert b[2 * len(CHANNELS)] < 0  # more no-shows, fewer reactions
    assert b[-1] > 0 or b[-2] > 0  # past answers above the expected ones: more reactions
    r = model.predict(x)
    assert r.shape == (len(x), len(CHANNELS))
    np.testing.assert_allclose(r.mean(axis=0), [y[code == c].mean() for c in range(4)],
                               atol=0.01)
    again = ReactionModel.from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict(x[:50]), r[:50])


def test_the_reaction_tilt_keeps_each_channels_level_and_survives_a_round_trip() -> None:
    x0, names, code, y = _reaction_contacts(20_000, 22)
    x = np.column_stack([np.ones(len(x0)), np.zeros(len(x0)), np.zeros(len(x0)), x0]
                        ).astype(np.float32)
    names = [*FEATURES, *names]
    rng = np.random.default_rng(23)
    y_long = (rng.random(len(x)) < 0.5).astype(float)
    model = PullForwardUplift(names, {}, seed=1, rounds=20).fit(x, np.zeros(len(x)), y_long)
    contacts = pd.DataFrame({"channel": np.asarray(CHANNELS)[code], "responded": y})
    model.fit_reaction(x, contacts)
    t = np.where(rng.random(len(x)) < 0.3, CONTROL, code)
    model.calibrate(x, t, (rng.random(len(x)) < 0.05 + np.where(t >= 0, 0.02, 0)).astype(float))
    assert np.allclose(model.response_mean_, model.response_mean_[0])  # one pooled mean
    tau = model.predict(x, response=np.full((len(x), len(CHANNELS)), 0.5))  # ignored
    r = model.reaction_.predict(x)
    np.testing.assert_allclose(tau / tau[:, [0]], (model.k_ * r) / (model.k_[0] * r[:, [0]]),
                               rtol=1e-6)
    again = PullForwardUplift.from_dict(model.to_dict())
    np.testing.assert_allclose(again.predict(x[:100]), tau[:100], rtol=1e-6)
