"""The model variants a trial trains, their class modes and the objective each one trains with.

The paper's variants (`reg`, `reg+cls`, `reg+cls-balanced`) and the controls that isolate what in
reg+cls helps:
- `reg-scaled`: loss lam * MSE with no class head, at the lambda (and lr) of the reg+cls model it
  controls; reg+cls vs reg-scaled isolates the CE term (Adam is scale invariant up to its eps).
- `cls-only`: CE only, predicting the expectation of the class centres under the softmax.
- `reg-tuned`: `reg` with its weight decay chosen on validation from a grid as large as the
  lambda grid, so reg+cls is compared with a baseline given the same tuning budget.

The method zoo's variants (`regcls.methods.METHODS`, issue 10) beside them: their models are
built by `regcls.methods.build_method_task`, not `study.class_tasks.packed_task`; those with
classes use the paper's equal-width (imbalanced) class bins, as reg+cls. Listed here by name
(this module imports no torch); `tests/test_zoo_study.py` checks them against `METHODS`.
"""

from __future__ import annotations

from search_spaces.method_zoo import METHOD_ZOO, WITH_CLASSES, WITH_LAMBDA

PAPER_VARIANTS = ("reg", "reg+cls", "reg+cls-balanced")
CONTROLS = ("reg-scaled", "cls-only", "reg-tuned")
ZOO_VARIANTS = METHOD_ZOO
# Appended after the paper's and the controls': `point.init_seed` offsets by the index.
VARIANTS = (*PAPER_VARIANTS, *CONTROLS, *ZOO_VARIANTS)
CLASS_MODES = {
    "reg": "none",
    "reg+cls": "imbalanced",
    "reg+cls-balanced": "balanced",
    "reg-scaled": "none",
    "cls-only": "imbalanced",
    "reg-tuned": "none",
    **{v: "imbalanced" if v in WITH_CLASSES else "none" for v in ZOO_VARIANTS},
}
# The `regcls.objectives` composition each variant trains with.
OBJECTIVES = {
    "reg": "reg",
    "reg+cls": "reg+cls",
    "reg+cls-balanced": "reg+cls-balanced",
    "reg-scaled": "reg-scaled",
    "cls-only": "cls-only",
    "reg-tuned": "reg",
    # METHODS[variant].objective: hca-d's stage 1 trains as hca.
    **{v: "hca" if v == "hca-d" else v for v in ZOO_VARIANTS},
}
_WITH_CLASSES = ("reg+cls", "reg+cls-balanced", "cls-only", *WITH_CLASSES)
_WITH_LAMBDA = ("reg+cls", "reg+cls-balanced", "reg-scaled", *WITH_LAMBDA)


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
    """Whether the variant's loss has a lambda (reg+cls modes, the reg-scaled control and the
    zoo's lam * MSE + CE variants)."""
    return variant in _WITH_LAMBDA


def is_zoo_variant(variant: str) -> bool:
    """Whether the variant's model is built by `regcls.methods.build_method_task`."""
    return variant in ZOO_VARIANTS
