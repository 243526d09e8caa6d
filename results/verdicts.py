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

"Does the CE term help?" (issue 22) judges one cell of its answer tables with `ce_verdict`.
A cell holds the paired mean test-MSE difference of reg+cls against reg (R, the
`vs_reg_mean_diff_ci_low` / `_high` columns), against reg-scaled (S, `vs_scaled_*`) and against
reg-tuned (T, `vs_tuned_*`) with their 95% intervals, the CE share of reg+cls's gain over reg
with its interval (`ce_share_ci_low`, `ce_share_ci_high`: the part of the gain reg-scaled does
not reach) and reg's mean test MSE (`mse_reg`). The verdict reads only the intervals:

| verdict | when |
| --- | --- |
| `helps beyond scale and tuning` | S and T below 0, R not above 0 |
| `helps beyond scale, not beyond tuning` | S below 0; T not below 0 |
| `helps beyond scale, but reg+cls loses to reg` | S and T below 0, R above 0 |
| `hurts` | S above 0: at the same loss scale, the CE term costs MSE |
| `no detectable effect; at most X% of the gain` | else, when R is below 0; X the CE share's |
| | upper bound |
| `no detectable effect; equivalent within ±M (10% of reg-scaled's MSE)` | else, when TOST of S |
| | at that margin rejects (`cluster_inference.EQUIVALENCE_MARGIN`) |
| `no detectable effect; abs difference <= X (Y% of reg's MSE)` | else; X the farther bound of |
| | S |

"helps" and "hurts" carry S with its interval in % of reg's MSE, so a reader sees the size.

"No detectable effect" is never "no effect": X is the largest effect the intervals still allow.
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


VERDICT_KINDS = (
    "helps beyond scale and tuning",
    "helps beyond scale, not beyond tuning",
    "helps beyond scale, but reg+cls loses to reg",
    "hurts",
    "no detectable effect",
    "no pairs with reg-scaled",
)


def ce_verdict(cell: Mapping[str, object], confidence: float = 0.95) -> str:
    """The verdict of one cell (see the module table), from its intervals only.

    Example:
        >>> ce_verdict({"vs_scaled_mean_diff_ci_low": -0.01, "vs_scaled_mean_diff_ci_high": 0.02,
        ...     "ce_share_ci_low": -0.4, "ce_share_ci_high": 0.3, "mse_reg": 0.1})
        'no detectable effect; at most 30% of the gain'
    """
    scaled = _interval(cell, "vs_scaled")
    tuned = _interval(cell, "vs_tuned")
    versus_reg = _interval(cell, "vs_reg")
    reference = _float(cell.get("mse_reg"))
    if scaled is None:
        return "no pairs with reg-scaled"
    if scaled[1] < 0:
        size = _size(_float(cell.get("vs_scaled_mean_diff")), scaled, reference)
        if tuned is None or tuned[1] >= 0:
            return f"helps beyond scale, not beyond tuning: {size}"
        if versus_reg is not None and versus_reg[0] > 0:
            return f"helps beyond scale, but reg+cls loses to reg: {size}"
        return f"helps beyond scale and tuning: {size}"
    if scaled[0] > 0:
        return f"hurts: {_size(_float(cell.get('vs_scaled_mean_diff')), scaled, reference)}"
    high = _float(cell.get("ce_share_ci_high"))
    gains = versus_reg is not None and versus_reg[1] < 0  # a gain over reg to take a share of
    if gains and math.isfinite(high) and math.isfinite(_float(cell.get("ce_share_ci_low"))):
        return f"no detectable effect; at most {max(high, 0.0) * 100:.0f}% of the gain"
    margin = _float(cell.get("vs_scaled_equivalence_margin"))
    if _float(cell.get("vs_scaled_p_equivalence")) <= 1.0 - confidence:
        reference_b = _float(cell.get("vs_scaled_mean_b"))
        return (
            f"no detectable effect; equivalent within ±{_number(margin)} "
            f"({_share_of(margin, reference_b)} of reg-scaled's MSE)"
        )
    bound = max(abs(scaled[0]), abs(scaled[1]))
    share = f" ({_share_of(bound, reference)} of reg's MSE)" if reference > 0 else ""
    return f"no detectable effect; abs difference <= {bound:.2g}{share}"


def _size(mean: float, interval: tuple[float, float], reference: float) -> str:
    """S in % of reg's mean MSE with its interval, e.g. "-3.1% [-5.0%, -1.2%] of reg's MSE"."""
    if not reference > 0:
        return f"{mean:+.2g} [{interval[0]:+.2g}, {interval[1]:+.2g}]"
    low, high = (_share_of(v, reference, signed=True) for v in interval)
    return f"{_share_of(mean, reference, signed=True)} [{low}, {high}] of reg's MSE"


def _share_of(value: float, reference: float, signed: bool = False) -> str:
    """`value` in % of `reference`, with more digits for small shares ("?%" without one)."""
    if not (math.isfinite(value) and math.isfinite(reference) and reference > 0):
        return "?%"
    share = 100 * value / reference
    digits = 2 if abs(share) < 1 else 1 if abs(share) < 10 else 0
    return f"{share:+.{digits}f}%" if signed else f"{share:.{digits}f}%"


def _interval(cell: Mapping[str, object], prefix: str) -> tuple[float, float] | None:
    low = _float(cell.get(f"{prefix}_mean_diff_ci_low"))
    high = _float(cell.get(f"{prefix}_mean_diff_ci_high"))
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return (low, high)


def _float(value: object) -> float:
    return float("nan") if value is None else float(value)


def _number(value: float) -> str:
    return f"{value:.2g}" if math.isfinite(value) else "?"


def _percent(value: float, reference: float) -> str:
    if not (math.isfinite(value) and math.isfinite(reference) and reference > 0):
        return "?%"
    return f"{100 * value / reference:.0f}%"
