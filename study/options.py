"""How a study is run (not what it studies): typed, validated once at the edge."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

SEARCHES = ("grid", "optuna")
# Experiment loggers (Tune callbacks) offered by --log; off by default.
LOGGERS = ("none", "tensorboard")


@dataclass(frozen=True)
class StudyOptions:
    """Execution options shared by every study; the CLI builds one from its flags."""

    study: str
    preset: str
    out: Path
    search: str = "grid"
    address: str | None = None
    resume: bool = False
    num_cpus: int | None = None
    dashboard: bool = True
    dashboard_host: str = "127.0.0.1"
    gpu_fraction: float = 0.1
    cpus_per_trial: int = 1
    max_failures: int = 2
    data_root: Path | None = None
    space_overrides: dict = field(default_factory=dict)
    log: str = "none"
    # The command line that started the study (program first), for its provenance.json;
    # empty: sys.argv.
    command: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.search not in SEARCHES:
            raise ValueError(
                f"--search: unknown search {self.search!r}; valid searches: {', '.join(SEARCHES)}"
            )
        if self.log not in LOGGERS:
            raise ValueError(
                f"--log: unknown logger {self.log!r}; valid loggers: {', '.join(LOGGERS)}"
            )
        if self.log == "tensorboard" and importlib.util.find_spec("tensorboardX") is None:
            raise ValueError(
                "--log: tensorboard writes through tensorboardX, which is not installed "
                "(pip install 'regcls[log]')"
            )
        if self.max_failures < 0:
            raise ValueError(f"--max-failures: must be >= 0, got {self.max_failures}")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"--num-cpus: must be >= 1, got {self.num_cpus}")
        if self.address is not None and not _is_address(self.address):
            raise ValueError(
                f"--address: accepted values are auto, host:port or ray://host:port, "
                f"got {self.address!r}"
            )
        if not 0 < self.gpu_fraction <= 1:
            raise ValueError(
                f"--gpu-fraction: accepted values are in (0, 1], got {self.gpu_fraction}"
            )


def _is_address(address: str) -> bool:
    if address == "auto" or "://" in address:
        return True
    host, _, port = address.rpartition(":")
    return bool(host) and port.isdigit()
