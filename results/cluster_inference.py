"""Cluster-aware paired statistics: every "A beats B" table of the studies goes through here.

A pair is a model A and the model B it is compared with, trained on the same data. Pairs are
not independent: in the 1D studies one reg (reg-scaled, reg-tuned) per (function, seed) is
shared by every C, and the seeds of one target function move together; in the DIR studies every
pair of one seed shares its data split and its reg. The unit of independence (the *cluster*) is
the target function in 1D and the seed in DIR. Everything here is computed from cluster totals.

**Method: the sign-flip randomisation test over clusters, and the intervals that invert it.**
Per cluster g, with pair weights w (1 unless a table says otherwise), a statistic's total
S_g = sum(w * value) and weight n_g = sum(w); the estimate is the ratio sum(S_g) / sum(n_g)
(pairs pooled: the pooled % wins, the pooled mean difference). Under H0: theta = theta0 the
cluster terms S_g - theta0 n_g are independent and symmetric about 0, so flipping their signs
does not change their joint law (Fisher's randomisation test; Good, *Permutation Tests*,
2005, ch. 3; for clusters, Cameron, Gelbach & Miller 2008, "Bootstrap-based improvements for
inference with clustered errors", whose wild cluster bootstrap with Rademacher weights is this
test, and Hayes & Moulton, *Cluster Randomised Trials*, 2017, ch. 9). The two-sided p-value is
the share of sign patterns e with |sum e_g (S_g - theta0 n_g)| >= |sum (S_g - theta0 n_g)|:
all 2^G patterns for G <= `EXACT_CLUSTERS`, else `MONTE_CARLO_PATTERNS` random ones with their
negations and the identity (a Monte Carlo randomisation test, exact in level; Dwass 1957),
seeded from the group's key. Its level holds by construction for any cluster sizes, within-
cluster correlation or shared baselines, whenever the cluster terms are symmetric under H0:

- **% wins** (the probability that A beats B, ties counted half): under "no effect" A and B are
  exchangeable within a cluster, so a cluster's win score minus half its pairs is symmetric
  whatever the MSE distribution (skewed or not): the test is exact.
- **mean difference**: exact when the cluster totals are symmetric under H0 (e.g. symmetric
  noise); with skewed differences it is approximate (the calibration tests measure it).

Where every cluster has the same proportion (e.g. all 100% wins) the inversion collapses to a
point; `proportion_interval` then gives Clopper-Pearson's interval for G trials instead.

The 100(1 - alpha)% interval is {theta : p(theta) > alpha} (test inversion; Garthwaite 1996,
"Confidence intervals from randomization tests", Biometrics 52). For positive weights each
pattern's acceptance set is a half-line on either side of the estimate, so the bounds are
order statistics of per-pattern crossing points, computed exactly. Interval and test agree by
construction: theta0 lies outside the interval iff p(theta0) <= alpha. With G clusters the
smallest p-value is 2 / 2^G: below `min_clusters(confidence)` clusters (6 at 95%: 2/32 > 0.05)
no 95% interval exists, the bounds are NaN ("—" in the report) and `too_few_clusters` is true.

Ratios (the share of a gain carried by the CE term) are inverted the same way, Fieller-style:
H0: rho = rho0 is the linear statement Y - (1 - rho0) X = 0, tested by sign flips; the set is
bounded iff the denominator X is itself distinguishable from 0 at the same level (Fieller 1954;
the randomisation form of it), and is reported as unbounded (NaN, with the reason) otherwise.

Equivalence (Schuirmann 1987, "A comparison of the two one-sided tests procedure...", J.
Pharmacokinet. Biopharm. 15): two one-sided sign-flip tests of the mean difference at
-margin and +margin; `p_equivalence` is the larger p, and `p_equivalence <= alpha` is the same as
the 100(1 - 2 alpha)% inverted interval lying inside (-margin, margin).

Pair outcomes (one rule for A and for B):

- both finished with a finite MSE: a win (A lower), a tie (equal) or a loss, and a difference;
- a diverged model (status "diverged", or a non-finite MSE) loses to a finished one, on either
  side; two diverged models tie; no difference enters the mean (`n_diverged_a`, `n_diverged_b`);
- a failed trial (no model: the worker died, the scheduler stopped it) is missing data, not an
  outcome of the method: its pair is dropped and counted in `n_dropped`, as is an A without a B.

Libraries: numpy for the randomisation, scipy for Spearman; Holm is four lines.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats as scipy_stats

EXACT_CLUSTERS = 12  # up to 2^12 = 4,096 sign patterns enumerated; Monte Carlo beyond
MONTE_CARLO_PATTERNS = 10_000
EQUIVALENCE_MARGIN = 0.10  # +-10% of B's mean MSE (issue 19); recorded in every row
OK, DIVERGED, FAILED = "ok", "diverged", "failed"

COUNT = pl.Int64
STAT_COLUMNS: dict[str, pl.DataType] = {
    "n_pairs": COUNT,
    "n_clusters": COUNT,
    "n_wins": COUNT,
    "n_ties": COUNT,
    "n_diverged_a": COUNT,
    "n_diverged_b": COUNT,
    "n_dropped": COUNT,
    "pct_wins": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
    "holm_m": COUNT,
    "mean_diff": pl.Float64,
    "median_diff": pl.Float64,
    "mean_diff_ci_low": pl.Float64,
    "mean_diff_ci_high": pl.Float64,
    "mean_b": pl.Float64,
    "equivalence_margin": pl.Float64,
    "p_equivalence": pl.Float64,
    "too_few_clusters": pl.Boolean,
    "n_patterns": COUNT,
    "verdict": pl.String,
}

# What each statistics column means and its unit (docs/columns.md: `results.columns`).
STAT_COLUMN_DOCS: dict[str, tuple[str, str]] = {
    "n_pairs": ("pairs scored: both sides finished or diverged", "pairs"),
    "n_clusters": ("independent units holding the pairs (functions in 1D, seeds in DIR)", "units"),
    "n_wins": ("pairs where A has the lower MSE, or B diverged and A did not", "pairs"),
    "n_ties": ("pairs with equal MSE, or both diverged (each counts half a win)", "pairs"),
    "n_diverged_a": ("pairs whose A diverged (a loss for A)", "pairs"),
    "n_diverged_b": ("pairs whose B diverged (a win for A)", "pairs"),
    "n_dropped": ("pairs dropped because a side's trial failed (no model)", "pairs"),
    "pct_wins": ("100 x weighted mean win score (win 1, tie 1/2, loss 0)", "percent"),
    "ci_low": ("lower bound of the 95% interval of pct_wins over the units", "percent"),
    "ci_high": ("upper bound of the 95% interval of pct_wins over the units", "percent"),
    "p_value": ("two-sided sign-flip test over the units of pct_wins = 50", "probability"),
    "p_holm": ("p_value Holm-adjusted within its family (holm_m tests)", "probability"),
    "holm_m": ("number of tests in the row's Holm family", "tests"),
    "mean_diff": ("mean of MSE A - MSE B over pairs where both finished", "MSE units"),
    "median_diff": ("median of MSE A - MSE B over pairs where both finished", "MSE units"),
    "mean_diff_ci_low": (
        "lower bound of the 95% interval of mean_diff over the units",
        "MSE units",
    ),
    "mean_diff_ci_high": (
        "upper bound of the 95% interval of mean_diff over the units",
        "MSE units",
    ),
    "mean_b": ("mean MSE of B over the pairs where both finished", "MSE units"),
    "equivalence_margin": ("TOST margin: 10% of mean_b", "MSE units"),
    "p_equivalence": ("TOST p-value of |mean difference| < equivalence_margin", "probability"),
    "too_few_clusters": ("fewer than 6 units: no 95% interval exists (bounds NaN)", "flag"),
    "n_patterns": ("sign patterns of the randomisation test (2^G, or 10,000)", "patterns"),
    "verdict": ("the verdict words of results/verdicts.py", "—"),
}

_NAN = float("nan")
_P = "__cluster_"  # prefix of private working columns
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class FlipResult:
    """Per group (one entry per row of the inputs): the estimate sum(S) / sum(n), the two-sided
    sign-flip p-value at `theta0`, the inverted interval (NaN bounds: too few clusters), the
    number of clusters and of sign patterns used."""

    estimate: np.ndarray
    p_value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_clusters: int
    n_patterns: int


def min_clusters(confidence: float = 0.95) -> int:
    """The fewest clusters with which a two-sided sign-flip test can reach p <= 1 - confidence
    (its smallest p-value is 2 / 2^G): 6 at 95%, 5 at 90%."""
    _check_confidence(confidence)
    alpha = 1.0 - confidence
    g = 1
    while 2.0 / 2.0**g > alpha + 1e-15:
        g += 1
    return g


def n_patterns(n_clusters: int) -> int:
    """How many sign patterns the test of `n_clusters` clusters uses (0 without clusters)."""
    if n_clusters == 0:
        return 0
    return 2**n_clusters if n_clusters <= EXACT_CLUSTERS else MONTE_CARLO_PATTERNS


def sign_patterns(n_clusters: int, key: object = ()) -> np.ndarray:
    """The sign patterns of the randomisation test, a `[M, G]` float array of +-1.

    G <= `EXACT_CLUSTERS`: all 2^G patterns (first row the identity). Beyond: the identity, its
    negation and `MONTE_CARLO_PATTERNS` / 2 - 1 random patterns with their negations, drawn
    from a generator seeded by SHA-256 of `key` (the same key draws the same patterns).
    """
    _check_int("n_clusters", n_clusters, 1)
    if n_clusters <= EXACT_CLUSTERS:
        codes = np.arange(2**n_clusters, dtype=np.int64)[:, None] >> np.arange(n_clusters)
        return 1.0 - 2.0 * (codes & 1)
    digest = hashlib.sha256(repr(("sign-flip", key)).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    half = MONTE_CARLO_PATTERNS // 2 - 1
    drawn = rng.choice([-1.0, 1.0], size=(half, n_clusters))
    identity = np.ones((1, n_clusters))
    return np.concatenate([identity, -identity, drawn, -drawn])


def cluster_flip(
    sums: np.ndarray,
    weights: np.ndarray,
    *,
    theta0: float = 0.0,
    confidence: float = 0.95,
    patterns: np.ndarray | None = None,
) -> FlipResult:
    """The sign-flip test of sum(S) / sum(n) = `theta0` and its inverted interval.

    `sums` and `weights` are `[G]` (one group) or `[R, G]` (R groups with the same number of
    clusters, e.g. R simulated studies): per cluster the weighted total S_g of the values and
    its weight n_g > 0. `patterns` defaults to `sign_patterns(G)`.

    Example:
        >>> r = cluster_flip(np.array([1.0, 2.0, 0.5, 1.5, 1.0, 2.0]), np.ones(6))
        >>> r.p_value  # every cluster positive: 2 of 64 patterns as extreme
        array([0.03125])
    """
    s, n = _as_groups(sums, weights)
    _check_confidence(confidence)
    g = s.shape[1]
    e = sign_patterns(g) if patterns is None else np.asarray(patterns, dtype=np.float64)
    if e.ndim != 2 or e.shape[1] != g:
        raise ValueError(f"patterns: expected shape [M, {g}], got {e.shape}")
    total_s, total_n = s.sum(axis=1), n.sum(axis=1)
    estimate = total_s / total_n
    p_value = _two_sided_p(s - theta0 * n, e)
    low, high = _inverted_interval(s, n, e, 1.0 - confidence)
    return FlipResult(estimate, p_value, low, high, g, e.shape[0])


def one_sided_p(
    sums: np.ndarray, weights: np.ndarray, theta0: float, *, below: bool, patterns: np.ndarray
) -> np.ndarray:
    """The one-sided sign-flip p-value of H0: theta >= theta0 (`below`: the alternative is
    theta < theta0) or H0: theta <= theta0; `[R]` for `[R, G]` inputs."""
    s, n = _as_groups(sums, weights)
    terms = s - theta0 * n
    observed = terms.sum(axis=1)
    flipped = terms @ patterns.T
    scale = _TOLERANCE * (np.abs(terms).sum(axis=1) + 1e-300)
    if below:
        return (flipped <= (observed + scale)[:, None]).mean(axis=1)
    return (flipped >= (observed - scale)[:, None]).mean(axis=1)


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    confidence: float = 0.95,
    patterns: np.ndarray | None = None,
) -> tuple[float, float, float, bool]:
    """The Fieller-type sign-flip interval of rho = sum(numerator) / sum(denominator).

    Per cluster g, `numerator[g]` and `denominator[g]` are its contributions (any sign). H0:
    rho = rho0 is sum(numerator - rho0 * denominator) = 0, tested by sign flips of the cluster
    terms; the interval is every rho0 the test does not reject. Returns (estimate, low, high,
    bounded): `bounded` is false, and the bounds NaN, when the accepted set reaches +-infinity,
    which happens exactly when the denominator is not distinguishable from 0 at this level.
    """
    x = np.asarray(numerator, dtype=np.float64).ravel()
    y = np.asarray(denominator, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ValueError("numerator, denominator: expected equal, non-empty per-cluster arrays")
    _check_confidence(confidence)
    e = sign_patterns(x.size) if patterns is None else patterns
    estimate = x.sum() / y.sum() if y.sum() != 0 else _NAN
    a, b = e @ x, e @ y  # per pattern: flipped numerator and denominator sums
    big_a, big_b = x.sum(), y.sum()
    needed = math.floor((1.0 - confidence) * e.shape[0] + 1e-9) + 1
    # Pattern e accepts rho where |a - rho b| >= |A - rho B|: (b^2 - B^2) rho^2 - 2 (ab - AB) rho
    # + (a^2 - A^2) >= 0. The count changes only at the roots; evaluate between them.
    qa, qb, qc = b * b - big_b * big_b, -2.0 * (a * b - big_a * big_b), a * a - big_a * big_a
    roots = [np.array([])]
    linear = np.abs(qa) <= _TOLERANCE * (b * b + big_b * big_b + 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        roots.append(-qc[linear & (qb != 0)] / qb[linear & (qb != 0)])
        disc = qb * qb - 4.0 * qa * qc
        quad = ~linear & (disc >= 0)
        root = np.sqrt(disc[quad])
        roots += [(-qb[quad] - root) / (2 * qa[quad]), (-qb[quad] + root) / (2 * qa[quad])]
    points = np.unique(np.concatenate([r[np.isfinite(r)] for r in roots] + [[estimate]]))
    points = points[np.isfinite(points)]
    span = max(1.0, float(np.abs(points).max())) if points.size else 1.0
    probes = np.concatenate([[-1e6 * span], (points[:-1] + points[1:]) / 2, points, [1e6 * span]])
    lhs = np.abs(a[None, :] - probes[:, None] * b[None, :])
    rhs = np.abs(big_a - probes * big_b)[:, None]
    accepted = (lhs >= rhs * (1 - _TOLERANCE) - 1e-300).sum(axis=1) >= needed
    if accepted[0] or accepted[-1] or not accepted.any():
        return (estimate, _NAN, _NAN, False)
    inside = probes[accepted]
    return (estimate, float(inside.min()), float(inside.max()), True)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order: the i-th smallest of the m
    p-values becomes max over j <= i of min(1, (m - j) p_(j)). NaN (or None) stays NaN and is
    not counted in m."""
    if isinstance(p_values, str | bytes) or not isinstance(p_values, Sequence):
        raise ValueError(f"p_values: expected a sequence of floats, got {type(p_values).__name__}")
    values = [_NAN if p is None else p for p in p_values]
    for p in values:
        if not isinstance(p, int | float) or isinstance(p, bool) or not (p != p or 0 <= p <= 1):
            raise ValueError(f"p_values: got {p!r}; accepted values: floats in [0, 1] or nan")
    order = sorted((i for i, p in enumerate(values) if not math.isnan(p)), key=values.__getitem__)
    adjusted, running = [_NAN] * len(values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * values[i]))
        adjusted[i] = running
    return adjusted


