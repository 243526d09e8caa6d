"""The method zoo's models in a 1D pack: a `TrialSpec`'s `MethodConfig`, its `ModelTask`, the
hyperparameter columns of its rows, and HCA-d's second stage.

`method_config` resolves the hyperparameters a zoo variant leaves to the trial (`hca_heads`
None: the paper's smallest H with C <= 2^H; `distill_epochs` None: ceil(0.2 E)) to the values
trained with, so every row records the number used, never None for a variant that uses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from regcls.data.binning import ClassBinning
from regcls.data.hierarchy import default_num_heads
from regcls.methods import (
    METHODS,
    MethodConfig,
    build_method_task,
    distill_method_models,
    method_columns,
)
from regcls.training.distillation import DistilledModels, distill_epochs
from regcls.training.tasks import ModelTask, TrainedModels, TrainSettings
from study.synthetic_1d.trial_spec import TrialSpec
from study.variants import is_zoo_variant

# The hyperparameter columns of every 1D row (MethodConfig's fields but `variant`).
METHOD_COLUMNS = tuple(f.name for f in fields(MethodConfig) if f.name != "variant")


def method_config(spec: TrialSpec) -> MethodConfig:
    """The spec's variant with its `method_params`, defaults resolved to the trained values."""
    config = MethodConfig(spec.variant, **dict(spec.method_params))
    groups = METHODS[spec.variant].groups
    changes: dict[str, object] = {}
    if "hca" in groups and config.hca_heads is None and spec.num_classes is not None:
        changes["hca_heads"] = default_num_heads(spec.num_classes)
    if "distill" in groups and config.distill_epochs is None:
        changes["distill_epochs"] = distill_epochs(spec.epochs)
    return MethodConfig(**{**_values(config), **changes}) if changes else config


def method_row(spec: TrialSpec) -> dict[str, object]:
    """The hyperparameter columns of a row: `method_columns` of a zoo variant (and of reg,
    reg+cls), None everywhere for the paper's other variants and the controls, and for a spec
    whose method config is invalid (its failed row is still written)."""
    empty: dict[str, object] = dict.fromkeys(METHOD_COLUMNS)
    if spec.variant not in METHODS:
        return empty
    try:
        columns = method_columns(method_config(spec))
    except ValueError:  # an invalid config: its trial fails and records why
        return empty
    return {name: columns[name] for name in METHOD_COLUMNS}


def zoo_task(
    spec: TrialSpec,
    x: torch.Tensor,
    y: torch.Tensor,
    binning: ClassBinning | None,
    labels: torch.Tensor | None,
    seed: int,
    init_seed: int,
) -> ModelTask:
    """The `ModelTask` of a zoo variant's model on (x, y) (`build_method_task`); class variants
    take the edges of `binning` (the paper's equal-width classes) and `labels`."""
    if not is_zoo_variant(spec.variant):
        raise ValueError(f"variant: {spec.variant!r} is not a zoo variant")
    edges = None
    if binning is not None:
        edges = torch.as_tensor(binning.edges, dtype=torch.float64)
    return build_method_task(
        method_config(spec),
        x_train=x,
        y_train=y,
        seed=seed,
        lr=spec.lr,
        lam=1.0 if spec.lam is None else float(spec.lam),
        edges=edges,
        labels=labels,
        weight_decay=spec.weight_decay,
        init_seed=init_seed,
    )


def with_second_stage(
    specs: Sequence[TrialSpec],
    tasks: Sequence[ModelTask],
    trained: TrainedModels,
    settings: TrainSettings,
) -> TrainedModels | DistilledPack:
    """`trained` as it is, or for a pack of `hca-d` models the pack after HCA-d's stage 2
    (`distill_method_models`); a pack mixing hca-d with other variants is an error."""
    two_stage = [spec.variant == "hca-d" for spec in specs]
    if not any(two_stage):
        return trained
    if not all(two_stage):
        raise ValueError("variant: an hca-d pack holds only hca-d specs (one stage-2 schedule)")
    configs = [method_config(spec) for spec in specs for _ in spec.replicates]
    return DistilledPack(trained, distill_method_models(configs, tasks, trained, settings))


@dataclass
class DistilledPack:
    """HCA-d models seen as the `TrainedModels` a 1D row reads: predictions and class logits
    from G_T (stage 2), parameters from stage 1, diverged if either stage diverged, epochs of
    both stages, the final loss of stage 2."""

    stage1: TrainedModels
    stage2: DistilledModels

    @property
    def params(self) -> Sequence[dict[str, torch.Tensor]]:
        return self.stage1.params

    @property
    def diverged(self) -> torch.Tensor:
        return self.stage1.diverged | self.stage2.diverged

    @property
    def epochs_trained(self) -> torch.Tensor:
        return self.stage1.epochs_trained + self.stage2.epochs_trained

    @property
    def final_loss(self) -> torch.Tensor:
        return self.stage2.final_loss

    def predict(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        return self.stage2.predict(x, index)

    def final_bmc_sigma(self, index: int) -> float | None:
        return None  # HCA-d has no Balanced MSE term

    def class_logits(self, x: torch.Tensor, index: int) -> torch.Tensor:
        return self.stage2.student_logits(x, index)


def _values(config: MethodConfig) -> dict[str, object]:
    return {f.name: getattr(config, f.name) for f in fields(MethodConfig)}
