"""Polars pieces shared by the synthetic-1D and the real-data (DIR) halves of `results`.

The row columns both schemas hold (identity; the run environment `study.run_info` records),
conforming and checking input frames, and the rules both analyses aggregate by: a metric enters
a mean only for a finished model (`status == "ok"`) with a finite value, and the core paper's
Table 1 rule of when a reg+cls model "helps" its paired reg model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl
import pyarrow as pa

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


def helps_counts(own: pl.Expr, partner: pl.Expr) -> list[pl.Expr]:
    """Table 1's counts over reg+cls rows: `own` error vs its paired reg model's `partner` error.

    A model that ran ("ok" or "diverged") with a finite partner error is a pair (`n_pairs`); it
    helps (`n_helps`) iff it is "ok" and `own < partner`. Diverged pairs count as not helping
    (`n_diverged`); models that never ran are `n_failed`, those without a partner `n_unpaired`.
    """
    status = pl.col("status")
    ran = status.is_in(RUN_STATUSES)
    paired = partner.is_finite().fill_null(False)
    pair = ran & paired
    helps = pair & (status == "ok") & (own < partner)
    return [
        count(pair).alias("n_pairs"),
        count(helps).alias("n_helps"),
        count(pair & (status == "diverged")).alias("n_diverged"),
        count(~ran).alias("n_failed"),
        count(ran & ~paired).alias("n_unpaired"),
    ]


def pct_helps() -> pl.Expr:
    """`n_helps` in % of `n_pairs` (null without pairs)."""
    return (
        pl.when(pl.col("n_pairs") > 0)
        .then(100.0 * pl.col("n_helps") / pl.col("n_pairs"))
        .otherwise(None)
        .alias("pct_helps")
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
