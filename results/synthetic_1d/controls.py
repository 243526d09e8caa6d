"""What in reg+cls helps: paired comparisons with the controls, and the paper's L_extra measured.

Every comparison pairs a model A with the model B trained on the same data (stage, scenario,
sampling, noise, function, seed, the data options and dtype, and the sensitivity study's `flip`;
the same C where both have classes; the same lambda (and lr) where both have one) and reports,
via `results.cluster_inference.paired_stats`, how often A beats B and the paired mean MSE
difference A - B (negative: A better), each with a 95% interval and a test over the target
functions, the independent units: one reg (reg-scaled, reg-tuned) per (function, seed) is shared
by every C, and the seeds of one function move together. Outcomes (diverged on either side,
failed trials dropped) follow `results.cluster_inference`.

Test and noise stages compare test MSE (against the noisy targets) at the lambda chosen on
validation; the lambda search compares validation MSE at every lambda of the grid (and, for
Table 1's comparisons, pooled over C and lambda: `lam` and `num_classes` null), reg-tuned per
weight decay of its sweep (`weight_decay`; `reg+cls vs reg-tuned` only where reg-tuned has its
chosen weight decay: the test and noise stages). Rows with `num_classes` null pool a comparison
over C; rows with a C are that C alone. Holm adjusts within one cell: the comparisons of one
stage x scenario x sigma x sampling x C (x lambda in the lambda search).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from results._tables import checked_rows, ordered, typed
from results.cluster_inference import (
    STAT_COLUMNS,
    holm_within,
    interval_of,
    min_clusters,
    paired_stats,
    ratio_interval,
    sign_patterns,
    spearman,
)
from results.synthetic_1d.schema import empty_rows
from results.verdicts import share_verdict

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
    ("reg+cls-balanced vs reg+cls", "reg+cls-balanced", "reg+cls", ("lam", "lr")),
)
# Compared only where reg-tuned runs at its chosen weight decay (not against its sweep).
_CHOSEN_WEIGHT_DECAY_ONLY = ("reg+cls vs reg-tuned",)
# Table 1's comparisons, also pooled over C and lambda on the lambda search.
TABLE1 = ("reg+cls vs reg", "reg+cls-balanced vs reg")
# The three comparisons of "What helps: CE or scale?".
WHAT_HELPS = ("reg+cls vs reg", "reg+cls vs reg-scaled", "reg-scaled vs reg")
# "Does A add anything beyond the control?": (A, control); the share of A's gain over reg that
# the control does not reach.
SHARES: tuple[tuple[str, str], ...] = (
    ("reg+cls", "reg-scaled"),
    ("reg+cls-balanced", "reg-scaled"),
    ("reg+cls", "reg-tuned"),
)
CELL = (
    "comparison",
    "stage",
    "scenario",
    "noise_sigma",
    "sampling",
    "lam",
    "weight_decay",
    "num_classes",
)
CLUSTER = "function_id"

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
    "weight_decay": pl.Float64,
    "num_classes": pl.Int64,
}
_USED = (
    *_DATA,
    "variant",
    "status",
    "num_classes",
    "lam",
    "lr",
    "weight_decay",
    "pair_key",
    "val_mse",
    "test_mse",
)
SHARE_COLUMNS: dict[str, pl.DataType] = {
    "stage": pl.String,
    "scenario": pl.String,
    "noise_sigma": pl.Float64,
    "sampling": pl.String,
    "variant": pl.String,
    "control": pl.String,
    "n_pairs": pl.Int64,
    "n_control_pairs": pl.Int64,
    "n_clusters": pl.Int64,
    "gain": pl.Float64,
    "control_gain": pl.Float64,
    "share": pl.Float64,
    "share_ci_low": pl.Float64,
    "share_ci_high": pl.Float64,
    "share_verdict": pl.String,
}


def helps_stats(df: pl.DataFrame) -> pl.DataFrame:
    """Every paired comparison per cell, with counts, intervals, tests and verdicts.

    Columns: the cell (`comparison`, `stage`, `scenario`, `noise_sigma`, `sampling`, `lam` of A
    (of B when A has none), `weight_decay` of reg-tuned where it is compared, `num_classes`:
    null = pooled over C) and `results.cluster_inference.STAT_COLUMNS` (`n_pairs`,
    `n_clusters` = functions, `pct_wins`, `ci_low`, `ci_high`, `p_value`, `p_holm`,
    `mean_diff` and its interval, the diverged and dropped counts, `verdict`, ...).

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
    stats = paired_stats(both, CELL, cluster=CLUSTER, holm_by=[])
    stats = holm_within(stats, _HOLM_FAMILY)
    return ordered(stats, {}, ("comparison", "stage", "scenario", "noise_sigma", "sampling"))


