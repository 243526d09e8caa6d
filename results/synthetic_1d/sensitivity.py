"""Which protocol choice moves the answer? The sensitivity study's flips against its baseline.

The study trains one slice of the test stage once with the paper's defaults (`flip` "none") and
once per flip (one choice set to the authors' value). Within each flip, every reg+cls model is
paired with the reg model of the same flip and data (`controls.comparison_pairs`); a flip's
effect is the change, flip minus baseline, in "% of pairs where reg+cls beats reg" and in the
mean paired gain mse_reg - mse_reg+cls, per scenario x sampling, pooled over C, functions and
seeds (wins, ties, diverged and failed models as in `results.cluster_inference`). Its 95%
interval and test are over target functions, jointly for baseline and flip (the same function
ids and seeds appear on both sides; under the `function_set` flip the id names the authors' i-th
function instead of the paper's): per function its contribution to the change,
pct_flip(f) * share_flip(f) - pct_base(f) * share_base(f), sign-flipped over functions and
inverted (`results.cluster_inference.cluster_flip`; exact for the balanced design the study runs,
where every function holds as many pairs under a flip as under the defaults). Below 6 functions
no 95% interval exists (NaN, `too_few_clusters`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from results._tables import check_frame, typed
from results.cluster_inference import interval_of, min_clusters, pair_outcomes
from results.synthetic_1d.controls import NO_FLIP, comparison_pairs

# Compared with reg, per flip: the paper's reg+cls, and with balanced classes (the rounding flip
# of Eq. 12 changes only the balanced classes).
VARIANTS = ("reg+cls", "reg+cls-balanced")
COLUMNS: dict[str, pl.DataType] = {
    "flip": pl.String,
    "setting": pl.String,
    "variant": pl.String,
    "scenario": pl.String,
    "sampling": pl.String,
    "n_pairs_base": pl.Int64,
    "n_pairs_flip": pl.Int64,
    "n_clusters": pl.Int64,
    "pct_wins_base": pl.Float64,
    "pct_wins_flip": pl.Float64,
    "pct_wins_flip_ci_low": pl.Float64,
    "pct_wins_flip_ci_high": pl.Float64,
    "d_pct_wins": pl.Float64,
    "d_pct_wins_ci_low": pl.Float64,
    "d_pct_wins_ci_high": pl.Float64,
    "gain_base": pl.Float64,
    "gain_flip": pl.Float64,
    "d_gain": pl.Float64,
    "d_gain_ci_low": pl.Float64,
    "d_gain_ci_high": pl.Float64,
    "too_few_clusters": pl.Boolean,
    "n_diverged_a": pl.Int64,
    "n_diverged_b": pl.Int64,
    "n_dropped": pl.Int64,
}

_CELL = ("variant", "scenario", "sampling")
# Per-function totals, in this order, of one side (flip or baseline) of a cell.
_TOTALS = ("wins", "pairs", "gain_sum", "gain_n", "div_a", "div_b", "dropped")


def flip_effects(df: pl.DataFrame) -> pl.DataFrame:
    """Per flip x variant x scenario x sampling (test stage, pooled over C, functions and seeds):
    the baseline's and the flip's % of pairs where the variant beats reg and mean paired gain
    mse_reg - mse_variant (positive: the variant is better), their differences flip - baseline
    with 95% intervals over functions, and the flip's own % wins interval over functions.

    Columns: `flip`, `setting` (the flipped column's baseline -> flip values), `variant`
    (reg+cls or reg+cls-balanced), `scenario`, `sampling`, `n_pairs_base`, `n_pairs_flip`,
    `n_clusters` (functions resampled), `pct_wins_base`, `pct_wins_flip`,
    `pct_wins_flip_ci_low`/`_high`, `d_pct_wins` (+ `_ci_low`/`_high`, percentage points),
    `gain_base`, `gain_flip`, `d_gain` (+ `_ci_low`/`_high`), `too_few_clusters`. A
    cell needs pairs on both sides; rows sort by variant, scenario, sampling, then largest
    |d_pct_wins| first. Rows without a flip (the main study) give an empty frame.

    Example:
        >>> flip_effects(read_rows("runs/synthetic_1d_sensitivity-quick-grid")).filter(
        ...     pl.col("variant") == "reg+cls")
    """
    check_frame(df, "results rows")
    if "flip" in df.columns and df["flip"].fill_null(NO_FLIP).eq(NO_FLIP).all():
        return pl.DataFrame(schema=COLUMNS)  # no flips (the main study): skip the pairing
    pairs = comparison_pairs(df, extra=("flip",))
    comparisons = {f"{v} vs reg": v for v in VARIANTS}
    pairs = pairs.filter(
        (pl.col("stage") == "test") & pl.col("comparison").is_in(list(comparisons))
    ).select(
        pl.col("a_flip").alias("flip"),
        pl.col("comparison").replace_strict(comparisons).alias("variant"),
        "scenario",
        "sampling",
        "function_id",
        "mse_a",
        "mse_b",
        "status_a",
        "status_b",
    )
    if pairs.height == 0:
        return pl.DataFrame(schema=COLUMNS)
    per_function = _per_function(pairs)
    base = per_function.filter(pl.col("flip") == NO_FLIP).drop("flip")
    flipped = per_function.filter(pl.col("flip") != NO_FLIP)
    if base.height == 0 or flipped.height == 0:
        return pl.DataFrame(schema=COLUMNS)
    settings = _settings(df, flipped["flip"].unique().to_list())
    out = []
    for (flip, *cell), part in flipped.group_by("flip", *_CELL, maintain_order=True):
        reference = base.filter(
            *(pl.col(name) == value for name, value in zip(_CELL, cell, strict=True))
        )
        if reference.height:
            row = _effect(part, reference, (flip, *cell))
            out.append({"flip": flip, "setting": settings.get(flip), **row})
    if not out:
        return pl.DataFrame(schema=COLUMNS)
    table = typed(pl.DataFrame(out), COLUMNS)
    return table.sort(
        "variant",
        "scenario",
        "sampling",
        pl.col("d_pct_wins").abs(),
        "flip",
        descending=[False, False, False, True, False],
        nulls_last=True,
    )


def baseline_rows(df: pl.DataFrame) -> pl.DataFrame:
    """The rows without a flip (`flip` "none" or null): the whole frame of a study that has no
    flips; the paper-default slice of the sensitivity study."""
    check_frame(df, "results rows")
    if "flip" not in df.columns:
        return df
    return df.filter(pl.col("flip").fill_null(NO_FLIP) == NO_FLIP)


def _per_function(pairs: pl.DataFrame) -> pl.DataFrame:
    """Totals per flip x cell x function: win score (ties half) and scored pairs, and the sum
    and count of gains mse_b - mse_a over the pairs where both finished."""
    scored = pairs.with_columns(
        *pair_outcomes(pl.col("mse_a"), pl.col("mse_b"), pl.col("status_a"), pl.col("status_b"))
    )
    return scored.group_by("flip", *_CELL, "function_id").agg(
        pl.col("__cluster_score").sum().alias("wins"),
        pl.col("__cluster_score").is_not_null().sum().cast(pl.Float64).alias("pairs"),
        (-pl.col("__cluster_diff")).sum().alias("gain_sum"),
        pl.col("__cluster_diff").is_not_null().sum().cast(pl.Float64).alias("gain_n"),
        pl.col("__cluster_div_a").sum().cast(pl.Float64).alias("div_a"),
        pl.col("__cluster_div_b").sum().cast(pl.Float64).alias("div_b"),
        pl.col("__cluster_dropped").sum().cast(pl.Float64).alias("dropped"),
    )


def _effect(flipped: pl.DataFrame, base: pl.DataFrame, key: tuple) -> dict[str, object]:
    """One output row (without flip and setting) from the per-function totals of both sides."""
    joined = flipped.join(base, on=[*_CELL, "function_id"], how="full", coalesce=True)
    joined = joined.with_columns(pl.col(pl.Float64).fill_null(0.0)).sort("function_id")
    t = {name: joined[name].to_numpy() for name in (*_TOTALS, *(f"{n}_right" for n in _TOTALS))}
    wins, pairs = float(t["wins"].sum()), float(t["pairs"].sum())
    pct_flip, low, high, _ = _ratio(t["wins"], t["pairs"], key)
    pct_base = _pct(t["wins_right"].sum(), t["pairs_right"].sum()) / 100.0
    d_pct = _change(t["wins"], t["pairs"], t["wins_right"], t["pairs_right"], key)
    d_gain = _change(t["gain_sum"], t["gain_n"], t["gain_sum_right"], t["gain_n_right"], key)
    gain_flip = _mean(t["gain_sum"].sum(), t["gain_n"].sum())
    gain_base = _mean(t["gain_sum_right"].sum(), t["gain_n_right"].sum())
    return {
        **dict(zip(_CELL, key[1:], strict=True)),
        "n_pairs_base": int(t["pairs_right"].sum()),
        "n_pairs_flip": int(pairs),
        "n_clusters": joined.height,
        "pct_wins_base": 100.0 * pct_base,
        "pct_wins_flip": _pct(wins, pairs),
        "pct_wins_flip_ci_low": 100.0 * low,
        "pct_wins_flip_ci_high": 100.0 * high,
        "d_pct_wins": 100.0 * d_pct[0],
        "d_pct_wins_ci_low": 100.0 * d_pct[1],
        "d_pct_wins_ci_high": 100.0 * d_pct[2],
        "gain_base": gain_base,
        "gain_flip": gain_flip,
        "d_gain": gain_flip - gain_base,
        "d_gain_ci_low": d_gain[1],
        "d_gain_ci_high": d_gain[2],
        "too_few_clusters": joined.height < min_clusters(),
        # over both sides (defaults and flip)
        **{
            name: int(t[side].sum() + t[f"{side}_right"].sum())
            for name, side in (
                ("n_diverged_a", "div_a"),
                ("n_diverged_b", "div_b"),
                ("n_dropped", "dropped"),
            )
        },
    }


def _ratio(total: np.ndarray, weight: np.ndarray, key: tuple) -> tuple[float, float, float, float]:
    """The pooled ratio of per-function totals with its interval over the functions that hold
    any weight."""
    held = weight > 0
    return interval_of(total[held], weight[held], key=key)


def _change(
    flip: np.ndarray, flip_n: np.ndarray, base: np.ndarray, base_n: np.ndarray, key: tuple
) -> tuple[float, float, float]:
    """flip / flip_n - base / base_n (pooled) with its interval over functions: per function
    the contribution flip_g / sum(flip_n) - base_g / sum(base_n) against the weight
    (flip_n_g / sum(flip_n) + base_n_g / sum(base_n)) / 2."""
    if not (flip_n.sum() and base_n.sum()):
        return (float("nan"),) * 3
    contribution = flip / flip_n.sum() - base / base_n.sum()
    weight = (flip_n / flip_n.sum() + base_n / base_n.sum()) / 2.0
    held = weight > 0
    estimate, low, high, _ = interval_of(contribution[held], weight[held], key=key)
    return (estimate, low, high)


def _pct(wins: float, pairs: float) -> float:
    return 100.0 * wins / pairs if pairs else float("nan")


def _mean(total: float, count: float) -> float:
    return total / count if count else float("nan")


def _settings(df: pl.DataFrame, flips: list[str]) -> dict[str, str]:
    """Per flip, "<baseline value> -> <flipped value>" of the column the flip is named after
    (every flip of the study sets the field of its name); the flip's name where no column is."""
    rows = df.filter(pl.col("stage") == "test").with_columns(pl.col("flip").fill_null(NO_FLIP))
    out = {}
    for flip in flips:
        if flip not in rows.columns:
            out[flip] = flip
            continue
        values = [
            "/".join(_short(v) for v in sorted(part[flip].drop_nulls().unique().to_list()))
            for part in (
                rows.filter(pl.col("flip") == NO_FLIP),
                rows.filter(pl.col("flip") == flip),
            )
        ]
        out[flip] = f"{values[0]} → {values[1]}"
    return out


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