def holm_within(stats: pl.DataFrame, family: Sequence[str | pl.Expr]) -> pl.DataFrame:
    """`stats` with `p_holm` (Holm over the `p_value`s of each family: the rows with equal
    `family` values, names or expressions; the whole table when empty) and `holm_m` (the
    family's number of tests)."""
    row = f"{_P}row"
    keys = list(family) or [pl.lit(0).alias(f"{_P}family")]
    families = (
        stats.with_columns(pl.int_range(pl.len()).alias(row))
        .group_by(keys, maintain_order=True)
        .agg(pl.col(row), pl.col("p_value"))
    )
    adjusted = np.full(stats.height, _NAN)
    sizes = np.zeros(stats.height, dtype=np.int64)
    for rows, p in zip(families[row], families["p_value"], strict=True):
        values = [float("nan") if v is None else float(v) for v in p]
        for i, v in zip(rows, holm(values), strict=True):
            adjusted[i], sizes[i] = v, sum(1 for x in values if x == x)
    return stats.with_columns(
        pl.Series("p_holm", adjusted, dtype=pl.Float64),
        pl.Series("holm_m", sizes, dtype=COUNT),
    )


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (scipy.stats.spearmanr); NaN for fewer than three points or a
    constant column."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return _NAN
    return float(scipy_stats.spearmanr(x, y).statistic)


