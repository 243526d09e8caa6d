"""Train one 1D grid point across its replicates, packed, and turn every model into a results row.

This is the body of the Tune trainable, kept free of Ray so it can be tested and benchmarked on
its own.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import fields

import numpy as np
import torch

from regcls.data.binning import ClassBinning
from regcls.data.synthetic import (
    DataConfig,
    Dataset1D,
    authors_sine_functions,
    sine_functions,
)
from regcls.evaluation.l_extra import (
    SIGMA2_RULE,
    class_frequencies,
    l_extra_gauss,
    l_extra_softmax,
    target_histogram,
)
from regcls.evaluation.metrics import (
    SHOT_THRESHOLDS,
    accuracy,
    regression_metrics,
    scaled_shot_thresholds,
)
from regcls.models.mlp import torch_dtype
from regcls.training.packed import train_packed
from regcls.training.tasks import ModelTask, TrainedModels, TrainSettings
from search_spaces.optimizers import TUNED_HYPERPARAMETER
from study.class_tasks import class_binning, packed_task
from study.run_info import run_info
from study.synthetic_1d.dataset_cache import DatasetCache
from study.synthetic_1d.selection import LAMBDA_SELECTION, WEIGHT_DECAY_SELECTION
from study.synthetic_1d.trial_spec import TrialSpec
from study.synthetic_1d.zoo_models import method_row, with_second_stage, zoo_task
from study.variants import VARIANTS, is_zoo_variant

# Called after each epoch with (epoch, mean validation MSE over live models); True stops training.
EpochReport = Callable[[int, float], bool | None]

_METRIC_NAMES = ("mse", "mse_clean", "mae", "acc", "mse_many", "mse_medium", "mse_few")
# L_extra (Eq. 8-9) is measured where the paired comparisons are made: the test and noise stages.
_L_EXTRA_STAGES = ("test", "noise")
_L_EXTRA_COLUMNS = tuple(
    f"{split}_l_extra_{kind}" for split in ("train", "test") for kind in ("gauss", "softmax")
)
# Init seed offset of a variant's models under pair_init = "independent" (reg keeps `seed`).
_INIT_SEED_OFFSET = 3_000_017


def train_point(
    spec: TrialSpec,
    device: str = "cpu",
    report_epoch: EpochReport | None = None,
    cache: DatasetCache | None = None,
) -> list[dict]:
    """Train every replicate of `spec` in one pack; return one results row per model."""
    return train_points([spec], device, report_epoch, cache)[0]


def train_points(
    specs: list[TrialSpec],
    device: str = "cpu",
    report_epoch: EpochReport | None = None,
    cache: DatasetCache | None = None,
) -> list[list[dict]]:
    """Train the replicates of several grid points as one pack; rows per spec.

    The specs must share the training schedule (epochs, batch size, dtype, hidden widths,
    optimiser and momentum); lambda, learning rate, weight decay, class count and data may differ
    per model. Models on the same
    dataset version share it (drawn once, one set of training tensors); `cache`, when given,
    also shares the versions with the other packs of a trial.
    """
    schedules = {
        (s.epochs, s.batch_size, s.dtype, s.hidden, s.backend, s.optimizer, s.momentum)
        for s in specs
    }
    if len(schedules) != 1:
        raise ValueError(
            "specs: a pack needs one training schedule (epochs, batch, dtype, hidden, backend, "
            "optimizer, momentum)"
        )
    started = time.perf_counter()
    members = [(spec, f, seed) for spec in specs for f, seed in spec.replicates]
    cache = DatasetCache() if cache is None else cache
    configs = [data_config(spec, f, seed) for spec, f, seed in members]
    datasets = [cache.dataset(config) for config in configs]
    binnings = [
        class_binning(spec, data.y_train)
        for (spec, _, _), data in zip(members, datasets, strict=True)
    ]
    tensors = [
        cache.train_tensors(config, torch_dtype(spec.dtype), device)
        for (spec, _, _), config in zip(members, configs, strict=True)
    ]
    tasks = [
        _task(spec, data, train, binning, seed)
        for (spec, _, seed), data, train, binning in zip(
            members, datasets, tensors, binnings, strict=True
        )
    ]
    first = specs[0]
    settings = TrainSettings(
        epochs=first.epochs,
        batch_size=first.batch_size,
        weight_decay=first.weight_decay,
        dtype=first.dtype,
        hidden=first.hidden,
        backend=first.backend,
        optimizer=first.optimizer,
        **({} if first.momentum is None else {"momentum": first.momentum}),
    )
    on_epoch = _epoch_hook(datasets, report_epoch, device) if report_epoch else None
    trained = train_packed(tasks, settings, on_epoch=on_epoch)
    backend = trained.backend  # of the pack's (first-stage) training
    trained = with_second_stage(specs, tasks, trained, settings)  # hca-d: G_T after stage 1
    wall = time.perf_counter() - started
    info = run_info(device)
    rows: dict[str, list[dict]] = {spec.key: [] for spec in specs}
    for index, ((spec, f, seed), data, binning) in enumerate(
        zip(members, datasets, binnings, strict=True)
    ):
        row = _row(spec, f, seed, index, data, binning, trained, device)
        row.update(
            backend=backend,
            wall_time_s=wall / len(members),
            trial_wall_time_s=wall,
            models_in_pack=len(members),
            **info,
        )
        rows[spec.key].append(row)
    return [rows[spec.key] for spec in specs]


def data_config(spec: TrialSpec, function_id: int, seed: int) -> DataConfig:
    """The dataset version a replicate trains on (the repetition seed fixes it)."""
    return DataConfig(function_id=function_id, seed=seed, **dict(spec.data_fields))


def init_seed(spec: TrialSpec, seed: int) -> int:
    """The seed of a model's initial weights: `seed` for every model of a pair when
    `pair_init = shared`; under `independent`, an offset per variant and class count, so the
    models of a pair (and of one data set) start from different weights. A reg of its own
    (`reg_pairing = per_model`) is offset by its `pair_key` (as is its reg+cls under `shared`),
    so every pair is trained from another seed, as in the authors' runs."""
    own = _pair_offset(spec.pair_key)
    if spec.pair_init == "shared" or spec.variant == "reg":
        return seed + own
    return seed + _INIT_SEED_OFFSET * VARIANTS.index(spec.variant) + (spec.num_classes or 0)


