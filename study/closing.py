"""The closing summary a finished run prints: what each Tune run did and where the results are."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from study.tune_runner import RunSummary


def format_closing_summary(
    summaries: dict[str, RunSummary], rows: int, report: Path, out: Path
) -> str:
    """Per stage its models, Tune trials, wall time (and the cost model's prediction), retried /
    failed trials with their error lines; the row count, Tune's experiment-state size, the
    driver's peak memory and the report path."""
    lines = ["run summary:"]
    for name, s in summaries.items():
        line = f"  {name}: {s.models:,} models in {s.trials:,} Tune trials, {_clock(s.seconds)}"
        if s.predicted_seconds is not None:
            line += f" (predicted {_clock(s.predicted_seconds)})"
        if s.retried_trials or s.failed_trials or s.stopped_trials:
            line += (
                f"; retried {s.retried_trials}, failed {s.failed_trials}, "
                f"stopped early {s.stopped_trials}"
            )
        lines.append(line)
        lines += [f"    error: {error}" for error in s.errors]
    if not summaries:
        lines.append("  nothing to run: every trial was already done")
    total = sum(s.seconds for s in summaries.values())
    lines.append(f"  total Tune time {_clock(total)}; {rows:,} result rows in {out / 'rows'}")
    lines.append(
        f"  Tune experiment state {experiment_state_bytes(out) / 1e6:.2f} MB; "
        f"driver peak memory {peak_memory_bytes() / 1e6:.0f} MB"
    )
    lines.append(f"  report: {report.resolve()}")
    return "\n".join(lines)


def experiment_state_bytes(out: Path) -> int:
    """Bytes of Tune's experiment-state files under `<out>/tune` (what Tune rewrites as it runs)."""
    tune = Path(out) / "tune"
    if not tune.exists():
        return 0
    states = [*tune.glob("*/experiment_state-*.json"), *tune.glob("*/basic-variant-state-*.json")]
    return sum(p.stat().st_size for p in states)


def peak_memory_bytes() -> int:
    """The driver process's peak resident memory so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports kilobytes


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"
