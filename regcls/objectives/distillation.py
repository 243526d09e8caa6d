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

Only the loss piece: the two-stage schedule (freeze F and G_1..G_H, train G_T for 20% more
epochs) is not wired into the trainers yet.
"""

from __future__ import annotations

import torch


def distillation_loss(
    logits: torch.Tensor, teachers: list[torch.Tensor], class_levels: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_hd `[...]`, dL_hd/d(logits) `[..., N, C]`) for student logits `[..., N, C]` and the
    teacher probabilities of every level, finest first (`[..., N, C]`, `[..., N, C_1]`, ...)."""
    log_student = torch.log_softmax(logits, dim=-1)
    student = log_student.exp()
    n = logits.shape[-2]
    levels = [None] + ([] if class_levels is None else list(class_levels))
    if len(teachers) != len(levels):
        raise ValueError(f"teachers: must hold one distribution per level ({len(levels)})")
    loss = logits.new_zeros(logits.shape[:-2])
    d_student = torch.zeros_like(student)
    for teacher, level in zip(teachers, levels, strict=True):
        if level is None:  # the finest level: the alignment is the identity
            peak, is_max, index = student, None, None
        else:
            index = level.to(logits.device).expand_as(student)
            peak = student.new_zeros(*student.shape[:-1], teacher.shape[-1])
            peak = peak.scatter_reduce(-1, index, student, "amax")
            is_max = student == peak.gather(-1, index)
        total = peak.sum(-1, keepdim=True)
        aligned = peak / total  # Eq. 14
        kl = torch.xlogy(teacher, teacher) - teacher * aligned.log()
        loss = loss + kl.sum(-1).sum(-1) / n
        d_peak = (1.0 - teacher / aligned) / total / n
        if level is None:
            d_student += d_peak
        else:
            d_student += torch.where(is_max, d_peak.gather(-1, index), 0.0)
    # Softmax backward: dL/dz = p * (g - sum_k p_k g_k).
    d_logits = student * (d_student - (student * d_student).sum(-1, keepdim=True))
    return loss, d_logits
