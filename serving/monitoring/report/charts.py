"""The report's charts as inline SVG strings (matplotlib, no display, no pyplot state).

Text is drawn as paths (``svg.fonttype = "path"``) so the page needs no font file, and the
dense beeswarm scatter is rasterised inside its SVG to keep the file small. Each function
takes the small table it draws and returns ``<svg ...>...</svg>``.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.vocabulary import EMAIL, MAIL, PHONE, SMS
from serving.targeting.wording import channel_word

BLUE, ORANGE, GREY, GREEN, RED = "#1f5f99", "#e08a1e", "#9aa0a6", "#2e7d32", "#b3261e"
CHANNEL_COLOURS = {
    SMS: "#1f5f99",
    EMAIL: "#4e9bd6",
    PHONE: "#e08a1e",
    MAIL: "#7c5295",
    "none": "#c7c9cc",
}
WIDTH = 7.0  # inches: fits the printable width of A4 with 14 mm margins


def _figure(height: float) -> tuple[Figure, object]:
    fig = Figure(figsize=(WIDTH, height))
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def to_svg(fig: Figure) -> str:
    """Serialise a figure to an inline ``<svg>`` element (no XML prolog, no external refs)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "reactivate"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", dpi=150)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _wrap(label: str, width: int = 44) -> str:
    """At most two lines per axis label, so neighbouring labels never overlap."""
    return "\n".join(textwrap.wrap(label, width, max_lines=2, placeholder=" ...")) or label


def importance_bar(importance: pd.DataFrame) -> str:
    """Horizontal bars of mean absolute SHAP per feature (columns ``label``, ``share``)."""
    data = importance.iloc[::-1]
    fig, ax = _figure(0.45 * len(data) + 0.8)
    ax.barh([_wrap(x) for x in data["label"]], data["share"] * 100, color=BLUE)
    ax.set_xlabel("Share of the model's reasoning (%)")
    ax.tick_params(axis="y", labelsize=8)
    return to_svg(fig)


def beeswarm(values: np.ndarray, colour_rank: np.ndarray, labels: list[str]) -> str:
    """SHAP beeswarm: one dot per patient and feature, coloured by the feature's level.

    Args:
        values: SHAP values, patients x features (features in display order, top first).
        colour_rank: the feature values as ranks 0-1 (NaN: unknown, drawn grey).
        labels: plain names of the features.
    """
    n_rows, n_feat = values.shape
    fig, ax = _figure(0.45 * n_feat + 1.0)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_feat)[::-1][None, :], n_rows, axis=0).astype(float)
    y += rng.uniform(-0.3, 0.3, size=y.shape)
    known = ~np.isnan(colour_rank)
    cmap = matplotlib.colormaps["coolwarm"]
    ax.scatter(values[~known], y[~known], s=5, color=GREY, alpha=0.5, rasterized=True)
    ax.scatter(
        values[known],
        y[known],
        s=5,
        c=colour_rank[known],
        cmap=cmap,
        vmin=0,
        vmax=1,
        alpha=0.7,
        rasterized=True,
    )
    ax.axvline(0, color="#555", linewidth=0.8)
    ax.set_yticks(np.arange(n_feat)[::-1], [_wrap(x) for x in labels], fontsize=8)
    ax.set_xlabel("Effect on the chance of returning (left: lowers it, right: raises it)")
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(0, 1))
    bar = fig.colorbar(sm, ax=ax, ticks=[0, 1], fraction=0.03, pad=0.02)
    bar.ax.set_yticklabels(["low", "high"], fontsize=8)
    bar.set_label("value of the characteristic", fontsize=8)
    return to_svg(fig)


def segment_chart(segments: pd.DataFrame, horizon_days: int) -> str:
    """Patients per segment and how many of them are expected back (columns ``segment``,
    ``patients``, ``expected_returns``)."""
    fig, ax = _figure(2.6)
    x = np.arange(len(segments))
    ax.bar(x - 0.2, segments["patients"], width=0.4, color=GREY, label="patients")
    ax.bar(
        x + 0.2,
        segments["expected_returns"],
        width=0.4,
        color=BLUE,
        label=f"expected back within {horizon_days} days",
    )
    ax.set_xticks(x, [s.capitalize() for s in segments["segment"]])
    ax.set_ylabel("patients")
    ax.legend(frameon=False, fontsize=8)
    return to_svg(fig)


def channel_chart(mix: pd.DataFrame) -> str:
    """Stacked bars: per segment (rows), the share of patients best reached by each channel."""
    shares = mix.div(mix.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0) * 100
    fig, ax = _figure(0.4 * len(shares) + 1.2)
    left = np.zeros(len(shares))
    labels = [s.capitalize() for s in shares.index][::-1]
    for channel in shares.columns:
        width = shares[channel].to_numpy()[::-1]
        ax.barh(
            labels,
            width,
            left=left,
            color=CHANNEL_COLOURS.get(channel, GREY),
            label=channel_word(channel),
        )
        left += width
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the segment's patients (%)")
    ax.legend(frameon=False, fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    return to_svg(fig)


def auc_chart(aucs: pd.Series) -> str:
    """Bars of backtest AUC for the model and each simple rule (index: plain names)."""
    fig, ax = _figure(0.45 * len(aucs) + 0.9)
    data = aucs.iloc[::-1]
    colours = [BLUE if i == len(data) - 1 else GREY for i in range(len(data))]
    ax.barh(list(data.index), data.to_numpy(), color=colours)
    ax.axvline(0.5, color=RED, linewidth=0.8, linestyle="--")
    ax.text(0.5, len(data) - 0.4, " coin toss", color=RED, fontsize=8)
    ax.set_xlim(0.4, 1.0)
    ax.set_xlabel("How well it ranks returners above non-returners (AUC, 1 = perfect)")
    return to_svg(fig)


def calibration_chart(calibration: pd.DataFrame) -> str:
    """Predicted vs observed return rate per score band (``predicted``, ``observed``)."""
    fig, ax = _figure(3.0)
    ax.plot([0, 100], [0, 100], color=GREY, linestyle="--", linewidth=1, label="perfect")
    ax.plot(
        calibration["predicted"] * 100,
        calibration["observed"] * 100,
        marker="o",
        color=BLUE,
        label="model",
    )
    top = max(5.0, float(max(calibration["predicted"].max(), calibration["observed"].max())) * 110)
    ax.set_xlim(0, min(100, top))
    ax.set_ylim(0, min(100, top))
    ax.set_xlabel("predicted chance of returning (%)")
    ax.set_ylabel("patients who returned (%)")
    ax.legend(frameon=False, fontsize=8)
    return to_svg(fig)


def gains_chart(gains: pd.DataFrame) -> str:
    """Cumulative share of returners reached vs share of patients contacted.

    ``gains`` has ``contacted`` (0-1) and one 0-1 column per ranking (first: the model).
    """
    fig, ax = _figure(3.0)
    x = gains["contacted"] * 100
    ax.plot([0, 100], [0, 100], color=GREY, linestyle="--", linewidth=1, label="random order")
    for i, column in enumerate(c for c in gains.columns if c != "contacted"):
        ax.plot(
            x,
            gains[column] * 100,
            color=BLUE if i == 0 else [ORANGE, GREEN, RED][i % 3],
            linewidth=2 if i == 0 else 1.2,
            label=column,
        )
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("patients contacted, best first (%)")
    ax.set_ylabel("of all who returned, reached (%)")
    ax.legend(frameon=False, fontsize=8)
    return to_svg(fig)
