"""Polars analysis of the results rows: the tables behind the core paper's Table 1 and Figures 3-5.

Every function is a pure function of a rows frame (the contract's "results rows") and returns a
new frame. Only models that finished (`status == "ok"`) with a finite metric enter a mean; the
others are counted, in `n_diverged` (the loss became NaN/inf) and `n_failed` (no model: the trial
failed, or the scheduler stopped it early). Empty rows give empty frames with the same columns.
Standard deviations are sample standard deviations (ddof = 1), null for fewer than two models.
"""

from __future__ import annotations

from types import MappingProxyType

import polars as pl

from results._tables import (
    COUNT,
    RUN_STATUSES,
    checked_rows,
    count,
    helps_with_intervals,
    mean_ok,
    ordered,
    typed,
    usable,
    with_reg_partner,
)
from results.cluster_inference import paired_stats
from results.synthetic_1d.schema import empty_rows

SCENARIO_ORDER = ("clean", "noisy", "ood")
SAMPLING_ORDER = ("uniform", "mild", "moderate", "severe")
CLASS_MODE_ORDER = ("none", "imbalanced", "balanced")
VARIANT_ORDER = ("reg", "reg+cls", "reg+cls-balanced")
AVERAGE = "average"

# The core paper's Table 1 (validation; % of runs where reg+cls beats reg), as published:
# (sampling, class_mode, scenario, percent). Its "average" row is the mean of the four rows.
PAPER_TABLE1: tuple[tuple[str, str, str, float], ...] = tuple(
    (sampling, mode, scenario, value)
    for sampling, values in (
        ("uniform", (55.42, 59.83, 59.00, 65.00)),
        ("mild", (54.17, 55.75, 57.67, 62.42)),
        ("moderate", (47.50, 56.58, 47.50, 56.00)),
        ("severe", (36.83, 49.08, 34.25, 46.25)),
        (AVERAGE, (48.48, 55.31, 49.60, 57.42)),
    )
    for (mode, scenario), value in zip(
        (
            ("imbalanced", "clean"),
            ("imbalanced", "noisy"),
            ("balanced", "clean"),
            ("balanced", "noisy"),
        ),
        values,
        strict=True,
    )
)


