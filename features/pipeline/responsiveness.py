"""Responsiveness: how readily a patient answers a contact, pooled across channels.

Why: a message adds a booking mostly through a reaction (a reply, a click, an answered
call), and how readily someone reacts is largely a trait of the person - a patient who
answers texts tends to pick up the phone too. Per channel a patient has two or three past
contacts at most, so the per-channel share (``channels``: ``<ch>_response_rate``, shrunk
toward the clinic) is mostly noise; pooling every channel's contacts gives one far better
measured number, and the channel's own share is then pulled toward it, not toward the
clinic. Three levels of empirical Bayes, all from contacts and responses known at T (the
``channels`` family's counts, so the point-in-time rule is that family's):

1. **Expected share** ``e_c``: the clinic's response share on channel c among patients of the
   same age band (younger patients answer texts, older ones calls and letters), shrunk
   toward the clinic's share on c by ``responsiveness_band_strength`` pseudo-contacts.
2. **Responsiveness** ``rho = (R + a) / (E + a)``: the patient's responses on every channel
   (R) over the responses an average patient of that age would have given to the same
   contacts (``E = sum_c sent_c e_c``), a gamma prior of mean 1 with ``a`` pseudo-responses.
   ``a`` is estimated per clinic by the method of moments (the spread of R around E beyond
   the binomial noise: ``1/a = sum((R - E)^2 - V) / sum E^2``), so a clinic whose patients
   differ a lot trusts a patient's own record sooner.
3. **Channel share** ``(r_c + k e_c rho) / (sent_c + k)``, ``k`` = ``rate_prior_strength``:
   the channel's own record where there is one, the patient's pooled rate elsewhere.

Without a contacts table every column is missing; a patient never contacted gets
``rho = 1`` and the expected shares of their age band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline import channels, demographics
from features.pipeline.events import at, prepare
from features.pipeline.grouping import rate
from features.spec import typed_frame
from features.vocabulary import CHANNELS

AGE_BAND_YEARS = 15  # bands 0-14, 15-29, ... 75+; the unknown age gets a band of its own
_BANDS = 6
_A_BOUNDS = (0.5, 200.0)  # prior strength in pseudo-responses: at most sd 1.4, at least 0.07


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Responsiveness of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``responsiveness`` (rho: 1 = as responsive as
        an average patient of the same age) and, per channel, ``<ch>_response_pooled`` (the
        expected chance the patient reacts to a contact on it).
    """
    prepared = prepare(tables)
    ev = at(prepared, as_of, settings.features.attribution_days)
    values = channels.columns(ev, settings)
    values.update(demographics.columns(prepared.patients, as_of, settings))
    return typed_frame(columns(values, prepared.clinic, settings), ev.index, "responsiveness")


def columns(values: dict[str, np.ndarray], clinic: np.ndarray,
            settings: Settings) -> dict[str, np.ndarray]:
    """Responsiveness columns from the ``channels`` and ``demographics`` columns.

    Args:
        values: at least ``<ch>_sent``, ``<ch>_responses`` per channel and ``age_years``,
            one entry per patient (the arrays ``build_prepared`` collects).
        clinic: clinic code per patient (priors are per clinic).
        settings: ``features.rate_prior_strength``, ``features.responsiveness_band_strength``.

    Returns:
        ``responsiveness`` and ``<ch>_response_pooled`` arrays (see :func:`build`).
    """
    sent = np.stack([np.asarray(values[f"{ch}_sent"], float) for ch in CHANNELS], axis=1)
    resp = np.stack([np.asarray(values[f"{ch}_responses"], float) for ch in CHANNELS], axis=1)
    n = len(sent)
    if n == 0 or np.isnan(sent).all():
        out = {"responsiveness": np.full(n, np.nan)}
        out.update({f"{ch}_response_pooled": np.full(n, np.nan) for ch in CHANNELS})
        return out
    expected = expected_shares(sent, resp, np.asarray(values["age_years"], float), clinic,
                               settings.features.responsiveness_band_strength)
    e_total = np.nansum(sent * expected, axis=1)
    r_total = resp.sum(axis=1)
    var = np.nansum(sent * expected * (1 - expected), axis=1)
    a = _prior_strength(r_total, e_total, var, clinic)
    rho = (r_total + a) / (e_total + a)
    k = settings.features.rate_prior_strength
    pooled = (resp + k * expected * rho[:, None]) / (sent + k)
    out = {"responsiveness": rho}
    out.update({f"{ch}_response_pooled": pooled[:, j] for j, ch in enumerate(CHANNELS)})
    return out


def expected_shares(sent: np.ndarray, resp: np.ndarray, age: np.ndarray, clinic: np.ndarray,
                    strength: float) -> np.ndarray:
    """``(n, channels)``: the response share of the patient's clinic and age band per channel.

    A band's share is pulled toward the clinic's share on the channel by ``strength``
    pseudo-contacts; a clinic without a contact on a channel gets every clinic's share, and
    a channel nobody was ever contacted on is NaN (its expected responses count as none).
    """
    band = np.where(np.isnan(age), _BANDS,
                    np.clip(np.nan_to_num(age) // AGE_BAND_YEARS, 0, _BANDS - 1)).astype(np.int64)
    n_clinics = int(clinic.max()) + 1 if len(clinic) else 1
    cell = clinic * (_BANDS + 1) + band
    n_cells = n_clinics * (_BANDS + 1)
    everyone = rate(resp.sum(axis=0), sent.sum(axis=0))
    out = np.empty_like(sent)
    for j in range(sent.shape[1]):
        c_sent = np.bincount(clinic, weights=sent[:, j], minlength=n_clinics)
        c_resp = np.bincount(clinic, weights=resp[:, j], minlength=n_clinics)
        c_rate = np.where(c_sent > 0, rate(c_resp, c_sent), everyone[j])
        b_sent = np.bincount(cell, weights=sent[:, j], minlength=n_cells)
        b_resp = np.bincount(cell, weights=resp[:, j], minlength=n_cells)
        prior = c_rate[np.arange(n_cells) // (_BANDS + 1)]
        out[:, j] = ((b_resp + strength * prior) / (b_sent + strength))[cell]
    return out


def _prior_strength(r: np.ndarray, e: np.ndarray, var: np.ndarray,
                    clinic: np.ndarray) -> np.ndarray:
    """Per patient, the gamma prior's ``a`` of their clinic (method of moments, bounded)."""
    n_clinics = int(clinic.max()) + 1
    excess = np.bincount(clinic, weights=(r - e) ** 2 - var, minlength=n_clinics)
    scale = np.bincount(clinic, weights=e**2, minlength=n_clinics)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(scale > 0, excess / np.where(scale > 0, scale, 1.0), 0.0)
    a = np.where(inv > 0, 1.0 / np.maximum(inv, 1e-12), _A_BOUNDS[1])
    return np.clip(a, *_A_BOUNDS)[clinic]
