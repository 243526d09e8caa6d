"""HCA-d's second stage (Xiong & Yao, CVPR 2024, Sec. 3.4): range-preserving distillation.

After stage 1 (an `hca` model: trunk F and heads G_1..G_H trained with the summed CE, Eq. 6), F
and every G_h are frozen and one new head G_T is trained on the same training set with
L_hd = sum_h KL(p^h || p-bar^{T,h}) (Eqs. 11-14, `objectives.distillation`). G_T is the paper's
Linear(d, d/4) -> Softplus -> Linear(d/4, C) (Sec. 4, "two FC layers with hidden size d/4").
Prediction uses F and G_T only: the centre of argmax p^T.

Choices the paper leaves open, fixed here (and the study should record them):
- stage-2 epochs: `distill_epochs(stage-1 epochs)` = ceil(0.2 E) ("additional 20% epochs");
- optimiser: the model's own optimiser settings (optimizer, lr, weight decay, eps, momentum) and
  batch size, a fresh optimiser;
- minibatch order from `seed + DISTILL_SEED_OFFSET`, G_T's Xavier init from `init_seed` (else
  `seed`) + DISTILL_SEED_OFFSET, zero biases;
- the frozen teachers p^h and features are computed once (no dropout / BN in this MLP).

`train_distillation` trains the G_T of K models as one vectorised program with the exact
hand-written gradient; `regcls.training.single.distill_single` is its autograd reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from regcls.models.mlp import forward, torch_dtype
from regcls.objectives.distillation import aligned_kl
from regcls.objectives.hierarchical import level_log_probs, level_sizes
from regcls.training.optimizers import flat_optimizer
from regcls.training.task_checks import check_tasks
from regcls.training.tasks import ModelTask, TrainedModels, TrainSettings

DISTILL_SEED_OFFSET = 3_000_009
STAGE2_FRACTION = 0.2  # "additional 20% epochs of stage 1"
STUDENT_NAMES = ("t.0.weight", "t.0.bias", "t.1.weight", "t.1.bias")
# torch.nn.functional.softplus's default threshold: above it softplus(x) = x (derivative 1).
SOFTPLUS_THRESHOLD = 20.0


def distill_epochs(stage1_epochs: int) -> int:
    """The stage-2 epochs for a stage 1 of `stage1_epochs`: ceil(0.2 * E)."""
    return math.ceil(STAGE2_FRACTION * stage1_epochs)


def student_init(seed: int, features: int, classes: int, dtype: torch.dtype) -> dict:
    """G_T's initial parameters: Xavier-uniform weights (drawn in float64), zero biases."""
    generator = torch.Generator().manual_seed(int(seed) + DISTILL_SEED_OFFSET)
    width = max(1, features // 4)
    shapes = ((width, features), (width,), (classes, width), (classes,))
    params = {}
    for name, shape in zip(STUDENT_NAMES, shapes, strict=True):
        value = torch.zeros(shape, dtype=torch.float64)
        if name.endswith("weight"):
            torch.nn.init.xavier_uniform_(value, generator=generator)
        params[name] = value.to(dtype)
    return params


@dataclass
class DistilledModels:
    """K HCA-d models: frozen stage-1 parameters and the trained G_T heads."""

    stage1: Sequence[dict[str, torch.Tensor]]
    heads: Sequence[dict[str, torch.Tensor]]
    class_centres: Sequence[torch.Tensor]
    diverged: torch.Tensor  # [K] bool
    epochs_trained: torch.Tensor  # [K] int64
    final_loss: torch.Tensor  # [K] mean stage-2 loss of the last epoch; nan when diverged

    def student_logits(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """G_T's logits `[N, C]` of model `index` on x `[N, in]`."""
        with torch.no_grad():
            h = _features(self.stage1[index], x)
            head = self.heads[index]
            hidden = torch.nn.functional.softplus(h @ head["t.0.weight"].T + head["t.0.bias"])
            return hidden @ head["t.1.weight"].T + head["t.1.bias"]

    def predict(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """The centre of argmax p^T: `[N]` of model `index`, else `[K, N]`."""
        if index is None:
            return torch.stack([self.predict(x, k) for k in range(len(self.heads))])
        best = self.student_logits(x, index).argmax(-1)
        return self.class_centres[index].to(x.dtype)[best]


def train_distillation(
    tasks: Sequence[ModelTask],
    stage1: TrainedModels,
    settings: TrainSettings,
    epochs: int | None = None,
) -> DistilledModels:
    """Stage 2 of HCA-d for every task (`hca` tasks; `stage1.params[k]` its stage-1 model),
    packed; `epochs` None -> `distill_epochs(settings.epochs)`."""
    _check_distillation(tasks, stage1)
    check_tasks(tasks, settings)
    epochs = distill_epochs(settings.epochs) if epochs is None else int(epochs)
    return _Stage2(tasks, stage1, settings).run(epochs)


class _Stage2:
    """G_T parameters `[K, P]` (flat, with views), optimiser state, the frozen inputs of a pack."""

    def __init__(self, tasks, stage1: TrainedModels, settings: TrainSettings) -> None:
        self.tasks, self.stage1, self.settings = tasks, stage1, settings
        dtype = self.dtype = torch_dtype(settings.dtype)
        device = tasks[0].x_train.device
        opts = {"dtype": dtype, "device": device}
        k, b = len(tasks), settings.batch_size
        self.counts = [int(t.y_train.shape[0]) for t in tasks]
        n_max = max(self.counts)
        fine = [int(t.num_classes) for t in tasks]
        sizes = [level_sizes(t.class_levels, c) for t, c in zip(tasks, fine, strict=True)]
        depth = max(len(s) for s in sizes)
        widths = [max(s[h] if h < len(s) else 0 for s in sizes) for h in range(depth)]
        features = settings.hidden[-1]
        self.shapes = student_init(0, features, widths[0], dtype)
        self.offsets, start = {}, 0
        for name, value in self.shapes.items():
            self.offsets[name] = (start, start + value.numel(), tuple(value.shape))
            start += value.numel()
        self.flat = torch.zeros(k, start, **opts)
        self.views = self._views(self.flat)
        for row, (task, c) in enumerate(zip(tasks, fine, strict=True)):
            seed = task.seed if task.init_seed is None else task.init_seed
            for name, value in student_init(seed, features, c, dtype).items():
                self.views[name][row, : value.shape[0]] = value
        self.grad = torch.zeros_like(self.flat)
        self.grads = self._views(self.grad)
        self.logit_mask = torch.zeros(k, widths[0], 1, **opts)
        # Frozen inputs: features [K, d, N] and teachers per level [K, N, W_h] (0 on padding).
        self.features = torch.zeros(k, features, n_max, **opts)
        self.teachers = [torch.zeros(k, n_max, w, **opts) for w in widths]
        self.lookups = [None] + [
            torch.zeros(k, 1, widths[0], dtype=torch.int64) for _ in widths[1:]
        ]
        self.valid = [torch.zeros(k, 1, w, dtype=torch.bool, device=device) for w in widths]
        for row, task in enumerate(tasks):
            x = task.x_train.to(dtype)
            params = stage1.params[row]
            self.features[row, :, : x.shape[0]] = _features(params, x).T
            logits = forward(params, x, with_logits=True)[1]
            probs = [lp.exp() for lp in level_log_probs(logits, task.class_levels)]
            for h, p in enumerate(probs):
                self.teachers[h][row, : x.shape[0], : p.shape[1]] = p
                self.valid[h][row, 0, : p.shape[1]] = True
                if h:
                    self.lookups[h][row, 0, : fine[row]] = task.class_levels[h - 1]
            self.logit_mask[row, fine[row] :] = -math.inf
        self.lookups = [None if t is None else t.to(device) for t in self.lookups]
        self.perm_gen = [torch.Generator().manual_seed(t.seed + DISTILL_SEED_OFFSET) for t in tasks]
        drop = settings.drop_last
        self.steps = [n // b if drop else -(-n // b) for n in self.counts]
        self.steps_t = torch.tensor(self.steps, dtype=torch.float64, device=device)
        decay = [settings.weight_decay if t.weight_decay is None else t.weight_decay for t in tasks]
        lr = [t.lr for t in tasks]
        self.optimizer = flat_optimizer(
            settings.optimizer,
            self.flat,
            self.grad,
            lr,
            decay,
            self.steps,
            settings.adam_eps,
            settings.momentum,
        )
        self.alive = torch.ones(k, dtype=torch.bool, device=device)
        self.epochs_done = torch.zeros(k, dtype=torch.int64, device=device)
        self.final_loss = torch.full((k,), math.nan, **opts)

    def _views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        k = flat.shape[0]
        return {n: flat[:, a:b].view(k, *shape) for n, (a, b, shape) in self.offsets.items()}

    def run(self, epochs: int) -> DistilledModels:
        with torch.no_grad():
            for epoch in range(epochs):
                self._epoch(epoch)
                if not bool(self.alive.any()):
                    break
        heads = []
        for row, task in enumerate(self.tasks):
            c = int(task.num_classes)
            head = {n: v[row].clone() for n, v in self.views.items()}
            head["t.1.weight"], head["t.1.bias"] = head["t.1.weight"][:c], head["t.1.bias"][:c]
            heads.append(head)
        return DistilledModels(
            stage1=self.stage1.params,
            heads=heads,
            class_centres=[t.class_centres for t in self.tasks],
            diverged=~self.alive,
            epochs_trained=self.epochs_done.clone(),
            final_loss=self.final_loss.clone(),
        )

    def _epoch(self, epoch: int) -> None:
        b, k, s = self.settings.batch_size, len(self.tasks), max(self.steps)
        device = self.flat.device
        # This epoch's order of every model `[K, steps, B]` (one generator call per model).
        order = torch.zeros(k, max(s * b, max(self.counts)), dtype=torch.int64)
        for row, (n, gen) in enumerate(zip(self.counts, self.perm_gen, strict=True)):
            order[row, :n] = torch.randperm(n, generator=gen)
        order = order[:, : s * b].to(device).view(k, s, b)
        used = [min(n, steps * b) for n, steps in zip(self.counts, self.steps, strict=True)]
        used = torch.tensor(used, device=device).unsqueeze(1)
        valid = (torch.arange(s * b, device=device) < used).to(self.dtype).view(k, s, b)
        loss_sum = torch.zeros(k, dtype=torch.float64, device=device)
        for step in range(s):
            index, mask = order[:, step], valid[:, step]
            weights = mask / mask.sum(-1, keepdim=True).clamp_min(1.0)
            h = self.features.gather(2, index.unsqueeze(1).expand(-1, self.features.shape[1], -1))
            teachers = [
                t.gather(1, index.unsqueeze(2).expand(-1, -1, t.shape[2])) for t in self.teachers
            ]
            loss = self._forward_backward(h, teachers, weights)
            self.alive.logical_and_(torch.isfinite(loss))
            active = self.alive & (step < self.steps_t)
            loss_sum += torch.where(active, loss, 0.0).double()
            self.optimizer.step(epoch, step, active)
        mean = (loss_sum / self.steps_t).to(self.dtype)
        self.final_loss = torch.where(self.alive, mean, math.nan)
        self.epochs_done += self.alive

    def _forward_backward(self, h, teachers, weights) -> torch.Tensor:
        """G_T forward, L_hd and its exact gradient (into `self.grads`); h `[K, d, B]`."""
        v, g = self.views, self.grads
        pre = torch.baddbmm(v["t.0.bias"].unsqueeze(2), v["t.0.weight"], h)  # [K, q, B]
        hidden = torch.nn.functional.softplus(pre)
        logits = torch.baddbmm(
            v["t.1.bias"].unsqueeze(2) + self.logit_mask, v["t.1.weight"], hidden
        )
        loss, d_logits = aligned_kl(
            logits.transpose(1, 2), teachers, self.lookups, self.valid, weights
        )
        d_logits = d_logits.transpose(1, 2)  # [K, C, B]
        torch.bmm(d_logits, hidden.transpose(1, 2), out=g["t.1.weight"])
        torch.sum(d_logits, dim=2, out=g["t.1.bias"])
        d_hidden = torch.bmm(v["t.1.weight"].transpose(1, 2), d_logits)
        # softplus' as autograd computes it: e^x / (e^x + 1), 1 above the threshold.
        e = pre.exp()
        d_pre = d_hidden * torch.where(pre > SOFTPLUS_THRESHOLD, 1.0, e / (e + 1.0))
        torch.bmm(d_pre, h.transpose(1, 2), out=g["t.0.weight"])
        torch.sum(d_pre, dim=2, out=g["t.0.bias"])
        return loss


def _features(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The frozen trunk F: the last hidden layer `[N, d]`."""
    h, i = x, 0
    while f"trunk.{i}.weight" in params:
        h = torch.relu(h @ params[f"trunk.{i}.weight"].T + params[f"trunk.{i}.bias"])
        i += 1
    return h


def _check_distillation(tasks: Sequence[ModelTask], stage1: TrainedModels) -> None:
    if len(stage1.params) != len(tasks):
        raise ValueError(f"stage1: must hold one model per task ({len(tasks)})")
    for i, task in enumerate(tasks):
        if task.objective_spec.name != "hca":
            raise ValueError(f"tasks[{i}].objective: HCA-d distils an 'hca' model")
        if task.class_centres is None:
            raise ValueError(f"tasks[{i}].class_centres: HCA-d predicts class centres")
