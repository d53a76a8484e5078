"""How far is the evaluation's "best found" sequence from the exhaustive best?

``serving.targeting.sequence_evaluation`` takes as the best sequence the truth allows the
best of the 64 cyclic orders of channel subsets (plus the strategies it compares), since
the exhaustive search (every channel on every attempt) costs one exact outcome-tree run per
sequence. This script runs the exhaustive search where it is affordable: lapsed patients of
a demo clinic (cadence care, nothing booked, last visit over 120 days before the export)
who allow exactly ``--channels`` channels, ``--attempts`` attempts on the planner's days
(0, 7, 16, 28, 42), window 56 days; ``channels ** attempts`` sequences against the cyclic
orders of the same channels.

Writes ``bench/results/sequence_search.json``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from features.simulator.demo_play import rebuild_clinic  # noqa: E402
from features.simulator.params import CADENCE  # noqa: E402
from features.simulator.truth import state_at  # noqa: E402
from features.simulator.truth_sequences import p_book_sequence  # noqa: E402
from serving.targeting.sequence_evaluation import cycled  # noqa: E402

OFFSETS = (0, 7, 16, 28, 42)
WINDOW = 56


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path, nargs="?", default=Path("demo"),
                    help="the folder `reactivate demo-data` wrote (default: make demo's)")
    ap.add_argument("--clinic", default="dental-1")
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--attempts", type=int, default=5)
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" /
                    "sequence_search.json")
    args = ap.parse_args()
    if not (args.demo / "truth").is_dir():
        print(f"skipped: no demo truth under {args.demo} (run `reactivate demo-data` first)")
        return
    raw = rebuild_clinic(args.demo, args.clinic).raw
    state = state_at(raw, raw.end_day)
    allowed = raw.pop.consent[: len(state.engaged)] & ~raw.opted_out[: len(state.engaged)]
    lapsed = ((state.mode == CADENCE) & (raw.end_day - state.last_day > 120)
              & (state.pend_day < 0) & (allowed.sum(axis=1) == args.channels))
    # the most common channel set among them, so one set of sequences serves all rows
    sets, counts = np.unique(allowed[lapsed], axis=0, return_counts=True)
    chosen = sets[np.argmax(counts)]
    rows = np.flatnonzero(lapsed & (allowed == chosen).all(axis=1))[: args.patients]
    sub = state.take(rows)
    channels = tuple(int(c) for c in np.flatnonzero(chosen))
    offsets = OFFSETS[: args.attempts]

    def truth(seq: tuple[int, ...]) -> np.ndarray:
        return p_book_sequence(raw, sub, rows, list(zip(seq, offsets, strict=True)), WINDOW)

    t0 = time.perf_counter()
    orders = [o for k in range(1, len(channels) + 1)
              for o in itertools.permutations(channels, k)]
    cyclic = np.max([truth(cycled(o, args.attempts)) for o in orders], axis=0)
    t_cyclic = time.perf_counter() - t0
    every = list(itertools.product(channels, repeat=args.attempts))
    results = np.vstack([truth(s) for s in every])
    exhaustive = results.max(axis=0)
    t_all = time.perf_counter() - t0 - t_cyclic
    none = p_book_sequence(raw, sub, rows, [], WINDOW)
    best_seq = [every[i] for i in np.bincount(results.argmax(axis=0)).argsort()[::-1][:3]]
    result = {
        "clinic": args.clinic, "patients": int(len(rows)), "channels": list(channels),
        "attempts": args.attempts, "window_days": WINDOW,
        "sequences_exhaustive": len(every), "sequences_cyclic": len(orders),
        "no_contact": round(float(none.mean()), 5),
        "cyclic_best": round(float(cyclic.mean()), 5),
        "exhaustive_best": round(float(exhaustive.mean()), 5),
        "cyclic_share_of_exhaustive_gain": round(
            float((cyclic.mean() - none.mean()) / (exhaustive.mean() - none.mean())), 4),
        "most_often_best": [list(s) for s in best_seq],
        "cyclic_s": round(t_cyclic, 1), "exhaustive_s": round(t_all, 1),
        "peak_rss_gb": round(peak_rss_gb(), 2),
    }
    write_result(result, args.out)


if __name__ == "__main__":
    main()
