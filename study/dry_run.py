"""What `--dry-run` prints: a study's stages with their models, Tune trials and ETA, as a table.

Each study family builds its `StagePlan`s without Ray (`study/<family>/preflight.py`); this
module only lays them out, so both families print the same table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StagePlan:
    """One stage of a planned study; `eta_seconds` is None where there is no cost model."""

    stage: str
    models: int
    trials: int
    eta_seconds: float | None = None


def format_plan(
    title: str, stages: list[StagePlan], total_eta: float | None, notes: list[str]
) -> str:
    """The plan as a table (stage, models, trials, ETA), a total row, then one line per note.

    `total_eta` is given separately because stages that share one Tune run finish sooner
    together than one after the other.
    """
    rows = [(s.stage, f"{s.models:,}", f"{s.trials:,}", _eta(s.eta_seconds)) for s in stages]
    totals = (
        "total",
        f"{sum(s.models for s in stages):,}",
        f"{sum(s.trials for s in stages):,}",
        _eta(total_eta),
    )
    header = ("stage", "models", "trials", "ETA")
    widths = [max(len(row[i]) for row in (header, *rows, totals)) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        numbers = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in numbers]
        return "  ".join(cells).rstrip()

    return "\n".join([title, line(header), *map(line, rows), line(totals), *notes])


def duration(seconds: float) -> str:
    """A duration in the unit a person reads at a glance (s, min, h or days)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _eta(seconds: float | None) -> str:
    return "-" if seconds is None else duration(seconds)
