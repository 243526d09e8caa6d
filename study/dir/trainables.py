"""The Ray Tune function trainable of the real-data (DIR) studies, and its fallback rows.

A trial's config holds `spec` (one `DirSpec`, wrapped in a list so Tune's grid search treats it
as one value) and the execution settings (`device`, `threads`). STS-B-DIR trials also receive
the shared sentence features through `tune.with_parameters`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from ray import tune

from study.dir.spec import DirSpec, identity_fields
from study.trial_rows import RowFiles, report_rows

# Objective reported when no model of a trial finished: worse than any finite error here.
DIVERGED_OBJECTIVE = 1e9


def dir_trainable(config: dict, features: dict[str, np.ndarray] | None = None) -> None:
    """Train the trial's model(s); report the mean validation MSE and every model's row."""
    torch.set_num_threads(int(config.get("threads", 1)))
    spec = spec_of(config)
    device = config.get("device", "cpu")
    if spec.dataset == "stsb_dir":
        from study.dir.stsb import train_stsb_point

        rows = train_stsb_point(spec, features, device)
    elif spec.dataset == "breakfast":
        from study.dir.breakfast import train_breakfast_trial

        rows = train_breakfast_trial(spec, device)
    else:
        from study.dir.image import train_image_trial

        def report_epoch(epoch: int, history: dict[str, float]) -> None:
            if epoch < spec.epochs:  # the last epoch is reported with the rows below
                tune.report({"epoch": epoch, "val_mse": _objective(history.get("val_mse"))})

        rows = train_image_trial(spec, device, report_epoch)
    finite = [r["val_mse_all"] for r in rows if r.get("val_mse_all") is not None]
    # One metric: Tune keeps statistics of every reported number in its experiment state.
    metrics = {"val_mse": _objective(sum(finite) / len(finite) if finite else math.inf)}
    report_rows(metrics, {dir_identity(config): rows})


def spec_of(config: dict) -> DirSpec:
    return DirSpec.from_config(config["spec"][0])


def dir_identity(config: dict) -> tuple[str, str]:
    """(stage, key) naming the trial's Parquet file; stable across reruns of the same trial."""
    spec = spec_of(config)
    return spec.stage, spec.key


def dir_trial_name(config: dict) -> str:
    """A readable trial folder name: stage, dataset, variant, C, lambda, seeds."""
    spec = spec_of(config)
    parts = [spec.stage, spec.dataset, spec.variant]
    if spec.num_classes:
        parts.append(f"C{spec.num_classes}")
    if spec.lam is not None:
        parts.append(f"lam{spec.lam:.3g}")
    parts.append("seeds" + "_".join(str(s) for s in spec.seeds))
    return "-".join(parts)


def dir_fallback_rows(config: dict, status: str, error: str | None) -> RowFiles:
    """Row files for a trial that produced none: failed after retries, or stopped early."""
    spec = spec_of(config)
    return {
        dir_identity(config): [
            {
                **identity_fields(spec, seed),
                "status": status,
                "error": error,
                "epochs_trained": 0,
                "device": config.get("device", "cpu"),
            }
            for seed in spec.seeds
        ]
    }


def _objective(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else DIVERGED_OBJECTIVE
