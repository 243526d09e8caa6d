"""The verdict of one cell of "Does the CE term help?" (issue 22): one place for the terminal,
the report, the CSV tables and the README of every study that answers it (the 1D answer study,
STS-B-DIR).

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
| `no detectable effect; at most X% of the gain` | else; X the CE share's upper bound |
| `no detectable effect; abs difference <= X (Y% of reg's MSE)` | else, when the share has no |
| | interval (no gain over reg to share, or too few units); X the farther bound of S |

"helps" and "hurts" carry S with its interval in % of reg's MSE, so a reader sees the size.

"No detectable effect" is never "no effect": X is the largest effect the intervals still allow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

VERDICT_KINDS = (
    "helps beyond scale and tuning",
    "helps beyond scale, not beyond tuning",
    "helps beyond scale, but reg+cls loses to reg",
    "hurts",
    "no detectable effect",
    "no pairs with reg-scaled",
)


def ce_verdict(cell: Mapping[str, object]) -> str:
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
    if math.isfinite(high) and math.isfinite(_float(cell.get("ce_share_ci_low"))):
        return f"no detectable effect; at most {max(high, 0.0) * 100:.0f}% of the gain"
    bound = max(abs(scaled[0]), abs(scaled[1]))
    share = f" ({_percent(bound, reference)} of reg's MSE)" if reference > 0 else ""
    return f"no detectable effect; abs difference <= {bound:.2g}{share}"


def _size(mean: float, interval: tuple[float, float], reference: float) -> str:
    """S in % of reg's mean MSE with its interval, e.g. "-3.1% [-5.0%, -1.2%] of reg's MSE"."""
    if not reference > 0:
        return f"{mean:+.2g} [{interval[0]:+.2g}, {interval[1]:+.2g}]"
    low, high = (_percent(v, reference, signed=True) for v in interval)
    return f"{_percent(mean, reference, signed=True)} [{low}, {high}] of reg's MSE"


def _percent(value: float, reference: float, signed: bool = False) -> str:
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
