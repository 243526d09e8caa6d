"""Validation of a pack's tasks: every field a task's objective uses is given, well-formed, and
nothing else is; one-line `ValueError`s that name the task and the field."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from regcls.objectives import Objective
from regcls.objectives.feature_smoothing import FDSConfig
from regcls.objectives.focal import FOCAL_ACTIVATIONS
from regcls.objectives.hierarchical import HCA_RULES
from regcls.training.tasks import ModelTask, TrainSettings


def check_tasks(tasks: Sequence[ModelTask], settings: TrainSettings) -> int:
    """Validate every task; return the common input width."""
    in_features = None
    for i, t in enumerate(tasks):
        if t.x_train.dim() != 2:
            raise ValueError(f"tasks[{i}].x_train: must be [N, in_features], got {t.x_train.shape}")
        n = t.x_train.shape[0]
        if in_features is None:
            in_features = t.x_train.shape[1]
        if t.x_train.shape[1] != in_features:
            raise ValueError(f"tasks[{i}].x_train: in_features must be {in_features} in a pack")
        if tuple(t.y_train.shape) != (n,):
            raise ValueError(f"tasks[{i}].y_train: must be [N] with N={n}")
        if settings.drop_last and n < settings.batch_size or n == 0:
            raise ValueError(f"tasks[{i}].x_train: needs at least batch_size={settings.batch_size}")
        if not (t.lr > 0 and math.isfinite(t.lr)):
            raise ValueError(f"tasks[{i}].lr: must be finite and > 0, got {t.lr}")
        decay = t.weight_decay
        if decay is not None and not (decay >= 0 and math.isfinite(decay)):
            raise ValueError(f"tasks[{i}].weight_decay: must be None or finite >= 0, got {decay}")
        _check_objective(f"tasks[{i}]", t, n)
    return int(in_features)


def _check_objective(where: str, t: ModelTask, n: int) -> None:
    """The task's objective exists and its fields are the ones that objective uses."""
    try:
        spec = t.objective_spec
    except ValueError as error:  # an unknown name; the message starts with "objective: "
        raise ValueError(f"{where}.{error}") from None
    name = repr(spec.name)
    if spec.uses_lam and not (t.lam >= 0 and math.isfinite(t.lam)):
        raise ValueError(f"{where}.lam: must be finite and >= 0 for {name}, got {t.lam}")
    _check_regression_fields(where, t, spec, n)
    if t.keep_prob is not None and not spec.keep:
        raise ValueError(f"{where}.keep_prob: objective {name} has no keep draws; give None")
    if spec.class_head != "soft" and t.soft_targets is not None:
        raise ValueError(f"{where}.soft_targets: objective {name} has no soft targets; give None")
    _check_extensions(where, t, spec)
    if spec.class_head is None:
        for field in ("labels", "class_centres"):
            if getattr(t, field) is not None:
                raise ValueError(f"{where}.{field}: objective {name} has no class head; give None")
        return
    if t.labels is None:
        raise ValueError(f"{where}.labels: objective {name} needs int64 labels [N]")
    if t.num_classes < 1:
        raise ValueError(f"{where}.num_classes: must be >= 1 with labels")
    if tuple(t.labels.shape) != (n,) or t.labels.dtype != torch.int64:
        raise ValueError(f"{where}.labels: must be int64 [N] with N={n}")
    if int(t.labels.min()) < 0 or int(t.labels.max()) >= t.num_classes:
        raise ValueError(f"{where}.labels: must lie in [0, {t.num_classes - 1}]")
    if spec.class_head == "soft":
        targets = t.soft_targets
        if targets is None or tuple(targets.shape) != (n, t.num_classes):
            raise ValueError(f"{where}.soft_targets: must be [N={n}, num_classes={t.num_classes}]")
        sums = targets.double().sum(1)
        if not bool(torch.isfinite(targets).all() & (targets >= 0).all()) or not bool(
            ((sums - 1).abs() <= 1e-6).all()
        ):
            raise ValueError(f"{where}.soft_targets: must be finite, >= 0, rows summing to 1")
    if spec.keep and t.keep_prob is None:
        raise ValueError(f"{where}.keep_prob: objective {name} needs keep probabilities [N]")
    if t.keep_prob is not None and tuple(t.keep_prob.shape) != (n,):
        raise ValueError(f"{where}.keep_prob: must be [N] with N={n}")
    centres = t.class_centres
    if centres is None and spec.prediction in ("class_expectation", "hca"):
        raise ValueError(f"{where}.class_centres: objective {name} predicts from class centres")
    if centres is not None and (
        tuple(centres.shape) != (t.num_classes,) or not bool(torch.isfinite(centres).all())
    ):
        raise ValueError(f"{where}.class_centres: must be finite [num_classes={t.num_classes}]")


