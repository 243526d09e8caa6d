"""L_extra, the gap between the NLL under imbalanced and under balanced targets (Section 2.2).

Eq. 6 writes the balanced NLL as the imbalanced NLL plus L_extra; Eq. 7 defines

    L_extra = log p~(y) - log Integral p(y' | x) p~(y') dy',

with p~ the prior of the (imbalanced) training targets. This module measures it two ways:

* `l_extra_gauss` - Eq. 8, the regression head read as a Gaussian N(y'; y*, sigma^2);
* `l_extra_softmax` - Eq. 9, the class head: log p~(y_c) - log sum_k p(y_k* | x) p~(y_k).

Choices (each a named argument with a default, so a study can record it):

* p~ is a histogram of the training targets, `bins` (default 100) equal-width bins over
  [min, max] of y_train (`target_histogram`); its density is piecewise constant and zero
  outside [e_0, e_B].
* Smoothing: `pseudo_count` (default 0.5) is added to every bin / class count before
  normalising, so log p~ is finite everywhere; 0 keeps empty bins at log p~ = -inf.
* Targets outside the training range are clipped into the end bins when p~(y) is looked up.
* sigma^2 is given by the caller; the study's rule (`SIGMA2_RULE`) is the model's own MSE on
  the training set at the end of training.
* The Gaussian integral is exact per bin (normal-CDF differences, not a midpoint rule) and is
  computed entirely in log space in float64 (log-CDF differences, log-sum-exp over bins), so a
  prediction far outside the target range gives a large finite value rather than inf.
* Non-finite predictions or class log-probabilities (a diverged model) give nan, not an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_BINS = 100
DEFAULT_PSEUDO_COUNT = 0.5
# How the study sets sigma^2 of Eq. 8: the model's mean squared error on the training set.
SIGMA2_RULE = "train_mse"


@dataclass(frozen=True, eq=False)
class TargetHistogram:
    """Histogram prior p~(y) of the training targets (the p~ of Eq. 7-8).

    `edges` [B + 1] strictly increasing, `counts` [B] non-negative raw counts, `pseudo_count`
    added to every bin before normalising: p~_b = (counts_b + pseudo_count) / (total * width_b)
    with total = sum(counts) + B * pseudo_count, so the density integrates to 1 over the edges.
    """

    edges: np.ndarray
    counts: np.ndarray
    pseudo_count: float = DEFAULT_PSEUDO_COUNT

    def __post_init__(self) -> None:
        edges = np.array(self.edges, dtype=np.float64)
        counts = np.array(self.counts, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2:
            raise ValueError(f"edges: must be a 1-D array of >= 2 edges, got shape {edges.shape}")
        if not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
            raise ValueError("edges: must be finite and strictly increasing")
        if counts.shape != (edges.size - 1,):
            raise ValueError(f"counts: must have shape ({edges.size - 1},), got {counts.shape}")
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise ValueError("counts: must be finite and non-negative")
        _check_pseudo_count(self.pseudo_count)
        if counts.sum() + counts.size * self.pseudo_count <= 0:
            raise ValueError("counts: need a positive count or pseudo_count > 0")
        edges.flags.writeable = False
        counts.flags.writeable = False
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "pseudo_count", float(self.pseudo_count))

    @property
    def num_bins(self) -> int:
        """B, the number of bins."""
        return int(self.counts.size)

    @property
    def density(self) -> np.ndarray:
        """[B] smoothed density p~_b (integrates to 1 over the edges)."""
        smoothed = self.counts + self.pseudo_count
        return smoothed / (smoothed.sum() * np.diff(self.edges))

    def log_density_at(self, y: np.ndarray) -> np.ndarray:
        """log p~(y) per target; targets outside [e_0, e_B] are clipped into the end bins."""
        y = _finite_1d(y, "y")
        with np.errstate(divide="ignore"):
            return np.log(self.density)[_bin_index(y, self.edges)]


def target_histogram(
    y_train: np.ndarray, bins: int = DEFAULT_BINS, pseudo_count: float = DEFAULT_PSEUDO_COUNT
) -> TargetHistogram:
    """p~ for Eq. 7-8: `bins` equal-width bins over [min, max] of the training targets.

    Bins are half-open [e_b, e_b+1) except the last, which also holds the maximum.
    """
    y = _finite_1d(y_train, "y_train")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins: must be an integer >= 1, got {bins!r}")
    _check_pseudo_count(pseudo_count)
    low, high = float(y.min()), float(y.max())
    if not high > low:
        raise ValueError("y_train: needs at least two distinct target values")
    edges = np.linspace(low, high, int(bins) + 1)
    counts = np.bincount(_bin_index(y, edges), minlength=int(bins))
    return TargetHistogram(edges=edges, counts=counts, pseudo_count=pseudo_count)


def class_frequencies(
    labels_train: np.ndarray, num_classes: int, pseudo_count: float = DEFAULT_PSEUDO_COUNT
) -> np.ndarray:
    """[C] class prior p~(y_k) of Eq. 9: (counts_k + pseudo_count) / (N + C * pseudo_count)."""
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int | np.integer)
        or num_classes < 1
    ):
        raise ValueError(f"num_classes: must be an integer >= 1, got {num_classes!r}")
    labels = _labels(labels_train, "labels_train", int(num_classes))
    _check_pseudo_count(pseudo_count)
    smoothed = np.bincount(labels, minlength=int(num_classes)) + float(pseudo_count)
    if smoothed.sum() <= 0:
        raise ValueError("labels_train: need at least one label or pseudo_count > 0")
    return smoothed / smoothed.sum()


def l_extra_gauss(pred: np.ndarray, y: np.ndarray, prior: TargetHistogram, sigma2: float) -> float:
    """Mean over samples of Eq. 8: log p~(y_i) - log Integral N(y'; y*_i, sigma^2) p~(y') dy'.

    With the histogram p~ the integral is exactly
    sum_b p~_b (Phi((e_b+1 - y*_i) / sigma) - Phi((e_b - y*_i) / sigma)); every bin mass is
    taken in log space (see `_log_bin_mass`) and summed with log-sum-exp, in float64.
    `pred` and `y` are 1-D of equal length; `sigma2` > 0 (the study passes the training MSE,
    `SIGMA2_RULE`). Returns nan if any prediction is non-finite (a diverged model).
    """
    y = _finite_1d(y, "y")
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape != y.shape:
        raise ValueError(f"pred: must have the shape of y {y.shape}, got {pred.shape}")
    if not isinstance(prior, TargetHistogram):
        raise ValueError(f"prior: must be a TargetHistogram, got {type(prior).__name__}")
    if isinstance(sigma2, bool) or not isinstance(sigma2, int | float | np.integer | np.floating):
        raise ValueError(f"sigma2: must be a finite number > 0, got {sigma2!r}")
    if not (math.isfinite(sigma2) and sigma2 > 0):
        raise ValueError(f"sigma2: must be a finite number > 0, got {sigma2!r}")
    if not np.all(np.isfinite(pred)):
        return math.nan
    sigma = math.sqrt(float(sigma2))
    z = (torch.tensor(prior.edges)[None, :] - torch.tensor(pred)[:, None]) / sigma
    log_mass = _log_bin_mass(z[:, :-1], z[:, 1:])  # [N, B]
    with np.errstate(divide="ignore"):
        log_density = torch.from_numpy(np.log(prior.density))
    log_integral = torch.logsumexp(log_mass + log_density[None, :], dim=1)
    gap = torch.from_numpy(prior.log_density_at(y)) - log_integral
    return float(gap.mean())


def l_extra_softmax(
    class_log_probs: np.ndarray, labels: np.ndarray, class_prior: np.ndarray
) -> float:
    """Mean over samples of Eq. 9: log p~(y_c) - log sum_k p(y_k* | x) p~(y_k).

    `class_log_probs` [N, C] are log-probabilities (log_softmax of the class head), not
    probabilities or raw logits: each row must log-sum-exp to 0 within 1e-4 (it is then
    renormalised exactly in float64). `labels` [N] are the true classes c, `class_prior` [C] the
    training class frequencies (`class_frequencies`), positive and summing to 1. A confident,
    correct classifier gives exactly 0 (Eq. 10-11). Returns nan if any log-probability is nan or
    +inf (a diverged model); -inf entries are zero probabilities.
    """
    log_probs = np.asarray(class_log_probs, dtype=np.float64)
    if log_probs.ndim != 2 or log_probs.shape[0] == 0 or log_probs.shape[1] == 0:
        raise ValueError(
            f"class_log_probs: must be a non-empty [N, C] array, got {log_probs.shape}"
        )
    n, c = log_probs.shape
    prior = np.asarray(class_prior, dtype=np.float64)
    if prior.shape != (c,):
        raise ValueError(f"class_prior: must have shape ({c},), got {prior.shape}")
    if not np.all(np.isfinite(prior)) or np.any(prior <= 0) or abs(prior.sum() - 1) > 1e-6:
        raise ValueError("class_prior: must be positive and sum to 1 (use pseudo_count > 0)")
    labels = _labels(labels, "labels", c)
    if labels.shape != (n,):
        raise ValueError(f"labels: must have shape ({n},), got {labels.shape}")
    if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
        return math.nan
    log_probs_t = torch.tensor(log_probs)
    row_norm = torch.logsumexp(log_probs_t, dim=1)
    if not bool(torch.all(torch.abs(row_norm) <= 1e-4)):
        raise ValueError("class_log_probs: rows must be log-probabilities (log_softmax output)")
    log_probs_t = log_probs_t - row_norm[:, None]
    log_prior = torch.from_numpy(np.log(prior))
    log_mix = torch.logsumexp(log_probs_t + log_prior[None, :], dim=1)
    gap = log_prior[torch.from_numpy(labels)] - log_mix
    return float(gap.mean())


# --- private helpers -------------------------------------------------------------------------


def _log_bin_mass(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(b) - Phi(a)) for standardised edges a < b, without underflow or cancellation.

    Bin below the mean (b <= 0): log Phi(b) + log(1 - exp(log Phi(a) - log Phi(b))).
    Bin above the mean (a >= 0): the same on the mirrored tail, Phi(-a) - Phi(-b).
    Bin straddling the mean: 0.5 * (erf(b / sqrt 2) + erf(-a / sqrt 2)), two positive terms.
    log Phi of a far tail stays finite (about -z^2 / 2), so a prediction far outside the range
    still gives finite log masses; the largest, from the nearest bin, dominates the log-sum-exp.
    """
    lo = torch.where(b <= 0, a, -b)  # the tail edge farther from the mean
    hi = torch.where(b <= 0, b, -a)  # the tail edge nearer the mean
    log_hi = torch.special.log_ndtr(hi)
    tail = log_hi + _log1mexp(torch.special.log_ndtr(lo) - log_hi)
    straddle = torch.log(
        0.5 * (torch.special.erf(b / math.sqrt(2)) + torch.special.erf(-a / math.sqrt(2)))
    )
    return torch.where((a < 0) & (b > 0), straddle, tail)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(x)) for x <= 0, accurate at both ends (Maechler 2012)."""
    x = torch.clamp(x, max=0.0)
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def _bin_index(y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value in [0, B - 1]; values outside the edges go to the end bins."""
    return np.searchsorted(edges[1:-1], y, side="right").astype(np.int64)


def _finite_1d(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: must be finite")
    return array


def _labels(values: np.ndarray, name: str, num_classes: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: must be a 1-D integer array, got {array.dtype} {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(f"{name}: must lie in [0, {num_classes - 1}]")
    return array.astype(np.int64)


def _check_pseudo_count(pseudo_count: float) -> None:
    if isinstance(pseudo_count, bool) or not isinstance(
        pseudo_count, int | float | np.integer | np.floating
    ):
        raise ValueError(f"pseudo_count: must be a finite number >= 0, got {pseudo_count!r}")
    if not (math.isfinite(pseudo_count) and pseudo_count >= 0):
        raise ValueError(f"pseudo_count: must be a finite number >= 0, got {pseudo_count!r}")
