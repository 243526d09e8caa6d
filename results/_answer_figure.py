"""The figure a reader looks at first for "Does the CE term help?": a forest plot per optimiser,
shared by the 1D answer study and STS-B-DIR.

One panel per optimiser, one row per cell (1D: scenario x sampling, pooled over C): the paired
mean test-MSE difference reg+cls - B in % of reg's mean test MSE, with its 95% interval, for
B = reg (the gain the paper reports), reg-scaled (what the CE term adds at the same loss scale)
and reg-tuned (what reg+cls adds over a reg given the same tuning budget). Left of 0: reg+cls
better.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._plotting import WIDTH, empty_figure

# The three comparisons of a cell: the column prefix each has in an answer table, and its name.
NAMES = {
    "vs_reg": "reg+cls - reg",
    "vs_scaled": "reg+cls - reg-scaled (the CE term)",
    "vs_tuned": "reg+cls - reg-tuned (same tuning budget)",
}
COLORS = {"vs_reg": "#808080", "vs_scaled": "#7030a0", "vs_tuned": "#1f77b4"}
_OFFSETS = {"vs_reg": -0.22, "vs_scaled": 0.0, "vs_tuned": 0.22}


def answer_forest(table: pl.DataFrame, title: str) -> go.Figure:
    """The forest plot of an answer table: one panel per `optimizer`, one row per `label` (a
    column naming the cell), its `vs_*` mean differences in % of `mse_reg`, each with its
    interval; the hover text carries the counts and the cell's `verdict`.

    Example:
        >>> answer_forest(table.with_columns(label=pl.lit("all")), "STS-B-DIR").show()
    """
    if table.height == 0:
        return empty_figure(title, "no test pairs in these rows")
    optimizers = list(dict.fromkeys(table["optimizer"].to_list()))
    labels = list(dict.fromkeys(table["label"].to_list()))
    position = {label: i for i, label in enumerate(labels)}
    figure = make_subplots(
        rows=1, cols=len(optimizers), shared_yaxes=True, subplot_titles=optimizers,
        horizontal_spacing=0.03,
    )  # fmt: skip
    for col, optimizer in enumerate(optimizers, start=1):
        cells = list(table.filter(pl.col("optimizer") == optimizer).iter_rows(named=True))
        for prefix, name in NAMES.items():
            figure.add_trace(_trace(cells, prefix, name, position, optimizer, col == 1), 1, col)
        figure.add_vline(x=0, line_color="black", line_width=1, row=1, col=col)
        figure.update_xaxes(title_text="% of reg's test MSE", row=1, col=col)
    figure.update_yaxes(
        tickvals=list(range(len(labels))), ticktext=labels, autorange="reversed", row=1, col=1
    )
    figure.update_layout(
        title=title,
        width=WIDTH,
        height=240 + 34 * len(labels),
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 170},
    )
    return figure


def _trace(
    cells: list[dict],
    prefix: str,
    name: str,
    position: dict[str, int],
    optimizer: str,
    legend: bool,
) -> go.Scatter:
    """One comparison's points with their interval bars, in % of each cell's reg MSE."""
    points = [
        (c, 100.0 / c["mse_reg"])
        for c in cells
        if c[f"{prefix}_mean_diff"] is not None and (c["mse_reg"] or 0) > 0
    ]
    mean = [c[f"{prefix}_mean_diff"] for c, _ in points]
    low = [c[f"{prefix}_mean_diff_ci_low"] for c, _ in points]
    high = [c[f"{prefix}_mean_diff_ci_high"] for c, _ in points]
    scale = [k for _, k in points]
    return go.Scatter(
        x=[m * k for m, k in zip(mean, scale, strict=True)],
        y=[position[c["label"]] + _OFFSETS[prefix] for c, _ in points],
        mode="markers",
        marker={"color": COLORS[prefix], "size": 7},
        error_x={
            "type": "data",
            "array": [_gap(h, m, k) for h, m, k in zip(high, mean, scale, strict=True)],
            "arrayminus": [_gap(m, lo, k) for m, lo, k in zip(mean, low, scale, strict=True)],
            "thickness": 1.2,
        },
        name=name,
        legendgroup=prefix,
        showlegend=legend,
        hovertext=[
            f"{optimizer} {c['label']}<br>{name}: {m:.3g} [{_text(lo)}, {_text(h)}], "
            f"{c[f'{prefix}_n_pairs']} pairs, {c[f'{prefix}_n_clusters']} units<br>{c['verdict']}"
            for (c, _), m, lo, h in zip(points, mean, low, high, strict=True)
        ],
        hoverinfo="text",
    )


def _gap(upper: float | None, lower: float | None, scale: float) -> float | None:
    """Error-bar length (upper - lower) * scale; None where a bound is missing."""
    if upper is None or lower is None or upper != upper or lower != lower:
        return None
    return (upper - lower) * scale


def _text(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.3g}"
