"""Plotly figures of what in reg+cls helps: "CE or scale?" and the paper's L_extra measured.

Each public `plot_*` function checks its arguments, computes its table with
`results.synthetic_1d.controls` and hands it to a private `_*_figure` function that only draws.
Input without the figure's rows gives an empty figure carrying a note.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._plotting import WIDTH, empty_figure, error_bars
from results._tables import check_frame
from results.synthetic_1d.controls import WHAT_HELPS, comparison_pairs, what_helps

COMPARISON_COLORS = {
    "reg+cls vs reg": "#1a8a1a",
    "reg+cls vs reg-scaled": "#7030a0",
    "reg-scaled vs reg": "#e08000",
}


def plot_what_helps(df: pl.DataFrame, table: pl.DataFrame | None = None) -> go.Figure:
    """ "What helps: CE or scale?": per scenario x sampling (test stage, pooled over C), the
    paired mean test-MSE difference A - B (top) and the % of pairs where A beats B (bottom),
    each with its 95% interval over target functions (`results.cluster_inference`; none below 6
    functions), for reg+cls vs reg, reg+cls vs reg-scaled and reg-scaled vs reg. Below zero on
    top / above 50% below: A is better.

    Args:
        df: results rows.
        table: `controls.what_helps(df)` when already computed.

    Example:
        >>> plot_what_helps(read_rows("runs/synthetic_1d-quick-grid")).show()
    """
    check_frame(df, "results rows")
    return _what_helps_figure(what_helps(df) if table is None else table)


def plot_l_extra(df: pl.DataFrame) -> go.Figure:
    """ "Does the paper's explanation hold?": per pair of the test stage, the change in test
    L_extra (Eq. 8, A - B) against the change in test MSE (A - B), one panel per scenario, for
    reg+cls vs reg and reg-scaled vs reg. If the CE term helped by shrinking L_extra, reg+cls
    points would sit lower-left and reg-scaled points would not.

    Args:
        df: results rows.

    Example:
        >>> plot_l_extra(read_rows("runs/synthetic_1d-quick-grid")).show()
    """
    check_frame(df, "results rows")
    pairs = comparison_pairs(df, extra=("test_l_extra_gauss",)).filter(
        (pl.col("stage") == "test")
        & pl.col("comparison").is_in(WHAT_HELPS[::2])
        & pl.col("mse_a").is_finite().fill_null(False)
        & pl.col("a_test_l_extra_gauss").is_finite().fill_null(False)
        & pl.col("b_test_l_extra_gauss").is_finite().fill_null(False)
    )
    return _l_extra_figure(pairs)


def _what_helps_figure(table: pl.DataFrame) -> go.Figure:
    title = "What helps: CE or scale? (test, pooled over C; 95% intervals over functions)"
    if table.height == 0:
        return empty_figure(title, "no test-stage rows with reg+cls, reg-scaled and reg")
    cells = table.select("scenario", "sampling").unique(maintain_order=True)
    labels = [f"{r['scenario']}<br>{r['sampling']}" for r in cells.iter_rows(named=True)]
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=(
            "paired test-MSE difference A − B: mean, 95% interval over functions",
            "% of pairs where A beats B (ties half), 95% interval over functions",
        ),
    )
    for comparison in WHAT_HELPS:
        part = cells.join(
            table.filter(pl.col("comparison") == comparison),
            on=["scenario", "sampling"],
            how="left",
            maintain_order="left",
        )
        color = COMPARISON_COLORS[comparison]
        mean, pct = part["mean_diff"].to_list(), part["pct_wins"].to_list()
        units = [
            f"n={n} pairs, {g} functions; {v}"
            for n, g, v in zip(part["n_pairs"], part["n_clusters"], part["verdict"], strict=True)
        ]
        figure.add_trace(
            go.Scatter(
                x=labels,
                y=mean,
                mode="markers",
                name=comparison,
                legendgroup=comparison,
                marker={"color": color, "size": 10},
                error_y=error_bars(mean, part["mean_diff_ci_low"], part["mean_diff_ci_high"]),
                hovertext=units,
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=labels,
                y=pct,
                mode="markers",
                name=comparison,
                legendgroup=comparison,
                showlegend=False,
                marker={"color": color, "size": 10, "symbol": "diamond"},
                error_y=error_bars(pct, part["ci_low"], part["ci_high"]),
                hovertext=units,
            ),
            row=2,
            col=1,
        )
    figure.add_hline(y=0.0, line_dash="dot", line_color="grey", row=1, col=1)
    figure.add_hline(y=50.0, line_dash="dot", line_color="grey", row=2, col=1)
    figure.update_yaxes(title_text="Δ test MSE (noisy targets)", row=1, col=1)
    figure.update_yaxes(title_text="% wins", range=[0, 100], row=2, col=1)
    figure.update_layout(title=title, height=700, width=WIDTH, scattermode="group")
    return figure


def _l_extra_figure(pairs: pl.DataFrame) -> go.Figure:
    title = "Does the paper's explanation hold? Δ L_extra (Eq. 8) vs Δ test MSE, per pair"
    if pairs.height == 0:
        return empty_figure(title, "no test-stage pairs with L_extra measured")
    scenarios = pairs["scenario"].unique(maintain_order=True).sort().to_list()
    figure = make_subplots(rows=1, cols=len(scenarios), subplot_titles=scenarios)
    for col, scenario in enumerate(scenarios, start=1):
        for comparison in WHAT_HELPS[::2]:
            part = pairs.filter(
                (pl.col("scenario") == scenario) & (pl.col("comparison") == comparison)
            )
            if part.height == 0:
                continue
            figure.add_trace(
                go.Scatter(
                    x=(part["a_test_l_extra_gauss"] - part["b_test_l_extra_gauss"]).to_list(),
                    y=(part["mse_a"] - part["mse_b"]).to_list(),
                    mode="markers",
                    name=comparison,
                    legendgroup=comparison,
                    showlegend=col == 1,
                    marker={"color": COMPARISON_COLORS[comparison], "size": 6, "opacity": 0.7},
                    hovertext=[
                        f"{s} f{f} seed {d}"
                        for s, f, d in zip(
                            part["sampling"], part["function_id"], part["seed"], strict=True
                        )
                    ],
                ),
                row=1,
                col=col,
            )
        figure.update_xaxes(title_text="Δ L_extra (A − B)", row=1, col=col)
    figure.update_yaxes(title_text="Δ test MSE, noisy targets (A − B)", row=1, col=1)
    figure.update_layout(title=title, height=450, width=WIDTH)
    return figure
