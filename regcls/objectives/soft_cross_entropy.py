"""The class head with soft-target cross-entropy (target distributions), for every model of a
pack.

Loss of one model on one minibatch: the mean over the kept samples of
`CE(q, softmax(z)) = -sum_c q_c log softmax_c(z)`, with a target distribution q per sample
(HL-Gauss, the soft group labels of paper 004, or a one-hot row for `reg+cls` models sharing the
pack);
gradient `(softmax(z) - q)` per sample (q sums to 1). Everything else (tiling, padding, class
masks, keep draws) is the one-hot head's (`cross_entropy.OneHotCrossEntropy`); only the per-tile
CE differs, so a pack mixing one-hot and soft-target models runs this head with one-hot rows.
"""

from __future__ import annotations

import torch

from regcls.objectives.cross_entropy import _LN2, OneHotCrossEntropy


class SoftCrossEntropy(OneHotCrossEntropy):
    """`OneHotCrossEntropy` whose `labels` are target distributions `[K, B, C_max]` (zero on
    padded classes) instead of class ids."""

    def _softmax_grad(
        self,
        logits: torch.Tensor,
        dim: int,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
    ) -> torch.Tensor:
        """Soft CE of base-2 `logits` (in place, classes along `dim`) added to `loss`; returns
        (softmax - q) * w. The tiling, the matmuls and the bfloat16 path are the one-hot head's."""
        target = labels.transpose(1, 2) if dim == 1 else labels  # q as [k, C, b] or [k, b, C]
        logits.sub_(logits.amax(dim, keepdim=True))
        # sum_c q_c u_c; padded classes have u = -inf and q = 0, so clamp u to a finite floor.
        floor = torch.finfo(logits.dtype).min
        target_logit = (target * logits.clamp_min(floor)).sum(dim)
        probs = logits.exp2_()
        total = probs.sum(dim, keepdim=True)
        # CE = ln(sum_j e^z_j) - sum_c q_c z_c = ln2 * (log2(sum_j 2^u_j) - sum_c q_c u_c).
        ce = total.log2().squeeze(dim).sub_(target_logit).mul_(_LN2)
        loss.add_((ce * w_ce).sum(-1))
        weight = w_ce.unsqueeze(dim)
        return probs.mul_(weight / total).sub_(target * weight)
