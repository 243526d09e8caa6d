"""The answer study's report sections, CSV tables and terminal tables ("Does the CE term help?").

`answer_report_sections` gives (title, HTML) pairs for `report.write_report(..., builtin=False)`:
the answer has its own analysis (`results.synthetic_1d.answer`); its first figure inlines
plotly.js, so the page opens offline. The terminal, the report and the README read the verdict
strings of `answer.ce_verdict`, one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from results._answer_figure import answer_forest
from results._render import details, figure_div, html_table, note, terminal_blocks
from results._render import write_csv_tables as _write_csv
from results.synthetic_1d.answer import answer_tables

_WHAT = (
    "Per optimiser, scenario (noisy at each sigma) and sampling, pooled over C, on the test "
    "seeds: reg+cls (lambda chosen on validation) against reg, against reg-scaled (lambda·MSE "
    "alone, at reg+cls's lambda and lr: what the CE term adds at the same loss scale) and "
    "against reg-tuned (MSE alone with the knob lambda stands in for under the optimiser - "
    "adam: weight decay, sgd: lr·s with weight decay / s, adamw: lr - chosen on validation "
    "from as many values as reg+cls has lambdas). Cells: % of pairs where reg+cls has the lower "
    "test MSE and the mean difference reg+cls - B (negative: reg+cls better), each with its 95% "
    "interval; n = pairs / independent units (target functions). CE share: the part of "
    "reg+cls's gain over reg that reg-scaled does not reach. The verdict reads the intervals "
    "only: helps (beyond scale and tuning: both differences' intervals below 0), hurts (the "
    "interval against reg-scaled above 0), else no detectable effect with the largest share "
    "(or difference) the intervals still allow."
)


_COMPARED = (("vs_reg", "reg"), ("vs_scaled", "reg-scaled"), ("vs_tuned", "reg-tuned"))


def answer_report_sections(
    df: pl.DataFrame, tables: Mapping[str, pl.DataFrame] | None = None
) -> list[tuple[str, str]]:
    """(title, HTML) of the answer's sections: "Does the CE term help?" (forest plot and the
    table of cells with verdicts), the verdicts per optimiser, the settings each optimiser
    trained with and chose on validation, and every comparison in long form."""
    tables = answer_tables(df) if tables is None else tables
    return [
        (
            "Does the CE term help?",
            note(_WHAT)
            + figure_div(plot_answer(tables["answer"]), "figure-answer", True)
            + _table(readable(tables["answer"])),
        ),
        ("Verdicts per optimiser", _table(tables["answer_summary"])),
        (
            "What each optimiser trained with",
            note(
                "Test stage, per scenario: reg's learning rate and weight decay (adam and adamw: "
                "the paper's Adam lr; sgd: chosen by the lr pilot on validation), SGD's "
                "momentum, reg+cls's lambda per class mode and reg-tuned's setting, both chosen "
                "on validation (lowest mean validation MSE; ties to the smaller value)."
            )
            + _table(tables["answer_settings"]),
        ),
        (
            "Every comparison",
            details(
                "Long form: the answer's comparisons and the other controls (CSV: "
                "tables/answer_comparisons.csv)",
                _table(_rounded(tables["answer_comparisons"], 5)),
            ),
        ),
    ]


def plot_answer(table: pl.DataFrame) -> go.Figure:
    """The forest plot of `answer_table` (`results._answer_figure.answer_forest`): one panel
    per optimiser, one row per scenario x sampling cell.

    Example:
        >>> plot_answer(answer_tables(read_rows("runs/x"))["answer"]).show()
    """
    labelled = table.with_columns(
        pl.Series("label", [cell_label(r) for r in table.iter_rows(named=True)], pl.String)
    )
    title = (
        "Does the CE term help? Mean test-MSE difference reg+cls - B, % of reg's MSE "
        "(test, pooled over C; 95% intervals over functions; left of 0: reg+cls better)"
    )
    return answer_forest(labelled, title)


def cell_label(row: Mapping[str, object]) -> str:
    """A cell's row label: scenario (with its sigma when noisy) · sampling."""
    scenario = str(row["scenario"])
    if scenario == "noisy" and row.get("noise_sigma") is not None:
        scenario = f"noisy σ={row['noise_sigma']:g}"
    return f"{scenario} · {row['sampling']}"


def readable(table: pl.DataFrame) -> pl.DataFrame:
    """The answer table as a reader scans it: one row per cell, each comparison as "% wins
    [interval]" and "mean diff [interval]" text, the CE share and the verdict."""
    if table.height == 0:
        return pl.DataFrame(schema={"optimizer": pl.String, "cell": pl.String})
    rows = []
    for r in table.iter_rows(named=True):
        row = {"optimizer": r["optimizer"], "cell": cell_label(r), "mse reg": r["mse_reg"]}
        for prefix, name in _COMPARED:
            row[f"n vs {name}"] = _count(r[f"{prefix}_n_pairs"], r[f"{prefix}_n_clusters"])
            row[f"% wins vs {name}"] = _with_interval(
                r[f"{prefix}_pct_wins"], r[f"{prefix}_ci_low"], r[f"{prefix}_ci_high"], ".0f"
            )
            row[f"Δ vs {name}"] = _with_interval(
                r[f"{prefix}_mean_diff"],
                r[f"{prefix}_mean_diff_ci_low"],
                r[f"{prefix}_mean_diff_ci_high"],
                "+.3g",
            )
        row["CE share"] = _with_interval(
            r["ce_share"], r["ce_share_ci_low"], r["ce_share_ci_high"], ".2f"
        )
        row["verdict"] = r["verdict"]
        rows.append(row)
    return pl.DataFrame(rows)


def write_answer_tables_csv(
    df: pl.DataFrame, out_dir: str | Path, tables: Mapping[str, pl.DataFrame] | None = None
) -> list[Path]:
    """`tables/answer.csv`, `answer_comparisons.csv`, `answer_settings.csv`,
    `answer_summary.csv` (the non-empty ones)."""
    return _write_csv(lambda: answer_tables(df) if tables is None else tables, out_dir)


def format_answer_tables_for_terminal(tables: Mapping[str, pl.DataFrame]) -> str:
    """The cells with their verdicts, the verdicts per optimiser and the settings chosen."""
    return "\n\n".join(
        terminal_blocks(
            [
                (
                    "Does the CE term help? (test, pooled over C; % wins and mean test-MSE "
                    "difference reg+cls - B with 95% intervals; n = pairs / functions; every "
                    "column: tables/answer.csv)",
                    readable(tables["answer"]),
                ),
                ("Verdicts per optimiser", tables["answer_summary"]),
                ("What each optimiser trained with", tables["answer_settings"]),
            ]
        )
    )


def _count(pairs: int | None, units: int | None) -> str:
    return "—" if pairs is None else f"{pairs} / {units}"


def _with_interval(value: float | None, low: float | None, high: float | None, spec: str) -> str:
    if value is None or value != value:
        return "—"
    text = format(value, spec)
    if low is None or high is None or low != low or high != high:
        return f"{text} [—]"
    return f"{text} [{format(low, spec)}, {format(high, spec)}]"


def _table(frame: pl.DataFrame) -> str:
    return f"<div class='wide'>{html_table(frame)}</div>"


def _rounded(frame: pl.DataFrame, digits: int) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Float64).round(digits))
