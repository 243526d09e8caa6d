"""The single-model reference trainer: a plain nn.Module, a torch.optim optimiser and a batch loop.

Deliberately unoptimised; it exists so tests can prove that
`regcls.training.packed.train_packed` trains exactly the models this loop trains (same init,
minibatch order, keep draws, loss and optimiser).
Every objective of `regcls.objectives.OBJECTIVES` is written here with autograd and
`F.cross_entropy`, independently of the pieces the packed trainer uses; FDS (`reg-fds`) follows
the authors' `FDS.py` line by line (per-bin loops, conv1d smoothing, the buffer alias).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from regcls.models.mlp import MLP, init_params, torch_dtype
from regcls.objectives.feature_smoothing import FDSConfig, kernel_window, target_bins
from regcls.objectives.hierarchical import max_alignment
from regcls.training.distillation import (
    DISTILL_SEED_OFFSET,
    STUDENT_NAMES,
    DistilledModels,
    student_init,
)
from regcls.training.optimizers.adam import BETAS
from regcls.training.task_checks import check_tasks
from regcls.training.tasks import (
    KEEP_SEED_OFFSET,
    PERM_SEED_OFFSET,
    ModelTask,
    TrainedModels,
    TrainSettings,
)


def train_single(task: ModelTask, settings: TrainSettings) -> TrainedModels:
    """Train one model the plain way; the reference `train_packed` must reproduce.

    Loss per minibatch by objective: `reg` MSE; `reg+cls` lam * MSE + CE (Eq. 4);
    `reg+cls-balanced` lam * MSE + CE over the kept samples (Eq. 13, 16); `reg-scaled` lam * MSE;
    `cls-only` CE; `reg-lds` / `reg-denseweight` the per-sample weighted MSE; `reg-focal` Focal-R;
    `reg-bmc` Balanced MSE (BMC); `reg+hlgauss` / `reg+softlabel` lam * MSE + CE against the soft
    targets; `reg-lds+cls` lam * weighted MSE + CE; `hca` the sum of every level's CE (Eq. 6);
    `hca+lds` that sum with every sample's CE times its LDS weight; `reg+hca` lam * MSE + that
    sum; `reg-fds` MSE of the regression head on FDS-calibrated features.
    """
    in_features = check_tasks([task], settings)
    spec = task.objective_spec
    dtype = torch_dtype(settings.dtype)
    num_classes = task.head_width if spec.class_head is not None else 0
    model = MLP(in_features, tuple(settings.hidden), num_classes).to(dtype)
    model.to(task.x_train.device)
    init_seed = task.seed if task.init_seed is None else task.init_seed
    blocks = task.class_blocks if spec.class_head is not None else None
    init = init_params(init_seed, in_features, tuple(settings.hidden), num_classes, dtype, blocks)
    model.load_state_dict(init)
    decay = settings.weight_decay if task.weight_decay is None else task.weight_decay
    optimizer = _torch_optimizer(model.parameters(), task.lr, decay, settings)
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
    fds, bins = None, None
    if spec.fds:
        fds = _FDSReference(task.fds, settings.hidden[-1], dtype, x.device)
        bins = target_bins(task.y_train, task.fds.bins).to(x.device)

    diverged, epochs_trained, final_loss = False, 0, math.nan
    for epoch in range(settings.epochs):
        perm = torch.randperm(n, generator=perm_gen).to(x.device)
        kept = None
        if task.keep_prob is not None:
            u = torch.rand(n, generator=keep_gen, dtype=torch.float64)
            kept = (u <= task.keep_prob.double().cpu()).to(x.device)
        losses = []
        for start in range(0, stop, batch):
            idx = perm[start : start + batch]
            calibrate = None
            if fds is not None and epoch >= task.fds.start_epoch:
                # A copy: the code calibrates in place, but ReLU's backward needs its output.
                calibrate = lambda h, idx=idx, epoch=epoch: fds.smooth(h.clone(), bins[idx], epoch)  # noqa: E731
            pred, logits = model(x[idx], calibrate)
            loss = None
            if spec.mse != "none":
                loss = _regression_loss(task, pred, y[idx], idx, noise_sigma)
                loss = task.lam * loss if spec.mse == "lam" else loss
            if spec.class_head in ("onehot", "soft"):
                mask = None if kept is None else kept[idx]
                soft = spec.class_head == "soft"
                target = task.soft_targets.to(dtype)[idx] if soft else task.labels[idx]
                ce = _cross_entropy(logits, target, mask)
                loss = ce if loss is None else loss + ce
            if spec.class_head == "hierarchical":
                weight = task.sample_weight.to(dtype)[idx] if spec.ce_sample_weight else None
                ce = _hierarchical_cross_entropy(
                    logits, task.labels[idx], task.class_levels, weight
                )
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
        if fds is not None and epoch >= task.fds.start_update:  # the code's end-of-epoch pass
            with torch.no_grad():
                features = model.features(x)
                if task.fds.stats_from == "calibrated":  # the code's training-mode forward
                    features = fds.smooth(features.clone(), bins, epoch)
            fds.update_last_epoch_stats(epoch)
            fds.update_running_stats(features, bins, epoch)

    params = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return TrainedModels(
        params=[params],
        diverged=torch.tensor([diverged]),
        epochs_trained=torch.tensor([epochs_trained]),
        final_loss=torch.tensor([final_loss], dtype=dtype),
        prediction_rules=[task.prediction_rule],
        class_centres=[task.class_centres],
        bmc_sigma=None if noise_sigma is None else noise_sigma.detach().clone().reshape(1),
        class_levels=[task.class_levels],
        fds_stats=[None if fds is None else fds.stats()],
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


def _hierarchical_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    class_levels: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 6: the sum over levels of each level's mean CE; logits = [finest | level 1 | ...].
    With `weight` `[B]` (hca+lds), each level's mean is of `weight_i * CE_i`."""

    def level_ce(level_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if weight is None:
            return F.cross_entropy(level_logits, target)
        return (F.cross_entropy(level_logits, target, reduction="none") * weight).mean()

    start = class_levels.shape[1]
    total = level_ce(logits[:, :start], labels)
    for level in class_levels:
        size = int(level.max()) + 1
        total = total + level_ce(logits[:, start : start + size], level[labels])
        start += size
    return total


class _FDSReference:
    """One model's FDS as the authors' `FDS.py` (bucket_start 0): per-bin loops, the statistics
    smoothed by conv1d with reflect padding, and `running_*_last_epoch` aliased to `running_*`
    by the first `update_last_epoch_stats`."""

    def __init__(
        self, config: FDSConfig, features: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        self.config = config
        window = kernel_window(config.kernel, config.ks, config.sigma)
        self.window = torch.tensor(window, dtype=dtype, device=device)
        self.epoch = config.start_update
        shape, opts = (config.bins, features), {"dtype": dtype, "device": device}
        self.running_mean, self.running_var = torch.zeros(shape, **opts), torch.ones(shape, **opts)
        self.running_mean_last_epoch = torch.zeros(shape, **opts)
        self.running_var_last_epoch = torch.ones(shape, **opts)
        self.smoothed_mean_last_epoch = torch.zeros(shape, **opts)
        self.smoothed_var_last_epoch = torch.ones(shape, **opts)

    def _smooth_bins(self, stats: torch.Tensor) -> torch.Tensor:
        pad = (self.window.shape[0] - 1) // 2
        padded = F.pad(stats.unsqueeze(1).permute(2, 1, 0), pad=(pad, pad), mode="reflect")
        return F.conv1d(padded, self.window.view(1, 1, -1)).permute(2, 1, 0).squeeze(1)

    def update_last_epoch_stats(self, epoch: int) -> None:
        if epoch == self.epoch + 1:
            self.epoch += 1
            self.running_mean_last_epoch = self.running_mean  # an alias, as in the code
            self.running_var_last_epoch = self.running_var
            self.smoothed_mean_last_epoch = self._smooth_bins(self.running_mean_last_epoch)
            self.smoothed_var_last_epoch = self._smooth_bins(self.running_var_last_epoch)

    def update_running_stats(self, features: torch.Tensor, labels: torch.Tensor, epoch: int):
        if epoch < self.epoch:
            return
        for label in torch.unique(labels):
            b = int(label)
            current = features[labels == label]
            mean = torch.mean(current, 0)
            var = torch.var(current, 0, unbiased=current.shape[0] != 1)
            factor = 0.0 if epoch == self.config.start_update else self.config.momentum
            self.running_mean[b] = (1 - factor) * mean + factor * self.running_mean[b]
            self.running_var[b] = (1 - factor) * var + factor * self.running_var[b]
        if self.config.empty_bins == "neighbours":  # the STS-B code's "make up" loop
            seen = set(torch.unique(labels).tolist())
            last = self.config.bins - 1
            for b in range(self.config.bins):
                if b in seen:
                    continue
                for stats in (self.running_mean, self.running_var):
                    if b == 0:
                        stats[0] = stats[1]
                    elif b == last:
                        stats[b] = stats[b - 1]
                    else:
                        stats[b] = (stats[b - 1] + stats[b + 1]) / 2.0

    def smooth(self, features: torch.Tensor, labels: torch.Tensor, epoch: int) -> torch.Tensor:
        if epoch < self.config.start_epoch:
            return features
        for label in torch.unique(labels):
            b, rows = int(label), labels == label
            features[rows] = self._calibrate(
                features[rows],
                self.running_mean_last_epoch[b],
                self.running_var_last_epoch[b],
                self.smoothed_mean_last_epoch[b],
                self.smoothed_var_last_epoch[b],
            )
        return features

    def _calibrate(self, matrix, m1, v1, m2, v2) -> torch.Tensor:
        """The code's `calibrate_mean_var`."""
        low, high = self.config.clip_min, self.config.clip_max
        if torch.sum(v1) < 1e-10:
            return matrix
        if (v1 == 0.0).any():
            valid = v1 != 0.0
            factor = torch.clamp(v2[valid] / v1[valid], low, high)
            matrix[:, valid] = (matrix[:, valid] - m1[valid]) * torch.sqrt(factor) + m2[valid]
            return matrix
        factor = torch.clamp(v2 / v1, low, high)
        return (matrix - m1) * torch.sqrt(factor) + m2

    def stats(self) -> dict[str, torch.Tensor]:
        return {
            "running_mean": self.running_mean.clone(),
            "running_var": self.running_var.clone(),
            "smoothed_mean": self.smoothed_mean_last_epoch.clone(),
            "smoothed_var": self.smoothed_var_last_epoch.clone(),
        }


def distill_single(
    task: ModelTask, stage1: dict[str, torch.Tensor], settings: TrainSettings, epochs: int
) -> DistilledModels:
    """HCA-d stage 2 the plain way (autograd, a torch.optim optimiser): the reference
    `regcls.training.distillation.train_distillation` must reproduce. F and G_1..G_H (`stage1`, one
    model's parameters) stay frozen; G_T = Linear(d, d/4) -> Softplus -> Linear(d/4, C) learns
    sum_h KL(p^h || max-aligned p^T) (Eqs. 11-14), batch means."""
    dtype = torch_dtype(settings.dtype)
    in_features = check_tasks([task], settings)
    model = MLP(in_features, tuple(settings.hidden), task.head_width).to(dtype)
    model.load_state_dict(stage1)
    x = task.x_train.to(dtype)
    with torch.no_grad():
        features = model.features(x)
        logits = model.cls(features)
    teachers, start = [], 0
    for size in [task.num_classes] + [int(r.max()) + 1 for r in task.class_levels]:
        teachers.append(torch.softmax(logits[:, start : start + size], dim=-1))
        start += size
    width = max(1, settings.hidden[-1] // 4)
    student = nn.Sequential(
        nn.Linear(settings.hidden[-1], width), nn.Softplus(), nn.Linear(width, task.num_classes)
    ).to(dtype)
    init_seed = task.seed if task.init_seed is None else task.init_seed
    init = student_init(init_seed, settings.hidden[-1], task.num_classes, dtype)
    student.load_state_dict(
        {
            new: init[old]
            for new, old in zip(("0.weight", "0.bias", "2.weight", "2.bias"), init, strict=True)
        }
    )
    decay = settings.weight_decay if task.weight_decay is None else task.weight_decay
    optimizer = _torch_optimizer(student.parameters(), task.lr, decay, settings)
    perm_gen = torch.Generator().manual_seed(task.seed + DISTILL_SEED_OFFSET)
    n, batch = x.shape[0], settings.batch_size
    stop = n - n % batch if settings.drop_last else n
    diverged, epochs_trained, final_loss = False, 0, math.nan
    for _ in range(epochs):
        perm = torch.randperm(n, generator=perm_gen).to(x.device)
        losses = []
        for begin in range(0, stop, batch):
            idx = perm[begin : begin + batch]
            p = torch.softmax(student(features[idx]), dim=-1)
            aligned = [p] + [max_alignment(p, level) for level in task.class_levels]
            loss = sum(
                (torch.xlogy(t[idx], t[idx]) - t[idx] * a.log()).sum(-1).mean()
                for t, a in zip(teachers, aligned, strict=True)
            )
            if not torch.isfinite(loss):
                diverged = True
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if diverged:
            final_loss = math.nan
            break
        epochs_trained += 1
        final_loss = sum(losses) / len(losses)
    state = student.state_dict()
    head = {
        name: state[old].detach().clone() for name, old in zip(STUDENT_NAMES, state, strict=True)
    }
    return DistilledModels(
        stage1=[stage1],
        heads=[head],
        class_centres=[task.class_centres],
        diverged=torch.tensor([diverged]),
        epochs_trained=torch.tensor([epochs_trained]),
        final_loss=torch.tensor([final_loss], dtype=dtype),
    )


def _torch_optimizer(
    params, lr: float, weight_decay: float, settings: TrainSettings
) -> torch.optim.Optimizer:
    """The torch.optim class the settings name (`regcls.training.optimizers.OPTIMIZERS`)."""
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=settings.momentum, weight_decay=weight_decay)
    kind = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=lr, betas=BETAS, eps=settings.adam_eps, weight_decay=weight_decay)
