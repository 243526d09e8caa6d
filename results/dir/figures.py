"""Plotly figures of the real-data (DIR) studies: the core paper's Tables 2-5 as bars, and lambda.

Same conventions as `results.synthetic_1d.figures`: each public `plot_*` function checks its
arguments, computes its table with `results.dir.analysis` and hands it to a private `_*_figure`
function that only draws; colours follow the paper (reg red, reg+cls green, reg+cls with balanced
classes lime); an input without the figure's rows gives an empty figure carrying a note."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._paired_views import pair_differences, paired_figure
from results._plotting import (
    VARIANT_COLORS,
    VARIANT_NAMES,
    WIDTH,
    add_lambda_lines,
    class_colors,
    empty_figure,
)
from results._tables import check_choice, check_frame, checked_rows
from results.dir.analysis import (
    BREAKFAST_SPLITS,
    DATASET_SHOTS,
    PRIMARY_METRIC,
    lambda_sensitivity,
    published_rows,
    results_table,
)
from results.dir.schema import DIR_DATASETS, DIR_METRICS, empty_dir_rows

DATASET_NAMES = {
    "imdb_wiki_dir": "IMDB-WIKI-DIR",
    "nyud2_dir": "NYUD2-DIR",
    "breakfast": "Breakfast",
    "stsb_dir": "STS-B-DIR",
}
_METRIC_NAMES = {
    "mae": "MAE",
    "mse": "MSE",
    "rmse": "RMSE",
    "gm": "GM",
    "pearson": "Pearson %",
    "delta1": "δ1",
}
_LITERATURE_COLOR = "#555555"
_FACET_HEIGHT = 330


def plot_dir_results(df: pl.DataFrame, dataset: str, metric: str) -> go.Figure:
    """Test `metric` per variant x C as bars with +-1 std error bars, published values hollow.

    Facets: one column per shot (all, many, medium, few; Breakfast: per split S1-S4), one row
    per target x model selection. Bars: mean over seeds (tasks for Breakfast) at the lambda
    chosen on validation (`results_table(..., select_lam=True)`); rebalanced-data configs
    (Table 4) are labelled "rebal.". Hollow diamonds: the published mean of the same config
    (core paper Tables 2-5; Yang et al. for STS-B-DIR), literature rows in grey at their own
    label.

    Args:
        df: DIR results rows (`results.dir.schema.read_dir_rows`).
        dataset: "imdb_wiki_dir", "nyud2_dir", "breakfast" or "stsb_dir".
        metric: "mae", "mse", "rmse", "gm", "pearson" (plotted in %) or "delta1".

    Example:
        >>> plot_dir_results(read_dir_rows("runs/imdb"), "imdb_wiki_dir", "mae").show()
    """
    check_frame(df, "results rows")
    check_choice("dataset", dataset, DIR_DATASETS)
    check_choice("metric", metric, DIR_METRICS)
    shots = DATASET_SHOTS[dataset]
    table = results_table(df, dataset, (metric,), shots, select_lam=True)
    published = published_rows(dataset)
    if f"{metric} all" not in published.columns:
        published = published.clear()
    return _dir_results_figure(table, published, dataset, metric)


def plot_lambda_sensitivity(
    df: pl.DataFrame, dataset: str = "stsb_dir", metric: str | None = None
) -> go.Figure:
    """Test error vs lambda (log x axis), one line per C, reg as the flat red reference.

    One facet per reg+cls variant (columns) x target / data balance / model selection (rows);
    mean +- std band over seeds (tasks for Breakfast). Made for STS-B-DIR's lambda sweep.

    Args:
        df: DIR results rows.
        dataset: the dataset (default "stsb_dir").
        metric: the metric on all test samples (default: the dataset's primary error).

    Example:
        >>> plot_lambda_sensitivity(read_dir_rows("runs/stsb")).show()
    """
    check_frame(df, "results rows")
    check_choice("dataset", dataset, DIR_DATASETS)
    if metric is not None:
        check_choice("metric", metric, DIR_METRICS)
    curves = lambda_sensitivity(df, dataset, metric)
    return _lambda_figure(curves, dataset, metric or PRIMARY_METRIC[dataset])


def plot_dir_pairs(df: pl.DataFrame, dataset: str) -> go.Figure:
    """Paired view of the results figures: per pair the test MSE and MAE (all test samples)
    reg+cls − reg, the reg model trained on the same data and seed (`paired_reg_test_mse`,
    `paired_reg_test_mae`), per config (variant, C, λ; Breakfast: per split too), with the
    mean and its 95% interval over seeds (the independent units; none below 6 seeds). Every λ
    trained is shown; below 0: reg+cls better.

    Args:
        df: DIR results rows.
        dataset: "imdb_wiki_dir", "nyud2_dir", "breakfast" or "stsb_dir".

    Example:
        >>> plot_dir_pairs(read_dir_rows("runs/imdb"), "imdb_wiki_dir").show()
    """
    check_choice("dataset", dataset, DIR_DATASETS)
    used = ("dataset", "variant", "status", "target", "model_selection", "data_split", "seed")
    rows = checked_rows(df, "results rows", empty_dir_rows, used).filter(
        pl.col("dataset") == dataset
    )
    metrics = (
        ("MSE", "test_mse_all", "paired_reg_test_mse"),
        ("MAE", "test_mae_all", "paired_reg_test_mae"),
    )
    diffs = pl.concat(
        pair_differences(rows, value, paired).with_columns(metric=pl.lit(label))
        for label, value, paired in metrics
    ).sort("data_split", "variant", "num_classes", "lam", nulls_last=True)
    lams = diffs.group_by("variant", "num_classes").agg(pl.col("lam").n_unique())["lam"]
    with_lam = lams.len() > 0 and lams.max() > 1  # several λ per config: say which
    records = list(diffs.iter_rows(named=True))
    diffs = diffs.with_columns(
        pl.Series("setting", [_row_title(r["target"], r["model_selection"]) for r in records]),
        pl.Series("config", [_pair_label(r, dataset == "breakfast", with_lam) for r in records]),
    )
    return paired_figure(
        diffs,
        title=f"{DATASET_NAMES[dataset]}, paired: test error reg+cls − reg per pair",
        facet_rows=("setting", ""),
        facet_cols=("metric", "metric"),
        x="config",
        line="variant",
        colors={v: VARIANT_COLORS[v] for v in ("reg+cls", "reg+cls-balanced")},
        names=VARIANT_NAMES,
        y_title="Δ test error (reg+cls − reg)",
        cluster="seed",
        x_title="config",
    )


def _dir_results_figure(
    table: pl.DataFrame, published: pl.DataFrame, dataset: str, metric: str
) -> go.Figure:
    name, label = DATASET_NAMES[dataset], _METRIC_NAMES[metric]
    title = f"{name}: test {label} per variant and C (bars: ours ± std; hollow ◇: published)"
    value = f"{metric} all"
    if table.is_empty() or table[value].is_null().all():
        return empty_figure(title, f"no {dataset} rows with a test {metric}")
    breakfast = dataset == "breakfast"
    columns = list(BREAKFAST_SPLITS) if breakfast else list(DATASET_SHOTS[dataset])
    rows = table.select("target", "model_selection").unique(maintain_order=True).rows()
    figure = make_subplots(
        rows=len(rows),
        cols=len(columns),
        subplot_titles=[
            f"{_row_title(target, selection)} · {col}" for target, selection in rows
            for col in columns
        ],
        horizontal_spacing=0.04,
        vertical_spacing=min(0.2, 0.5 / len(rows)),
    )  # fmt: skip
    shown: set[str] = set()
    for r, (target, selection) in enumerate(rows, start=1):
        ours = table.filter(
            (pl.col("target") == target) & pl.col("model_selection").eq_missing(selection)
        )
        paper = published.filter(
            (pl.col("target") == target)
            & (
                pl.col("model_selection").is_null()
                | pl.col("model_selection").eq_missing(selection)
            )
        )
        for c, col in enumerate(columns, start=1):
            cell_ours = ours.filter(pl.col("data_split") == col) if breakfast else ours
            cell_paper = paper.filter(pl.col("data_split") == col) if breakfast else paper
            column = value if breakfast else f"{metric} {col}"
            _add_bars(figure, r, c, cell_ours, column, shown)
            _add_published(figure, r, c, cell_paper, column, shown)
    figure.update_yaxes(title_text=f"test {label}", col=1)
    figure.update_xaxes(tickangle=-35, tickfont_size=10)
    figure.update_layout(
        title=title,
        barmode="overlay",
        height=_FACET_HEIGHT * len(rows) + 170,
        width=WIDTH,
        margin={"t": 90, "b": 110},
        legend={"orientation": "h", "x": 0, "y": -0.3 / len(rows)},
    )
    figure.update_annotations(font_size=12)
    return figure


def _lambda_figure(curves: pl.DataFrame, dataset: str, metric: str) -> go.Figure:
    name, label = DATASET_NAMES[dataset], _METRIC_NAMES[metric]
    title = f"{name}: test {label} vs λ per C (mean ± std), reg in red"
    if curves.is_empty() or curves["mean"].is_null().all():
        return empty_figure(title, f"no {dataset} reg+cls rows with a test {metric}")
    variants = [v for v in VARIANT_COLORS if v in set(curves["variant"].to_list())]
    settings = curves.select("target", "data_balance", "model_selection").unique(
        maintain_order=True
    )
    rows = settings.rows()
    figure = make_subplots(
        rows=len(rows),
        cols=len(variants),
        subplot_titles=[
            f"{VARIANT_NAMES[v]} · {_row_title(t, s)} · {b} data"
            for t, b, s in rows
            for v in variants
        ],
        horizontal_spacing=0.06,
        vertical_spacing=min(0.15, 0.5 / len(rows)),
    )
    colors = class_colors(curves)
    columns = ("mean", "std", "reg_mean", "reg_std")
    shown: set[str] = set()  # one legend entry per line name, wherever it first appears
    for r, (target, balance, selection) in enumerate(rows, start=1):
        keys = (
            pl.col("target").eq_missing(target)
            & pl.col("data_balance").eq_missing(balance)
            & pl.col("model_selection").eq_missing(selection)
        )
        for c, variant in enumerate(variants, start=1):
            facet = curves.filter(keys & (pl.col("variant") == variant))
            if facet.is_empty():
                continue
            drawn = add_lambda_lines(
                figure, r, c, facet, columns, colors, (0.15, 0.08), lambda n: n not in shown
            )
            shown.update(drawn)
    figure.update_xaxes(type="log", dtick=1, exponentformat="power", title_text="λ")
    figure.update_yaxes(title_text=f"test {label}", col=1)
    figure.update_layout(
        title=title,
        height=_FACET_HEIGHT * len(rows) + 140,
        width=WIDTH,
        margin={"t": 90, "b": 60},
        hovermode="closest",
    )
    figure.update_annotations(font_size=12)
    return figure


def _add_bars(
    figure: go.Figure, row: int, col: int, cell: pl.DataFrame, column: str, shown: set[str]
) -> None:
    """One bar trace per variant: x = config label, y = mean, error bar = std."""
    for variant, color in VARIANT_COLORS.items():
        bars = cell.filter((pl.col("variant") == variant) & pl.col(column).is_not_null())
        if bars.is_empty():
            continue
        legend = f"{VARIANT_NAMES[variant]} (ours)"
        figure.add_trace(
            go.Bar(
                x=[_config_label(r) for r in bars.iter_rows(named=True)],
                y=bars[column].to_list(),
                error_y={
                    "type": "data",
                    "array": bars[f"{column} std"].fill_null(0.0).to_list(),
                    "visible": True,
                    "color": "#333333",
                    "thickness": 1.2,
                },
                marker_color=color,
                name=legend,
                legendgroup=legend,
                showlegend=legend not in shown,
                customdata=bars.select(
                    pl.col(f"{column} std").fill_null(math.nan), "n", "n_diverged", "n_failed"
                ).rows(),
                hovertemplate="%{x}: %{y:.4g} ± %{customdata[0]:.2g}<br>n=%{customdata[1]}, "
                "diverged=%{customdata[2]}, failed=%{customdata[3]}<extra>ours</extra>",
            ),
            row=row,
            col=col,
        )
        shown.add(legend)


def _add_published(
    figure: go.Figure, row: int, col: int, cell: pl.DataFrame, column: str, shown: set[str]
) -> None:
    """Hollow markers at the published means: per variant colour, literature rows grey."""
    cell = cell.filter(pl.col(column).is_not_null())
    groups = [(v, VARIANT_COLORS[v]) for v in VARIANT_COLORS] + [(None, _LITERATURE_COLOR)]
    for variant, color in groups:
        points = cell.filter(pl.col("variant").eq_missing(variant))
        if points.is_empty():
            continue
        legend = "literature (published)" if variant is None else "published"
        figure.add_trace(
            go.Scatter(
                x=[_config_label(r) for r in points.iter_rows(named=True)],
                y=points[column].to_list(),
                mode="markers",
                marker={
                    "symbol": "diamond-open",
                    "size": 12,
                    "color": color,
                    "line": {"width": 2.5, "color": color},
                },
                name=legend,
                legendgroup=legend,
                showlegend=legend not in shown,
                text=[f"{m} ({s})" for m, s in points.select("method", "source").iter_rows()],
                customdata=points.select(pl.col(f"{column} std").fill_null(math.nan)).rows(),
                hovertemplate="%{text}: %{y:.4g} ± %{customdata[0]:.2g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        shown.add(legend)


def _config_label(row: dict) -> str:
    """x label of a config: "reg", "reg+cls C=10", "reg+cls bal C=100"; literature: its name."""
    if row["variant"] is None:
        return str(row.get("method"))
    label = VARIANT_NAMES.get(row["variant"], row["variant"])
    if row["num_classes"] is not None:
        label += f" C={row['num_classes']}"
    if row.get("data_balance") == "rebalanced":
        label += " (rebal.)"
    return label


def _pair_label(row: dict, with_split: bool, with_lam: bool) -> str:
    """x label of a paired config: "reg+cls C=10" (+ " λ=1", "S1 " first for Breakfast)."""
    label = _config_label(row)
    if with_lam and row.get("lam") is not None:
        label += f" λ={row['lam']:g}"
    return f"{row['data_split']} {label}" if with_split and row.get("data_split") else label


def _row_title(target: str | None, selection: str | None) -> str:
    return str(target) if selection is None else f"{target}, {selection}"