def helps_table(df: pl.DataFrame) -> pl.DataFrame:
    """Table 1: % of validation runs where `reg+cls` beats the `reg` model trained on the same data.

    Stage "lambda_search", every scenario present (clean, noisy; ood when run), per sampling x
    scenario x class mode (imbalanced = variant "reg+cls", balanced = "reg+cls-balanced"), over
    C x lambda x functions x seeds. A pair is a reg+cls model and the reg model its row names
    (`paired_reg_row_key`); outcomes follow `results.cluster_inference` (a diverged model loses
    on either side, two diverged tie and count half; a failed trial drops its pair). Counts:
    `n_pairs`, `n_helps` (strict wins), `n_diverged_a` (reg+cls), `n_diverged_b` (reg),
    `n_dropped` (a failed side), `n_failed` (reg+cls trials that never ran), `n_unpaired` (no reg
    partner), `n_clusters` (target functions: the independent units; one reg per function and
    seed serves every C and lambda).

    One "average" row per scenario x class mode, like the paper's: its `pct_helps` is the mean
    of the sampling rows' percentages (the paper's convention; pairs weighted by 1 / the pairs
    of their sampling), its counts are sums. `ci_low`, `ci_high`, `p_value`: the sign-flip
    interval and test of 50% over functions (`results.cluster_inference`; NaN interval and
    `too_few_clusters` below 6 functions).
    """
    columns = {
        "scenario": pl.String,
        "class_mode": pl.String,
        "sampling": pl.String,
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
    pairs = _reg_pairs(df, "lambda_search", "val_mse")
    keys = ["scenario", "class_mode", "sampling"]
    cells = helps_with_intervals(pairs, keys, "function_id")
    scored = pairs.filter(pl.col("status_a").is_in(RUN_STATUSES) & _paired_ok)
    weights = scored.with_columns((1.0 / pl.len().over(keys)).alias("_weight"))
    unscored = cells.group_by(keys[:2]).agg(pl.col("n_failed", "n_unpaired").sum())
    average = (
        helps_with_intervals(weights, keys[:2], "function_id", weight="_weight")
        .drop("n_failed", "n_unpaired")
        .join(unscored, on=keys[:2], how="left")
        .with_columns(pl.lit(AVERAGE).alias("sampling"))
    )
    table = pl.concat([typed(cells, columns), typed(average, columns)])
    return _ordered(table, "scenario", "class_mode", "sampling")


# A pair whose reg ran (finished or diverged); a failed reg drops the pair.
_paired_ok = pl.col("status_b").is_in(RUN_STATUSES).fill_null(False)


def _reg_pairs(df: pl.DataFrame, stage: str, metric: str) -> pl.DataFrame:
    """The reg+cls rows of `stage` with their reg partner (`with_reg_partner`; the reg row may
    be of another stage)."""
    rows = _rows(df, stage).filter(pl.col("variant") != "reg")
    regs = _rows(df, None).filter(pl.col("variant") == "reg")
    return with_reg_partner(rows, regs, metric, pl.col(f"paired_reg_{metric}"))


def helps_table_wide(table: pl.DataFrame) -> pl.DataFrame:
    """Table 1 laid out as printed in the paper: rows = sampling, columns = "class_mode/scenario".

    Takes `helps_table`'s output; cells are `pct_helps`.
    """
    keys = _table1_keys(table)
    out = pl.DataFrame({"sampling": _table1_samplings(table)}, schema={"sampling": pl.String})
    for mode, scenario in keys:
        out = out.join(_table1_column(table, mode, scenario), on="sampling", how="left")
    return out


def paper_table1() -> pl.DataFrame:
    """The paper's published Table 1 as a long frame (sampling, class_mode, scenario, pct_helps)."""
    return pl.DataFrame(
        PAPER_TABLE1,
        schema={
            "sampling": pl.String,
            "class_mode": pl.String,
            "scenario": pl.String,
            "pct_helps": pl.Float64,
        },
        orient="row",
    )


def helps_vs_paper(table: pl.DataFrame) -> pl.DataFrame:
    """Table 1, ours beside the paper's: per "class_mode/scenario" an ours and a "... paper" column.

    Takes `helps_table`'s output. Covers every cell of ours or of the paper, so an empty table
    still shows the published numbers (and ood, absent from the paper, has a null paper column).
    """
    paper = paper_table1()
    both = pl.concat([table.select(paper.columns), paper])
    out = pl.DataFrame({"sampling": _table1_samplings(both)}, schema={"sampling": pl.String})
    for mode, scenario in _table1_keys(both):
        name = f"{mode}/{scenario}"
        out = out.join(_table1_column(table, mode, scenario), on="sampling", how="left")
        paper_column = _table1_column(paper, mode, scenario).rename({name: f"{name} paper"})
        out = out.join(paper_column, on="sampling", how="left")
    return out


def lambda_curves(df: pl.DataFrame) -> pl.DataFrame:
    """Figure 4: validation MSE vs lambda, one curve per C, with `reg` as the reference.

    Stage "lambda_search", per scenario x sampling x class mode x C x lambda: mean, std and
    number of finished models over functions x seeds, plus `n_diverged` / `n_failed`. The reg
    reference (`reg_val_mse_mean/std`, `reg_n`) is per scenario x sampling, over the distinct
    reg models paired with these reg+cls models (`paired_reg_row_key`, `paired_reg_val_mse`):
    the same numbers Table 1 compares against.
    """
    columns = {
        "scenario": pl.String,
        "sampling": pl.String,
        "class_mode": pl.String,
        "num_classes": pl.Int64,
        "lam": pl.Float64,
        **_stats_columns("val_mse"),
        "reg_val_mse_mean": pl.Float64,
        "reg_val_mse_std": pl.Float64,
        "reg_n": COUNT,
    }
    rows = _rows(df, "lambda_search").filter(pl.col("variant") != "reg")
    curves = rows.group_by("scenario", "sampling", "class_mode", "num_classes", "lam").agg(
        *_stats("val_mse")
    )
    reg = (
        rows.filter(pl.col("paired_reg_val_mse").is_finite())
        .unique(["paired_reg_row_key"])
        .group_by("scenario", "sampling")
        .agg(
            pl.col("paired_reg_val_mse").mean().alias("reg_val_mse_mean"),
            pl.col("paired_reg_val_mse").std().alias("reg_val_mse_std"),
            pl.len().cast(COUNT).alias("reg_n"),
        )
    )
    curves = curves.join(reg, on=["scenario", "sampling"], how="left")
    return _ordered(
        typed(curves, columns), "scenario", "sampling", "class_mode", "num_classes", "lam"
    )


def lambda_means(df: pl.DataFrame, num_classes: int | None = None) -> pl.DataFrame:
    """Mean validation MSE per scenario x class mode x lambda (the lambda-selection criterion).

    Stage "lambda_search", reg+cls models, pooled over samplings x C x functions x seeds (only
    class count `num_classes` when given), finished models only.
    """
    columns = {
        "scenario": pl.String,
        "class_mode": pl.String,
        "lam": pl.Float64,
        **_stats_columns("val_mse"),
    }
    rows = _rows(df, "lambda_search").filter(pl.col("variant") != "reg")
    if num_classes is not None:
        rows = rows.filter(pl.col("num_classes") == num_classes)
    means = rows.group_by("scenario", "class_mode", "lam").agg(*_stats("val_mse"))
    return _ordered(typed(means, columns), "scenario", "class_mode", "lam")


def selected_lambdas(df: pl.DataFrame) -> pl.DataFrame:
    """The lambda chosen on validation per scenario x class mode (Section 3.1, "Effect of lambda").

    Rule (the study applies its own copy; this reports it): the lambda with the lowest mean
    validation MSE over samplings x C x functions x seeds, status "ok" only, ties to the smaller
    lambda. Beside it, what the test stage used: rows of stage "test" with
    `lambda_source == "validation"` (`test_lam` is null unless they all used one lambda;
    `n_test_lams` distinct values), and `agrees` whether that is the chosen one. `at_grid_edge`:
    the chosen lambda is the smallest or largest lambda of the scenario and class mode's
    lambda_search rows (the optimum may lie outside the grid).
    """
    columns = {
        "scenario": pl.String,
        "class_mode": pl.String,
        "selected_lam": pl.Float64,
        "val_mse_mean": pl.Float64,
        "n_models": COUNT,
        "test_lam": pl.Float64,
        "n_test_lams": COUNT,
        "n_test_models": COUNT,
        "agrees": pl.Boolean,
        "at_grid_edge": pl.Boolean,
    }
    means = lambda_means(df)
    grid = means.group_by("scenario", "class_mode").agg(
        pl.col("lam").min().alias("_lam_min"), pl.col("lam").max().alias("_lam_max")
    )
    selected = (
        means.filter(pl.col("val_mse_mean").is_not_null())
        .sort("val_mse_mean", "lam")
        .group_by("scenario", "class_mode", maintain_order=True)
        .agg(
            pl.col("lam").first().alias("selected_lam"),
            pl.col("val_mse_mean").first(),
            pl.col("n").sum().cast(COUNT).alias("n_models"),
        )
        .join(grid, on=["scenario", "class_mode"], how="left")
        .with_columns(
            (
                (pl.col("selected_lam") == pl.col("_lam_min"))
                | (pl.col("selected_lam") == pl.col("_lam_max"))
            ).alias("at_grid_edge")
        )
        .drop("_lam_min", "_lam_max")
    )
    used = (
        _rows(df, "test")
        .filter((pl.col("variant") != "reg") & (pl.col("lambda_source") == "validation"))
        .group_by("scenario", "class_mode")
        .agg(
            pl.when(pl.col("lam").n_unique() == 1)
            .then(pl.col("lam").first())
            .otherwise(None)
            .alias("test_lam"),
            pl.col("lam").n_unique().cast(COUNT).alias("n_test_lams"),
            pl.len().cast(COUNT).alias("n_test_models"),
        )
    )
    out = selected.join(used, on=["scenario", "class_mode"], how="full", coalesce=True)
    out = out.with_columns(
        pl.when(pl.col("selected_lam").is_null() | pl.col("test_lam").is_null())
        .then(None)
        .otherwise(pl.col("selected_lam") == pl.col("test_lam"))
        .alias("agrees")
    )
    return _ordered(typed(out, columns), "scenario", "class_mode")


def classes_curves(df: pl.DataFrame, stage: str = "test") -> pl.DataFrame:
    """Figure 3: test MSE vs number of classes C per scenario x sampling, reg vs reg+cls.

    Mean and std over functions x seeds per variant and C. `reg` has no C: its statistics (over
    functions x seeds) are repeated at every C of the same scenario x sampling, so it plots as
    the flat reference line of the paper. `stage` "test" (Figure 3) or "noise".
    """
    _check_stage(stage)
    columns = {"scenario": pl.String, "sampling": pl.String, **_classes_columns()}
    curves = _mse_vs_classes(_rows(df, stage), ("scenario", "sampling"))
    return _ordered(typed(curves, columns), "scenario", "sampling", "variant", "num_classes")


def gaps(df: pl.DataFrame, stage: str = "test") -> pl.DataFrame:
    """Figure 3's printed gap per scenario x sampling x reg+cls variant.

    gap = mean over C of |mean test MSE of reg - mean test MSE of reg+cls at C|, the means being
    those of `classes_curves` (over functions x seeds, finished models); C values where either
    mean is missing are left out (`n_classes` says how many entered).
    """
    _check_stage(stage)
    columns = {
        "scenario": pl.String,
        "sampling": pl.String,
        "variant": pl.String,
        "class_mode": pl.String,
        "gap": pl.Float64,
        "n_classes": COUNT,
    }
    curves = classes_curves(df, stage)
    keys = ["scenario", "sampling", "num_classes"]
    reg = curves.filter(pl.col("variant") == "reg").select(
        *keys, pl.col("test_mse_mean").alias("reg_mean")
    )
    diff = (
        curves.filter(pl.col("variant") != "reg")
        .join(reg, on=keys, how="left")
        .with_columns((pl.col("reg_mean") - pl.col("test_mse_mean")).abs().alias("abs_diff"))
    )
    out = diff.group_by("scenario", "sampling", "variant", "class_mode").agg(
        pl.col("abs_diff").mean().alias("gap"),
        pl.col("abs_diff").is_not_null().sum().cast(COUNT).alias("n_classes"),
    )
    return _ordered(typed(out, columns), "scenario", "sampling", "variant")


def helps_on_test(df: pl.DataFrame, stage: str = "test") -> pl.DataFrame:
    """Figure 3 in numbers: how often, and by how much, reg+cls beats reg on test.

    Per scenario x sampling x reg+cls variant, at the lambda chosen on validation (the test and
    noise stages use one lambda per scenario): the Table 1 counts and cluster-aware % helps on
    test MSE (`helps_table`), the mean test MSE of reg+cls and of their paired reg models over
    the pairs where both finished, and `gain_pct` = 100 x (mean reg - mean reg+cls) / mean reg
    (positive: classification helps), with the sign-flip interval over functions of the mean
    gain (`gain_ci_low`, `gain_ci_high`, in MSE units). Rows of the noise stage are keyed by
    noise_sigma as well.
    """
    _check_stage(stage)
    keys = ["noise_sigma", "sampling"] if stage == "noise" else ["scenario", "sampling"]
    columns = {
        **{k: (pl.Float64 if k == "noise_sigma" else pl.String) for k in keys},
        "variant": pl.String,
        "n_pairs": COUNT,
        "n_clusters": COUNT,
        "n_helps": COUNT,
        "pct_helps": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "p_value": pl.Float64,
        "mse_reg_cls": pl.Float64,
        "mse_reg": pl.Float64,
        "gain_pct": pl.Float64,
        "gain_ci_low": pl.Float64,
        "gain_ci_high": pl.Float64,
        "too_few_clusters": pl.Boolean,
        "n_diverged_a": COUNT,
        "n_diverged_b": COUNT,
        "n_dropped": COUNT,
        "n_failed": COUNT,
    }
    pairs = _reg_pairs(df, stage, "test_mse")
    by = [*keys, "variant"]
    table = helps_with_intervals(pairs, by, "function_id")
    both = pl.col("mse_a").is_finite().fill_null(False) & pl.col("mse_b").is_finite().fill_null(
        False
    )
    means = pairs.group_by(by).agg(
        pl.col("mse_a").filter(both).mean().alias("mse_reg_cls"),
        pl.col("mse_b").filter(both).mean().alias("mse_reg"),
    )
    gains = paired_stats(
        pairs.filter(pl.col("status_b").is_not_null()), by, cluster="function_id"
    ).select(
        *by,
        (-pl.col("mean_diff_ci_high")).alias("gain_ci_low"),
        (-pl.col("mean_diff_ci_low")).alias("gain_ci_high"),
    )
    table = table.join(means, on=by, how="left").join(gains, on=by, how="left")
    table = table.with_columns(
        (100.0 * (pl.col("mse_reg") - pl.col("mse_reg_cls")) / pl.col("mse_reg")).alias("gain_pct")
    )
    return _ordered(typed(table, columns), *keys, "variant")


def noise_curves(df: pl.DataFrame) -> pl.DataFrame:
    """Figure 5: test MSE vs C per noise level sigma x sampling for reg, reg+cls, reg+cls balanced.

    Stage "noise"; mean and std over functions x seeds, reg repeated at every C as in Figure 3.
    """
    columns = {"noise_sigma": pl.Float64, "sampling": pl.String, **_classes_columns()}
    curves = _mse_vs_classes(_rows(df, "noise"), ("noise_sigma", "sampling"))
    return _ordered(typed(curves, columns), "noise_sigma", "sampling", "variant", "num_classes")


def optuna_trials(df: pl.DataFrame) -> pl.DataFrame:
    """One row per Optuna trial (stage "optuna"): its sampled (lambda, lr) and what it cost.

    A trial trains one pack (samplings x functions x seeds at one C) with one sampled
    (lam, lr), so the pair identifies it. `val_mse_mean` is over its finished models (the
    search's objective); `complete` is true when every model finished; `epochs_used` sums the
    epochs its models trained before the end or ASHA's stop.
    """
    columns = {
        "scenario": pl.String,
        "lam": pl.Float64,
        "lr": pl.Float64,
        "num_classes": pl.Int64,
        "val_mse_mean": pl.Float64,
        "n_models": COUNT,
        "n_ok": COUNT,
        "n_early_stopped": COUNT,
        "n_diverged": COUNT,
        "n_failed": COUNT,
        "epochs_used": COUNT,
        "complete": pl.Boolean,
    }
    status = pl.col("status")
    trials = (
        _rows(df, "optuna")
        .group_by("scenario", "lam", "lr")
        .agg(
            pl.col("num_classes").first(),
            mean_ok("val_mse").alias("val_mse_mean"),
            pl.len().cast(COUNT).alias("n_models"),
            count(status == "ok").alias("n_ok"),
            count(status == "early_stopped").alias("n_early_stopped"),
            count(status == "diverged").alias("n_diverged"),
            count(status == "failed").alias("n_failed"),
            pl.col("epochs_trained").sum().cast(COUNT).alias("epochs_used"),
        )
        .with_columns((pl.col("n_ok") == pl.col("n_models")).alias("complete"))
    )
    return _ordered(typed(trials, columns), "scenario", "lam", "lr")


def optuna_vs_grid(df: pl.DataFrame) -> pl.DataFrame:
    """Optuna's best (lambda, lr) per scenario vs the grid's validation lambda, and their cost.

    Optuna: the complete trial (see `optuna_trials`) with the lowest mean validation MSE (any
    trial with a mean when none is complete); `optuna_models` counts its stage's rows,
    `optuna_epochs` the epochs they trained. Grid: the imbalanced-class lambda chosen by the
    `selected_lambdas` rule (the Optuna stage trains imbalanced reg+cls), with the lr and the
    models (`grid_models`, `grid_epochs`) of that scenario's imbalanced reg+cls lambda search.
    The grid's mean pools every C, Optuna's one C: the lambdas compare, the MSEs only roughly.
    Scenarios without Optuna rows are left out.
    """
    columns = {
        "scenario": pl.String,
        "optuna_lam": pl.Float64,
        "optuna_lr": pl.Float64,
        "optuna_val_mse": pl.Float64,
        "optuna_trials": COUNT,
        "optuna_models": COUNT,
        "optuna_epochs": COUNT,
        "grid_lam": pl.Float64,
        "grid_lr": pl.Float64,
        "grid_val_mse": pl.Float64,
        "grid_models": COUNT,
        "grid_epochs": COUNT,
    }
    trials = optuna_trials(df)
    best = (
        trials.filter(pl.col("val_mse_mean").is_not_null())
        .sort(pl.col("complete").not_(), "val_mse_mean")
        .group_by("scenario", maintain_order=True)
        .agg(
            pl.col("lam").first().alias("optuna_lam"),
            pl.col("lr").first().alias("optuna_lr"),
            pl.col("val_mse_mean").first().alias("optuna_val_mse"),
        )
    )
    cost = trials.group_by("scenario").agg(
        pl.len().cast(COUNT).alias("optuna_trials"),
        pl.col("n_models").sum().cast(COUNT).alias("optuna_models"),
        pl.col("epochs_used").sum().cast(COUNT).alias("optuna_epochs"),
    )
    grid_choice = (
        selected_lambdas(df)
        .filter(pl.col("class_mode") == "imbalanced")
        .select("scenario", pl.col("selected_lam").alias("grid_lam"), "val_mse_mean")
        .rename({"val_mse_mean": "grid_val_mse"})
    )
    grid_cost = (
        _rows(df, "lambda_search")
        .filter((pl.col("variant") == "reg+cls") & (pl.col("class_mode") == "imbalanced"))
        .group_by("scenario")
        .agg(
            pl.col("lr").drop_nulls().first().alias("grid_lr"),
            pl.len().cast(COUNT).alias("grid_models"),
            pl.col("epochs_trained").sum().cast(COUNT).alias("grid_epochs"),
        )
    )
    out = (
        cost.join(best, on="scenario", how="left")
        .join(grid_choice, on="scenario", how="left")
        .join(grid_cost, on="scenario", how="left")
    )
    return _ordered(typed(out, columns), "scenario")


def row_counts(df: pl.DataFrame) -> pl.DataFrame:
    """Rows per study x stage x status: what the study folder holds."""
    columns = {"study": pl.String, "stage": pl.String, "status": pl.String, "n_rows": COUNT}
    rows = _rows(df, None, paper_only=False)
    counts = rows.group_by("study", "stage", "status").agg(pl.len().cast(COUNT).alias("n_rows"))
    return typed(counts, columns).sort("study", "stage", "status")


_ORDERS = MappingProxyType(
    {
        "scenario": SCENARIO_ORDER,
        "sampling": (*SAMPLING_ORDER, AVERAGE),
        "class_mode": CLASS_MODE_ORDER,
        "variant": VARIANT_ORDER,
    }
)

_STAGES = ("lambda_search", "test", "noise", "optuna")

_USED_COLUMNS = (
    "row_key",
    "function_id",
    "study",
    "stage",
    "scenario",
    "sampling",
    "noise_sigma",
    "variant",
    "class_mode",
    "num_classes",
    "lam",
    "lr",
    "lambda_source",
    "status",
    "epochs_trained",
    "val_mse",
    "test_mse",
    "paired_reg_row_key",
    "paired_reg_val_mse",
    "paired_reg_test_mse",
)


def _rows(df: pl.DataFrame, stage: str | None, paper_only: bool = True) -> pl.DataFrame:
    """The rows of one stage (all when None); checks the columns the analysis reads.

    The paper's tables see only the paper's variants (`VARIANT_ORDER`); the controls have
    their own tables (`results.synthetic_1d.controls`).
    """
    df = checked_rows(df, "results rows", empty_rows, _USED_COLUMNS)
    if paper_only:
        df = df.filter(pl.col("variant").is_in(VARIANT_ORDER))
    return df if stage is None else df.filter(pl.col("stage") == stage)


def _check_stage(stage: str) -> None:
    if stage not in ("test", "noise"):
        raise ValueError(f"stage: got {stage!r}; accepted values: 'test', 'noise'")


def _stats(metric: str) -> list[pl.Expr]:
    """Mean, std and count over usable models, and the counts of those that are not."""
    values = pl.col(metric).filter(usable(metric))
    status = pl.col("status")
    return [
        values.mean().alias(f"{metric}_mean"),
        values.std().alias(f"{metric}_std"),
        count(usable(metric)).alias("n"),
        count(status == "diverged").alias("n_diverged"),
        count(~status.is_in(RUN_STATUSES)).alias("n_failed"),
    ]


def _stats_columns(metric: str) -> dict[str, pl.DataType]:
    """The columns `_stats(metric)` makes, typed."""
    return {
        f"{metric}_mean": pl.Float64,
        f"{metric}_std": pl.Float64,
        "n": COUNT,
        "n_diverged": COUNT,
        "n_failed": COUNT,
    }


def _classes_columns() -> dict[str, pl.DataType]:
    """Columns of `_mse_vs_classes` after its keys."""
    return {
        "variant": pl.String,
        "class_mode": pl.String,
        "num_classes": pl.Int64,
        **_stats_columns("test_mse"),
    }


def _mse_vs_classes(rows: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """Test MSE per keys x variant x C; reg (no C) repeated at each C of its keys."""
    group = [*keys, "variant", "class_mode"]
    cls = rows.filter(pl.col("variant") != "reg")
    reg = rows.filter(pl.col("variant") == "reg")
    cls_stats = cls.group_by(*group, "num_classes").agg(*_stats("test_mse"))
    reg_stats = (
        reg.group_by(*group)
        .agg(*_stats("test_mse"))
        .join(cls.select(*keys, "num_classes").unique(), on=list(keys), how="inner")
    )
    return pl.concat([cls_stats, reg_stats.select(cls_stats.columns)])


def _ordered(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Sorted by `columns`, known values in the paper's order (`_ORDERS`)."""
    return ordered(frame, _ORDERS, columns)


def _table1_keys(table: pl.DataFrame) -> list[tuple[str, str]]:
    """(class_mode, scenario) columns of a Table 1 layout, in the paper's order."""
    pairs = table.select("class_mode", "scenario").unique()
    return [
        (row["class_mode"], row["scenario"])
        for row in _ordered(pairs, "class_mode", "scenario").iter_rows(named=True)
    ]


def _table1_samplings(table: pl.DataFrame) -> list[str]:
    samplings = table.select("sampling").unique()
    return _ordered(samplings, "sampling")["sampling"].to_list()


def _table1_column(table: pl.DataFrame, mode: str, scenario: str) -> pl.DataFrame:
    return table.filter((pl.col("class_mode") == mode) & (pl.col("scenario") == scenario)).select(
        "sampling", pl.col("pct_helps").alias(f"{mode}/{scenario}")
    )
