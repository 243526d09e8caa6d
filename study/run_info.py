"""Where and with what a model was trained: recorded in every results row."""

from __future__ import annotations

import platform
import socket
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version


def run_info(device: str) -> dict[str, str]:
    """Device, package versions, host and finish time of a trial."""
    return {
        "device": device,
        "torch_version": _version("torch"),
        "ray_version": _version("ray"),
        "numpy_version": _version("numpy"),
        "python_version": platform.python_version(),
        "hostname": socket.gethostname(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