def _check_regression_fields(where: str, t: ModelTask, spec: Objective, n: int) -> None:
    """Sample weights, Focal-R and BMC fields of the objectives that use them."""
    name = repr(spec.name)
    weight = t.sample_weight
    weighted = spec.sample_weight or spec.ce_sample_weight
    if not weighted and weight is not None:
        raise ValueError(f"{where}.sample_weight: objective {name} has no weights; give None")
    if weighted and (
        weight is None
        or tuple(weight.shape) != (n,)
        or not bool((torch.isfinite(weight) & (weight > 0)).all())
    ):
        raise ValueError(f"{where}.sample_weight: must be finite > 0 [N={n}] for {name}")
    if spec.regression_loss == "focal":
        if t.focal_activation not in FOCAL_ACTIVATIONS:
            raise ValueError(
                f"{where}.focal_activation: must be one of {FOCAL_ACTIVATIONS}, "
                f"got {t.focal_activation!r}"
            )
        if not (t.focal_beta > 0 and math.isfinite(t.focal_beta)):
            raise ValueError(f"{where}.focal_beta: must be finite and > 0, got {t.focal_beta}")
        if not (t.focal_gamma >= 0 and math.isfinite(t.focal_gamma)):
            raise ValueError(f"{where}.focal_gamma: must be finite and >= 0, got {t.focal_gamma}")
    if spec.regression_loss == "bmc":
        if not (t.bmc_sigma > 0 and math.isfinite(t.bmc_sigma)):
            raise ValueError(f"{where}.bmc_sigma: must be finite and > 0, got {t.bmc_sigma}")
        if t.bmc_sigma_learned and not (t.bmc_sigma_lr > 0 and math.isfinite(t.bmc_sigma_lr)):
            raise ValueError(f"{where}.bmc_sigma_lr: must be finite and > 0, got {t.bmc_sigma_lr}")


def _check_extensions(where: str, t: ModelTask, spec: Objective) -> None:
    """The hierarchical-head (hca) and FDS fields are given exactly when the objective uses
    them, with valid values."""
    name = repr(spec.name)
    if not spec.fds and t.fds is not None:
        raise ValueError(f"{where}.fds: objective {name} has no FDS; give None")
    if spec.fds and not isinstance(t.fds, FDSConfig):
        raise ValueError(f"{where}.fds: objective {name} needs an FDSConfig")
    if spec.prediction != "hca" and t.hca_rule is not None:
        raise ValueError(f"{where}.hca_rule: objective {name} has no HCA prediction; give None")
    if spec.prediction == "hca" and t.hca_rule not in HCA_RULES:
        raise ValueError(f"{where}.hca_rule: must be one of {HCA_RULES} for {name}")
    if spec.class_head != "hierarchical":
        if t.class_levels is not None:
            raise ValueError(
                f"{where}.class_levels: objective {name} has one class head; give None"
            )
        return
    levels = t.class_levels
    if levels is None:
        raise ValueError(f"{where}.class_levels: objective {name} needs int64 [H - 1, num_classes]")
    if levels.dim() != 2 or levels.shape[1] != t.num_classes or levels.dtype != torch.int64:
        raise ValueError(
            f"{where}.class_levels: must be int64 [H - 1, num_classes={t.num_classes}]"
        )
    steps = levels.diff(dim=1)
    if levels.shape[0] and not (
        bool((levels[:, 0] == 0).all()) and bool(((steps == 0) | (steps == 1)).all())
    ):
        raise ValueError(f"{where}.class_levels: each row must count up from 0 in steps of 0 or 1")
