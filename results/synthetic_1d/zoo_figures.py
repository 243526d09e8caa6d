"""The zoo's figures: who wins where (heat map of the league table) and per-shot test MSE.

Each `plot_*` takes the results rows (or the table already computed) and only draws; input
without zoo rows gives an empty figure with a note.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._plotting import WIDTH, empty_figure
from results._tables import check_frame
from results.synthetic_1d.zoo import ORDERS, SHOTS, VARIANT_ORDER, league_table, shot_table

_SHOT_COLORS = {"many": "#4a7bd0", "medium": "#e0a030", "few": "#d04a4a"}


def plot_who_wins(df: pl.DataFrame, table: pl.DataFrame | None = None) -> go.Figure:
    """Heat map: one row per variant, one column per scenario · sampling; colour = % of pairs
    where the variant beats its paired reg on test (50% white, blue: wins more often), text =
    the % and the number of pairs, hover = the intervals over functions, verdict and rank."""
    check_frame(df, "results rows")
    table = league_table(df) if table is None else table
    title = "Who wins where: % of pairs where the variant beats its paired reg (test MSE)"
    if table.height == 0:
        return empty_figure(title, "no test-stage zoo rows paired with a reg model")
    cells = _cells(table)
    variants = [v for v in VARIANT_ORDER if v in set(table["variant"])]
    variants += sorted(set(table["variant"]) - set(variants))
    lookup = {(r["scenario"], r["sampling"], r["variant"]): r for r in table.iter_rows(named=True)}
    z, text, hover = [], [], []
    for variant in variants:
        z_row, text_row, hover_row = [], [], []
        for cell in cells:
            row = lookup.get((*cell, variant))
            if row is None or row["n_pairs"] == 0:
                z_row.append(None)
                text_row.append("")
                hover_row.append("no pairs")
                continue
            z_row.append(_finite(row["pct_wins"]))
            text_row.append(f"{row['pct_wins']:.0f}%<br>n={row['n_pairs']}")
            hover_row.append(
                f"{variant}, {cell[0]} · {cell[1]}<br>{row['n_wins']}/{row['n_pairs']} wins, "
                f"{row['n_clusters']} functions ({row['pct_wins']:.1f}%, 95% interval "
                f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}])<br>"
                f"mean gain {_number(row['mean_gain'])} "
                f"[{_number(row['gain_ci_low'])}, {_number(row['gain_ci_high'])}]<br>"
                f"{row['verdict']}; rank {row['rank']}"
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{s} · {m}" for s, m in cells],
            y=variants,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            zmin=0,
            zmax=100,
            zmid=50,
            colorscale="RdBu",
            colorbar={"title": "% wins"},
        )
    )
    figure.update_layout(
        title=title,
        width=WIDTH,
        height=160 + 34 * len(variants),
        yaxis={"autorange": "reversed"},
    )
    return figure


def plot_shot_mse(df: pl.DataFrame, table: pl.DataFrame | None = None) -> go.Figure:
    """Per scenario · sampling (one panel each), the mean test MSE of every variant over the
    many-, medium- and few-shot bins (grouped bars, log scale; reg first, for reference)."""
    check_frame(df, "results rows")
    table = shot_table(df) if table is None else table
    title = "Per-shot test MSE per variant (mean over C, functions and seeds; log scale)"
    if table.height == 0:
        return empty_figure(title, "no finished test-stage rows")
    cells = _cells(table)
    figure = make_subplots(
        rows=len(cells),
        cols=1,
        subplot_titles=[f"{s} · {m}" for s, m in cells],
        vertical_spacing=min(0.3 / len(cells), 0.08),
    )
    for index, (scenario, sampling) in enumerate(cells, start=1):
        part = table.filter((pl.col("scenario") == scenario) & (pl.col("sampling") == sampling))
        for shot in SHOTS:
            figure.add_trace(
                go.Bar(
                    x=part["variant"].to_list(),
                    y=part[f"mse_{shot}"].to_list(),
                    name=f"{shot}-shot",
                    marker_color=_SHOT_COLORS[shot],
                    legendgroup=shot,
                    showlegend=index == 1,
                ),
                row=index,
                col=1,
            )
        figure.update_yaxes(type="log", title_text="MSE", row=index, col=1)
    figure.update_layout(title=title, width=WIDTH, height=120 + 300 * len(cells), barmode="group")
    return figure


def _cells(table: pl.DataFrame) -> list[tuple[str, str]]:
    present = set(table.select("scenario", "sampling").unique().rows())

    def key(cell: tuple[str, str]) -> tuple:
        return tuple(
            (ORDERS[name].index(value) if value in ORDERS[name] else len(ORDERS[name]), value)
            for name, value in zip(("scenario", "sampling"), cell, strict=True)
        )

    return sorted(present, key=key)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _number(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3g}"
