"""The manager report: self-contained, readable, printable, and true to the snapshot."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.spec import FEATURE_NAMES
from serving.monitoring.report import (
    Explanations,
    ModelHealth,
    ReportData,
    assemble,
    fmt,
    render,
    write_report,
)
from serving.monitoring.report.tables import WIN_BACK_SEGMENTS
from serving.targeting.index import ORDERINGS
from tests.serving.monitoring.browser import Browser
from tests.serving.monitoring.conftest import AS_OF, TrainedClinic

ALL_PLOTS = {"segments", "importance", "beeswarm", "channels", "auc", "calibration", "gains"}
PLOT_SIZES = """[...document.querySelectorAll('figure.plot')].map(f => {
  const box = f.querySelector('svg').getBoundingClientRect();
  return [f.dataset.plot, box.width, box.height];
})"""
KEYED_TEXT = """Object.fromEntries([...document.querySelectorAll('[data-key]')]
  .map(e => [e.dataset.key, e.textContent]))"""


def _full_data() -> ReportData:
    """Hand-made report data with every section filled, outcomes included."""
    rng = np.random.default_rng(0)
    segments = pd.DataFrame({
        "segment": ["active", "lapsing", "inactive", "dormant", "lost"],
        "patients": [1200, 300, 250, 400, 900],
        "expected_returns": [700.2, 120.5, 60.1, 30.7, 8.2],
        "expected_revenue": [250_000.0, 40_000.0, 20_000.0, 9_000.0, 1_500.5],
    })
    contacts = pd.DataFrame({
        "patient_id": [f"P{i:04d}" for i in range(5)], "segment": "lapsing",
        "channel": ["sms", "email", "phone", "mail", "sms"],
        "return_probability": [0.9, 0.8, 0.7, 0.6, 0.5], "expected_value": [300.0] * 5,
        "days_since_last_visit": [200.0] * 5, "reasons": "9 months since the last filler",
    })
    mix = pd.DataFrame(rng.integers(0, 200, (5, 5)), index=segments["segment"],
                       columns=["sms", "email", "phone", "mail", "none"])
    labels = [f"Characteristic {i}" for i in range(6)]
    explanations = Explanations(
        pd.DataFrame({"label": labels, "share": np.linspace(0.3, 0.05, 6)}),
        rng.normal(size=(300, 6)), rng.random((300, 6)), labels)
    x = np.linspace(0, 1, 21)
    health = ModelHealth(
        pd.Series({"This model": 0.8, "Most recent visit first (simple rule)": 0.7}),
        pd.DataFrame({"predicted": np.linspace(0.05, 0.8, 10),
                      "observed": np.linspace(0.04, 0.82, 10)}),
        pd.DataFrame({"contacted": x, "This model": np.sqrt(x), "rule": x ** 0.8}),
        "patients as of 2026-03-31, visits in the following 90 days")
    drift = {"flagged": True, "reasons": ["The mix of best channels moved by 20%."],
             "columns": [{"meaning": "Age until now", "drifted": True}], "drifted_share": 1.0,
             "n_columns": 1}
    return ReportData("2026-06-30", 90, segments, contacts, mix, explanations, health, drift, "3")


@pytest.fixture(scope="module")
def real_report(trained_clinic: TrainedClinic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the trained demo clinic, with the drift summary beside its snapshot."""
    c = trained_clinic
    data = assemble(c.snapshot, c.bundle, c.settings, AS_OF, c.drift, "1")
    return write_report(data, tmp_path_factory.mktemp("report") / "report.html")


def test_report_opens_offline_with_every_plot_and_prints_on_a4(
    chromium: str, artifacts: Path, tmp_path: Path
) -> None:
    page = tmp_path / "full.html"
    page.write_text(render(_full_data()))
    with Browser(chromium) as browser:
        visit = browser.open(page.as_uri())
        plots = browser.evaluate(PLOT_SIZES)
        browser.screenshot(artifacts / "report_full.png")
        pdf = browser.print_a4(artifacts / "report_full.pdf").read_bytes()
    assert visit.console_errors == []
    assert [u for u in visit.requests if not u.startswith(("file:", "data:"))] == []
    assert {name for name, _, _ in plots} == ALL_PLOTS
    assert all(w > 200 and h > 100 for _, w, h in plots)
    boxes = {tuple(round(float(v)) for v in m) for m in
             re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)}
    assert boxes == {(595, 842)}  # A4 in points


def test_report_of_a_trained_clinic_loads_cleanly_and_keeps_a_screenshot(
    real_report: Path, trained_clinic: TrainedClinic, chromium: str, artifacts: Path
) -> None:
    with Browser(chromium) as browser:
        visit = browser.open(real_report.as_uri())
        plots = {name for name, w, h in browser.evaluate(PLOT_SIZES) if w > 0 and h > 0}
        text = browser.evaluate("document.body.innerText")
        shot = browser.screenshot(artifacts / "report.png")
    assert visit.console_errors == []
    assert [u for u in visit.requests if not u.startswith(("file:", "data:"))] == []
    expected = {"segments", "importance", "beeswarm", "channels", "auc"}
    if "label" in trained_clinic.bundle.reference.columns:  # outcomes kept: curves drawn
        expected |= {"calibration", "gains"}
    assert plots == expected
    assert shot.stat().st_size > 50_000
    raw_names = [n for n in FEATURE_NAMES if "_" in n and n in text]
    assert raw_names == []
    assert "nan" not in text.lower().split() and "None" not in text.split()


