"""Channel responsiveness: how each patient answers texts, emails, calls and letters.

Why: the best channel differs per patient, and a patient who ignored the last five texts is
tired of texts. Per channel in ``CHANNELS``: contacts sent, responses, bookings credited by the
contract's attribution rule, a response rate shrunk toward the clinic's rate for that channel
known at T (empirical Bayes, ``rate_prior_strength`` pseudo-contacts), days since the last
contact and response, and attempts since the last response. Plus the contact-policy columns:
opt-outs, consent (current state), days since any contact and contacts in the contact cap's
window (``contacts_<N>d``, N = ``policy.max_contacts_window_days``: the features count the
window the policy caps on, so the two cannot disagree).

As of T (cutoff = midnight after day T): a contact counts when ``sent_at < cutoff``; its
response only when ``responded_at < cutoff``; its opt-out only when the opt-out's own time
(``responded_at``, else ``sent_at``) is; a booking is credited only when the booking
(``booked_at``, else ``visit_at``) is before the cutoff. Without a contacts table every
channel feature is missing and no opt-out is known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from features.pipeline.events import Events, at, day_number, prepare
from features.pipeline.grouping import rate
from features.spec import contacts_column, family_columns, typed_frame
from features.vocabulary import CHANNELS


def build(tables: Tables, as_of: str | pd.Timestamp, settings: Settings) -> pd.DataFrame:
    """Channel features of every patient of ``tables`` as of the end of day ``as_of``.

    Returns:
        Frame indexed by ``patient_id`` with ``days_since_last_contact``, ``contacts_<N>d``,
        per channel ``<ch>_sent``, ``<ch>_responses``, ``<ch>_bookings``,
        ``<ch>_response_rate``, ``<ch>_days_since_last_contact``,
        ``<ch>_days_since_last_response``, ``<ch>_attempts_since_response``, then
        ``opted_out_<ch>`` and ``consent_<ch>`` (booleans).
    """
    return from_events(at(prepare(tables), as_of, settings.features.attribution_days), settings)


def from_events(ev: Events, settings: Settings) -> pd.DataFrame:
    """Channel features from an as-of view (see :func:`build`)."""
    return typed_frame(columns(ev, settings), ev.index, "channels",
                       settings.policy.max_contacts_window_days)


def columns(ev: Events, settings: Settings) -> dict[str, np.ndarray]:
    """Channel columns as arrays in patient order (see :func:`build`)."""
    if ev.contacts is not None:
        out = _activity(ev, settings)
    else:
        names = family_columns("channels", settings.policy.max_contacts_window_days)
        out = {name: np.full(ev.n, np.nan) for name in names}
        out.update({f"opted_out_{ch}": np.zeros(ev.n, dtype=bool) for ch in CHANNELS})
    out.update({f"consent_{ch}": v for ch, v in consent(ev.prepared.patients, settings).items()})
    return out


def _activity(ev: Events, settings: Settings) -> dict[str, np.ndarray]:
    """Counts, rates and recencies per patient and channel from the known contacts."""
    c, n, p = ev.contacts, ev.n, ev.prepared
    assert c is not None and ev.credited is not None
    n_ch = len(CHANNELS)
    key = c.pid * n_ch + c.channel
    size = n * n_ch

    def per_cell(weights: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        k, w = (key, weights) if mask is None else (key[mask], None if weights is None else
                                                      weights[mask])
        return np.bincount(k, weights=w, minlength=size).reshape(n, n_ch)

    responded = ~np.isnat(c.responded_at)
    sent = per_cell()
    responses = per_cell(mask=responded)
    bookings = per_cell(weights=ev.credited.astype(np.float64)).astype(np.int64)
    opted = per_cell(mask=c.opted_out) > 0

    clinic_sent = _by_clinic(p.clinic, sent, len(p.clinics))
    clinic_resp = _by_clinic(p.clinic, responses, len(p.clinics))
    prior = rate(clinic_resp, clinic_sent)[p.clinic]
    k = settings.features.rate_prior_strength
    smoothed = np.where(np.isnan(prior), rate(responses, sent), (responses + k * prior) /
                        (sent + k))

    sent_day = day_number(c.sent_at)
    last_sent = _cell_max(key, sent_day.astype(np.float64), size).reshape(n, n_ch)
    resp_ns = np.where(responded, c.responded_at.view(np.int64), np.iinfo(np.int64).min)
    last_resp_ns = np.full(size, np.iinfo(np.int64).min)
    np.maximum.at(last_resp_ns, key, resp_ns)
    has_resp = last_resp_ns > np.iinfo(np.int64).min
    last_resp_day = np.where(has_resp, day_number(last_resp_ns.view("datetime64[ns]")), np.nan)
    after = c.sent_at.view(np.int64) > last_resp_ns[key]
    attempts = per_cell(mask=after).astype(np.int64)

    out: dict[str, np.ndarray] = {}
    all_last = np.max(np.where(np.isnan(last_sent), -np.inf, last_sent), axis=1)
    out["days_since_last_contact"] = np.where(np.isfinite(all_last), ev.day - all_last, np.nan)
    window = settings.policy.max_contacts_window_days
    out[contacts_column(window)] = np.bincount(c.pid[sent_day > ev.day - window], minlength=n)
    for j, ch in enumerate(CHANNELS):
        out[f"{ch}_sent"] = sent[:, j].astype(np.int64)
        out[f"{ch}_responses"] = responses[:, j].astype(np.int64)
        out[f"{ch}_bookings"] = bookings[:, j]
        out[f"{ch}_response_rate"] = smoothed[:, j]
        out[f"{ch}_days_since_last_contact"] = ev.day - last_sent[:, j]
        out[f"{ch}_days_since_last_response"] = ev.day - last_resp_day.reshape(n, n_ch)[:, j]
        out[f"{ch}_attempts_since_response"] = attempts[:, j]
    for j, ch in enumerate(CHANNELS):
        out[f"opted_out_{ch}"] = opted[:, j]
    return out


def _by_clinic(clinic: np.ndarray, cells: np.ndarray, n_clinics: int) -> np.ndarray:
    """Sum a (patients x channels) matrix per clinic: (clinics x channels)."""
    return np.stack([np.bincount(clinic, weights=cells[:, j], minlength=n_clinics)
                     for j in range(cells.shape[1])], axis=1)


def _cell_max(key: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Maximum of ``values`` per key (NaN for empty keys)."""
    out = np.full(size, -np.inf)
    np.maximum.at(out, key, values)
    return np.where(np.isfinite(out), out, np.nan)


def consent(patients: pd.DataFrame, settings: Settings) -> dict[str, np.ndarray]:
    """Current consent per channel, resolved by the contract.

    Unknown (missing column or empty value) means not consented for SMS (marketing texts need
    express consent) and allowed for email, phone and mail unless
    ``email_phone_mail_allowed_when_unknown`` is False. Never a model input: it describes the
    patient at the export date.
    """
    allowed = settings.features.email_phone_mail_allowed_when_unknown
    out = {}
    for ch in CHANNELS:
        column = f"consent_{ch}"
        default = False if ch == "sms" else allowed
        values = patients[column] if column in patients else pd.Series(pd.NA, index=patients.index)
        out[ch] = values.astype("boolean").fillna(default).to_numpy(bool)
    return out
