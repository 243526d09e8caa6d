"""Polars analysis of the real-data (DIR) rows: the core paper's Tables 2-5 and what they imply.

Every function is a pure function of a DIR rows frame (`results.dir.schema`) and returns a new
frame. As in `results.synthetic_1d.analysis`, only finished models (`status == "ok"`) with a finite
metric enter a mean; the others are counted, in `n_diverged` (the loss became NaN/inf) and
`n_failed` (no model: the trial failed or was stopped early). Standard deviations are sample
standard deviations (ddof = 1), null for fewer than two values. Breakfast trains one model per
cooking task, and the paper reports mean +- std over the 10 tasks (Table 5): there a task's models
are first averaged over seeds, then mean and std are taken over tasks (`n` counts tasks); elsewhere
over models (`n` counts models). Pearson correlations are reported in percent (x100), as Yang et al.
print them; the rows hold the coefficient r. Empty rows give empty frames with the same
columns.

Rows are told apart by the "setting" columns (target, data_split, data_balance,
model_selection) and the "config" columns (variant, class_mode, num_classes, lam).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import polars as pl

from results._tables import (
    COUNT,
    RUN_STATUSES,
    check_choice,
    checked_rows,
    count,
    helps_with_intervals,
    mean_ok,
    ordered,
    rank,
    typed,
    usable,
    with_reg_partner,
)
from results.dir.schema import (
    DIR_DATASETS,
    DIR_METRICS,
    DIR_SHOTS,
    DIR_SPLITS,
    dir_metric_columns,
    empty_dir_rows,
)

# The error each dataset is judged by: reg+cls "helps" when it lowers it, and lambda / the best
# config are chosen on its validation value (lower is better for all four).
PRIMARY_METRIC = MappingProxyType(
    {"imdb_wiki_dir": "mse", "nyud2_dir": "rmse", "breakfast": "rmse", "stsb_dir": "mse"}
)
# The metrics and shots each dataset's published tables report (core paper; Yang et al. STS-B).
DATASET_METRICS = MappingProxyType(
    {
        "imdb_wiki_dir": ("mae", "mse"),
        "nyud2_dir": ("rmse",),
        "breakfast": ("rmse",),
        "stsb_dir": ("mse", "pearson"),
    }
)
DATASET_SHOTS = MappingProxyType(
    {
        "imdb_wiki_dir": DIR_SHOTS,
        "nyud2_dir": DIR_SHOTS,
        "breakfast": ("all",),
        "stsb_dir": DIR_SHOTS,
    }
)
BREAKFAST_SPLITS = ("S1", "S2", "S3", "S4")
BREAKFAST_TARGETS = MappingProxyType({"progress_pct": "%", "frames": "frames"})
SETTING_KEYS = ("target", "data_split", "data_balance", "model_selection")
CONFIG_KEYS = ("variant", "class_mode", "num_classes", "lam")

_PERCENT_METRICS = ("pearson",)

# ---------------------------------------------------------------------------------------------
# Published numbers, copied from the papers' text. Per table: the printed columns, each as
# (model_selection, target, data_split, metric, shot), then the printed rows as
# (method, variant, C, cells) with one (mean, std) per column (std None when not printed) and
# None for "—". Variant None marks a literature row. Yang et al.'s VANILLA (plain regression,
# MSE loss) is the reg baseline of STS-B-DIR.
_PINTEA_T2 = "Pintea et al. 2023, Table 2"
_PINTEA_T3 = "Pintea et al. 2023, Table 3"
_PINTEA_T4 = "Pintea et al. 2023, Table 4"
_PINTEA_T5 = "Pintea et al. 2023, Table 5"
_YANG_T3 = "Yang et al. 2021, Table 3"

_SHOT_COLUMNS = DIR_SHOTS

_PUBLISHED_TABLES: tuple[tuple, ...] = (
    (
        "nyud2_dir",
        _PINTEA_T2,
        "natural",
        tuple(("best_val", "depth", None, "rmse", s) for s in _SHOT_COLUMNS)
        + tuple(("best_test", "depth", None, "rmse", s) for s in _SHOT_COLUMNS),
        (
            ("Kernel [47]", None, None,
             (None, None, None, None,
              (1.338, None), (0.670, None), (0.851, None), (1.880, None))),
            ("Balanced [31]", None, None,
             (None, None, None, None,
              (1.251, None), (0.692, None), (0.959, None), (1.703, None))),
            ("reg (MSE)", "reg", None,
             ((1.614, 0.051), (0.554, 0.002), (0.934, 0.042), (2.360, 0.081),
              (1.499, 0.083), (0.578, 0.010), (0.896, 0.043), (2.171, 0.136))),
            ("reg+cls (2 cls)", "reg+cls", 2,
             ((1.587, 0.026), (0.618, 0.003), (1.062, 0.025), (2.278, 0.041),
              (1.532, 0.082), (0.624, 0.036), (0.946, 0.032), (2.204, 0.141))),
            ("reg+cls (10 cls)", "reg+cls", 10,
             ((1.576, 0.063), (0.585, 0.008), (0.982, 0.058), (2.282, 0.095),
              (1.509, 0.022), (0.582, 0.013), (0.947, 0.046), (2.178, 0.047))),
            ("reg+cls (100 cls)", "reg+cls", 100,
             ((1.536, 0.090), (0.569, 0.018), (0.966, 0.041), (2.222, 0.146),
              (1.488, 0.028), (0.578, 0.015), (0.971, 0.049), (2.141, 0.045))),
            ("reg+cls bal. (2 cls)", "reg+cls-balanced", 2,
             ((1.599, 0.020), (0.616, 0.026), (1.033, 0.058), (2.304, 0.044),
              (1.522, 0.060), (0.665, 0.033), (1.003, 0.059), (2.166, 0.118))),
            ("reg+cls bal. (10 cls)", "reg+cls-balanced", 10,
             ((1.454, 0.044), (0.607, 0.041), (0.965, 0.023), (2.077, 0.087),
              (1.454, 0.044), (0.607, 0.041), (0.965, 0.023), (2.077, 0.087))),
            ("reg+cls bal. (100 cls)", "reg+cls-balanced", 100,
             ((1.553, 0.117), (0.563, 0.033), (0.897, 0.043), (2.263, 0.193),
              (1.487, 0.051), (0.574, 0.014), (0.869, 0.019), (2.156, 0.084))),
        ),
    ),
    (
        "imdb_wiki_dir",
        _PINTEA_T3,
        "natural",
        tuple((None, "age", None, "mae", s) for s in _SHOT_COLUMNS)
        + tuple((None, "age", None, "mse", s) for s in _SHOT_COLUMNS),
        (
            ("Focal [27]", None, None,
             ((7.97, None), (7.12, None), (15.14, None), (26.96, None),
              (136.98, None), (106.87, None), (368.60, None), (1002.90, None))),
            ("Kernel [47]", None, None,
             ((7.78, None), (7.20, None), (12.61, None), (22.19, None),
              (129.35, None), (106.52, None), (311.49, None), (811.82, None))),
            ("Balanced [31]", None, None,
             ((8.12, None), (7.58, None), (12.27, None), (23.05, None),
              None, None, None, None)),
            ("reg (MAE)", "reg", None,
             ((8.09, 0.01), (7.23, 0.02), (15.48, 0.15), (26.81, 0.48),
              (138.53, 1.17), (107.82, 0.96), (375.27, 6.97), (1017.59, 27.51))),
            ("reg+cls (2 cls)", "reg+cls", 2,
             ((7.95, 0.05), (7.11, 0.03), (15.08, 0.27), (26.15, 0.06),
              (135.15, 0.40), (105.86, 0.27), (361.02, 7.00), (973.53, 11.52))),
            ("reg+cls (10 cls)", "reg+cls", 10,
             ((7.93, 0.06), (7.12, 0.06), (14.93, 0.17), (25.91, 0.27),
              (135.69, 1.65), (106.58, 1.42), (359.27, 5.70), (975.37, 34.09))),
            ("reg+cls (100 cls)", "reg+cls", 100,
             ((7.61, 0.02), (6.90, 0.03), (13.46, 0.44), (25.04, 0.82),
              (129.73, 1.33), (103.25, 1.12), (328.17, 10.40), (933.33, 9.16))),
            ("reg+cls bal. (2 cls)", "reg+cls-balanced", 2,
             ((7.94, 0.06), (7.14, 0.09), (14.71, 0.51), (26.20, 0.73),
              (134.91, 1.20), (106.36, 1.68), (351.48, 14.82), (980.61, 39.44))),
            ("reg+cls bal. (10 cls)", "reg+cls-balanced", 10,
             ((7.92, 0.06), (7.10, 0.05), (14.99, 0.21), (25.58, 0.39),
              (134.53, 0.75), (105.40, 0.43), (362.48, 4.41), (940.91, 18.70))),
            ("reg+cls bal. (100 cls)", "reg+cls-balanced", 100,
             ((7.59, 0.09), (6.86, 0.08), (13.61, 0.35), (25.30, 0.19),
              (127.87, 1.99), (101.34, 1.74), (327.55, 12.98), (925.65, 21.96))),
        ),
    ),
    (
        "nyud2_dir",
        _PINTEA_T4,
        "rebalanced",
        (("best_val", "depth", None, "rmse", "all"), ("best_test", "depth", None, "rmse", "all")),
        (
            ("reg (MSE)", "reg", None, ((1.442, 0.077), (1.492, 0.042))),
            ("reg+cls", "reg+cls", 100, ((1.456, 0.033), (1.593, 0.025))),
        ),
    ),
    (
        "imdb_wiki_dir",
        _PINTEA_T4,
        "rebalanced",
        ((None, "age", None, "mae", "all"), (None, "age", None, "mse", "all")),
        (
            ("reg (MSE)", "reg", None, ((7.74, 0.04), (131.03, 1.44))),
            ("reg+cls", "reg+cls", 100, ((7.71, 0.06), (131.27, 1.00))),
        ),
    ),
    (
        "breakfast",
        _PINTEA_T5,
        "natural",
        tuple((None, "progress_pct", s, "rmse", "all") for s in BREAKFAST_SPLITS)
        + tuple((None, "frames", s, "rmse", "all") for s in BREAKFAST_SPLITS),
        (
            ("Random baseline", None, None,
             ((58.50, 0.29), (58.37, 0.07), (58.39, 0.14), (58.38, 0.12),
              (1394.48, 992.50), (1511.04, 1132.60), (1450.26, 1085.56), (1420.21, 1063.16))),
            ("[24]", None, None,
             ((31.24, 0.80), (31.49, 0.98), (30.85, 0.66), (30.78, 0.53),
              (1079.38, 775.17), (1235.02, 932.89), (1172.67, 880.69), (1170.07, 886.92))),
            ("reg (RMSE)", "reg", None,
             ((32.57, 1.45), (33.30, 1.69), (32.52, 1.17), (33.08, 1.49),
              (860.17, 583.44), (891.39, 641.58), (862.65, 609.01), (845.48, 605.46))),
            ("reg+cls (100 cls)", "reg+cls", 100,
             ((28.71, 0.38), (28.84, 0.55), (28.46, 0.48), (28.44, 0.50),
              (837.59, 573.15), (870.55, 630.89), (845.65, 601.73), (809.76, 595.37))),
            ("reg+cls bal. (100 cls)", "reg+cls-balanced", 100,
             (None, None, None, None,
              (837.61, 573.17), (870.54, 630.88), (845.65, 601.72), (809.76, 595.37))),
        ),
    ),
    (
        "stsb_dir",
        _YANG_T3,
        "natural",
        tuple((None, "similarity", None, "mse", s) for s in _SHOT_COLUMNS)
        + tuple((None, "similarity", None, "pearson", s) for s in _SHOT_COLUMNS),
        (
            ("VANILLA", "reg", None,
             ((0.974, None), (0.851, None), (1.520, None), (0.984, None),
              (74.2, None), (72.0, None), (62.7, None), (75.2, None))),
        ),
    ),
)  # fmt: skip


def results_table(
    df: pl.DataFrame,
    dataset: str,
    metrics: Sequence[str],
    shots: Sequence[str] = DIR_SHOTS,
    split: str = "test",
    select_lam: bool = False,
) -> pl.DataFrame:
    """The core paper's Tables 2/3 (and 4 for data_balance "rebalanced") from our rows.

    One row per setting (target, data_split, data_balance, model_selection) x config (variant,
    class_mode, C, lambda); per metric and shot a column "<metric> <shot>" (mean) and
    "<metric> <shot> std" of the `split` metric `f"{split}_{metric}_{shot}"`: over seeds, and
    for Breakfast over tasks (each task's seeds averaged first). `n` counts the units (models;
    tasks for Breakfast) with a finished model, `n_models` the finished models. With
    `select_lam`, only the lambda with the lowest mean validation error of the dataset's
    primary metric (`PRIMARY_METRIC`, all samples) is kept per setting x variant x C (ties to
    the smaller lambda; a config with no validation value keeps every lambda), as the paper
    chose lambda on validation.

    Example:
        >>> results_table(rows, "imdb_wiki_dir", ("mae", "mse"), select_lam=True)
    """
    check_choice("dataset", dataset, DIR_DATASETS)
    metrics = _check_many("metrics", metrics, DIR_METRICS)
    shots = _check_many("shots", shots, DIR_SHOTS)
    check_choice("split", split, DIR_SPLITS)
    rows = _dataset_rows(df, dataset)
    if select_lam:
        rows = _at_selected_lam(rows, dataset)
    sources = {
        f"{metric} {shot}": f"{split}_{metric}_{shot}" for metric in metrics for shot in shots
    }
    table = _aggregate(rows, (*SETTING_KEYS, *CONFIG_KEYS), sources, dataset == "breakfast")
    return _ordered(table, *SETTING_KEYS, *CONFIG_KEYS)


def breakfast_table(df: pl.DataFrame, with_published: bool = False) -> pl.DataFrame:
    """Table 5 of the core paper: Breakfast test RMSE % and RMSE frames per split S1-S4.

    One row per data_balance x model_selection x variant x C; columns "% S1" ... "% S4" and
    "frames S1" ... "frames S4" (mean over the tasks of each task's seed-averaged test RMSE),
    each with its "... std" over tasks; "lam %" / "lam frames" the lambda chosen on
    validation per target (`results_table`'s `select_lam`); `n_tasks` the fewest tasks behind
    a cell, `n_models`, `n_diverged`, `n_failed` summed over the cells. With `with_published`,
    the paper's rows (`source`, `method`) come first.
    """
    table = results_table(df, "breakfast", ("rmse",), ("all",), select_lam=True)
    ours = _breakfast_layout(
        table.with_columns(source=pl.lit("ours"), method=pl.lit(None, pl.String))
    )
    if not with_published:
        return ours.drop("source", "method")
    paper = published_rows("breakfast").with_columns(
        pl.lit(None, COUNT).alias(c) for c in ("n", "n_models", "n_diverged", "n_failed")
    )
    paper = _breakfast_layout(paper).with_columns(
        pl.lit(None, COUNT).alias(c) for c in ("n_models", "n_diverged", "n_failed")
    )
    return pl.concat([paper.select(ours.columns), ours])


def helps_summary(df: pl.DataFrame) -> pl.DataFrame:
    """Per dataset: % of reg+cls models whose test error is lower than their paired reg model's.

    The error is the dataset's primary metric on all test samples (MSE for STS-B-DIR and
    IMDB-WIKI-DIR, RMSE for NYUD2-DIR and Breakfast). A model is one (variant, C, lambda, seed,
    and task / split for Breakfast). Its partner is the row `paired_reg_row_key` names (its test
    error); without that row, `paired_reg_test_mse` (its square root for RMSE). Outcomes follow
    `results.cluster_inference` (a diverged model loses on either side; a failed trial drops its
    pair: `n_dropped`; `n_failed` counts the reg+cls trials that never ran, `n_unpaired` those
    without a partner). Rows per dataset x target x data_balance x variant x C, then one row
    per dataset x target x data_balance x variant with `num_classes` null pooling every C (the
    only row of a variant without classes).
    `ci_low`, `ci_high`, `p_value`: the sign-flip interval and test of 50% over seeds, the
    independent units (every pair of a seed shares its reg); below 6 seeds no 95% interval
    exists: NaN, and `too_few_clusters` true.
    """
    columns = {
        "dataset": pl.String,
        "target": pl.String,
        "data_balance": pl.String,
        "variant": pl.String,
        "class_mode": pl.String,
        "num_classes": pl.Int64,
        "metric": pl.String,
        "n_pairs": COUNT,
        "n_clusters": COUNT,
        "n_helps": COUNT,
        "pct_helps": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "p_value": pl.Float64,
        "too_few_clusters": pl.Boolean,
        "n_diverged_a": COUNT,
        "n_diverged_b": COUNT,
        "n_dropped": COUNT,
        "n_failed": COUNT,
        "n_unpaired": COUNT,
    }
    rows = _rows(df)
    compared = pl.concat(
        [_helps_rows(rows.filter(pl.col("dataset") == d), d) for d in DIR_DATASETS],
        how="vertical_relaxed",
    )
    keys = ["dataset", "target", "data_balance", "variant", "class_mode"]
    per_c = helps_with_intervals(compared, [*keys, "num_classes", "metric"], "seed")
    pooled = helps_with_intervals(compared, [*keys, "metric"], "seed")
    pooled = pooled.with_columns(pl.lit(None, pl.Int64).alias("num_classes"))
    # A variant without C (reg-scaled, reg-lds, ...): its pooled row only, not twice.
    per_c = per_c.filter(pl.col("num_classes").is_not_null())
    out = pl.concat([per_c, pooled.select(per_c.columns)])
    return _ordered(typed(out, columns), "dataset", "target", "data_balance", "variant")


def published_rows(dataset: str) -> pl.DataFrame:
    """The published rows for `dataset`, laid out like `results_table`'s output.

    Core paper (Pintea et al. 2023): Table 2 (NYUD2-DIR RMSE, model selected on validation
    "best_val" or, like Yang et al., on test "best_test"), Table 3 (IMDB-WIKI-DIR MAE, MSE),
    Table 4 (both, data_balance "rebalanced", reg+cls with 100 classes), Table 5 (Breakfast
    RMSE % = target "progress_pct" and RMSE frames = "frames", per split); with the literature
    rows they print (variant null). STS-B-DIR: Yang et al. 2021 Table 3, VANILLA (the plain
    MSE regression, variant "reg"), MSE and Pearson (%). Numbers as printed; "—" is null,
    as is a std the table does not print. Columns: source, method, the setting and config
    columns (lam null: the paper fixes lambda per C), "<metric> <shot>" and "... std" for the
    dataset's `DATASET_METRICS` x `DATASET_SHOTS`.
    """
    check_choice("dataset", dataset, DIR_DATASETS)
    records = []
    for name, source, balance, spec, printed in _PUBLISHED_TABLES:
        if name != dataset:
            continue
        for method, variant, classes, cells in printed:
            for key, cell_group in _group_cells(spec, cells).items():
                selection, target, data_split = key
                record = {
                    "source": source,
                    "method": method,
                    "target": target,
                    "data_split": data_split,
                    "data_balance": balance,
                    "model_selection": selection,
                    "variant": variant,
                    "class_mode": _CLASS_MODES.get(variant),
                    "num_classes": classes,
                    "lam": None,
                }
                if all(cell is None for cell in cell_group.values()):
                    continue  # a row of "—" only: nothing published for this setting
                for column, cell in cell_group.items():
                    record[column] = None if cell is None else cell[0]
                    record[f"{column} std"] = None if cell is None else cell[1]
                records.append(record)
    schema = {
        "source": pl.String,
        "method": pl.String,
        "target": pl.String,
        "data_split": pl.String,
        "data_balance": pl.String,
        "model_selection": pl.String,
        "variant": pl.String,
        "class_mode": pl.String,
        "num_classes": pl.Int64,
        "lam": pl.Float64,
        **{
            name: pl.Float64
            for metric in DATASET_METRICS[dataset]
            for shot in DATASET_SHOTS[dataset]
            for name in (f"{metric} {shot}", f"{metric} {shot} std")
        },
    }
    frame = pl.DataFrame(records, schema=schema) if records else pl.DataFrame(schema=schema)
    return frame


def results_vs_published(df: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """Our test table (`results_table` with lambda chosen on validation) beside the published.

    `published_rows` stacked with ours (`source` "ours"), sorted so each config's rows sit
    together: setting, variant (literature rows first), C, then the paper before ours.
    """
    ours = results_table(
        df, dataset, DATASET_METRICS[dataset], DATASET_SHOTS[dataset], select_lam=True
    ).with_columns(source=pl.lit("ours"), method=pl.lit(None, pl.String))
    paper = published_rows(dataset)
    out = pl.concat(
        [paper, ours.select(*paper.columns, "n", "n_diverged", "n_failed")], how="diagonal"
    )
    out = out.with_columns(pl.col("source").eq("ours").alias("_ours"))
    return _ordered(
        out, "target", "data_split", "data_balance", "variant", "num_classes", "_ours"
    ).drop("_ours")


def best_config(df: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """The (variant, C, lambda) with the lowest mean validation error, per setting.

    Setting: target x data_balance x model_selection (pooled over Breakfast's splits and
    tasks, as the paper chose one lambda per target). Error: the dataset's primary metric
    (`PRIMARY_METRIC`) on all validation samples, mean over finished models; reg competes too
    (C and lambda null). Ties go to the simpler config (reg, then fewer classes, smaller
    lambda). Beside it: its test mean, and the reg model's validation and test means.
    """
    check_choice("dataset", dataset, DIR_DATASETS)
    metric = PRIMARY_METRIC[dataset]
    val, test = f"val_{metric}_all", f"test_{metric}_all"
    columns = {
        "target": pl.String,
        "data_balance": pl.String,
        "model_selection": pl.String,
        "metric": pl.String,
        "variant": pl.String,
        "class_mode": pl.String,
        "num_classes": pl.Int64,
        "lam": pl.Float64,
        "val_mean": pl.Float64,
        "val_std": pl.Float64,
        "test_mean": pl.Float64,
        "n": COUNT,
        "n_configs": COUNT,
        "reg_val_mean": pl.Float64,
        "reg_test_mean": pl.Float64,
    }
    setting = ["target", "data_balance", "model_selection"]
    rows = _dataset_rows(df, dataset)
    configs = rows.group_by(*setting, *CONFIG_KEYS).agg(
        mean_ok(val).alias("val_mean"),
        pl.col(val).filter(usable(val)).std().alias("val_std"),
        mean_ok(test).alias("test_mean"),
        count(usable(val)).alias("n"),
    )
    ranked = configs.filter(pl.col("val_mean").is_not_null()).sort(
        "val_mean",
        rank("variant", _ORDERS, null_first=True),
        "num_classes",
        "lam",
        nulls_last=False,
    )
    best = ranked.group_by(setting, maintain_order=True).agg(
        pl.all().first(), pl.len().cast(COUNT).alias("n_configs")
    )
    reg = configs.filter(pl.col("variant") == "reg").select(
        *setting,
        pl.col("val_mean").alias("reg_val_mean"),
        pl.col("test_mean").alias("reg_test_mean"),
    )
    out = best.join(reg, on=setting, how="left", nulls_equal=True).with_columns(
        metric=pl.lit(metric)
    )
    return _ordered(typed(out, columns), *setting)


def lambda_sensitivity(
    df: pl.DataFrame, dataset: str = "stsb_dir", metric: str | None = None, split: str = "test"
) -> pl.DataFrame:
    """Error vs lambda per setting x variant x C, with the reg model as the reference.

    `metric` (default: the dataset's primary one) on all `split` samples: mean, std, `n` over
    seeds (tasks for Breakfast, pooled over splits) for every reg+cls config; `reg_mean`,
    `reg_std`, `reg_n` the reg models of the same target x data_balance x model_selection.
    """
    check_choice("dataset", dataset, DIR_DATASETS)
    metric = PRIMARY_METRIC[dataset] if metric is None else metric
    check_choice("metric", metric, DIR_METRICS)
    check_choice("split", split, DIR_SPLITS)
    setting = ("target", "data_balance", "model_selection")
    rows = _dataset_rows(df, dataset)
    by_task = dataset == "breakfast"
    source = {"value": f"{split}_{metric}_all"}
    cls = _aggregate(
        rows.filter(pl.col("variant") != "reg"), (*setting, *CONFIG_KEYS), source, by_task
    )
    reg = _aggregate(rows.filter(pl.col("variant") == "reg"), setting, source, by_task).select(
        *setting,
        pl.col("value").alias("reg_mean"),
        pl.col("value std").alias("reg_std"),
        pl.col("n").alias("reg_n"),
    )
    out = cls.rename({"value": "mean", "value std": "std"}).join(
        reg, on=list(setting), how="left", nulls_equal=True
    )
    out = out.with_columns(metric=pl.lit(metric), split=pl.lit(split))
    columns = {
        **dict.fromkeys(setting, pl.String),
        "variant": pl.String,
        "class_mode": pl.String,
        "num_classes": pl.Int64,
        "lam": pl.Float64,
        "metric": pl.String,
        "split": pl.String,
        "mean": pl.Float64,
        "std": pl.Float64,
        "n": COUNT,
        "n_diverged": COUNT,
        "n_failed": COUNT,
        "reg_mean": pl.Float64,
        "reg_std": pl.Float64,
        "reg_n": COUNT,
    }
    return _ordered(typed(out, columns), *setting, "variant", "num_classes", "lam")


def dir_datasets(df: pl.DataFrame) -> list[str]:
    """The datasets the rows hold, in `DIR_DATASETS` order."""
    present = set(_rows(df)["dataset"].drop_nulls().unique().to_list())
    return [d for d in DIR_DATASETS if d in present]


_CLASS_MODES = MappingProxyType(
    {"reg": "none", "reg+cls": "imbalanced", "reg+cls-balanced": "balanced"}
)

_USED_COLUMNS = (
    "row_key",
    "stage",
    "dataset",
    "data_split",
    "task",
    "target",
    "seed",
    "variant",
    "class_mode",
    "data_balance",
    "num_classes",
    "lam",
    "model_selection",
    "status",
    "paired_reg_row_key",
    "paired_reg_test_mse",
)

_ORDERS = MappingProxyType(
    {
        "dataset": DIR_DATASETS,
        "target": ("age", "depth", "progress_pct", "frames", "similarity"),
        "data_split": BREAKFAST_SPLITS,
        "data_balance": ("natural", "rebalanced"),
        "model_selection": ("best_val", "best_test", "final"),
        "variant": ("reg", "reg+cls", "reg+cls-balanced"),
        "class_mode": ("none", "imbalanced", "balanced"),
    }
)


def _rows(df: pl.DataFrame) -> pl.DataFrame:
    """Checked DIR rows: structural columns required, absent metric columns read as null."""
    df = checked_rows(df, "DIR results rows", empty_dir_rows, _USED_COLUMNS)
    schema = empty_dir_rows().schema
    return df.with_columns(
        *(pl.col(c).cast(schema[c]) for c in _USED_COLUMNS),
        *(
            pl.col(c).cast(pl.Float64) if c in df.columns else pl.lit(None, pl.Float64).alias(c)
            for c in dir_metric_columns()
        ),
    )


def _dataset_rows(df: pl.DataFrame, dataset: str) -> pl.DataFrame:
    return _rows(df).filter(pl.col("dataset") == dataset)


def _check_many(name: str, values: Sequence[str], accepted: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty sequence of accepted values (a single string counts as one)."""
    chosen = (values,) if isinstance(values, str) else tuple(values)
    if not chosen or any(v not in accepted for v in chosen):
        raise ValueError(f"{name}: got {values!r}; accepted values: {', '.join(accepted)}")
    return chosen


def _value(column: str) -> pl.Expr:
    """A metric as reported: Pearson in percent, the rest as stored."""
    scale = 100.0 if column.split("_")[1] in _PERCENT_METRICS else 1.0
    return pl.col(column) * scale


def _aggregate(
    rows: pl.DataFrame, keys: Sequence[str], sources: dict[str, str], by_task: bool
) -> pl.DataFrame:
    """Mean "<name>" and std "<name> std" of each source column per `keys`, with counts.

    Over finished models; with `by_task`, each task's models are averaged first and the
    statistics (and `n`) are over tasks.
    """
    keys = list(keys)
    status = pl.col("status")
    counts = rows.group_by(keys).agg(
        count(status == "ok").alias("n_models"),
        count(status == "diverged").alias("n_diverged"),
        count(~status.is_in(RUN_STATUSES)).alias("n_failed"),
    )
    units = keys + ["task"] if by_task else None
    if by_task:
        per_task = rows.group_by(units).agg(
            *(_value(c).filter(usable(c)).mean().alias(name) for name, c in sources.items()),
            count(status == "ok").alias("_ok"),
        )
        stats = per_task.group_by(keys).agg(
            *(pl.col(name).mean() for name in sources),
            *(pl.col(name).std().alias(f"{name} std") for name in sources),
            count(pl.col("_ok") > 0).alias("n"),
        )
    else:
        stats = rows.group_by(keys).agg(
            *(_value(c).filter(usable(c)).mean().alias(name) for name, c in sources.items()),
            *(
                _value(c).filter(usable(c)).std().alias(f"{name} std")
                for name, c in sources.items()
            ),
            count(status == "ok").alias("n"),
        )
    out = stats.join(counts, on=keys, how="left", nulls_equal=True)
    schema = empty_dir_rows().schema
    columns = {
        **{k: schema[k] for k in keys},
        **{n: pl.Float64 for name in sources for n in (name, f"{name} std")},
        "n": COUNT,
        "n_models": COUNT,
        "n_diverged": COUNT,
        "n_failed": COUNT,
    }
    return typed(out, columns)


def _at_selected_lam(rows: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """Rows of the lambda with the lowest mean validation primary error per config (not reg)."""
    metric = f"val_{PRIMARY_METRIC[dataset]}_all"
    keys = ["target", "data_balance", "model_selection", "variant", "num_classes"]
    chosen = (
        rows.filter(pl.col("lam").is_not_null())
        .group_by(*keys, "lam")
        .agg(mean_ok(metric).alias("_val"))
        .filter(pl.col("_val").is_not_null())
        .sort("_val", "lam")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("lam").first().alias("_lam"))
    )
    joined = rows.join(chosen, on=keys, how="left", nulls_equal=True)
    keep = pl.col("lam").is_null() | pl.col("_lam").is_null() | (pl.col("lam") == pl.col("_lam"))
    return joined.filter(keep).drop("_lam")


def _helps_rows(rows: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """reg+cls rows of one dataset paired with their reg (`with_reg_partner` on the primary
    test error), with `metric`."""
    metric = PRIMARY_METRIC[dataset]
    fallback = pl.col("paired_reg_test_mse")
    if metric == "rmse":
        fallback = fallback.sqrt()
    elif metric != "mse":
        fallback = pl.lit(None, pl.Float64)
    cls = rows.filter(pl.col("variant") != "reg")
    regs = rows.filter(pl.col("variant") == "reg")
    paired = with_reg_partner(cls, regs, f"test_{metric}_all", fallback)
    return paired.select(
        "dataset",
        "target",
        "data_balance",
        "variant",
        "class_mode",
        "num_classes",
        "seed",
        pl.lit(metric).alias("metric"),
        "mse_a",
        "status_a",
        "mse_b",
        "status_b",
    )


def _group_cells(spec: tuple, cells: tuple) -> dict[tuple, dict[str, tuple | None]]:
    """Printed cells per (model_selection, target, data_split), as {"<metric> <shot>": cell}."""
    groups: dict[tuple, dict[str, tuple | None]] = {}
    for (selection, target, data_split, metric, shot), cell in zip(spec, cells, strict=True):
        groups.setdefault((selection, target, data_split), {})[f"{metric} {shot}"] = cell
    return groups


def _breakfast_layout(table: pl.DataFrame) -> pl.DataFrame:
    """A `results_table`-shaped Breakfast frame (rmse all per split) as Table 5's layout."""
    keys = ["source", "method", "data_balance", "model_selection", "variant", "class_mode",
            "num_classes"]  # fmt: skip
    keys = [k for k in keys if k in table.columns]
    out = None
    for target, label in BREAKFAST_TARGETS.items():
        part = table.filter(pl.col("target") == target)
        cells = [
            part.filter(pl.col("data_split") == split).select(
                *keys,
                pl.col("lam").alias(f"lam {label}"),
                pl.col("rmse all").alias(f"{label} {split}"),
                pl.col("rmse all std").alias(f"{label} {split} std"),
                pl.col("n").alias(f"_n {label} {split}"),
                pl.col("n_models").alias(f"_m {label} {split}"),
                pl.col("n_diverged").alias(f"_d {label} {split}"),
                pl.col("n_failed").alias(f"_f {label} {split}"),
            )
            for split in BREAKFAST_SPLITS
        ]
        wide = cells[0]
        for cell in cells[1:]:
            wide = wide.join(
                cell, on=[*keys, f"lam {label}"], how="full", coalesce=True, nulls_equal=True
            )
        out = (
            wide
            if out is None
            else out.join(wide, on=keys, how="full", coalesce=True, nulls_equal=True)
        )
    cells = [f"{label} {s}" for label in BREAKFAST_TARGETS.values() for s in BREAKFAST_SPLITS]
    out = out.select(
        *keys,
        *(f"lam {label}" for label in BREAKFAST_TARGETS.values()),
        *(c for cell in cells for c in (cell, f"{cell} std")),
        pl.min_horizontal([f"_n {c}" for c in cells]).cast(COUNT).alias("n_tasks"),
        *(
            pl.sum_horizontal([f"_{p} {c}" for c in cells]).cast(COUNT).alias(name)
            for p, name in (("m", "n_models"), ("d", "n_diverged"), ("f", "n_failed"))
        ),
    )
    return _ordered(out, *(k for k in ("data_balance", "model_selection", "variant",
                                       "num_classes") if k in keys))  # fmt: skip


def _ordered(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Sorted by `columns`: null first (literature rows), then the paper's order (`_ORDERS`)."""
    return ordered(frame, _ORDERS, columns, null_first=True)
