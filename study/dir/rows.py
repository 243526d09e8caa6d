"""Turning one trained DIR model into its results row (`results.dir.schema` columns)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from regcls.data.binning import ClassBinning
from regcls.evaluation.dir_metrics import SHOTS, dir_metrics
from study.dir.spec import DirSpec, identity_fields
from study.run_info import run_info

METRICS = ("mae", "mse", "rmse", "gm", "pearson", "delta1")


def split_metrics(
    split: str,
    pred: np.ndarray,
    target: np.ndarray,
    train_counts: np.ndarray,
    bin_width: float,
    delta: bool = False,
    num_bins: int | None = None,
) -> dict[str, float | None]:
    """`{split}_{metric}_{shot}` columns (shot "all" = every sample) of one split's predictions.

    `num_bins`: the bin count `train_counts` was built with, so end targets clip into it.
    """
    values = dir_metrics(pred, target, train_counts, bin_width, delta=delta, num_bins=num_bins)
    columns: dict[str, float | None] = {}
    for metric in METRICS:
        columns[f"{split}_{metric}_all"] = finite_or_none(values.get(metric))
        for shot in SHOTS:
            columns[f"{split}_{metric}_{shot}"] = finite_or_none(values.get(f"{metric}_{shot}"))
    return columns


def prediction_metrics(
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray]] | None,
    train_counts: np.ndarray,
    bin_width: float,
    delta: bool = False,
    num_bins: int | None = None,
) -> dict[str, float | None]:
    """Every metric column of one model from its (prediction, target) per split; all null when
    it has no predictions (diverged)."""
    metrics = empty_metrics()
    for split, (pred, target) in (predictions or {}).items():
        metrics.update(split_metrics(split, pred, target, train_counts, bin_width, delta, num_bins))
    return metrics


def model_row(
    spec: DirSpec,
    seed: int,
    *,
    status: str,
    epochs_trained: int,
    best_epoch: int | None,
    final_train_loss: float | None,
    metrics: dict[str, float | None],
    wall_time_s: float,
    device: str,
    binning: ClassBinning | None,
    error: str | None = None,
) -> dict:
    """The full row of one model: identity, outcome, metrics, run info and its class count C̄."""
    return {
        **identity_fields(spec, seed),
        "status": status,
        "error": error,
        "epochs_trained": int(epochs_trained),
        "best_epoch": best_epoch,
        "final_train_loss": finite_or_none(final_train_loss),
        **metrics,
        "wall_time_s": float(wall_time_s),
        **run_info(device),
        "effective_classes": None if binning is None else int(binning.num_classes),
    }


def finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)


def empty_metrics() -> dict[str, None]:
    """Every metric column, null (a diverged model has no predictions)."""
    return {
        f"{split}_{metric}_{shot}": None
        for split in ("val", "test")
        for metric in METRICS
        for shot in ("all", *SHOTS)
    }
