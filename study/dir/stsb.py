"""STS-B-DIR: encode the sentence pairs once, then train one grid point's seeds packed.

The features are computed in the driver before Tune starts (cached on disk, so a resumed or
repeated study does not encode again) and reach every trial through Ray's object store; all
models of a pack share the one training tensor. Ray-free, so it can be tested on its own.

A method-zoo variant's models are built by `regcls.methods.build_method_task` (its classes: the
reg+cls equal-width bins of the spec's C) and their rows carry `method_columns`. `hca-d` trains
its second stage (`distill_method_models`) after stage 1's last epoch; its predictions are those
of the final stage-2 heads (no best-epoch selection: the best-val tracker sees stage 1 only), so
its `best_epoch` is null.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from regcls.data.binning import ClassBinning
from regcls.data.datasets.stsb import load_stsb_dir
from regcls.evaluation.dir_metrics import bin_counts
from regcls.methods import MethodConfig, build_method_task, distill_method_models, method_columns
from regcls.models.text_encoder import encode_pairs, encode_stsb_split
from regcls.training.packed import train_packed
from regcls.training.tasks import ModelTask, TrainedModels, TrainSettings
from study.class_tasks import class_binning, packed_task
from study.dir.rows import model_row, prediction_metrics
from study.dir.spec import ZOO_VARIANTS, DirSpec

SPLITS = ("train", "val", "test")
STSB_MAX = 5.0  # scores lie in [0, 5]


def prepare_stsb_features(
    root: str | Path | None,
    encoder: str,
    cache_dir: Path,
    subset: tuple[int, int, int] | None = None,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """{"x_train", "y_train", "x_val", ...}: pair features [N, 4d] float32 and scores.

    `subset`: a random subset (seed 0) of that many pairs per split (train, val, test).
    """
    features: dict[str, np.ndarray] = {}
    for index, split in enumerate(SPLITS):
        if subset is None:
            x, y = encode_stsb_split(split, root, encoder, cache_dir, device)
        else:
            pairs = load_stsb_dir(split, root)
            count = min(int(subset[index]), len(pairs.score))
            rows = np.sort(np.random.default_rng(0).choice(len(pairs.score), count, False))
            x = encode_pairs(
                [pairs.sentence1[i] for i in rows],
                [pairs.sentence2[i] for i in rows],
                encoder,
                cache_dir,
                device=device,
            )
            y = pairs.score[rows]
        features[f"x_{split}"], features[f"y_{split}"] = np.ascontiguousarray(x), y
    return features


def train_stsb_point(spec: DirSpec, features: dict[str, np.ndarray], device: str) -> list[dict]:
    """Train every seed of `spec` in one pack; return one results row per model."""
    started = time.perf_counter()
    dtype = getattr(torch, str(spec.setting("dtype", "float32")))
    y_train = features["y_train"]
    x_train = torch.as_tensor(features["x_train"], dtype=dtype, device=device)
    y_train_t = torch.as_tensor(y_train, dtype=dtype, device=device)
    binning = class_binning(spec, y_train)
    method = None
    if spec.variant in ZOO_VARIANTS:
        method = MethodConfig(spec.variant, **spec.method_settings)
        # The scores at full precision: LDS, INV and FDS bin them (0.1-wide bins whose edges
        # the scores sit on; float32 scores move 1,289 of 5,249 pairs to another bin).
        y64 = torch.as_tensor(y_train, dtype=torch.float64, device=device)
        tasks = [
            _zoo_task(method, spec, x_train, y64, y_train, binning, seed) for seed in spec.seeds
        ]
    else:
        tasks = [
            packed_task(spec, x_train, y_train_t, y_train, binning, seed, variant=spec.variant)
            for seed in spec.seeds
        ]
    settings = TrainSettings(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        weight_decay=spec.weight_decay,
        dtype=str(spec.setting("dtype", "float32")),
        hidden=spec.hidden,
        optimizer=spec.optimizer,
        **({} if spec.momentum is None else {"momentum": spec.momentum}),
    )
    tracker = _BestOnVal(features, dtype, device, len(tasks))
    two_stage = method is not None and method.needs_distillation
    best_val = spec.model_selection == "best_val" and not two_stage
    trained = train_packed(tasks, settings, on_epoch=tracker.on_epoch if best_val else None)
    stage1, diverged_models = trained, trained.diverged
    if two_stage:  # predictions from the stage-2 heads; epochs and loss stay stage 1's
        trained = distill_method_models([method] * len(tasks), tasks, stage1, settings)
        diverged_models = diverged_models | trained.diverged
    wall = time.perf_counter() - started
    # Scores lie in [0, 5]: Yang et al.'s 50 bins of 0.1, a score of exactly 5.0 in the last one.
    num_bins = round(STSB_MAX / spec.shot_bin_width)
    counts = bin_counts(y_train, spec.shot_bin_width, num_bins)
    rows = []
    for index, seed in enumerate(spec.seeds):
        diverged = bool(diverged_models[index])
        best_epoch, predictions = None, None
        if not diverged:
            if best_val and tracker.best_epoch[index] is not None:
                preds = tracker.best_pred[index]
                best_epoch = tracker.best_epoch[index]
            else:
                preds = {s: tracker.predict(trained, s, index) for s in ("val", "test")}
                best_epoch = None if two_stage else int(stage1.epochs_trained[index])
            predictions = {s: (preds[s], features[f"y_{s}"]) for s in ("val", "test")}
        rows.append(
            model_row(
                spec,
                seed,
                status="diverged" if diverged else "ok",
                epochs_trained=int(stage1.epochs_trained[index]),
                best_epoch=best_epoch,
                final_train_loss=float(stage1.final_loss[index]),
                metrics=prediction_metrics(
                    predictions, counts, spec.shot_bin_width, num_bins=num_bins
                ),
                wall_time_s=wall / len(tasks),
                device=device,
                binning=binning,
            )
            | ({} if method is None else method_columns(method))
            | {"bmc_sigma_final": stage1.final_bmc_sigma(index)}
        )
    return rows


def _zoo_task(
    method: MethodConfig,
    spec: DirSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    y_np: np.ndarray,
    binning: ClassBinning | None,
    seed: int,
) -> ModelTask:
    """One zoo model: its classes (when it has any) are the spec's equal-width bins."""
    classes = {}
    if binning is not None:
        classes = {
            "edges": torch.as_tensor(binning.edges, dtype=x.dtype, device=x.device),
            "labels": torch.as_tensor(binning.labels(y_np), device=x.device),
        }
    lam = 1.0 if spec.lam is None else float(spec.lam)
    return build_method_task(
        method, x_train=x, y_train=y, seed=seed, lr=spec.lr, lam=lam, **classes
    )


