"""The report's "At a glance" block: the study's claims, one line each, with the interval and
the number of independent units behind it, read from the report's own tables (so the block,
the tables, the terminal and the README quote the same numbers and `results.verdicts` words).

Lines, in order: Table 1's average rows (lambda search: % of pairs where reg+cls beats reg),
then per test cell (pooled over C) the "What helps" comparisons and the share of the gain the
CE term carries, then the reg-tuned comparison's share. A table without rows gives no lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from results.synthetic_1d.analysis import AVERAGE


def glance_lines(tables: Mapping[str, pl.DataFrame]) -> list[str]:
    """One line per claim, from `report.report_tables` output.

    Example:
        >>> for line in glance_lines(report_tables(read_rows("runs/x"))):
        ...     print(line)
    """
    lines = []
    table1 = tables.get("table1_helps", pl.DataFrame())
    if table1.height:
        for r in table1.filter(pl.col("sampling") == AVERAGE).iter_rows(named=True):
            pct = _pct(r["pct_helps"], r["ci_low"], r["ci_high"])
            lines.append(
                f"Table 1, {r['scenario']} · {r['class_mode']} classes (validation, mean over "
                f"samplings): reg+cls beats reg in {pct} of {r['n_pairs']} pairs, "
                f"{r['n_clusters']} functions"
            )
    what = tables.get("what_helps", pl.DataFrame())
    for r in what.iter_rows(named=True):
        mean = _interval(r["mean_diff"], r["mean_diff_ci_low"], r["mean_diff_ci_high"])
        lines.append(
            f"{r['scenario']} · {r['sampling']} (test, pooled over C): {r['comparison']}: "
            f"{r['verdict']}; mean Δ MSE {mean}, "
            f"wins {_pct(r['pct_wins'], r['ci_low'], r['ci_high'])}; {r['n_pairs']} pairs, "
            f"{r['n_clusters']} functions"
        )
    shares = tables.get("gain_shares", pl.DataFrame())
    for r in shares.filter(pl.col("stage") == "test").iter_rows(named=True):
        lines.append(
            f"{r['scenario']} · {r['sampling']} (test): share of {r['variant']}'s gain over reg "
            f"that {r['control']} does not reach: {r['share_verdict']} "
            f"({_interval(r['share'], r['share_ci_low'], r['share_ci_high'])}; "
            f"{r['n_clusters']} functions)"
        )
    return lines


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    return _bounded(value, low, high, "{:+.3g}", "{} [{}, {}]")


def _pct(value: float | None, low: float | None, high: float | None) -> str:
    return _bounded(value, low, high, "{:.0f}", "{}% [{}, {}]")


def _bounded(
    value: float | None, low: float | None, high: float | None, number: str, layout: str
) -> str:
    """`value` with its interval laid out by `layout`; "—" bounds when there is none."""
    if value is None or not math.isfinite(value):
        return "—"
    bounds = (low, high)
    if any(b is None or not math.isfinite(b) for b in bounds):
        return layout.format(number.format(value), "—", "too few units").replace("[—, ", "[—: ")
    return layout.format(*(number.format(v) for v in (value, low, high)))
