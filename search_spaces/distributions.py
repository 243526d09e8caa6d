"""Search distributions as plain data, so search spaces stay free of Ray and Optuna imports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogUniform:
    """A value drawn log-uniformly from [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low < self.high:
            raise ValueError(
                f"LogUniform: need 0 < low < high, got low={self.low}, high={self.high}"
            )
