"""The single-model reference trainer: a plain nn.Module, torch.optim.Adam and a batch loop.

Deliberately unoptimised; it exists so tests can prove that `regcls.packed.train_packed` trains
exactly the models this loop trains (same init, minibatch order, keep draws, loss and optimiser).
Every objective of `regcls.objectives.OBJECTIVES` is written here with autograd and
`F.cross_entropy`, independently of the pieces the packed trainer uses.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from regcls.mlp import init_params, torch_dtype
from regcls.packed import (
    BETAS,
    KEEP_SEED_OFFSET,
    PERM_SEED_OFFSET,
    ModelTask,
    TrainedModels,
    TrainSettings,
    _check_tasks,
)


class MLP(nn.Module):
    """ReLU MLP with a regression head and an optional classification head (train only)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], num_classes: int = 0) -> None:
        super().__init__()
        widths = (in_features, *hidden)
        self.trunk = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.reg = nn.Linear(widths[-1], 1)
        self.cls = nn.Linear(widths[-1], num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = x
        for layer in self.trunk:
            h = torch.relu(layer(h))
        logits = self.cls(h) if self.cls is not None else None
        return self.reg(h)[:, 0], logits


def train_single(task: ModelTask, settings: TrainSettings) -> TrainedModels:
    """Train one model the plain way; the reference `train_packed` must reproduce.

    Loss per minibatch by objective: `reg` MSE; `reg+cls` lam * MSE + CE (Eq. 4);
    `reg+cls-balanced` lam * MSE + CE over the kept samples (Eq. 13, 16); `reg-scaled` lam * MSE;
    `cls-only` CE; `reg-lds` / `reg-denseweight` the per-sample weighted MSE; `reg-focal` Focal-R;
    `reg-bmc` Balanced MSE (BMC); `reg+hlgauss` / `reg+softlabel` lam * MSE + CE against the soft
    targets; `reg-lds+cls` lam * weighted MSE + CE.
    """
    in_features = _check_tasks([task], settings)
    spec = task.objective_spec
    dtype = torch_dtype(settings.dtype)
    num_classes = task.num_classes if spec.class_head is not None else 0
    model = MLP(in_features, tuple(settings.hidden), num_classes).to(dtype)
    model.to(task.x_train.device)
    init_seed = task.seed if task.init_seed is None else task.init_seed
    init = init_params(init_seed, in_features, tuple(settings.hidden), num_classes, dtype)
    model.load_state_dict(init)
    decay = settings.weight_decay if task.weight_decay is None else task.weight_decay
    optimizer = torch.optim.Adam(
        model.parameters(), lr=task.lr, betas=BETAS, eps=settings.adam_eps, weight_decay=decay
    )
    # Ren et al.'s BMCLoss: noise_sigma is a parameter in its own param group (its own lr; no
    # weight decay, as their Adam runs without); fixed, it is a constant.
    noise_sigma = None
    if spec.regression_loss == "bmc":
        noise_sigma = torch.tensor(task.bmc_sigma, dtype=dtype, device=task.x_train.device)
        if task.bmc_sigma_learned:
            noise_sigma = nn.Parameter(noise_sigma)
            optimizer.add_param_group(
                {"params": [noise_sigma], "lr": task.bmc_sigma_lr, "weight_decay": 0.0}
            )
    perm_gen = torch.Generator().manual_seed(task.seed + PERM_SEED_OFFSET)
    keep_gen = torch.Generator().manual_seed(task.seed + KEEP_SEED_OFFSET)
    x, y = task.x_train.to(dtype), task.y_train.to(dtype)
    n, batch = y.shape[0], settings.batch_size
    stop = n - n % batch if settings.drop_last else n

    diverged, epochs_trained, final_loss = False, 0, math.nan
    for _ in range(settings.epochs):
        perm = torch.randperm(n, generator=perm_gen).to(x.device)
        kept = None
        if task.keep_prob is not None:
            u = torch.rand(n, generator=keep_gen, dtype=torch.float64)
            kept = (u <= task.keep_prob.double().cpu()).to(x.device)
        losses = []
        for start in range(0, stop, batch):
            idx = perm[start : start + batch]
            pred, logits = model(x[idx])
            loss = None
            if spec.mse != "none":
                loss = _regression_loss(task, pred, y[idx], idx, noise_sigma)
                loss = task.lam * loss if spec.mse == "lam" else loss
            if spec.class_head is not None:
                mask = None if kept is None else kept[idx]
                soft = spec.class_head == "soft"
                target = task.soft_targets.to(dtype)[idx] if soft else task.labels[idx]
                ce = _cross_entropy(logits, target, mask)
                loss = ce if loss is None else loss + ce
            if not torch.isfinite(loss):
                diverged = True
                break
            optimizer.zero_grad()
            loss.backward()
            for param in (p for group in optimizer.param_groups for p in group["params"]):
                # A head the loss does not use (cls-only's regression head) still takes Adam
                # steps: zero loss gradient plus weight decay, like every parameter of a pack.
                if param.grad is None:
                    param.grad = torch.zeros_like(param)
            optimizer.step()
            losses.append(loss.item())
        if diverged:
            final_loss = math.nan
            break
        epochs_trained += 1
        final_loss = sum(losses) / len(losses)

    params = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return TrainedModels(
        params=[params],
        diverged=torch.tensor([diverged]),
        epochs_trained=torch.tensor([epochs_trained]),
        final_loss=torch.tensor([final_loss], dtype=dtype),
        prediction_rules=[spec.prediction],
        class_centres=[task.class_centres],
        bmc_sigma=None if noise_sigma is None else noise_sigma.detach().clone().reshape(1),
    )


def _regression_loss(
    task: ModelTask,
    pred: torch.Tensor,
    target: torch.Tensor,
    idx: torch.Tensor,
    noise_sigma: torch.Tensor | None,
) -> torch.Tensor:
    """The regression term of one minibatch, written as the methods' reference codes write it."""
    kind = task.objective_spec.regression_loss
    if kind == "bmc":  # Ren et al.'s BMCLoss / bmc_loss
        noise_var = noise_sigma**2
        logits = -(pred.unsqueeze(1) - target.unsqueeze(0)).pow(2) / (2 * noise_var)
        arange = torch.arange(pred.shape[0], device=pred.device)
        return F.cross_entropy(logits, arange) * (2 * noise_var).detach()
    weight = task.sample_weight
    if kind == "mse" and weight is None:
        return F.mse_loss(pred, target)
    loss = (pred - target) ** 2
    if kind == "focal":  # Yang et al.'s weighted_focal_mse_loss
        error = torch.abs(pred - target) * task.focal_beta
        if task.focal_activation == "tanh":
            loss = loss * torch.tanh(error) ** task.focal_gamma
        else:
            loss = loss * (2 * torch.sigmoid(error) - 1) ** task.focal_gamma
    if weight is not None:
        loss = loss * weight.to(pred)[idx]
    return loss.mean()


def _cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, kept: torch.Tensor | None
) -> torch.Tensor:
    """Mean CE over the kept samples (all when `kept` is None); zero when none is kept. `labels`
    are class ids `[B]` or target distributions `[B, C]`."""
    if kept is None:
        return F.cross_entropy(logits, labels)
    if not bool(kept.any()):
        # Zero loss but a real (zero) gradient, so Adam still steps the head (weight decay,
        # moments) exactly like the packed trainer does.
        return logits.sum() * 0.0
    return F.cross_entropy(logits[kept], labels[kept])
