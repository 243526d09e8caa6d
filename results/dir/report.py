"""The real-data (DIR) studies in the report: HTML sections, CSV tables, terminal tables.

`dir_report_sections` gives (title, HTML) pairs for `results.synthetic_1d.report.write_report`'s
`extra_sections`; their plotly divs do not carry plotly.js (`include_plotlyjs=False`): the page
inlines it once, with its first built-in figure. `write_report` runs the synthetic-1D analysis
on its rows, which needs the 1D columns: give it the rows as `results.read_rows` returns them
(or `results.synthetic_1d.schema.conform_rows(dir_rows)`); their DIR stages leave the 1D
sections empty.
"""

from __future__ import annotations

import math
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from results._render import (
    details,
    figure_div,
    html_table,
    note,
    terminal_blocks,
    write_csv_tables,
)
from results.dir import analysis
from results.dir.controls import controls_stats
from results.dir.figures import (
    DATASET_NAMES,
    plot_dir_pairs,
    plot_dir_results,
    plot_lambda_sensitivity,
)
from results.dir.published_gains import YANG_STSB_TABLE, published_vs_ours

_TABLES_OF = {
    "imdb_wiki_dir": "core paper Tables 3 and 4",
    "nyud2_dir": "core paper Tables 2 and 4",
    "breakfast": "core paper Table 5",
    "stsb_dir": "Yang et al. 2021 Table 3 (VANILLA)",
}
_DISPLAY_KEYS = (
    "source",
    "method",
    "target",
    "data_split",
    "data_balance",
    "model_selection",
    "variant",
    "num_classes",
    "lam",
)


def dir_report_sections(df: pl.DataFrame) -> list[tuple[str, str]]:
    """One (title, HTML) section per dataset the rows hold, in `DIR_DATASETS` order.

    Each: our test table at the lambda chosen on validation beside the published rows
    (mean ± std), the result figures per metric (and test error vs lambda for STS-B-DIR, or
    any dataset trained at several lambdas), how often reg+cls beats its paired reg, the best
    config on validation, and the full table over every lambda. Breakfast's table is Table 5's
    layout. No DIR rows: no sections.

    Example:
        >>> rows = read_rows("runs/imdb")  # the 1D columns as nulls, the DIR ones kept
        >>> write_report(rows, "runs/imdb", extra_sections=dir_report_sections(rows))
    """
    return [
        (f"{DATASET_NAMES[d]} ({_TABLES_OF[d]})", _dataset_section(df, d))
        for d in analysis.dir_datasets(df)
    ]


