"""The "Campaign results" section of the manager report and ``reactivate results``."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.config import Settings
from features.simulator import campaign_members, play_campaign, simulate
from features.simulator.export import write_csvs
from serving.cli.app import app
from serving.monitoring.report import render
from serving.monitoring.report.campaign_view import caused_sentence
from tests.serving.monitoring import test_report
from training.campaign_results import campaign_results

RAW = ("conversion_rate", "cost_per_reactivation", "by_channel", "versus_holdout", "sms",
       "incremental", "None", "nan")


@pytest.fixture(scope="module")
def played():
    """A small clinic and a campaign played forward by the simulator."""
    sim = simulate(1500, 8, "2023-01-01", "2025-06-30")
    members = campaign_members(sim, "autumn", seed=1, holdout_share=0.3)
    events = play_campaign(sim, members, seed=2)
    return sim, members, events


@pytest.fixture(scope="module")
def results(played) -> dict:
    sim, members, events = played
    return campaign_results(members, events, sim.tables.visits, Settings(), "autumn")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_the_report_shows_the_campaign_in_plain_words(results):
    html = render(replace(test_report._full_data(), campaign=results))
    section = html[html.index('<section id="campaign">'):]
    section = section[:section.index("</section>")]
    text = _text(section)
    assert "Campaign results: autumn" in text
    assert "The campaign caused about" in text
    assert "set aside at random" in text
    assert "would have booked anyway" in text  # attribution, labelled as such
    assert "message 1" in text and "message 2" in text
    words = {"sms": "text", "email": "email", "phone": "phone call", "mail": "letter"}
    shown = {w for w in words.values() if f"<td>{w}</td>" in section}
    assert shown == {words[i["channel"]] for i in results["by_channel"]}
    assert [w for w in RAW if re.search(rf"\b{w}\b", text)] == []
    o = results["overall"]
    assert f'data-key="campaign-contacted">{o["contacted"]}<' in section
    assert f'data-key="campaign-kept">{o["attended"]}<' in section


def test_a_campaign_too_small_to_tell_says_so_honestly(results):
    assert results["versus_holdout"]["enough_data"] is False  # a 1,500-patient clinic
    sentence = caused_sentence(results)
    assert "Not enough patients yet" in sentence
    assert "needs about" in sentence


def test_a_conclusive_campaign_does_not_hedge(results):
    clear = copy.deepcopy(results)
    clear["versus_holdout"].update(enough_data=True, incremental_bookings=12.0,
                                   incremental_bookings_ci95=[4.0, 20.0], members_needed=None)
    sentence = caused_sentence(clear)
    assert "about 12.0 extra bookings (somewhere between 4.0 and 20.0)" in sentence
    assert "Not enough" not in sentence


def test_the_results_command_reads_the_export_and_prints_the_campaign(played, tmp_path: Path):
    sim, members, events = played
    export = tmp_path / "export"
    write_csvs(sim.tables, export)
    members.to_csv(export / "campaign_members.csv", index=False)
    events.to_csv(export / "outcome_events.csv", index=False)
    out = tmp_path / "results.json"
    taken = str(events["at"].max().date())  # the export was taken after the campaign ran
    run = CliRunner().invoke(app, ["results", str(export), "--json", str(out),
                                   "--export-date", taken])
    assert run.exit_code == 0, run.output
    assert "Campaign autumn (demo)" in run.output and "The campaign caused about" in run.output
    written = json.loads(out.read_text())
    expected = campaign_results(members, events, sim.tables.visits, Settings(), "autumn")
    assert written["overall"] == json.loads(json.dumps(expected["overall"]))
    assert written["versus_holdout"] == json.loads(json.dumps(expected["versus_holdout"]))


def test_the_results_command_names_an_unknown_campaign(played, tmp_path: Path):
    sim, members, events = played
    export = tmp_path / "export"
    write_csvs(sim.tables, export)
    members.to_csv(export / "campaign_members.csv", index=False)
    run = CliRunner().invoke(app, ["results", str(export), "--campaign", "nope",
                                   "--export-date", str(events["at"].max().date())])
    assert run.exit_code == 2
    assert "no member has campaign_id 'nope'" in run.output


def test_the_report_shows_the_latest_stored_campaign_by_itself(trained_clinic, tmp_path: Path):
    import pandas as pd

    from features.outcomes.ingest import ingest
    from features.outcomes.store import OutcomeStore
    from serving.monitoring.report.campaign_source import latest_campaign_results

    settings = Settings(models_dir=tmp_path / "models")
    snapshot = trained_clinic.snapshot
    clinic = str(snapshot["clinic_id"].iloc[0])
    ids = snapshot["patient_id"].astype(str).tolist()[:12]
    store = OutcomeStore.from_settings(settings)
    for name, day, chosen in (("older", "2026-07-01", ids[:6]), ("newer", "2026-07-10", ids[6:])):
        store.create_campaign(
            clinic, name, name=None, started_at=pd.Timestamp(f"{day} 09:00"), holdout_share=0.5,
            seed=1, request={}, members=pd.DataFrame({
                "patient_id": chosen, "arm": ["treatment"] * 4 + ["holdout"] * 2,
                "channel": "sms"}))
    events = [{"event_id": f"s{i}", "patient_id": p, "type": "sent", "channel": "sms",
               "campaign_id": "newer", "at": "2026-07-10T10:00:00"} for i, p in enumerate(ids[6:10])]
    events += [{"event_id": "b0", "patient_id": ids[6], "type": "booked",
                "at": "2026-07-12T10:00:00"},
               {"event_id": "b1", "patient_id": ids[10], "type": "booked",
                "at": "2026-07-13T10:00:00"}]
    assert ingest(store, clinic, events, pd.Index(ids), settings).accepted == 6
    store.close()
    got = latest_campaign_results(settings, [clinic], None, None,
                                  snapshot[["patient_id", "segment"]])
    assert (got["clinic_id"], got["campaign_id"]) == (clinic, "newer")
    assert (got["overall"]["contacted"], got["overall"]["booked"]) == (4, 1)
    lift = got["versus_holdout"]
    assert (lift["treatment"]["booked"], lift["holdout"]["booked"]) == (1, 1)
    assert got["sources"]["visits"].startswith("none")
    html = render(replace(test_report._full_data(), campaign=got))
    assert f"Campaign results: newer ({clinic})" in _text(html)
    assert latest_campaign_results(Settings(models_dir=tmp_path / "none"), [clinic], None,
                                   None, None) is None


def test_running_sequences_counts_members_not_booked_with_attempts_left_and_recent_contact():
    import pandas as pd

    from serving.monitoring.report.sequence_view import running_sequences

    start = pd.Timestamp("2026-03-01 09:00")
    members = pd.DataFrame({"campaign_id": "s", "patient_id": ["a", "b", "c", "d", "e", "h"],
                            "assigned_at": start,
                            "arm": ["treatment"] * 5 + ["holdout"]})

    def ev(pid, kind, day, channel="sms"):
        return {"patient_id": pid, "campaign_id": "s", "channel": channel, "type": kind,
                "at": start + pd.Timedelta(days=day)}

    events = pd.DataFrame([
        ev("a", "sent", 0), ev("a", "sent", 8),              # running: last attempt 4 days ago
        ev("b", "sent", 0), ev("b", "booked", 2, None),      # booked: over
        *[ev("c", "sent", 3 * k) for k in range(5)],         # all five sent: over
        ev("d", "sent", 0), ev("d", "opted_out", 1),         # opted out of its only channel
        ev("h", "sent", 0),                                  # holdout: never counted
    ])                                                       # e: nothing sent yet, just started
    on = start + pd.Timedelta(days=12)
    assert running_sequences(members, events, "s", Settings(), on) == 2
    assert running_sequences(members, events, "s", Settings(), on + pd.Timedelta(days=20)) == 0


def test_the_report_shows_sequences_attempts_and_bookings_per_attempt(results):
    from serving.monitoring.report.sequence_view import sequence_block, sequence_lines

    block = sequence_block(results, 17)
    assert [a["sent"] for a in block["by_attempt"]] == [
        a["contacted"] for a in results["by_attempt"]]
    page = render(replace(test_report._full_data(),
                                 campaign={**results, "sequences": block}))
    assert re.search(r'data-key="sequences-running">17<', page)
    assert "Booked after it" in page
    assert sequence_lines(block)[0] == "Sequences still running: 17"
