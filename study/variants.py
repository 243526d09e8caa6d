"""The model variants a trial trains, their class modes and the objective each one trains with.

The paper's variants (`reg`, `reg+cls`, `reg+cls-balanced`) and the controls that isolate what in
reg+cls helps:
- `reg-scaled`: loss lam * MSE with no class head, at the lambda (and lr) of the reg+cls model it
  controls; reg+cls vs reg-scaled isolates the CE term (Adam is scale invariant up to its eps).
- `cls-only`: CE only, predicting the expectation of the class centres under the softmax.
- `reg-tuned`: `reg` with its weight decay chosen on validation from a grid as large as the
  lambda grid, so reg+cls is compared with a baseline given the same tuning budget.
"""

from __future__ import annotations

PAPER_VARIANTS = ("reg", "reg+cls", "reg+cls-balanced")
CONTROLS = ("reg-scaled", "cls-only", "reg-tuned")
VARIANTS = (*PAPER_VARIANTS, *CONTROLS)
CLASS_MODES = {
    "reg": "none",
    "reg+cls": "imbalanced",
    "reg+cls-balanced": "balanced",
    "reg-scaled": "none",
    "cls-only": "imbalanced",
    "reg-tuned": "none",
}
# The `regcls.objectives` composition each variant trains with.
OBJECTIVES = {
    "reg": "reg",
    "reg+cls": "reg+cls",
    "reg+cls-balanced": "reg+cls-balanced",
    "reg-scaled": "reg-scaled",
    "cls-only": "cls-only",
    "reg-tuned": "reg",
}
_WITH_CLASSES = ("reg+cls", "reg+cls-balanced", "cls-only")
_WITH_LAMBDA = ("reg+cls", "reg+cls-balanced", "reg-scaled")


def check_variant(
    variant: str, num_classes: int | None, stage: str, stages: tuple[str, ...]
) -> None:
    """ValueError naming the field when the variant, its class count or the stage is invalid."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: accepted values are {', '.join(VARIANTS)}")
    if stage not in stages:
        raise ValueError(f"stage: accepted values are {', '.join(stages)}")
    if (variant in _WITH_CLASSES) != (num_classes is not None):
        raise ValueError(
            f"num_classes: required for {', '.join(_WITH_CLASSES)}, absent for the others"
        )


def uses_lambda(variant: str) -> bool:
    """Whether the variant's loss has a lambda (reg+cls modes and the reg-scaled control)."""
    return variant in _WITH_LAMBDA
