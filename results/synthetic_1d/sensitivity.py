"""Which protocol choice moves the answer? The sensitivity study's flips against its baseline.

The study trains one slice of the test stage once with the paper's defaults (`flip` "none") and
once per flip (one choice set to the authors' value). Within each flip, every reg+cls model is
paired with the reg model of the same flip and data (`controls.comparison_pairs`); a flip's
effect is the change, flip minus baseline, in "% of pairs where reg+cls beats reg" and in the
mean paired gain mse_reg - mse_reg+cls, per scenario x sampling, pooled over C, functions and
seeds (wins, ties and diverged models as in `results.paired`). Its 95% interval comes from a
bootstrap that resamples target functions jointly for baseline and flip: the same function ids
and seeds appear on both sides (under the `function_set` flip the id names the authors' i-th
function instead of the paper's).
"""

from __future__ import annotations

import polars as pl

from results._tables import check_frame, typed
from results.paired import cluster_bootstrap_interval, wilson_interval
from results.synthetic_1d.controls import NO_FLIP, comparison_pairs

# Compared with reg, per flip: the paper's reg+cls, and with balanced classes (the rounding flip
# of Eq. 12 changes only the balanced classes).
VARIANTS = ("reg+cls", "reg+cls-balanced")
BOOTSTRAP = {"n_boot": 2000, "seed": 0}
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
    "n_boot": pl.Int64,
    "bootstrap_seed": pl.Int64,
}

_CELL = ("variant", "scenario", "sampling")
# Per-function totals, in this order, of one side (flip or baseline) of a cell.
_TOTALS = ("wins", "pairs", "gain_sum", "gain_n")


def flip_effects(df: pl.DataFrame) -> pl.DataFrame:
    """Per flip x variant x scenario x sampling (test stage, pooled over C, functions and seeds):
    the baseline's and the flip's % of pairs where the variant beats reg and mean paired gain
    mse_reg - mse_variant (positive: the variant is better), their differences flip - baseline
    with 95% function-bootstrap intervals, and the flip's own Wilson interval.

    Columns: `flip`, `setting` (the flipped column's baseline -> flip values), `variant`
    (reg+cls or reg+cls-balanced), `scenario`, `sampling`, `n_pairs_base`, `n_pairs_flip`,
    `n_clusters` (functions resampled), `pct_wins_base`, `pct_wins_flip`,
    `pct_wins_flip_ci_low`/`_high`, `d_pct_wins` (+ `_ci_low`/`_high`, percentage points),
    `gain_base`, `gain_flip`, `d_gain` (+ `_ci_low`/`_high`), `n_boot`, `bootstrap_seed`. A
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
    """Totals per flip x cell x function: wins and pairs (a diverged variant is a pair it does
    not win), and the sum and count of gains mse_b - mse_a over the pairs that did not diverge."""
    ok = pl.col("mse_a").is_finite().fill_null(False)
    kept = pairs.filter(pl.col("mse_b").is_finite().fill_null(False))
    return kept.group_by("flip", *_CELL, "function_id").agg(
        (ok & (pl.col("mse_a") < pl.col("mse_b"))).sum().cast(pl.Float64).alias("wins"),
        pl.len().cast(pl.Float64).alias("pairs"),
        (pl.col("mse_b") - pl.col("mse_a")).filter(ok).sum().alias("gain_sum"),
        ok.sum().cast(pl.Float64).alias("gain_n"),
    )


def _effect(flipped: pl.DataFrame, base: pl.DataFrame, key: tuple) -> dict[str, object]:
    """One output row (without flip and setting) from the per-function totals of both sides."""
    joined = flipped.join(base, on=[*_CELL, "function_id"], how="full", coalesce=True)
    joined = joined.with_columns(pl.col(pl.Float64).fill_null(0.0)).sort("function_id")
    # One row per function: the flip's totals, then the baseline's (see `_TOTALS`).
    totals = joined.select(*_TOTALS, *(f"{name}_right" for name in _TOTALS)).rows()
    sums = [sum(column) for column in zip(*totals, strict=True)]
    options = {"key": key, **BOOTSTRAP}
    d_pct = cluster_bootstrap_interval(totals, _d_pct_wins, **options)
    d_gain = cluster_bootstrap_interval(totals, _d_gain, **options)
    wins, pairs = int(sums[0]), int(sums[1])
    low, high = wilson_interval(wins, pairs)
    pct_flip, pct_base = _pct(sums[0], sums[1]), _pct(sums[4], sums[5])
    gain_flip, gain_base = _mean(sums[2], sums[3]), _mean(sums[6], sums[7])
    return {
        **dict(zip(_CELL, key[1:], strict=True)),
        "n_pairs_base": int(sums[5]),
        "n_pairs_flip": pairs,
        "n_clusters": len(totals),
        "pct_wins_base": pct_base,
        "pct_wins_flip": pct_flip,
        "pct_wins_flip_ci_low": 100.0 * low,
        "pct_wins_flip_ci_high": 100.0 * high,
        "d_pct_wins": pct_flip - pct_base,
        "d_pct_wins_ci_low": d_pct[0],
        "d_pct_wins_ci_high": d_pct[1],
        "gain_base": gain_base,
        "gain_flip": gain_flip,
        "d_gain": gain_flip - gain_base,
        "d_gain_ci_low": d_gain[0],
        "d_gain_ci_high": d_gain[1],
        "n_boot": BOOTSTRAP["n_boot"],
        "bootstrap_seed": BOOTSTRAP["seed"],
    }


def _d_pct_wins(s: list[float]) -> float:
    return _pct(s[0], s[1]) - _pct(s[4], s[5])


def _d_gain(s: list[float]) -> float:
    return _mean(s[2], s[3]) - _mean(s[6], s[7])


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