def test_report_numbers_match_the_snapshot(
    real_report: Path, trained_clinic: TrainedClinic, chromium: str
) -> None:
    snapshot = trained_clinic.snapshot
    alive = snapshot.loc[~snapshot["deceased"].astype("boolean").fillna(False)]
    with Browser(chromium) as browser:
        browser.open(real_report.as_uri())
        keyed = browser.evaluate(KEYED_TEXT)
    assert keyed["as-of"] == AS_OF
    assert keyed["total-patients"] == fmt.count(len(alive))
    assert keyed["total-expected-returns"] == fmt.count(alive["return_probability"].sum())
    for segment, rows in alive.groupby("segment"):
        assert keyed[f"segment-{segment}-patients"] == fmt.count(len(rows))
        assert keyed[f"segment-{segment}-returns"] == fmt.count(rows["return_probability"].sum())
        revenue = rows["expected_value"].fillna(0).sum()
        assert keyed[f"segment-{segment}-revenue"] == fmt.money(revenue, "$")
    by_id = snapshot.set_index("patient_id")
    keys = [f"contact-{i}-patient" for i in range(1, 100)]
    listed = [keyed[k] for k in keys if k in keyed]
    assert len(listed) == trained_clinic.settings.report.top_n
    rows = by_id.loc[listed]
    assert rows["segment"].isin(WIN_BACK_SEGMENTS).all()
    for flag in ("do_not_contact", "deceased", "has_booked_appointment"):
        assert not rows[flag].astype("boolean").fillna(False).any()
    ordering = re.search(r'data-ordering="([a-z_]+)"', real_report.read_text()).group(1)
    assert ordering == trained_clinic.bundle.uplift_summary()["ordering"]
    assert rows[ORDERINGS[ordering]].is_monotonic_decreasing
    assert keyed["contact-1-probability"] == fmt.chance(rows["return_probability"].iloc[0])
    assert keyed["auc-model"] == fmt.score(trained_clinic.bundle.metrics["return"]["model"]["auc"])
    stable = "Stable" if not trained_clinic.drift["flagged"] else "Warning"
    assert keyed["drift-status"].startswith(stable)


def _keyed(html: str) -> dict[str, str]:
    """The page's ``data-key`` figures, read from the HTML (no browser needed)."""
    return dict(re.findall(r'<span data-key="([^"]+)">([^<]*)</span>', html))


def test_the_list_is_ordered_by_what_a_message_adds_and_says_what_it_is_worth(
    trained_clinic: TrainedClinic,
) -> None:
    from html import unescape

    from serving.targeting.kinds import ON_THEIR_OWN, patient_kinds
    from serving.targeting.wording import CHANNEL_WORDS

    c = trained_clinic
    bundle = c.bundle
    assert bundle.uplift_summary()["uplift_available"]  # the small demo clinic has holdouts
    uplift_first = replace(bundle, uplift_model=replace(
        bundle.uplift_model, ordering="incremental_value", ordering_reason="backtest said so"))
    data = assemble(c.snapshot, uplift_first, c.settings, AS_OF, c.drift, "1")
    html = unescape(render(data))
    keyed = {k: unescape(v) for k, v in _keyed(html).items()}
    assert data.ordering == "incremental_value" and 'data-ordering="incremental_value"' in html
    listed = data.contacts
    assert listed["incremental_value"].is_monotonic_decreasing
    assert keyed["list-extra-bookings"] == fmt.number(listed["uplift"].sum())
    assert keyed["list-net-value"] == fmt.money(listed["incremental_value"].sum(), "$")
    snap = c.snapshot.set_index("patient_id").loc[listed["patient_id"]]
    revenue = snap["expected_value"] / snap["return_probability"]
    assert keyed["list-extra-revenue"] == fmt.money((snap["uplift"] * revenue).sum(), "$")
    pool = c.snapshot.loc[c.snapshot["patient_id"].isin(_pool_ids(c))]
    kinds = patient_kinds(pool["uplift"].to_numpy(float), pool["return_probability"].to_numpy(
        float), c.settings)
    assert keyed["on-their-own"] == fmt.count((kinds == ON_THEIR_OWN).sum())
    assert "coming back on their own — no message needed" in html
    words = set(CHANNEL_WORDS.values())
    channels = [v for k, v in keyed.items() if k.endswith("-channel")]
    assert channels and set(channels) <= words
    assert not re.search(r">(SMS|EMAIL|PHONE|MAIL|sms|phone|mail)<", html)
    assert "a little overdue" not in html


