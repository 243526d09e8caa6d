"""Ray Tune function trainables of the 1D study.

A Tune trial trains a bundle: one or more packs, each a list of `TrialSpec`s trained together as
one packed program (`train_points`). The bundles reach the trial through `tune.with_parameters`
(Ray's object store), so a trial's Tune config is only its bundle id and the execution settings
(`device`, `threads`, `report_every`); Tune's experiment state stays small. The Optuna search adds
sampled `lam` and `lr`, which replace the placeholders of every spec.

The packs of a trial share one `DatasetCache`: each dataset version is drawn once per trial.
Each pack's rows become one Parquet file named by `pack_identity` (a grid point's own key, or for
a pack of several specs a hash of their keys), so bundling changes no file and no row.
"""

from __future__ import annotations

import hashlib
import math

import torch
from ray import tune

from study.synthetic_1d.dataset_cache import DatasetCache
from study.synthetic_1d.point import identity_fields, train_points
from study.synthetic_1d.trial_spec import TrialSpec
from study.trial_rows import RowFiles, report_rows

# Objective reported when every model of a trial diverged: worse than any finite MSE here.
DIVERGED_OBJECTIVE = 1e9
# bundle id -> its packs, each a list of spec configs (`TrialSpec.to_config`)
Bundles = dict[str, list[list[dict]]]


def synthetic_1d_trainable(config: dict, bundles: Bundles) -> None:
    """Train the trial's packs; report the mean validation MSE, attach every model's row."""
    torch.set_num_threads(int(config.get("threads", 1)))
    packs = packs_of(config, bundles)
    every = int(config.get("report_every", 0))
    epochs = packs[0][0].epochs

    def report_epoch(epoch: int, val_mse: float) -> None:
        # Intermediate reports (for ASHA) only from one-pack trials: their epochs are the trial's.
        if every and (epoch + 1) % every == 0 and epoch + 1 < epochs:
            tune.report({"val_mse": _objective(val_mse), "epoch": epoch + 1})

    files: RowFiles = {}
    cache = DatasetCache()  # the bundle's packs draw each dataset version once
    for pack in packs:
        hook = report_epoch if len(packs) == 1 else None
        groups = train_points(pack, config.get("device", "cpu"), hook, cache)
        files[pack_identity(pack)] = [row for group in groups for row in group]
    finite = [r["val_mse"] for rows in files.values() for r in rows if r["val_mse"] is not None]
    # One metric: Tune keeps statistics of every reported number in its experiment state.
    report_rows({"val_mse": _objective(sum(finite) / len(finite) if finite else math.inf)}, files)


def packs_of(config: dict, bundles: Bundles) -> list[list[TrialSpec]]:
    """The trial's packs, with the search's sampled lambda and lr applied when present."""
    sampled = {k: float(config[k]) for k in ("lam", "lr") if k in config}
    packs = [[TrialSpec.from_config(c) for c in pack] for pack in bundles[config["bundle"]]]
    if sampled:
        packs = [[s.with_values(**sampled) for s in pack] for pack in packs]
    return packs


def pack_identity(specs: list[TrialSpec]) -> tuple[str, str]:
    """(stage, key) naming a pack's Parquet file; stable across reruns of the same pack."""
    if len(specs) == 1:
        return specs[0].stage, specs[0].key
    joined = ",".join(s.key for s in specs)
    return specs[0].stage, hashlib.sha256(joined.encode()).hexdigest()[:16]


def fallback_rows(config: dict, status: str, error: str | None, *, bundles: Bundles) -> RowFiles:
    """Row files for a trial that produced none: failed after retries, or stopped early."""
    files: RowFiles = {}
    for pack in packs_of(config, bundles):
        models = sum(len(s.replicates) for s in pack)
        files[pack_identity(pack)] = [
            {
                **identity_fields(spec, function_id, seed),
                "status": status,
                "error": error,
                "epochs_trained": 0,
                "models_in_pack": models,
                "device": config.get("device", "cpu"),
            }
            for spec in pack
            for function_id, seed in spec.replicates
        ]
    return files


def bundle_name(index: int, packs: list[list[TrialSpec]]) -> str:
    """A bundle's id, readable as a trial folder name: its number, then the stage, scenario,
    sampling, variant, C, lambda and replicates of its first pack."""
    first = packs[0][0]
    parts = [f"b{index:03d}", first.stage, first.scenario, first.sampling, first.variant]
    if first.num_classes:
        parts.append(f"C{first.num_classes}")
    if first.lam is not None and first.stage != "optuna":
        parts.append(f"lam{first.lam:.3g}")
    function_id, seed = first.replicates[0]
    parts.append(f"f{function_id}s{seed}x{len(first.replicates)}")
    others = sum(len(pack) for pack in packs) - 1
    if others:
        parts.append(f"and{others}more")
    return "-".join(parts)


def trial_name(config: dict) -> str:
    """A trial's folder name: its bundle's id, and the sampled lambda and lr of a search.

    Module-level and reading only the config: Tune stores this function with every trial."""
    name = str(config["bundle"])
    for field in ("lam", "lr"):
        if field in config:
            name += f"-{field}{float(config[field]):.3g}"
    return name


def _objective(value: float) -> float:
    return value if math.isfinite(value) else DIVERGED_OBJECTIVE
