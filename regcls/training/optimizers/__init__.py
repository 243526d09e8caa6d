"""Flat optimisers: one update over the packed trainer's `[K, P]` parameter tensor, per-model
learning rates, weight decays and step counts, equal to the matching `torch.optim` class per model
(tested in float64). One module per optimiser; `flat_optimizer` picks one by name.

| name | torch class | weight decay |
| --- | --- | --- |
| `adam` | `torch.optim.Adam` | coupled: added to the gradient (the core paper's setting) |
| `adamw` | `torch.optim.AdamW` | decoupled: weights shrink by `lr * weight_decay` each step |
| `sgd` | `torch.optim.SGD(momentum=...)` | coupled |
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from regcls.training.optimizers.adam import FlatAdam
from regcls.training.optimizers.sgd import FlatSGD

OPTIMIZERS = ("adam", "adamw", "sgd")


def flat_optimizer(
    name: str,
    flat: torch.Tensor,
    grad: torch.Tensor,
    lr: Sequence[float],
    weight_decay: Sequence[float],
    steps: Sequence[int],
    eps: float,
    momentum: float,
) -> FlatAdam | FlatSGD:
    """The `OPTIMIZERS` entry `name` over `flat` `[K, P]`: `eps` is Adam's (adam, adamw),
    `momentum` SGD's; `steps` are each row's minibatches per epoch (Adam's bias corrections)."""
    if name == "sgd":
        return FlatSGD(flat, grad, lr, weight_decay, momentum)
    if name in ("adam", "adamw"):
        return FlatAdam(flat, grad, lr, weight_decay, steps, eps, decoupled=name == "adamw")
    raise ValueError(f"optimizer: must be one of {OPTIMIZERS}, got {name!r}")
