"""Verdict words, a function of the intervals only: the report, the terminal, the CSV tables and
the README say the same thing because they all read these strings.

A comparison A vs B (difference A - B of the MSE; negative: A better) is judged on its mean
difference interval and its % wins interval (`results.cluster_inference`), at one confidence:

| verdict | when |
| --- | --- |
| `helps` | the mean-difference interval is below 0 and the % wins interval is not below 50% |
| `hurts` | the interval is above 0 and the % wins interval is not above 50% |
| `mixed: ...` | the two intervals exclude their null values in opposite directions |
| `wins more often (mean not distinguishable)` | only the % wins interval is above 50% |
| `loses more often (mean not distinguishable)` | only the % wins interval is below 50% |
| `equivalent within ±M` | neither, and TOST at the margin M rejects (Schuirmann 1987) |
| `no detectable effect; |mean| <= X (Y% of B)` | neither: X is the farther interval bound |
| `too few independent units (G < 6)` | no interval exists at this confidence |

"No detectable effect" is never "no effect": the bound X says how large an effect the data
still allow. A share of a gain (`share_verdict`) reads "no detectable contribution; at most X%
of the gain" when its interval covers 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def comparison_verdict(row: Mapping[str, object], confidence: float = 0.95) -> str:
    """The verdict of one `results.cluster_inference.paired_stats` row (see the module table).

    Example:
        >>> comparison_verdict({"n_pairs": 50, "n_clusters": 10, "too_few_clusters": False,
        ...     "mean_diff_ci_low": -0.03, "mean_diff_ci_high": -0.01, "ci_low": 60.0,
        ...     "ci_high": 90.0, "p_equivalence": 0.2, "equivalence_margin": 0.01,
        ...     "mean_b": 0.1})
        'helps'
    """
    from results.cluster_inference import min_clusters

    if not row.get("n_pairs"):
        return "no pairs"
    if row.get("too_few_clusters"):
        need = min_clusters(confidence)
        return f"too few independent units ({row.get('n_clusters')} < {need})"
    low, high = _float(row.get("mean_diff_ci_low")), _float(row.get("mean_diff_ci_high"))
    win_low, win_high = _float(row.get("ci_low")), _float(row.get("ci_high"))
    mean_better, mean_worse = high < 0, low > 0  # False for NaN
    wins_more, wins_less = win_low > 50, win_high < 50
    if mean_better and not wins_less:
        return "helps"
    if mean_worse and not wins_more:
        return "hurts"
    if mean_better or mean_worse:
        return (
            "mixed: lower mean MSE, loses more often"
            if mean_better
            else ("mixed: higher mean MSE, wins more often")
        )
    if wins_more:
        return "wins more often (mean not distinguishable)"
    if wins_less:
        return "loses more often (mean not distinguishable)"
    margin, mean_b = _float(row.get("equivalence_margin")), _float(row.get("mean_b"))
    alpha = 1.0 - confidence
    if _float(row.get("p_equivalence")) <= alpha:
        return f"equivalent within ±{_number(margin)} ({_percent(margin, mean_b)} of B)"
    if math.isnan(low) or math.isnan(high):
        return "no detectable effect"
    bound = max(abs(low), abs(high))
    return f"no detectable effect; |mean| <= {_number(bound)} ({_percent(bound, mean_b)} of B)"


def share_verdict(share: float, low: float, high: float, reason: str | None = None) -> str:
    """The verdict on the share of a gain carried by one part (e.g. the CE term): its interval
    [low, high] as fractions, or the `reason` there is none."""
    if reason:
        return f"no share: {reason}"
    if math.isnan(low) or math.isnan(high):
        return "no share: no interval"
    if low > 0:
        return f"carries {100 * low:.0f}% to {100 * high:.0f}% of the gain"
    if high < 0:
        return f"costs part of the gain ({100 * low:.0f}% to {100 * high:.0f}%)"
    return f"no detectable contribution; at most {100 * high:.0f}% of the gain"


def _float(value: object) -> float:
    return float("nan") if value is None else float(value)


def _number(value: float) -> str:
    return f"{value:.2g}" if math.isfinite(value) else "?"


def _percent(value: float, reference: float) -> str:
    if not (math.isfinite(value) and math.isfinite(reference) and reference > 0):
        return "?%"
    return f"{100 * value / reference:.0f}%"
