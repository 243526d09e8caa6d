"""Plotly figures of the core paper's Figures 3, 4, 5 and Table 1, from the results rows.

Each public `plot_*` function checks its arguments, computes its table with
`results.synthetic_1d.analysis` and hands it to a private `_*_figure` function that only draws.
Facets are scenario (or noise level) x sampling; lines are means over functions x seeds with +-1 std
shaded bands. Colours follow the paper: reg red, reg+cls green, reg+cls with balanced classes lime.
An input without the figure's rows gives an empty figure carrying a note instead of raising."""

from __future__ import annotations

import math
from types import MappingProxyType

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from results._plotting import (
    VARIANT_COLORS,
    VARIANT_NAMES,
    WIDTH,
    add_band,
    add_lambda_lines,
    class_colors,
    counts_hover,
    empty_figure,
    error_bars,
)
from results._tables import check_choice, check_frame
from results.synthetic_1d.analysis import (
    AVERAGE,
    classes_curves,
    gaps,
    helps_table,
    lambda_curves,
    lambda_means,
    noise_curves,
    optuna_trials,
    optuna_vs_grid,
    paper_table1,
)

CLASS_MODE_COLORS = MappingProxyType(
    {"imbalanced": VARIANT_COLORS["reg+cls"], "balanced": VARIANT_COLORS["reg+cls-balanced"]}
)
_FACET_HEIGHT = 260


def plot_lambda_curves(df: pl.DataFrame, class_mode: str = "imbalanced") -> go.Figure:
    """Figure 4: validation MSE vs lambda (log x axis), one curve per C, reg as red reference.

    Facets: scenario (rows) x sampling (columns), stage "lambda_search"; mean +- std over
    functions x seeds; the reg band is the paired reg models' validation MSE.

    Args:
        df: results rows (`results.read_rows`).
        class_mode: "imbalanced" (variant reg+cls) or "balanced" (reg+cls-balanced).

    Example:
        >>> fig = plot_lambda_curves(read_rows("runs/synthetic_1d-quick-grid"))
        >>> fig.write_html("figure4.html")
    """
    check_frame(df, "results rows")
    check_choice("class_mode", class_mode, ("imbalanced", "balanced"))
    curves = lambda_curves(df).filter(pl.col("class_mode") == class_mode)
    return _lambda_curves_figure(curves, class_mode)


def plot_classes_curves(df: pl.DataFrame, stage: str = "test") -> go.Figure:
    """Figure 3: test MSE vs number of classes C (log2 x axis), reg vs reg+cls, gap printed.

    Facets: scenario (rows) x sampling (columns); mean +- std over functions x seeds. Each facet
    prints the gap mean_C |MSE_reg - MSE_reg+cls(C)| (`results.synthetic_1d.analysis.gaps`).

    Args:
        df: results rows.
        stage: "test" (Figure 3) or "noise".

    Example:
        >>> plot_classes_curves(read_rows("runs/synthetic_1d-quick-grid")).show()
    """
    check_frame(df, "results rows")
    check_choice("stage", stage, ("test", "noise"))
    return _classes_curves_figure(classes_curves(df, stage), gaps(df, stage))


def plot_noise_curves(df: pl.DataFrame) -> go.Figure:
    """Figure 5: test MSE vs C per noise level sigma (rows) x sampling (columns).

    Stage "noise": reg (red), reg+cls (green) and reg+cls with balanced classes (lime); the
    x axis gives the original C also for balanced classes, as in the paper.

    Args:
        df: results rows.

    Example:
        >>> plot_noise_curves(read_rows("runs/synthetic_1d-quick-grid")).show()
    """
    check_frame(df, "results rows")
    return _noise_curves_figure(noise_curves(df))


def plot_helps_table(df: pl.DataFrame) -> go.Figure:
    """Table 1 as bars: % of validation runs where reg+cls beats its paired reg, vs the paper.

    One facet per scenario; per sampling (and the average) a solid bar per class mode (ours)
    beside a hatched bar with the paper's published value.

    Args:
        df: results rows.

    Example:
        >>> plot_helps_table(read_rows("runs/synthetic_1d-quick-grid")).show()
    """
    check_frame(df, "results rows")
    return _helps_table_figure(helps_table(df))


