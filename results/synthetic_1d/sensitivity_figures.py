"""The tornado chart of the sensitivity study: which protocol choice moves "reg+cls beats reg"?

`plot_sensitivity` checks its argument, computes `sensitivity.flip_effects` and hands the table
to `_tornado_figure`, which only draws. Input without flipped rows gives an empty figure with a
note.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._plotting import VARIANT_COLORS, VARIANT_NAMES, WIDTH, empty_figure
from results._tables import check_frame
from results.synthetic_1d.sensitivity import VARIANTS, flip_effects

_PANEL_HEIGHT = 330


def plot_sensitivity(df: pl.DataFrame, table: pl.DataFrame | None = None) -> go.Figure:
    """Tornado chart: per scenario x sampling (one panel each, test stage, pooled over C), one
    horizontal bar per flip: the change, flip minus the paper's defaults, in the % of pairs where
    reg+cls beats reg, with its 95% interval over functions as error bars; reg+cls with
    balanced classes as a second, lighter bar per flip. Bars sort by |change| of reg+cls, the
    largest at the top; a bar whose interval crosses 0 is a choice the answer does not depend on
    (at this size). Hover shows the % before and after and the change in mean gain.

    Args:
        df: results rows of the sensitivity study.
        table: `sensitivity.flip_effects(df)` when already computed.

    Example:
        >>> plot_sensitivity(read_rows("runs/synthetic_1d_sensitivity-quick-grid")).show()
    """
    check_frame(df, "results rows")
    return _tornado_figure(flip_effects(df) if table is None else table)


def _tornado_figure(table: pl.DataFrame) -> go.Figure:
    title = (
        "Which protocol choice moves the answer? Change in % of pairs where reg+cls beats reg, "
        "flip − paper defaults (test, pooled over C; 95% intervals)"
    )
    if table.height == 0:
        return empty_figure(title, "no rows with a protocol flip and its baseline")
    cells = table.select("scenario", "sampling").unique().sort("scenario", "sampling").rows()
    figure = make_subplots(
        rows=len(cells),
        cols=1,
        subplot_titles=[f"{scenario} · {sampling}" for scenario, sampling in cells],
        vertical_spacing=min(0.25 / len(cells), 0.08),
    )
    for index, (scenario, sampling) in enumerate(cells, start=1):
        part = table.filter((pl.col("scenario") == scenario) & (pl.col("sampling") == sampling))
        order = _flip_order(part)
        for variant in VARIANTS:
            bars = (
                pl.DataFrame({"flip": order})
                .join(part.filter(pl.col("variant") == variant), on="flip", how="inner")
                .sort(pl.col("flip").replace_strict(order, list(range(len(order)))))
            )
            if bars.height:
                figure.add_trace(_bars(bars, variant, show_legend=index == 1), row=index, col=1)
        figure.add_vline(x=0.0, line_color="grey", row=index, col=1)
        figure.update_yaxes(autorange="reversed", row=index, col=1)
        figure.update_xaxes(title_text="Δ % wins (flip − defaults)", row=index, col=1)
    # One symmetric range for every panel: 0 in the middle, lengths comparable across panels.
    figure.update_xaxes(range=[-_reach(table), _reach(table)])
    figure.update_layout(
        title=title,
        barmode="group",
        height=160 + _PANEL_HEIGHT * len(cells),
        width=WIDTH,
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.0, "xanchor": "left"},
        margin={"l": 260, "t": 130},
    )
    return figure


def _reach(table: pl.DataFrame) -> float:
    """Half-width of the x range: the largest |change| or interval bound, padded (at least 5)."""
    columns = ("d_pct_wins", "d_pct_wins_ci_low", "d_pct_wins_ci_high")
    values = [abs(v) for c in columns for v in table[c].to_list() if v is not None and v == v]
    return max([5.0, *values]) * 1.08


def _flip_order(part: pl.DataFrame) -> list[str]:
    """Flips by |change in % wins| of reg+cls, largest first (flips without it last)."""
    main = part.filter(pl.col("variant") == VARIANTS[0])
    ranked = main.sort(pl.col("d_pct_wins").abs(), "flip", descending=[True, False])
    order = ranked["flip"].to_list()
    return order + sorted(set(part["flip"]) - set(order))


def _bars(bars: pl.DataFrame, variant: str, show_legend: bool) -> go.Bar:
    change = bars["d_pct_wins"].to_list()
    # No error bar where the interval is undefined (NaN: fewer than two functions).
    plus = [_finite(h - v) for v, h in zip(change, bars["d_pct_wins_ci_high"], strict=True)]
    minus = [_finite(v - lo) for v, lo in zip(change, bars["d_pct_wins_ci_low"], strict=True)]
    hover = [
        f"{r['flip']} ({r['setting']})<br>% wins {r['pct_wins_base']:.1f} → "
        f"{r['pct_wins_flip']:.1f} (n={r['n_pairs_flip']})<br>Δ mean gain {r['d_gain']:+.4g} "
        f"[{r['d_gain_ci_low']:+.3g}, {r['d_gain_ci_high']:+.3g}]"
        for r in bars.iter_rows(named=True)
    ]
    return go.Bar(
        x=change,
        y=[f"{f}: {s}" for f, s in zip(bars["flip"], bars["setting"], strict=True)],
        orientation="h",
        name=VARIANT_NAMES.get(variant, variant) + " vs reg",
        legendgroup=variant,
        showlegend=show_legend,
        marker={"color": VARIANT_COLORS.get(variant, "#888888")},
        error_x={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
        hovertext=hover,
        hoverinfo="text",
    )


def _finite(value: float) -> float | None:
    return value if value == value else None
