"""Paired views, shared by the synthetic-1D and DIR figures: per pair the difference
reg+cls − reg (a model with a classification loss minus the reg model trained on the same data,
the row's `paired_reg_*` column), drawn as points with their mean and its 95% interval over the
independent units (target functions in 1D, seeds in DIR: `results.cluster_inference`, the
inverted sign-flip test; none below 6 units). Two ±1 std bands can overlap while nearly every
pair moves the same way; the paired difference shows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._plotting import WIDTH, empty_figure
from results._tables import COUNT
from results.cluster_inference import cluster_totals, interval_of, min_clusters

CLASSIFICATION_VARIANTS = ("reg+cls", "reg+cls-balanced")
INTERVAL_NOTE = (
    "mean of the pairs with its 95% interval over the independent units (sign-flip test "
    "inverted; none below 6 units)"
)
SUMMARY_COLUMNS: dict[str, pl.DataType] = {
    "n_pairs": COUNT,
    "n_clusters": COUNT,
    "n_below_zero": COUNT,
    "median_diff": pl.Float64,
    "mean_diff": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "too_few_clusters": pl.Boolean,
}
_FACET_HEIGHT = 240


def pair_differences(rows: pl.DataFrame, value: str, paired: str) -> pl.DataFrame:
    """The reg+cls (and reg+cls-balanced) rows that finished with a finite `value` and whose
    paired reg model has a finite `paired` value, with `diff` = value − paired (negative:
    classification helped). Diverged and failed models have no value and are left out."""
    finite = pl.col(value).is_finite() & pl.col(paired).is_finite()
    return rows.filter(
        pl.col("variant").is_in(CLASSIFICATION_VARIANTS)
        & (pl.col("status") == "ok")
        & finite.fill_null(False)
    ).with_columns((pl.col(value).cast(pl.Float64) - pl.col(paired)).alias("diff"))


def difference_summary(diffs: pl.DataFrame, by: Sequence[str], cluster: str) -> pl.DataFrame:
    """Per group of `by`: `n_pairs`, `n_clusters` (distinct `cluster` values: the independent
    units), `n_below_zero` (pairs where classification helped), `median_diff`, and `mean_diff`
    with its 95% interval `ci_low`, `ci_high` over the clusters (NaN and `too_few_clusters`
    below 6), sorted by `by`."""
    by = list(by)
    schema = {**{name: diffs.schema[name] for name in by}, **SUMMARY_COLUMNS}
    groups = diffs.group_by(by).agg(pl.col("diff"), pl.col(cluster)).sort(by, nulls_last=True)
    out = []
    for row in groups.iter_rows(named=True):
        values = row["diff"]
        sums, counts = cluster_totals(row[cluster], values)
        key = tuple(row[name] for name in by)
        mean, low, high, _ = interval_of(sums, counts, key=key)
        out.append(
            {
                **{name: row[name] for name in by},
                "n_pairs": len(values),
                "n_clusters": len(sums),
                "n_below_zero": sum(v < 0 for v in values),
                "median_diff": float(pl.Series(values).median()),
                "mean_diff": mean,
                "ci_low": low,
                "ci_high": high,
                "too_few_clusters": len(sums) < min_clusters(),
            }
        )
    return pl.DataFrame(out, schema=schema)


def paired_figure(
    diffs: pl.DataFrame,
    *,
    title: str,
    facet_rows: tuple[str, str],
    facet_cols: tuple[str, str] | None,
    x: str,
    line: str,
    colors: Mapping[object, str],
    names: Mapping[object, str],
    y_title: str,
    cluster: str,
    x_title: str | None = None,
    log_x: bool = False,
) -> go.Figure:
    """Facets (`facet_rows`: column and label, "" for the bare value) x (`facet_cols`); in
    each, per `line` value (in the order of `colors`), the pair differences as faint points and
    the mean per `x` with its interval over the `cluster` units as error bars (joined by a line
    on a numeric, log x axis, where lines at one x are spread slightly; the hover shows the true
    x); a dotted zero line. Trace names: "<name>: mean" and "<name>: pairs"."""
    if diffs.is_empty():
        return empty_figure(title, "no paired reg+cls rows (no reg model on the same data)")
    row_col, row_label = facet_rows
    row_values = _values(diffs, row_col)
    col_values = _values(diffs, facet_cols[0]) if facet_cols else [None]
    facet_titles = [
        (f"{row_label}={r}" if row_label else str(r)) + (f" · {c}" if facet_cols else "")
        for r in row_values
        for c in col_values
    ]
    figure = make_subplots(
        rows=len(row_values),
        cols=len(col_values),
        subplot_titles=facet_titles,
        horizontal_spacing=0.05,
        vertical_spacing=min(0.12, 0.4 / max(1, len(row_values))),
    )
    lines = [value for value in colors if value in set(diffs[line].to_list())]
    for r, row_value in enumerate(row_values, start=1):
        for c, col_value in enumerate(col_values, start=1):
            keys = pl.col(row_col).eq_missing(row_value)
            if facet_cols:
                keys &= pl.col(facet_cols[0]).eq_missing(col_value)
            facet = diffs.filter(keys)
            for i, value in enumerate(lines):
                part = facet.filter(pl.col(line) == value)
                if part.is_empty():
                    continue
                spread = 10 ** (0.04 * (i - (len(lines) - 1) / 2)) if log_x else 1.0
                line_style = (names[value], colors[value], spread, log_x)
                _add_line(figure, r, c, part, x, cluster, *line_style)
    for trace in figure.data:  # one legend entry per line, on its mean trace
        trace.showlegend = False
    seen: set[str] = set()
    for trace in figure.data:
        if trace.name.endswith(": mean") and trace.name not in seen:
            trace.showlegend = True
            seen.add(trace.name)
    figure.add_hline(y=0.0, line_dash="dot", line_color="grey", row="all", col="all")
    if log_x:
        figure.update_xaxes(type="log")
    figure.update_xaxes(title_text=x_title or x, row=len(row_values))
    figure.update_yaxes(title_text=y_title, col=1)
    figure.update_layout(
        title=f"{title}<br><sup>small points: pairs; large markers: {INTERVAL_NOTE}; below 0: "
        "reg+cls better</sup>",
        height=_FACET_HEIGHT * len(row_values) + 160,
        width=WIDTH,
        margin={"t": 110, "b": 50},
        hovermode="closest",
    )
    figure.update_annotations(font_size=12)
    return figure


def _add_line(
    figure: go.Figure,
    row: int,
    col: int,
    part: pl.DataFrame,
    x: str,
    cluster: str,
    name: str,
    color: str,
    spread: float,
    joined: bool,
) -> None:
    figure.add_trace(
        go.Scatter(
            x=[v * spread for v in part[x].to_list()] if spread != 1.0 else part[x].to_list(),
            y=part["diff"].to_list(),
            mode="markers",
            name=f"{name}: pairs",
            legendgroup=name,
            marker={"color": color, "size": 5, "opacity": 0.35},
            customdata=part[x].to_list(),
            hovertemplate="%{customdata}: Δ=%{y:.4g}<extra>" + name + " pair</extra>",
        ),
        row=row,
        col=col,
    )
    summary = difference_summary(part, [x], cluster).sort(x)
    xs = summary[x].to_list()
    means = summary["mean_diff"].to_list()
    lows, highs = summary["ci_low"].to_list(), summary["ci_high"].to_list()
    hover = [
        f"mean Δ={m:.4g}, 95% interval "
        + (f"n/a ({g} units < 6)" if math.isnan(lo) else f"[{lo:.4g}, {hi:.4g}]")
        + f"<br>{n} pairs, {g} independent units ({cluster}), reg+cls better in {k}"
        for m, lo, hi, n, g, k in zip(
            means,
            lows,
            highs,
            summary["n_pairs"],
            summary["n_clusters"],
            summary["n_below_zero"],
            strict=True,
        )
    ]
    figure.add_trace(
        go.Scatter(
            x=[v * spread for v in xs] if spread != 1.0 else xs,
            y=means,
            mode="lines+markers" if joined else "markers",
            name=f"{name}: mean",
            legendgroup=name,
            line={"color": color, "width": 2},
            marker={"size": 7},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [_gap(h, m) for h, m in zip(highs, means, strict=True)],
                "arrayminus": [_gap(m, lo) for lo, m in zip(lows, means, strict=True)],
                "thickness": 1.5,
                "width": 4,
            },
            customdata=xs,
            text=hover,
            hovertemplate="%{customdata}: %{text}<extra>" + name + "</extra>",
        ),
        row=row,
        col=col,
    )


def _gap(upper: float, lower: float) -> float | None:
    """An error bar's length; none where the interval is undefined (NaN)."""
    return None if math.isnan(upper) or math.isnan(lower) else upper - lower


def _values(frame: pl.DataFrame, column: str) -> list:
    """Distinct values of a facet column, in the frame's order (the caller sorts the frame)."""
    return frame.select(column).unique(maintain_order=True)[column].to_list()