# One Holm family: the comparisons of one cell (lambda only distinguishes lambda-search cells;
# in the test and noise stages the comparisons of a cell differ in which side has a lambda).
_HOLM_FAMILY = (
    pl.col("stage"),
    pl.col("scenario"),
    pl.col("noise_sigma"),
    pl.col("sampling"),
    pl.col("num_classes"),
    pl.when(pl.col("stage") == "lambda_search").then(pl.col("lam")).alias("family_lam"),
)


def what_helps(df: pl.DataFrame, stats: pl.DataFrame | None = None) -> pl.DataFrame:
    """ "What helps: CE or scale?": per scenario x sampling of the test stage, pooled over C,
    reg+cls vs reg, reg+cls vs reg-scaled and reg-scaled vs reg with their intervals and
    verdicts, and the share of reg+cls's gain over reg that the CE term carries (`share`,
    `share_ci_low`, `share_ci_high`, `share_verdict`: `gain_shares` for reg+cls / reg-scaled)."""
    stats = helps_stats(df) if stats is None else stats
    rows = stats.filter(
        (pl.col("stage") == "test")
        & pl.col("num_classes").is_null()
        & pl.col("comparison").is_in(WHAT_HELPS)
    )
    share_columns = {c: SHARE_COLUMNS[c] for c in ("share", "share_ci_low", "share_ci_high")}
    share_columns["share_verdict"] = pl.String
    columns = ["scenario", "sampling", "comparison", "lam", *STAT_COLUMNS]
    if rows.height == 0:
        empty = _empty_stats().select(columns)
        return empty.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in share_columns.items())
    shares = gain_shares(df).filter(
        (pl.col("stage") == "test") & (pl.col("variant") == "reg+cls")
        & (pl.col("control") == "reg-scaled")
    ).select("scenario", "sampling", *share_columns)  # fmt: skip
    order = {c: i for i, c in enumerate(WHAT_HELPS)}
    out = rows.select(columns).join(shares, on=["scenario", "sampling"], how="left")
    out = out.with_columns(
        pl.col("comparison").replace_strict(order, return_dtype=pl.Int64).alias("_order")
    )
    return (
        ordered(out, {}, ("scenario", "sampling"))
        .sort("scenario", "sampling", "_order", maintain_order=True)
        .drop("_order")
    )


def gain_shares(df: pl.DataFrame, confidence: float = 0.95) -> pl.DataFrame:
    """Does A add anything beyond a control? Per test / noise cell (pooled over C) and pair of
    `SHARES`: `gain` = mean (MSE reg - MSE A), `control_gain` = mean (MSE reg - MSE control),
    and `share` = (gain - control_gain) / gain, the part of A's gain over reg the control does
    not reach (for reg+cls vs reg-scaled: what the CE term carries), with a joint interval over
    functions (`results.cluster_inference.ratio_interval`: the sign-flip test of
    gain_A - control_gain - share * gain_A = 0, inverted). The share, and its interval, are null
    where the gain over reg is not distinguishable from 0 or the functions are too few;
    `share_verdict` says so, or reads the interval ("no detectable contribution; at most X% of
    the gain")."""
    pairs = _all_pairs(_rows(df)).filter(
        pl.col("stage").is_in(("test", "noise")) & pl.col("mse_a").is_finite().fill_null(False)
        & pl.col("mse_b").is_finite().fill_null(False)
        & pl.col("status_a").eq("ok") & pl.col("status_b").eq("ok")
    )  # fmt: skip
    cell = ["stage", "scenario", "noise_sigma", "sampling"]
    out = []
    for variant, control in SHARES:
        gains = pairs.filter(
            pl.col("comparison").is_in((f"{variant} vs reg", f"{control} vs reg"))
        ).with_columns((pl.col("mse_b") - pl.col("mse_a")).alias("gain"))
        for key, part in gains.group_by(cell, maintain_order=True):
            a = part.filter(pl.col("comparison") == f"{variant} vs reg")
            c = part.filter(pl.col("comparison") == f"{control} vs reg")
            if c["lam"].drop_nulls().len():  # reg-scaled: at the lambda(s) of A only
                c = c.filter(pl.col("lam").is_in(a["lam"].drop_nulls().unique().implode()))
            if a.height and c.height:
                out.append(_share_row(dict(zip(cell, key, strict=True)), a, c, confidence))
                out[-1].update(variant=variant, control=control)
    if not out:
        return pl.DataFrame(schema=SHARE_COLUMNS)
    table = typed(pl.DataFrame(out), SHARE_COLUMNS)
    return ordered(table, {}, (*cell, "variant", "control"))


