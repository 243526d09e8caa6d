"""Does the CE term help? The answer study's tables (issue 22): per optimiser x scenario x
sampling, reg+cls against reg, against reg-scaled (the loss scale alone) and against reg-tuned
(reg given the same tuning budget), with intervals, the CE share of the gain and one verdict.

Every comparison pairs models of one optimiser on the same data (`results.synthetic_1d.controls`
pairing, `helps_stats` and `gain_shares`, run on each optimiser's rows apart: the cluster-aware
statistics of `results.cluster_inference`): the unit of independence is the target function
(`n_clusters`). Test MSE against the noisy targets, test and
noise stages, pooled over C.

The verdict of a cell is `results.verdicts.ce_verdict`, one place for every study.
"""

from __future__ import annotations

import polars as pl

from results._answer_inference import STATS
from results._tables import checked_rows, ordered
from results.synthetic_1d.controls import gain_shares, helps_stats
from results.synthetic_1d.schema import empty_rows
from results.verdicts import ce_verdict

STUDY = "synthetic_1d_answer"
OPTIMIZER_ORDER = ("adam", "adamw", "sgd")
# The three comparisons of a cell, with the column prefix each gets in the wide table.
ANSWER_COMPARISONS = {
    "reg+cls vs reg": "vs_reg",
    "reg+cls vs reg-scaled": "vs_scaled",
    "reg+cls vs reg-tuned": "vs_tuned",
}
# The other comparisons kept in the long table (`answer_comparisons`).
OTHER_COMPARISONS = (
    "reg-scaled vs reg",
    "reg-tuned vs reg",
    "reg+cls-balanced vs reg",
    "reg+cls-balanced vs reg-scaled",
    "cls-only vs reg",
)
CELL = ("optimizer", "stage", "scenario", "noise_sigma", "sampling")
_ORDERS = {
    "optimizer": OPTIMIZER_ORDER,
    "stage": ("test", "noise"),
    "scenario": ("clean", "noisy", "ood"),
    "sampling": ("uniform", "mild", "moderate", "severe"),
}
_USED = ("optimizer", "momentum", "stage", "variant", "status", "test_mse", "lr", "lam")