def _pool_ids(c: TrainedClinic) -> list[str]:
    """Contactable win-back patients, through the service's own index."""
    from serving.targeting import ranking
    from serving.targeting.index import build_index

    index = build_index(c.snapshot, c.settings)
    ids = []
    for clinic_id in index.clinics:
        sel = ranking.rank_patients(index, clinic_id, ranking.RankFilters(
            segments=WIN_BACK_SEGMENTS), index.rows)
        ids += index.frame["patient_id"].to_numpy()[sel.rows].tolist()
    return ids


def test_without_an_uplift_estimate_the_list_says_it_ranks_by_return_probability(
    trained_clinic: TrainedClinic,
) -> None:
    from training.uplift.model import unavailable

    c = trained_clinic
    bundle = replace(c.bundle, uplift_model=unavailable("no campaign members"))
    snapshot = c.snapshot.assign(**{col: np.nan for col in c.snapshot.columns
                                    if col.startswith(("uplift", "incremental_value"))})
    data = assemble(snapshot, bundle, c.settings, AS_OF, c.drift, "1")
    html = render(data)
    assert data.ordering == "probability" and data.list_value is None
    assert data.contacts["return_probability"].is_monotonic_decreasing
    assert "ranked by return probability" in html.lower()
    assert "cannot say how many bookings it brings" in html


def test_report_file_is_self_contained(real_report: Path) -> None:
    html = real_report.read_text()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert re.search(r"""(src|href)=["']?(https?:|//)""", html) is None
    assert "url(http" not in html
    assert real_report.stat().st_size < 3_000_000


def test_report_command_writes_the_page_from_the_model_store(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from serving.cli.app import app

    result = CliRunner().invoke(app, ["report", "--models-dir", str(tmp_path / "empty"),
                                      "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(("value", "expected"), [
    (0.123, "12%"), (0.004, "0.4%"), (None, "unknown"), (float("nan"), "unknown"),
])
def test_shares_are_written_as_percentages(value: float | None, expected: str) -> None:
    assert fmt.percent(value) == expected


def test_money_days_counts_and_chances_are_written_for_people() -> None:
    assert fmt.money(1234.6, "$") == "$1,235" and fmt.money(-5, "$") == "-$5.00"
    assert fmt.money(12.5, "€") == "€12.50"
    assert fmt.days(1) == "1 day" and fmt.days(45) == "45 days"
    assert fmt.days(270) == "270 days (about 9 months)"
    assert fmt.count(12345.4) == "12,345"
    assert fmt.chance(0.999) == "over 99%" and fmt.chance(0.001) == "under 1%"
    assert fmt.score(0.7349) == "0.73"


def test_drift_summary_beside_the_snapshot_is_json_the_service_can_return(
    trained_clinic: TrainedClinic,
) -> None:
    from serving.monitoring.drift import latest_summary

    summary = latest_summary(trained_clinic.settings)
    assert summary == json.loads(json.dumps(trained_clinic.drift))
    assert Path(summary["json_path"]).parent == trained_clinic.snapshot_path.parent
    # The HTML report is written only when drift is flagged (or asked for with --html).
    if summary["flagged"]:
        assert Path(summary["html_path"]).name == "drift_2026-06-30.html"
    else:
        assert summary["html_path"] is None
        assert not (trained_clinic.snapshot_path.parent / "drift_2026-06-30.html").exists()


def test_gains_count_the_returners_reached_best_first() -> None:
    from serving.monitoring.report.model_views import gains_table

    y = np.array([1, 0, 1, 0])
    gains = gains_table(y, {"model": np.array([0.9, 0.8, 0.7, 0.1]),
                            "worst": np.array([0.1, 0.9, 0.2, 0.8])}, steps=4)
    assert gains["contacted"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert gains["model"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert gains["worst"].tolist() == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_calibration_bands_hold_equal_numbers_of_patients() -> None:
    from serving.monitoring.report.model_views import calibration_table

    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.8])
    y = np.array([0, 0, 1, 0, 1, 1])
    table = calibration_table(p, y, bands=3)
    assert table["patients"].tolist() == [2, 2, 2]
    assert table["predicted"].round(2).tolist() == [0.15, 0.35, 0.7]
    assert table["observed"].tolist() == [0.0, 0.5, 1.0]


def test_model_health_draws_curves_only_when_the_reference_carries_outcomes(
    trained_clinic: TrainedClinic,
) -> None:
    from dataclasses import replace

    from serving.monitoring.report.model_views import MODEL_NAME, model_health

    bundle = trained_clinic.bundle
    reference = bundle.reference.drop(columns="label", errors="ignore")
    without = model_health(replace(bundle, reference=reference))
    assert without.calibration is None and without.gains is None
    assert without.aucs.index[0] == MODEL_NAME
    assert without.aucs.iloc[0] == bundle.metrics["return"]["model"]["auc"]
    rng = np.random.default_rng(1)
    labelled = reference.assign(label=rng.random(len(reference)) < reference["return_probability"])
    health = model_health(replace(bundle, reference=labelled))
    assert len(health.calibration) == 10 and health.gains[MODEL_NAME].iloc[-1] == 1.0
    assert set(health.gains.columns) >= {"contacted", MODEL_NAME,
                                         "Most recent visit first (simple rule)"}