def pair_outcomes(
    mse_a: pl.Expr, mse_b: pl.Expr, status_a: pl.Expr | None = None, status_b: pl.Expr | None = None
) -> list[pl.Expr]:
    """Polars expressions of the pair-outcome rule (module docstring): `__cluster_score` (1 win,
    1/2 tie, 0 loss; null: dropped), `__cluster_diff` (A - B where both finished), and the
    booleans `__cluster_div_a`, `__cluster_div_b`, `__cluster_dropped`. Without a status the
    model counts as finished iff its MSE is finite, diverged otherwise; a null `status_b` (no B
    row) drops the pair."""
    a_ok = mse_a.cast(pl.Float64).is_finite().fill_null(False)
    b_ok = mse_b.cast(pl.Float64).is_finite().fill_null(False)
    if status_a is not None:
        a_ok = a_ok & (status_a == OK).fill_null(False)
        a_failed = ~status_a.is_in((OK, DIVERGED)).fill_null(False)
    else:
        a_failed = pl.lit(False)
    if status_b is not None:
        b_ok = b_ok & (status_b == OK).fill_null(False)
        b_failed = ~status_b.is_in((OK, DIVERGED)).fill_null(False)
    else:
        b_failed = pl.lit(False)
    dropped = a_failed | b_failed
    a, b = mse_a.cast(pl.Float64), mse_b.cast(pl.Float64)
    score = (
        pl.when(dropped)
        .then(None)
        .when(a_ok & b_ok)
        .then(pl.when(a < b).then(1.0).when(a == b).then(0.5).otherwise(0.0))
        .when(a_ok)
        .then(1.0)
        .when(b_ok)
        .then(0.0)
        .otherwise(0.5)
    )
    return [
        score.alias(f"{_P}score"),
        pl.when(a_ok & b_ok & ~dropped).then(a - b).alias(f"{_P}diff"),
        (~a_ok & ~dropped).alias(f"{_P}div_a"),
        (~b_ok & ~dropped).alias(f"{_P}div_b"),
        dropped.alias(f"{_P}dropped"),
    ]


