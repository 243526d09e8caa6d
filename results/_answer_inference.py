"""The paired statistics "Does the CE term help?" reads (issue 22), behind two calls.

The answer tables of the 1D study (`results.synthetic_1d.answer`) and of STS-B-DIR
(`results.dir.answer`) take every interval, test and share from the project's paired statistics;
this module is the one place they call the ones whose API changes with issue 19's cluster-aware
inference (`results/cluster_inference.py`), so that switching changes these two functions only:

- `paired_by_cluster`: today `results.paired.paired_stats` (Wilson interval of % wins over
  pairs, cluster-bootstrap interval of the mean difference); with issue 19,
  `results.cluster_inference.paired_stats` (sign-flip intervals over clusters).
- `gain_share`: today the point estimate only (`results/paired.py` has no interval for a ratio);
  with issue 19, `results.cluster_inference.ratio_interval` over the clusters'
  `sign_patterns`, and `results.verdicts.share_verdict` for its words.

(The 1D pairs themselves come from `results.synthetic_1d.controls.comparison_pairs` /
`helps_stats`, whose names and columns read here are the same in both versions.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from results.paired import paired_stats

# The columns of `paired_by_cluster` the answer tables read (both APIs have them).
STATS = (
    "n_pairs",
    "n_clusters",
    "pct_wins",
    "ci_low",
    "ci_high",
    "mean_diff",
    "mean_diff_ci_low",
    "mean_diff_ci_high",
)


def paired_by_cluster(pairs: pl.DataFrame, by: Sequence[str], cluster: str) -> pl.DataFrame:
    """How often and by how much A beats B per group of `by`, with 95% intervals at the level
    of the `cluster` column (functions in 1D, seeds in DIR). `pairs`: the `by` columns,
    `cluster`, `mse_a`, `mse_b` (null `mse_a`: A diverged)."""
    return paired_stats(pairs, list(by), cluster=cluster)


def gain_share(
    own: pl.DataFrame, control: pl.DataFrame, cluster: str
) -> tuple[float, float, float, str]:
    """(share, low, high, words): the part of A's mean gain over reg that a control does not
    reach, (G_A - G_control) / G_A, with G the mean of the `gain` column (MSE reg - MSE X) of
    `own` (A's pairs) and `control` (the control's pairs), from each `cluster`'s contribution
    to the two pooled means. No interval yet (NaN; issue 19's `ratio_interval` gives the joint
    one over the clusters)."""
    own_g, control_g = _contributions(own, control, cluster)
    total = float(sum(own_g))
    share = (total - float(sum(control_g))) / total if total != 0 else math.nan
    return share, math.nan, math.nan, "no share interval yet (issue 19)"


def _contributions(
    own: pl.DataFrame, control: pl.DataFrame, cluster: str
) -> tuple[list[float], list[float]]:
    """Each cluster's summed gains over its frame's pair count, in one cluster order."""
    clusters = sorted(set(own[cluster].to_list()) | set(control[cluster].to_list()))

    def of(pairs: pl.DataFrame) -> list[float]:
        sums = dict(pairs.group_by(cluster).agg(pl.col("gain").sum()).iter_rows())
        return [sums.get(c, 0.0) / pairs.height for c in clusters]

    return of(own), of(control)
