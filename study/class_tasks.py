"""The class side of one model, shared by the 1D and the real-data trials: its class binning
(Eq. 12-13 when balanced) and its packed-trainer task (loss Eq. 4)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from regcls.data.binning import ClassBinning, make_binning
from regcls.training.tasks import ModelTask
from study.variants import OBJECTIVES


class ClassSpec(Protocol):
    """What these helpers read of a spec (`TrialSpec` and `DirSpec` both have it)."""

    num_classes: int | None
    lam: float | None  # None for variants without a lambda
    lr: float
    equalize_rounding: str

    @property
    def class_mode(self) -> str: ...


def class_binning(spec: ClassSpec, y_train: np.ndarray) -> ClassBinning | None:
    """The spec's classes over the training targets; None for a `reg` model."""
    if spec.num_classes is None:
        return None
    return make_binning(
        y_train,
        spec.num_classes,
        balanced=spec.class_mode == "balanced",
        rounding=spec.equalize_rounding,
    )


def packed_task(
    spec: ClassSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    y_np: np.ndarray,
    binning: ClassBinning | None,
    seed: int,
    *,
    variant: str | None = None,
    weight_decay: float | None = None,
    init_seed: int | None = None,
) -> ModelTask:
    """One model of a pack on (x, y); `y_np` (the same targets) gives its labels and keep
    probabilities (balanced mode only).

    `variant` (a `study.variants` name) picks the objective; None keeps the paper's inference
    (reg without classes, reg+cls with). `weight_decay` and `init_seed` override the pack's
    weight decay and the init seed (None: the pack's, and `seed`).
    """
    objective = None if variant is None else OBJECTIVES[variant]
    common = {"seed": seed, "lr": spec.lr, "weight_decay": weight_decay, "init_seed": init_seed}
    if binning is None:
        lam = 1.0 if spec.lam is None else float(spec.lam)
        return ModelTask(x_train=x, y_train=y, lam=lam, objective=objective, **common)
    keep = None
    if spec.class_mode == "balanced":
        keep = torch.as_tensor(binning.keep_per_sample(y_np), dtype=x.dtype, device=x.device)
    centres = None
    if objective == "cls-only":
        centres = torch.as_tensor(binning.centres(), dtype=x.dtype, device=x.device)
    return ModelTask(
        x_train=x,
        y_train=y,
        lam=1.0 if spec.lam is None else float(spec.lam),
        labels=torch.as_tensor(binning.labels(y_np), device=x.device),
        num_classes=binning.num_classes,
        keep_prob=keep,
        objective=objective,
        class_centres=centres,
        **common,
    )
