"""torch.optim.Adam and AdamW for the K rows of a flat parameter tensor: one update for every model.

The packed trainer and HCA-d's second stage both keep all parameters of K models in one `[K, P]`
tensor; this is their Adam, written to reproduce torch's single-tensor update (bias corrections
per model; weight decay coupled as `torch.optim.Adam(weight_decay=...)` adds it to the gradient,
or decoupled as `torch.optim.AdamW` shrinks the weights by `lr * weight_decay` first) exactly, so
that packed == single holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

BETAS = (0.9, 0.999)


class FlatAdam:
    """Adam (or AdamW, `decoupled=True`) over `flat` `[K, P]` with gradients in `grad`;
    per-model lr, weight decay, steps.

    `steps` are the minibatches per epoch of each model. When every model has the same count
    (`uniform`), the bias corrections are Python floats; otherwise they are per-model columns and
    a model without a batch in a step keeps its moments, as torch's Adam (not called) would.
    """

    def __init__(
        self,
        flat: torch.Tensor,
        grad: torch.Tensor,
        lr: Sequence[float],
        weight_decay: Sequence[float],
        steps: Sequence[int],
        eps: float,
        decoupled: bool = False,
    ) -> None:
        self.flat, self.grad, self.eps = flat, grad, eps
        self.exp_avg = torch.zeros_like(flat)
        self.exp_avg_sq = torch.zeros_like(flat)
        self.denom = torch.empty_like(flat)
        self.update = torch.empty_like(flat)
        device = flat.device
        rates = torch.tensor([float(r) for r in lr], dtype=torch.float64, device=device)
        self.neg_lr = -rates.unsqueeze(1)  # float64: step sizes are computed like Adam's floats
        # Coupled weight decay: one scalar op when every model shares one value (the common
        # case), else a per-model column.
        self.decay = float(weight_decay[0])
        self.decay_col = None
        if len(set(weight_decay)) > 1:
            self.decay_col = torch.tensor(weight_decay, dtype=flat.dtype, device=device)
            self.decay_col = self.decay_col.unsqueeze(1)
        # Decoupled (AdamW): the factor 1 - lr * wd of every row, computed in float64 like
        # torch's Python floats, then applied in the parameters' dtype.
        self.shrink = None
        if decoupled:
            decays = torch.tensor([float(d) for d in weight_decay], dtype=torch.float64)
            self.shrink = (1 - rates.cpu() * decays).to(device=device, dtype=flat.dtype)
            self.shrink = self.shrink.unsqueeze(1)
        self.steps_t = torch.tensor(steps, dtype=torch.float64, device=device)
        self.max_steps = max(steps)
        self.uniform = min(steps) == self.max_steps

    def step(self, epoch: int, step: int, active: torch.Tensor) -> None:
        """One update of every `active` row (`[K]` bool); frozen rows (diverged, or no batch this
        step) do not move."""
        beta1, beta2 = BETAS
        if self.shrink is not None:
            self.flat.mul_(torch.where(active.unsqueeze(1), self.shrink, 1.0))
            grad = self.grad
        elif self.decay_col is None:
            grad = self.grad.add_(self.flat, alpha=self.decay)
        else:
            grad = self.grad.addcmul_(self.flat, self.decay_col)
        grad.masked_fill_(~active.unsqueeze(1), 0.0)
        if self.uniform:
            t = epoch * self.max_steps + step + 1
            bc1, bc2_sqrt = 1 - beta1**t, (1 - beta2**t) ** 0.5
        else:
            t = (self.steps_t * epoch + (step + 1)).clamp_max(self.steps_t * (epoch + 1))
            bc1 = (1 - torch.pow(beta1, t)).unsqueeze(1)
            bc2_sqrt = (1 - torch.pow(beta2, t)).sqrt().unsqueeze(1).to(self.flat.dtype)
            skip = ~active.unsqueeze(1)
            saved = (self.exp_avg.clone(), self.exp_avg_sq.clone())
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if not self.uniform:
            self.exp_avg.copy_(torch.where(skip, saved[0], self.exp_avg))
            self.exp_avg_sq.copy_(torch.where(skip, saved[1], self.exp_avg_sq))
        torch.sqrt(self.exp_avg_sq, out=self.denom).div_(bc2_sqrt).add_(self.eps)
        neg_step = (self.neg_lr / bc1).mul_(active.unsqueeze(1)).to(self.flat.dtype)
        torch.mul(self.exp_avg, neg_step, out=self.update)
        self.flat.addcdiv_(self.update, self.denom)
