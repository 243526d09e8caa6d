"""Evaluation metrics: MSE, MAE, accuracy and per-shot MSE (many / medium / few-shot regions).

Shot regions follow the imbalanced-regression convention (Yang et al., cited by the core paper
for NYUD2-DIR / IMDB-WIKI-DIR): the training targets are binned into equal-width bins; a test
sample is many-shot if its bin holds more than 100 training samples, few-shot if fewer than 20,
medium-shot otherwise.
"""

from __future__ import annotations

import numpy as np

SHOT_THRESHOLDS = (100, 20)  # many > 100, medium 20..100, few < 20 training samples per bin
SHOTS = ("many", "medium", "few")


def mse(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error (Eq. 3 without lambda)."""
    pred, target = _pair(pred, target)
    return float(np.mean((pred - target) ** 2))


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error."""
    pred, target = _pair(pred, target)
    return float(np.mean(np.abs(pred - target)))


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose arg-max logit is the label (`logits` [N, C], `labels` [N])."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or labels.shape != (logits.shape[0],):
        raise ValueError(f"logits/labels: need [N, C] and [N], got {logits.shape}, {labels.shape}")
    if labels.size == 0:
        raise ValueError("labels: need at least one sample")
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def shot_bins(y_train: np.ndarray, num_bins: int = 100) -> np.ndarray:
    """`num_bins + 1` equal-width edges over [min, max] of the training targets."""
    y_train = np.asarray(y_train, dtype=np.float64).ravel()
    if num_bins < 1:
        raise ValueError(f"num_bins: must be >= 1, got {num_bins}")
    if y_train.size == 0:
        raise ValueError("y_train: need at least one training target")
    return np.linspace(y_train.min(), y_train.max(), num_bins + 1)


def shot_of(y: np.ndarray, y_train: np.ndarray, num_bins: int = 100) -> np.ndarray:
    """Shot region ("many" | "medium" | "few") of every target in `y`.

    Targets outside the training range fall into the end bins.
    """
    edges = shot_bins(y_train, num_bins)
    counts = np.bincount(
        _bin_index(np.asarray(y_train, np.float64).ravel(), edges), minlength=num_bins
    )
    many, few = SHOT_THRESHOLDS
    region = np.where(counts > many, "many", np.where(counts < few, "few", "medium"))
    return region[_bin_index(np.asarray(y, np.float64).ravel(), edges)]


def shot_mse(
    pred: np.ndarray, target: np.ndarray, y_train: np.ndarray, num_bins: int = 100
) -> dict[str, float]:
    """MSE per shot region, keys "many", "medium", "few"; nan for an empty region."""
    pred, target = _pair(pred, target)
    region = shot_of(target, y_train, num_bins)
    out = {}
    for shot in SHOTS:
        chosen = region == shot
        out[shot] = float(np.mean((pred[chosen] - target[chosen]) ** 2)) if chosen.any() else np.nan
    return out


def regression_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    target_clean: np.ndarray,
    y_train: np.ndarray,
    num_bins: int = 100,
) -> dict[str, float]:
    """mse, mse_clean (vs the noise-free f(x)), mae, mse_many, mse_medium, mse_few."""
    shots = shot_mse(pred, target, y_train, num_bins)
    return {
        "mse": mse(pred, target),
        "mse_clean": mse(pred, target_clean),
        "mae": mae(pred, target),
        **{f"mse_{shot}": value for shot, value in shots.items()},
    }


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"pred/target: shapes differ, {pred.shape} vs {target.shape}")
    if pred.size == 0:
        raise ValueError("pred/target: need at least one sample")
    return pred, target


def _bin_index(y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Bins are [e_i, e_{i+1}); the last bin also holds the maximum. Out-of-range -> end bins.
    index = np.searchsorted(edges, y, side="right") - 1
    return np.clip(index, 0, len(edges) - 2)
