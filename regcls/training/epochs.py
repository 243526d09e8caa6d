"""Plain single-model epoch trainer for the real-data studies (core paper Sections 3.2-3.3).

The model maps a batch to `(regression, class_logits | None)` (`regcls.models.vision`,
`regcls.models.mlp.MLP`).
Loaders yield `(x, y)` or `(x, y, mask)`: `y` is `[B]` (age, progress, score) or `[B, h, w]`
(depth); `mask` (bool, shaped like `y`) marks the elements that count (valid depth pixels in
training, Yang et al.'s balanced test pixels in evaluation).

Loss (Eq. 4): `lam * reg_loss + CE` (reg_loss MSE or L1, means over the counted elements), with
class labels from a `regcls.data.binning.ClassBinning`. Balanced classes (Eq. 12-13, supplementary
B): every step draws u ~ U(0, 1) per element and an element enters CE iff u <= rho(its class). The
balanced-data control of Table 4 (`data_balance`) applies the same draw to *both* losses, with the
keep probabilities of its own (balanced, 100-class) binning. A dense regression output whose size
differs from the target is resized bilinearly to it (Yang et al.'s test.py); dense class logits are
compared with the target resized (nearest) to the logits' size.

Adam, optional step decay (x `lr_gamma` at each epoch in `lr_milestones`; Breakfast: 30),
gradient accumulation (NYUD2: 2), mixed precision only on CUDA, best-on-validation selection
(the state dict of the epoch with the lowest validation metric), a per-epoch callback (the Ray
wiring reports there; returning True stops: status "early_stopped"), and a non-finite loss stops
training with status "diverged".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REG_LOSSES = ("mse", "l1")
SELECT_METRICS = ("mse", "rmse", "mae")
STATUSES = ("ok", "diverged", "early_stopped")


@dataclass(frozen=True)
class EpochSettings:
    epochs: int = 90
    lr: float = 1e-3
    lam: float = 1.0  # weight of the regression loss (Eq. 4)
    reg_loss: str = "mse"
    weight_decay: float = 0.0
    lr_milestones: tuple[int, ...] = ()  # epochs after which lr *= lr_gamma
    lr_gamma: float = 0.1
    accumulate: int = 1  # batches per optimiser step
    select_metric: str = "mse"  # validation metric for best-epoch selection (lower is better)
    keep_seed: int = 0  # generator of the per-step keep draws u ~ U(0, 1)
    amp: bool = True  # mixed precision; honoured only on CUDA
    restore_best: bool = True  # load the best state into the model at the end

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs: must be >= 1, got {self.epochs}")
        if not self.lr > 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if not self.lam >= 0:
            raise ValueError(f"lam: must be >= 0, got {self.lam}")
        if self.reg_loss not in REG_LOSSES:
            raise ValueError(f"reg_loss: must be one of {REG_LOSSES}, got {self.reg_loss!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay: must be >= 0, got {self.weight_decay}")
        if any(m < 1 for m in self.lr_milestones):
            raise ValueError(f"lr_milestones: epochs must be >= 1, got {self.lr_milestones}")
        if self.accumulate < 1:
            raise ValueError(f"accumulate: must be >= 1, got {self.accumulate}")
        if self.select_metric not in SELECT_METRICS:
            raise ValueError(
                f"select_metric: must be one of {SELECT_METRICS}, got {self.select_metric!r}"
            )


@dataclass
class EpochResult:
    status: str  # "ok" | "diverged" | "early_stopped"
    epochs_trained: int  # completed epochs
    best_epoch: int | None  # 1-based; None when no epoch finished with a finite val metric
    best_val: float  # validation `select_metric` of the best epoch (nan if none)
    best_state: dict[str, torch.Tensor] | None  # CPU copy of the best epoch's state dict
    final_train_loss: float  # mean loss of the last completed epoch (nan if none)
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch


def train_epochs(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    settings: EpochSettings,
    binning=None,
    data_balance=None,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[int, dict[str, float]], bool | None] | None = None,
) -> EpochResult:
    """Train `model` for `settings.epochs`, selecting the best epoch on `val_loader`.

    `binning` (ClassBinning or None): classes for the CE term; None trains `reg` (loss =
    reg_loss). Its keep probabilities (all ones unless balanced) gate CE per step (Eq. 13).
    `data_balance` (ClassBinning or None): Table 4's control, gating both losses.
    `on_epoch(epoch, metrics)` gets the history row of each finished epoch.
    """
    device = torch.device(device)
    model.to(device)
    use_amp = settings.amp and device.type == "cuda"
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=sorted(settings.lr_milestones), gamma=settings.lr_gamma
    )
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    keep_gen = torch.Generator().manual_seed(int(settings.keep_seed))
    cls_table = _BinTable.of(binning, device)
    balance_table = _BinTable.of(data_balance, device)

    result = EpochResult("ok", 0, None, math.nan, None, math.nan)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        losses: list[float] = []
        optimizer.zero_grad(set_to_none=True)
        pending = 0  # batches whose gradients wait for the next optimiser step
        for batch in train_loader:
            x, y, mask = _unpack(batch, device)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                pred, logits = model(x)
            loss = _loss(
                pred.float(), logits, y, mask, settings, cls_table, balance_table, keep_gen
            )
            if not torch.isfinite(loss):
                result.status = "diverged"
                break
            scaler.scale(loss / settings.accumulate).backward()
            pending += 1
            if pending == settings.accumulate:
                _step(optimizer, scaler)
                pending = 0
            losses.append(float(loss.detach()))
        if result.status == "diverged":
            break
        if pending:  # a short last group still steps (its loss was scaled by 1 / accumulate)
            _step(optimizer, scaler)
        scheduler.step()
        metrics = evaluate(model, val_loader, device)
        row = {"epoch": float(epoch), "train_loss": float(np.mean(losses)) if losses else math.nan}
        row.update({f"val_{k}": v for k, v in metrics.items()})
        row["lr"] = float(optimizer.param_groups[0]["lr"])
        result.history.append(row)
        result.epochs_trained = epoch
        result.final_train_loss = row["train_loss"]
        score = metrics[settings.select_metric]
        if not math.isfinite(score):
            result.status = "diverged"
            break
        if result.best_epoch is None or score < result.best_val:
            result.best_epoch, result.best_val = epoch, score
            result.best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
            }
        if on_epoch is not None and on_epoch(epoch, dict(row)):
            if epoch < settings.epochs:
                result.status = "early_stopped"
            break
    if settings.restore_best and result.best_state is not None:
        model.load_state_dict(result.best_state)
    return result


@torch.no_grad()
def predict(
    model: nn.Module, loader: Iterable, device: str | torch.device = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """Flattened (prediction, target) over the counted elements of every batch (eval mode)."""
    device = torch.device(device)
    model.eval()
    preds, targets = [], []
    for batch in loader:
        x, y, mask = _unpack(batch, device)
        pred = _match(model(x)[0].float(), y)
        preds.append(pred[mask].double().cpu().numpy())
        targets.append(y[mask].double().cpu().numpy())
    if not preds:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(preds), np.concatenate(targets)


def evaluate(
    model: nn.Module, loader: Iterable, device: str | torch.device = "cpu"
) -> dict[str, float]:
    """MSE, RMSE and MAE over all counted elements (pixels for depth, like Yang et al.)."""
    pred, target = predict(model, loader, device)
    if pred.size == 0:
        return {"mse": math.nan, "rmse": math.nan, "mae": math.nan}
    with np.errstate(over="ignore", invalid="ignore"):
        mse = float(np.mean((pred - target) ** 2))
        mae = float(np.mean(np.abs(pred - target)))
    return {"mse": mse, "rmse": math.sqrt(mse) if mse >= 0 else math.nan, "mae": mae}


def class_labels(y: torch.Tensor, binning) -> torch.Tensor:
    """Torch twin of `ClassBinning.labels`: int64 class ids of every element of `y`."""
    return _BinTable.of(binning, y.device).labels(y)


@dataclass(frozen=True)
class _BinTable:
    """A ClassBinning's inner edges, old->new mapping and keep table as tensors on a device."""

    inner: torch.Tensor
    mapping: torch.Tensor
    keep: torch.Tensor

    @staticmethod
    def of(binning, device: torch.device) -> _BinTable | None:
        if binning is None:
            return None
        edges = torch.as_tensor(np.asarray(binning.edges, dtype=np.float64), device=device)
        return _BinTable(
            inner=edges[1:-1].contiguous(),
            mapping=torch.as_tensor(np.asarray(binning.mapping), dtype=torch.long, device=device),
            keep=torch.as_tensor(np.asarray(binning.keep, dtype=np.float64), device=device),
        )

    @property
    def gates(self) -> bool:
        """True when some class keeps samples with probability < 1 (balanced classes)."""
        return bool((self.keep < 1).any())

    def labels(self, y: torch.Tensor) -> torch.Tensor:
        # right=True is numpy's searchsorted(side="right"), as in
        # regcls.data.binning.assign_classes.
        return self.mapping[torch.bucketize(y.double(), self.inner, right=True)]

    def kept(self, y: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return u <= self.keep[self.labels(y)]


def _loss(
    pred: torch.Tensor,
    logits: torch.Tensor | None,
    y: torch.Tensor,
    mask: torch.Tensor,
    settings: EpochSettings,
    cls_table: _BinTable | None,
    balance_table: _BinTable | None,
    keep_gen: torch.Generator,
) -> torch.Tensor:
    """Eq. 4 on one batch; means over counted elements, zero (with a graph) when none count."""
    pred = _match(pred, y)
    counted = mask
    if balance_table is not None:
        u = torch.rand(y.shape, generator=keep_gen, dtype=torch.float64).to(y.device)
        counted = counted & balance_table.kept(y, u)
    reg = _masked_mean(_elementwise(pred, y, settings.reg_loss), counted)
    if cls_table is None:
        return reg
    if logits is None:
        raise ValueError("binning: the model returned no class logits (built with num_classes=0)")
    labels_y, labels_mask = y, mask
    if y.dim() > 1 and logits.shape[2:] != y.shape[1:]:
        size = tuple(logits.shape[2:])
        labels_y = F.interpolate(y[:, None].float(), size=size, mode="nearest")[:, 0]
        labels_mask = F.interpolate(mask[:, None].float(), size=size, mode="nearest")[:, 0] > 0.5
    if labels_y.shape == y.shape and balance_table is not None:
        u_cls = u  # one draw per element gates both losses (Table 4 control)
    elif balance_table is not None or cls_table.gates:
        u_cls = torch.rand(labels_y.shape, generator=keep_gen, dtype=torch.float64).to(y.device)
    in_ce = labels_mask
    if cls_table.gates:
        in_ce = in_ce & cls_table.kept(labels_y, u_cls)
    if balance_table is not None:
        in_ce = in_ce & balance_table.kept(labels_y, u_cls)
    logits = logits.float()
    if logits.dim() > 2:  # [B, C, H, W] -> [B*H*W, C]
        logits = logits.movedim(1, -1).reshape(-1, logits.shape[1])
    ce = F.cross_entropy(logits, cls_table.labels(labels_y).reshape(-1), reduction="none")
    return settings.lam * reg + _masked_mean(ce, in_ce.reshape(-1))


def _step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


def _elementwise(pred: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    return (pred - y) ** 2 if kind == "mse" else (pred - y).abs()


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    count = mask.sum()
    if int(count) == 0:
        return values.sum() * 0.0  # keeps the graph, so the step still runs
    return (values * mask).sum() / count


def _match(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Resize a dense prediction [B, h, w] bilinearly to the target's spatial size."""
    if pred.dim() > 1 and pred.shape[1:] != y.shape[1:]:
        size = tuple(y.shape[1:])
        return F.interpolate(pred[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
    return pred


def _unpack(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if len(batch) == 3:
        x, y, mask = batch
        mask = mask.to(device).bool()
    else:
        x, y = batch
        mask = None
    x = x.to(device)
    y = y.to(device).float()
    if mask is None:
        mask = torch.ones(y.shape, dtype=torch.bool, device=device)
    return x, y, mask
