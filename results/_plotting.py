"""Plotly pieces shared by the synthetic-1D (`results.synthetic_1d.figures`) and DIR
(`results.dir.figures`) figures: the paper's variant colours and names, the empty figure, mean +-
std bands, and the error-vs-lambda lines of one facet.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType

import plotly.graph_objects as go
import polars as pl
from plotly.colors import sample_colorscale

VARIANT_COLORS = MappingProxyType(
    {"reg": "#e00000", "reg+cls": "#1a8a1a", "reg+cls-balanced": "#7fe000"}
)
VARIANT_NAMES = MappingProxyType(
    {"reg": "reg", "reg+cls": "reg+cls", "reg+cls-balanced": "reg+cls bal"}
)
WIDTH = 1250


def empty_figure(title: str, note: str) -> go.Figure:
    """A figure with no data and a centred note saying why."""
    figure = go.Figure(layout=go.Layout(title=title, height=300, width=WIDTH))
    figure.add_annotation(
        text=note, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font_size=16
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def add_band(
    figure: go.Figure,
    row: int,
    col: int,
    x: list,
    mean: list,
    std: list,
    color: str,
    name: str,
    show_legend: bool,
    dash: str = "solid",
    hover: list[str] | None = None,
    alpha: float = 0.18,
) -> None:
    """A mean line with a +-std shaded band of opacity `alpha` (std null -> no spread)."""
    points = [
        (xi, m, s or 0.0)
        for xi, m, s in zip(x, mean, std, strict=True)
        if m is not None and not math.isnan(m)
    ]
    if not points:
        return
    xs = [p[0] for p in points]
    upper = [m + s for _, m, s in points]
    lower = [m - s for _, m, s in points]
    fill = _rgba(color, alpha)
    band = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False}
    figure.add_trace(go.Scatter(x=xs, y=upper, legendgroup=name, **band), row=row, col=col)
    figure.add_trace(
        go.Scatter(x=xs, y=lower, fill="tonexty", fillcolor=fill, legendgroup=name, **band),
        row=row,
        col=col,
    )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=[p[1] for p in points],
            mode="lines+markers",
            name=name,
            legendgroup=name,
            showlegend=show_legend,
            line={"color": color, "width": 2, "dash": dash},
            marker={"size": 5},
            text=hover,
            hovertemplate="%{x}: %{y:.4g}" + ("<br>%{text}" if hover else ""),
        ),
        row=row,
        col=col,
    )


def add_lambda_lines(
    figure: go.Figure,
    row: int,
    col: int,
    facet: pl.DataFrame,
    columns: tuple[str, str, str, str],
    colors: Mapping[int, str],
    alphas: tuple[float, float],
    show_legend: Callable[[str], bool],
) -> list[str]:
    """Error vs lambda in one facet: reg as a flat dashed band, then one band per C.

    `facet` holds one row per C x lambda with "lam", "num_classes", the counts "n",
    "n_diverged", "n_failed" and `columns` = (mean, std, reg mean, reg std); the reg band spans
    the facet's lambdas at the first non-null reg mean. C values are those of `colors`, in its
    order. `alphas`: band opacity of reg, of the C lines. `show_legend(name)` says whether a
    line enters the legend. Returns the names of the lines drawn ("reg", "C=<C>").
    """
    mean, std, reg_mean, reg_std = columns
    names = []
    lams = sorted(facet["lam"].drop_nulls().unique().to_list())
    reg = facet.filter(pl.col(reg_mean).is_not_null()).head(1)
    if reg.height and lams:
        level, spread = reg[reg_mean][0], reg[reg_std][0] or 0.0
        add_band(
            figure,
            row,
            col,
            lams,
            [level] * len(lams),
            [spread] * len(lams),
            VARIANT_COLORS["reg"],
            "reg",
            show_legend("reg"),
            dash="dash",
            alpha=alphas[0],
        )
        names.append("reg")
    for num_classes, color in colors.items():
        line = facet.filter(pl.col("num_classes") == num_classes).sort("lam")
        if line.is_empty():
            continue
        name = f"C={num_classes}"
        add_band(
            figure,
            row,
            col,
            line["lam"].to_list(),
            line[mean].to_list(),
            line[std].to_list(),
            color,
            name,
            show_legend(name),
            hover=counts_hover(line),
            alpha=alphas[1],
        )
        names.append(name)
    return names


def class_colors(curves: pl.DataFrame) -> dict[int, str]:
    """One colour per class count C in `curves`, ascending C."""
    classes = sorted(curves["num_classes"].drop_nulls().unique().to_list())
    return dict(zip(classes, _palette(len(classes)), strict=True))


def counts_hover(line: pl.DataFrame) -> list[str]:
    return [
        f"n={n}, diverged={d}, failed={f}"
        for n, d, f in line.select("n", "n_diverged", "n_failed").iter_rows()
    ]


def _palette(count: int) -> list[str]:
    if count == 1:
        return ["#1f4e9c"]
    return sample_colorscale("Viridis", [0.9 * i / (count - 1) for i in range(count)])


def _rgba(color: str, alpha: float) -> str:
    if color.startswith("#"):
        red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    else:  # "rgb(r, g, b)" from a plotly colour scale
        red, green, blue = (int(float(v)) for v in color[color.index("(") + 1 : -1].split(","))
    return f"rgba({red},{green},{blue},{alpha})"


def error_bars(values: list, low: pl.Series, high: pl.Series) -> dict:
    """Asymmetric error bars from interval bounds (no bar where a bound is missing)."""
    plus = [
        None if v is None or h is None or h != h else h - v
        for v, h in zip(values, high.to_list(), strict=True)
    ]
    minus = [
        None if v is None or lo is None or lo != lo else v - lo
        for v, lo in zip(values, low.to_list(), strict=True)
    ]
    return {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus}
