"""HCA's hierarchical class heads (Xiong & Yao, CVPR 2024): summed CE in training, HCA-add /
HCA-mul adjustment at test time, and the range-preserving max alignment of HCA-d.

A hierarchical model's class head is one linear layer whose rows are the heads of all levels,
finest first: rows `[0, C)` are G_H (the finest level, the study's C classes), then G_1 (2^1
classes), G_2, ..., G_{H-1}. Each level is a softmax over its own rows (Eqs. 2, 4); the training
loss is the unweighted sum of the levels' mean CEs (Eq. 6: L = sum_h L^h_ce). A one-level model
(no coarse levels) is a plain one-hot CE head, so `reg+cls` models train in the same pack.

`class_levels` `[H - 1, C]` int64 (`regcls.data.hierarchy.hierarchy_levels`) holds the level-h class
of every finest class; `T_{h,H}^T p^h` (copy each coarse probability to the finest classes it
contains) is then `p^h[:, class_levels[h - 1]]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from regcls.objectives.cross_entropy import OneHotCrossEntropy
from regcls.objectives.mse import batch_weights

HCA_RULES = ("add", "mul")


def level_sizes(class_levels: torch.Tensor | None, num_classes: int) -> list[int]:
    """Class count of every level, finest first: `[C, C_1, ..., C_{H-1}]`."""
    if class_levels is None:
        return [num_classes]
    return [num_classes] + [int(row[-1]) + 1 for row in class_levels]


def level_log_probs(logits: torch.Tensor, class_levels: torch.Tensor | None) -> list[torch.Tensor]:
    """log p^H, log p^1, ..., log p^{H-1}: the log-softmax of every level's rows of `logits`
    `[..., W]` (finest first), each level `[..., C_h]`."""
    num_classes = logits.shape[-1] - sum(level_sizes(class_levels, 0))
    out, start = [], 0
    for size in level_sizes(class_levels, num_classes):
        out.append(torch.log_softmax(logits[..., start : start + size], dim=-1))
        start += size
    return out


def hca_scores(logits: torch.Tensor, class_levels: torch.Tensor | None, rule: str) -> torch.Tensor:
    """The learning-free HCA adjustment `[..., C]` of the finest level (Sec. 3.3).

    HCA-add (Eq. 7): p^a = p^H + sum_{h<H} T_{h,H}^T p^h (softmax probabilities);
    HCA-mul (Eq. 8): p^m = log p^H + sum_{h<H} T_{h,H}^T log p^h.
    """
    if rule not in HCA_RULES:
        raise ValueError(f"hca_rule: must be one of {HCA_RULES}, got {rule!r}")
    logs = level_log_probs(logits, class_levels)
    terms = logs if rule == "mul" else [t.exp() for t in logs]
    score = terms[0].clone()
    for h, term in enumerate(terms[1:]):
        score += term[..., class_levels[h].to(logits.device)]
    return score


def max_alignment(p_fine: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """HCA-d's range-preserving alignment of a finest-level distribution `[..., C]` to one coarse
    level (a `class_levels` row `[C]`): Eq. 13, p''[j] = max_{k: T[j, k] = 1} p[k], then Eq. 14,
    p-bar = p'' / sum_l p''[l]. `[..., C_h]`; autograd sends each coarse class's gradient to its
    arg-max finest class only."""
    size = int(level[-1]) + 1
    index = level.to(p_fine.device).expand_as(p_fine)
    # Probabilities are >= 0, so a zero start is the identity of max over each coarse class.
    peak = p_fine.new_zeros(*p_fine.shape[:-1], size).scatter_reduce(-1, index, p_fine, "amax")
    return peak / peak.sum(-1, keepdim=True)


class HierarchicalCrossEntropy:
    """Forward, summed per-level CE (Eq. 6) and backward of the hierarchical heads of a pack.

    Each level runs as a `OneHotCrossEntropy` over that level's rows of every model's head,
    gathered into level buffers (models without the level get a zero-weight head); the level's
    gradients are scattered back into the head's rows. `classes[k]` is model k's head width (all
    levels), `class_levels[k]` its hierarchy (None: one level).
    """

    def __init__(
        self,
        classes: Sequence[int],
        batch_size: int,
        weight: torch.Tensor,
        bias: torch.Tensor,
        grad_weight: torch.Tensor,
        grad_bias: torch.Tensor,
        class_levels: Sequence[torch.Tensor | None] | None = None,
    ) -> None:
        k, _, width = weight.shape
        opts = {"dtype": weight.dtype, "device": weight.device}
        levels = list(class_levels) if class_levels is not None else [None] * k
        self.weight, self.bias = weight, bias
        self.grad_weight, self.grad_bias = grad_weight, grad_bias
        self.ce_on = torch.tensor([float(c > 0) for c in classes], **opts).unsqueeze(1)
        fine = [
            int(c) if m is None else int(m.shape[1]) for c, m in zip(classes, levels, strict=True)
        ]
        sizes = [level_sizes(m, c) if c else [] for c, m in zip(fine, levels, strict=True)]
        depth = max(len(s) for s in sizes)
        long = {"dtype": torch.int64, "device": weight.device}
        self.levels = []
        for level in range(depth):
            size = [s[level] if level < len(s) else 0 for s in sizes]
            # Models without this level read row 0 (masked): their rows may fill the whole head.
            start = [sum(s[:level]) if level < len(s) else 0 for s in sizes]
            wide = max(size)
            # Row of level class j of model k; padded classes (masked by the head) reuse a row.
            offset = torch.arange(wide, **long).unsqueeze(0)
            limit = (torch.tensor(size, **long) - 1).clamp_min(0).unsqueeze(1)
            rows = torch.tensor(start, **long).unsqueeze(1) + torch.minimum(offset, limit)
            # Finest class -> this level's class (the identity on the finest level).
            lookup = torch.zeros(k, max(max(fine), 1), **long)
            for row, (c, m) in enumerate(zip(fine, levels, strict=True)):
                if c and level < len(sizes[row]):
                    lookup[row, :c] = torch.arange(c) if level == 0 else m[level - 1]
            buffers = [torch.empty(k, wide, width, **opts) for _ in range(2)]
            buffers += [torch.empty(k, wide, **opts) for _ in range(2)]
            w, gw, b, gb = buffers
            head = OneHotCrossEntropy(size, batch_size, w, b, gw, gb)
            on = torch.tensor([float(s > 0) for s in size], **opts).unsqueeze(1)
            self.levels.append((rows, lookup, on, head, w, b, gw, gb))

    def batch_weights(self, kept: torch.Tensor) -> torch.Tensor:
        """Per-sample CE weights `[..., K, B]`: 1 / (kept count) on kept samples (each level's CE
        is a mean), 0 for models without a head."""
        return batch_weights(kept) * self.ce_on

    def __call__(
        self,
        h: torch.Tensor,
        h_t: torch.Tensor,
        labels: torch.Tensor,
        w_ce: torch.Tensor,
        loss: torch.Tensor,
        d_h: torch.Tensor,
    ) -> None:
        """Every level's forward, CE (added to `loss` `[K]`) and backward (head grads written,
        `d_h` `[K, H, B]` accumulated); `labels` are the finest-level class ids `[K, B]`."""
        self.grad_weight.zero_()
        self.grad_bias.zero_()
        width = h.shape[1]
        for rows, lookup, on, head, w, b, gw, gb in self.levels:
            rows_w = rows.unsqueeze(2).expand(-1, -1, width)
            torch.gather(self.weight, 1, rows_w, out=w)
            torch.gather(self.bias, 1, rows, out=b)
            head(h, h_t, lookup.gather(1, labels), w_ce * on, loss, d_h)
            self.grad_weight.scatter_add_(1, rows_w, gw)
            self.grad_bias.scatter_add_(1, rows, gb)
