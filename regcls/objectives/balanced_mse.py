"""Balanced MSE, batch Monte-Carlo form (BMC; Ren et al., CVPR 2022, Alg. 1 / the authors'
`bmc_loss`), for the models of a pack that use it, with its exact gradient.

On one minibatch of n samples with predictions p and targets y: logits
`z_ij = -(p_i - y_j)^2 / (2 sigma^2)`, the CE of row i against target i, averaged over the rows,
times `2 sigma^2` (which the authors detach, so it only restores the MSE scale):
`L = 2 sigma^2 / n * sum_i [logsumexp_j z_ij - z_ii]`. Gradients (the factor held constant):
`dL/dp_i = 2 / n * (sum_j softmax_j(z_i.) y_j - y_i)` and, for a learned sigma (the authors'
`noise_sigma` parameter, `noise_var = sigma^2`),
`dL/dsigma = 2 sigma * 2 / n * sum_i (z_ii - sum_j softmax_j(z_i.) z_ij)`.
Padded samples of a model's batch are masked out of both the rows and the columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class BMCTerm:
    """BMC loss of the pack's rows `rows`; overwrites those rows of the MSE term's output.

    `sigma` `[R]` holds every row's noise sigma (the live parameter of the learned ones, updated
    in place by the trainer's optimiser); `grad_sigma` `[R]` receives d(loss)/d(sigma) each step
    when `learned` is set.
    """

    def __init__(
        self,
        rows: Sequence[int],
        scale: torch.Tensor,
        sigma: Sequence[float],
        learned: bool = False,
    ) -> None:
        opts = {"dtype": scale.dtype, "device": scale.device}
        self.rows = torch.tensor(list(rows), dtype=torch.int64, device=scale.device)
        self.scale = scale.index_select(0, self.rows).unsqueeze(1)
        self.sigma = torch.tensor(list(sigma), **opts)
        self.learned = learned
        self.grad_sigma = torch.zeros_like(self.sigma)

    def __call__(
        self,
        pred: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor,
        loss: torch.Tensor,
        d_pred: torch.Tensor,
    ) -> None:
        """Write the BMC loss `[K]` and d(loss)/d(pred) `[K, B]` of `self.rows` into `loss` and
        `d_pred`; `pred` `[R, B]` holds the rows' predictions, `y` and the batch weights `w`
        (1 / n on a model's real samples, 0 on padding) are `[K, B]`."""
        y = y.index_select(0, self.rows)
        w = w.index_select(0, self.rows)
        valid = w > 0
        # A model without samples this step keeps every column (finite logits, zero weights).
        columns = valid | ~valid.any(-1, keepdim=True)
        var = (self.sigma * self.sigma).view(-1, 1, 1)
        logits = -(pred.unsqueeze(2) - y.unsqueeze(1)).pow(2) / (2 * var)  # [R, B, B]
        logits.masked_fill_(~columns.unsqueeze(1), -math.inf)
        lse = torch.logsumexp(logits, dim=2)
        diagonal = logits.diagonal(dim1=1, dim2=2)
        # Padded rows may have a masked diagonal (inf CE): zero them before the zero weight.
        ce = torch.where(valid, lse - diagonal, 0.0)
        two_var = 2 * var[:, :, 0]
        row_loss = (ce * w).sum(-1, keepdim=True) * two_var * self.scale
        probs = torch.softmax(logits, dim=2)
        soft_y = (probs @ y.unsqueeze(2))[:, :, 0]
        loss.index_copy_(0, self.rows, row_loss[:, 0])
        d_pred.index_copy_(0, self.rows, (soft_y - y) * w * (2 * self.scale))
        if self.learned:
            # sum_j q_ij z_ij over the real columns (masked ones: q = 0, z = -inf -> 0).
            expected = (probs * logits.masked_fill(~columns.unsqueeze(1), 0.0)).sum(2)
            gap = torch.where(valid, diagonal - expected, 0.0)
            d_var = (gap * w).sum(-1) * 2 * self.scale[:, 0]  # d/d(var), the factor held fixed
            torch.mul(d_var, 2 * self.sigma, out=self.grad_sigma)
