"""What in reg+cls helps on real data: paired comparisons with the controls (STS-B-DIR).

The DIR counterpart of `results.synthetic_1d.controls`: every model A is paired with the model B
trained on the same data with the same seed (and, for `reg+cls vs reg-scaled`, the same lambda),
and `results.cluster_inference.paired_stats` reports how often A has the lower test MSE and the
paired mean difference A - B, each with a 95% interval and a sign-flip test over seeds (the only
replicate unit of a fixed data set: every pair of a seed shares its reg), Holm over the
comparisons of one dataset x lambda x C. With the 3 (quick) or 5 (paper) seeds of the presets
no 95% interval exists (a sign-flip test over G seeds cannot go below p = 2 / 2^G): the bounds
are NaN ("—") and `too_few_clusters` says so. Outcomes (diverged on either side, failed trials
dropped) follow `results.cluster_inference`. Rows with `num_classes` and
`lam` null pool a comparison over the grid. Every method-zoo variant the rows hold (any variant
not named in `COMPARISONS`, e.g. `reg-lds`, `hca`) is compared with reg as "<variant> vs reg".
"""

from __future__ import annotations

import polars as pl

from results._tables import checked_rows, ordered
from results.cluster_inference import STAT_COLUMNS, paired_stats
from results.dir.schema import empty_dir_rows

# (name, variant A, variant B, columns that must match besides the data and the seed).
COMPARISONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("reg+cls vs reg", "reg+cls", "reg", ()),
    ("reg+cls-balanced vs reg", "reg+cls-balanced", "reg", ()),
    ("reg+cls vs reg-scaled", "reg+cls", "reg-scaled", ("lam",)),
    ("reg+cls-balanced vs reg-scaled", "reg+cls-balanced", "reg-scaled", ("lam",)),
    ("reg-scaled vs reg", "reg-scaled", "reg", ()),
    ("cls-only vs reg", "cls-only", "reg", ()),
)
_NAMED = frozenset(v for _, a, b, _ in COMPARISONS for v in (a, b)) | {"reg-tuned"}
_DATA = ("dataset", "stage", "target", "data_split", "task", "data_balance", "seed")
_CELL = ("dataset", "comparison", "lam", "num_classes")
_PAIRS = {
    "dataset": pl.String,
    "comparison": pl.String,
    "lam": pl.Float64,
    "num_classes": pl.Int64,
    "seed": pl.Int64,
    "mse_a": pl.Float64,
    "mse_b": pl.Float64,
    "status_a": pl.String,
    "status_b": pl.String,
}
_USED = (*_DATA, "variant", "status", "num_classes", "lam", "test_mse_all")


def controls_stats(df: pl.DataFrame) -> pl.DataFrame:
    """Every comparison of `COMPARISONS` and every zoo variant vs reg per dataset x lambda x C
    and pooled (null), on test MSE over all samples; only datasets that trained the controls (a
    `reg-scaled` or `cls-only` row) or a zoo variant appear.

    Example:
        >>> controls_stats(read_dir_rows("runs/stsb_dir-quick-grid"))
    """
    rows = checked_rows(df, "DIR rows", empty_dir_rows, _USED)
    zoo = sorted(set(rows["variant"].drop_nulls().to_list()) - _NAMED)
    shown = ("reg-scaled", "cls-only", *zoo)
    with_controls = rows.filter(pl.col("variant").is_in(shown))
    rows = rows.filter(pl.col("dataset").is_in(with_controls["dataset"].unique().to_list()))
    comparisons = [*COMPARISONS, *((f"{v} vs reg", v, "reg", ()) for v in zoo)]
    frames = [_pairs(rows, *comparison) for comparison in comparisons]
    pairs = pl.concat([f for f in frames if f.height] or [_empty_pairs()], how="vertical_relaxed")
    if pairs.height == 0:
        return pl.DataFrame(schema={**{c: _PAIRS[c] for c in _CELL}, **STAT_COLUMNS})
    pooled = pairs.with_columns(
        pl.lit(None, dtype=pl.Float64).alias("lam"),
        pl.lit(None, dtype=pl.Int64).alias("num_classes"),
    )
    # A variant without lambda and C (reg-lds, ...) has its pooled cell only, not twice.
    gridded = pairs.filter(pl.col("lam").is_not_null() | pl.col("num_classes").is_not_null())
    both = pl.concat([gridded, pooled], how="vertical_relaxed")
    stats = paired_stats(
        both, _CELL, cluster="seed", holm_by=[c for c in _CELL if c != "comparison"]
    )
    return ordered(stats, {}, ("dataset", "comparison"))


def _pairs(rows: pl.DataFrame, name: str, a: str, b: str, match: tuple[str, ...]) -> pl.DataFrame:
    keys = [*_DATA, *match]
    side_a = rows.filter(pl.col("variant") == a).select(
        *keys,
        "num_classes",
        *([] if "lam" in match else [pl.col("lam").alias("_lam_a")]),
        pl.when(pl.col("status") == "ok").then(pl.col("test_mse_all")).alias("mse_a"),
        pl.col("status").alias("status_a"),
    )
    side_b = rows.filter(pl.col("variant") == b).select(
        *keys,
        *([] if "lam" in match else [pl.col("lam").alias("_lam_b")]),
        pl.when(pl.col("status") == "ok").then(pl.col("test_mse_all")).alias("mse_b"),
        pl.col("status").alias("status_b"),
    )
    joined = side_a.join(side_b, on=keys, how="inner", nulls_equal=True)
    if "lam" not in match:
        joined = joined.with_columns(pl.coalesce("_lam_a", "_lam_b").alias("lam"))
    return joined.select(
        "dataset",
        pl.lit(name).alias("comparison"),
        pl.col("lam").cast(pl.Float64),
        pl.col("num_classes").cast(pl.Int64),
        "seed",
        "mse_a",
        "mse_b",
        "status_a",
        "status_b",
    )


def _empty_pairs() -> pl.DataFrame:
    return pl.DataFrame(schema=_PAIRS)
