"""The evaluation as a table: for the terminal (rich) and for the docs (Markdown).

Why one row builder for both: the figures printed after ``reactivate train`` and the ones
quoted in ``docs/training.md`` must be the same numbers, formatted the same way.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

LABELS: dict[str, str] = {
    "model": "model", "recency": "recency rule", "overdue": "overdue rule",
    "bgnbd": "BG/NBD", "oracle": "oracle (true p)",
}
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("auc", "AUC", "{:.3f}"), ("pr_auc", "PR-AUC", "{:.3f}"), ("brier", "Brier", "{:.4f}"),
    ("log_loss", "log loss", "{:.4f}"), ("ece", "ECE", "{:.4f}"),
    ("top_decile_lift", "top-10% lift", "{:.2f}"),
    ("top_decile_capture", "returners in top 10%", "{:.1%}"),
)
CHANNEL_LABELS: dict[str, str] = {
    "model": "model's channel", "clinic_best": "always the clinic's best channel",
    "random": "random consented channel", "oracle": "oracle's channel",
}


def return_rows(evaluation: dict[str, Any]) -> list[list[str]]:
    """One formatted row per forecaster: name, then the metrics of ``COLUMNS``."""
    rows = []
    for who, metrics in evaluation["return"].items():
        cells = [LABELS.get(who, who)]
        for key, _, fmt in COLUMNS:
            value = metrics.get(key)
            cells.append("n/a" if value is None or value != value else fmt.format(value))
        rows.append(cells)
    return rows


GROUP_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("auc", "AUC", "{:.3f}"), ("brier", "Brier", "{:.4f}"), ("ece", "ECE", "{:.4f}"),
)


def group_rows(evaluation: dict[str, Any]) -> list[list[str]]:
    """Per practice type (``by_practice``): rows, base rate, then AUC / Brier / ECE of each
    forecaster (empty for a single-type export)."""
    groups = evaluation.get("by_practice") or {}
    rows = []
    for group, table in groups.items():
        for who, metrics in table.items():
            cells = [group, LABELS.get(who, who), f"{metrics['rows']:,}",
                     f"{metrics['base_rate']:.3f}"]
            for key, _, fmt in GROUP_COLUMNS:
                value = metrics.get(key)
                cells.append("n/a" if value is None or value != value else fmt.format(value))
            rows.append(cells)
    return rows


def group_markdown(evaluation: dict[str, Any]) -> str:
    """The per-practice-type table in Markdown (for the README's Training section)."""
    head = ["practice type", "forecast", "rows", "base rate", *(c[1] for c in GROUP_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in group_rows(evaluation)]
    return "\n".join(lines)


def channel_rows(evaluation: dict[str, Any]) -> list[list[str]]:
    """Mean true booking probability of each channel strategy (empty without truth)."""
    channels = evaluation.get("channels")
    if not channels:
        return []
    return [[label, f"{channels[key]:.4f}"] for key, label in CHANNEL_LABELS.items()]


UPLIFT_LABELS: dict[str, str] = {
    "model": "uplift model", "return_probability": "return prob.",
    "days_since_last_visit": "days since visit", "random": "random",
    "oracle": "oracle (truth)",
}
_AT = tuple((f"uplift_at_{k}", f"uplift at {k}%", "{:+.1%}") for k in (10, 20, 30))
UPLIFT_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "oracle": (("extra_bookings", "extra in top k", "{:.1f}"),
               ("share_of_oracle", "of the oracle", "{:.0%}"),
               ("qini", "Qini", "{:.4f}"), ("qini_normalised", "Qini / oracle", "{:.2f}"),
               ("auuc", "AUUC", "{:.4f}"), *_AT),
    "held_out_campaigns": (("extra_bookings_top_share", "extra in top k", "{:.1f}"),
                           ("qini", "Qini", "{:.4f}"), ("auuc", "AUUC", "{:.4f}"), *_AT),
}


def uplift_title(part: str, block: dict[str, Any]) -> str:
    """What an uplift table measures, with its k."""
    if part == "oracle":
        return (f"Uplift against the truth (simulator): the top k = {block['k']:,} of "
                f"{block['eligible']:,} eligible patients")
    return (f"Uplift on {len(block['campaigns'])} held-out campaign(s), realised: "
            f"{block['members']:,} members ({block['holdout']:,} held out), top k = "
            f"{block.get('k', 0):,}")


def uplift_rows(evaluation: dict[str, Any], part: str) -> list[list[str]]:
    """One formatted row per ranking of ``evaluation["uplift"][part]`` (empty when absent)."""
    block = (evaluation.get("uplift") or {}).get(part)
    if not block:
        return []
    rows = []
    for who, metrics in block["rankings"].items():
        cells = [UPLIFT_LABELS.get(who, who)]
        for key, _, fmt in UPLIFT_COLUMNS[part]:
            value = metrics.get(key)
            cells.append("n/a" if value is None or value != value else fmt.format(value))
        rows.append(cells)
    return rows


def uplift_tables(evaluation: dict[str, Any], per_table: int = 4) -> list[Table]:
    """The uplift backtest (issue 12) for the terminal: truth and held-out campaigns, at
    most ``per_table`` figures per table so that each fits an 80-column terminal."""
    tables = []
    uplift = evaluation.get("uplift") or {}
    for part in ("oracle", "held_out_campaigns"):
        rows = uplift_rows(evaluation, part)
        if not rows:
            continue
        columns = UPLIFT_COLUMNS[part]
        for start in range(0, len(columns), per_table):
            title = uplift_title(part, uplift[part]) if start == 0 else None
            table = Table(title=title, box=box.SIMPLE_HEAD)
            table.add_column("ranking", no_wrap=True)
            for _, label, _ in columns[start:start + per_table]:
                table.add_column(label, justify="right", no_wrap=True)
            for row in rows:
                table.add_row(row[0], *row[1 + start:1 + start + per_table])
            tables.append(table)
    return tables


def uplift_markdown(evaluation: dict[str, Any]) -> str:
    """The uplift tables in Markdown, the ordering chosen and the normalisation used."""
    uplift = evaluation.get("uplift") or {}
    if not uplift:
        return ""
    if not uplift.get("available"):
        return f"Uplift: not available - {uplift.get('reason', '')}\n"
    lines = []
    for part in ("oracle", "held_out_campaigns"):
        rows = uplift_rows(evaluation, part)
        if not rows:
            continue
        head = ["ranking", *(label for _, label, _ in UPLIFT_COLUMNS[part])]
        lines += [f"**{uplift_title(part, uplift[part])}**", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    lines.append(f"Default ordering: `{uplift['ordering']}` ({uplift['ordering_reason']}).")
    if uplift.get("normalisation"):
        lines += ["", f"Normalisation: {uplift['normalisation']}"]
    return "\n".join(lines) + "\n"


def rich_tables(evaluation: dict[str, Any], title: str = "Backtest") -> list[Table]:
    """The return table and (when the truth is known) the channel table."""
    table = Table(title=f"{title}: who returns within the horizon")
    table.add_column("forecast")
    for _, label, _ in COLUMNS:
        table.add_column(label, justify="right")
    for row in return_rows(evaluation):
        table.add_row(*row)
    tables = [table]
    grouped = group_rows(evaluation)
    if grouped:
        per = Table(title=f"{title} per practice type")
        for label in ("practice type", "forecast", "rows", "base rate",
                      *(c[1] for c in GROUP_COLUMNS)):
            per.add_column(label, justify="left" if label in ("practice type", "forecast")
                           else "right")
        for row in grouped:
            per.add_row(*row)
        tables.append(per)
    rows = channel_rows(evaluation)
    if rows:
        chan = Table(title="Channel choice: mean true booking probability")
        chan.add_column("strategy")
        chan.add_column("P(book)", justify="right")
        for row in rows:
            chan.add_row(*row)
        chan.add_row("share of the random-to-oracle gap closed",
                     f"{evaluation['channels']['gap_closed']:.1%}")
        tables.append(chan)
    return tables


def markdown(evaluation: dict[str, Any]) -> str:
    """The same tables in Markdown (the uplift ones: :func:`uplift_markdown`)."""
    head = ["forecast", *(label for _, label, _ in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in return_rows(evaluation)]
    rows = channel_rows(evaluation)
    if rows:
        lines += ["", "| channel strategy | mean true P(book) |", "|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        closed = evaluation["channels"]["gap_closed"]
        lines.append(f"| gap closed (random to oracle) | {closed:.1%} |")
    return "\n".join(lines) + "\n"
