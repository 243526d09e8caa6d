"""Packed training: K small MLPs trained as one vectorised program.

Every model has its own data, seed, initial weights, minibatch order, keep draws, lambda, learning
rate and class count, yet the step loop has no per-model Python code: all parameters of all models
live in one flat tensor `[K, P]` (per-layer views via `MLPLayout`), the forward and backward passes
are batched matmuls over the leading model dimension, and Adam is a handful of ops on the flat
tensors. Classification heads are padded to the largest class count in the pack; padded logits are
masked with -inf, so each model's cross-entropy is its own C-class cross-entropy and the padded
rows keep zero weights and zero gradients.

The backward pass is written by hand (it is the exact gradient of the loss below; see
`benchmarks/NOTES.md` for the measured gain over autograd). `regcls.single.train_single` is the
plain nn.Module + torch.optim.Adam reference the tests compare against.

Loss of one model on one minibatch (Eq. 4): `lam * MSE + CE` for `reg+cls`, `MSE` for `reg`; the CE
is the mean over the samples kept by the Eq. 13 / Eq. 16 draw (`u <= keep`), zero when none is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from regcls.mlp import MLPLayout, forward, init_params, torch_dtype

BETAS = (0.9, 0.999)
EPS = 1e-8
# Seed offsets of a model's minibatch-order and keep-draw generators (the init uses `seed`).
PERM_SEED_OFFSET = 1_000_003
KEEP_SEED_OFFSET = 2_000_006
# Widest class head computed class-major `[K, C, B]`; wider heads run sample-major `[K, B, C]`.
CLASS_MAJOR_MAX = 128
# Logits of one class-head tile (CPU). Measured (benchmarks/NOTES.md, item 6): 4 MiB tiles, which
# stay in the shared L3 across the passes over them, beat both L2-sized (0.5-1 MiB) tiles, whose
# extra per-tile op calls cost more than they save, and untiled packs (52 MB at K=50, C=1024).
TILE_BYTES = 1 << 22
_LOG2E = 1.0 / math.log(2.0)
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class TrainSettings:
    """Training schedule shared by every model of a pack."""

    epochs: int = 80
    batch_size: int = 256
    weight_decay: float = 1e-3  # coupled, as torch.optim.Adam(weight_decay=...)
    dtype: str = "float32"
    hidden: tuple[int, ...] = (6, 16)
    drop_last: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs: must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay: must be finite and >= 0, got {self.weight_decay}")
        torch_dtype(self.dtype)
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden: must be a non-empty tuple of widths >= 1, got {self.hidden}")


@dataclass
class ModelTask:
    """One model to train."""

    x_train: torch.Tensor  # [N, in_features]; tasks sharing one tensor share its memory
    y_train: torch.Tensor  # [N]
    seed: int
    lr: float
    lam: float = 1.0  # loss = lam * MSE + CE (Eq. 4); ignored for reg (loss = MSE)
    labels: torch.Tensor | None = None  # [N] int64 class ids; None -> reg model
    num_classes: int = 0  # classifier width (C-bar for balanced classes)
    keep_prob: torch.Tensor | None = None  # [N] keep probability (Eq. 13); None -> keep all

    @property
    def is_classifier(self) -> bool:
        return self.labels is not None


@dataclass
class TrainedModels:
    """K trained models. Inside `on_epoch`, `params` are live views of the training state."""

    params: Sequence[dict[str, torch.Tensor]]
    diverged: torch.Tensor  # [K] bool
    epochs_trained: torch.Tensor  # [K] int64
    final_loss: torch.Tensor  # [K] mean training loss of the last epoch; nan when diverged

    def predict(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """Regression output `[N]` of model `index`, else `[K, N]`; x `[N, in]` or `[K, N, in]`."""
        with torch.no_grad():
            if index is not None:
                return forward(self.params[index], x)[0]
            return torch.stack([forward(p, _model_x(x, k))[0] for k, p in enumerate(self.params)])

    def class_logits(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """Class logits `[N, C]` of model `index`, else `[K, N, C_max]` padded with -inf."""
        with torch.no_grad():
            if index is not None:
                return forward(self.params[index], x, with_logits=True)[1]
            logits = [forward(p, _model_x(x, k), True)[1] for k, p in enumerate(self.params)]
            width = max(item.shape[-1] for item in logits)
            padded = [
                torch.nn.functional.pad(t, (0, width - t.shape[-1]), value=-math.inf)
                for t in logits
            ]
            return torch.stack(padded)


EpochHook = Callable[[int, TrainedModels], bool | None]


def train_packed(
    tasks: Sequence[ModelTask], settings: TrainSettings, on_epoch: EpochHook | None = None
) -> TrainedModels:
    """Train every task's model as one vectorised program; equal to `train_single` per task.

    `on_epoch(epoch, state)` runs after every epoch (0-based) with a view of the current state;
    returning True stops training. A model whose loss becomes NaN/inf is marked diverged and frozen
    at its last parameters; the others are unaffected.
    """
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
        in_features = _check_tasks(tasks, settings)
        k = len(tasks)
        self.counts = [int(t.y_train.shape[0]) for t in tasks]
        self.classes = [int(t.num_classes) if t.is_classifier else 0 for t in tasks]
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
            init = init_params(
                task.seed, in_features, settings.hidden, self.classes[row], self.dtype
            )
            for name, value in init.items():
                views[name][row, : value.shape[0]] = value
        self.grad = torch.zeros_like(self.flat)
        self.exp_avg = torch.zeros_like(self.flat)
        self.exp_avg_sq = torch.zeros_like(self.flat)
        self.denom = torch.empty_like(self.flat)
        self.update = torch.empty_like(self.flat)
        self.weights = self._layers(self.layout.views(self.flat))
        self.grads = self._layers(self.layout.views(self.grad))

        lr = torch.tensor([float(t.lr) for t in tasks], dtype=torch.float64, device=self.device)
        self.neg_lr = -lr.unsqueeze(1)  # float64: step sizes are computed like Adam's floats
        lam = [float(t.lam) if t.is_classifier else 1.0 for t in tasks]
        # d(MSE term)/d(pred) = 2 * lam * diff / n; folded into one per-model factor.
        self.two_lam = torch.tensor(lam, **opts).mul_(2.0).unsqueeze(1)
        self.lam = torch.tensor(lam, **opts)
        self.ce_on = torch.tensor([float(c > 0) for c in self.classes], **opts).unsqueeze(1)
        # Additive logit mask: -inf on padded classes; reg models keep a finite (zero) head.
        c_max, b = self.layout.num_classes, settings.batch_size
        self.class_mask = torch.zeros(k, c_max, **opts)
        for row, c in enumerate(self.classes):
            self.class_mask[row, c if c else c_max :] = -math.inf
        self.mixed_classes = any(0 < c < c_max for c in self.classes)
        self.class_major = c_max <= CLASS_MAJOR_MAX
        if self.has_cls:
            self.tile = _class_tile(k, b, c_max, self.class_major, self.flat)
            tile_k, tile_b = self.tile
            shape = (tile_k, c_max, tile_b) if self.class_major else (tile_k, tile_b, c_max)
            self.logits = torch.empty(shape, **opts)
            if not self.class_major:
                width = settings.hidden[-1]
                self.h_aug = torch.ones(k, width + 1, b, **opts)  # h with a row of ones
                self.grad_t = torch.empty(tile_k, width + 1, c_max, **opts)  # [grad_w^T; grad_b]
        self.steps_t = torch.tensor(self.steps, dtype=torch.float64, device=self.device)

        self.x_ids, self.x_data = _stack_unique([t.x_train for t in tasks], self.dtype)
        self.y_ids, self.y_data = _stack_unique([t.y_train for t in tasks], self.dtype)
        if self.has_cls:
            labels = [t.labels for t in tasks]
            self.l_ids, self.l_data = _stack_unique(labels, torch.int64)
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
        self.loss_sum.zero_()
        for step in range(self.max_steps):
            x, y, w_mse, labels, w_ce = (None if t is None else t[step] for t in batches)
            self._step(epoch, step, x, y, w_mse, labels, w_ce)
        mean = (self.loss_sum / self.steps_t).to(self.dtype)
        self.final_loss = torch.where(self.alive, mean, math.nan)
        self.epochs_done += self.alive

    def _epoch_batches(self) -> list[torch.Tensor | None]:
        """This epoch's minibatches of every model, gathered once: x `[steps, K, in, B]`, the
        others `[steps, K, B]`, so every step reads contiguous slices."""
        k, b, s = len(self.counts), self.settings.batch_size, self.max_steps
        width = s * b
        # Per-model generator calls (one per model and epoch) keep the streams of train_single.
        gens = zip(self.counts, self.perm_gen, strict=True)
        perms = [torch.randperm(n, generator=g) for n, g in gens]
        order = torch.zeros(k, max(width, max(self.counts)), dtype=torch.int64)
        for row, perm in enumerate(perms):
            order[row, : perm.shape[0]] = perm
        order_cpu = order[:, :width]
        order = order_cpu.to(self.device)
        used = [min(n, steps * b) for n, steps in zip(self.counts, self.steps, strict=True)]
        position = torch.arange(width, device=self.device)
        valid = position < torch.tensor(used, device=self.device).unsqueeze(1)  # [K, width]

        def by_step(values: torch.Tensor) -> torch.Tensor:  # [K, width] -> [steps, K, B]
            return values.view(k, s, b).transpose(0, 1).contiguous()

        valid_f = by_step(valid.to(self.dtype))
        w_mse = valid_f / valid_f.sum(-1, keepdim=True).clamp_min(1.0)
        x = _take(self.x_data, self.x_ids, order)  # [K, width, in]
        x = x.view(k, s, b, -1).permute(1, 0, 3, 2).contiguous()
        y = by_step(_take(self.y_data, self.y_ids, order))
        if not self.has_cls:
            return [x, y, w_mse, None, None]
        labels = by_step(_take(self.l_data, self.l_ids, order))
        kept = valid.to(self.dtype)
        if self.has_keep:
            keep_rows = torch.ones(k, width, dtype=self.dtype)
            for row, (keep, gen) in enumerate(zip(self.keep, self.keep_gen, strict=True)):
                if keep is not None:
                    # Eq. 16: a sample enters the CE iff u <= keep, one fresh u per sample/epoch.
                    u = torch.rand(keep.shape[0], generator=gen, dtype=torch.float64)
                    keep_rows[row] = (u <= keep).to(self.dtype)[order_cpu[row]]
            kept = kept * keep_rows.to(self.device)
        kept = by_step(kept)
        w_ce = kept / kept.sum(-1, keepdim=True).clamp_min(1.0) * self.ce_on
        return [x, y, w_mse, labels, w_ce]

    # --- one step -----------------------------------------------------------------------------

    def _step(self, epoch, step, x, y, w_mse, labels, w_ce) -> None:
        """Forward, loss, divergence check, hand-written backward and Adam for all K models.

        Activations are feature-major `[K, features, B]`: every batched matmul then writes a
        long last dimension (B), which is several times faster than `[K, B, 6]`-shaped outputs.
        """
        top = len(self.settings.hidden)
        acts = [x]  # [K, in, B]
        for weight, bias in self.weights[:top]:
            acts.append(torch.baddbmm(bias.unsqueeze(2), weight, acts[-1]).clamp_min_(0.0))
        h = acts[-1]
        reg_w, reg_b = self.weights[top]
        diff = torch.baddbmm(reg_b.unsqueeze(2), reg_w, h)[:, 0, :].sub_(y)  # pred - y, [K, B]
        d_pred = diff * w_mse  # (pred - y) / n over this model's batch samples
        loss = (diff * d_pred).sum(-1).mul_(self.lam)
        d_pred.mul_(self.two_lam)
        # Backward: the exact gradient of the loss above, written into the flat grad views.
        grads = self.grads
        d_out = d_pred.unsqueeze(1)  # [K, 1, B]
        h_t = h.transpose(1, 2)
        torch.bmm(d_out, h_t, out=grads[top][0])
        torch.sum(d_pred, dim=1, keepdim=True, out=grads[top][1])
        d_h = torch.mul(reg_w.transpose(1, 2), d_out)  # [K, H, B] outer product
        if self.has_cls:
            # Forward, CE and backward of the class head, tile by tile (adds CE to `loss`).
            self._class_head(h, h_t, labels, w_ce, loss, d_h)

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
        self._adam(epoch, step, active)

    def _class_head(
        self,
        h: torch.Tensor,
        h_t: torch.Tensor,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
        d_h: torch.Tensor,
    ) -> None:
        """Class head forward, weighted CE (added to `loss`) and backward (cls grads, `d_h`).

        The work runs tile by tile (`self.tile` models x samples, `TILE_BYTES` of logits) so that
        one tile's logits stay in cache across the ~10 passes over them (matmul, max, exp2, sum,
        scale, two backward matmuls); a whole pack's logits at C=1024 are ~1 MB per model.
        Small heads are class-major `[k, C, B]` (long last dim for the matmuls); large heads are
        sample-major `[k, B, C]` (softmax over the contiguous last dim)."""
        cls_w, cls_b = self.weights[-1]
        grad_w, grad_b = self.grads[-1]
        # -inf on padded classes, only needed when a pack mixes class counts.
        bias = cls_b + self.class_mask if self.mixed_classes else cls_b
        k, b = h.shape[0], h.shape[2]
        tile_k, tile_b = self.tile
        if not self.class_major:
            h_aug, grad_t = self.h_aug, self.grad_t
            h_aug[:, : h.shape[1]].copy_(h)  # the last row stays ones
        for lo in range(0, k, tile_k):
            hi = min(k, lo + tile_k)
            w = cls_w[lo:hi]
            for start in range(0, b, tile_b):
                stop = min(b, start + tile_b)
                cut = slice(start, stop)
                if self.class_major:
                    logits = self.logits[: hi - lo, :, : stop - start]
                else:
                    logits = self.logits[: hi - lo, : stop - start]
                d_logits = self._cross_entropy(
                    logits,
                    bias[lo:hi],
                    w,
                    h[lo:hi, :, cut],
                    labels[lo:hi, cut],
                    w_ce[lo:hi, cut],
                    loss[lo:hi],
                )
                if self.class_major:  # d_logits [k, C, b]
                    torch.bmm(d_logits, h_t[lo:hi], out=grad_w[lo:hi])
                    torch.sum(d_logits, dim=2, out=grad_b[lo:hi])
                    d_h[lo:hi].baddbmm_(w.transpose(1, 2), d_logits)
                    continue
                # d_logits [k, b, C]: [H+1, b] @ [b, C] gives grad_w^T and (ones row) grad_b in
                # one matmul with long output rows, ~2x faster than the [C, H]-shaped product.
                if start == 0:
                    torch.bmm(h_aug[lo:hi, :, cut], d_logits, out=grad_t[: hi - lo])
                else:  # later sample tiles of the same models accumulate
                    grad_t[: hi - lo].baddbmm_(h_aug[lo:hi, :, cut], d_logits)
                d_h[lo:hi, :, cut].baddbmm_(w.transpose(1, 2), d_logits.transpose(1, 2))
            if not self.class_major:
                width = h.shape[1]
                grad_w[lo:hi].copy_(grad_t[: hi - lo, :width].transpose(1, 2))
                grad_b[lo:hi].copy_(grad_t[: hi - lo, width])

    def _cross_entropy(
        self,
        logits: torch.Tensor,
        bias: torch.Tensor,
        w: torch.Tensor,
        h: torch.Tensor,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
    ) -> torch.Tensor:
        """One tile: logits into the `logits` buffer, CE added to `loss`, d(loss)/d(logits)
        returned in place of the logits.

        Logits are in base-2 units (scaled by log2(e) inside the matmul, at no extra pass),
        because torch.exp2 is ~4x faster than torch.exp and the softmax kernels on this CPU.
        """
        scale = {"alpha": _LOG2E, "beta": _LOG2E, "out": logits}
        if self.class_major:
            dim = 1
            torch.baddbmm(bias.unsqueeze(2), w, h, **scale)
        else:
            dim = 2
            torch.baddbmm(bias.unsqueeze(1), h.transpose(1, 2), w.transpose(1, 2), **scale)
        logits.sub_(logits.amax(dim, keepdim=True))  # shift so exp2 cannot overflow
        index = labels.unsqueeze(dim)
        label_logit = logits.gather(dim, index)
        probs = logits.exp2_()
        total = probs.sum(dim, keepdim=True)
        # CE = ln(sum_j e^z_j) - z_label = ln2 * (log2(sum_j 2^u_j) - u_label), u = log2(e) z.
        ce = total.log2().sub_(label_logit).squeeze(dim).mul_(_LN2)
        loss.add_((ce * w_ce).sum(-1))
        # (softmax - onehot) * weight, with the weight of not-kept / padded samples zero.
        weight = w_ce.unsqueeze(dim)
        return probs.mul_(weight / total).scatter_add_(dim, index, weight.neg())

    def _adam(self, epoch: int, step: int, active: torch.Tensor) -> None:
        """torch.optim.Adam's single-tensor update with coupled weight decay, for all rows."""
        beta1, beta2 = BETAS
        grad = self.grad.add_(self.flat, alpha=self.settings.weight_decay)
        # Frozen rows (diverged, or no batch this step) must not move: zero grad and zero step.
        grad.masked_fill_(~active.unsqueeze(1), 0.0)
        if self.uniform_steps:
            t = epoch * self.max_steps + step + 1
            bc1, bc2_sqrt = 1 - beta1**t, (1 - beta2**t) ** 0.5
        else:
            t = (self.steps_t * epoch + (step + 1)).clamp_max(self.steps_t * (epoch + 1))
            bc1 = (1 - torch.pow(beta1, t)).unsqueeze(1)
            bc2_sqrt = (1 - torch.pow(beta2, t)).sqrt().unsqueeze(1).to(self.dtype)
            # Models without a batch this step keep their moments untouched, as Adam would.
            skip = ~active.unsqueeze(1)
            saved = (self.exp_avg.clone(), self.exp_avg_sq.clone())
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if not self.uniform_steps:
            self.exp_avg.copy_(torch.where(skip, saved[0], self.exp_avg))
            self.exp_avg_sq.copy_(torch.where(skip, saved[1], self.exp_avg_sq))
        torch.sqrt(self.exp_avg_sq, out=self.denom).div_(bc2_sqrt).add_(EPS)
        neg_step = (self.neg_lr / bc1).mul_(active.unsqueeze(1)).to(self.dtype)
        torch.mul(self.exp_avg, neg_step, out=self.update)
        self.flat.addcdiv_(self.update, self.denom)

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
        )


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


