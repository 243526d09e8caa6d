"""Deep imbalanced regression (DIR) evaluation of Yang et al. 2021 (digest §2.6, pitfalls 6-8).

Shots (Liu et al. 2019, as in Yang et al.): targets are binned with a per-dataset width (1 year
for age, 0.1 for STS-B, 0.1 m for depth); a bin with more than 100 training samples is
many-shot, 20..100 medium-shot, fewer than 20 few-shot. Bins with no training sample
(zero-shot) are folded into few-shot by default, as the reference code does; `n_zero` reports
how many test samples that concerns. Per-shot metrics are sample-weighted: every test sample
(or pixel) in the shot counts once, whatever its bin.

Metrics, each overall and per shot: MAE, MSE, RMSE, GM (geometric mean of |e|, zero errors
replaced by `eps` = 1e-10 like Yang et al.'s STS-B code), Pearson correlation (a fraction, not
%), and for depth delta1 (share of pixels with max(pred/y, y/pred) <= 1.25, as in Yang et al.'s
NYUD2 evaluator; a non-positive prediction or target counts as a miss).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

SHOT_THRESHOLDS = (100, 20)  # many > 100, medium 20..100, few < 20 training samples per bin
SHOTS = ("many", "medium", "few")
GM_EPS = 1e-10
BIN_WIDTH = MappingProxyType({"imdb_wiki": 1.0, "stsb": 0.1, "nyud2": 0.1})
# Yang et al.: depth bin min(int(10 d), 99); STS-B 50 bins over [0, 5]
NUM_BINS = MappingProxyType({"imdb_wiki": None, "stsb": 50, "nyud2": 100})
_FLOOR_SLACK = 1e-9  # 0.3 / 0.1 = 2.9999999999999996 must land in bin 3


def bin_index(
    y: np.ndarray, bin_width: float, num_bins: int | None = None, origin: float = 0.0
) -> np.ndarray:
    """floor((y - origin) / bin_width) as int64, clipped to [0, num_bins - 1] (or >= 0)."""
    if not bin_width > 0:
        raise ValueError(f"bin_width: must be > 0, got {bin_width}")
    y = np.asarray(y, dtype=np.float64).ravel()
    index = np.floor((y - origin) / bin_width + _FLOOR_SLACK).astype(np.int64)
    high = None if num_bins is None else int(num_bins) - 1
    return np.clip(index, 0, high)


def bin_counts(
    y_train: np.ndarray, bin_width: float, num_bins: int | None = None, origin: float = 0.0
) -> np.ndarray:
    """Training samples per bin (length `num_bins`, or up to the largest occupied bin)."""
    index = bin_index(y_train, bin_width, num_bins, origin)
    return np.bincount(index, minlength=0 if num_bins is None else int(num_bins)).astype(np.int64)


def shot_masks(
    target: np.ndarray,
    train_counts: np.ndarray,
    bin_width: float,
    origin: float = 0.0,
    zero_in_few: bool = True,
    num_bins: int | None = None,
) -> dict[str, np.ndarray]:
    """Boolean masks over the (flattened) targets: many / medium / few, and zero (no training).

    With `num_bins` (the value `train_counts` was built with), targets clip into the end bins,
    like Yang et al.'s depth bins and an STS-B score of exactly 5.0; without it, targets beyond
    the last bin of `train_counts` are zero-shot.
    """
    counts = np.asarray(train_counts, dtype=np.int64)
    index = bin_index(target, bin_width, num_bins, origin)
    known = index < counts.size
    count = np.where(known, counts[np.minimum(index, counts.size - 1)], 0)
    many_at, few_below = SHOT_THRESHOLDS
    masks = {
        "many": count > many_at,
        "medium": (count >= few_below) & (count <= many_at),
        "few": (count < few_below) & ((count > 0) | zero_in_few),
        "zero": count == 0,
    }
    return masks


def regression_errors(
    pred: np.ndarray, target: np.ndarray, delta: bool = False, eps: float = GM_EPS
) -> dict[str, float]:
    """MAE, MSE, RMSE, GM, Pearson (and delta1) over all given samples; NaN when empty."""
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"pred: shape {pred.shape} does not match target {target.shape}")
    keys = ("mae", "mse", "rmse", "gm", "pearson") + (("delta1",) if delta else ())
    if pred.size == 0:
        return dict.fromkeys(keys, float("nan"))
    error = np.abs(pred - target)
    mse = float(np.mean(error**2))
    out = {
        "mae": float(np.mean(error)),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "gm": float(np.exp(np.mean(np.log(np.where(error > 0, error, eps))))),
        "pearson": _pearson(pred, target),
    }
    if delta:
        out["delta1"] = _delta(pred, target, 1.25)
    return out


def dir_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    train_counts: np.ndarray,
    bin_width: float,
    origin: float = 0.0,
    delta: bool = False,
    eps: float = GM_EPS,
    zero_in_few: bool = True,
    num_bins: int | None = None,
) -> dict[str, float]:
    """Overall and per-shot metrics: keys `mae`, `mae_many`, `mae_medium`, `mae_few`, ...

    Also `n`, `n_many`, `n_medium`, `n_few`, `n_zero` (sample counts). Build `train_counts`
    with `bin_counts(y_train, bin_width, num_bins)` (for depth, from per-pixel training
    histograms such as Yang et al.'s TRAIN_BUCKET_NUM).
    """
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    out = regression_errors(pred, target, delta, eps)
    out["n"] = float(target.size)
    masks = shot_masks(target, train_counts, bin_width, origin, zero_in_few, num_bins)
    for shot in SHOTS:
        mask = masks[shot]
        for key, value in regression_errors(pred[mask], target[mask], delta, eps).items():
            out[f"{key}_{shot}"] = value
        out[f"n_{shot}"] = float(mask.sum())
    out["n_zero"] = float(masks["zero"].sum())
    return out


def _pearson(pred: np.ndarray, target: np.ndarray) -> float:
    if pred.size < 2:
        return float("nan")
    p, t = pred - pred.mean(), target - target.mean()
    denom = np.sqrt(np.sum(p * p) * np.sum(t * t))
    return float(np.sum(p * t) / denom) if denom > 0 else float("nan")


def _delta(pred: np.ndarray, target: np.ndarray, threshold: float) -> float:
    valid = (pred > 0) & (target > 0)
    ratio = np.full(pred.shape, np.inf)
    ratio[valid] = np.maximum(pred[valid] / target[valid], target[valid] / pred[valid])
    return float(np.mean(ratio <= threshold))
