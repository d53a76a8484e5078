"""The "Campaign results" section: what a campaign did, in words a practice manager reads.

Input is the answer of ``training.campaign_results.campaign_results``. The headline is the
randomised comparison ("how many bookings the campaign actually caused"), with an honest
"not enough patients yet" while its interval still includes zero; attributed figures are
shown beside it and called what they are. ``campaign_lines`` says the same in plain text for
``reactivate results``.
"""

from __future__ import annotations

from html import escape

from serving.monitoring.report import fmt

CHANNEL_WORDS = {"sms": "text", "email": "email", "phone": "phone call", "mail": "letter"}
COLUMNS = ["Contacted", "Booked", "Kept the visit", "Booked / contacted", "Revenue", "Cost",
           "Cost per booking", "Return on cost"]


def _ratio(value: float | None) -> str:
    """ROI as "x times the cost" words."""
    return fmt.UNKNOWN if value is None else f"{value:+.1f}x"


def _cells(item: dict, currency: str) -> list[str]:
    return [fmt.count(item["contacted"]), fmt.count(item["booked"]), fmt.count(item["attended"]),
            fmt.percent(item["conversion_rate"]), fmt.money(item["revenue"], currency),
            fmt.money(item["cost"], currency), fmt.money(item["cost_per_reactivation"], currency),
            _ratio(item["roi"])]


def caused_sentence(results: dict) -> str:
    """How many bookings the campaign caused, against the holdout, in one or two sentences."""
    lift = results["versus_holdout"]
    t, h = lift["treatment"], lift["holdout"]
    rates = (f"{fmt.percent(t['booking_rate'], 1)} of the {fmt.count(t['members'])} patients "
             f"we contacted booked within {results['window_days']} days, against "
             f"{fmt.percent(h['booking_rate'], 1)} of the {fmt.count(h['members'])} patients "
             "set aside at random and not contacted.")
    if lift["incremental_bookings"] is None:
        return rates + " No patient was set aside, so we cannot tell what the campaign caused."
    low, high = lift["incremental_bookings_ci95"]
    caused = (f" The campaign caused about {fmt.number(lift['incremental_bookings'])} extra "
              f"bookings (somewhere between {fmt.number(low)} and {fmt.number(high)}).")
    if lift["enough_data"]:
        return rates + caused
    need = lift["members_needed"]
    more = (f" A clear answer needs about {fmt.count(need)} patients in the campaign."
            if need else "")
    return (rates + caused + " Not enough patients yet to be sure the campaign made a "
            "difference: the range still includes none at all." + more)


def title(results: dict) -> str:
    """The campaign's id, with its clinic when the answer names one."""
    clinic = results.get("clinic_id")
    return f"{results['campaign_id']}" + (f" ({clinic})" if clinic else "")


def sources_sentence(results: dict) -> str:
    """Where the bookings and visits were counted from ('' for answers without sources)."""
    sources = results.get("sources")
    return f"Bookings and visits counted from: {sources['visits']}." if sources else ""


def _rows(items: list[dict], name: str, currency: str) -> list[list[str]]:
    rows = []
    for item in items:
        label = item[name]
        label = (CHANNEL_WORDS.get(label, label) if name == "channel"
                 else f"message {label}" if name == "attempt" else label)
        rows.append([escape(str(label)), *(escape(c) for c in _cells(item, currency))])
    return rows


def campaign_section(results: dict, currency: str = "$") -> str:
    """HTML of the section (tables as in the rest of the report)."""
    from serving.monitoring.report.render import _key, _table

    o, att = results["overall"], results["attribution"]["overall"]
    lift = results["versus_holdout"]
    summary = (
        f"<p>{_key('campaign-contacted', fmt.count(o['contacted']))} patients contacted, "
        f"{_key('campaign-booked', fmt.count(o['booked']))} booked and "
        f"{_key('campaign-kept', fmt.count(o['attended']))} kept their visit, bringing "
        f"{_key('campaign-revenue', fmt.money(o['revenue'], currency))} for "
        f"{_key('campaign-cost', fmt.money(o['cost'], currency))} of messages "
        f"({fmt.money(o['cost_per_reactivation'], currency)} per booking, "
        f"return on cost {_ratio(o['roi'])}).</p>"
    )
    caused = (f'<p class="lead" data-key="campaign-caused" '
              f'data-enough="{str(lift["enough_data"]).lower()}">'
              f"{escape(caused_sentence(results))}</p>")
    attributed = (
        '<p class="note">Counted the usual way (a booking within '
        f"{results['window_days']} days of a message is credited to it): "
        f"{fmt.count(att['booked'])} bookings, {fmt.money(att['revenue'], currency)}. That count "
        "includes patients who would have booked anyway.</p>")
    head = ["By channel of the first message", *COLUMNS]
    tables = _table(head, _rows(results["by_channel"], "channel", currency))
    tables += _table(["By message", *COLUMNS], _rows(results["by_attempt"], "attempt", currency))
    where = sources_sentence(results)
    where = f'<p class="note" data-key="campaign-sources">{escape(where)}</p>' if where else ""
    if results.get("sequences"):
        from serving.monitoring.report.sequence_view import sequence_html

        tables += sequence_html(results["sequences"])
    return (f'<section id="campaign"><h2>Campaign results: '
            f"{escape(title(results))}</h2>{caused}{summary}{attributed}{where}{tables}"
            "</section>")


def campaign_lines(results: dict, currency: str = "$") -> list[str]:
    """The same in plain text lines (the ``reactivate results`` command)."""
    o = results["overall"]
    lines = [f"Campaign {title(results)}", caused_sentence(results),
             f"Contacted {fmt.count(o['contacted'])}, booked {fmt.count(o['booked'])}, kept "
             f"{fmt.count(o['attended'])}; revenue {fmt.money(o['revenue'], currency)}, cost "
             f"{fmt.money(o['cost'], currency)}, cost per booking "
             f"{fmt.money(o['cost_per_reactivation'], currency)}, return on cost {_ratio(o['roi'])}."]
    for name, items in (("channel", results["by_channel"]), ("attempt", results["by_attempt"])):
        for row in _rows(items, name, currency):
            lines.append("  " + row[0] + ": " + ", ".join(
                f"{h.lower()} {c}" for h, c in zip(COLUMNS, row[1:], strict=True)))
    if results.get("sequences"):
        from serving.monitoring.report.sequence_view import sequence_lines

        lines += sequence_lines(results["sequences"])
    att = results["attribution"]["overall"]
    lines.append(f"Credited the usual way (latest message within {results['window_days']} "
                 f"days): {fmt.count(att['booked'])} bookings; includes patients who would "
                 "have booked anyway.")
    if sources_sentence(results):
        lines.append(sources_sentence(results))
    return lines