def paired_stats(
    pairs: pl.DataFrame,
    by: Sequence[str],
    *,
    cluster: str = "function_id",
    weight: str | None = None,
    holm_by: Sequence[str] | None = None,
    confidence: float = 0.95,
    margin_fraction: float = EQUIVALENCE_MARGIN,
) -> pl.DataFrame:
    """How often, and by how much, model A beats model B, per group of `by`, at the level of the
    independent clusters.

    `pairs`: one row per pair, the `by` columns, the `cluster` column (never null), `mse_a`,
    `mse_b` and optionally `status_a`, `status_b` ("ok", "diverged", "failed"; null `status_b`:
    no B) and a positive `weight` column (each pair's weight in the pooled estimates, e.g. 1 /
    pairs of its sampling for the mean of per-sampling percentages). Outcomes follow the module
    docstring. Columns (`STAT_COLUMNS`), one row per group, sorted by `by` (nulls last):

    - `n_pairs` (pairs scored: finished or diverged on either side), `n_clusters` (clusters
      holding them), `n_wins`, `n_ties`, `n_diverged_a`, `n_diverged_b`, `n_dropped`;
    - `pct_wins` = 100 x weighted mean score (a tie counts half), `ci_low`, `ci_high` its
      inverted sign-flip interval over clusters, `p_value` the sign-flip test of 50%, `p_holm`
      Holm-adjusted within `holm_by` (default: the whole table) over `holm_m` rows;
    - `mean_diff`, `median_diff` of mse_a - mse_b over the pairs where both finished, the
      interval `mean_diff_ci_low`, `mean_diff_ci_high` (inverted sign-flip over the clusters
      holding such pairs); `mean_b`, the mean MSE of B over those pairs;
    - `equivalence_margin` = `margin_fraction` x `mean_b`, `p_equivalence` the TOST p-value of
      |mean difference| < margin (two one-sided sign-flip tests, Schuirmann 1987);
    - `too_few_clusters`: fewer than `min_clusters(confidence)` clusters (the intervals are NaN);
      `n_patterns`: sign patterns used; `verdict` (`results.verdicts.comparison_verdict`).

    Example:
        >>> paired_stats(pairs, ["comparison", "scenario"], cluster="function_id")
    """
    by = _checked_arguments(pairs, by, cluster, weight, confidence, margin_fraction)
    holm_keys = [] if holm_by is None else list(holm_by)
    if isinstance(holm_by, str) or any(name not in by for name in holm_keys):
        raise ValueError(f"holm_by: got {holm_by!r}; accepted values: columns of by")
    schema = {**{name: pairs.schema[name] for name in by}, **STAT_COLUMNS}
    keys = list(by) or [f"{_P}all"]
    status = {
        side: pl.col(f"status_{side}") if f"status_{side}" in pairs.columns else None
        for side in "ab"
    }
    w = pl.col(weight).cast(pl.Float64) if weight else pl.lit(1.0)
    scored = pairs.with_columns(
        *pair_outcomes(pl.col("mse_a"), pl.col("mse_b"), status["a"], status["b"]),
        w.alias(f"{_P}w"),
        pl.col(cluster).alias(f"{_P}cluster"),
        pl.lit(0).alias(f"{_P}all"),
    )
    kept = pl.col(f"{_P}score").is_not_null()
    groups = (
        scored.group_by(keys)
        .agg(
            kept.sum().alias("n_pairs"),
            pl.col(f"{_P}cluster").filter(kept).n_unique().alias("n_clusters"),
            (pl.col(f"{_P}score") == 1.0).sum().alias("n_wins"),
            (pl.col(f"{_P}score") == 0.5).sum().alias("n_ties"),
            pl.col(f"{_P}div_a").sum().alias("n_diverged_a"),
            pl.col(f"{_P}div_b").sum().alias("n_diverged_b"),
            pl.col(f"{_P}dropped").sum().alias("n_dropped"),
            pl.col(f"{_P}diff").median().alias("median_diff"),
            pl.col("mse_b")
            .cast(pl.Float64)
            .filter(pl.col(f"{_P}diff").is_not_null())
            .mean()
            .alias("mean_b"),
            pl.col(f"{_P}cluster").filter(kept),
            pl.col(f"{_P}score").filter(kept),
            pl.col(f"{_P}w").filter(kept).alias(f"{_P}w_score"),
            pl.col(f"{_P}cluster").filter(pl.col(f"{_P}diff").is_not_null()).alias(f"{_P}dc"),
            pl.col(f"{_P}diff").drop_nulls(),
            pl.col(f"{_P}w").filter(pl.col(f"{_P}diff").is_not_null()).alias(f"{_P}w_diff"),
        )
        .sort(keys, nulls_last=True)
    )
    rows = [
        _group_row(row, by, confidence, margin_fraction) for row in groups.iter_rows(named=True)
    ]
    out = pl.DataFrame(rows, schema=schema)
    return holm_within(out, holm_keys) if out.height else out


