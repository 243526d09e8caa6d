"""Polars pieces shared by the synthetic-1D and the real-data (DIR) halves of `results`.

The row columns both schemas hold (identity; the run environment `study.run_info` records),
conforming and checking input frames, and the rules both analyses aggregate by: a metric enters
a mean only for a finished model (`status == "ok"`) with a finite value, and a reg+cls model
"helps" its paired reg model by the pair-outcome rule of `results.cluster_inference`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl
import pyarrow as pa

from results.cluster_inference import paired_stats

COUNT = pl.Int64
RUN_STATUSES = ("ok", "diverged")

# Written by the study for every trial, whatever the study: who the row is, and where / with what
# it ran (`study.run_info.run_info`).
IDENTITY_FIELDS: tuple[tuple[str, pa.DataType], ...] = tuple(
    (name, pa.string())
    for name in ("row_key", "trial_key", "config_hash", "study", "stage", "search")
)
RUN_INFO_FIELDS: tuple[tuple[str, pa.DataType], ...] = tuple(
    (name, pa.string())
    for name in (
        "device",
        "torch_version",
        "ray_version",
        "numpy_version",
        "python_version",
        "regcls_version",
        "git_commit",
        "command_line",
        "hostname",
        "finished_at",
    )
)


def conform(df: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """`df` with every `schema` column present (missing ones null), cast to the schema's type.

    Extra columns are kept after the schema's.
    """
    columns = [
        pl.col(name).cast(dtype) if name in df.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    ]
    extra = [name for name in df.columns if name not in schema]
    return df.select(*columns, *extra)


def check_frame(df: object, kind: str) -> None:
    """Raise ValueError unless `df` is a Polars DataFrame (`kind` names what it should hold)."""
    if not isinstance(df, pl.DataFrame):
        raise ValueError(f"df: expected a polars DataFrame of {kind}, got {type(df).__name__}")


def check_columns(df: pl.DataFrame, required: Sequence[str]) -> None:
    """Raise ValueError naming the `required` columns `df` lacks."""
    missing = [name for name in required if name not in df.columns]
    if missing:
        raise ValueError(f"rows: missing columns {', '.join(missing)}")


def checked_rows(
    df: pl.DataFrame, kind: str, empty: Callable[[], pl.DataFrame], required: Sequence[str]
) -> pl.DataFrame:
    """`df` checked for the `required` columns; a frame without columns reads as `empty()`."""
    check_frame(df, kind)
    if df.width == 0:
        df = empty()
    check_columns(df, required)
    return df


def check_choice(name: str, value: object, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ValueError(f"{name}: got {value!r}; accepted values: {', '.join(accepted)}")


def usable(column: str) -> pl.Expr:
    """A finished model with a finite value (null and NaN are not usable)."""
    return ((pl.col("status") == "ok") & pl.col(column).is_finite()).fill_null(False)


def mean_ok(column: str) -> pl.Expr:
    return pl.col(column).filter(usable(column)).mean()


def count(condition: pl.Expr) -> pl.Expr:
    return condition.fill_null(False).sum().cast(COUNT)


def with_reg_partner(
    rows: pl.DataFrame, regs: pl.DataFrame, metric: str, fallback: pl.Expr
) -> pl.DataFrame:
    """`rows` (models paired with a reg) with the pair columns of `results.cluster_inference`:
    `mse_a` and `status_a` (own `metric`, null unless "ok"), `mse_b` and `status_b` of the reg
    row in `regs` that `paired_reg_row_key` names; without that row, a finite `fallback` (e.g.
    the row's `paired_reg_test_mse`) counts as a finished reg; neither: `status_b` null (no
    partner)."""
    partners = (
        regs.select(
            pl.col("row_key").alias("paired_reg_row_key"),
            pl.col("status").alias("_reg_status"),
            pl.col(metric).alias("_reg_metric"),
        )
        .filter(pl.col("paired_reg_row_key").is_not_null())
        .unique("paired_reg_row_key", keep="first")
    )
    joined = rows.join(partners, on="paired_reg_row_key", how="left")
    found = pl.when(pl.col("_reg_status") == "ok").then(pl.col("_reg_metric"))
    status_b = pl.coalesce(
        pl.col("_reg_status"), pl.when(fallback.is_finite().fill_null(False)).then(pl.lit("ok"))
    )
    mse_b = pl.when(pl.col("_reg_status").is_null()).then(fallback).otherwise(found)
    return joined.with_columns(
        pl.when(pl.col("status") == "ok").then(pl.col(metric)).alias("mse_a"),
        pl.col("status").alias("status_a"),
        mse_b.cast(pl.Float64).alias("mse_b"),
        status_b.alias("status_b"),
    ).drop("_reg_status", "_reg_metric")


def helps_with_intervals(
    pairs: pl.DataFrame, keys: list[str], cluster: str, weight: str | None = None
) -> pl.DataFrame:
    """Per group of `keys`, the "does classification help?" counts of `with_reg_partner`
    pairs: `n_pairs`, `n_clusters`, `n_helps` (strict wins), `pct_helps` (ties half) with its
    interval and test over `cluster` (`results.cluster_inference.paired_stats`), the diverged
    and dropped counts, `n_failed` (A never ran) and `n_unpaired` (no reg partner)."""
    paired = pairs.filter(pl.col("status_b").is_not_null())
    stats = paired_stats(paired, keys, cluster=cluster, weight=weight).select(
        *keys,
        "n_pairs",
        "n_clusters",
        pl.col("n_wins").alias("n_helps"),
        pl.col("pct_wins").alias("pct_helps"),
        "ci_low",
        "ci_high",
        "p_value",
        "too_few_clusters",
        "n_diverged_a",
        "n_diverged_b",
        "n_dropped",
    )
    other = pairs.group_by(keys).agg(
        count(~pl.col("status_a").is_in(RUN_STATUSES)).alias("n_failed"),
        count(pl.col("status_b").is_null()).alias("n_unpaired"),
    )
    return other.join(stats, on=keys, how="left", nulls_equal=True).with_columns(
        pl.col(c).fill_null(0) for c in ("n_pairs", "n_helps", "n_dropped")
    )


def typed(frame: pl.DataFrame, columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """`frame` reduced to `columns`, in their order, cast to their types (stable empty output)."""
    return frame.select(pl.col(name).cast(dtype) for name, dtype in columns.items())


def rank(column: str, orders: Mapping[str, Sequence], *, null_first: bool = False) -> pl.Expr:
    """Sort key: the paper's order (`orders[column]`) for known values, then the rest by value.

    With `null_first`, null ranks before everything (literature rows, which have no variant).
    """
    if column not in orders:
        return pl.col(column)
    mapping = {value: position for position, value in enumerate(orders[column])}
    key = pl.col(column).replace_strict(mapping, default=len(mapping), return_dtype=pl.Int64)
    return pl.when(pl.col(column).is_null()).then(-1).otherwise(key) if null_first else key


def ordered(
    frame: pl.DataFrame,
    orders: Mapping[str, Sequence],
    columns: Sequence[str],
    *,
    null_first: bool = False,
) -> pl.DataFrame:
    """`frame` sorted by `columns`, each by its `rank` and then by value."""
    keys = [key for c in columns for key in (rank(c, orders, null_first=null_first), pl.col(c))]
    return frame.sort(keys, nulls_last=True) if frame.height else frame
