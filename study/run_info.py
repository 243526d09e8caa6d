"""Where and with what a model was trained: recorded in every results row, and once per study
in `<out>/provenance.json` (the command line, versions, git commit and machine the report shows).
"""

from __future__ import annotations

import os
import platform
import shlex
import socket
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from study.output_folder import write_json_atomic

PROVENANCE_FILE = "provenance.json"
NOT_A_CHECKOUT = "not a git checkout"
# The packages whose versions the provenance records (the row's run info keeps its own three).
PROVENANCE_PACKAGES = ("torch", "ray", "optuna", "polars", "plotly", "pyarrow", "numpy")


def run_info(device: str, command_line: str | None = None) -> dict[str, str | None]:
    """Device, package versions, regcls version and git commit, host and finish time of a trial.

    `command_line`: the study's command line when the caller knows it; a trial running in a Ray
    worker does not (its argv is Ray's), so it stays null there and the sink fills it in from
    the study's `provenance.json` (`study.sink.ParquetSink`).
    """
    return {
        "device": device,
        "torch_version": _version("torch"),
        "ray_version": _version("ray"),
        "numpy_version": _version("numpy"),
        "python_version": platform.python_version(),
        "regcls_version": _version("regcls"),
        "git_commit": git_commit(),
        "command_line": command_line,
        "hostname": socket.gethostname(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def provenance(argv: Sequence[str]) -> dict[str, object]:
    """What a study ran with, collected once in the driver: the command line (`argv`, the
    program first, shell-quoted), regcls version, git commit (and whether the checkout has
    uncommitted changes), the package versions and the machine (CPU model, cores, RAM, OS)."""
    commit = git_commit()
    return {
        "command_line": shlex.join(str(a) for a in argv),
        "regcls_version": _version("regcls"),
        "git_commit": commit,
        "git_dirty": None if commit == NOT_A_CHECKOUT else _git_dirty(),
        "python_version": platform.python_version(),
        "packages": {name: _version(name) for name in PROVENANCE_PACKAGES},
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "ram_gb": _ram_gb(),
            "os": platform.platform(),
            "hostname": socket.gethostname(),
        },
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_provenance(out_dir: str | Path, argv: Sequence[str]) -> Path:
    """Write `provenance(argv)` to `<out_dir>/provenance.json` atomically; return its path.

    Call it once the output folder is claimed (a resumed study rewrites it: the file describes
    the latest start). Example: `write_provenance(options.out, sys.argv)`.
    """
    path = Path(out_dir) / PROVENANCE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, provenance(argv))
    return path


@cache  # one git call per process: rows are built per model, the commit does not change
def git_commit() -> str:
    """The commit of the checkout this code runs from, or "not a git checkout"."""
    output = _git("rev-parse", "HEAD")
    return output if output else NOT_A_CHECKOUT


def _git_dirty() -> bool | None:
    output = _git("status", "--porcelain", "--untracked-files=no")
    return None if output is None else bool(output)


def _git(*args: str) -> str | None:
    """stdout of a git command in this file's folder; None when git or the checkout is missing."""
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
