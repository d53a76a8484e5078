"""Render :class:`ReportData` as one self-contained HTML page a practice manager can read.

No scripts, no external fonts, styles or images: charts are inline SVG, styles inline CSS,
so the file opens offline and prints on A4. Every figure passes through ``fmt``; key
figures carry a ``data-key`` attribute so tests can check them against the snapshot.
"""

from __future__ import annotations

from html import escape
from typing import Any

from serving.monitoring.report import charts, fmt
from serving.monitoring.report.campaign_view import campaign_section
from serving.monitoring.report.data import ReportData
from serving.monitoring.report.style import CSS
from serving.targeting.wording import channel_word

# Used when the data carries no configured words (hand-made report data): calendar facts of
# the default thresholds, never a judgement such as "overdue" (see tables.segment_words).
SEGMENT_WORDS = {
    "active": "last visit under 4 months ago",
    "lapsing": "last visit 4 to 6 months ago",
    "inactive": "last visit 6 to 12 months ago",
    "dormant": "last visit 1 to 3 years ago",
    "lost": "last visit 3 years ago or more",
}


def render(data: ReportData) -> str:
    """The complete HTML document."""
    sections = [
        _header(data),
        campaign_section(data.campaign, data.currency) if data.campaign else "",
        _contacts(data),
        _segments(data),
        _drivers(data),
        _channels(data),
        _health(data),
        _drift(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Patients to win back - {escape(data.as_of)}</title>"
        f"<style>{CSS}</style></head><body><main>{''.join(sections)}</main></body></html>\n"
    )


def _figure(name: str, svg: str, caption: str) -> str:
    return (
        f'<figure class="plot" data-plot="{name}">{svg}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _key(key: str, text: str) -> str:
    return f'<span data-key="{escape(key)}">{escape(text)}</span>'


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Rows are already-escaped HTML cells."""
    thead = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>'


def _header(data: ReportData) -> str:
    seg = data.segments
    total = int(seg["patients"].sum())
    returns = float(seg["expected_returns"].sum())
    revenue = float(seg["expected_revenue"].sum())
    version = f" Model version {escape(data.model_version)}." if data.model_version else ""
    return (
        "<header><h1>Patients to win back</h1>"
        f'<p class="lead">Situation on {_key("as-of", data.as_of)}: '
        f"{_key('total-patients', fmt.count(total))} patients. About "
        f"{_key('total-expected-returns', fmt.count(returns))} of them are expected to come back "
        f"within {data.horizon_days} days, worth about "
        f"{_key('total-expected-revenue', fmt.money(revenue, data.currency))}.{version}</p>"
        + "".join(f'<p class="note">{escape(n)}</p>' for n in data.notes)
        + "</header>"
    )


def _contacts(data: ReportData) -> str:
    with_uplift = data.list_value is not None
    rows = []
    for i, r in enumerate(data.contacts.itertuples(index=False), start=1):
        group = escape(str(r.segment).capitalize())
        kind = getattr(r, "kind", None)
        if isinstance(kind, str):  # the kind, then the segment as a calendar fact
            fact = getattr(r, "segment_words", None)
            fact = fact if isinstance(fact, str) else group
            group = f"<b>{escape(kind.capitalize())}</b><br><small>{escape(fact)}</small>"
        cells = [
            str(i),
            _key(f"contact-{i}-patient", str(r.patient_id)),
            group,
            _key(f"contact-{i}-channel", channel_word(r.channel)),
            _key(f"contact-{i}-probability", fmt.chance(r.return_probability)),
        ]
        if with_uplift:
            cells += [_key(f"contact-{i}-uplift", fmt.points(r.uplift)),
                      _key(f"contact-{i}-value", fmt.money(r.incremental_value, data.currency))]
        else:
            cells.append(escape(fmt.money(r.expected_value, data.currency)))
        rows.append([*cells, escape(r.reasons)])
    by_value = data.ordering in ("incremental_value", "uplift")
    order = (
        "best first by what a message <b>adds</b>: the extra chance of a booking it brings "
        "(beyond the patient's own chance of coming back) times the visit's revenue, minus "
        "the channel's cost"
        if by_value else "best first by their chance to come back"
    )
    intro = (
        f"<p>The patients most worth a message this week, {order}, with the channel to use "
        "and why. Patients who asked not to be contacted, who already have an appointment "
        "or were contacted recently are left out.</p>"
        f'<p class="note" data-ordering="{escape(data.ordering)}">'
        f"{escape(_ordering_words(data))}</p>"
    )
    intro += _list_value(data)
    if not rows:
        intro += "<p>Nobody to contact.</p>"
        return f'<section id="contacts"><h2>Who to contact this week</h2>{intro}</section>'
    head = ["#", "Patient", "Group", "Channel", "Chance to return"]
    head += ["Extra booking chance", "Value of a message"] if with_uplift else \
        ["Expected revenue"]
    return (
        f'<section id="contacts"><h2>Who to contact this week</h2>{intro}'
        f"{_table([*head, 'Why'], rows, 'contacts uplift' if with_uplift else 'contacts')}"
        "</section>"
    )


def _ordering_words(data: ReportData) -> str:
    """The list's ordering and why, never silent about a fallback."""
    reason = fmt.plain(data.ordering_reason) if data.ordering_reason else ""
    return reason[:1].upper() + reason[1:] + ("." if reason and reason[-1] != "." else "")


def _list_value(data: ReportData) -> str:
    """Extra bookings and revenue of the list, and who comes back without a message."""
    if data.list_value is None:
        return ('<p class="note">Without an estimate of what a message adds, the list '
                "cannot say how many bookings it brings, nor who would come back on their "
                "own.</p>")
    v, n = data.list_value, len(data.contacts)
    text = (
        f"<p>Contacting these {fmt.count(n)} patients should bring about "
        f"{_key('list-extra-bookings', fmt.number(v['extra_bookings']))} extra bookings, "
        f"worth about {_key('list-extra-revenue', fmt.money(v['extra_revenue'], data.currency))}"
        f" ({_key('list-net-value', fmt.money(v['net_value'], data.currency))} after the cost "
        "of the messages).</p>"
    )
    if data.on_their_own is not None:
        text += (
            f"<p><b>{_key('on-their-own', fmt.count(data.on_their_own))}</b> of the "
            f"{fmt.count(data.pool)} patients who could be contacted are coming back on "
            "their own — no message needed.</p>"
        )
    return text


def _segments(data: ReportData) -> str:
    words = data.segment_words or SEGMENT_WORDS
    rows = [
        [
            f"<b>{escape(r.segment.capitalize())}</b><br>"
            f"<small>{escape(words.get(r.segment, ''))}</small>",
            _key(f"segment-{r.segment}-patients", fmt.count(r.patients)),
            _key(f"segment-{r.segment}-returns", fmt.count(r.expected_returns)),
            _key(f"segment-{r.segment}-revenue", fmt.money(r.expected_revenue, data.currency)),
        ]
        for r in data.segments.itertuples(index=False)
    ]
    back = f"Expected back within {data.horizon_days} days"
    head = ["Group", "Patients", back, "Expected revenue"]
    return (
        '<section id="segments"><h2>Where your patients stand</h2>'
        "<p>Patients grouped by how long it has been since their last visit.</p>"
        f"{_table(head, rows, 'numbers')}"
        + _figure(
            "segments",
            charts.segment_chart(data.segments, data.horizon_days),
            "Patients per group and how many are expected back.",
        )
        + "</section>"
    )


def _drivers(data: ReportData) -> str:
    ex = data.explanations
    if ex is None:
        return (
            '<section id="drivers"><h2>What drives returning</h2>'
            "<p>No model explanation is available.</p></section>"
        )
    top = ex.importance.head(3)["label"].str.lower().tolist()
    text = "; ".join(escape(t) for t in top)
    return (
        '<section id="drivers"><h2>What drives returning</h2>'
        f"<p>The characteristics that weigh most in the model's judgement are: {text}.</p>"
        + _figure(
            "importance",
            charts.importance_bar(ex.importance),
            "How much each characteristic counts, on average over your patients.",
        )
        + _figure(
            "beeswarm",
            charts.beeswarm(ex.values, ex.colour_rank, ex.labels),
            "Each dot is a patient: red means a high value of the characteristic, blue a "
            "low one; dots to the right raise the chance of returning.",
        )
        + "</section>"
    )


def _channels(data: ReportData) -> str:
    mix = data.channel_mix
    totals = mix.sum(axis=0)
    share = totals / max(float(totals.sum()), 1.0)
    words = ", ".join(
        f"{channel_word(ch)} for "
        f"{_key(f'channel-{ch}-share', fmt.percent(s))}"
        for ch, s in share.sort_values(ascending=False).items()
        if s > 0
    )
    return (
        '<section id="channels"><h2>How to reach them</h2>'
        f"<p>The best channel is {words} of patients.</p>"
        + _figure("channels", charts.channel_chart(mix), "Best channel per group of patients.")
        + "</section>"
    )


def _health(data: ReportData) -> str:
    h = data.health
    if h is None:
        return (
            '<section id="health"><h2>Is the model healthy?</h2>'
            "<p>The model carries no backtest figures.</p></section>"
        )
    model_name, model_auc = h.aucs.index[0], float(h.aucs.iloc[0])
    rules = h.aucs.iloc[1:]
    best_rule = rules.idxmax() if len(rules) else None
    if best_rule is None:
        verdict = f"The model scores {_key('auc-model', fmt.score(model_auc))}."
    else:
        beats = model_auc > float(rules.max())
        verdict = (
            "On past data the model ranks patients with a score of "
            f"{_key('auc-model', fmt.score(model_auc))} "
            f'(1 is perfect, 0.5 is a coin toss); the best simple rule, "{escape(best_rule)}", '
            f"scores {_key('auc-best-rule', fmt.score(float(rules.max())))}. "
            + (
                "The model does better than the simple rules."
                if beats
                else "<b>The model does not beat the simple rules: ask for a retraining.</b>"
            )
        )
    window = f" Backtest: {escape(h.window)}." if h.window else ""
    parts = [
        f'<section id="health"><h2>Is the model healthy?</h2><p>{verdict}{window}</p>',
        _figure("auc", charts.auc_chart(h.aucs), f"{model_name} against simple rules."),
    ]
    if h.calibration is not None and len(h.calibration):
        parts.append(
            _figure(
                "calibration",
                charts.calibration_chart(h.calibration),
                "When the model says 30%, about 30% should return: points near the "
                "dashed line mean the chances can be taken at face value.",
            )
        )
    if h.gains is not None and len(h.gains):
        parts.append(
            _figure(
                "gains",
                charts.gains_chart(h.gains),
                "Contacting patients in the model's order reaches more of those who "
                "return than the simple rules or a random order.",
            )
        )
    if h.calibration is None or h.gains is None:
        parts.append(
            '<p class="note">The calibration and gains charts need the outcomes of '
            "the backtest patients, which this model version does not carry.</p>"
        )
    return "".join(parts) + "</section>"


def _drift(data: ReportData) -> str:
    d: dict[str, Any] | None = data.drift
    head = '<section id="drift"><h2>Has the data changed?</h2>'
    if d is None:
        return head + "<p>No drift check has been run on this snapshot yet.</p></section>"
    status = "changed" if d["flagged"] else "stable"
    if d["flagged"]:
        warning = "Warning: the patients look different from those the model learned from."
        reasons = " ".join(escape(fmt.plain(r)) for r in d["reasons"])
        text = f'<p class="warn">{_key("drift-status", warning)} {reasons} Consider retraining.</p>'
    else:
        stable = "Stable: the patients look like those the model learned from."
        text = '<p class="ok">' + _key("drift-status", stable) + "</p>"
    drifted = [c for c in d["columns"] if c["drifted"]]
    share = fmt.percent(d["drifted_share"])
    detail = f"<p>{len(drifted)} of {d['n_columns']} characteristics changed ({share}).</p>"
    rows = [[escape(fmt.plain(c["meaning"]))] for c in drifted]
    table = _table(["Changed characteristics"], rows) if rows else ""
    return head + f'<div data-drift="{status}">{text}{detail}{table}</div></section>'