def _share_row(
    cell: dict[str, object], own: pl.DataFrame, control: pl.DataFrame, confidence: float
) -> dict[str, object]:
    """One `gain_shares` row: per function, the contributions of A's and the control's gains to
    their pooled means, and the Fieller-type sign-flip interval of the share."""
    functions = sorted(set(own[CLUSTER].to_list()) | set(control[CLUSTER].to_list()))
    own_g = _per_function(own, functions) / own.height
    control_g = _per_function(control, functions) / control.height
    gain, control_gain = float(own_g.sum()), float(control_g.sum())
    reason = None
    share = low = high = float("nan")
    if len(functions) < min_clusters(confidence):
        reason = f"too few independent units ({len(functions)} < {min_clusters(confidence)})"
    else:
        patterns = sign_patterns(len(functions), key=tuple(cell.values()))
        estimate, low, high, bounded = ratio_interval(
            own_g - control_g, own_g, confidence=confidence, patterns=patterns
        )
        if bounded:
            share = estimate
        else:
            reason = "the gain over reg is not distinguishable from 0"
    return {
        **cell,
        "n_pairs": own.height,
        "n_control_pairs": control.height,
        "n_clusters": len(functions),
        "gain": gain,
        "control_gain": control_gain,
        "share": share,
        "share_ci_low": low,
        "share_ci_high": high,
        "share_verdict": share_verdict(share, low, high, reason),
    }


def _per_function(pairs: pl.DataFrame, functions: list[object]) -> np.ndarray:
    """Sum of the gains per function, in `functions` order (0 where a function has none)."""
    sums = pairs.group_by(CLUSTER).agg(pl.col("gain").sum())
    lookup = dict(zip(sums[CLUSTER].to_list(), sums["gain"].to_list(), strict=True))
    return np.array([lookup.get(f, 0.0) for f in functions], dtype=np.float64)


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


def l_extra_table(df: pl.DataFrame, confidence: float = 0.95) -> pl.DataFrame:
    """ "Does the paper's explanation hold?": per scenario x sampling of the test stage, pooled
    over C, the paired change in test L_extra (Eq. 8; A - B, negative: A shrinks it) beside the
    paired change in test MSE, both with intervals over functions, and their rank correlation:
    `spearman` across all pairs (a point estimate: it mixes functions of different scales) and
    `spearman_within`, the mean over functions of the within-function Spearman correlation,
    with its sign-flip interval over functions; for reg+cls vs reg and reg-scaled vs reg. With
    sigma^2 = the model's own training MSE, Eq. 8 moves with the MSE by construction.
    """
    pairs = _all_pairs(_rows(df), extra=("test_l_extra_gauss", "train_l_extra_gauss"))
    pairs = pairs.filter((pl.col("stage") == "test") & pl.col("comparison").is_in(WHAT_HELPS[::2]))
    keys = ["comparison", "scenario", "sampling"]
    columns = {
        "comparison": pl.String,
        "scenario": pl.String,
        "sampling": pl.String,
        "n_pairs": pl.Int64,
        "n_clusters": pl.Int64,
        "mean_d_l_extra": pl.Float64,
        "d_l_extra_ci_low": pl.Float64,
        "d_l_extra_ci_high": pl.Float64,
        "pct_l_extra_lower": pl.Float64,
        "mean_d_train_l_extra": pl.Float64,
        "mean_d_mse": pl.Float64,
        "d_mse_ci_low": pl.Float64,
        "d_mse_ci_high": pl.Float64,
        "spearman": pl.Float64,
        "spearman_within": pl.Float64,
        "spearman_within_ci_low": pl.Float64,
        "spearman_within_ci_high": pl.Float64,
        "too_few_clusters": pl.Boolean,
        "n_diverged_a": pl.Int64,
        "n_diverged_b": pl.Int64,
        "n_dropped": pl.Int64,
    }
    usable = pairs.filter(
        pl.col("a_test_l_extra_gauss").is_finite().fill_null(False)
        & pl.col("b_test_l_extra_gauss").is_finite().fill_null(False)
        & pl.col("mse_a").is_finite().fill_null(False)
        & pl.col("mse_b").is_finite().fill_null(False)
    )
    if usable.height == 0:
        return pl.DataFrame(schema=columns)
    usable = usable.with_columns(
        (pl.col("a_test_l_extra_gauss") - pl.col("b_test_l_extra_gauss")).alias("d_l_extra"),
        (pl.col("a_train_l_extra_gauss") - pl.col("b_train_l_extra_gauss")).alias("d_train"),
        (pl.col("mse_a") - pl.col("mse_b")).alias("d_mse"),
    )
    options = {"cluster": CLUSTER, "confidence": confidence}
    l_stats = paired_stats(
        usable.select(
            *keys,
            CLUSTER,
            pl.col("a_test_l_extra_gauss").alias("mse_a"),
            pl.col("b_test_l_extra_gauss").alias("mse_b"),
        ),
        keys,
        **options,
    ).select(
        *keys,
        "n_pairs",
        "n_clusters",
        pl.col("mean_diff").alias("mean_d_l_extra"),
        pl.col("mean_diff_ci_low").alias("d_l_extra_ci_low"),
        pl.col("mean_diff_ci_high").alias("d_l_extra_ci_high"),
        pl.col("pct_wins").alias("pct_l_extra_lower"),
        "too_few_clusters",
    )
    m_stats = paired_stats(usable.select(*keys, CLUSTER, "mse_a", "mse_b"), keys, **options)
    m_stats = m_stats.select(
        *keys,
        pl.col("mean_diff").alias("mean_d_mse"),
        pl.col("mean_diff_ci_low").alias("d_mse_ci_low"),
        pl.col("mean_diff_ci_high").alias("d_mse_ci_high"),
    )
    # The pairs left out of the L_extra columns: diverged on either side, or dropped.
    counts = paired_stats(pairs, keys, **options).select(
        *keys, "n_diverged_a", "n_diverged_b", "n_dropped"
    )
    train = usable.group_by(keys).agg(pl.col("d_train").mean().alias("mean_d_train_l_extra"))
    rho = _rank_correlations(usable, keys, confidence)
    out = l_stats.join(train, on=keys, how="left").join(m_stats, on=keys, how="left")
    out = out.join(rho, on=keys, how="left").join(counts, on=keys, how="left")
    return ordered(typed(out, columns), {}, keys)


