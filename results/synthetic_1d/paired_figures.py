"""Paired views of Figures 3, 4 and 5: per pair the MSE difference reg+cls − reg (the reg model
trained on the same data, `paired_reg_val_mse` / `paired_reg_test_mse`), with the mean and its
95% interval over target functions, drawn beside the raw mean ± std curves in the report.

Same facets and x axes as the raw figures (`results.synthetic_1d.figures`); `paired_table`
gives the numbers drawn. Below zero: reg+cls has the lower MSE.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from results._paired_views import difference_summary, pair_differences, paired_figure
from results._plotting import VARIANT_COLORS, VARIANT_NAMES, class_colors
from results._tables import check_choice, check_frame, checked_rows, ordered
from results.synthetic_1d.analysis import SAMPLING_ORDER, SCENARIO_ORDER
from results.synthetic_1d.schema import empty_rows
from results.synthetic_1d.sensitivity import baseline_rows

_ORDERS = {"scenario": SCENARIO_ORDER, "sampling": SAMPLING_ORDER}
_MODES = {"imbalanced": "reg+cls", "balanced": "reg+cls-balanced"}
_VARIANT_LINES = {v: VARIANT_COLORS[v] for v in ("reg+cls", "reg+cls-balanced")}
# figure -> (stage, value, paired reg value, facet rows, x)
_VIEWS = {
    "figure4": ("lambda_search", "val_mse", "paired_reg_val_mse", "scenario", "lam"),
    "figure3": ("test", "test_mse", "paired_reg_test_mse", "scenario", "num_classes"),
    "figure5": ("noise", "test_mse", "paired_reg_test_mse", "noise_sigma", "num_classes"),
}


def paired_table(df: pl.DataFrame, figure: str) -> pl.DataFrame:
    """The numbers of a paired view: per facet x variant x C (x λ for Figure 4) the pairs, how
    many reg+cls beat reg, and the mean difference reg+cls − reg with its 95% interval over
    target functions.

    Args:
        df: results rows (rows of a protocol flip are left out, as in the raw figures).
        figure: "figure4" (validation MSE, lambda search), "figure3" (test), "figure5" (noise).
    """
    check_frame(df, "results rows")
    check_choice("figure", figure, tuple(_VIEWS))
    _, _, _, facet, x = _VIEWS[figure]
    by = [facet, "sampling", "variant", "num_classes"] + (["lam"] if x == "lam" else [])
    return difference_summary(_differences(df, figure), by, "function_id")


def plot_lambda_pairs(df: pl.DataFrame, class_mode: str = "imbalanced") -> go.Figure:
    """Paired view of Figure 4: validation MSE reg+cls − reg per pair vs λ, one line per C.

    Example:
        >>> plot_lambda_pairs(read_rows("runs/synthetic_1d-quick-grid"), "balanced").show()
    """
    check_frame(df, "results rows")
    check_choice("class_mode", class_mode, tuple(_MODES))
    diffs = _differences(df, "figure4").filter(pl.col("variant") == _MODES[class_mode])
    colors = class_colors(diffs)
    figure = paired_figure(
        diffs,
        title=f"Figure 4, paired ({class_mode} classes): val MSE reg+cls − reg per pair vs λ",
        facet_rows=("scenario", "scenario"),
        facet_cols=("sampling", "sampling"),
        x="lam",
        line="num_classes",
        colors=colors,
        names={c: f"C={c}" for c in colors},
        y_title="Δ val MSE (noisy targets)",
        cluster="function_id",
        x_title="λ",
        log_x=True,
    )
    return figure.update_xaxes(dtick=1, exponentformat="power")  # as Figure 4's raw axes


def plot_classes_pairs(df: pl.DataFrame, stage: str = "test") -> go.Figure:
    """Paired view of Figure 3 (stage "test") or of Figure 5 (stage "noise", facets σ):
    test MSE reg+cls − reg per pair vs C, one line per reg+cls variant.

    Example:
        >>> plot_classes_pairs(read_rows("runs/synthetic_1d-quick-grid")).show()
    """
    check_frame(df, "results rows")
    check_choice("stage", stage, ("test", "noise"))
    figure_name = "figure3" if stage == "test" else "figure5"
    diffs = _differences(df, figure_name)
    number = "3" if stage == "test" else "5"
    facet = ("scenario", "scenario") if stage == "test" else ("noise_sigma", "σ")
    figure = paired_figure(
        diffs,
        title=f"Figure {number}, paired: test MSE reg+cls − reg per pair vs C",
        facet_rows=facet,
        facet_cols=("sampling", "sampling"),
        x="num_classes",
        line="variant",
        colors=_VARIANT_LINES,
        names=VARIANT_NAMES,
        y_title="Δ test MSE (noisy targets)",
        cluster="function_id",
        x_title="C",
        log_x=True,
    )
    classes = sorted(diffs["num_classes"].drop_nulls().unique().to_list())
    return figure.update_xaxes(tickvals=classes, ticktext=[str(c) for c in classes])


def _differences(df: pl.DataFrame, figure: str) -> pl.DataFrame:
    """The figure's pair differences, in the paper's facet order."""
    stage, value, paired, facet, x = _VIEWS[figure]
    used = ("stage", "variant", "status", "sampling", "num_classes", "function_id", facet, x)
    used = (*used, value, paired)
    rows = baseline_rows(checked_rows(df, "results rows", empty_rows, used))
    rows = rows.filter(pl.col("stage") == stage)
    diffs = pair_differences(rows, value, paired)
    return ordered(diffs, _ORDERS, [facet, "sampling", "variant", "num_classes", x])
