"""The paired statistics "Does the CE term help?" reads (issue 22), from the project's
cluster-aware inference (`results.cluster_inference`, issue 19).

The answer tables of the 1D study (`results.synthetic_1d.answer`: `controls.helps_stats` and
`controls.gain_shares` on each optimiser's rows) and of STS-B-DIR (`results.dir.answer`, here)
take every interval, test and share from it: sign-flip randomisation tests over the independent
units (target functions in 1D, seeds in DIR) and the intervals that invert them. This module
holds the two calls the DIR answer needs on its own pairs:

- `paired_by_cluster`: `cluster_inference.paired_stats` (the pair-outcome rule, % wins and the
  mean difference with inverted intervals, TOST, verdict words);
- `gain_share`: the part of A's gain over reg a control does not reach, with its joint
  Fieller-type interval (`cluster_inference.ratio_interval`) and `verdicts.share_verdict`'s
  words, as `controls.gain_shares` computes it for the 1D cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from results.cluster_inference import min_clusters, paired_stats, ratio_interval, sign_patterns
from results.verdicts import share_verdict

# The columns of `paired_by_cluster` the answer tables read.
STATS = (
    "n_pairs",
    "n_clusters",
    "pct_wins",
    "ci_low",
    "ci_high",
    "mean_diff",
    "mean_diff_ci_low",
    "mean_diff_ci_high",
    "mean_b",
    "equivalence_margin",
    "p_equivalence",
)


def paired_by_cluster(pairs: pl.DataFrame, by: Sequence[str], cluster: str) -> pl.DataFrame:
    """How often and by how much A beats B per group of `by`, with 95% intervals over the
    `cluster` column's units (functions in 1D, seeds in DIR). `pairs`: the `by` columns,
    `cluster`, `mse_a`, `mse_b`, `status_a`, `status_b` (`cluster_inference.pair_outcomes`)."""
    return paired_stats(pairs, list(by), cluster=cluster)


def gain_share(
    own: pl.DataFrame, control: pl.DataFrame, cluster: str, confidence: float = 0.95
) -> tuple[float, float, float, str]:
    """(share, low, high, words): the part of A's mean gain over reg that a control does not
    reach, (G_A - G_control) / G_A, with G the mean of the `gain` column (MSE reg - MSE X) over
    `own` (A's finished pairs) and `control` (the control's), and its joint interval over the
    `cluster` units: each unit's contributions to the two pooled means, inverted by sign flips.
    NaN share and bounds, with the reason in the words, when the gain over reg is not
    distinguishable from 0 or the units are too few."""
    units = sorted(set(own[cluster].to_list()) | set(control[cluster].to_list()))
    own_g = _contributions(own, units, cluster)
    control_g = _contributions(control, units, cluster)
    if len(units) < min_clusters(confidence):
        reason = f"too few independent units ({len(units)} < {min_clusters(confidence)})"
        return math.nan, math.nan, math.nan, share_verdict(math.nan, math.nan, math.nan, reason)
    patterns = sign_patterns(len(units), key=("answer-share", cluster, len(units)))
    share, low, high, bounded = ratio_interval(
        own_g - control_g, own_g, confidence=confidence, patterns=patterns
    )
    if not bounded:
        reason = "the gain over reg is not distinguishable from 0"
        return math.nan, math.nan, math.nan, share_verdict(math.nan, math.nan, math.nan, reason)
    return share, low, high, share_verdict(share, low, high)


def _contributions(pairs: pl.DataFrame, units: list[object], cluster: str) -> np.ndarray:
    """Each unit's summed gains over the frame's pair count (its part of the pooled mean)."""
    sums = dict(pairs.group_by(cluster).agg(pl.col("gain").sum()).iter_rows())
    return np.array([sums.get(u, 0.0) / pairs.height for u in units], dtype=np.float64)
