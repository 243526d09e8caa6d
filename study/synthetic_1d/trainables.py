"""Ray Tune function trainables of the 1D study.

A trial's config holds `specs` (one grid point, or several packed together) and the execution
settings (`device`, `threads`, `report_every`). The Optuna search adds sampled `lam` and `lr`,
which replace the placeholders of every spec.
"""

from __future__ import annotations

import hashlib
import math

import torch
from ray import tune

from study.synthetic_1d.point import identity_fields, train_points
from study.synthetic_1d.trial_spec import TrialSpec

# Objective reported when every model of a trial diverged: worse than any finite MSE here.
DIVERGED_OBJECTIVE = 1e9


def synthetic_1d_trainable(config: dict) -> None:
    """Train the trial's grid point(s) packed; report validation MSE and every model's row."""
    torch.set_num_threads(int(config.get("threads", 1)))
    specs = specs_of(config)
    stage, key = trial_identity(config)
    every = int(config.get("report_every", 0))
    epochs = specs[0].epochs

    def report_epoch(epoch: int, val_mse: float) -> None:
        if every and (epoch + 1) % every == 0 and epoch + 1 < epochs:
            tune.report({"val_mse": _objective(val_mse), "epoch": epoch + 1, "trial_key": key})

    rows = [
        row
        for group in train_points(specs, config.get("device", "cpu"), report_epoch)
        for row in group
    ]
    finite = [r["val_mse"] for r in rows if r["val_mse"] is not None]
    tune.report(
        {
            "val_mse": _objective(sum(finite) / len(finite) if finite else math.inf),
            "epoch": epochs,
            "trial_key": key,
            "stage": stage,
            "models": len(rows),
            "rows": rows,
        }
    )


def specs_of(config: dict) -> list[TrialSpec]:
    """The trial's specs, with the search's sampled lambda and lr applied when present."""
    specs = [TrialSpec.from_config(c) for c in config["specs"]]
    sampled = {k: float(config[k]) for k in ("lam", "lr") if k in config}
    return [s.with_values(**sampled) for s in specs] if sampled else specs


def trial_identity(config: dict) -> tuple[str, str]:
    """(stage, key) naming the trial's Parquet file; stable across reruns of the same trial."""
    specs = specs_of(config)
    if len(specs) == 1:
        return specs[0].stage, specs[0].key
    joined = ",".join(s.key for s in specs)
    return specs[0].stage, hashlib.sha256(joined.encode()).hexdigest()[:16]


def fallback_rows(config: dict, status: str, error: str | None) -> list[dict]:
    """Rows for a trial that produced none: failed after retries, or stopped early."""
    specs = specs_of(config)
    pack = sum(len(s.replicates) for s in specs)
    return [
        {
            **identity_fields(spec, function_id, seed),
            "status": status,
            "error": error,
            "epochs_trained": 0,
            "models_in_pack": pack,
            "device": config.get("device", "cpu"),
        }
        for spec in specs
        for function_id, seed in spec.replicates
    ]


def _objective(value: float) -> float:
    return value if math.isfinite(value) else DIVERGED_OBJECTIVE