def plot_optuna_vs_grid(df: pl.DataFrame) -> go.Figure:
    """The Optuna search's trials vs the lambda grid, per scenario (log lambda x axis).

    Markers: Optuna trials (mean validation MSE of a trial's finished models, coloured by
    log10 lr); line: the grid's mean validation MSE per lambda at the Optuna stage's C
    (imbalanced classes); dashed verticals: the grid's chosen lambda (green) and Optuna's best
    (purple).

    Args:
        df: results rows.

    Example:
        >>> plot_optuna_vs_grid(read_rows("runs/synthetic_1d-quick-optuna")).show()
    """
    check_frame(df, "results rows")
    trials = optuna_trials(df)
    classes = trials["num_classes"].drop_nulls().unique().to_list()
    num_classes = classes[0] if len(classes) == 1 else None
    grid = lambda_means(df, num_classes).filter(pl.col("class_mode") == "imbalanced")
    label = "grid, all C" if num_classes is None else f"grid at C={num_classes}"
    return _optuna_vs_grid_figure(trials, grid, optuna_vs_grid(df), label)


def _lambda_curves_figure(curves: pl.DataFrame, class_mode: str) -> go.Figure:
    title = f"Figure 4: validation MSE vs λ ({class_mode} classes), reg in red"
    if curves.is_empty():
        return empty_figure(title, f"no lambda_search rows with {class_mode} classes")
    rows, cols = _facet_values(curves, "scenario"), _facet_values(curves, "sampling")
    figure = _facets(title, rows, cols, "scenario")
    colors = class_colors(curves)
    columns = ("val_mse_mean", "val_mse_std", "reg_val_mse_mean", "reg_val_mse_std")
    for (r, scenario), (c, sampling) in _grid(rows, cols):
        facet = curves.filter((pl.col("scenario") == scenario) & (pl.col("sampling") == sampling))
        if facet.is_empty():
            continue
        first = (r, c) == (1, 1)  # the legend comes from the first facet
        show_legend = (lambda _: True) if first else (lambda _: False)
        add_lambda_lines(figure, r, c, facet, columns, colors, (0.2, 0.07), show_legend)
    figure.update_xaxes(type="log", dtick=1, exponentformat="power", tickangle=0, tickfont_size=9)
    figure.update_xaxes(title_text="λ", row=len(rows))
    figure.update_yaxes(title_text="val MSE (noisy targets)", col=1)
    return figure


def _classes_curves_figure(curves: pl.DataFrame, gap_table: pl.DataFrame) -> go.Figure:
    title = "Figure 3: test MSE vs number of classes C (mean ± std over functions × seeds)"
    if curves.is_empty():
        return empty_figure(title, "no test-stage rows")
    rows, cols = _facet_values(curves, "scenario"), _facet_values(curves, "sampling")
    figure = _facets(title, rows, cols, "scenario")
    for (r, scenario), (c, sampling) in _grid(rows, cols):
        keys = (pl.col("scenario") == scenario) & (pl.col("sampling") == sampling)
        _add_variants(figure, r, c, curves.filter(keys), (r, c) == (1, 1))
        text = "<br>".join(
            f"gap {VARIANT_NAMES.get(g['variant'], g['variant'])}: {_fmt(g['gap'])}"
            for g in gap_table.filter(keys).iter_rows(named=True)
        )
        if text:
            figure.add_annotation(
                text=text,
                x=0.98,
                y=0.98,
                xref="x domain",
                yref="y domain",
                xanchor="right",
                yanchor="top",
                showarrow=False,
                font_size=11,
                bgcolor="rgba(255,255,255,0.7)",
                row=r,
                col=c,
            )
    _classes_axes(figure, curves, len(rows))
    figure.update_yaxes(title_text="test MSE (noisy targets)", col=1)
    return figure


def _noise_curves_figure(curves: pl.DataFrame) -> go.Figure:
    title = "Figure 5: test MSE vs C per noise level σ: reg, reg+cls, reg+cls bal"
    if curves.is_empty():
        return empty_figure(title, "no noise-stage rows")
    rows, cols = _facet_values(curves, "noise_sigma"), _facet_values(curves, "sampling")
    figure = _facets(title, rows, cols, "σ")
    for (r, sigma), (c, sampling) in _grid(rows, cols):
        keys = (pl.col("noise_sigma") == sigma) & (pl.col("sampling") == sampling)
        _add_variants(figure, r, c, curves.filter(keys), (r, c) == (1, 1))
    _classes_axes(figure, curves, len(rows))
    figure.update_yaxes(title_text="test MSE (noisy targets)", col=1)
    return figure


