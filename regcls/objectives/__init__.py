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

The regression-by-classification family (issue 10; hyperparameters in `regcls.methods`):

- `reg-lds`: MSE weighted per sample by inverse LDS-smoothed label density (Yang et al. 2021).
- `reg-focal`: Focal-R weighted MSE (`focal`).
- `reg-bmc`: Balanced MSE, batch Monte-Carlo form (`balanced_mse`; Ren et al. 2022).
- `reg-denseweight`: MSE weighted per sample by DenseWeight (Steininger et al. 2021).
- `reg+hlgauss`: `lam * MSE + CE` against HL-Gauss targets (`soft_cross_entropy`), predicting with
  the regression head: HL-Gauss as an auxiliary loss beside `lam * MSE` (ours, not the paper).
- `hlgauss`: HL-Gauss as published (Imani & White 2018; Farebrother et al. 2024, Sec. 3 and
  App. A): the CE against HL-Gauss targets alone, prediction = the expectation of the bin
  centres under the softmax (`class_expectation`).
- `reg-inv`: MSE weighted per sample by inverse bin frequency (Yang et al. 2021's INV baseline).
- `reg-inv+fds`: `reg-inv` on FDS-calibrated features (their INV + FDS).
- `reg+softlabel`: `lam * MSE + CE` against symmetric descending soft group labels (paper 004).
- `reg-lds+cls`: `reg+cls` whose MSE term carries the LDS weights.
- `hca+lds`: `hca` whose CE terms (every level's) carry the LDS weights (HCA Table 5's "+LDS":
  LDS re-weights the classification losses of a model without a regression term).

Per-sample weights (LDS, DenseWeight) and soft targets are data of the task
(`ModelTask.sample_weight`, `ModelTask.soft_targets`), computed once by
`regcls.data.reweighting` and `regcls.data.soft_targets`.

A new variant is a new piece module plus a registry entry (`OBJECTIVES`, and `CLASS_HEADS` or
`prediction.RULES` for a new head or rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from regcls.objectives.cross_entropy import OneHotCrossEntropy
from regcls.objectives.hierarchical import HierarchicalCrossEntropy
from regcls.objectives.prediction import RULES
from regcls.objectives.soft_cross_entropy import SoftCrossEntropy

# Weight of the MSE term: 1, the model's lam (Eq. 4), or no MSE term.
MSE_WEIGHTS = ("one", "lam", "none")
# The regression loss of that term: squared error, Focal-R weighted, or Balanced MSE (BMC).
REGRESSION_LOSSES = ("mse", "focal", "bmc")
# Class-head target distribution -> the piece computing its head, loss and gradient. Which kinds
# share a pack: `pack_class_head`.
CLASS_HEADS: dict[
    str, type[OneHotCrossEntropy] | type[SoftCrossEntropy] | type[HierarchicalCrossEntropy]
] = {
    "onehot": OneHotCrossEntropy,
    "soft": SoftCrossEntropy,
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
    regression_loss: str = "mse"  # a REGRESSION_LOSSES entry
    sample_weight: bool = False  # the MSE term is weighted per sample (needs sample_weight)
    fds: bool = False  # FDS-calibrated features before the regression head (needs the task's fds)
    # Every level's CE of a hierarchical head is weighted per sample by the task's sample_weight
    # (hca+lds: HCA Table 5's "+LDS" on a pure classifier; the reference has it for this head).
    ce_sample_weight: bool = False

    def __post_init__(self) -> None:
        choices = {
            "mse": MSE_WEIGHTS,
            "class_head": (None, *CLASS_HEADS),
            "prediction": (*RULES, *TASK_PREDICTIONS),
            "regression_loss": REGRESSION_LOSSES,
        }
        for field, accepted in choices.items():
            value = getattr(self, field)
            if value not in accepted:
                raise ValueError(f"{field}: must be one of {accepted}, got {value!r}")
        if self.class_head is None and (self.keep or self.mse == "none"):
            raise ValueError(f"class_head: objective {self.name!r} needs a class head")
        if self.class_head is None and self.prediction in ("class_expectation", "hca"):
            raise ValueError(f"class_head: objective {self.name!r} predicts from a class head")
        if self.mse == "none" and (self.regression_loss != "mse" or self.sample_weight):
            raise ValueError(f"mse: objective {self.name!r} weights a regression term; not 'none'")
        if self.regression_loss == "bmc" and self.sample_weight:
            raise ValueError(f"sample_weight: objective {self.name!r} (bmc) takes no weights")
        if self.prediction == "hca" and self.class_head != "hierarchical":
            raise ValueError(f"class_head: objective {self.name!r} needs 'hierarchical' for hca")
        if self.ce_sample_weight and (self.class_head != "hierarchical" or self.keep):
            raise ValueError(
                f"ce_sample_weight: objective {self.name!r} needs a hierarchical head, no keep"
            )

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
        Objective("reg-lds", sample_weight=True),
        Objective("reg-focal", regression_loss="focal"),
        Objective("reg-bmc", regression_loss="bmc"),
        Objective("reg-denseweight", sample_weight=True),
        Objective("reg+hlgauss", mse="lam", class_head="soft"),
        Objective("reg+softlabel", mse="lam", class_head="soft"),
        Objective("reg-lds+cls", mse="lam", class_head="onehot", sample_weight=True),
        Objective("hca", mse="none", class_head="hierarchical", prediction="hca"),
        Objective("reg+hca", mse="lam", class_head="hierarchical"),
        Objective("reg-fds", fds=True),
        Objective("hlgauss", mse="none", class_head="soft", prediction="class_expectation"),
        Objective("reg-inv", sample_weight=True),
        Objective("reg-inv+fds", sample_weight=True, fds=True),
        Objective(
            "hca+lds",
            mse="none",
            class_head="hierarchical",
            prediction="hca",
            ce_sample_weight=True,
        ),
    )
}


def pack_class_head(kinds: set[str | None]) -> str | None:
    """The class-head piece of a pack whose models use the head kinds `kinds`: one kind, or the
    wider kind when one-hot models join it: "hierarchical" (a one-hot head is a one-level
    hierarchy) or "soft" (a one-hot model gets one-hot target rows). Soft and hierarchical heads
    cannot share a pack (`head_group` splits a study's models)."""
    kinds = {kind for kind in kinds if kind is not None}
    if len(kinds) > 1:
        kinds.discard("onehot")
    if len(kinds) > 1:
        raise ValueError(f"tasks: soft and hierarchical heads need own packs, got {sorted(kinds)}")
    return next(iter(kinds), None)


def head_group(name: str) -> str | None:
    """The class-head kind that decides which pack objective `name` can join: "soft" or
    "hierarchical" (models of different groups need separate packs), None for objectives that
    join any pack (no head, or a one-hot head)."""
    kind = objective(name).class_head
    return kind if kind in ("soft", "hierarchical") else None


def objective(name: str) -> Objective:
    """The registered objective `name`."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective: must be one of {tuple(OBJECTIVES)}, got {name!r}")
    return OBJECTIVES[name]
