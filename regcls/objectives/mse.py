"""The (scaled, per-sample-weighted) MSE term of every model of a pack, with its gradient.

Model k's term on one minibatch: `scale_k * sum_b w_kb (pred_kb - y_kb)^2`, with `w_kb = 1 / n_k`
over its n_k valid samples (the batch mean), optionally times a per-sample weight. `scale_k` is
1 (`reg`), lam (Eq. 4's `lam * MSE`; `reg-scaled`) or 0 (`cls-only`).
"""

from __future__ import annotations

import torch


def batch_weights(valid: torch.Tensor, sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """`w = valid / n` over the last (sample) dimension, times `sample_weight` when given.

    `valid` `[..., B]` is 1 on the model's real samples of the batch, 0 on padding; a per-sample
    weight (same shape; e.g. a reweighting by target density) scales each sample's squared error
    without changing the 1 / n normalisation.
    """
    w = valid / valid.sum(-1, keepdim=True).clamp_min(1.0)
    return w if sample_weight is None else w * sample_weight


class MSETerm:
    """`scale_k * sum_b w_kb (pred_kb - y_kb)^2` for all K models; `scale` `[K]`."""

    def __init__(self, scale: torch.Tensor) -> None:
        self.scale = scale
        self.two_scale = (scale * 2.0).unsqueeze(1)  # d/d(pred) = 2 * scale * w * (pred - y)
        off = scale == 0
        # Models without the term (scale 0) get exactly 0, even where pred - y is not finite
        # (0 * inf would be NaN and mark them diverged); None skips the masking in pure packs.
        self.off = off.unsqueeze(1) if bool(off.any()) else None

    def __call__(self, diff: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss `[K]`, d(loss)/d(pred) `[K, B]`) from `diff = pred - y` and `w`, both `[K, B]`."""
        d_pred = diff * w
        loss = (diff * d_pred).sum(-1).mul_(self.scale)
        d_pred.mul_(self.two_scale)
        if self.off is not None:
            loss.masked_fill_(self.off[:, 0], 0.0)
            d_pred.masked_fill_(self.off, 0.0)
        return loss, d_pred