def cluster_totals(
    clusters: Sequence[object], values: Sequence[float], weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct cluster (sorted), the weighted total of `values` and the total weight."""
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    order = sorted(set(clusters), key=lambda c: (c is None, c))
    index = {c: i for i, c in enumerate(order)}
    at = np.fromiter((index[c] for c in clusters), dtype=np.int64, count=len(values))
    sums = np.bincount(at, weights=w * v, minlength=len(order))
    return sums, np.bincount(at, weights=w, minlength=len(order))


def interval_of(
    sums: np.ndarray,
    weights: np.ndarray,
    *,
    theta0: float = 0.0,
    confidence: float = 0.95,
    key: object = (),
) -> tuple[float, float, float, float]:
    """(estimate, low, high, p at `theta0`) of one group's cluster totals; NaN estimate without
    clusters, NaN bounds below `min_clusters(confidence)` clusters."""  # fmt: skip
    if len(sums) == 0:
        return (_NAN, _NAN, _NAN, _NAN)
    result = cluster_flip(
        sums, weights, theta0=theta0, confidence=confidence,
        patterns=sign_patterns(len(sums), key),
    )  # fmt: skip
    return (
        float(result.estimate[0]), float(result.low[0]), float(result.high[0]),
        float(result.p_value[0]),
    )  # fmt: skip


def proportion_interval(
    sums: np.ndarray, weights: np.ndarray, *, confidence: float = 0.95, key: object = ()
) -> tuple[float, float, float, float]:
    """(estimate, low, high, p at 1/2) of a proportion from per-cluster win scores: the
    inverted sign-flip interval (`interval_of`), except where every cluster has the same
    proportion (all 100%, say): the inversion then has no spread to work with and would
    collapse to a point, so the interval is Clopper-Pearson's for G trials (scipy's beta
    quantiles), the exact bound if each cluster were a single trial (perfect correlation within
    clusters, the worst case)."""
    estimate, low, high, p_value = interval_of(
        sums, weights, theta0=0.5, confidence=confidence, key=key
    )
    g = len(sums)
    if g >= min_clusters(confidence):
        share = np.asarray(sums) / np.asarray(weights)
        if float(share.max() - share.min()) <= 1e-12:
            k, alpha = estimate * g, 1.0 - confidence
            low = float(scipy_stats.beta.ppf(alpha / 2, k, g - k + 1)) if k > 0 else 0.0
            high = float(scipy_stats.beta.ppf(1 - alpha / 2, k + 1, g - k)) if k < g else 1.0
    return (estimate, low, high, p_value)


def _group_row(
    row: dict[str, object], by: list[str], confidence: float, margin_fraction: float
) -> dict[str, object]:
    from results.verdicts import comparison_verdict

    key = tuple(row[name] for name in by)
    scores, diffs = row[f"{_P}score"], row[f"{_P}diff"]
    win_s, win_n = cluster_totals(row[f"{_P}cluster"], scores, row[f"{_P}w_score"])
    pct, low, high, p_value = proportion_interval(win_s, win_n, confidence=confidence, key=key)
    d_s, d_n = cluster_totals(row[f"{_P}dc"], diffs, row[f"{_P}w_diff"])
    mean, d_low, d_high, _ = interval_of(d_s, d_n, confidence=confidence, key=key)
    mean_b = _NAN if row["mean_b"] is None else float(row["mean_b"])
    margin = margin_fraction * mean_b if math.isfinite(mean_b) else _NAN
    p_equivalence = _tost(d_s, d_n, margin, key)
    too_few = len(win_s) < min_clusters(confidence)
    stats = {
        "n_pairs": int(row["n_pairs"]),
        "n_clusters": int(row["n_clusters"]),
        "n_wins": int(row["n_wins"]),
        "n_ties": int(row["n_ties"]),
        "n_diverged_a": int(row["n_diverged_a"]),
        "n_diverged_b": int(row["n_diverged_b"]),
        "n_dropped": int(row["n_dropped"]),
        "pct_wins": 100.0 * pct,
        "ci_low": 100.0 * low,
        "ci_high": 100.0 * high,
        "p_value": p_value,
        "p_holm": _NAN,
        "holm_m": 0,
        "mean_diff": mean,
        "median_diff": _NAN if row["median_diff"] is None else float(row["median_diff"]),
        "mean_diff_ci_low": d_low,
        "mean_diff_ci_high": d_high,
        "mean_b": mean_b,
        "equivalence_margin": margin,
        "p_equivalence": p_equivalence,
        "too_few_clusters": too_few,
        "n_patterns": n_patterns(len(win_s)),
    }
    stats["verdict"] = comparison_verdict(stats, confidence)
    return {**{name: row[name] for name in by}, **stats}


def _tost(sums: np.ndarray, weights: np.ndarray, margin: float, key: object) -> float:
    """Schuirmann's TOST p-value of |theta| < margin from two one-sided sign-flip tests."""
    if len(sums) == 0 or not (math.isfinite(margin) and margin > 0):
        return _NAN
    e = sign_patterns(len(sums), key)
    below = one_sided_p(sums, weights, margin, below=True, patterns=e)[0]
    above = one_sided_p(sums, weights, -margin, below=False, patterns=e)[0]
    return float(max(below, above))


