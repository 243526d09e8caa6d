"""Breakfast progress prediction: one ReLU MLP per task, split, target and seed (Section 3.3).

The body of the Breakfast trials, free of Ray: frames from `regcls.data.datasets.breakfast`, the MLP
from `regcls.models.mlp`, training (Eq. 4, balanced classes Eq. 12-13, lr x 0.1 at the
milestone) from `regcls.training.epochs`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from regcls.data.datasets.breakfast import FEATURE_DIM, FrameSet, load_breakfast
from regcls.evaluation.dir_metrics import bin_counts
from regcls.models.mlp import MLP
from regcls.training.epochs import train_epochs
from study.class_tasks import class_binning
from study.dir.epochs import epoch_model_row, epoch_settings
from study.dir.spec import DirSpec

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
    binning = class_binning(spec, splits.train.y)
    rows = []
    for seed in spec.seeds:
        started = time.perf_counter()
        torch.manual_seed(seed)
        model = MLP(FEATURE_DIM, spec.hidden, 0 if binning is None else binning.num_classes)
        loaders = {
            name: _loader(s, spec.batch_size, name == "train", seed) for name, s in sets.items()
        }
        settings = epoch_settings(spec, seed, select_metric="rmse")
        result = train_epochs(
            model, loaders["train"], loaders["val"], settings, binning, None, device
        )
        rows.append(
            epoch_model_row(
                spec, seed, model, result, loaders, counts, binning, started=started, device=device
            )
        )
    return rows


def _loader(frames: FrameSet, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    data = TensorDataset(torch.from_numpy(frames.x), torch.from_numpy(frames.y.astype(np.float32)))
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
    )
