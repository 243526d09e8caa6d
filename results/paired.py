"""Paired statistics for every "A beats B" claim (reg+cls vs reg, reg-scaled vs reg, ...).

A pair is one model A and the model B it is compared with, trained on the same data (same
function, seed, sampling, ...). For each group of pairs `paired_stats` reports how often A beats
B with its count, a Wilson interval and an exact two-sided sign-test p-value (Holm-adjusted over
the table), and the paired mean MSE difference with a bootstrap interval that resamples clusters
(target functions): the seeds of one function share the function, so they are not independent,
and resampling single pairs would understate the uncertainty.

Conventions, shared by every function here:

- "A beats B" (a win) means `mse_a < mse_b` strictly. A tie is a pair A does not win (for
  `pct_wins`), and the sign test leaves exact ties out (they have no direction).
- A diverged or failed model A (`mse_a` null, NaN or infinite) is a pair A does not win, as the
  core paper's Table 1 counts a diverged reg+cls model as "does not help"; it is counted in
  `n_diverged` and left out of the MSE difference (it has no MSE).
- A pair without a baseline (`mse_b` null, NaN or infinite) is no pair: it is dropped and
  counted nowhere.
- Undefined values are NaN, never null: the Wilson interval of zero pairs, the sign test of zero
  pairs, the mean difference when every A diverged, and the bootstrap interval of fewer than two
  clusters (one function shows no between-function spread, so no interval is claimed).
- Wilson intervals and the sign test treat pairs as independent; only the bootstrap interval of
  the mean difference accounts for the clustering.

Only the standard library and Polars are used (no numpy/scipy).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from statistics import NormalDist

import polars as pl

COUNT = pl.Int64
STAT_COLUMNS: dict[str, pl.DataType] = {
    "n_pairs": COUNT,
    "n_wins": COUNT,
    "n_diverged": COUNT,
    "pct_wins": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
    "mean_diff": pl.Float64,
    "median_diff": pl.Float64,
    "mean_diff_ci_low": pl.Float64,
    "mean_diff_ci_high": pl.Float64,
    "n_clusters": COUNT,
    "n_boot": COUNT,
    "bootstrap_seed": COUNT,
}

_NAN = float("nan")
# Private working columns of `paired_stats`; input columns of these names are rejected.
_DIFF, _WIN, _DIVERGED = "__paired_diff", "__paired_win", "__paired_diverged"
_ALL, _CLUSTER = "__paired_all", "__paired_cluster"


def wilson_interval(wins: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the proportion `wins / n`, on the 0..1 scale.

    With z the two-sided normal quantile of `confidence` and p = wins / n:
    centre = (p + z^2 / 2n) / (1 + z^2 / n),
    half-width = z * sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n).
    The bounds are exactly 0 when wins == 0 and exactly 1 when wins == n; n == 0 gives
    (nan, nan).
    """
    _check_count("n", n, 0, None)
    _check_count("wins", wins, 0, n)
    _check_confidence(confidence)
    if n == 0:
        return (_NAN, _NAN)
    z = _z(confidence)
    p = wins / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denominator
    low = 0.0 if wins == 0 else max(0.0, centre - half)
    high = 1.0 if wins == n else min(1.0, centre + half)
    return (low, high)


