"""Training objectives as compositions of pluggable pieces.

Pieces (one module each, forward loss and hand-written gradient together):
`mse` (the scaled MSE term), `cross_entropy` (class head with one-hot targets and the Eq. 13/16
keep mask), `prediction` (how a trained model predicts). An `Objective` names which pieces a
model uses; `OBJECTIVES` holds the studied compositions:

- `reg`: MSE; regression prediction.
- `reg+cls`: `lam * MSE + CE` (Eq. 4).
- `reg+cls-balanced`: `lam * MSE + CE` over the samples kept by the Eq. 13/16 draws.
- `reg-scaled`: `lam * MSE`, no class head: the control that isolates the loss scale of Eq. 4.
- `cls-only`: CE only (MSE weight 0); prediction = expectation of the class centres.
- `hca`: HCA (Xiong & Yao 2024): the summed CE of hierarchical heads (Eq. 6), no MSE term (the
  paper is pure classification); prediction = the centre of the HCA-add / HCA-mul adjusted
  finest-level argmax (Eqs. 7, 8; the task's `hca_rule`).
- `reg+hca`: `lam * MSE + sum_h CE_h`: the hierarchical heads in place of `reg+cls`'s one head
  (the digest's adaptation to the reg + cls platform, not the paper); regression prediction.
- `reg-fds`: MSE on FDS-calibrated features (Yang et al. 2021; `feature_smoothing`).

A new variant is a new piece module plus a registry entry (`OBJECTIVES`, and `CLASS_HEADS` or
`prediction.RULES` for a new head or rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from regcls.objectives.cross_entropy import OneHotCrossEntropy
from regcls.objectives.hierarchical import HierarchicalCrossEntropy
from regcls.objectives.prediction import RULES

# Weight of the MSE term: 1, the model's lam (Eq. 4), or no MSE term.
MSE_WEIGHTS = ("one", "lam", "none")
# Class-head target distribution -> the piece computing its head, loss and gradient.
CLASS_HEADS: dict[str, type[OneHotCrossEntropy] | type[HierarchicalCrossEntropy]] = {
    "onehot": OneHotCrossEntropy,
    "hierarchical": HierarchicalCrossEntropy,
}
# Prediction resolved per task: "hca" -> "hca_add" / "hca_mul" by the task's `hca_rule`.
TASK_PREDICTIONS = ("hca",)


@dataclass(frozen=True)
class Objective:
    """One composition: what a model minimises and how it predicts."""

    name: str
    mse: str = "one"  # a MSE_WEIGHTS entry
    class_head: str | None = None  # a CLASS_HEADS key: the head's target kind; None = no head
    keep: bool = False  # CE over the samples kept by the Eq. 13/16 draws (needs keep_prob)
    prediction: str = "regression"  # a prediction.RULES key, or a TASK_PREDICTIONS entry
    fds: bool = False  # FDS-calibrated features before the regression head (needs the task's fds)

    def __post_init__(self) -> None:
        predictions = (*RULES, *TASK_PREDICTIONS)
        choices = {
            "mse": MSE_WEIGHTS,
            "class_head": (None, *CLASS_HEADS),
            "prediction": predictions,
        }
        for field, accepted in choices.items():
            value = getattr(self, field)
            if value not in accepted:
                raise ValueError(f"{field}: must be one of {accepted}, got {value!r}")
        if self.class_head is None and (self.keep or self.mse == "none"):
            raise ValueError(f"class_head: objective {self.name!r} needs a class head")
        if self.class_head is None and self.prediction in ("class_expectation", "hca"):
            raise ValueError(f"class_head: objective {self.name!r} predicts from a class head")
        if self.prediction == "hca" and self.class_head != "hierarchical":
            raise ValueError(f"class_head: objective {self.name!r} needs 'hierarchical' for hca")

    @property
    def uses_lam(self) -> bool:
        return self.mse == "lam"

    def mse_weight(self, lam: float) -> float:
        """The MSE term's weight for a model with this `lam`."""
        return {"one": 1.0, "lam": float(lam), "none": 0.0}[self.mse]


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("reg"),
        Objective("reg+cls", mse="lam", class_head="onehot"),
        Objective("reg+cls-balanced", mse="lam", class_head="onehot", keep=True),
        Objective("reg-scaled", mse="lam"),
        Objective("cls-only", mse="none", class_head="onehot", prediction="class_expectation"),
        Objective("hca", mse="none", class_head="hierarchical", prediction="hca"),
        Objective("reg+hca", mse="lam", class_head="hierarchical"),
        Objective("reg-fds", fds=True),
    )
}


def pack_class_head(kinds: set[str | None]) -> str | None:
    """The class-head piece of a pack whose models use the head kinds `kinds`: one kind, or
    "hierarchical" for one-hot and hierarchical models together (a one-hot head is a one-level
    hierarchy)."""
    kinds = {kind for kind in kinds if kind is not None}
    if kinds == {"onehot", "hierarchical"}:
        return "hierarchical"
    if len(kinds) > 1:
        raise ValueError(f"tasks: one class-head kind per pack, got {sorted(kinds)}")
    return next(iter(kinds), None)


def objective(name: str) -> Objective:
    """The registered objective `name`."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective: must be one of {tuple(OBJECTIVES)}, got {name!r}")
    return OBJECTIVES[name]
