"""One DIR model trained epoch by epoch with `regcls.training.epochs` (Breakfast MLPs, image
models): its training settings from the spec, and its results row."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import torch

from regcls.data.binning import ClassBinning
from regcls.training.epochs import EpochResult, EpochSettings, predict
from study.dir.rows import model_row, prediction_metrics
from study.dir.spec import DirSpec


def epoch_settings(spec: DirSpec, seed: int, select_metric: str) -> EpochSettings:
    """Eq. 4 training of `spec` (lr x 0.1 after each `lr_milestones` setting), keep draws (Eq. 13)
    seeded by the model seed; `select_metric` picks the best validation epoch."""
    return EpochSettings(
        epochs=spec.epochs,
        lr=spec.lr,
        lam=1.0 if spec.lam is None else float(spec.lam),
        reg_loss=spec.reg_loss,
        weight_decay=spec.weight_decay,
        lr_milestones=tuple(spec.setting("lr_milestones", ())),
        accumulate=spec.grad_accumulation,
        select_metric=select_metric,
        keep_seed=seed,
        restore_best=spec.model_selection == "best_val",
    )


def epoch_model_row(
    spec: DirSpec,
    seed: int,
    model: torch.nn.Module,
    result: EpochResult,
    loaders: Mapping[str, object],
    train_counts: np.ndarray,
    binning: ClassBinning | None,
    *,
    started: float,
    device: str,
    delta: bool = False,
) -> dict:
    """The row of a trained model: val and test metrics (none when diverged), its best epoch
    under best-val selection (else its last), wall time since `started` (perf_counter)."""
    predictions = None
    if result.status != "diverged":
        predictions = {split: predict(model, loaders[split], device) for split in ("val", "test")}
    best = result.best_epoch if spec.model_selection == "best_val" else result.epochs_trained
    return model_row(
        spec,
        seed,
        status=result.status,
        epochs_trained=result.epochs_trained,
        best_epoch=best,
        final_train_loss=result.final_train_loss,
        metrics=prediction_metrics(predictions, train_counts, spec.shot_bin_width, delta),
        wall_time_s=time.perf_counter() - started,
        device=device,
        binning=binning,
    )