def dir_report_tables(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Every DIR table by file stem: per dataset present its tables, then the helps summary."""
    tables: dict[str, pl.DataFrame] = {}
    for dataset in analysis.dir_datasets(df):
        metrics, shots = analysis.DATASET_METRICS[dataset], analysis.DATASET_SHOTS[dataset]
        tables[f"dir_{dataset}_vs_published"] = analysis.results_vs_published(df, dataset)
        tables[f"dir_{dataset}_all_lambdas"] = analysis.results_table(df, dataset, metrics, shots)
        tables[f"dir_{dataset}_best_config"] = analysis.best_config(df, dataset)
        tables[f"dir_{dataset}_lambda"] = analysis.lambda_sensitivity(df, dataset)
        if dataset == "breakfast":
            tables["dir_breakfast_table5"] = analysis.breakfast_table(df, with_published=True)
        if dataset == "stsb_dir":
            tables["dir_stsb_dir_published_gains"] = published_vs_ours(df)
    tables["dir_helps_summary"] = analysis.helps_summary(df)
    stats = controls_stats(df)
    if stats.height:
        tables["dir_helps_stats"] = stats
    return tables


def write_dir_tables_csv(df: pl.DataFrame, out_dir: str | Path) -> list[Path]:
    """One CSV per non-empty `dir_report_tables` table under `<out_dir>/tables/`."""
    return write_csv_tables(lambda: dir_report_tables(df), out_dir)


def format_dir_tables_for_terminal(df: pl.DataFrame) -> str:
    """Per dataset: ours vs published (mean ± std), the best config; then the helps summary."""
    blocks = []
    for dataset in analysis.dir_datasets(df):
        name = DATASET_NAMES[dataset]
        if dataset == "breakfast":
            comparison = analysis.breakfast_table(df, with_published=True)
        else:
            comparison = analysis.results_vs_published(df, dataset)
        blocks.append(
            (f"{name}: test results vs {_TABLES_OF[dataset]} (mean ± std)", _display(comparison))
        )
        blocks.append((f"{name}: best config on validation", analysis.best_config(df, dataset)))
        if dataset == "stsb_dir":
            gains = published_vs_ours(df).filter(pl.col("shot") == "all")
            blocks.append(
                (
                    f"{name}: relative gain over vanilla (%), {YANG_STSB_TABLE} vs ours (all)",
                    _rounded_stats(gains.drop("note", "shot")),
                )
            )
    helps = analysis.helps_summary(df).filter(pl.col("num_classes").is_null())
    blocks.append(("reg+cls beats its paired reg (test, pooled over C, λ, seeds)", helps))
    parts = terminal_blocks(blocks)
    if len(blocks) == 1 and not helps.height:
        parts.insert(0, "(no DIR rows)")
    return "\n\n".join(parts)


def _dataset_section(df: pl.DataFrame, dataset: str) -> str:
    metrics = analysis.DATASET_METRICS[dataset]
    primary = analysis.PRIMARY_METRIC[dataset]
    if dataset == "breakfast":
        comparison = analysis.breakfast_table(df, with_published=True)
        layout = (
            "Table 5 layout: test RMSE per split, % = progress in percent, frames = in frames; "
            "mean ± std over the cooking tasks (each task's seeds averaged first)."
        )
    else:
        comparison = analysis.results_vs_published(df, dataset)
        layout = "Mean ± std over seeds; n = finished models."
    pearson = " Pearson in %." if "pearson" in metrics else ""
    html_parts = [
        note(
            f"Test metrics of our rows at the λ chosen on validation (lowest mean validation "
            f"{primary.upper()}) beside the published rows ({_TABLES_OF[dataset]}). {layout}"
            f"{pearson} data_balance 'rebalanced' is Table 4's control (both losses on "
            "batches re-balanced by Eq. 12-13). Failed / diverged models are counted, not "
            "averaged."
        ),
        _table(_display(comparison)),
    ]
    for metric in metrics:
        html_parts.append(_figure_div(plot_dir_results(df, dataset, metric), f"{dataset}-{metric}"))
    html_parts += [
        note(
            "Paired view: each point is one reg+cls model's test error minus that of the reg "
            "model trained on the same data and seed (every λ trained); the marker is the mean "
            "over the pairs with its 95% interval over seeds, the independent units (every pair "
            "of a seed shares its reg; the sign-flip test over seeds, inverted; no interval "
            "below 6 seeds). Below 0: reg+cls better."
        ),
        _figure_div(plot_dir_pairs(df, dataset), f"{dataset}-paired"),
    ]
    curves = analysis.lambda_sensitivity(df, dataset)
    per_config = curves.group_by(
        "target", "data_balance", "model_selection", "variant", "num_classes"
    ).len()
    if dataset == "stsb_dir" or (per_config.height and per_config["len"].max() > 1):
        html_parts.append(_figure_div(plot_lambda_sensitivity(df, dataset), f"{dataset}-lambda"))
    helps = analysis.helps_summary(df).filter(pl.col("dataset") == dataset)
    html_parts += [
        "<h3>Does classification help? (test)</h3>",
        note(
            f"% of reg+cls models (per variant, C, λ, seed) whose test {primary.upper()} is "
            "below that of the reg model trained on the same data (ties half); a diverged "
            "model loses on either side, a failed trial drops its pair (n_dropped). Interval "
            "and p_value over seeds (n_clusters), the independent units; below 6 seeds no 95% "
            "interval exists (—, too_few_clusters). Rows with an empty C pool every C."
        ),
        _table(helps.drop("dataset")),
    ]
    stats = controls_stats(df).filter(pl.col("dataset") == dataset)
    if stats.height:
        html_parts += [
            "<h3>What helps: CE or scale?</h3>",
            note(
                "Paired with the controls trained on the same data and seed: reg-scaled "
                "(λ·MSE, no class head, same λ) isolates the CE term, cls-only is the "
                "classifier alone (prediction: expected class centre). % of pairs where A has "
                "the lower test MSE and the mean difference A − B, with 95% intervals and the "
                "sign-flip test over seeds (n_clusters; none below 6 seeds: —), Holm over the "
                "comparisons of one λ × C; verdict: results/verdicts.py. Empty λ and C: pooled."
            ),
            _table(_rounded_stats(stats.drop("dataset"))),
        ]
    if dataset == "stsb_dir":
        html_parts += [
            f"<h3>Beside {YANG_STSB_TABLE}: relative gains over each side's vanilla</h3>",
            note(
                "The encoders differ (Yang et al.: BiLSTM + GloVe; ours: MLP heads on a frozen "
                "sentence encoder), so only gains over each side's own vanilla compare. Gain in "
                "%, positive = better: MSE 100·(vanilla − method)/vanilla, Pearson "
                "100·(method − vanilla)/vanilla. Published: Table 3's printed cells (LDS, FDS "
                "and LDS+FDS are its INV + … rows, LDS applied to inverse weights). Ours: the "
                "mapped variant's gain over the reg of the same seed, mean over seeds with a "
                "95% interval over seeds (none below 6 seeds: —, too_few_clusters), n = seeds. "
                "Variant — : nothing of ours maps (the note says why)."
            ),
            _table(_rounded_stats(published_vs_ours(df))),
        ]
    html_parts += [
        "<h3>Best config on validation</h3>",
        _table(analysis.best_config(df, dataset)),
        details(
            "Every λ (test, mean ± std)",
            _table(
                _display(
                    analysis.results_table(
                        df, dataset, metrics, analysis.DATASET_SHOTS[dataset]
                    ).with_columns(source=pl.lit("ours"), method=pl.lit(None, pl.String))
                )
            ),
        ),
    ]
    return "".join(html_parts)


def _rounded_stats(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t == pl.Float64 and c != "lam"]
    return frame.with_columns(pl.col(c).round(4) for c in floats)


def _table(frame: pl.DataFrame) -> str:
    """The 1D report's table, unwrapped cells ("mean ± std") and scrolling when wide."""
    table = html_table(frame).replace(
        "<table class='rows'>", "<table class='rows' style='white-space:nowrap'>"
    )
    return f"<div style='overflow-x:auto'>{table}</div>"


def _figure_div(figure: go.Figure, name: str) -> str:
    """A plotly div without the bundle (the page's first figure inlined plotly.js)."""
    return figure_div(figure, f"figure-dir-{name}", include_plotlyjs=False)


def _display(frame: pl.DataFrame) -> pl.DataFrame:
    """Each "<c>" / "<c> std" pair as one "mean ± std" string; constant key columns dropped."""
    stds = [c for c in frame.columns if c.endswith(" std") and c[:-4] in frame.columns]
    means = [c[:-4] for c in stds]
    out = frame.with_columns(
        pl.struct(c, f"{c} std")
        .map_elements(lambda v, c=c: _pm(v[c], v[f"{c} std"]), return_dtype=pl.String)
        .alias(c)
        for c in means
    ).drop(*stds, "class_mode", strict=False)  # the variant names the class mode
    keep = [
        c
        for c in out.columns
        if c not in _DISPLAY_KEYS or c in ("source", "variant") or out[c].n_unique() > 1
    ]
    return out.select(keep)


def _pm(mean: float | None, std: float | None) -> str | None:
    """ "mean ± std" with the papers' precision: 3 decimals below 10, else 2."""
    if mean is None or math.isnan(mean):
        return None
    decimals = 3 if abs(mean) < 10 else 2
    text = f"{mean:.{decimals}f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.{decimals}f}"
    return text
