"""Campaign results at scale: a 500,000-member campaign with 2,000,000 outcome events.

Synthetic frames in the contract dtypes (members split 90/10, two attempts on one channel
each, deliveries, replies, opt-outs, bookings, kept and missed visits, practice-system
bookings of holdout members, events of patients outside the campaign) plus 1,000,000
exported visits, and every patient's segment indexed like the served snapshot's clinic index
(its hash table already built, as in the service). Times
``training.campaign_results.campaign_results`` (best of ``--repeat`` runs; wall and CPU time,
with the machine's load average, since a loaded machine inflates the wall time) on:

* ``coded``: patient ids as one categorical dictionary shared by the three tables, type,
  channel, campaign and event ids as categoricals (what a dictionary-encoded source gives);
* ``plain``: the same frames with string columns (what ``load_campaign_frames`` returns);
* ``coding_s``: turning the plain frames into the coded ones;
* ``store``: (unless ``--no-store``) ``GET /campaigns/{id}/results`` over a SQLite outcome
  store holding the campaign and its events (posted events only, no exported visits, as
  the service computes them): ``service``, the request on the service's in-memory coded
  log (:func:`through_store`), after start and after one more batch, and
  ``from_scratch``, reading the frames from the store first (the path before the log).

Writes ``bench/results/campaign_results.json``. Target: under 1 s (``store.service``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from features.config import Settings  # noqa: E402
from features.export.tables import CAMPAIGN_MEMBER_DTYPES, OUTCOME_EVENT_DTYPES  # noqa: E402
from features.vocabulary import CHANNELS, SEGMENTS  # noqa: E402
from training.campaign_results import campaign_results  # noqa: E402

START = np.datetime64("2026-03-02T09:00", "ns")
HOUR = np.timedelta64(3_600_000_000_000, "ns")
CLINIC = "big-clinic"


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
    segments = pd.Series(np.asarray(SEGMENTS, dtype=object)[rng.integers(0, len(SEGMENTS),
                                                                          len(ids))],
                         index=pd.Index(ids))
    segments.index.get_indexer(ids[:1])  # the served index keeps its hash table built
    return m.astype(CAMPAIGN_MEMBER_DTYPES), e.astype(OUTCOME_EVENT_DTYPES), v, segments


def _categorical(values: np.ndarray) -> pd.Categorical:
    codes, labels = pd.factorize(values)
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(labels,
                                                                               dtype=object)))


def coded(m: pd.DataFrame, e: pd.DataFrame, v: pd.DataFrame):
    """The frames with dictionary-encoded columns (patients share one dictionary)."""
    tables = (m, e, v)
    ids = np.concatenate([t["patient_id"].to_numpy(dtype=object) for t in tables])
    shared = _categorical(ids)
    bounds = np.cumsum([0, *map(len, tables)])
    out = []
    for i, table in enumerate(tables):
        codes = shared.codes[bounds[i]:bounds[i + 1]]
        table = table.assign(patient_id=pd.Categorical.from_codes(codes, dtype=shared.dtype))
        for column in ("type", "channel", "campaign_id", "event_id", "arm", "status"):
            if column in table.columns:
                table[column] = _categorical(table[column].to_numpy(dtype=object))
        out.append(table)
    return tuple(out)


def timed(call, repeat: int) -> dict:
    wall, cpu, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return {"seconds_best": round(min(wall), 3), "seconds_all": [round(t, 3) for t in wall],
            "cpu_seconds_best": round(min(cpu), 3), "load_average_1min":
            round(os.getloadavg()[0], 1), "contacted": result["overall"]["contacted"]}


def through_store(m: pd.DataFrame, e: pd.DataFrame, segments: pd.Series, repeat: int) -> dict:
    """The service's path: a SQLite store holding the campaign and its events.

    ``service``: what ``GET /campaigns/{id}/results`` does since the coded event log
    (``serving.api.results_state``): the log filled from the store and the members read
    once (the service's start, ``start_s``), the members' segments looked up for the served
    pair (``warm_for_served_pair_s``, off the request path), then each request catches up with the store
    (nothing new) and computes; ``after_batch``: one more 10,000-event batch stored, read by
    ``seq`` (``catch_up_ms``, what ``POST /outcomes`` adds) and the next request.
    ``from_scratch``: ``load_campaign_frames`` then the results (the path before; once).
    """
    from features.outcomes.event_log import EventLog
    from features.outcomes.frames import load_campaign_frames
    from features.outcomes.store import OutcomeStore
    from serving.api.results_state import CampaignResults

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(models_dir=Path(tmp) / "models")
        store = OutcomeStore.from_settings(settings)
        started = time.perf_counter()
        store.create_campaign(CLINIC, "big", name=None, started_at=pd.Timestamp(START),
                              holdout_share=0.1, seed=1, request={}, members=m)
        extra = e.iloc[-10_000:].assign(event_id=lambda f: "x" + f["event_id"].astype(str))
        for first in range(0, len(e), 100_000):
            chunk = e.iloc[first:first + 100_000]
            store.add_events(CLINIC, chunk.assign(content_hash=chunk["event_id"]))
        fill_s = time.perf_counter() - started

        started = time.perf_counter()
        log = EventLog(store)
        log.catch_up()
        results = CampaignResults(settings, store, log)
        results.preload()
        start_s = time.perf_counter() - started
        started = time.perf_counter()  # what the service does for each newly served pair
        results.warm_segments(CLINIC, "big", segments, segments)
        warm_s = time.perf_counter() - started
        service = timed(lambda: results.results(CLINIC, "big", segments, segments), repeat)

        store.add_events(CLINIC, extra.assign(content_hash=extra["event_id"]))
        started = time.perf_counter()
        log.catch_up()
        catch_up_ms = (time.perf_counter() - started) * 1000
        after = timed(lambda: results.results(CLINIC, "big", segments, segments), 1)
        served = results.results(CLINIC, "big", segments, segments)

        def from_scratch() -> dict:
            frames = load_campaign_frames(settings, CLINIC, "big", None, None)
            out = campaign_results(frames.members, frames.events, frames.visits, settings,
                                   "big", segments=segments)
            return {**out, "sources": frames.sources}

        scratch = timed(from_scratch, 1)
        equal = served == from_scratch()
        store.close()
        return {"service": {**service, "start_s": round(start_s, 1),
                            "warm_for_served_pair_s": round(warm_s, 2)},
                "after_batch": {**after, "catch_up_ms": round(catch_up_ms, 1)},
                "from_scratch": scratch, "service_equals_from_scratch": equal,
                "store_fill_s": round(fill_s, 1)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--members", type=int, default=500_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--visits", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-store", action="store_true", help="skip the SQLite store path")
    ap.add_argument("--out", type=Path, default=Path("bench/results/campaign_results.json"))
    args = ap.parse_args(argv)
    members, events, visits, segments = frames(args.members, args.events, args.visits, seed=1)
    settings = Settings()
    started = time.perf_counter()
    coded_frames = coded(members, events, visits)
    coding_s = time.perf_counter() - started
    result = {"members": args.members, "events": args.events, "visits": args.visits,
              "target_seconds": 1.0, "cores": os.cpu_count()}
    result["coded"] = timed(lambda: campaign_results(*coded_frames, settings, "big",
                                                     segments=segments), args.repeat)
    result["plain"] = timed(lambda: campaign_results(members, events, visits, settings, "big",
                                                     segments=segments), args.repeat)
    result["coding_s"] = round(coding_s, 2)
    result["coded_equals_plain"] = (
        campaign_results(*coded_frames, settings, "big", segments=segments)
        == campaign_results(members, events, visits, settings, "big", segments=segments))
    if not args.no_store:
        result["store"] = through_store(members, events, segments, args.repeat)
    result["peak_rss_gb"] = round(peak_rss_gb(), 2)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