def answer_tables(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Every table of the answer: `answer` (one row per cell, `answer_table`), `answer_comparisons`
    (the long form with the other comparisons), `answer_settings` (what each optimiser trained
    with and chose on validation) and `answer_summary` (verdicts counted per optimiser).

    Example:
        >>> answer_tables(read_rows("runs/synthetic_1d_answer-quick-grid"))["answer"]
    """
    comparisons = answer_comparisons(df)
    table = answer_table(df, comparisons)
    return {
        "answer": table,
        "answer_comparisons": comparisons,
        "answer_settings": answer_settings(df),
        "answer_summary": answer_summary(table),
    }


def answer_comparisons(df: pl.DataFrame) -> pl.DataFrame:
    """Long form: per optimiser x cell x comparison (pooled over C) the paired statistics of
    `ANSWER_COMPARISONS` and `OTHER_COMPARISONS` (columns `CELL`, `comparison`, `lam` and the
    statistics: `n_pairs`, `n_clusters`, `pct_wins` with `ci_low`, `ci_high`, `mean_diff` A - B
    with `mean_diff_ci_low`, `mean_diff_ci_high`, ...)."""
    rows = _rows(df)
    wanted = (*ANSWER_COMPARISONS, *OTHER_COMPARISONS)
    frames = []
    for optimizer in _optimizers(rows):
        stats = helps_stats(rows.filter(pl.col("optimizer") == optimizer))
        stats = stats.filter(
            pl.col("num_classes").is_null()
            & pl.col("stage").is_in(("test", "noise"))
            & pl.col("comparison").is_in(wanted)
        )
        frames.append(stats.with_columns(pl.lit(optimizer).alias("optimizer")))
    if not frames or not sum(f.height for f in frames):
        return pl.DataFrame(schema=_comparison_schema())
    out = pl.concat([f for f in frames if f.height], how="diagonal_relaxed")
    head = [*CELL, "comparison", "lam"]
    out = out.select(*head, *(c for c in out.columns if c not in head))
    order = {c: i for i, c in enumerate(wanted)}
    return (
        ordered(out, _ORDERS, CELL)
        .with_columns(pl.col("comparison").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
        .sort([*_sort_keys(), "_o"], maintain_order=True)
        .drop("_o")
    )


def answer_table(df: pl.DataFrame, comparisons: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per optimiser x stage x scenario x noise sigma x sampling (pooled over C): reg's
    mean test MSE (`mse_reg`), for each of reg+cls vs reg, vs reg-scaled, vs reg-tuned
    (`vs_reg_*`, `vs_scaled_*`, `vs_tuned_*`) its pairs, independent units, % wins with its
    interval and the mean test-MSE difference reg+cls - B with its interval; the CE share of
    reg+cls's gain over reg (`ce_share`: the part reg-scaled does not reach) and the part
    reg-tuned does not reach (`beyond_tuned_share`), with intervals where the statistics give
    them; `n_clusters` (functions) and the cell's `verdict` (`ce_verdict`)."""
    rows = _rows(df)
    comparisons = answer_comparisons(df) if comparisons is None else comparisons
    if comparisons.height == 0:
        return pl.DataFrame(schema=_answer_schema())
    cells = comparisons.select(CELL).unique()
    for name, prefix in ANSWER_COMPARISONS.items():
        part = comparisons.filter(pl.col("comparison") == name).select(
            *CELL, *(pl.col(c).alias(f"{prefix}_{c}") for c in STATS)
        )
        cells = cells.join(part, on=list(CELL), how="left", nulls_equal=True)
    cells = cells.join(_reg_means(rows), on=list(CELL), how="left", nulls_equal=True)
    cells = cells.join(_shares(rows), on=list(CELL), how="left", nulls_equal=True)
    cells = cells.with_columns(
        pl.max_horizontal(f"{p}_n_clusters" for p in ANSWER_COMPARISONS.values()).alias(
            "n_clusters"
        )
    )
    cells = cells.with_columns(
        pl.struct(cells.columns).map_elements(ce_verdict, return_dtype=pl.String).alias("verdict")
    )
    schema = _answer_schema()
    return ordered(cells.select(pl.col(c).cast(t) for c, t in schema.items()), _ORDERS, CELL)


def answer_settings(df: pl.DataFrame) -> pl.DataFrame:
    """What each optimiser trained with in the test stage, per scenario: reg's lr and weight
    decay, SGD's momentum, reg+cls's lambda per class mode (chosen on validation), reg-tuned's
    lr and weight decay (chosen on validation) and what it tuned."""
    rows = _rows(df).filter(pl.col("stage") == "test")
    keys = ["optimizer", "scenario"]
    schema = {
        "optimizer": pl.String,
        "scenario": pl.String,
        "momentum": pl.Float64,
        "reg_lr": pl.Float64,
        "reg_weight_decay": pl.Float64,
        "lambda_imbalanced": pl.Float64,
        "lambda_balanced": pl.Float64,
        "tuned_hyperparameter": pl.String,
        "tuned_lr": pl.Float64,
        "tuned_weight_decay": pl.Float64,
    }
    if rows.height == 0:
        return pl.DataFrame(schema=schema)

    def one(variant: str, **columns: pl.Expr) -> pl.DataFrame:
        part = rows.filter(pl.col("variant") == variant)
        return part.group_by(keys).agg(**{k: v.first() for k, v in columns.items()})

    out = one(
        "reg",
        momentum=pl.col("momentum"),
        reg_lr=pl.col("lr"),
        reg_weight_decay=pl.col("weight_decay"),
    )
    out = out.join(one("reg+cls", lambda_imbalanced=pl.col("lam")), on=keys, how="left")
    out = out.join(one("reg+cls-balanced", lambda_balanced=pl.col("lam")), on=keys, how="left")
    tuned = one(
        "reg-tuned",
        tuned_hyperparameter=pl.col("tuned_hyperparameter"),
        tuned_lr=pl.col("lr"),
        tuned_weight_decay=pl.col("weight_decay"),
    )
    out = out.join(tuned, on=keys, how="left")
    return ordered(out.select(pl.col(c).cast(t) for c, t in schema.items()), _ORDERS, keys)


def answer_summary(table: pl.DataFrame) -> pl.DataFrame:
    """Per optimiser: how many cells got each verdict, and the largest upper bound of the CE
    share among the cells whose verdict is "no detectable effect; at most X% of the gain" (the
    resolution of that statement)."""
    schema = {
        "optimizer": pl.String,
        "verdict_kind": pl.String,
        "cells": pl.Int64,
        "max_ce_share_ci_high": pl.Float64,
    }
    if table.height == 0:
        return pl.DataFrame(schema=schema)
    kind = pl.col("verdict").str.extract(r"^([^;:]*)").alias("verdict_kind")
    out = table.group_by("optimizer", kind).agg(
        pl.len().cast(pl.Int64).alias("cells"),
        pl.col("ce_share_ci_high")
        .filter(pl.col("verdict").str.ends_with("of the gain"))
        .max()
        .alias("max_ce_share_ci_high"),
    )
    out = out.select(pl.col(c).cast(t) for c, t in schema.items())
    return ordered(out, _ORDERS, ("optimizer",))


def _rows(df: pl.DataFrame) -> pl.DataFrame:
    """The answer's rows (older rows without `optimizer` are Adam's)."""
    df = checked_rows(df, "results rows", empty_rows, _USED)
    return df.with_columns(pl.col("optimizer").fill_null("adam"))


def _optimizers(rows: pl.DataFrame) -> list[str]:
    present = set(rows["optimizer"].drop_nulls().to_list())
    return [o for o in OPTIMIZER_ORDER if o in present] + sorted(present - set(OPTIMIZER_ORDER))


def _reg_means(rows: pl.DataFrame) -> pl.DataFrame:
    """Mean test MSE of the cell's finished reg models (the scale of every difference)."""
    reg = rows.filter(
        (pl.col("variant") == "reg")
        & (pl.col("status") == "ok")
        & pl.col("test_mse").is_finite().fill_null(False)
        & (pl.col("pair_key").fill_null("") == "")
    )
    return reg.group_by(CELL).agg(pl.col("test_mse").mean().alias("mse_reg"))


def _shares(rows: pl.DataFrame) -> pl.DataFrame:
    """`ce_share` (the part of reg+cls's gain over reg that reg-scaled does not reach) and
    `beyond_tuned_share` (that reg-tuned does not reach), with their joint intervals over
    functions, per cell (`controls.gain_shares` of each optimiser's rows)."""
    frames = [
        gain_shares(rows.filter(pl.col("optimizer") == o)).with_columns(
            pl.lit(o).alias("optimizer")
        )
        for o in _optimizers(rows)
    ]
    shares = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    parts = []
    for control, name in (("reg-scaled", "ce_share"), ("reg-tuned", "beyond_tuned_share")):
        columns = {name: "share", f"{name}_ci_low": "share_ci_low"}
        columns[f"{name}_ci_high"] = "share_ci_high"
        part = pl.DataFrame(schema={**{c: _answer_schema()[c] for c in CELL}})
        if shares.height:
            part = shares.filter(
                (pl.col("variant") == "reg+cls") & (pl.col("control") == control)
            ).select(*CELL, *(pl.col(old).alias(new) for new, old in columns.items()))
        else:
            part = part.with_columns(pl.lit(None, pl.Float64).alias(c) for c in columns)
        parts.append(part)
    return parts[0].join(parts[1], on=list(CELL), how="full", coalesce=True, nulls_equal=True)


def _sort_keys() -> list[pl.Expr]:
    from results._tables import rank

    return [key for c in CELL for key in (rank(c, _ORDERS), pl.col(c))]


def _comparison_schema() -> dict[str, pl.DataType]:
    return {
        "optimizer": pl.String,
        "stage": pl.String,
        "scenario": pl.String,
        "noise_sigma": pl.Float64,
        "sampling": pl.String,
        "comparison": pl.String,
        "lam": pl.Float64,
        **{c: pl.Int64 if c.startswith("n_") else pl.Float64 for c in STATS},
    }


def _answer_schema() -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {
        "optimizer": pl.String,
        "stage": pl.String,
        "scenario": pl.String,
        "noise_sigma": pl.Float64,
        "sampling": pl.String,
        "n_clusters": pl.Int64,
        "mse_reg": pl.Float64,
    }
    for prefix in ANSWER_COMPARISONS.values():
        schema.update(
            {f"{prefix}_{c}": pl.Int64 if c.startswith("n_") else pl.Float64 for c in STATS}
        )
    for name in ("ce_share", "beyond_tuned_share"):
        schema.update({name: pl.Float64, f"{name}_ci_low": pl.Float64})
        schema[f"{name}_ci_high"] = pl.Float64
    schema["verdict"] = pl.String
    return schema