class _BestOnVal:
    """After each epoch: every live model's validation MSE; keeps val/test predictions of its best
    epoch (the pack's weights are not copied, only 2 x 1,000 predictions per model)."""

    def __init__(self, features: dict, dtype: torch.dtype, device: str, count: int) -> None:
        self.x = {
            s: torch.as_tensor(features[f"x_{s}"], dtype=dtype, device=device)
            for s in ("val", "test")
        }
        self.y_val = features["y_val"]
        self.best_mse = [math.inf] * count
        self.best_epoch: list[int | None] = [None] * count
        self.best_pred: list[dict[str, np.ndarray] | None] = [None] * count

    def predict(self, state: TrainedModels, split: str, index: int) -> np.ndarray:
        return state.predict(self.x[split], index=index).double().cpu().numpy()

    def on_epoch(self, epoch: int, state: TrainedModels) -> None:
        for index in range(len(self.best_mse)):
            if bool(state.diverged[index]):
                continue
            val = self.predict(state, "val", index)
            mse = float(np.mean((val - self.y_val) ** 2))
            if math.isfinite(mse) and mse < self.best_mse[index]:
                self.best_mse[index] = mse
                self.best_epoch[index] = epoch + 1
                self.best_pred[index] = {"val": val, "test": self.predict(state, "test", index)}
