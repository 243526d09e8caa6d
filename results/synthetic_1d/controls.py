"""What in reg+cls helps: paired comparisons with the controls, and the paper's L_extra measured.

Every comparison pairs a model A with the model B trained on the same data (stage, scenario,
sampling, noise, function, seed, the data options and dtype, and the sensitivity study's `flip`;
the same C where both have classes; the same lambda and lr for `reg+cls vs reg-scaled`) and
reports, via `results.paired.paired_stats`, how often A beats B (count, Wilson 95% interval,
exact sign test, Holm over the table) and the paired mean MSE difference A - B (negative: A
better) with a 95% bootstrap interval over target functions.

Test and noise stages compare test MSE (against the noisy targets) at the lambda chosen on
validation; the lambda search compares validation MSE at every lambda of the grid (and, for
Table 1's comparisons, pooled over C and lambda: `lam` and `num_classes` null). Rows with
`num_classes` null pool a comparison over C; rows with a C are that C alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from results._tables import checked_rows, ordered, typed
from results.paired import STAT_COLUMNS, paired_stats, rank_correlation
from results.synthetic_1d.schema import empty_rows

# (name, variant A, variant B, extra columns that must match besides the data and C).
COMPARISONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("reg+cls vs reg", "reg+cls", "reg", ()),
    ("reg+cls-balanced vs reg", "reg+cls-balanced", "reg", ()),
    ("reg+cls vs reg-scaled", "reg+cls", "reg-scaled", ("lam", "lr")),
    ("reg+cls-balanced vs reg-scaled", "reg+cls-balanced", "reg-scaled", ("lam", "lr")),
    ("reg-scaled vs reg", "reg-scaled", "reg", ()),
    ("reg+cls vs reg-tuned", "reg+cls", "reg-tuned", ()),
    ("reg-tuned vs reg", "reg-tuned", "reg", ()),
    ("cls-only vs reg", "cls-only", "reg", ()),
    ("reg+cls-balanced vs reg+cls", "reg+cls-balanced", "reg+cls", ()),
)
# Table 1's comparisons, also pooled over C and lambda on the lambda search.
TABLE1 = ("reg+cls vs reg", "reg+cls-balanced vs reg")
# The three comparisons of "What helps: CE or scale?".
WHAT_HELPS = ("reg+cls vs reg", "reg+cls vs reg-scaled", "reg-scaled vs reg")
CELL = ("comparison", "stage", "scenario", "noise_sigma", "sampling", "lam", "num_classes")
BOOTSTRAP = {"n_boot": 2000, "seed": 0}

_DATA = (
    "stage",
    "scenario",
    "sampling",
    "noise_sigma",
    "noise_distribution",
    "function_id",
    "seed",
    "total_samples",
    "function_set",
    "peak_share",
    "peak_bins",
    "validation_sampling",
    "dtype",
    "flip",  # the sensitivity study's protocol flip: pairs stay within their flip
)
NO_FLIP = "none"
_CLASSES = ("reg+cls", "reg+cls-balanced", "cls-only")
_CELL_TYPES = {
    "comparison": pl.String,
    "stage": pl.String,
    "scenario": pl.String,
    "noise_sigma": pl.Float64,
    "sampling": pl.String,
    "lam": pl.Float64,
    "num_classes": pl.Int64,
}
_USED = (*_DATA, "variant", "status", "num_classes", "lam", "lr", "pair_key", "val_mse", "test_mse")


def helps_stats(df: pl.DataFrame) -> pl.DataFrame:
    """Every paired comparison per cell, with counts, intervals and p-values.

    Columns: the cell (`comparison`, `stage`, `scenario`, `noise_sigma`, `sampling`, `lam` of A
    (of B when A has none), `num_classes`: null = pooled over C) and `results.paired`'s
    statistics (`n_pairs`, `n_wins`, `pct_wins`, `ci_low`, `ci_high`, `p_value`, `p_holm`,
    `mean_diff`, `mean_diff_ci_low`, `mean_diff_ci_high`, ...). Holm adjusts over the whole
    table. The bootstrap (2,000 resamples of functions, seed 0) is recorded in every row.

    Example:
        >>> helps_stats(read_rows("runs/synthetic_1d-quick-grid")).filter(
        ...     pl.col("comparison") == "reg+cls vs reg-scaled")
    """
    pairs = _all_pairs(_rows(df))
    if pairs.height == 0:
        return _empty_stats()
    per_class = pairs.filter(pl.col("num_classes").is_not_null())
    pooled = per_class.with_columns(pl.lit(None, dtype=pl.Int64).alias("num_classes"))
    # Table 1's cells: the lambda search pooled over C and lambda.
    table1 = pairs.filter(
        (pl.col("stage") == "lambda_search") & pl.col("comparison").is_in(TABLE1)
    ).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("num_classes"),
        pl.lit(None, dtype=pl.Float64).alias("lam"),
    )
    both = pl.concat([pairs, pooled, table1], how="vertical_relaxed")
    stats = paired_stats(both, CELL, **BOOTSTRAP)
    return ordered(stats, {}, ("comparison", "stage", "scenario", "noise_sigma", "sampling"))


def what_helps(df: pl.DataFrame, stats: pl.DataFrame | None = None) -> pl.DataFrame:
    """ "What helps: CE or scale?": per scenario x sampling of the test stage, pooled over C,
    reg+cls vs reg, reg+cls vs reg-scaled and reg-scaled vs reg with their intervals, and
    `share_from_ce` = mean gain of reg+cls over reg-scaled / mean gain of reg+cls over reg (the
    part of the reg+cls gain that the CE term accounts for; a point estimate)."""
    stats = helps_stats(df) if stats is None else stats
    rows = stats.filter(
        (pl.col("stage") == "test")
        & pl.col("num_classes").is_null()
        & pl.col("comparison").is_in(WHAT_HELPS)
    )
    columns = ["scenario", "sampling", "comparison", "lam", *STAT_COLUMNS]
    if rows.height == 0:
        return (
            _empty_stats()
            .select(columns)
            .with_columns(pl.lit(None, dtype=pl.Float64).alias("share_from_ce"))
        )
    total = rows.filter(pl.col("comparison") == "reg+cls vs reg").select(
        "scenario", "sampling", pl.col("mean_diff").alias("_total")
    )
    ce = rows.filter(pl.col("comparison") == "reg+cls vs reg-scaled").select(
        "scenario", "sampling", pl.col("mean_diff").alias("_ce")
    )
    share = total.join(ce, on=["scenario", "sampling"], how="inner").select(
        "scenario",
        "sampling",
        pl.when(pl.col("_total") != 0)
        .then(pl.col("_ce") / pl.col("_total"))
        .otherwise(None)
        .alias("share_from_ce"),
    )
    order = {c: i for i, c in enumerate(WHAT_HELPS)}
    out = rows.select(columns).join(share, on=["scenario", "sampling"], how="left")
    out = out.with_columns(
        pl.col("comparison").replace_strict(order, return_dtype=pl.Int64).alias("_order")
    )
    return (
        ordered(out, {}, ("scenario", "sampling"))
        .sort("scenario", "sampling", "_order", maintain_order=True)
        .drop("_order")
    )


def what_helps_by_lambda(df: pl.DataFrame, stats: pl.DataFrame | None = None) -> pl.DataFrame:
    """ "CE or scale?" at every lambda of the grid: the three comparisons of `what_helps` on the
    lambda search (validation MSE), per scenario x sampling x lambda, pooled over C."""
    stats = helps_stats(df) if stats is None else stats
    rows = stats.filter(
        (pl.col("stage") == "lambda_search")
        & pl.col("num_classes").is_null()
        & pl.col("lam").is_not_null()
        & pl.col("comparison").is_in(WHAT_HELPS)
    )
    columns = ["scenario", "sampling", "lam", "comparison", *STAT_COLUMNS]
    return ordered(rows.select(columns), {}, ("scenario", "sampling", "lam", "comparison"))


def l_extra_table(df: pl.DataFrame) -> pl.DataFrame:
    """ "Does the paper's explanation hold?": per scenario x sampling of the test stage, pooled
    over C, the paired change in test L_extra (Eq. 8; A - B, negative: A shrinks it) beside the
    paired change in test MSE, both with bootstrap intervals, and their Spearman rank correlation
    across pairs with a function-bootstrap interval; for reg+cls vs reg and reg-scaled vs reg.
    """
    pairs = _all_pairs(_rows(df), extra=("test_l_extra_gauss", "train_l_extra_gauss"))
    pairs = pairs.filter((pl.col("stage") == "test") & pl.col("comparison").is_in(WHAT_HELPS[::2]))
    keys = ["comparison", "scenario", "sampling"]
    columns = {
        "comparison": pl.String,
        "scenario": pl.String,
        "sampling": pl.String,
        "n_pairs": pl.Int64,
        "mean_d_l_extra": pl.Float64,
        "d_l_extra_ci_low": pl.Float64,
        "d_l_extra_ci_high": pl.Float64,
        "pct_l_extra_lower": pl.Float64,
        "mean_d_train_l_extra": pl.Float64,
        "mean_d_mse": pl.Float64,
        "d_mse_ci_low": pl.Float64,
        "d_mse_ci_high": pl.Float64,
        "spearman": pl.Float64,
        "spearman_ci_low": pl.Float64,
        "spearman_ci_high": pl.Float64,
    }
    usable = pairs.filter(
        pl.col("a_test_l_extra_gauss").is_finite().fill_null(False)
        & pl.col("b_test_l_extra_gauss").is_finite().fill_null(False)
        & pl.col("mse_a").is_finite().fill_null(False)
    )
    if usable.height == 0:
        return pl.DataFrame(schema=columns)
    usable = usable.with_columns(
        (pl.col("a_test_l_extra_gauss") - pl.col("b_test_l_extra_gauss")).alias("d_l_extra"),
        (pl.col("a_train_l_extra_gauss") - pl.col("b_train_l_extra_gauss")).alias("d_train"),
        (pl.col("mse_a") - pl.col("mse_b")).alias("d_mse"),
    )
    l_stats = paired_stats(
        usable.select(
            *keys,
            "function_id",
            pl.col("a_test_l_extra_gauss").alias("mse_a"),
            pl.col("b_test_l_extra_gauss").alias("mse_b"),
        ),
        keys,
        **BOOTSTRAP,
    ).select(
        *keys,
        "n_pairs",
        pl.col("mean_diff").alias("mean_d_l_extra"),
        pl.col("mean_diff_ci_low").alias("d_l_extra_ci_low"),
        pl.col("mean_diff_ci_high").alias("d_l_extra_ci_high"),
        pl.col("pct_wins").alias("pct_l_extra_lower"),
    )
    m_stats = paired_stats(usable.select(*keys, "function_id", "mse_a", "mse_b"), keys, **BOOTSTRAP)
    m_stats = m_stats.select(
        *keys,
        pl.col("mean_diff").alias("mean_d_mse"),
        pl.col("mean_diff_ci_low").alias("d_mse_ci_low"),
        pl.col("mean_diff_ci_high").alias("d_mse_ci_high"),
    )
    train = usable.group_by(keys).agg(pl.col("d_train").mean().alias("mean_d_train_l_extra"))
    rho = rank_correlation(usable, "d_l_extra", "d_mse", keys, **BOOTSTRAP).select(
        *keys,
        pl.col("rho").alias("spearman"),
        pl.col("ci_low").alias("spearman_ci_low"),
        pl.col("ci_high").alias("spearman_ci_high"),
    )
    out = l_stats.join(train, on=keys, how="left").join(m_stats, on=keys, how="left")
    out = out.join(rho, on=keys, how="left")
    return ordered(typed(out, columns), {}, keys)


def helps_by_accuracy(df: pl.DataFrame) -> pl.DataFrame:
    """How often reg+cls beats reg (test stage) per quartile of its classifier's test accuracy,
    per scenario (pooled over samplings and C): does a classifier that converged help more?"""
    pairs = _all_pairs(_rows(df), extra=("test_acc",))
    pairs = pairs.filter(
        (pl.col("stage") == "test")
        & (pl.col("comparison") == "reg+cls vs reg")
        & pl.col("a_test_acc").is_not_null()
    )
    columns = {
        "scenario": pl.String,
        "acc_quartile": pl.Int64,
        "acc_low": pl.Float64,
        "acc_high": pl.Float64,
        **{k: v for k, v in STAT_COLUMNS.items() if k != "p_holm"},
    }
    if pairs.height == 0:
        return pl.DataFrame(schema=columns)
    rank = pl.col("a_test_acc").rank("ordinal").over("scenario") - 1
    size = pl.len().over("scenario")
    pairs = pairs.with_columns((rank * 4 // size + 1).cast(pl.Int64).alias("acc_quartile"))
    stats = paired_stats(pairs, ["scenario", "acc_quartile"], **BOOTSTRAP)
    edges = pairs.group_by("scenario", "acc_quartile").agg(
        pl.col("a_test_acc").min().alias("acc_low"), pl.col("a_test_acc").max().alias("acc_high")
    )
    out = stats.join(edges, on=["scenario", "acc_quartile"], how="left")
    return ordered(typed(out, columns), {}, ("scenario", "acc_quartile"))


def comparison_pairs(df: pl.DataFrame, extra: Sequence[str] = ()) -> pl.DataFrame:
    """One row per compared pair: the cell, `function_id`, `seed`, `mse_a`, `mse_b` (null
    `mse_a`: A diverged) and, per column in `extra`, `a_<column>` and `b_<column>`."""
    return _all_pairs(_rows(df), tuple(extra))


def _all_pairs(rows: pl.DataFrame, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    frames = [
        _pairs(rows, name, a, b, match, extra)
        for name, a, b, match in COMPARISONS
        if not (rows.filter(pl.col("variant") == a).is_empty())
    ]
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(
            schema={
                **_CELL_TYPES,
                "function_id": pl.Int64,
                "seed": pl.Int64,
                "mse_a": pl.Float64,
                "mse_b": pl.Float64,
                **{f"{side}_{c}": pl.Float64 for c in extra for side in "ab"},
            }
        )
    return pl.concat(frames, how="vertical_relaxed")


def _pairs(
    rows: pl.DataFrame, name: str, a: str, b: str, match: tuple[str, ...], extra: tuple[str, ...]
) -> pl.DataFrame:
    """Pairs of one comparison: test MSE in the test and noise stages, validation MSE in the
    lambda search."""
    keys = [*_DATA, *match]
    if a in _CLASSES and b in _CLASSES:
        keys.append("num_classes")
    if b == "reg":  # reg_pairing = per_model: each reg+cls has its own reg ("" = the shared one)
        keys.append("pair_key")
    side_a = rows.filter(pl.col("variant") == a)
    side_b = rows.filter((pl.col("variant") == b) & (pl.col("status") == "ok"))
    metric = (
        pl.when(pl.col("stage") == "lambda_search")
        .then(pl.col("val_mse"))
        .otherwise(pl.col("test_mse"))
    )
    a_cols = side_a.select(
        *keys,
        *(["num_classes"] if "num_classes" not in keys else []),
        *([] if "lam" in match else [pl.col("lam").alias("_lam_a")]),
        pl.when(pl.col("status") == "ok").then(metric).otherwise(None).alias("mse_a"),
        *(pl.col(c).alias(f"a_{c}") for c in extra),
    )
    b_cols = side_b.select(
        *keys,
        *([] if "lam" in match else [pl.col("lam").alias("_lam_b")]),
        metric.alias("mse_b"),
        *(pl.col(c).alias(f"b_{c}") for c in extra),
    )
    joined = a_cols.join(b_cols, on=keys, how="inner", nulls_equal=True)
    if "lam" not in match:
        joined = joined.with_columns(pl.coalesce("_lam_a", "_lam_b").alias("lam"))
    return joined.select(
        pl.lit(name).alias("comparison"),
        "stage",
        "scenario",
        "noise_sigma",
        "sampling",
        pl.col("lam").cast(pl.Float64),
        pl.col("num_classes").cast(pl.Int64),
        "function_id",
        "seed",
        "mse_a",
        "mse_b",
        *(f"{side}_{c}" for c in extra for side in "ab"),
    )


def _rows(df: pl.DataFrame) -> pl.DataFrame:
    """Models that ran (finished or diverged); failed trials have no model to compare."""
    df = checked_rows(df, "results rows", empty_rows, _USED)
    stages = ("lambda_search", "test", "noise")  # the 1D stages (DIR rows may share a frame)
    # Rows written before `flip` existed read it as null: they had no flip.
    return df.filter(
        pl.col("status").is_in(("ok", "diverged")) & pl.col("stage").is_in(stages)
    ).with_columns(pl.col("flip").fill_null(NO_FLIP), pl.col("pair_key").fill_null(""))


def _empty_stats() -> pl.DataFrame:
    return pl.DataFrame(schema={**_CELL_TYPES, **STAT_COLUMNS})
