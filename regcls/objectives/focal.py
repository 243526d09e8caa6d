"""Focal-R weighting of the MSE term (Yang et al. 2021, Sec. 4 baselines; the authors' code
`weighted_focal_mse_loss`), for the models of a pack that use it, with its exact gradient.

Per sample with error e = pred - y: `e^2 * a(|e|)^gamma`, with `a(t) = 2 sigmoid(beta t) - 1`
(`sigmoid`, the code's default; the printed `sigmoid(|beta e|)` maps into [0.5, 1), see the digest
Sec. 2.3) or `a(t) = tanh(beta t)` (`tanh`). The weight depends on the error, so the gradient
includes its derivative, as autograd does in the reference:
`d/de = 2 e a^gamma + e |e| gamma a^(gamma - 1) a'(|e|)`, taken as its limit 0 at e = 0.
The per-sample terms are averaged with the batch weights (times per-sample weights when given)
and scaled like the MSE term.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

FOCAL_ACTIVATIONS = ("sigmoid", "tanh")


class FocalTerm:
    """Focal-R loss of the pack's rows `rows`; overwrites those rows of the MSE term's output."""

    def __init__(
        self,
        rows: Sequence[int],
        scale: torch.Tensor,
        beta: Sequence[float],
        gamma: Sequence[float],
        activation: Sequence[str],
    ) -> None:
        opts = {"dtype": scale.dtype, "device": scale.device}
        self.rows = torch.tensor(list(rows), dtype=torch.int64, device=scale.device)
        self.scale = scale.index_select(0, self.rows).unsqueeze(1)
        self.beta = torch.tensor(list(beta), **opts).unsqueeze(1)
        self.gamma = torch.tensor(list(gamma), **opts).unsqueeze(1)
        self.tanh = torch.tensor([a == "tanh" for a in activation], device=scale.device)
        self.tanh = self.tanh.unsqueeze(1)

    def __call__(
        self, diff: torch.Tensor, w: torch.Tensor, loss: torch.Tensor, d_pred: torch.Tensor
    ) -> None:
        """Write the Focal-R loss `[K]` and d(loss)/d(pred) `[K, B]` of `self.rows` into `loss`
        and `d_pred`, from `diff = pred - y` and the batch weights `w`, both `[K, B]`."""
        e = diff.index_select(0, self.rows)
        w = w.index_select(0, self.rows)
        t = self.beta * e.abs()
        sig = torch.sigmoid(t)
        th = torch.tanh(t)
        act = torch.where(self.tanh, th, 2 * sig - 1)
        # d a / d|e|: beta (1 - tanh^2), or 2 beta sigmoid (1 - sigmoid).
        d_act = torch.where(self.tanh, 1 - th * th, 2 * sig * (1 - sig)) * self.beta
        factor = act.pow(self.gamma)
        sq = e * e
        row_loss = (sq * factor * w).sum(-1, keepdim=True) * self.scale
        slope = e * e.abs() * self.gamma * act.pow(self.gamma - 1) * d_act
        grad = 2 * e * factor + torch.where(e == 0, 0.0, slope)
        loss.index_copy_(0, self.rows, row_loss[:, 0])
        d_pred.index_copy_(0, self.rows, grad * w * self.scale)
