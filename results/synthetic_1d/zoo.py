"""The method zoo's league: every variant against the `reg` model of its data set (issue 10).

Each zoo row at the test stage carries the test MSE of the `reg` model trained on the same data
(`paired_reg_test_mse`, the 1D pairing); a `lam * MSE + CE` variant (a row with a lambda) also
pairs with the `reg-scaled` model (lam * MSE alone) of the same data at the same lambda, which
isolates the CE term from the loss scale. `league_table` counts, per scenario x sampling x
variant x `vs` (the baseline: reg | reg-scaled; pooled over C, functions and seeds), how often
the variant beats its baseline and by how much, with `results.paired.paired_stats`'
conventions: a win is `mse_variant < mse_baseline`; a diverged variant is a pair it does not
win and has no gain; a pair whose baseline diverged is no pair. Intervals: Wilson for the % of
wins, a bootstrap resampling target functions for the mean gain; p_holm: the exact sign test,
Holm-adjusted over the whole table. `rank` orders the variants of one scenario x sampling x vs
by % wins, ties by mean gain (1 = best; reg is not ranked).
"""

from __future__ import annotations

import polars as pl

from results._tables import check_frame, ordered, typed
from results.paired import paired_stats
from search_spaces.synthetic_1d_zoo import ZOO_VARIANTS

STAGE = "test"
BASELINE = "reg"
SCALED = "reg-scaled"  # lam * MSE alone: the baseline of the lam * MSE + CE variants' second row
BASELINES = (BASELINE, SCALED)
SHOTS = ("many", "medium", "few")
# The report's order of variants (regcls/methods.py METHODS), reg first, the control last.
VARIANT_ORDER = (*ZOO_VARIANTS, SCALED)
ORDERS = {
    "scenario": ("clean", "noisy", "ood"),
    "sampling": ("uniform", "mild", "moderate", "severe"),
    "variant": VARIANT_ORDER,
    "vs": BASELINES,
}
LEAGUE_COLUMNS: dict[str, pl.DataType] = {
    "scenario": pl.String,
    "sampling": pl.String,
    "variant": pl.String,
    "vs": pl.String,
    "n_pairs": pl.Int64,
    "pct_wins": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "mean_gain": pl.Float64,
    "rank": pl.Int64,
    "n_wins": pl.Int64,
    "n_diverged": pl.Int64,
    "gain_ci_low": pl.Float64,
    "gain_ci_high": pl.Float64,
    "gain_pct": pl.Float64,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
    "n_clusters": pl.Int64,
    "n_boot": pl.Int64,
    "bootstrap_seed": pl.Int64,
}
SHOT_COLUMNS: dict[str, pl.DataType] = {
    "scenario": pl.String,
    "sampling": pl.String,
    "variant": pl.String,
    "n_models": pl.Int64,
    **{f"mse_{shot}": pl.Float64 for shot in SHOTS},
    "mse_all": pl.Float64,
}
LAMBDA_COLUMNS: dict[str, pl.DataType] = {
    "scenario": pl.String,
    "variant": pl.String,
    "lam": pl.Float64,
    "lambda_source": pl.String,
}


def zoo_pairs(df: pl.DataFrame) -> pl.DataFrame:
    """One row per test-stage variant model and baseline: `scenario`, `sampling`, `variant`,
    `vs`, `num_classes`, `function_id`, `seed`, `mse_a` (the variant's test MSE; null when it
    diverged or failed), `mse_b` (the baseline's). Every model pairs with its reg (`vs` reg); a
    model with a lambda (not reg-scaled itself) also with the reg-scaled of its data and lambda
    (`vs` reg-scaled; null `mse_b` when there is none)."""
    check_frame(df, "results rows")
    rows = df.filter(pl.col("stage") == STAGE)
    own = ["scenario", "sampling", "variant", "num_classes", "function_id", "seed"]
    vs_reg = rows.filter(pl.col("variant") != BASELINE).select(
        *own,
        pl.lit(BASELINE).alias("vs"),
        pl.col("test_mse").alias("mse_a"),
        pl.col("paired_reg_test_mse").alias("mse_b"),
    )
    data = ["scenario", "sampling", "function_id", "seed", "lam"]
    scaled = rows.filter(pl.col("variant") == SCALED).select(
        *data, pl.col("test_mse").alias("mse_b")
    )
    vs_scaled = (
        rows.filter(pl.col("lam").is_not_null() & (pl.col("variant") != SCALED))
        .join(scaled, on=data, how="inner", nulls_equal=True)
        .select(*own, pl.lit(SCALED).alias("vs"), pl.col("test_mse").alias("mse_a"), "mse_b")
    )
    return pl.concat([vs_reg, vs_scaled], how="vertical_relaxed")