def _pair_offset(pair_key: str) -> int:
    """A stable offset per pair key (0 for the shared reg's pairs)."""
    if not pair_key:
        return 0
    digest = hashlib.sha256(pair_key.encode()).digest()
    return _INIT_SEED_OFFSET + int.from_bytes(digest[:3], "big")


def _task(
    spec: TrialSpec,
    data: Dataset1D,
    train: tuple[torch.Tensor, torch.Tensor],
    binning: ClassBinning | None,
    seed: int,
) -> ModelTask:
    x, y = train  # the version's training tensors (float32 data and weights for "bfloat16")
    if is_zoo_variant(spec.variant):
        labels = None
        if binning is not None:
            labels = torch.as_tensor(binning.labels(data.y_train), device=x.device)
        # The float64 targets: LDS, INV and FDS bin them (the trainer casts what it trains on).
        y64 = torch.as_tensor(data.y_train, dtype=torch.float64, device=x.device)
        return zoo_task(spec, x, y64, binning, labels, seed, init_seed(spec, seed))
    return packed_task(
        spec,
        x,
        y,
        data.y_train,
        binning,
        seed,
        variant=spec.variant,
        weight_decay=spec.weight_decay,
        init_seed=init_seed(spec, seed),
    )


def _epoch_hook(datasets: list[Dataset1D], report: EpochReport, device: str):
    """Mean validation MSE over the pack after each epoch, for ASHA."""
    x_val = [torch.as_tensor(d.x_val, device=device).unsqueeze(1) for d in datasets]
    y_val = [d.y_val for d in datasets]

    def on_epoch(epoch: int, state: TrainedModels) -> bool | None:
        errors = []
        for index, (x, y) in enumerate(zip(x_val, y_val, strict=True)):
            if bool(state.diverged[index]):
                continue
            pred = state.predict(x.to(_param_dtype(state)), index=index)
            errors.append(float(np.mean((pred.double().cpu().numpy() - y) ** 2)))
        return report(epoch, float(np.mean(errors)) if errors else math.inf)

    return on_epoch


def _param_dtype(state: TrainedModels) -> torch.dtype:
    return next(iter(state.params[0].values())).dtype


