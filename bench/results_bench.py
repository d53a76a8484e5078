"""Campaign results at scale: a 500,000-member campaign with 2,000,000 outcome events.

Synthetic frames in the contract dtypes (members split 90/10, two attempts on one channel
each, deliveries, replies, opt-outs, bookings, kept and missed visits, practice-system
bookings of holdout members, events of patients outside the campaign) plus 1,000,000
exported visits. Times ``training.campaign_results.campaign_results`` (best of ``--repeat``
runs; wall and CPU time, with the machine's load average, since a
loaded machine inflates the wall time) and writes ``bench/results/campaign_results.json``. Target: under 1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from features.config import Settings  # noqa: E402
from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES  # noqa: E402
from features.vocabulary import CHANNELS  # noqa: E402
from training.campaign_results import campaign_results  # noqa: E402

START = np.datetime64("2026-03-02T09:00", "ns")
HOUR = np.timedelta64(3_600_000_000_000, "ns")


def frames(members: int, events: int, visits: int, seed: int):
    """Members, events and visits frames of the sizes asked for."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("P", np.arange(members * 2).astype(str)).astype(object)
    arm = np.where(rng.random(members) < 0.1, "holdout", "treatment").astype(object)
    channel = np.asarray(CHANNELS, dtype=object)[rng.integers(0, 4, members)]
    m = pd.DataFrame({"campaign_id": "big", "patient_id": ids[:members],
                      "assigned_at": START, "arm": arm, "channel": channel})
    treated = np.flatnonzero(arm == "treatment")
    kinds = np.array(["sent", "delivered", "replied", "opted_out", "booked", "attended",
                      "no_show", "clicked"], dtype=object)
    weights = np.array([0.45, 0.40, 0.03, 0.005, 0.05, 0.04, 0.005, 0.02])
    kind = kinds[rng.choice(len(kinds), events, p=weights / weights.sum())]
    who = np.where(rng.random(events) < 0.9, treated[rng.integers(0, len(treated), events)],
                   rng.integers(0, members * 2, events))
    contact = np.isin(kind, ["sent", "delivered", "replied", "opted_out", "clicked"])
    e = pd.DataFrame({
        "event_id": np.char.add("e", np.arange(events).astype(str)).astype(object),
        "patient_id": ids[who],
        "campaign_id": np.where(contact, "big", None).astype(object),
        "channel": np.where(contact, channel[who % members], None).astype(object),
        "type": kind,
        "at": START + rng.integers(0, 24 * 30, events) * HOUR,
        "revenue": np.where(kind == "attended", rng.uniform(50, 500, events), np.nan),
        "cost": np.nan,
        "appointment_at": np.datetime64("NaT", "ns"),
    })
    booked = START + rng.integers(-24 * 200, 24 * 20, visits) * HOUR
    v = pd.DataFrame({
        "patient_id": ids[rng.integers(0, members * 2, visits)],
        "visit_at": booked + rng.integers(24, 24 * 28, visits) * HOUR,
        "status": np.asarray(["completed", "no_show", "cancelled"], dtype=object)[
            rng.choice(3, visits, p=[0.88, 0.06, 0.06])],
        "booked_at": booked,
        "revenue": rng.uniform(0, 600, visits),
    })
    return m.astype(CAMPAIGN_MEMBER_DTYPES), e.astype(OUTCOME_EVENT_DTYPES), v


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--members", type=int, default=500_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--visits", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/campaign_results.json"))
    args = ap.parse_args(argv)
    members, events, visits = frames(args.members, args.events, args.visits, seed=1)
    settings = Settings()
    times, cpu = [], []
    for _ in range(args.repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        res = campaign_results(members, events, visits, settings, "big")
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    write_result({
        "members": args.members, "events": args.events, "visits": args.visits,
        "seconds_best": round(min(times), 3), "seconds_all": [round(t, 3) for t in times],
        "cpu_seconds_best": round(min(cpu), 3), "target_seconds": 1.0,
        "load_average_1min": round(os.getloadavg()[0], 1), "cores": os.cpu_count(),
        "contacted": res["overall"]["contacted"],
        "peak_rss_gb": round(peak_rss_gb(), 2),
    }, args.out)


if __name__ == "__main__":
    main()
