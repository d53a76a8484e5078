"""Post outcome events from a Parquet/CSV file to ``POST /outcomes`` in batches (``make demo``).

    python scripts/post_outcomes.py EVENTS.parquet --url http://127.0.0.1:3000 \\
        --token TOKEN --clinic dental-1 [--batch 10000] [--answer FIRST.json]

Times are sent as ISO text (clinic local time), empty fields are left out. Prints each
batch's accepted/duplicates/rejected counts and the totals; ``--answer`` keeps the first
batch's answer (the README quotes it). Exits 1 when any event was rejected.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd

MAX_BATCH = 10_000


def records(frame: pd.DataFrame) -> list[dict]:
    """Events as JSON-ready dicts: timestamps as ISO text, missing values left out."""
    out = []
    for row in frame.to_dict("records"):
        event = {}
        for key, value in row.items():
            if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                continue
            event[key] = value.isoformat() if isinstance(value, pd.Timestamp) else value
        out.append(event)
    return out


def post(url: str, token: str, body: dict) -> dict:
    """One POST, the JSON answer (raises on a non-200 status)."""
    request = urllib.request.Request(
        f"{url}/outcomes", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", type=Path)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--clinic", required=True)
    ap.add_argument("--batch", type=int, default=MAX_BATCH)
    ap.add_argument("--answer", type=Path, default=None)
    args = ap.parse_args(argv)
    batch = max(1, min(args.batch, MAX_BATCH))
    frame = (pd.read_parquet(args.events) if args.events.suffix == ".parquet"
             else pd.read_csv(args.events, dtype=str, keep_default_na=False, na_values=[""]))
    events = records(frame)
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    started = time.perf_counter()
    for first in range(0, len(events), batch):
        answer = post(args.url, args.token,
                      {"clinic_id": args.clinic, "events": events[first:first + batch]})
        if first == 0 and args.answer is not None:
            args.answer.write_text(json.dumps(answer, indent=2) + "\n")
        for key in totals:
            totals[key] += answer[key]
        print(f"  events {first + 1:,}-{min(first + batch, len(events)):,}: accepted "
              f"{answer['accepted']:,}, duplicates {answer['duplicates']:,}, rejected "
              f"{answer['rejected']:,}")
    seconds = time.perf_counter() - started
    print(f"posted {len(events):,} events in {seconds:.1f} s: accepted {totals['accepted']:,}, "
          f"duplicates {totals['duplicates']:,}, rejected {totals['rejected']:,}")
    return 1 if totals["rejected"] else 0


if __name__ == "__main__":
    sys.exit(main())