def _helps_table_figure(table: pl.DataFrame) -> go.Figure:
    title = "Table 1: % of validation runs where reg+cls beats reg (solid: ours, hatched: paper)"
    if table.is_empty():
        return empty_figure(title, "no lambda_search reg+cls rows")
    scenarios = _facet_values(table, "scenario")
    figure = make_subplots(
        rows=1,
        cols=len(scenarios),
        subplot_titles=[str(s) for s in scenarios],
        shared_yaxes=True,
        horizontal_spacing=0.04,
    )
    paper = paper_table1()
    shown: set[str] = set()
    for c, scenario in enumerate(scenarios, start=1):
        for mode, color in CLASS_MODE_COLORS.items():
            ours = table.filter((pl.col("scenario") == scenario) & (pl.col("class_mode") == mode))
            if ours.is_empty():
                continue
            samplings = ours["sampling"].to_list()
            hover = [
                f"{p:.2f}% of {n} pairs, {g} functions (95% interval over functions: "
                + (f"{lo:.1f}-{hi:.1f}%" if lo == lo else "none, too few functions")
                + f"), {d} diverged, {f} failed"
                for p, n, g, lo, hi, d, f in ours.select(
                    pl.col("pct_helps").fill_null(math.nan),
                    "n_pairs",
                    "n_clusters",
                    pl.col("ci_low").fill_null(math.nan),
                    pl.col("ci_high").fill_null(math.nan),
                    "n_diverged_a",
                    "n_failed",
                ).iter_rows()
            ]
            bars = error_bars(ours["pct_helps"].to_list(), ours["ci_low"], ours["ci_high"])
            figure.add_trace(
                go.Bar(
                    x=samplings,
                    y=ours["pct_helps"].to_list(),
                    name=f"{mode} (ours)",
                    marker_color=color,
                    legendgroup=f"{mode} ours",
                    showlegend=mode not in shown,
                    text=[_pct(v) for v in ours["pct_helps"]],
                    textposition="outside",
                    hovertext=hover,
                    hoverinfo="text+name",
                    error_y=bars,
                    offsetgroup=f"{mode} ours",
                ),
                row=1,
                col=c,
            )
            published = paper.filter(
                (pl.col("scenario") == scenario) & (pl.col("class_mode") == mode)
            )
            if published.height:
                lookup = dict(published.select("sampling", "pct_helps").iter_rows())
                figure.add_trace(
                    go.Bar(
                        x=samplings,
                        y=[lookup.get(s) for s in samplings],
                        name=f"{mode} (paper)",
                        marker_color="white",
                        marker_line_color=color,
                        marker_line_width=1.5,
                        marker_pattern_shape="/",
                        marker_pattern_fgcolor=color,
                        legendgroup=f"{mode} paper",
                        showlegend=mode not in shown,
                        offsetgroup=f"{mode} paper",
                    ),
                    row=1,
                    col=c,
                )
            shown.add(mode)
    figure.add_hline(y=50, line_dash="dot", line_color="grey")
    figure.update_yaxes(range=[0, 105], title_text="% runs helped", col=1)
    figure.update_xaxes(categoryorder="array", categoryarray=[*_SAMPLINGS_X, AVERAGE])
    figure.update_layout(
        barmode="group",
        height=420,
        width=WIDTH,
        title=title,
        # every bar label in one readable size; a label that does not fit is hidden, not shrunk
        uniformtext={"minsize": 10, "mode": "hide"},
    )
    return figure


