"""The method zoo's league: every variant against the `reg` model of its data set (issue 10).

Each zoo row at the test stage names the `reg` model trained on the same data
(`paired_reg_row_key`, `paired_reg_test_mse`: the 1D pairing). `league_table` counts, per
scenario x sampling x variant (pooled over C, functions and seeds), how often the variant beats
its reg and by how much, with `results.cluster_inference`'s outcome rule (a win is
`mse_variant < mse_reg`; a diverged model loses on either side, two diverged tie; a failed
trial drops its pair) and its inference over target functions, the independent units (one reg
per function and seed serves every C): the sign-flip test of 50% wins inverted into the % wins
interval, the same for the mean gain; p_holm: Holm over the variants of one scenario x
sampling. `rank` orders the variants of one scenario x sampling by % wins, ties by mean gain
(1 = best; reg is not ranked).
"""

from __future__ import annotations

import polars as pl

from results._tables import check_frame, ordered, typed, with_reg_partner
from results.cluster_inference import paired_stats
from search_spaces.synthetic_1d_zoo import ZOO_VARIANTS

STAGE = "test"
BASELINE = "reg"
SHOTS = ("many", "medium", "few")
# The report's order of variants (regcls/methods.py METHODS), reg first.
VARIANT_ORDER = ZOO_VARIANTS
ORDERS = {
    "scenario": ("clean", "noisy", "ood"),
    "sampling": ("uniform", "mild", "moderate", "severe"),
    "variant": VARIANT_ORDER,
}
LEAGUE_COLUMNS: dict[str, pl.DataType] = {
    "scenario": pl.String,
    "sampling": pl.String,
    "variant": pl.String,
    "n_pairs": pl.Int64,
    "n_clusters": pl.Int64,
    "pct_wins": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "mean_gain": pl.Float64,
    "gain_ci_low": pl.Float64,
    "gain_ci_high": pl.Float64,
    "gain_pct": pl.Float64,
    "verdict": pl.String,
    "rank": pl.Int64,
    "n_wins": pl.Int64,
    "n_ties": pl.Int64,
    "n_diverged_a": pl.Int64,
    "n_diverged_b": pl.Int64,
    "n_dropped": pl.Int64,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
    "too_few_clusters": pl.Boolean,
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
    """One row per test-stage variant model and its paired reg: `scenario`, `sampling`,
    `variant`, `num_classes`, `function_id`, `seed`, `mse_a`, `status_a` (the variant's test
    MSE, null unless it finished), `mse_b`, `status_b` (its reg's; null status: no reg)."""
    check_frame(df, "results rows")
    rows = df.filter(pl.col("stage") == STAGE)
    if "status" not in rows.columns:  # rows without a status: finished iff the MSE is finite
        finite = pl.col("test_mse").is_finite().fill_null(False)
        rows = rows.with_columns(
            pl.when(finite).then(pl.lit("ok")).otherwise(pl.lit("diverged")).alias("status")
        )
    rows = rows.with_columns(
        pl.lit(None, pl.String).alias(c)
        for c in ("row_key", "paired_reg_row_key")
        if c not in rows.columns
    )
    paired = with_reg_partner(
        rows.filter(pl.col("variant") != BASELINE),
        rows.filter(pl.col("variant") == BASELINE),
        "test_mse",
        pl.col("paired_reg_test_mse"),
    )
    return paired.select(
        "scenario",
        "sampling",
        "variant",
        "num_classes",
        "function_id",
        "seed",
        "mse_a",
        "status_a",
        "mse_b",
        "status_b",
    )


def league_table(df: pl.DataFrame) -> pl.DataFrame:
    """Per scenario x sampling x variant (test stage, pooled over C, functions and seeds): the
    league row of the module docstring. Columns `LEAGUE_COLUMNS`: `n_pairs`, `n_clusters`
    (functions), `pct_wins` (ties half) with its `ci_low`/`ci_high` (percent, over functions),
    `mean_gain` = mean (mse_reg - mse_variant) over the pairs where both finished (positive:
    the variant is better) with `gain_ci_low`/`gain_ci_high`, `gain_pct` = 100 x mean_gain /
    mean mse_reg of those pairs, `verdict` (`results.verdicts`), `rank`, the counts, the
    sign-flip `p_value` and `p_holm`, `too_few_clusters` (no interval below 6 functions).

    Example:
        >>> league_table(read_rows("runs/synthetic_1d_zoo-quick-grid")).filter(
        ...     pl.col("sampling") == "severe")
    """
    pairs = zoo_pairs(df).filter(pl.col("status_b").is_not_null())
    if pairs.height == 0:
        return pl.DataFrame(schema=LEAGUE_COLUMNS)
    by = ["scenario", "sampling", "variant"]
    stats = paired_stats(pairs, by, cluster="function_id", holm_by=by[:2])
    table = stats.with_columns(
        (-pl.col("mean_diff")).alias("mean_gain"),
        (-pl.col("mean_diff_ci_high")).alias("gain_ci_low"),
        (-pl.col("mean_diff_ci_low")).alias("gain_ci_high"),
        (-100.0 * pl.col("mean_diff") / pl.col("mean_b")).alias("gain_pct"),
    )
    table = table.with_columns(
        pl.struct(
            pl.col("pct_wins").fill_nan(None),
            pl.col("mean_gain").fill_nan(None),
        )
        .rank("min", descending=True)
        .over("scenario", "sampling")
        .cast(pl.Int64)
        .alias("rank")
    )
    table = typed(table, LEAGUE_COLUMNS)
    return ordered(table, ORDERS, ["scenario", "sampling"]).sort(
        [*_order_keys(("scenario", "sampling")), "rank", "variant"], maintain_order=True
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