def league_table(df: pl.DataFrame, n_boot: int = 2000, seed: int = 0) -> pl.DataFrame:
    """Per scenario x sampling x variant x vs (test stage, pooled over C, functions and seeds):
    the league row of the module docstring. Columns `LEAGUE_COLUMNS`: `n_pairs`, `pct_wins` with its
    Wilson `ci_low`/`ci_high` (percent), `mean_gain` = mean (mse_reg - mse_variant) over the
    pairs where the variant did not diverge (positive: the variant is better) with its
    function-bootstrap `gain_ci_low`/`gain_ci_high`, `gain_pct` = 100 x mean_gain / mean
    mse_reg of those pairs, `rank`, the sign test's `p_value` and `p_holm`.

    Example:
        >>> league_table(read_rows("runs/synthetic_1d_zoo-quick-grid")).filter(
        ...     pl.col("sampling") == "severe")
    """
    pairs = zoo_pairs(df)
    if pairs.height == 0:
        return pl.DataFrame(schema=LEAGUE_COLUMNS)
    by = ["scenario", "sampling", "variant", "vs"]
    stats = paired_stats(pairs, by, n_boot=n_boot, seed=seed)
    ok = pl.col("mse_a").is_finite().fill_null(False) & pl.col("mse_b").is_finite().fill_null(False)
    reg_mse = pairs.filter(ok).group_by(by).agg(pl.col("mse_b").mean().alias("mse_reg"))
    table = stats.join(reg_mse, on=by, how="left").with_columns(
        (-pl.col("mean_diff")).alias("mean_gain"),
        (-pl.col("mean_diff_ci_high")).alias("gain_ci_low"),
        (-pl.col("mean_diff_ci_low")).alias("gain_ci_high"),
        (-100.0 * pl.col("mean_diff") / pl.col("mse_reg")).alias("gain_pct"),
    )
    table = table.with_columns(
        pl.struct(
            pl.col("pct_wins").fill_nan(None),
            pl.col("mean_gain").fill_nan(None),
        )
        .rank("min", descending=True)
        .over("scenario", "sampling", "vs")
        .cast(pl.Int64)
        .alias("rank")
    )
    table = typed(table, LEAGUE_COLUMNS)
    return ordered(table, ORDERS, ["scenario", "sampling"]).sort(
        [*_order_keys(("scenario", "sampling", "vs")), "rank", "variant"], maintain_order=True
    )


def shot_table(df: pl.DataFrame) -> pl.DataFrame:
    """Per scenario x sampling x variant (reg included; test stage, pooled over C, functions
    and seeds): the mean test MSE over the many-, medium- and few-shot bins (`mse_many`,
    `mse_medium`, `mse_few`; each over the models where it is defined) and over all test samples
    (`mse_all`), of the models that finished; `n_models` counts them."""
    check_frame(df, "results rows")
    rows = df.filter((pl.col("stage") == STAGE) & (pl.col("status") == "ok"))
    if rows.height == 0:
        return pl.DataFrame(schema=SHOT_COLUMNS)
    table = rows.group_by("scenario", "sampling", "variant").agg(
        pl.len().alias("n_models"),
        *(pl.col(f"test_mse_{shot}").drop_nans().mean().alias(f"mse_{shot}") for shot in SHOTS),
        pl.col("test_mse").drop_nans().mean().alias("mse_all"),
    )
    return ordered(typed(table, SHOT_COLUMNS), ORDERS, ["scenario", "sampling", "variant"])


def selected_lambdas(df: pl.DataFrame) -> pl.DataFrame:
    """The lambda each lambda variant trained with on test, per scenario, and where it came
    from (`validation`: chosen on the lambda search; `given`)."""
    check_frame(df, "results rows")
    rows = df.filter((pl.col("stage") == STAGE) & pl.col("lam").is_not_null())
    table = typed(rows.unique(list(LAMBDA_COLUMNS)), LAMBDA_COLUMNS)
    return ordered(table, ORDERS, ["scenario", "variant"])


def zoo_tables(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The zoo report's tables by CSV stem: `league`, `per_shot_mse`, `selected_lambdas`."""
    return {
        "league": league_table(df),
        "per_shot_mse": shot_table(df),
        "selected_lambdas": selected_lambdas(df),
    }


def _order_keys(columns: tuple[str, ...]) -> list[pl.Expr]:
    keys = []
    for column in columns:
        mapping = {value: i for i, value in enumerate(ORDERS[column])}
        keys.append(
            pl.col(column).replace_strict(mapping, default=len(mapping), return_dtype=pl.Int64)
        )
        keys.append(pl.col(column))
    return keys