def _optuna_vs_grid_figure(
    trials: pl.DataFrame, grid: pl.DataFrame, best: pl.DataFrame, grid_label: str
) -> go.Figure:
    title = "Optuna (TPE + ASHA) trials vs the λ grid on validation"
    if trials.is_empty():
        return empty_figure(title, "no optuna-stage rows (run with --search optuna)")
    scenarios = _facet_values(trials, "scenario")
    figure = make_subplots(
        rows=1,
        cols=len(scenarios),
        subplot_titles=[_optuna_title(trials, best, s) for s in scenarios],
        horizontal_spacing=0.06,
    )
    finished = trials.filter(pl.col("val_mse_mean").is_not_null())
    log_lr = [math.log10(v) for v in finished["lr"].drop_nulls().to_list() if v > 0]
    lr_range = (min(log_lr), max(log_lr)) if log_lr else (0.0, 1.0)
    for c, scenario in enumerate(scenarios, start=1):
        first = c == 1
        line = grid.filter(pl.col("scenario") == scenario).sort("lam")
        if line.height:
            add_band(
                figure,
                1,
                c,
                line["lam"].to_list(),
                line["val_mse_mean"].to_list(),
                line["val_mse_std"].to_list(),
                "#555555",
                f"{grid_label} (mean over samplings)",
                first,
            )
        points = finished.filter(pl.col("scenario") == scenario)
        figure.add_trace(
            go.Scatter(
                x=points["lam"].to_list(),
                y=points["val_mse_mean"].to_list(),
                mode="markers",
                name="Optuna trial",
                legendgroup="optuna",
                showlegend=first,
                marker={
                    "size": 9,
                    "color": [math.log10(v) for v in points["lr"].to_list()],
                    "colorscale": "Plasma",
                    "cmin": lr_range[0],
                    "cmax": lr_range[1],
                    "showscale": first,
                    "colorbar": {"title": "log10 lr", "len": 0.8},
                    "line": {"width": 0.5, "color": "black"},
                },
                customdata=points.select("lr", "epochs_used", "n_models").rows(),
                hovertemplate="λ=%{x:.3g}<br>val MSE=%{y:.4g}<br>lr=%{customdata[0]:.2g}"
                "<br>epochs=%{customdata[1]}, models=%{customdata[2]}<extra></extra>",
            ),
            row=1,
            col=c,
        )
        for row in best.filter(pl.col("scenario") == scenario).iter_rows(named=True):
            for key, color in (("grid_lam", "#1a8a1a"), ("optuna_lam", "#8e44ad")):
                if row[key] is not None:  # shapes take data coordinates on a log axis
                    figure.add_vline(x=row[key], line_dash="dash", line_color=color, row=1, col=c)
    figure.update_xaxes(type="log", title_text="λ", dtick=1, exponentformat="power")
    figure.update_yaxes(title_text="val MSE (noisy targets)", col=1)
    figure.update_layout(
        height=460,
        width=WIDTH,
        title=title,
        legend={"orientation": "h", "x": 0, "y": -0.22},
        margin={"b": 90, "t": 110},
    )
    figure.update_annotations(font_size=12)
    return figure


def _optuna_title(trials: pl.DataFrame, best: pl.DataFrame, scenario: str) -> str:
    """Facet title: trial counts, and the grid's (green) and Optuna's (purple) lambda."""
    own = trials.filter(pl.col("scenario") == scenario)
    stopped = own.filter(pl.col("val_mse_mean").is_null()).height
    text = f"{scenario}: {own.height} trials, {stopped} without a finished model"
    for row in best.filter(pl.col("scenario") == scenario).iter_rows(named=True):
        text += f"<br>grid λ={_fmt(row['grid_lam'])} · Optuna λ={_fmt(row['optuna_lam'])}"
        text += f", lr={_fmt(row['optuna_lr'])}"
    return text


_SAMPLINGS_X = ("uniform", "mild", "moderate", "severe")


def _facet_values(frame: pl.DataFrame, column: str) -> list:
    """Distinct values of a facet column in the analysis' (paper) order."""
    return frame.select(column).unique(maintain_order=True)[column].drop_nulls().to_list()


def _grid(rows: list, cols: list):
    return (
        ((r, row), (c, col))
        for r, row in enumerate(rows, start=1)
        for c, col in enumerate(cols, start=1)
    )


def _facets(title: str, rows: list, cols: list, row_label: str) -> go.Figure:
    titles = [f"{row_label}={row} · {col}" for row in rows for col in cols]
    figure = make_subplots(
        rows=len(rows),
        cols=len(cols),
        subplot_titles=titles,
        horizontal_spacing=0.05,
        vertical_spacing=min(0.12, 0.4 / max(1, len(rows))),
    )
    figure.update_layout(
        title=title,
        height=_FACET_HEIGHT * len(rows) + 140,
        width=WIDTH,
        margin={"t": 90, "b": 50},
        hovermode="closest",
    )
    figure.update_annotations(font_size=12)
    return figure


def _add_variants(
    figure: go.Figure, row: int, col: int, facet: pl.DataFrame, show_legend: bool
) -> None:
    for variant, color in VARIANT_COLORS.items():
        line = facet.filter(pl.col("variant") == variant).sort("num_classes")
        if line.is_empty():
            continue
        add_band(
            figure,
            row,
            col,
            line["num_classes"].to_list(),
            line["test_mse_mean"].to_list(),
            line["test_mse_std"].to_list(),
            color,
            VARIANT_NAMES[variant],
            show_legend,
            hover=counts_hover(line),
        )


def _classes_axes(figure: go.Figure, curves: pl.DataFrame, n_rows: int) -> None:
    """C on a log2 axis: log scale with ticks at the trained class counts, labelled 2^k."""
    classes = sorted(curves["num_classes"].drop_nulls().unique().to_list())
    labels = [
        f"2<sup>{int(math.log2(c))}</sup>" if c > 0 and math.log2(c).is_integer() else str(c)
        for c in classes
    ]
    figure.update_xaxes(type="log", tickvals=classes, ticktext=labels)
    figure.update_xaxes(title_text="C", row=n_rows)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.1f}"
