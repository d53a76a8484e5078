"""Benchmark the demo-clinic simulator: time and peak memory per phase.

Usage:
    python bench/simulator_bench.py --patients 1000000 [--seed 1] [--out DIR]

Phases: ``simulate`` (engine + contract tables), ``truth`` (the default 25 truth dates),
``write_csv`` (the three contract CSVs, into a temporary folder unless ``--out``).
Results are merged into ``bench/results/simulator.json`` under the patient count.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.simulator import simulate, truth_at  # noqa: E402
from features.simulator.export import write_csvs  # noqa: E402
from features.simulator.rates import marginal_rates  # noqa: E402
from features.simulator.writer import default_truth_dates  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "simulator.json"


def _peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(patients: int, seed: int, out: Path | None, truth_dates: int) -> dict:
    """Time each phase of one simulated clinic and return the measurements."""
    result: dict = {"patients": patients, "seed": seed, "python": platform.python_version()}
    t0 = time.perf_counter()
    sim = simulate(patients, seed)
    result["simulate_s"] = round(time.perf_counter() - t0, 2)
    result["peak_mb_after_simulate"] = round(_peak_mb())
    result["visits"] = len(sim.tables.visits)
    result["contacts"] = len(sim.tables.contacts)
    dates = default_truth_dates(sim.start, sim.end)[-truth_dates:]
    t0 = time.perf_counter()
    rows = sum(len(truth_at(sim, d)[0]) for d in dates)
    result["truth_dates"] = len(dates)
    result["truth_s"] = round(time.perf_counter() - t0, 2)
    result["truth_return_rows"] = rows
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_csvs(sim.tables, out or Path(tmp))
    result["write_csv_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    rates = marginal_rates(sim)
    result["rates_s"] = round(time.perf_counter() - t0, 2)
    result["rates"] = rates
    result["peak_mb"] = round(_peak_mb())
    result["total_s"] = round(sum(v for k, v in result.items() if k.endswith("_s")), 2)
    return result


def main() -> None:
    """Parse flags, run, merge into the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--truth-dates", type=int, default=25, help="how many default dates")
    parser.add_argument("--out", type=Path, default=None, help="keep the CSVs here")
    args = parser.parse_args()
    result = run(args.patients, args.seed, args.out, args.truth_dates)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing[str(args.patients)] = result
    RESULTS.write_text(json.dumps(existing, indent=2, default=float))
    print(json.dumps({k: v for k, v in result.items() if k != "rates"}, indent=2))


if __name__ == "__main__":
    main()
