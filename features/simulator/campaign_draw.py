"""Draw a campaign's members from the demo clinic's export, as the service would list them.

Lapsed patients (last completed visit 180-730 days before the export, nothing scheduled, not
do-not-contact or deceased, some channel allowed), randomised to ``treatment`` or
``holdout`` and assigned the morning after the export.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.export.tables import CAMPAIGN_MEMBER_DTYPES, Tables
from features.simulator.engine import RawRun
from features.simulator.export import patient_ids
from features.simulator.outreach import allowed_channels
from features.vocabulary import CHANNELS, COMPLETED, HOLDOUT, SCHEDULED, TREATMENT


def draw_members(raw: RawRun, tables: Tables, campaign_id: str, seed: int,
                 holdout_share: float = 0.1, limit: int | None = None) -> pd.DataFrame:
    """``campaign_members`` rows of a new campaign (one channel per member, drawn at random
    among the allowed ones, as the clinic's own campaigns do)."""
    if not 0 < holdout_share < 1:
        raise ValueError("holdout_share must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    v, p = tables.visits, tables.patients
    export = tables.export_date.normalize()
    last = v[v["status"] == COMPLETED].groupby("patient_id")["visit_at"].max()
    gap = (export - last).dt.days
    lo, hi = raw.cfg.campaign_lapsed_days
    lapsed = set(gap[(gap >= lo) & (gap <= hi)].index)
    lapsed -= set(v.loc[v["status"] == SCHEDULED, "patient_id"])
    flags = p["do_not_contact"].fillna(False) | p["deceased"].fillna(False)
    lapsed -= set(p.loc[flags.to_numpy(bool), "patient_id"])
    ids = pd.Index(patient_ids(raw))
    pat = np.sort(ids.get_indexer(sorted(lapsed)))
    allowed = allowed_channels(raw.pop, raw.opted_out, pat)
    pat, allowed = pat[allowed.any(axis=1)], allowed[allowed.any(axis=1)]
    if limit is not None and limit < len(pat):
        keep = np.sort(rng.choice(len(pat), limit, replace=False))
        pat, allowed = pat[keep], allowed[keep]
    cum = np.cumsum(allowed, axis=1)
    channel = (cum <= (rng.random(len(pat)) * cum[:, -1])[:, None]).sum(axis=1)
    arm = np.where(rng.random(len(pat)) < holdout_share, HOLDOUT, TREATMENT)
    return pd.DataFrame({
        "campaign_id": campaign_id,
        "patient_id": ids[pat].to_numpy(dtype=object),
        "assigned_at": export + pd.Timedelta(days=1, hours=8),
        "arm": arm.astype(object),
        "channel": np.asarray(CHANNELS, dtype=object)[channel],
    }).astype(CAMPAIGN_MEMBER_DTYPES)
