"""What every benchmark script shares: its process's peak memory and how results are written."""

from __future__ import annotations

import json
import resource
from pathlib import Path


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def write_result(result: dict, out: Path) -> None:
    """Write ``result`` as indented JSON to ``out`` (folders created) and echo it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