def sign_test_p(wins: int, n: int) -> float:
    """The exact two-sided sign-test p-value of `wins` out of `n` under Binomial(n, 1/2).

    p = min(1, 2 * P(X <= min(wins, n - wins))), computed exactly in integers and rounded once
    to a float (no overflow for large n; p-values below ~1e-308 round to 0.0). n == 0 gives nan:
    without pairs there is no test (`holm` passes nan through).
    """
    _check_count("n", n, 0, None)
    _check_count("wins", wins, 0, n)
    if n == 0:
        return _NAN
    tail, term = 0, 1  # term = comb(n, k)
    for k in range(min(wins, n - wins) + 1):
        tail += term
        term = term * (n - k) // (k + 1)
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The distribution-free order-statistic interval of the median of `values`.

    Sorted x_(1) <= ... <= x_(n), the interval is [x_(k), x_(n+1-k)] with the largest k >= 1
    such that P(X <= k - 1) <= (1 - confidence) / 2 for X ~ Binomial(n, 1/2) (exact, in
    integers): its coverage 1 - 2 P(X <= k - 1) is at least `confidence` for any continuous
    distribution of independent values (the sign-test inversion). Too few values for any such k
    (n < 6 at 95%) give (nan, nan). Values must be finite.

    Example:
        >>> median_interval([float(v) for v in range(1, 10)])  # n = 9: k = 2
        (2.0, 8.0)
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"values: expected a sequence of floats, got {type(values).__name__}")
    for v in values:
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"values: got {v!r}; accepted values: finite floats")
    _check_confidence(confidence)
    n = len(values)
    alpha_half = Fraction(1.0 - confidence) / 2
    k, tail, term = 0, 0, 1  # term = comb(n, k); tail = sum of comb(n, j) for j < k
    while k < (n + 1) // 2 and Fraction(tail + term, 2**n) <= alpha_half:
        tail += term
        term = term * (n - k) // (k + 1)
        k += 1
    if k == 0:
        return (_NAN, _NAN)
    ordered = sorted(float(v) for v in values)
    return (ordered[k - 1], ordered[n - k])


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th smallest of the m p-values (i = 0..m-1) is adjusted to
    max over j <= i of min(1, (m - j) * p_(j)), so adjusted values are monotone in the raw ones
    and capped at 1. NaN (or None) entries stay NaN and are not counted in m.
    """
    if isinstance(p_values, str | bytes) or not isinstance(p_values, Sequence):
        raise ValueError(f"p_values: expected a sequence of floats, got {type(p_values).__name__}")
    values = [_NAN if p is None else p for p in p_values]
    for p in values:
        if not isinstance(p, int | float) or isinstance(p, bool) or not (p != p or 0 <= p <= 1):
            raise ValueError(f"p_values: got {p!r}; accepted values: floats in [0, 1] or nan")
    order = sorted((i for i, p in enumerate(values) if not math.isnan(p)), key=values.__getitem__)
    m = len(order)
    adjusted = [_NAN] * len(values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = running
    return adjusted


def paired_stats(
    pairs: pl.DataFrame,
    by: Sequence[str],
    *,
    cluster: str = "function_id",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """How often, and by how much, model A beats model B: one row per group of `by` values.

    `pairs` holds one row per pair: the `by` columns, the `cluster` column (the unit the
    bootstrap resamples, e.g. the target function; never null) and the float MSEs `mse_a`,
    `mse_b` (see the module docstring for wins, ties, diverged A and missing baselines). `by`
    may be empty (one row over all pairs). Columns of the result, sorted by the `by` columns
    ascending (nulls last):

    - the `by` columns; `n_pairs`, `n_wins` and `n_diverged` (A diverged or failed);
    - `pct_wins` = 100 * n_wins / n_pairs, `ci_low`, `ci_high` its Wilson interval in percent;
    - `p_value`, the exact two-sided sign test of n_wins out of n_pairs against 50% (H0: a pair is
      as likely to be a win as not; ties and diverged pairs are not wins), and `p_holm`, Holm-
      adjusted over all rows of this table (a table is one call; to adjust over several tables,
      call `holm` on their concatenated `p_value` columns);
    - `mean_diff`, `median_diff` of `mse_a - mse_b` over the pairs where A did not diverge
      (negative: A is better); `mean_diff_ci_low`, `mean_diff_ci_high` its cluster-bootstrap
      percentile interval; `n_clusters`, the clusters that hold such pairs;
    - `n_boot` and `bootstrap_seed`, the bootstrap's settings, recorded.

    The bootstrap draws `n_clusters` clusters with replacement `n_boot` times; a resample's mean
    is the sum of the drawn clusters' difference sums over the sum of their pair counts (every
    pair of a drawn cluster, once per draw). The interval is the linearly interpolated
    (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the resample means; fewer than two
    clusters give NaN. Each group draws from `random.Random` seeded with a SHA-256 of (`seed`,
    group key), so the result does not depend on row or group order. An empty input (after
    dropping pairs without a baseline) gives an empty frame with the result's columns.
    """
    by = _checked_arguments(pairs, by, cluster, n_boot, seed, confidence)
    schema = {**{name: pairs.schema[name] for name in by}, **STAT_COLUMNS}
    keys = list(by) or [_ALL]
    a, b = pl.col("mse_a").cast(pl.Float64), pl.col("mse_b").cast(pl.Float64)
    a_ok = a.is_finite().fill_null(False)
    kept = pairs.select(*by, pl.col(cluster).alias(_CLUSTER), a, b, pl.lit(0).alias(_ALL)).filter(
        b.is_finite().fill_null(False)
    )
    groups = (
        kept.with_columns(
            pl.when(a_ok).then(a - b).alias(_DIFF),
            (a_ok & (a < b)).alias(_WIN),
            (~a_ok).alias(_DIVERGED),
        )
        .group_by(keys)
        .agg(
            pl.len().alias("n_pairs"),
            pl.col(_WIN).sum().alias("n_wins"),
            pl.col(_DIVERGED).sum().alias("n_diverged"),
            pl.col(_DIFF).median().alias("median_diff"),
            pl.col(_CLUSTER).filter(pl.col(_DIFF).is_not_null()),
            pl.col(_DIFF).drop_nulls(),
        )
        .sort(keys, nulls_last=True)
    )
    stats = [
        _group_stats(row, by, n_boot, seed, confidence) for row in groups.iter_rows(named=True)
    ]
    for row, p in zip(stats, holm([row["p_value"] for row in stats]), strict=True):
        row["p_holm"] = p
    return pl.DataFrame(stats, schema=schema)


def rank_correlation(
    frame: pl.DataFrame,
    x: str,
    y: str,
    by: Sequence[str],
    *,
    cluster: str = "function_id",
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Spearman's rank correlation of columns `x` and `y` per group of `by`, with a percentile
    interval from a bootstrap that resamples clusters (all rows of a drawn cluster, once per
    draw), seeded like `paired_stats`. Rows with a non-finite x or y are left out. Columns: the
    `by` columns, `n`, `rho`, `ci_low`, `ci_high` (NaN: fewer than three rows or two clusters, or
    a constant column).

    Example:
        >>> rank_correlation(pairs, "d_l_extra", "d_mse", ["scenario", "sampling"])
    """
    by = list(by)
    for name in (*by, x, y, cluster):
        if name not in frame.columns:
            raise ValueError(f"frame: needs a column {name!r}")
    _check_count("n_boot", n_boot, 1, None)
    _check_seed(seed)
    _check_confidence(confidence)
    schema = {
        **{name: frame.schema[name] for name in by},
        "n": COUNT,
        "rho": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
    }
    finite = pl.col(x).cast(pl.Float64).is_finite() & pl.col(y).cast(pl.Float64).is_finite()
    kept = frame.filter(finite.fill_null(False))
    keys = by or [_ALL]
    groups = (
        kept.with_columns(pl.lit(0).alias(_ALL))
        .group_by(keys)
        .agg(
            pl.col(cluster).alias(_CLUSTER), pl.col(x).cast(pl.Float64), pl.col(y).cast(pl.Float64)
        )
        .sort(keys, nulls_last=True)
    )
    out = []
    for row in groups.iter_rows(named=True):
        per_cluster: dict[object, list[tuple[float, float]]] = {}
        for c, u, v in zip(row[_CLUSTER], row[x], row[y], strict=True):
            per_cluster.setdefault(c, []).append((u, v))
        clusters = [per_cluster[c] for c in sorted(per_cluster)]
        points = [p for members in clusters for p in members]
        rho = _spearman(points)
        low = high = _NAN
        if len(clusters) >= 2 and math.isfinite(rho):
            rng = _rng(seed, tuple(row[name] for name in by))
            values = []
            for _ in range(n_boot):
                drawn = rng.choices(clusters, k=len(clusters))
                value = _spearman([p for members in drawn for p in members])
                if math.isfinite(value):
                    values.append(value)
            if values:
                values.sort()
                alpha = (1.0 - confidence) / 2.0
                low, high = _quantile(values, alpha), _quantile(values, 1.0 - alpha)
        out.append(
            {
                **{n: row[n] for n in by},
                "n": len(points),
                "rho": rho,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pl.DataFrame(out, schema=schema)


def with_wilson(frame: pl.DataFrame, wins: str, n: str, confidence: float = 0.95) -> pl.DataFrame:
    """`frame` with `ci_low`, `ci_high`: the Wilson interval of `wins` out of `n`, in percent
    (NaN where `n` is 0 or null)."""
    _check_confidence(confidence)
    bounds = [
        wilson_interval(int(w or 0), int(k or 0), confidence)
        for w, k in zip(frame[wins].to_list(), frame[n].to_list(), strict=True)
    ]
    return frame.with_columns(
        pl.Series("ci_low", [100.0 * b[0] for b in bounds], dtype=pl.Float64),
        pl.Series("ci_high", [100.0 * b[1] for b in bounds], dtype=pl.Float64),
    )


def naive_bootstrap_interval(
    values: Sequence[float], n_boot: int = 2000, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of `values`, resampling single values.

    The per-row counterpart of `paired_stats`' cluster bootstrap (each value its own cluster),
    drawing from `random.Random` seeded like a `paired_stats` group with an empty key. Right for
    independent values only; fewer than two values give (nan, nan).
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValueError(f"values: expected a sequence of floats, got {type(values).__name__}")
    for v in values:
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"values: got {v!r}; accepted values: finite floats")
    _check_count("n_boot", n_boot, 1, None)
    _check_seed(seed)
    _check_confidence(confidence)
    sums = [float(v) for v in values]
    return _cluster_bootstrap([sums, [1] * len(sums)], _ratio, n_boot, _rng(seed, ()), confidence)


def cluster_bootstrap_interval(
    totals: Sequence[Sequence[float]],
    statistic: Callable[[list[float]], float],
    *,
    key: tuple[object, ...] = (),
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """The percentile interval of `statistic` under a bootstrap that resamples clusters.

    `totals` holds one row per cluster of additive totals (e.g. wins, pairs, a sum of
    differences and its count, for two conditions measured on the same clusters). A resample
    draws `len(totals)` clusters with replacement and applies `statistic` to the column sums of
    the drawn rows (a cluster drawn twice counts twice); non-finite values are left out. The
    interval is the linearly interpolated (1 - confidence) / 2 and (1 + confidence) / 2
    quantiles, as in `paired_stats`, whose mean-difference interval is this with the totals
    (sum of differences, pairs) and statistic sum / pairs. Draws come from `random.Random` seeded
    with a SHA-256 of (`seed`, `key`): the same seed and key draw the same clusters, so several
    statistics of one group share their resamples. Fewer than two clusters, or no finite value,
    give (nan, nan).

    Example:
        >>> # change in % wins between two conditions, clusters resampled jointly
        >>> totals = [(wins_a, n_a, wins_b, n_b) for each function]
        >>> cluster_bootstrap_interval(totals, lambda s: 100 * (s[0] / s[1] - s[2] / s[3]))
    """
    if isinstance(totals, str | bytes) or not isinstance(totals, Sequence):
        raise ValueError(f"totals: expected a sequence of rows, got {type(totals).__name__}")
    widths = {len(row) if isinstance(row, Sequence) else -1 for row in totals}
    if len(widths) > 1 or widths & {-1, 0}:
        raise ValueError("totals: accepted values: rows of equal length >= 1, one per cluster")
    for row in totals:
        for v in row:
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise ValueError(f"totals: got {v!r}; accepted values: finite numbers")
    if not callable(statistic):
        raise ValueError(f"statistic: got {statistic!r}; accepted values: a callable")
    _check_count("n_boot", n_boot, 1, None)
    _check_seed(seed)
    _check_confidence(confidence)
    columns = [list(column) for column in zip(*totals, strict=True)]
    return _cluster_bootstrap(columns, statistic, n_boot, _rng(seed, tuple(key)), confidence)


def _group_stats(
    row: dict[str, object], by: list[str], n_boot: int, seed: int, confidence: float
) -> dict[str, object]:
    """One output row (`p_holm` still NaN) from a group's aggregated counts and lists."""
    n_pairs, n_wins = int(row["n_pairs"]), int(row["n_wins"])
    diffs: list[float] = row[_DIFF]
    per_cluster: dict[object, list[float]] = {}
    for c, d in zip(row[_CLUSTER], diffs, strict=True):
        per_cluster.setdefault(c, []).append(d)
    ordered = sorted(per_cluster)
    sums = [math.fsum(per_cluster[c]) for c in ordered]
    counts = [len(per_cluster[c]) for c in ordered]
    key = tuple(row[name] for name in by)
    ci = _cluster_bootstrap([sums, counts], _ratio, n_boot, _rng(seed, key), confidence)
    low, high = wilson_interval(n_wins, n_pairs, confidence)
    # The sign test drops exact ties (no direction); a diverged A counts as a loss.
    n_ties = sum(1 for d in diffs if d == 0.0)
    return {
        **{name: row[name] for name in by},
        "n_pairs": n_pairs,
        "n_wins": n_wins,
        "n_diverged": int(row["n_diverged"]),
        "pct_wins": 100.0 * n_wins / n_pairs,
        "ci_low": 100.0 * low,
        "ci_high": 100.0 * high,
        "p_value": sign_test_p(n_wins, n_pairs - n_ties),
        "p_holm": _NAN,
        "mean_diff": math.fsum(diffs) / len(diffs) if diffs else _NAN,
        "median_diff": _NAN if row["median_diff"] is None else float(row["median_diff"]),
        "mean_diff_ci_low": ci[0],
        "mean_diff_ci_high": ci[1],
        "n_clusters": len(ordered),
        "n_boot": n_boot,
        "bootstrap_seed": seed,
    }


def _cluster_bootstrap(
    columns: list[list[float]],
    statistic: Callable[[list[float]], float],
    n_boot: int,
    rng: random.Random,
    confidence: float,
) -> tuple[float, float]:
    """Percentile interval of `statistic(column sums of the drawn clusters)` over `n_boot`
    resamples; `columns` holds one list per total, one entry per cluster."""
    k = len(columns[0]) if columns else 0
    if k < 2:
        return (_NAN, _NAN)
    draws = rng.choices(range(k), k=k * n_boot)
    getters = [column.__getitem__ for column in columns]
    values = []
    for i in range(0, k * n_boot, k):
        draw = draws[i : i + k]
        value = statistic([sum(map(get, draw)) for get in getters])
        if math.isfinite(value):
            values.append(value)
    if not values:
        return (_NAN, _NAN)
    values.sort()
    alpha = (1.0 - confidence) / 2.0
    return (_quantile(values, alpha), _quantile(values, 1.0 - alpha))


def _ratio(sums: list[float]) -> float:
    """The mean of a resample: its sum of differences over its pairs."""
    return sums[0] / sums[1]


def _spearman(points: list[tuple[float, float]]) -> float:
    """Spearman's rho: Pearson's correlation of the (average, for ties) ranks; NaN when it is
    undefined (fewer than three points or a constant column)."""
    if len(points) < 3:
        return _NAN
    rx = _ranks([p[0] for p in points])
    ry = _ranks([p[1] for p in points])
    mx, my = math.fsum(rx) / len(rx), math.fsum(ry) / len(ry)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = math.fsum((a - mx) ** 2 for a in rx)
    syy = math.fsum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else _NAN


def _ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties given their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, linearly interpolated between order statistics."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    low, high = ordered[below], ordered[above]
    return low if low == high else low + (position - below) * (high - low)


def _rng(seed: int, key: tuple[object, ...]) -> random.Random:
    """A generator seeded from `seed` and a group key by SHA-256 (stable across processes)."""
    digest = hashlib.sha256(repr((seed, key)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _checked_arguments(
    pairs: object, by: object, cluster: object, n_boot: object, seed: object, confidence: object
) -> list[str]:
    """`by` as a list, once every argument of `paired_stats` is valid; ValueError otherwise."""
    if not isinstance(pairs, pl.DataFrame):
        raise ValueError(f"pairs: expected a polars DataFrame, got {type(pairs).__name__}")
    if isinstance(by, str) or not isinstance(by, Sequence):
        raise ValueError(f"by: got {by!r}; accepted values: a sequence of column names of pairs")
    by = list(by)
    for name in by:
        reserved = name in STAT_COLUMNS or name in ("mse_a", "mse_b") or name.startswith("__paired")
        if name not in pairs.columns or reserved:
            raise ValueError(f"by: got {name!r}; accepted values: columns of pairs (not stats)")
    if len(set(by)) != len(by):
        raise ValueError(f"by: got {by!r}; accepted values: distinct column names")
    if not isinstance(cluster, str) or cluster not in pairs.columns:
        raise ValueError(f"cluster: got {cluster!r}; accepted values: a column of pairs")
    if pairs[cluster].null_count():
        raise ValueError(f"cluster: column {cluster!r} has nulls; accepted values: non-null")
    for name in ("mse_a", "mse_b"):
        if name not in pairs.columns or not pairs.schema[name].is_numeric():
            raise ValueError(f"pairs: needs a numeric column {name!r} (got {pairs.columns})")
    _check_count("n_boot", n_boot, 1, None)
    _check_seed(seed)
    _check_confidence(confidence)
    return by


def _check_count(name: str, value: object, low: int, high: int | None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        accepted = f"integers >= {low}" if high is None else f"integers {low}..{high}"
        raise ValueError(f"{name}: got {value!r}; accepted values: {accepted}")


def _check_seed(seed: object) -> None:
    ok = isinstance(seed, int) and not isinstance(seed, bool)
    if not ok or not -(2**63) <= seed < 2**63:
        raise ValueError(f"seed: got {seed!r}; accepted values: 64-bit integers")


def _check_confidence(confidence: object) -> None:
    ok = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    if not ok or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: got {confidence!r}; accepted values: floats in (0, 1)")
