"""``reactivate evaluate`` on the demo clinic: the planned sequences against simple orders.

Wiring only: the campaign is drawn as ``POST /campaigns`` draws it (the ``/rank`` list of
lapsing and inactive patients in the bundle's default ordering, a seeded holdout), its
treatment arm is planned by the real planner from the trained bundle, and the clinic's
simulation (rebuilt from ``truth/meta.json``) gives the exact true booking probability of
each strategy (``serving.targeting.sequence_evaluation``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.config import Settings
from features.export.tables import Tables
from serving.api.campaigns import draw_holdout
from serving.targeting import sequence_evaluation as ev
from serving.targeting import sequence_inputs as si
from serving.targeting.index import build_index
from serving.targeting.ranking import RankFilters, rank_patients, resolve_ordering
from serving.targeting.sequences import plan_sequences

SEGMENTS = ["lapsing", "inactive"]


def _meta(truth_dir: Path) -> dict:
    import json

    from features.simulator.truth_files import META_FILE

    return json.loads((Path(truth_dir) / META_FILE).read_text())


def default_clinic(truth_dir: Path) -> str | None:
    """The demo campaign's clinic (the first dental one; else the first clinic)."""
    meta = _meta(truth_dir)
    if "per_clinic" not in meta:  # one clinic (``write_demo``)
        return meta.get("clinic_id")
    clinics = list(meta["per_clinic"])
    dental = [c for c in clinics if meta["per_clinic"][c].get("practice") == "dental"]
    return (dental or clinics or [None])[0]


def _tuples(value: object) -> object:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def rebuild(truth_dir: Path, clinic_id: str) -> tuple[object, str]:
    """The clinic's simulation and the prefix its export ids carry (a group's ``<clinic>-``;
    none for a one-clinic demo, rebuilt from the parameters ``meta.json`` recorded)."""
    from features.simulator.api import simulate
    from features.simulator.demo_play import rebuild_clinic
    from features.simulator.params import SimConfig

    meta = _meta(truth_dir)
    if "per_clinic" in meta:
        return rebuild_clinic(Path(truth_dir).parent, clinic_id), f"{clinic_id}-"
    if clinic_id != meta.get("clinic_id"):
        raise ValueError(f"truth/meta.json: the demo has no clinic {clinic_id!r}")
    config = SimConfig(**{k: _tuples(v) for k, v in meta["config"].items()})
    return simulate(int(meta["n_patients"]), int(meta["seed"]), meta["start"], meta["end"],
                    clinic_id, config=config), ""


def evaluate_demo_sequences(
    tables: Tables, bundle: object, settings: Settings, truth_dir: Path,
    as_of: pd.Timestamp, clinic_id: str, limit: int = 2000, holdout_share: float = 0.2,
    members: int = 300, seed: int = 7,
) -> dict:
    """The sequence evaluation of a campaign on ``clinic_id`` planned as of ``as_of``.

    Args:
        limit, holdout_share, seed: the campaign (as ``make demo``'s ``POST /campaigns``).
        members: treatment members evaluated (a seeded sample: each strategy costs exact
            outcome-tree runs of the truth).

    Returns:
        :func:`serving.targeting.sequence_evaluation.evaluate_sequences`'s dict plus
        ``clinic_id``, ``as_of``, ``treatment`` (arm size), ``window_days`` and ``excluded``
        (sampled members the truth does not cover: physiotherapy patients between courses).
    """
    from features.simulator.export import patient_ids
    from features.simulator.params import CADENCE
    from features.simulator.truth import state_at
    from training.scoring import score

    sim, head = rebuild(truth_dir, clinic_id)  # first: names a clinic the demo lacks
    day = pd.Timestamp(as_of).normalize()
    frame = score(tables, day, bundle, settings)
    index = build_index(frame, settings)
    summary = bundle.uplift_summary()
    ordering = resolve_ordering(index, None, summary["ordering"], summary["ordering_reason"])[0]
    listed = rank_patients(index, clinic_id, RankFilters(segments=SEGMENTS), limit, ordering)
    treatment = listed.rows[~draw_holdout(len(listed.rows), holdout_share, seed)]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(treatment, min(members, len(treatment)), replace=False))

    ids = pd.Series(index.outputs["patient_id"][rows], dtype=object).str.slice(len(head))
    pop_rows = pd.Index(patient_ids(sim.raw)).get_indexer(ids)
    state = state_at(sim.raw, sim.raw.calendar.day_of(day))
    covered = (pop_rows >= 0) & (pop_rows < len(state.engaged))
    covered[covered] &= state.mode[pop_rows[covered]] == CADENCE
    rows, pop_rows = rows[covered], pop_rows[covered]

    inputs = si.build_inputs(index, rows, si.unpack_bits(index.channel_bits[rows]),
                             si.snapshot_contacts(index, rows, settings), None)
    plan = plan_sequences(inputs, day + pd.Timedelta(days=1), si.costs(settings),
                          si.attempt_model(bundle), settings.policy.sequences,
                          settings.policy.max_contacts)
    planned, offsets = ev.planned_channels(plan, len(rows))
    window = int(offsets.max(initial=0)) + settings.features.attribution_days
    result = ev.evaluate_sequences(planned, inputs.permitted, offsets,
                                   ev.simulator_truth(sim.raw, state, pop_rows, window))
    return {"clinic_id": clinic_id, "as_of": day.date().isoformat(),
            "treatment": int(len(treatment)), "window_days": window,
            "offsets": [int(o) for o in offsets], "excluded": int((~covered).sum()),
            **result}
