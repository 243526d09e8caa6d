"""The method zoo's report sections, CSV tables and terminal tables.

`zoo_report_sections` gives (title, HTML) pairs for `report.write_report(..., builtin=False)`:
the zoo has its own analysis (`results.synthetic_1d.zoo`), not the core paper's figures; its
first figure inlines plotly.js, so the page opens offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from results._render import details, figure_div, html_table, note, terminal_blocks
from results._render import write_csv_tables as _write_csv
from results.synthetic_1d.zoo import zoo_tables
from results.synthetic_1d.zoo_figures import plot_shot_mse, plot_who_wins

# The league columns shown in the report and the terminal (the CSV holds every column).
_SHOWN = (
    "scenario",
    "sampling",
    "variant",
    "n_pairs",
    "n_clusters",
    "pct_wins",
    "ci_low",
    "ci_high",
    "mean_gain",
    "gain_ci_low",
    "gain_ci_high",
    "gain_pct",
    "p_holm",
    "verdict",
    "rank",
    "n_diverged_a",
    "n_diverged_b",
    "n_dropped",
)


def zoo_report_sections(
    df: pl.DataFrame, tables: Mapping[str, pl.DataFrame] | None = None
) -> list[tuple[str, str]]:
    """(title, HTML) of the zoo's sections: the league table with the heat map, per-shot MSE,
    the lambdas used. `tables`: `zoo_tables(df)` when already computed."""
    tables = zoo_tables(df) if tables is None else tables
    league = tables["league"]
    return [
        (
            "League: which variant beats reg where?",
            note(
                "Every variant model is paired with the reg model trained on the same data "
                "(same function, seed, sampling, scenario; same initial weights where the shapes "
                "allow). Per scenario × sampling, pooled over C, functions and seeds: % of pairs "
                "where the variant has the lower test MSE (ties half; a diverged model loses on "
                "either side, a failed trial drops its pair), mean gain = mean (MSE reg − MSE "
                "variant) over the pairs where both finished (positive: better than reg), "
                "gain_pct = 100 × mean gain / mean MSE of those regs. Intervals (95%) and tests "
                "are over target functions, the independent units (n_clusters; one reg per "
                "function and seed serves every C): the sign-flip test over functions, "
                "inverted; none below 6 functions (—). p_holm: Holm over the variants of one "
                "scenario × sampling. verdict: results/verdicts.py. rank: by % wins, ties by "
                "mean gain (1 = best)."
            )
            + figure_div(plot_who_wins(df, league), "figure-zoo-who-wins", True)
            + _table(_rounded(league.select(_SHOWN), 4)),
        ),
        (
            "Per-shot test MSE (many / medium / few)",
            note(
                "Mean test MSE over the many-, medium- and few-shot bins of the training targets "
                "(shot thresholds: the rows' shot_rule), per variant, over the finished models; "
                "reg is the baseline every variant is paired with."
            )
            + figure_div(plot_shot_mse(df, tables["per_shot_mse"]), "figure-zoo-shots", False)
            + details("Per-shot data", _table(_rounded(tables["per_shot_mse"], 5))),
        ),
        (
            "λ of the lambda variants",
            note(
                "λ·MSE + CE variants train at the λ chosen on validation per scenario and "
                "variant (lowest mean validation MSE over samplings × C × functions × seeds of "
                "the lambda search), or at a given λ (lambda_source)."
            )
            + _table(tables["selected_lambdas"]),
        ),
    ]


def write_zoo_tables_csv(
    df: pl.DataFrame, out_dir: str | Path, tables: Mapping[str, pl.DataFrame] | None = None
) -> list[Path]:
    """`tables/league.csv`, `tables/per_shot_mse.csv`, `tables/selected_lambdas.csv` (the
    non-empty ones)."""
    return _write_csv(lambda: zoo_tables(df) if tables is None else tables, out_dir)


def format_zoo_tables_for_terminal(tables: Mapping[str, pl.DataFrame]) -> str:
    """The league table (top 3 variants of every scenario × sampling) and the lambdas used."""
    league = tables["league"]
    head = league.filter(pl.col("rank") <= 3).select(_SHOWN)
    return "\n\n".join(
        terminal_blocks(
            [
                (
                    "League (test, pooled over C): top 3 per scenario x sampling by % of pairs "
                    "beating reg, mean gain mse_reg - mse_variant, 95% intervals over target "
                    "functions (n_clusters; none below 6); all variants: tables/league.csv",
                    _rounded(head, 3),
                ),
                ("Lambda of the lambda variants", tables["selected_lambdas"]),
            ]
        )
    )


def _table(frame: pl.DataFrame) -> str:
    return f"<div class='wide'>{html_table(frame)}</div>"


def _rounded(frame: pl.DataFrame, digits: int) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Float64).round(digits))