def _rank_correlations(pairs: pl.DataFrame, keys: list[str], confidence: float) -> pl.DataFrame:
    """Per group: Spearman of (d_l_extra, d_mse) over all pairs, and the mean within-function
    Spearman with its sign-flip interval over functions (functions with fewer than three pairs
    or a constant column have no within correlation and are left out)."""
    out = []
    for key, part in pairs.group_by(keys, maintain_order=True):
        within = []
        for _, members in part.group_by(CLUSTER):
            rho = spearman(members["d_l_extra"].to_list(), members["d_mse"].to_list())
            if rho == rho:
                within.append(rho)
        mean, low, high, _ = interval_of(
            np.array(within), np.ones(len(within)), confidence=confidence, key=key
        )
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "spearman": spearman(part["d_l_extra"].to_list(), part["d_mse"].to_list()),
                "spearman_within": mean,
                "spearman_within_ci_low": low,
                "spearman_within_ci_high": high,
            }
        )
    return pl.DataFrame(out)


def helps_by_accuracy(df: pl.DataFrame) -> pl.DataFrame:
    """How often reg+cls beats reg (test stage) per quartile of its classifier's test accuracy,
    per scenario and C (pooled over samplings; quartiles within each C, since accuracy falls
    with C): does a classifier that converged help more? Intervals over functions."""
    pairs = _all_pairs(_rows(df), extra=("test_acc",))
    pairs = pairs.filter(
        (pl.col("stage") == "test")
        & (pl.col("comparison") == "reg+cls vs reg")
        & pl.col("a_test_acc").is_not_null()
    )
    cell = ["scenario", "num_classes"]
    columns = {
        "scenario": pl.String,
        "num_classes": pl.Int64,
        "acc_quartile": pl.Int64,
        "acc_low": pl.Float64,
        "acc_high": pl.Float64,
        **STAT_COLUMNS,
    }
    if pairs.height == 0:
        return pl.DataFrame(schema=columns)
    rank = pl.col("a_test_acc").rank("ordinal").over(cell) - 1
    size = pl.len().over(cell)
    pairs = pairs.with_columns((rank * 4 // size + 1).cast(pl.Int64).alias("acc_quartile"))
    by = [*cell, "acc_quartile"]
    stats = paired_stats(pairs, by, cluster=CLUSTER, holm_by=cell)
    edges = pairs.group_by(by).agg(
        pl.col("a_test_acc").min().alias("acc_low"), pl.col("a_test_acc").max().alias("acc_high")
    )
    out = stats.join(edges, on=by, how="left")
    return ordered(typed(out, columns), {}, by)


def comparison_pairs(df: pl.DataFrame, extra: Sequence[str] = ()) -> pl.DataFrame:
    """One row per compared pair: the cell, `function_id`, `seed`, `mse_a`, `mse_b` (null where
    the model has no finite metric), `status_a`, `status_b` and, per column in `extra`,
    `a_<column>` and `b_<column>`."""
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
                "status_a": pl.String,
                "status_b": pl.String,
                **{f"{side}_{c}": pl.Float64 for c in extra for side in "ab"},
            }
        )
    return pl.concat(frames, how="vertical_relaxed")


