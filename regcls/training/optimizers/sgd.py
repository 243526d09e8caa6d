"""torch.optim.SGD (momentum, coupled weight decay, no dampening, no Nesterov) for the K rows of a
flat parameter tensor: one update for every model, equal to torch's single-tensor update."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class FlatSGD:
    """SGD over `flat` `[K, P]` with gradients in `grad`; per-model lr and weight decay, one
    momentum for all.

    torch's update per parameter: `g = grad + wd * p`; `buf = g` at the first step, else
    `buf = momentum * buf + g`; `p -= lr * buf`. The buffer starts at zero here, which gives the
    same first step exactly (`momentum * 0 + g == g`). Frozen rows (diverged, or no batch this
    step) keep their weights and buffer, as a torch optimiser that is not called would.
    """

    def __init__(
        self,
        flat: torch.Tensor,
        grad: torch.Tensor,
        lr: Sequence[float],
        weight_decay: Sequence[float],
        momentum: float,
    ) -> None:
        self.flat, self.grad, self.momentum = flat, grad, float(momentum)
        device, dtype = flat.device, flat.dtype
        self.neg_lr = -torch.tensor([float(r) for r in lr], dtype=dtype, device=device).unsqueeze(1)
        self.decay = torch.tensor([float(d) for d in weight_decay], dtype=dtype, device=device)
        self.decay = self.decay.unsqueeze(1)
        self.buffer = torch.zeros_like(flat) if self.momentum else None
        # A 0-d tensor of the parameters' dtype: torch.where with a Python float would round the
        # momentum to float32.
        self.momentum_t = torch.tensor(self.momentum, dtype=dtype, device=device)

    def step(self, epoch: int, step: int, active: torch.Tensor) -> None:
        """One update of every `active` row (`[K]` bool)."""
        on = active.unsqueeze(1)
        grad = self.grad.addcmul_(self.flat, self.decay).masked_fill_(~on, 0.0)
        if self.buffer is not None:
            self.buffer.mul_(torch.where(on, self.momentum_t, 1.0)).add_(grad)
            grad = self.buffer
        self.flat.addcmul_(grad, self.neg_lr * on)