def _evaluate(
    spec: TrialSpec,
    index: int,
    data: Dataset1D,
    binning: ClassBinning | None,
    trained: TrainedModels,
    device: str,
) -> dict[str, float | None]:
    dtype = _param_dtype(trained)
    values: dict[str, float | None] = {}
    for split in ("val", "test"):
        x = torch.as_tensor(getattr(data, f"x_{split}"), dtype=dtype, device=device).unsqueeze(1)
        target = getattr(data, f"y_{split}")
        pred = trained.predict(x, index=index).double().cpu().numpy()
        metrics = regression_metrics(
            pred,
            target,
            getattr(data, f"y_{split}_clean"),
            data.y_train,
            spec.shot_bins,
            shot_thresholds(spec, len(data.y_train)),
        )
        metrics["acc"] = None
        if binning is not None:
            # The finest level: hierarchical heads (HCA) append their coarse levels after it. The
            # arg-max of the model's own dtype is that of float64 (an exact cast), at less memory.
            logits = trained.class_logits(x, index=index)[:, : binning.num_classes].cpu().numpy()
            metrics["acc"] = accuracy(logits, binning.labels(target))
        for name in _METRIC_NAMES:
            values[f"{split}_{name}"] = _finite_or_none(metrics[name])
    x_train = torch.as_tensor(data.x_train, dtype=dtype, device=device).unsqueeze(1)
    pred_train = trained.predict(x_train, index=index).double().cpu().numpy()
    train_mse = float(np.mean((pred_train - data.y_train) ** 2))
    values["train_mse"] = _finite_or_none(train_mse)
    if spec.stage in _L_EXTRA_STAGES:
        values.update(_l_extra(spec, index, data, binning, trained, device, train_mse))
    return values


def shot_thresholds(spec: TrialSpec, n_train: int) -> tuple[float, float]:
    """(many, few) training samples per bin of the per-shot metrics under `spec.shot_rule`."""
    if spec.shot_rule == "scaled":
        return scaled_shot_thresholds(n_train, spec.shot_bins)
    return SHOT_THRESHOLDS


def _l_extra(
    spec: TrialSpec,
    index: int,
    data: Dataset1D,
    binning: ClassBinning | None,
    trained: TrainedModels,
    device: str,
    sigma2: float,
) -> dict[str, float | None]:
    """L_extra (Eq. 8, and Eq. 9 for models with a class head) on the training and test sets,
    each on its first `l_extra_samples` samples of a fixed permutation; sigma^2 of Eq. 8 is the
    model's own training MSE (`SIGMA2_RULE`), given as `sigma2`."""
    prior = target_histogram(data.y_train, spec.l_extra_bins, spec.l_extra_pseudo_count)
    dtype = _param_dtype(trained)
    out: dict[str, float | None] = dict.fromkeys(_L_EXTRA_COLUMNS)
    if not (math.isfinite(sigma2) and sigma2 > 0):
        return out
    class_prior = None
    if binning is not None:
        train_labels = binning.labels(data.y_train)
        class_prior = class_frequencies(
            train_labels, binning.num_classes, spec.l_extra_pseudo_count
        )
    for split in ("train", "test"):
        x_all, y_all = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        keep = _subsample(len(y_all), spec.l_extra_samples)
        x = torch.as_tensor(x_all[keep], dtype=dtype, device=device).unsqueeze(1)
        pred = trained.predict(x, index=index).double().cpu().numpy()
        out[f"{split}_l_extra_gauss"] = _finite_or_none(
            l_extra_gauss(pred, y_all[keep], prior, sigma2)
        )
        if class_prior is not None:
            logits = trained.class_logits(x, index=index).double()[:, : binning.num_classes]
            log_probs = torch.log_softmax(logits, dim=-1).cpu().numpy()
            out[f"{split}_l_extra_softmax"] = _finite_or_none(
                l_extra_softmax(log_probs, binning.labels(y_all[keep]), class_prior)
            )
    return out


def _subsample(n: int, count: int) -> np.ndarray:
    """The first `count` indices of a fixed permutation of range(n) (all when n <= count)."""
    order = np.random.default_rng(0).permutation(n)
    return np.sort(order[: min(n, count)])


