"""Soft class-target distributions `[N, C]` for the soft cross-entropy head.

- `hl_gauss_targets`: HL-Gauss (Farebrother et al. 2024, "Stop regressing", Sec. 3): the mass of
  a Gaussian N(y, sigma^2) in every bin, `Phi((e_{i+1} - y) / sigma) - Phi((e_i - y) / sigma)`,
  normalised over the bins (the mass outside [e_0, e_C] is dropped and the rest rescaled).
- `soft_group_targets`: the symmetric descending soft label of paper 004 (Eq. 1, digest Sec.
  3.1): logits `l_i = G - beta * |i - g|` around the ground-truth group g, turned into the target
  by a softmax (Eq. 4 applies the CE to `q = softmax(l)`). The logits are not clamped at 0 (an
  unverified public repo clamps `(G - 1) - |i - g|` to [0, G - 1]; equal for beta <= 1). The
  asymmetric form (Eq. 2-3) is not implemented.
"""

from __future__ import annotations

import math

import torch

SOFTLABEL_FORMS = ("symmetric",)


def hl_gauss_targets(y: torch.Tensor, edges: torch.Tensor, sigma: float) -> torch.Tensor:
    """HL-Gauss targets `[N, C]` (float64, rows sum to 1) of targets `y` `[N]` over the bins
    `edges` `[C + 1]` (increasing), Gaussian width `sigma` (> 0; the paper's default is 0.75 bin
    widths, see `regcls.methods`)."""
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma: must be finite and > 0, got {sigma}")
    grid = _edges(edges)
    values = _targets(y)
    # Phi(z) = (1 + erf(z / sqrt 2)) / 2 at every edge; the bin masses are differences.
    cdf = torch.special.erf((grid.unsqueeze(0) - values.unsqueeze(1)) / (sigma * math.sqrt(2.0)))
    mass = (cdf[:, 1:] - cdf[:, :-1]) * 0.5
    total = mass.sum(1, keepdim=True)
    if not bool((total > 0).all()):
        raise ValueError("sigma: too small for a target far outside the bins (zero mass)")
    return mass / total


def soft_group_targets(
    groups: torch.Tensor, num_groups: int, beta: float = 1.0, form: str = "symmetric"
) -> torch.Tensor:
    """Soft group targets `[N, G]` (float64, rows sum to 1) for the ground-truth groups `groups`
    `[N]` (int64 in [0, G)): `softmax_i(G - beta * |i - g|)`, i.e. proportional to
    `exp(-beta * |i - g|)` (the constant G cancels in the softmax)."""
    if form not in SOFTLABEL_FORMS:
        raise ValueError(f"form: must be one of {SOFTLABEL_FORMS}, got {form!r}")
    if not (beta >= 0 and math.isfinite(beta)):
        raise ValueError(f"beta: must be finite and >= 0, got {beta}")
    if num_groups < 1:
        raise ValueError(f"num_groups: must be >= 1, got {num_groups}")
    if groups.dim() != 1 or groups.dtype != torch.int64:
        raise ValueError("groups: must be int64 [N]")
    if groups.numel() and (int(groups.min()) < 0 or int(groups.max()) >= num_groups):
        raise ValueError(f"groups: must lie in [0, {num_groups - 1}]")
    index = torch.arange(num_groups, dtype=torch.float64)
    distance = (index.unsqueeze(0) - groups.cpu().to(torch.float64).unsqueeze(1)).abs()
    return torch.softmax(num_groups - beta * distance, dim=1)


def _edges(edges: torch.Tensor) -> torch.Tensor:
    grid = edges.detach().cpu().to(torch.float64)
    if grid.dim() != 1 or grid.shape[0] < 2 or not bool((grid.diff() > 0).all()):
        raise ValueError("edges: must be increasing [C + 1] with C >= 1")
    return grid


def _targets(y: torch.Tensor) -> torch.Tensor:
    if y.dim() != 1 or not bool(torch.isfinite(y).all()):
        raise ValueError(f"y: must be finite [N], got shape {tuple(y.shape)}")
    return y.detach().cpu().to(torch.float64)
