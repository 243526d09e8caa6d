"""Packed training: K small MLPs trained as one vectorised program.

Every model has its own data, seed, initial weights, minibatch order, keep draws, objective,
lambda, learning rate, weight decay and class count, yet the step loop has no per-model Python
code: all parameters of all models live in one flat tensor `[K, P]` (per-layer views via
`MLPLayout`), the forward and backward passes are batched matmuls over the leading model
dimension, and Adam is a handful of ops on the flat tensors.

What each model minimises is its `regcls.objectives.Objective` (Eq. 4: `lam * MSE + CE` for
`reg+cls`, `MSE` for `reg`, ...); the pieces in `regcls.objectives` compute every loss term and
its exact hand-written gradient (see `benchmarks/NOTES.md` for the measured gain over autograd).
This module only runs the pack: layout, data and minibatches, the trunk and regression head, the
step loop, divergence, the optimiser step and the results; what it trains is described by
`regcls.training.tasks`. `regcls.training.single.train_single` is the plain nn.Module +
torch.optim.Adam reference the tests compare against.

Which objectives share a pack (`regcls.objectives.pack_class_head`): a pack runs one class-head
piece. Models without a class head (`reg`, `reg-scaled`, `reg-lds`, `reg-focal`, `reg-bmc`,
`reg-denseweight`, `reg-fds`) and one-hot heads (`reg+cls`, `reg+cls-balanced`, `cls-only`,
`reg-lds+cls`) join any pack. Soft-target heads (`reg+hlgauss`, `reg+softlabel`; one-hot models
then train on one-hot target rows) and hierarchical heads (`hca`, `hca+lds`, `reg+hca`; one-hot
models are one-level hierarchies) cannot share a pack: such a pack is a one-line ValueError, and
`regcls.methods.split_packs` / `regcls.objectives.head_group` split a study's models first. FDS,
Focal-R, BMC and per-sample weights are per-model rows and mix with everything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from regcls.models.mlp import MLPLayout, init_params, matmul_dtype, torch_dtype
from regcls.objectives import CLASS_HEADS, Objective, pack_class_head
from regcls.objectives.balanced_mse import BMCTerm
from regcls.objectives.cross_entropy import draw_kept
from regcls.objectives.feature_smoothing import FeatureSmoothing, target_bins
from regcls.objectives.focal import FocalTerm
from regcls.objectives.mse import MSETerm, batch_weights
from regcls.training.optimizers import flat_optimizer
from regcls.training.task_checks import check_tasks
from regcls.training.tasks import (
    KEEP_SEED_OFFSET,
    PERM_SEED_OFFSET,
    EpochHook,
    ModelTask,
    TrainedModels,
    TrainSettings,
)


def train_packed(
    tasks: Sequence[ModelTask], settings: TrainSettings, on_epoch: EpochHook | None = None
) -> TrainedModels:
    """Train every task's model as one vectorised program; equal to `train_single` per task.

    `on_epoch(epoch, state)` runs after every epoch (0-based) with a view of the current state;
    returning True stops training. A model whose loss becomes NaN/inf is marked diverged and frozen
    at its last parameters; the others are unaffected.

    `settings.backend == "fused"` runs the pack on the compiled CPU kernel when it covers the pack
    and loads (`regcls.training.fused.fused_reason`), else here; `backend` of the result says
    which ran.
    """
    if settings.backend == "fused":
        from regcls.training.fused import fused_reason, train_fused

        if fused_reason(tasks, settings) is None:
            return train_fused(tasks, settings, on_epoch)
    pack = _Pack(tasks, settings)
    with torch.no_grad():
        for epoch in range(settings.epochs):
            pack.run_epoch(epoch)
            stop = bool(on_epoch(epoch, pack.state(copy=False))) if on_epoch else False
            # One host sync per epoch: stop early once every model has diverged.
            if stop or not bool(pack.alive.any()):
                break
    return pack.state(copy=True)


class _Pack:
    """Flat parameters, Adam state, stacked data and per-model generators of one pack."""

    def __init__(self, tasks: Sequence[ModelTask], settings: TrainSettings) -> None:
        if not tasks:
            raise ValueError("tasks: need at least one ModelTask")
        self.settings = settings
        self.dtype = torch_dtype(settings.dtype)
        self.device = tasks[0].x_train.device
        in_features = check_tasks(tasks, settings)
        objectives = [t.objective_spec for t in tasks]
        k = len(tasks)
        self.counts = [int(t.y_train.shape[0]) for t in tasks]
        self.classes = [t.head_width for t in tasks]
        self.prediction_rules = [t.prediction_rule for t in tasks]
        self.class_centres = [t.class_centres for t in tasks]
        self.class_levels = [t.class_levels for t in tasks]
        self.layout = MLPLayout(in_features, tuple(settings.hidden), max(self.classes))
        self.has_cls = self.layout.num_classes > 0
        self.has_keep = any(t.keep_prob is not None for t in tasks)
        b = settings.batch_size
        self.steps = [n // b if settings.drop_last else -(-n // b) for n in self.counts]
        self.max_steps = max(self.steps)
        self.uniform_steps = min(self.steps) == self.max_steps

        opts = {"dtype": self.dtype, "device": self.device}
        self.flat = torch.zeros(k, self.layout.size, **opts)
        views = self.layout.views(self.flat)
        for row, task in enumerate(tasks):
            seed = task.seed if task.init_seed is None else task.init_seed
            init = init_params(
                seed, in_features, settings.hidden, self.classes[row], self.dtype, task.class_blocks
            )
            for name, value in init.items():
                views[name][row, : value.shape[0]] = value
        self.grad = torch.zeros_like(self.flat)
        self.weights = self._layers(self.layout.views(self.flat))
        self.grads = self._layers(self.layout.views(self.grad))

        decay = [settings.weight_decay if t.weight_decay is None else t.weight_decay for t in tasks]
        self.optimizer = _optimizer(
            settings, self.flat, self.grad, [t.lr for t in tasks], decay, self.steps
        )

        # The loss pieces (regcls.objectives): the MSE term (Focal-R / BMC rows overwrite their
        # rows of it), and the class head if any model has one: one head kind per pack
        # (`pack_class_head`): one-hot models join a soft-target head (as one-hot target rows) or
        # a hierarchical head (as one-level hierarchies); soft and hierarchical cannot mix.
        kind = pack_class_head({o.class_head for o in objectives})
        weights = [o.mse_weight(t.lam) for o, t in zip(objectives, tasks, strict=True)]
        scale = torch.tensor(weights, **opts)
        self.mse = MSETerm(scale)
        self.focal = self.bmc = self.sigma_optimizer = None
        focal = [i for i, o in enumerate(objectives) if o.regression_loss == "focal"]
        if focal:
            picked = [tasks[i] for i in focal]
            self.focal = FocalTerm(
                focal,
                scale,
                [t.focal_beta for t in picked],
                [t.focal_gamma for t in picked],
                [t.focal_activation for t in picked],
            )
        bmc = [i for i, o in enumerate(objectives) if o.regression_loss == "bmc"]
        if bmc:
            picked = [tasks[i] for i in bmc]
            learned = [t.bmc_sigma_learned for t in picked]
            self.bmc = BMCTerm(bmc, scale, [t.bmc_sigma for t in picked], any(learned))
            if any(learned):
                # Ren et al. train sigma as a param group of the model's optimiser: its own lr, no
                # weight decay. Fixed sigmas in the same pack take steps of lr 0.
                lr = [t.bmc_sigma_lr if t.bmc_sigma_learned else 0.0 for t in picked]
                steps = [self.steps[i] for i in bmc]
                sigma, grad = self.bmc.sigma.unsqueeze(1), self.bmc.grad_sigma.unsqueeze(1)
                self.sigma_optimizer = _optimizer(
                    settings, sigma, grad, lr, [0.0] * len(bmc), steps
                )
        self.head = None
        self.soft = kind == "soft"
        if self.has_cls:
            (cls_w, cls_b), (grad_w, grad_b) = self.weights[-1], self.grads[-1]
            extra: dict = {"class_levels": self.class_levels}
            if kind != "hierarchical":  # bf16 head matmuls (one-hot and soft heads)
                extra = {"matmul_dtype": matmul_dtype(settings.dtype)}
            elif settings.dtype == "bfloat16":
                raise ValueError(
                    "dtype: bfloat16 runs one-hot and soft class heads; hierarchical heads (hca) "
                    "need float32 or float64"
                )
            self.head = CLASS_HEADS[kind](self.classes, b, cls_w, cls_b, grad_w, grad_b, **extra)
        # FDS (reg-fds) calibrates the regression head's input; None: no model uses it.
        self.fds = None
        self.fds_bins = [t.fds.bins if o.fds else 0 for o, t in zip(objectives, tasks, strict=True)]
        if any(self.fds_bins):
            configs = [t.fds if o.fds else None for o, t in zip(objectives, tasks, strict=True)]
            bins = [
                None if c is None else target_bins(t.y_train, c.bins)
                for c, t in zip(configs, tasks, strict=True)
            ]
            hidden = settings.hidden[-1]
            self.fds = FeatureSmoothing(
                configs, bins, hidden, max(self.counts), self.dtype, self.device
            )
        self.steps_t = torch.tensor(self.steps, dtype=torch.float64, device=self.device)

        self.x_ids, self.x_data = _stack_unique([t.x_train for t in tasks], self.dtype)
        self.y_ids, self.y_data = _stack_unique([t.y_train for t in tasks], self.dtype)
        if self.has_cls:
            labels = [t.labels for t in tasks]
            self.l_ids, self.l_data = _stack_unique(labels, torch.int64)
        # Per-sample weights of the MSE term (reg-lds, ...) and of the CE terms (hca+lds); models
        # without weights read a shared row of ones.
        ones = torch.ones(max(self.counts), dtype=self.dtype, device=self.device)
        self.has_sample_weight = any(o.sample_weight for o in objectives)
        if self.has_sample_weight:
            pairs = zip(objectives, tasks, strict=True)
            weights = [t.sample_weight if o.sample_weight else ones for o, t in pairs]
            self.sw_ids, self.sw_data = _stack_unique(weights, self.dtype)
        self.has_ce_weight = any(o.ce_sample_weight for o in objectives)
        if self.has_ce_weight:
            pairs = zip(objectives, tasks, strict=True)
            weights = [t.sample_weight if o.ce_sample_weight else ones for o, t in pairs]
            self.cw_ids, self.cw_data = _stack_unique(weights, self.dtype)
        if self.soft:  # [U, N, C_max] target rows, gathered per step (not per epoch: C can be big)
            c_max = self.layout.num_classes
            made: dict[tuple, torch.Tensor] = {}  # one one-hot copy per labels tensor
            targets = [
                _soft_rows(o, t, c_max, made) for o, t in zip(objectives, tasks, strict=True)
            ]
            self.t_ids, self.t_data = _stack_unique(targets, self.dtype)
        self.keep = [
            None if t.keep_prob is None else t.keep_prob.to(torch.float64).cpu() for t in tasks
        ]
        self.perm_gen = [torch.Generator().manual_seed(t.seed + PERM_SEED_OFFSET) for t in tasks]
        self.keep_gen = [torch.Generator().manual_seed(t.seed + KEEP_SEED_OFFSET) for t in tasks]

        self.alive = torch.ones(k, dtype=torch.bool, device=self.device)
        self.epochs_done = torch.zeros(k, dtype=torch.int64, device=self.device)
        self.final_loss = torch.full((k,), math.nan, **opts)
        self.loss_sum = torch.zeros(k, dtype=torch.float64, device=self.device)

    def _layers(self, views: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # (weight [K, out, in], bias [K, out]) per linear layer: trunk..., reg, (cls).
        names = [f"trunk.{i}" for i in range(len(self.settings.hidden))] + ["reg"]
        names += ["cls"] if self.has_cls else []
        return [(views[f"{n}.weight"], views[f"{n}.bias"]) for n in names]

    # --- one epoch --------------------------------------------------------------------------

    def run_epoch(self, epoch: int) -> None:
        batches = self._epoch_batches()
        if self.fds is not None:
            b = self.settings.batch_size
            self.fds.begin_epoch(epoch, self.epoch_order, self.max_steps, b)
        self.loss_sum.zero_()
        for step in range(self.max_steps):
            x, y, w_mse, labels, w_ce = (None if t is None else t[step] for t in batches)
            self._step(epoch, step, x, y, w_mse, labels, w_ce)
        mean = (self.loss_sum / self.steps_t).to(self.dtype)
        self.final_loss = torch.where(self.alive, mean, math.nan)
        self.epochs_done += self.alive
        if self.fds is not None:  # FDS statistics from this epoch's features of all samples
            self.fds.end_epoch(epoch, self._all_features(), self.alive)

    def _epoch_draws(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This epoch's minibatch order `[K, steps * B]` (sample ids; past a model's own samples,
        padding) and, when a model has keep probabilities, the keep draws (Eq. 16) in that order
        (`[K, steps * B]`, 1 for models without), both on the CPU, from every model's own
        generators: one call per model and epoch keeps the streams of train_single."""
        k, b, s = len(self.counts), self.settings.batch_size, self.max_steps
        width = s * b
        gens = zip(self.counts, self.perm_gen, strict=True)
        perms = [torch.randperm(n, generator=g) for n, g in gens]
        order = torch.zeros(k, max(width, max(self.counts)), dtype=torch.int64)
        for row, perm in enumerate(perms):
            order[row, : perm.shape[0]] = perm
        order = order[:, :width]
        keep_rows = None
        if self.has_keep:
            keep_rows = torch.ones(k, width, dtype=self.dtype)
            for row, (keep, gen) in enumerate(zip(self.keep, self.keep_gen, strict=True)):
                if keep is not None:
                    keep_rows[row] = draw_kept(keep, gen).to(self.dtype)[order[row]]
        return order, keep_rows

    def _epoch_batches(self) -> list[torch.Tensor | None]:
        """This epoch's minibatches of every model, gathered once: x `[steps, K, in, B]`, the
        others `[steps, K, B]`, so every step reads contiguous slices."""
        k, b, s = len(self.counts), self.settings.batch_size, self.max_steps
        width = s * b
        order_cpu, keep_rows = self._epoch_draws()
        order = order_cpu.to(self.device)
        self.epoch_order = order
        position = torch.arange(width, device=self.device)
        used = torch.tensor(self.used_samples(), device=self.device)
        valid = position < used.unsqueeze(1)  # [K, width]

        def by_step(values: torch.Tensor) -> torch.Tensor:  # [K, width] -> [steps, K, B]
            return values.view(k, s, b).transpose(0, 1).contiguous()

        sample_weight = None
        if self.has_sample_weight:
            sample_weight = by_step(_take(self.sw_data, self.sw_ids, order))
        w_mse = batch_weights(by_step(valid.to(self.dtype)), sample_weight)
        x = _take(self.x_data, self.x_ids, order)  # [K, width, in]
        x = x.view(k, s, b, -1).permute(1, 0, 3, 2).contiguous()
        y = by_step(_take(self.y_data, self.y_ids, order))
        if self.head is None:
            return [x, y, w_mse, None, None]
        # The soft head reads sample ids and gathers its target rows at each step.
        labels = by_step(order) if self.soft else by_step(_take(self.l_data, self.l_ids, order))
        kept = valid.to(self.dtype)
        if keep_rows is not None:
            kept = kept * keep_rows.to(self.device)
        w_ce = self.head.batch_weights(by_step(kept))
        if self.has_ce_weight:  # each sample's CE (every level's) times its weight
            w_ce = w_ce * by_step(_take(self.cw_data, self.cw_ids, order))
        return [x, y, w_mse, labels, w_ce]

    def used_samples(self) -> list[int]:
        """Samples each model trains on per epoch (all, or its full batches with drop_last)."""
        b = self.settings.batch_size
        return [min(n, steps * b) for n, steps in zip(self.counts, self.steps, strict=True)]

    # --- one step -----------------------------------------------------------------------------

    def _step(self, epoch, step, x, y, w_mse, labels, w_ce) -> None:
        """Forward, loss (the objective pieces), divergence check, hand-written backward and
        Adam for all K models.

        Activations are feature-major `[K, features, B]`: every batched matmul then writes a
        long last dimension (B), which is several times faster than `[K, B, 6]`-shaped outputs.
        """
        top = len(self.settings.hidden)
        acts = [x]  # [K, in, B]
        for weight, bias in self.weights[:top]:
            acts.append(torch.baddbmm(bias.unsqueeze(2), weight, acts[-1]).clamp_min_(0.0))
        h = acts[-1]
        h_reg = h if self.fds is None else self.fds.calibrate(h, step)  # FDS: z~ (Eq. 6)
        reg_w, reg_b = self.weights[top]
        pred = torch.baddbmm(reg_b.unsqueeze(2), reg_w, h_reg)[:, 0, :]
        pred_bmc = None if self.bmc is None else pred.index_select(0, self.bmc.rows)
        diff = pred.sub_(y)  # pred - y, [K, B]
        loss, d_pred = self.mse(diff, w_mse)
        if self.focal is not None:
            self.focal(diff, w_mse, loss, d_pred)
        if self.bmc is not None:
            self.bmc(pred_bmc, y, w_mse, loss, d_pred)
        # Backward: the exact gradient of the loss, written into the flat grad views.
        grads = self.grads
        d_out = d_pred.unsqueeze(1)  # [K, 1, B]
        h_t = h.transpose(1, 2)
        torch.bmm(d_out, h_reg.transpose(1, 2), out=grads[top][0])
        torch.sum(d_pred, dim=1, keepdim=True, out=grads[top][1])
        d_h = torch.mul(reg_w.transpose(1, 2), d_out)  # [K, H, B] outer product
        if self.fds is not None:
            d_h = self.fds.backward(d_h)
        if self.head is not None:
            # Forward, loss and backward of the class heads (adds to `loss`, `d_h`).
            if self.soft:  # labels are sample ids: gather this step's target rows [K, B, C]
                labels = _take(self.t_data, self.t_ids, labels)
            self.head(h, h_t, labels, w_ce, loss, d_h)

        # Divergence without a host sync: a model whose loss is not finite stops for good.
        self.alive.logical_and_(torch.isfinite(loss))
        active = self.alive
        if not self.uniform_steps:
            active = active & (step < self.steps_t)
        self.loss_sum.add_(torch.where(active, loss, 0.0))

        for layer in range(top - 1, -1, -1):
            d_z = torch.ops.aten.threshold_backward(d_h, acts[layer + 1], 0.0)  # ReLU'
            torch.bmm(d_z, acts[layer].transpose(1, 2), out=grads[layer][0])
            torch.sum(d_z, dim=2, out=grads[layer][1])
            if layer:
                d_h = torch.bmm(self.weights[layer][0].transpose(1, 2), d_z)
        self.optimizer.step(epoch, step, active)
        if self.sigma_optimizer is not None:
            self.sigma_optimizer.step(epoch, step, active.index_select(0, self.bmc.rows))

    def _all_features(self) -> torch.Tensor:
        """The last hidden layer `[K, H, N]` of every model on all its training samples (padded
        to the longest), un-calibrated: FDS's extra pass after an epoch."""
        h = self.x_data.index_select(0, self.x_ids).transpose(1, 2)  # [K, in, N]
        for weight, bias in self.weights[: len(self.settings.hidden)]:
            h = torch.baddbmm(bias.unsqueeze(2), weight, h).clamp_min_(0.0)
        return h

    # --- results ------------------------------------------------------------------------------

    def state(self, copy: bool) -> TrainedModels:
        rows = _ParamRows(self.layout, self.flat, self.classes)
        params: Sequence[dict[str, torch.Tensor]] = (
            [{n: v.clone() for n, v in rows[i].items()} for i in range(len(rows))] if copy else rows
        )
        return TrainedModels(
            params=params,
            diverged=~self.alive,
            epochs_trained=self.epochs_done.clone(),
            final_loss=self.final_loss.clone(),
            prediction_rules=self.prediction_rules,
            class_centres=self.class_centres,
            bmc_sigma=self._bmc_sigma(),
            class_levels=self.class_levels,
            fds_stats=[
                None if bins == 0 or self.fds is None else self.fds.state(row, bins)
                for row, bins in enumerate(self.fds_bins)
            ],
        )

    def _bmc_sigma(self) -> torch.Tensor | None:
        if self.bmc is None:
            return None
        out = torch.full((len(self.counts),), math.nan, dtype=self.dtype, device=self.device)
        return out.index_copy_(0, self.bmc.rows, self.bmc.sigma)