def _class_tile(
    k: int, batch: int, classes: int, class_major: bool, like: torch.Tensor
) -> tuple[int, int]:
    """(models, samples) per class-head tile: as many as fit `TILE_BYTES` of logits.

    On a GPU one tile is the whole pack (one kernel per op; no cache to fit). Class-major heads
    (C <= CLASS_MAJOR_MAX) only tile over models, so their matmuls keep the full batch.
    """
    if like.device.type != "cpu":
        return k, batch
    row = classes * like.element_size()
    per_model = batch * row
    if per_model <= TILE_BYTES or class_major:
        return max(1, min(k, TILE_BYTES // per_model)), batch
    return 1, max(1, min(batch, TILE_BYTES // row))


def _check_tasks(tasks: Sequence[ModelTask], settings: TrainSettings) -> int:
    """Validate every task; return the common input width."""
    in_features = None
    for i, t in enumerate(tasks):
        if t.x_train.dim() != 2:
            raise ValueError(f"tasks[{i}].x_train: must be [N, in_features], got {t.x_train.shape}")
        n = t.x_train.shape[0]
        if in_features is None:
            in_features = t.x_train.shape[1]
        if t.x_train.shape[1] != in_features:
            raise ValueError(f"tasks[{i}].x_train: in_features must be {in_features} in a pack")
        if tuple(t.y_train.shape) != (n,):
            raise ValueError(f"tasks[{i}].y_train: must be [N] with N={n}")
        if settings.drop_last and n < settings.batch_size or n == 0:
            raise ValueError(f"tasks[{i}].x_train: needs at least batch_size={settings.batch_size}")
        if not (t.lr > 0 and math.isfinite(t.lr)):
            raise ValueError(f"tasks[{i}].lr: must be finite and > 0, got {t.lr}")
        if t.labels is None:
            if t.keep_prob is not None:
                raise ValueError(f"tasks[{i}].keep_prob: needs labels (reg models have no CE)")
            continue
        if t.num_classes < 1:
            raise ValueError(f"tasks[{i}].num_classes: must be >= 1 with labels")
        if tuple(t.labels.shape) != (n,) or t.labels.dtype != torch.int64:
            raise ValueError(f"tasks[{i}].labels: must be int64 [N] with N={n}")
        if int(t.labels.min()) < 0 or int(t.labels.max()) >= t.num_classes:
            raise ValueError(f"tasks[{i}].labels: must lie in [0, {t.num_classes - 1}]")
        if t.keep_prob is not None and tuple(t.keep_prob.shape) != (n,):
            raise ValueError(f"tasks[{i}].keep_prob: must be [N] with N={n}")
    return int(in_features)


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


def _model_x(x: torch.Tensor, index: int) -> torch.Tensor:
    # x shared by every model ([N, in]) or one input per model ([K, N, in]).
    return x if x.dim() == 2 else x[index]
