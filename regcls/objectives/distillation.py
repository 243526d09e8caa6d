"""HCA-d's stage-2 loss (Xiong & Yao, CVPR 2024, Sec. 3.4) with its exact hand-written gradient.

The student head G_T gives p^T = softmax(z) over the C finest classes (Eq. 9). For every level h
(finest included, where the alignment is the identity) p^T is aligned to the level by the
range-preserving max (Eqs. 13-14, `hierarchical.max_alignment`) and compared with the frozen
teacher p^h:

    L_hd = sum_h mean_n KL(p^h || p-bar^{T,h}) = sum_h mean_n sum_j p^h_j log(p^h_j / p-bar_j)
                                                                                  (Eqs. 11-12).

Gradient: with S = sum_l p''_l and sum_j p^h_j = 1, dL/dp''_i = (1 - p^h_i / p-bar_i) / S; it
reaches only the finest class holding the max of coarse class i (Eq. 13), then the softmax.
Exact ties inside a coarse class (measure zero for real-valued logits) would pass the gradient to
every tied class. No epsilon is added inside the log: p-bar > 0 because softmax outputs are.

`regcls.training.distillation.train_distillation` runs the second stage with it (packed);
`aligned_kl` is the padded form a pack of models with different class counts needs.
"""

from __future__ import annotations

import torch


def distillation_loss(
    logits: torch.Tensor, teachers: list[torch.Tensor], class_levels: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_hd `[...]`, dL_hd/d(logits) `[..., N, C]`) for student logits `[..., N, C]` and the
    teacher probabilities of every level, finest first (`[..., N, C]`, `[..., N, C_1]`, ...)."""
    levels = [None] + ([] if class_levels is None else list(class_levels))
    if len(teachers) != len(levels):
        raise ValueError(f"teachers: must hold one distribution per level ({len(levels)})")
    lookups = [None if row is None else row.to(logits.device) for row in levels]
    valid = [torch.ones(t.shape[-1], dtype=torch.bool, device=logits.device) for t in teachers]
    weights = logits.new_full(logits.shape[:-1], 1.0 / logits.shape[-2])
    return aligned_kl(logits, teachers, lookups, valid, weights)


def aligned_kl(
    logits: torch.Tensor,
    teachers: list[torch.Tensor],
    lookups: list[torch.Tensor | None],
    valid: list[torch.Tensor],
    weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weighted L_hd and its gradient, padded for a pack: `logits` `[..., B, C]` (-inf on
    padded classes), per level the teacher `[..., B, W_h]` (0 on padded classes), the finest ->
    level class index broadcastable to the logits (None: the finest level itself), the valid
    level classes (bool, broadcastable to the teacher; none: the level is absent) and the
    per-sample weights `[..., B]` (1 / n: the batch mean; 0 on padding)."""
    student = torch.softmax(logits, dim=-1)
    loss = logits.new_zeros(logits.shape[:-2])
    d_student = torch.zeros_like(student)
    for teacher, lookup, ok in zip(teachers, lookups, valid, strict=True):
        if lookup is None:  # the finest level: the alignment is the identity
            peak, index = student, None
        else:
            index = lookup.expand_as(student)
            peak = student.new_zeros(*student.shape[:-1], teacher.shape[-1])
            # Probabilities are >= 0: a zero start is the identity of the max (Eq. 13).
            peak = peak.scatter_reduce(-1, index, student, "amax")
        total = peak.sum(-1, keepdim=True)
        aligned = torch.where(ok, peak / total, 1.0)  # Eq. 14; 1 on padded classes (t = 0)
        kl = torch.xlogy(teacher, teacher) - teacher * aligned.log()
        loss = loss + (kl.sum(-1) * weights).sum(-1)
        d_peak = torch.where(ok, (1.0 - teacher / aligned) / total, 0.0) * weights.unsqueeze(-1)
        if index is None:
            d_student += d_peak
        else:
            is_max = student == peak.gather(-1, index)
            d_student += torch.where(is_max, d_peak.gather(-1, index), 0.0)
    # Softmax backward: dL/dz = p * (g - sum_k p_k g_k).
    d_logits = student * (d_student - (student * d_student).sum(-1, keepdim=True))
    return loss, d_logits
