"""Benchmark: outcome ingest over HTTP, and /rank with a million stored outcome events.

Run: ``.venv/bin/python bench/outcomes_bench.py`` (defaults: a model trained on a 4,000-patient
demo clinic, its snapshot resampled to 200,000 patients of one clinic, 1,000,000 stored events
over 100,000 of them). Writes ``bench/results/outcomes.json``.

What is measured:

1. filling the store: 1,000,000 events through ``OutcomeStore.add_events`` (50,000 a batch);
2. service start: the policy overlay built from the store (read + per-patient state);
3. in process, interleaved rounds: ``/rank``'s handler (explain false, limit 100, eight
   campaign bodies) on the bare snapshot index ("today") and on the index with the outcomes
   applied; the first request after start (every outcome patient's verdict) and the first
   after each of five 10,000-event batches (folded into the overlay, then the touched
   patients' verdicts redone) are timed apart;
4. over HTTP: ``reactivate serve`` on 127.0.0.1, ``POST /outcomes`` with 10,000-event batches
   from one keep-alive client; events per second over all batches, first while the service
   warms its explanations up after start (``during_warmup``), then once it is done (the
   steady state, the target's figure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import peak_rss_gb, write_result  # noqa: E402
from bench.serving_bench import BODIES, Connection, percentiles, start_server  # noqa: E402
from features.config import Settings  # noqa: E402
from features.vocabulary import CHANNELS  # noqa: E402

AS_OF = "2026-06-30"
CLINIC = "group"
EVENT_MIX = {"sent": 0.4, "delivered": 0.3, "opened": 0.1, "replied": 0.05, "opted_out": 0.03,
             "booked": 0.05, "attended": 0.04, "cancelled": 0.03}


def build_world(args: argparse.Namespace, work: Path) -> Settings:
    """A champion and a snapshot of ``--patients`` patients in one clinic."""
    from features.simulator import simulate
    from training.fit import train
    from training.registry import log_and_register
    from training.scored_snapshot import snapshot_path, write_scored_snapshot
    from training.scoring import score
    from training.snapshot_schema import finish_snapshot

    settings = Settings(models_dir=work / "models", training={"num_threads": 2})
    tables = simulate(args.train_patients, seed=7, start="2023-01-01", end=AS_OF).tables
    result = train(tables, AS_OF, settings)
    version = log_and_register(result, settings).version
    base = score(tables, AS_OF, result.bundle, settings)
    picks = np.random.default_rng(1).integers(0, len(base), args.patients)
    big = base.iloc[picks].reset_index(drop=True)
    big["patient_id"] = pd.Series(np.arange(args.patients)).map("B{:08d}".format).astype(object)
    big["clinic_id"] = CLINIC
    write_scored_snapshot(finish_snapshot(big, AS_OF, version),
                          snapshot_path(settings.models_dir, AS_OF))
    return settings


def synthetic_events(count: int, patients: int, start: int, now: pd.Timestamp) -> pd.DataFrame:
    """``count`` normalised events over the first ``patients`` snapshot patients."""
    rng = np.random.default_rng(start)
    kinds = rng.choice(list(EVENT_MIX), count, p=list(EVENT_MIX.values()))
    at = now - pd.to_timedelta(rng.integers(60, 400 * 86400, count), unit="s")
    channel = np.where(np.isin(kinds, ["booked", "attended", "cancelled"]), None,
                       rng.choice(list(CHANNELS), count))
    appointment = pd.Series(at + pd.to_timedelta(rng.integers(1, 30, count), unit="D"))
    frame = pd.DataFrame({
        "event_id": [f"bench-{start + i}" for i in range(count)],
        "patient_id": pd.Series(rng.integers(0, patients, count)).map("B{:08d}".format),
        "campaign_id": None, "channel": channel, "type": kinds, "at": at,
        "revenue": np.where(kinds == "attended", 150.0, np.nan), "cost": np.nan,
        "appointment_at": appointment.where(kinds == "booked"),
    })
    frame["content_hash"] = frame["event_id"]  # unique per event: content is not compared here
    return frame


def fill_store(settings: Settings, args: argparse.Namespace) -> dict:
    from features.outcomes.store import OutcomeStore

    store = OutcomeStore.from_settings(settings)
    now = pd.Timestamp.now().floor("s")
    started = time.perf_counter()
    for start in range(0, args.events, 50_000):
        chunk = synthetic_events(min(50_000, args.events - start), args.event_patients, start, now)
        store.add_events(CLINIC, chunk)
    seconds = time.perf_counter() - started
    stored = store.count_events(CLINIC)
    store.close()
    return {"events": stored, "seconds": round(seconds, 1), "events_per_s": round(stored / seconds)}


def in_process(settings: Settings, args: argparse.Namespace) -> dict:
    from serving.api import campaigns, handlers
    from serving.api.models import RankRequest
    from serving.api.state import ServingState

    state = ServingState(settings)
    state.refresh()
    served = handlers.require(state.current)
    started = time.perf_counter()
    outcomes = campaigns.Outcomes(settings)
    overlay_load_s = time.perf_counter() - started
    outcomes.filled.join()  # the coded event log's fill (a background thread) is not timed
    log_fill_s = time.perf_counter() - started
    requests = [RankRequest(clinic_id=CLINIC, limit=100, explain=False, **b) for b in BODIES]

    def answer(view: object, request: RankRequest) -> None:
        selection = handlers.select(view, request)
        handlers.rank_response(view, request, selection, settings).model_dump_json()

    def bare(request: RankRequest) -> None:
        answer(served, request)

    def applied(request: RankRequest) -> None:
        answer(campaigns.with_outcomes(served, outcomes, CLINIC, request.on), request)

    started = time.perf_counter()
    applied(requests[0])
    first_s = time.perf_counter() - started
    add_ms, after_batch_ms = [], []
    for b in range(5):  # what POST /outcomes does after storing, then the next /rank
        batch = synthetic_events(10_000, args.event_patients, 20_000_000 + b * 10_000,
                                 pd.Timestamp.now().floor("s"))
        started = time.perf_counter()
        outcomes.overlay.add(batch, CLINIC)
        add_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        applied(requests[(b + 1) % len(requests)])
        after_batch_ms.append((time.perf_counter() - started) * 1000)
    view = campaigns.with_outcomes(served, outcomes, CLINIC, None)
    changed = int((view.index.channel_bits != served.index.channel_bits).sum())
    timings: dict[str, list[float]] = {"today": [], "with_outcomes": []}
    for _ in range(args.rounds):
        for name, call in (("today", bare), ("with_outcomes", applied)):
            deadline = time.perf_counter() + args.seconds / args.rounds / 2
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                call(requests[i % len(requests)])
                timings[name].append((time.perf_counter() - t0) * 1000)
                i += 1
    result = {name: percentiles(values, args.seconds / 2) for name, values in timings.items()}
    result["p50_ratio"] = round(result["with_outcomes"]["p50_ms"] / result["today"]["p50_ms"], 3)
    result["overlay_load_s"] = round(overlay_load_s, 2)
    result["event_log_fill_s"] = round(log_fill_s, 2)
    result["first_request_after_start_ms"] = round(first_s * 1000, 1)
    result["overlay_add_10000_events_ms"] = round(float(np.median(add_ms)), 1)
    result["first_request_after_batch_ms"] = {
        "median": round(float(np.median(after_batch_ms)), 1),
        "max": round(max(after_batch_ms), 1)}
    result["patients_changed_by_outcomes"] = changed
    outcomes.close()
    state.stop()
    return result


def _post_batches(client: Connection, batches: list[list[dict]]) -> dict:
    """Post each batch once; events per second over all of them and batch latencies."""
    latencies, accepted = [], 0
    started = time.perf_counter()
    for events in batches:
        t0 = time.perf_counter()
        answer = json.loads(client.post("/outcomes", {"clinic_id": CLINIC, "events": events}))
        latencies.append((time.perf_counter() - t0) * 1000)
        accepted += answer["accepted"]
    seconds = time.perf_counter() - started
    return {"batches": len(batches), "batch_size": 10_000, "accepted": accepted,
            "events_per_s": round(accepted / seconds),
            "batch_p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "batch_max_ms": round(max(latencies), 1),
            "load_average_1min": round(os.getloadavg()[0], 1)}


def _json_batches(args: argparse.Namespace, first: int, count: int) -> list[list[dict]]:
    now = pd.Timestamp.now().floor("s")
    batches = []
    for b in range(count):
        frame = synthetic_events(10_000, args.event_patients, first + b * 10_000, now)
        frame["at"] = frame["at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        frame["appointment_at"] = frame["appointment_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        events = frame.drop(columns=["content_hash"]).astype(object)
        events = events.where(events.notna(), None).to_dict(orient="records")
        batches.append([{k: v for k, v in e.items() if v is not None} for e in events])
    return batches


def over_http(settings: Settings, work: Path, args: argparse.Namespace) -> dict:
    """``POST /outcomes`` over loopback: while the service warms its explanations up right
    after start (one core busy with TreeSHAP), then once it is done (the steady state)."""
    import httpx

    from serving.api.auth import add_token

    token = add_token(work / "tokens.json", [CLINIC])
    started = time.perf_counter()
    process, url = start_server(settings, work, work / "tokens.json", port=args.port)
    ready_s = time.perf_counter() - started
    client = Connection(url, token)
    try:
        client.post("/outcomes", {"clinic_id": CLINIC,
                                  "events": _json_batches(args, 30_000_000, 1)[0][:10]})
        during = _post_batches(client, _json_batches(args, 10_000_000, args.warmup_batches))
        budget, ready = settings.serving.precompute_explanations, 0
        while ready < budget and time.perf_counter() - started < 900:
            time.sleep(2)
            reload = httpx.get(f"{url}/model", headers={"Authorization": f"Bearer {token}"},
                               timeout=10).json()["reload"]
            ready = reload["explanations_ready"]
        warm_s = time.perf_counter() - started
        # the server has closed the connection left idle while it warmed up (keep-alive
        # timeout): a fresh one, opened by a small batch so that no batch pays the connect
        client.close()
        client = Connection(url, token)
        client.post("/outcomes", {"clinic_id": CLINIC,
                                  "events": _json_batches(args, 31_000_000, 1)[0][:10]})
        steady = _post_batches(client, _json_batches(args, 11_000_000, args.batches))
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=60)
    return {"ready_s": round(ready_s, 1), "warmed_up_s": round(warm_s, 1),
            "during_warmup": during, **steady}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-patients", type=int, default=4000)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--event-patients", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--warmup-batches", type=int, default=5,
                        help="batches posted while the service warms up, before the steady ones")
    parser.add_argument("--port", type=int, default=None, help="port of the service (free one)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "outcomes.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        settings = build_world(args, work)
        fill = fill_store(settings, args)
        rank = in_process(settings, args)
        http = over_http(settings, work, args)
    result = {
        "machine": {"python": platform.python_version(), "cpus": 2},
        "snapshot_patients": args.patients, "store_fill": fill, "rank_in_process": rank,
        "ingest_http": http, "peak_rss_gb": round(peak_rss_gb(), 2),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "targets": {
            "ingest_at_least_20000_events_per_s": http["events_per_s"] >= 20_000,
            "rank_p50_within_10_percent": rank["p50_ratio"] <= 1.10,
        },
    }
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