class _ParamRows(Sequence):
    """Model i's parameters as views of the flat tensor, class head cut to its own width."""

    def __init__(self, layout: MLPLayout, flat: torch.Tensor, classes: list[int]) -> None:
        self._views = layout.views(flat)
        self._classes = classes

    def __len__(self) -> int:
        return len(self._classes)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        c = self._classes[index]
        out = {}
        for name, view in self._views.items():
            if name.startswith("cls."):
                if c:
                    out[name] = view[index, :c]
            else:
                out[name] = view[index]
        return out


def _soft_rows(
    spec: Objective, task: ModelTask, classes: int, made: dict[tuple, torch.Tensor]
) -> torch.Tensor | None:
    """A model's target rows `[N, classes]` for the soft head: its soft targets, one-hot rows of
    its labels (one copy per labels tensor, via `made`), or None without a class head."""
    if spec.class_head is None:
        return None
    if spec.class_head == "soft":
        targets = task.soft_targets
        width = targets.shape[1]
        if width == classes:
            return targets
        return torch.nn.functional.pad(targets, (0, classes - width))
    labels = task.labels
    key = (labels.data_ptr(), tuple(labels.shape), labels.stride(), labels.device)
    if key not in made:
        made[key] = torch.nn.functional.one_hot(labels, classes)
    return made[key]


