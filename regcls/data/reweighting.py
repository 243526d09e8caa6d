"""Static per-sample loss weights from the training targets: LDS and DenseWeight.

Both are computed once from `y_train` when a task is built and scale each sample's squared error
in the MSE term (`regcls.objectives.mse.batch_weights`); both are rescaled to mean 1 over the
training set, as the reference codes do.

- `lds_weights`: Label Distribution Smoothing (Yang et al. 2021, Eq. 1), following the authors'
  code (`YyzHarry/imbalanced-regression`, `_prepare_weights` / `get_lds_kernel_window`): counts
  per bin (square-rooted for `sqrt_inv`), convolved with a max-normalised kernel window with zero
  padding, inverted, rescaled to mean 1. The `inverse` counts are not clipped (the STS-B code;
  the age code clips them to [5, 1000] for its 1-year bins).
- `inverse_weights`: the INV / SQINV baselines (Yang et al. 2021, Sec. 4; their STS-B code's
  `--reweight inverse` without `--lds`): the same counts, not smoothed.

Both bin the targets with `regcls.data.binning.label_bins` (the authors' edge convention).
- `denseweight_weights`: DenseWeight (Steininger et al. 2021), by the paper's definition: a KDE
  of the target density p (SciPy's `gaussian_kde`), min-max normalised to p' in [0, 1], weight
  `max(1 - alpha * p', eps)` divided by its mean. The GPL `denseweight` package is not used.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import convolve1d, gaussian_filter1d
from scipy.signal.windows import triang
from scipy.stats import gaussian_kde

from regcls.data.binning import label_bins

LDS_KERNELS = ("gaussian", "triangular", "laplace")
LDS_INVERSES = ("sqrt_inv", "inverse")
DENSEWEIGHT_EPS = 1e-6  # the paper's epsilon: every sample keeps a positive weight


def lds_kernel_window(kernel: str, size: int, sigma: float) -> np.ndarray:
    """The LDS smoothing window `[size]`, max-normalised, as `get_lds_kernel_window` builds it.

    `gaussian`: scipy's `gaussian_filter1d` of a centred delta (reflect mode: flatter than a
    sampled Gaussian, e.g. [0.858, 0.946, 1, 0.946, 0.858] for size 5, sigma 2); `triangular`:
    `scipy.signal.windows.triang(size)`; `laplace`: `exp(-|x| / sigma)` over x in
    [-(size-1)/2, (size-1)/2], max-normalised.
    """
    _check_lds(kernel, size, sigma)
    half = (size - 1) // 2
    if kernel == "gaussian":
        delta = np.zeros(size)
        delta[half] = 1.0
        smooth = gaussian_filter1d(delta, sigma=sigma)
        return smooth / smooth.max()
    if kernel == "triangular":
        return triang(size)
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    laplace = np.exp(-np.abs(offsets) / sigma) / (2.0 * sigma)
    return laplace / laplace.max()


def lds_weights(
    y: torch.Tensor,
    edges: torch.Tensor,
    kernel: str = "gaussian",
    size: int = 5,
    sigma: float = 2.0,
    inverse: str = "sqrt_inv",
) -> torch.Tensor:
    """Per-sample LDS weights `[N]` (float64, mean 1) for targets `y` `[N]` over the bins `edges`
    `[B + 1]` (increasing; targets outside fall into the end bins).

    Effective density (Eq. 1): the bin counts (`sqrt_inv`: their square roots, before smoothing,
    as the reference code) convolved with the kernel window, zero-padded at the range ends; the
    weight of a sample is the inverse of its bin's effective density, rescaled so the weights
    average to 1 (`scaling = N / sum(w)`).
    """
    _check_lds(kernel, size, sigma)
    return _inverse_density(y, edges, inverse, lds_kernel_window(kernel, size, sigma))


def inverse_weights(y: torch.Tensor, edges: torch.Tensor, inverse: str = "inverse") -> torch.Tensor:
    """Per-sample INV (`inverse`: 1 / count of the sample's bin) or SQINV (`sqrt_inv`: 1 /
    sqrt count) weights `[N]` (float64, mean 1) over the bins `edges` `[B + 1]`: `lds_weights`
    without the smoothing (Yang et al.'s STS-B `tasks.py` with `--reweight` and no `--lds`; no
    clip, as their STS-B code)."""
    return _inverse_density(y, edges, inverse, None)


def _inverse_density(
    y: torch.Tensor, edges: torch.Tensor, inverse: str, window: np.ndarray | None
) -> torch.Tensor:
    """1 / (effective) bin count of every sample, rescaled to mean 1 (`scaling = N / sum(w)`);
    the counts (square roots for `sqrt_inv`) convolved with `window` (zero padding) first when
    given."""
    if inverse not in LDS_INVERSES:
        raise ValueError(f"inverse: must be one of {LDS_INVERSES}, got {inverse!r}")
    bins = label_bins(_targets(y), edges.detach().to(torch.float64).cpu().numpy())
    counts = np.bincount(bins, minlength=edges.shape[0] - 1).astype(np.float64)
    if inverse == "sqrt_inv":
        counts = np.sqrt(counts)
    if window is not None:
        counts = convolve1d(counts, weights=window, mode="constant")
    weights = 1.0 / counts[bins]  # every sample's own bin count is > 0, so this is finite
    return torch.from_numpy(weights * (weights.shape[0] / weights.sum()))


def denseweight_weights(
    y: torch.Tensor, alpha: float, bandwidth: str = "silverman", eps: float = DENSEWEIGHT_EPS
) -> torch.Tensor:
    """Per-sample DenseWeight weights `[N]` (float64, mean 1) for targets `y` `[N]`.

    Steininger et al. 2021: p = KDE of the targets evaluated at every target
    (`scipy.stats.gaussian_kde`, bandwidth rule `bandwidth`, "silverman" or "scott" in SciPy's
    definition: factor (3N/4)^(-1/5) resp. N^(-1/5) times the sample std; "silverman" like the
    `denseweight` package's default, whose KDEpy rule also uses the IQR, so not bit-equal),
    p' = (p - min p) / (max p - min p), w = max(1 - alpha * p', eps), then w / mean(w).
    alpha = 0 gives all ones; targets with one density value (all equal) also give all ones.
    """
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha: must be finite and >= 0, got {alpha}")
    if bandwidth not in ("scott", "silverman"):
        raise ValueError(f"bandwidth: must be one of ('scott', 'silverman'), got {bandwidth!r}")
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps: must be finite and > 0, got {eps}")
    values = _targets(y)
    if values.shape[0] < 2 or float(values.std()) == 0.0:
        raise ValueError("y: DenseWeight needs at least two distinct targets")
    density = gaussian_kde(values, bw_method=bandwidth)(values)
    span = density.max() - density.min()
    scaled = (density - density.min()) / span if span > 0 else np.zeros_like(density)
    weights = np.maximum(1.0 - alpha * scaled, eps)
    return torch.from_numpy(weights / weights.mean())


def _check_lds(kernel: str, size: int, sigma: float) -> None:
    if kernel not in LDS_KERNELS:
        raise ValueError(f"kernel: must be one of {LDS_KERNELS}, got {kernel!r}")
    if not (isinstance(size, int) and size >= 1 and size % 2 == 1):
        raise ValueError(f"size: must be an odd int >= 1, got {size!r}")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma: must be finite and > 0, got {sigma}")


def _targets(y: torch.Tensor) -> np.ndarray:
    if y.dim() != 1 or y.shape[0] == 0 or not bool(torch.isfinite(y).all()):
        raise ValueError(f"y: must be finite [N] with N >= 1, got shape {tuple(y.shape)}")
    return y.detach().to(torch.float64).cpu().numpy()