def _row(
    spec: TrialSpec,
    function_id: int,
    seed: int,
    index: int,
    data: Dataset1D,
    binning: ClassBinning | None,
    trained: TrainedModels,
    device: str,
) -> dict:
    diverged = bool(trained.diverged[index])
    empty = {f"{s}_{m}": None for s in ("val", "test") for m in _METRIC_NAMES}
    empty.update(dict.fromkeys(("train_mse", *_L_EXTRA_COLUMNS)))
    metrics = (
        empty if diverged else {**empty, **_evaluate(spec, index, data, binning, trained, device)}
    )
    many, few = shot_thresholds(spec, len(data.y_train))
    return {
        **identity_fields(spec, function_id, seed),
        "peak_center": data.peak_center,
        "n_train": int(len(data.y_train)),
        "shot_many": float(many),
        "shot_few": float(few),
        "effective_classes": None if binning is None else int(binning.num_classes),
        "status": "diverged" if diverged else "ok",
        "error": None,
        "epochs_trained": int(trained.epochs_trained[index]),
        "final_train_loss": _finite_or_none(float(trained.final_loss[index])),
        "bmc_sigma_final": trained.final_bmc_sigma(index),
        **metrics,
    }


def identity_fields(spec: TrialSpec, function_id: int, seed: int) -> dict:
    """The config columns of a row; enough to write a `failed` row without training."""
    # Protocol constants, read without building (and validating) a DataConfig, so that a trial
    # whose config is invalid can still be recorded as failed.
    defaults = {f.name: f.default for f in fields(DataConfig)}
    return {
        "row_key": f"{spec.key}-{function_id}-{seed}",
        "trial_key": spec.key,
        "config_hash": spec.key,
        "study": spec.study,
        "stage": spec.stage,
        "search": spec.search,
        "flip": spec.flip,
        "scenario": spec.scenario,
        "sampling": spec.sampling,
        "noise_sigma": spec.noise_sigma,
        "noise_distribution": spec.noise_distribution,
        "function_id": function_id,
        "seed": seed,
        "total_samples": spec.total_samples,
        "peak_share": spec.peak_share,
        "function_set": spec.function_set,
        "peak_bins": spec.peak_bins,
        "validation_sampling": spec.validation_sampling,
        "shot_rule": spec.shot_rule,
        **_coefficients(spec.function_set, function_id),
        "balance_bins": defaults["balance_bins"],
        "function_seed": defaults["function_seed"],
        "variant": spec.variant,
        "class_mode": spec.class_mode,
        "num_classes": spec.num_classes,
        "lam": spec.lam,
        "lr": spec.lr,
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "weight_decay": spec.weight_decay,
        "optimizer": spec.optimizer,
        "momentum": spec.momentum,
        "tuned_hyperparameter": (
            TUNED_HYPERPARAMETER[spec.optimizer] if spec.variant == "reg-tuned" else None
        ),
        "dtype": spec.dtype,
        "hidden": ",".join(str(h) for h in spec.hidden),
        "lambda_source": spec.lambda_source,
        "equalize_rounding": spec.equalize_rounding,
        "shot_bins": spec.shot_bins,
        "lambda_selection": LAMBDA_SELECTION,
        "weight_decay_selection": WEIGHT_DECAY_SELECTION if spec.variant == "reg-tuned" else None,
        "pair_init": spec.pair_init,
        "reg_pairing": spec.reg_pairing,
        "pair_key": spec.pair_key,
        "init_seed": init_seed(spec, seed),
        "l_extra_bins": spec.l_extra_bins,
        "l_extra_pseudo_count": spec.l_extra_pseudo_count,
        "l_extra_samples": spec.l_extra_samples,
        "l_extra_sigma2": SIGMA2_RULE,
        **method_row(spec),  # the zoo variants' hyperparameters (None where unused)
    }


def _coefficients(function_set: str, function_id: int) -> dict[str, float | int | None]:
    """a, b, c, d of f(x) = a sin(cx) + b sin(dx) (Eq. 14); None for an unknown function, so a
    trial with a bad config can still be recorded as failed."""
    if function_set not in ("paper", "authors") or not 0 <= function_id < 10:
        return dict.fromkeys("abcd")
    functions = authors_sine_functions() if function_set == "authors" else sine_functions()
    f = functions[function_id]
    return {"a": f.a, "b": f.b, "c": int(f.c), "d": int(f.d)}


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
