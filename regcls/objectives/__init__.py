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

A new variant is a new piece module plus a registry entry (`OBJECTIVES`, and `CLASS_HEADS` or
`prediction.RULES` for a new head or rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from regcls.objectives.cross_entropy import OneHotCrossEntropy
from regcls.objectives.prediction import RULES

# Weight of the MSE term: 1, the model's lam (Eq. 4), or no MSE term.
MSE_WEIGHTS = ("one", "lam", "none")
# Class-head target distribution -> the piece computing its head, loss and gradient.
CLASS_HEADS: dict[str, type[OneHotCrossEntropy]] = {"onehot": OneHotCrossEntropy}


@dataclass(frozen=True)
class Objective:
    """One composition: what a model minimises and how it predicts."""

    name: str
    mse: str = "one"  # a MSE_WEIGHTS entry
    class_head: str | None = None  # a CLASS_HEADS key: the head's target kind; None = no head
    keep: bool = False  # CE over the samples kept by the Eq. 13/16 draws (needs keep_prob)
    prediction: str = "regression"  # a prediction.RULES key

    def __post_init__(self) -> None:
        choices = {"mse": MSE_WEIGHTS, "class_head": (None, *CLASS_HEADS), "prediction": (*RULES,)}
        for field, accepted in choices.items():
            value = getattr(self, field)
            if value not in accepted:
                raise ValueError(f"{field}: must be one of {accepted}, got {value!r}")
        if self.class_head is None and (self.keep or self.mse == "none"):
            raise ValueError(f"class_head: objective {self.name!r} needs a class head")
        if self.class_head is None and self.prediction == "class_expectation":
            raise ValueError(f"class_head: objective {self.name!r} predicts from a class head")

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
    )
}


def objective(name: str) -> Objective:
    """The registered objective `name`."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective: must be one of {tuple(OBJECTIVES)}, got {name!r}")
    return OBJECTIVES[name]
