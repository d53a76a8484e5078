"""Planning outreach sequences for a large campaign (issue 16: 50,000 members under 5 s).

What ``POST /campaigns`` with ``"sequence": true`` does for its treatment arm, without HTTP:
``sequence_inputs.build_inputs`` (the members' figures read from a served snapshot of
``--snapshot`` patients), ``sequences.plan_sequences`` (up to five attempts each, the bundle's
attempt factors) and ``sequence_inputs.sequence_lists`` (the response records). The snapshot
is synthetic, in the served index's shape: channel probabilities, uplift, expected revenue,
contacts in the cap window and permitted channels drawn like the demo's (about 55 % text,
80 % email, 90 % phone, 80 % mail consent). Best of ``--repeat`` runs, wall and CPU time.

Writes ``bench/results/sequences.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from features.config import Settings  # noqa: E402
from features.vocabulary import CHANNELS  # noqa: E402
from serving.targeting import sequence_inputs as si  # noqa: E402
from serving.targeting.policy import contacts_window_column  # noqa: E402
from serving.targeting.sequences import fatigue_model, plan_sequences  # noqa: E402
from training.attempt_model import PRIOR_OTHER, PRIOR_SAME  # noqa: E402


def snapshot(n: int, settings: Settings, seed: int) -> SimpleNamespace:
    """A served index's arrays and frame columns the planner reads, for ``n`` patients."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(2, 18, (n, len(CHANNELS))) * [1.0, 0.8, 1.3, 0.6], 0, 1)
    frame = pd.DataFrame({
        si.VALUE_COLUMN: rng.lognormal(5.3, 0.5, n),
        contacts_window_column(settings): rng.integers(0, 4, n).astype(float),
        **{f"uplift_{c}": p[:, i] * 0.4 for i, c in enumerate(CHANNELS)},
    })
    permitted = rng.random((n, len(CHANNELS))) < [0.55, 0.8, 0.9, 0.8]
    return SimpleNamespace(frame=frame, probabilities=p, permitted=permitted)


def plan_once(index: SimpleNamespace, rows: np.ndarray, settings: Settings) -> tuple:
    """One campaign's planning, as ``sequence_campaigns.plan_treatment`` does it."""
    inputs = si.build_inputs(index, rows, index.permitted[rows],
                             si.snapshot_contacts(index, rows, settings), None)
    plan = plan_sequences(inputs, pd.Timestamp("2026-12-02"), si.costs(settings),
                          fatigue_model(PRIOR_SAME, PRIOR_OTHER), settings.policy.sequences,
                          settings.policy.max_contacts)
    return plan, si.sequence_lists(plan, len(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=50_000)
    ap.add_argument("--snapshot", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" /
                    "sequences.json")
    args = ap.parse_args()
    settings = Settings()
    index = snapshot(args.snapshot, settings, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    rows = np.sort(rng.choice(args.snapshot, args.members, replace=False))
    walls, cpus = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        plan, lists = plan_once(index, rows, settings)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    per_attempt = plan["attempt"].value_counts().sort_index()
    result = {
        "members": args.members, "snapshot_rows": args.snapshot,
        "plan_s": round(min(walls), 3), "plan_cpu_s": round(min(cpus), 3),
        "runs_s": [round(w, 3) for w in walls], "target_s": 5.0,
        "attempts_planned": int(len(plan)),
        "members_with_a_plan": int(sum(1 for x in lists if x)),
        "attempts_by_number": {int(k): int(v) for k, v in per_attempt.items()},
        "channels": {str(k): int(v) for k, v in plan["channel"].value_counts().items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "peak_rss_gb": round(peak_rss_gb(), 2),
    }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
