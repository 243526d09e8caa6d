"""Breakfast progress prediction: one ReLU MLP per task, split, target and seed (Section 3.3).

The body of the Breakfast trials, free of Ray: frames from `regcls.datasets.breakfast`, the MLP
from `regcls.single`, training (Eq. 4, balanced classes Eq. 12-13, lr x 0.1 at the milestone)
from `regcls.epoch_trainer`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from regcls.binning import make_binning
from regcls.datasets.breakfast import FEATURE_DIM, FrameSet, load_breakfast
from regcls.dir_metrics import bin_counts
from regcls.epoch_trainer import EpochSettings, predict, train_epochs
from regcls.single import MLP
from study.dir_rows import empty_metrics, model_row, split_metrics
from study.dir_spec import DirSpec

# The row's target name -> the loader's.
LOADER_TARGETS = {"progress_pct": "percent", "frames": "frames"}


def train_breakfast_trial(spec: DirSpec, device: str) -> list[dict]:
    """Train `spec` (one task, split, target, variant) once per seed; one row per model."""
    splits = load_breakfast(
        spec.data_root,
        spec.task,
        split=spec.data_split.lower(),
        target=LOADER_TARGETS[spec.target],
        val_fraction=float(spec.setting("val_fraction", 1 / 3)),
        seed=0,  # Section 3.3: the validation videos are drawn with seed 0
        skip_first_row=bool(spec.setting("skip_first_row", False)),
    )
    sets = {"train": splits.train, "val": splits.val, "test": splits.test}
    counts = bin_counts(splits.train.y, spec.shot_bin_width)
    binning = (
        None
        if spec.num_classes is None
        else make_binning(
            splits.train.y,
            spec.num_classes,
            balanced=spec.class_mode == "balanced",
            rounding=spec.equalize_rounding,
        )
    )
    rows = []
    for seed in spec.seeds:
        started = time.perf_counter()
        torch.manual_seed(seed)
        model = MLP(FEATURE_DIM, spec.hidden, 0 if binning is None else binning.num_classes)
        loaders = {
            name: _loader(s, spec.batch_size, name == "train", seed) for name, s in sets.items()
        }
        settings = EpochSettings(
            epochs=spec.epochs,
            lr=spec.lr,
            lam=1.0 if spec.lam is None else float(spec.lam),
            reg_loss=spec.reg_loss,
            weight_decay=spec.weight_decay,
            lr_milestones=tuple(spec.setting("lr_milestones", ())),
            select_metric="rmse",
            keep_seed=seed,
            restore_best=spec.model_selection == "best_val",
        )
        result = train_epochs(
            model, loaders["train"], loaders["val"], settings, binning, None, device
        )
        metrics = empty_metrics()
        if result.status != "diverged":
            for split in ("val", "test"):
                pred, target = predict(model, loaders[split], device)
                metrics.update(split_metrics(split, pred, target, counts, spec.shot_bin_width))
        best = result.best_epoch if spec.model_selection == "best_val" else result.epochs_trained
        row = model_row(
            spec,
            seed,
            status=result.status,
            epochs_trained=result.epochs_trained,
            best_epoch=best,
            final_train_loss=result.final_train_loss,
            metrics=metrics,
            wall_time_s=time.perf_counter() - started,
            device=device,
        )
        row["effective_classes"] = None if binning is None else int(binning.num_classes)
        rows.append(row)
    return rows


def _loader(frames: FrameSet, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    data = TensorDataset(torch.from_numpy(frames.x), torch.from_numpy(frames.y.astype(np.float32)))
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
    )
