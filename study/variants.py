"""The model variants a trial trains (reg, reg+cls, reg+cls-balanced) and their class modes."""

from __future__ import annotations

VARIANTS = ("reg", "reg+cls", "reg+cls-balanced")
CLASS_MODES = {"reg": "none", "reg+cls": "imbalanced", "reg+cls-balanced": "balanced"}


def check_variant(
    variant: str, num_classes: int | None, stage: str, stages: tuple[str, ...]
) -> None:
    """ValueError naming the field when the variant, its class count or the stage is invalid."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: accepted values are {', '.join(VARIANTS)}")
    if stage not in stages:
        raise ValueError(f"stage: accepted values are {', '.join(stages)}")
    if (variant == "reg") != (num_classes is None):
        raise ValueError("num_classes: required for reg+cls variants, absent for reg")