def _two_sided_p(terms: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """Share of patterns whose |flipped sum| reaches the observed |sum| (relative tolerance for
    ties, so the identity and exact mirror images always count)."""
    observed = np.abs(terms.sum(axis=1))
    flipped = np.abs(terms @ patterns.T)
    scale = _TOLERANCE * (np.abs(terms).sum(axis=1) + 1e-300)
    return (flipped >= (observed - scale)[:, None]).mean(axis=1)


def _inverted_interval(
    s: np.ndarray, n: np.ndarray, patterns: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of {theta : p(theta) > alpha} for positive weights (module docstring).

    Pattern e with a = e.S, b = e.n accepts theta above the estimate while
    theta <= max((S + a)/(N + b), (S - a)/(N - b)) and below it while theta >= the min of the
    two; only e = +-1 (|b| = N) accepts every theta. p(theta) > alpha needs K = floor(alpha M)
    + 1 accepting patterns, so the upper bound is the K-th largest crossing point.
    """
    big_s, big_n = s.sum(axis=1)[:, None], n.sum(axis=1)[:, None]
    a, b = s @ patterns.T, n @ patterns.T
    whole = np.abs(b) >= big_n * (1 - _TOLERANCE)
    with np.errstate(divide="ignore", invalid="ignore"):
        c1, c2 = (big_s + a) / (big_n + b), (big_s - a) / (big_n - b)
    upper = np.where(whole, np.inf, np.fmax(c1, c2))
    lower = np.where(whole, -np.inf, np.fmin(c1, c2))
    m = patterns.shape[0]
    k = math.floor(alpha * m + 1e-9) + 1
    if k > m:
        return np.full(s.shape[0], _NAN), np.full(s.shape[0], _NAN)
    high = -np.partition(-upper, k - 1, axis=1)[:, k - 1]
    low = np.partition(lower, k - 1, axis=1)[:, k - 1]
    bounded = np.isfinite(high) & np.isfinite(low)
    return np.where(bounded, low, _NAN), np.where(bounded, high, _NAN)


def _as_groups(sums: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    n = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if s.shape != n.shape or s.shape[1] == 0:
        raise ValueError(f"sums, weights: expected equal shapes [R, G], got {s.shape}, {n.shape}")
    if not (np.all(np.isfinite(s)) and np.all(n > 0)):
        raise ValueError("sums, weights: accepted values: finite sums, positive weights")
    return s, n


def _checked_arguments(
    pairs: object,
    by: object,
    cluster: object,
    weight: object,
    confidence: object,
    margin_fraction: object,
) -> list[str]:
    """`by` as a list, once every argument of `paired_stats` is valid; ValueError otherwise."""
    if not isinstance(pairs, pl.DataFrame):
        raise ValueError(f"pairs: expected a polars DataFrame, got {type(pairs).__name__}")
    if isinstance(by, str) or not isinstance(by, Sequence):
        raise ValueError(f"by: got {by!r}; accepted values: a sequence of column names of pairs")
    by = list(by)
    for name in by:
        reserved = name in STAT_COLUMNS or name in ("mse_a", "mse_b") or name.startswith(_P)
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
    if weight is not None:
        if not isinstance(weight, str) or weight not in pairs.columns:
            raise ValueError(f"weight: got {weight!r}; accepted values: a column of pairs")
        values = pairs[weight].cast(pl.Float64)
        if values.null_count() or not bool((values > 0).all()):
            raise ValueError(f"weight: column {weight!r}; accepted values: positive numbers")
    _check_confidence(confidence)
    ok = isinstance(margin_fraction, int | float) and not isinstance(margin_fraction, bool)
    if not ok or not margin_fraction > 0:
        raise ValueError(f"margin_fraction: got {margin_fraction!r}; accepted values: > 0")
    return by


def _check_int(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: got {value!r}; accepted values: integers >= {low}")


def _check_confidence(confidence: object) -> None:
    ok = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    if not ok or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: got {confidence!r}; accepted values: floats in (0, 1)")