def _stack_unique(
    tensors: Sequence[torch.Tensor | None], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack each distinct tensor once (padded to the longest); return per-task row ids.

    Tensors are the same data when they view the same memory with the same shape, so tasks built
    from one dataset share one copy. `None` (reg models without labels) maps to a zero row.
    """
    keys: dict[tuple, int] = {}
    unique: list[torch.Tensor | None] = []
    ids = []
    for t in tensors:
        key = None if t is None else (t.data_ptr(), tuple(t.shape), t.stride(), t.dtype, t.device)
        if key not in keys:
            keys[key] = len(unique)
            unique.append(t)
        ids.append(keys[key])
    length = max(t.shape[0] for t in unique if t is not None)
    tail = next(tuple(t.shape[1:]) for t in unique if t is not None)
    device = next(t.device for t in unique if t is not None)
    data = torch.zeros(len(unique), length, *tail, dtype=dtype, device=device)
    for row, t in enumerate(unique):
        if t is not None:
            data[row, : t.shape[0]] = t.to(dtype)
    return torch.tensor(ids, device=device), data


def _take(data: torch.Tensor, ids: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """`data[ids[k], order[k]]` for every model k, via one index_select (advanced indexing
    with two index tensors is several times slower)."""
    rows = (ids.unsqueeze(1) * data.shape[1] + order).view(-1)
    flat = data.view(-1, *data.shape[2:]).index_select(0, rows)
    return flat.view(*order.shape, *data.shape[2:])


def _optimizer(
    settings: TrainSettings,
    flat: torch.Tensor,
    grad: torch.Tensor,
    lr: Sequence[float],
    decay: Sequence[float],
    steps: Sequence[int],
):
    """The settings' flat optimiser over `flat` rows (the models, or the learned BMC sigmas)."""
    return flat_optimizer(
        settings.optimizer, flat, grad, lr, decay, steps, settings.adam_eps, settings.momentum
    )