def _pairs(
    rows: pl.DataFrame, name: str, a: str, b: str, match: tuple[str, ...], extra: tuple[str, ...]
) -> pl.DataFrame:
    """Pairs of one comparison (any status on either side: the outcome rule of
    `results.cluster_inference` decides): test MSE in the test and noise stages, validation MSE
    in the lambda search."""
    keys = [*_DATA, *match]
    if a in _CLASSES and b in _CLASSES:
        keys.append("num_classes")
    if b == "reg":  # reg_pairing = per_model: each reg+cls has its own reg ("" = the shared one)
        keys.append("pair_key")
    side_a = rows.filter(pl.col("variant") == a)
    side_b = rows.filter(pl.col("variant") == b)
    if name in _CHOSEN_WEIGHT_DECAY_ONLY:
        side_a = side_a.filter(pl.col("stage") != "lambda_search")
        side_b = side_b.filter(pl.col("stage") != "lambda_search")
    metric = (
        pl.when(pl.col("stage") == "lambda_search")
        .then(pl.col("val_mse"))
        .otherwise(pl.col("test_mse"))
    )
    tuned = "weight_decay" if "reg-tuned" in (a, b) else None
    a_cols = side_a.select(
        *keys,
        *(["num_classes"] if "num_classes" not in keys else []),
        *([] if "lam" in match else [pl.col("lam").alias("_lam_a")]),
        *([pl.col("weight_decay").alias("_wd_a")] if tuned else []),
        pl.when(pl.col("status") == "ok").then(metric).alias("mse_a"),
        pl.col("status").alias("status_a"),
        *(pl.col(c).alias(f"a_{c}") for c in extra),
    )
    b_cols = side_b.select(
        *keys,
        *([] if "lam" in match else [pl.col("lam").alias("_lam_b")]),
        *([pl.col("weight_decay").alias("_wd_b")] if tuned else []),
        pl.when(pl.col("status") == "ok").then(metric).alias("mse_b"),
        pl.col("status").alias("status_b"),
        *(pl.col(c).alias(f"b_{c}") for c in extra),
    )
    joined = a_cols.join(b_cols, on=keys, how="inner", nulls_equal=True)
    if "lam" not in match:
        joined = joined.with_columns(pl.coalesce("_lam_a", "_lam_b").alias("lam"))
    # The cell's weight decay is reg-tuned's (null for comparisons without it).
    if tuned is None:
        weight_decay = pl.lit(None, dtype=pl.Float64)
    else:
        weight_decay = pl.col("_wd_a" if a == "reg-tuned" else "_wd_b")
    return joined.select(
        pl.lit(name).alias("comparison"),
        "stage",
        "scenario",
        "noise_sigma",
        "sampling",
        pl.col("lam").cast(pl.Float64),
        weight_decay.cast(pl.Float64).alias("weight_decay"),
        pl.col("num_classes").cast(pl.Int64),
        "function_id",
        "seed",
        "mse_a",
        "mse_b",
        "status_a",
        "status_b",
        *(f"{side}_{c}" for c in extra for side in "ab"),
    )


def _rows(df: pl.DataFrame) -> pl.DataFrame:
    """The rows of the 1D stages, any status (failed trials are counted as dropped pairs)."""
    df = checked_rows(df, "results rows", empty_rows, _USED)
    stages = ("lambda_search", "test", "noise")  # the 1D stages (DIR rows may share a frame)
    # Rows written before `flip` existed read it as null: they had no flip.
    return df.filter(pl.col("stage").is_in(stages)).with_columns(
        pl.col("flip").fill_null(NO_FLIP), pl.col("pair_key").fill_null("")
    )


def _empty_stats() -> pl.DataFrame:
    return pl.DataFrame(schema={**_CELL_TYPES, **STAT_COLUMNS})
