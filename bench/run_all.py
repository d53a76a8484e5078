"""Run every benchmark of the project, one after the other, and list their result files.

Each ``bench/*_bench.py`` script measures one layer on the 1,000,000-patient scale and writes
``bench/results/<name>.json``. They run in separate processes so one's peak memory does not
pollute the next one's figure. Extra arguments are passed to every script.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ORDER = ("simulator", "features", "scoring", "serving", "drift", "nightly")
# Per-benchmark arguments for the 1,000,000-patient scale run.
ARGS: dict[str, tuple[str, ...]] = {
    "simulator": ("--patients", "1000000"),
    "features": ("--cache", "bench/.cache"),
    "nightly": ("--cache", "bench/.cache", "--auc-patients", "200000"),
}


def main(argv: list[str]) -> int:
    bench_dir = Path(__file__).resolve().parent
    scripts = {p.stem.removesuffix("_bench"): p for p in bench_dir.glob("*_bench.py")}
    names = [n for n in ORDER if n in scripts] + sorted(set(scripts) - set(ORDER))
    failed = []
    for name in names:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        code = subprocess.call(
            [sys.executable, str(scripts[name]), *ARGS.get(name, ()), *argv], cwd=bench_dir.parent
        )
        print(f"== {name}: exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    for path in sorted((bench_dir / "results").glob("*.json")):
        print(f"results: {path.relative_to(bench_dir.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
