"""The studied variants (issue 10's regression-by-classification family, HCA and FDS) as typed
method configs.

`MethodConfig` names a variant and carries every hyperparameter of the family with its default
(validated once here); `method_columns` gives the values to record in each results row (None
where the variant does not use them); `build_method_task` turns a config and one training set into
the `ModelTask` the packed trainer runs, computing the static per-sample weights
(`regcls.data.reweighting`) and soft targets (`regcls.data.soft_targets`) from `y_train` once.

Variants and their sources (definitions: `related_methods_digest.md`):

- `reg`, `reg+cls`: the core paper's `MSE` and `lam * MSE + CE` (Eq. 4), for the pairing.
- `reg-lds`: MSE weighted by the inverse (`lds_inverse="inverse"`) or square-root inverse
  (`"sqrt_inv"`) LDS-smoothed label density (Yang et al. 2021, Eq. 1; the authors' code for the
  window and the sqrt-before-smoothing order); `lds_bins` equal-width bins over
  [min y_train, max y_train]. Defaults: the paper's gaussian, size 5, sigma 2, `sqrt_inv`.
- `reg-focal`: Focal-R (Yang et al.'s code): `e^2 * a(|e|)^gamma`, beta 0.2, gamma 1, sigmoid.
- `reg-bmc`: Balanced MSE, batch Monte-Carlo (Ren et al. 2022): sigma fixed at `bmc_sigma`, or
  learned from that init (`bmc_sigma_learned`) by Adam with its own lr `bmc_sigma_lr` and no
  weight decay (Ren et al. add it as a param group of an Adam without decay).
- `reg-denseweight`: DenseWeight (Steininger et al. 2021), alpha and the KDE bandwidth rule.
- `reg+hlgauss`: `lam * MSE + CE` against HL-Gauss targets (Farebrother et al. 2024) on the class
  bins, sigma = `hlgauss_sigma_ratio` x the mean bin width (range / C; the bin width for
  equal-width bins); predicts with the regression head: an auxiliary HL-Gauss loss (ours).
- `hlgauss`: HL-Gauss as published (Imani & White 2018; Farebrother et al. 2024, Sec. 3, App. A
  `transform_to_probs` / `transform_from_probs`): the CE against the same targets alone, no
  regression term; prediction = the expectation of the bin centres (midpoints of the class
  edges unless `class_centres` is given) under the softmax.
- `reg-inv`: Yang et al. 2021's INV baseline (Sec. 4; their STS-B `--reweight inverse`): MSE
  weighted by 1 / count of the sample's bin, `lds_bins` equal-width bins over the training
  range, no smoothing, no clip; records `lds_bins` only.
- `reg-inv+fds`: `reg-inv` with FDS (their "INV + FDS"; `fds_*` as `reg-fds`).
- `reg+softlabel`: `lam * MSE + CE` against paper 004's symmetric descending soft labels over the
  classes as groups (`softmax(G - beta |i - g|)`, Eq. 1 and 4); the regression head is the
  model's single head (004's multi-head regressor and its contrastive stage are not part of it).
- `reg-lds+cls`: `reg+cls` whose MSE term carries the LDS weights (HCA Table 5's "CLS+LDS" on
  the core paper's Eq. 4).
- `hca`: HCA (Xiong & Yao 2024): hierarchical class heads trained with the summed CE (Eq. 6), no
  regression term; prediction = the class mean (`regcls.data.hierarchy.class_means`, the default
  class centres) of the HCA-add (`hca_rule="add"`, Eq. 7) or HCA-mul (`"mul"`, Eq. 8) adjusted
  argmax. `hca_heads` = H, the number of levels (None: the paper's smallest H with C <= 2^H);
  the coarse levels are E-Num (`regcls.data.hierarchy.hierarchy_levels`).
- `hca+lds`: `hca` whose every level's CE carries the LDS weights of the sample (HCA Table 5's
  "+LDS" re-weights the classification losses; the LDS bins are `lds_bins` equal-width bins over
  the training targets, as for `reg-lds`, not the class bins).
- `reg+hca`: `lam * MSE + sum_h CE_h`, regression prediction (the digest's adaptation of HCA to
  the reg + cls platform, not the paper); records `hca_heads`, not `hca_rule`.
- `reg-fds`: MSE on FDS-calibrated features (Yang et al. 2021); every `FDSConfig` field is a
  `fds_*` column (defaults: the authors' code).
- `hca-d`: HCA-d, two stages: stage 1 is an `hca` model (packed like any other; `hca_rule` only
  sets stage 1's own prediction and is recorded as None), stage 2 (`distill_method_models`,
  `regcls.training.distillation`) trains G_T on the frozen stage-1 model for `distill_epochs` epochs
  (None: ceil(0.2 x stage-1 epochs)). `MethodConfig.needs_distillation` says which configs need it.

Packs: `split_packs` groups configs so soft-target heads (`reg+hlgauss`, `reg+softlabel`) and
hierarchical heads (`hca*`, `reg+hca`) never share a pack; every other variant joins either.

A new variant is a `METHODS` entry: its objective name, the hyperparameter groups it records and
a builder adding its `ModelTask` fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from regcls.data.hierarchy import class_means, hierarchy_levels
from regcls.data.reweighting import (
    LDS_INVERSES,
    LDS_KERNELS,
    denseweight_weights,
    inverse_weights,
    lds_weights,
)
from regcls.data.soft_targets import SOFTLABEL_FORMS, hl_gauss_targets, soft_group_targets
from regcls.objectives import OBJECTIVES, head_group
from regcls.objectives.feature_smoothing import FDSConfig
from regcls.objectives.focal import FOCAL_ACTIVATIONS
from regcls.objectives.hierarchical import HCA_RULES
from regcls.training.distillation import DistilledModels, train_distillation
from regcls.training.tasks import ModelTask, TrainedModels, TrainSettings

DENSEWEIGHT_BANDWIDTHS = ("silverman", "scott")


@dataclass(frozen=True)
class MethodConfig:
    """One variant and its hyperparameters (those of other variants are ignored, and recorded as
    None by `method_columns`)."""

    variant: str
    lds_kernel: str = "gaussian"  # LDS_KERNELS
    lds_size: int = 5  # odd kernel window size (bins)
    lds_sigma: float = 2.0
    lds_inverse: str = "sqrt_inv"  # LDS_INVERSES
    lds_bins: int = 100  # equal-width bins over the training target range
    focal_beta: float = 0.2
    focal_gamma: float = 1.0
    focal_activation: str = "sigmoid"  # FOCAL_ACTIVATIONS
    # Ren et al.'s code (imdb-wiki-dir/train.py): --init_noise_sigma 1.0, learned unless
    # --fix_noise_sigma, --sigma_lr 1e-2 (its own param group of the model's optimiser).
    bmc_sigma: float = 1.0  # the noise sigma (target units), the init when learned
    bmc_sigma_learned: bool = True  # sigma trained with the model (Ren et al.'s BMCLoss)
    bmc_sigma_lr: float = 1e-2  # learning rate of a learned sigma
    denseweight_alpha: float = 1.0
    denseweight_bandwidth: str = "silverman"  # DENSEWEIGHT_BANDWIDTHS (SciPy's rules)
    hlgauss_sigma_ratio: float = 0.75  # sigma / bin width ("Stop regressing" default)
    softlabel_beta: float = 1.0  # decrease per group of distance (004: "e.g. beta = 1")
    softlabel_form: str = "symmetric"  # SOFTLABEL_FORMS
    hca_rule: str = "add"  # HCA_RULES: HCA-add (Eq. 7) or HCA-mul (Eq. 8)
    hca_heads: int | None = None  # H levels; None: the paper's smallest H with C <= 2^H
    # FDS (FDSConfig's fields and defaults: the authors' code).
    fds_bins: int = 100
    fds_kernel: str = "gaussian"
    fds_ks: int = 5
    fds_sigma: float = 2.0
    fds_momentum: float = 0.9
    fds_start_update: int = 0
    fds_start_epoch: int = 1
    fds_clip_min: float = 0.1
    fds_clip_max: float = 10.0
    fds_stats_from: str = "calibrated"
    fds_empty_bins: str = "neighbours"
    distill_epochs: int | None = None  # hca-d stage 2; None: ceil(0.2 x stage-1 epochs)

    def __post_init__(self) -> None:
        _one_of("variant", self.variant, tuple(METHODS))
        _one_of("lds_kernel", self.lds_kernel, LDS_KERNELS)
        _one_of("lds_inverse", self.lds_inverse, LDS_INVERSES)
        _one_of("focal_activation", self.focal_activation, FOCAL_ACTIVATIONS)
        _one_of("denseweight_bandwidth", self.denseweight_bandwidth, DENSEWEIGHT_BANDWIDTHS)
        _one_of("softlabel_form", self.softlabel_form, SOFTLABEL_FORMS)
        if not isinstance(self.bmc_sigma_learned, bool):
            raise ValueError(f"bmc_sigma_learned: must be a bool, got {self.bmc_sigma_learned!r}")
        if not (isinstance(self.lds_size, int) and self.lds_size >= 1 and self.lds_size % 2):
            raise ValueError(f"lds_size: must be an odd int >= 1, got {self.lds_size!r}")
        if not (isinstance(self.lds_bins, int) and self.lds_bins >= 1):
            raise ValueError(f"lds_bins: must be an int >= 1, got {self.lds_bins!r}")
        for name in ("lds_sigma", "focal_beta", "bmc_sigma", "bmc_sigma_lr", "hlgauss_sigma_ratio"):
            _positive(name, getattr(self, name))
        for name in ("focal_gamma", "denseweight_alpha", "softlabel_beta"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name}: must be finite and >= 0, got {value}")
        _one_of("hca_rule", self.hca_rule, HCA_RULES)
        for name in ("hca_heads", "distill_epochs"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 1
            ):
                raise ValueError(f"{name}: must be None or an int >= 1, got {value!r}")
        self.fds_config()  # validates the fds_* fields

    def fds_config(self) -> FDSConfig:
        """The `fds_*` fields as the trainer's `FDSConfig`."""
        values = {f.name: getattr(self, f"fds_{f.name}") for f in fields(FDSConfig)}
        try:
            return FDSConfig(**values)
        except ValueError as error:  # "fds.kernel: ..." -> "fds_kernel: ..."
            raise ValueError(str(error).replace("fds.", "fds_", 1)) from None

    @property
    def objective(self) -> str:
        """The `regcls.objectives.OBJECTIVES` name the variant trains with."""
        return METHODS[self.variant].objective

    @property
    def uses_lam(self) -> bool:
        """Whether the variant's loss has a lambda (`lam * MSE + CE`): tune it like reg+cls."""
        return OBJECTIVES[self.objective].uses_lam

    @property
    def has_classes(self) -> bool:
        """Whether the variant needs class `edges` and `labels` in `build_method_task`."""
        return OBJECTIVES[self.objective].class_head is not None

    @property
    def needs_distillation(self) -> bool:
        """Whether the variant has a second stage (`distill_method_models`) after `train_packed`."""
        return METHODS[self.variant].two_stage

    @property
    def pack_group(self) -> str | None:
        """ "soft" / "hierarchical": the class-head kind that needs its own pack; None: the
        variant joins any pack (`split_packs`)."""
        return head_group(self.objective)


def method_columns(config: MethodConfig) -> dict[str, object]:
    """`variant` and every hyperparameter column (`lds_*`, `focal_*`, `bmc_*`, `denseweight_*`,
    `hlgauss_*`, `softlabel_*`): the config's value where the variant uses the group, else None."""
    used = METHODS[config.variant].groups
    row: dict[str, object] = {"variant": config.variant}
    for field in fields(MethodConfig):
        if field.name != "variant":
            group = field.name.split("_", 1)[0]
            row[field.name] = getattr(config, field.name) if group in used else None
    if not config.bmc_sigma_learned:
        row["bmc_sigma_lr"] = None  # a fixed sigma has no learning rate
    for name in METHODS[config.variant].unused:
        row[name] = None
    return row


def split_packs(configs: Sequence[MethodConfig]) -> list[list[int]]:
    """Indices of `configs` grouped into packs `train_packed` accepts: one pack per class-head
    group (soft, hierarchical) in order of first appearance; variants without such a head join
    the first pack. One pack when no two groups meet."""
    order: list[str | None] = []
    for config in configs:
        if config.pack_group not in order:
            order.append(config.pack_group)
    groups = [g for g in order if g is not None] or [None]
    packs: list[list[int]] = [[] for _ in groups]
    for i, config in enumerate(configs):
        group = config.pack_group
        packs[groups.index(group) if group is not None else 0].append(i)
    return packs


def distill_method_models(
    configs: Sequence[MethodConfig],
    tasks: Sequence[ModelTask],
    stage1: TrainedModels,
    settings: TrainSettings,
) -> DistilledModels:
    """HCA-d's stage 2 for the `hca-d` configs whose stage-1 models `stage1` (from
    `train_packed(tasks, settings)`, one model per task, same order) trained: G_T heads on the
    frozen models, packed. Predict with the result's `predict`. The configs must share
    `distill_epochs` (one stage-2 schedule per pack)."""
    if len(configs) != len(tasks):
        raise ValueError(f"configs: must hold one config per task ({len(tasks)})")
    for config in configs:
        if not config.needs_distillation:
            raise ValueError(f"variant: {config.variant!r} has no second stage; only 'hca-d'")
    epochs = {config.distill_epochs for config in configs}
    if len(epochs) > 1:
        given = sorted(map(str, epochs))
        raise ValueError(f"distill_epochs: one value per stage-2 pack, got {given}")
    return train_distillation(tasks, stage1, settings, next(iter(epochs), None))


def build_method_task(
    config: MethodConfig,
    *,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    seed: int,
    lr: float,
    lam: float = 1.0,
    edges: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    class_centres: torch.Tensor | None = None,
    weight_decay: float | None = None,
    init_seed: int | None = None,
) -> ModelTask:
    """The `ModelTask` of `config` on one training set.

    Class variants (`config.has_classes`: `reg+cls`, `reg+hlgauss`, `reg+softlabel`,
    `reg-lds+cls`, `hca`, `hca+lds`, `hca-d`, `reg+hca`, `hlgauss`) need the class bin `edges`
    `[C + 1]` and the hard `labels` `[N]` (int64 class of every sample); the class count is
    `len(edges) - 1`. `class_centres` is passed through; for the variants that predict a class
    (`hca`, `hca+lds`, `hca-d`) None means HCA's class means (midpoints for empty classes), for
    `hlgauss` the bin midpoints. The hierarchical variants build their E-Num `class_levels` from
    `y_train` and `edges`. Regression-only variants take no `edges`/`labels`/`class_centres`.

    `y_train` may be float64 while `x_train` is float32 (the trainers cast it to the settings'
    dtype): LDS, INV and FDS bin the targets at the precision given (`label_bins`).
    """
    spec = METHODS[config.variant]
    task = ModelTask(
        x_train,
        y_train,
        seed,
        lr,
        lam=lam,
        objective=spec.objective,
        weight_decay=weight_decay,
        init_seed=init_seed,
    )
    if OBJECTIVES[spec.objective].class_head is not None:
        if edges is None or labels is None:
            raise ValueError(f"edges: variant {config.variant!r} needs class edges and labels")
        task.labels = labels
        task.num_classes = int(edges.shape[0]) - 1
        task.class_centres = class_centres
    elif any(v is not None for v in (edges, labels, class_centres)):
        raise ValueError(f"edges: variant {config.variant!r} has no classes; give None")
    spec.build(config, task, edges)
    return task


@dataclass(frozen=True)
class MethodSpec:
    """A variant: its objective, the column groups it records, and what it adds to the task."""

    objective: str
    groups: tuple[str, ...] = ()
    build: Callable[[MethodConfig, ModelTask, torch.Tensor | None], None] = lambda c, t, e: None
    unused: tuple[str, ...] = ()  # columns of a recorded group this variant leaves unused
    two_stage: bool = False  # a second stage after train_packed (hca-d)


def _add_lds(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    y, bins = _weight_bins(config, task)
    weights = lds_weights(
        y, bins, config.lds_kernel, config.lds_size, config.lds_sigma, config.lds_inverse
    )
    task.sample_weight = weights.to(task.y_train)


def _add_inv(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    task.sample_weight = inverse_weights(*_weight_bins(config, task)).to(task.y_train)


def _add_inv_fds(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    _add_inv(config, task, edges)
    _add_fds(config, task, edges)


def _weight_bins(config: MethodConfig, task: ModelTask) -> tuple[torch.Tensor, torch.Tensor]:
    """The float64 targets and the `lds_bins` equal-width bin edges over their range (LDS, INV:
    binned by `label_bins` from the task's targets at their own precision)."""
    y = task.y_train.detach().to(torch.float64).cpu()
    low, high = float(y.min()), float(y.max())
    if not high > low:
        raise ValueError("y_train: LDS needs at least two distinct targets")
    return y, torch.from_numpy(np.linspace(low, high, config.lds_bins + 1))


def _add_focal(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    task.focal_beta = config.focal_beta
    task.focal_gamma = config.focal_gamma
    task.focal_activation = config.focal_activation


def _add_bmc(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    task.bmc_sigma = config.bmc_sigma
    task.bmc_sigma_learned = config.bmc_sigma_learned
    task.bmc_sigma_lr = config.bmc_sigma_lr


def _add_denseweight(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    weights = denseweight_weights(
        task.y_train, config.denseweight_alpha, config.denseweight_bandwidth
    )
    task.sample_weight = weights.to(task.y_train)


def _add_hlgauss(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    grid = edges.detach().to(torch.float64).cpu()
    sigma = config.hlgauss_sigma_ratio * float(grid[-1] - grid[0]) / (grid.shape[0] - 1)
    task.soft_targets = hl_gauss_targets(task.y_train, grid, sigma).to(task.y_train)


def _add_hlgauss_expectation(
    config: MethodConfig, task: ModelTask, edges: torch.Tensor | None
) -> None:
    _add_hlgauss(config, task, edges)
    if task.class_centres is None:  # Farebrother et al.'s `transform_from_probs`: bin centres
        grid = edges.detach().to(torch.float64).cpu()
        task.class_centres = ((grid[:-1] + grid[1:]) / 2).to(task.y_train)


def _add_softlabel(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    targets = soft_group_targets(
        task.labels, task.num_classes, config.softlabel_beta, config.softlabel_form
    )
    task.soft_targets = targets.to(task.y_train)


def _add_hierarchy(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    grid = edges.detach().to(torch.float64).cpu().numpy()
    y = task.y_train.detach().to(torch.float64).cpu().numpy()
    try:
        levels = hierarchy_levels(y, grid, config.hca_heads)
    except ValueError as error:  # "num_heads: must be an integer in [1, H]..." -> hca_heads
        raise ValueError(str(error).replace("num_heads", "hca_heads", 1)) from None
    task.class_levels = torch.tensor(levels)


def _add_hca(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    _add_hierarchy(config, task, edges)
    task.hca_rule = config.hca_rule
    if task.class_centres is None:  # HCA's representative values: the class means
        grid = edges.detach().to(torch.float64).cpu().numpy()
        y = task.y_train.detach().to(torch.float64).cpu().numpy()
        labels = task.labels.detach().cpu().numpy()
        means = class_means(y, labels, (grid[:-1] + grid[1:]) / 2)
        task.class_centres = torch.tensor(np.asarray(means)).to(task.y_train)


def _add_hca_lds(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    _add_hca(config, task, edges)
    _add_lds(config, task, edges)


def _add_fds(config: MethodConfig, task: ModelTask, edges: torch.Tensor | None) -> None:
    task.fds = config.fds_config()


# INV records its bins, not LDS's smoothing (nor lds_inverse: INV is 1 / count by definition).
_LDS_SMOOTHING = ("lds_kernel", "lds_size", "lds_sigma", "lds_inverse")

METHODS: dict[str, MethodSpec] = {
    "reg": MethodSpec("reg"),
    "reg+cls": MethodSpec("reg+cls"),
    "reg-lds": MethodSpec("reg-lds", ("lds",), _add_lds),
    "reg-focal": MethodSpec("reg-focal", ("focal",), _add_focal),
    "reg-bmc": MethodSpec("reg-bmc", ("bmc",), _add_bmc),
    "reg-denseweight": MethodSpec("reg-denseweight", ("denseweight",), _add_denseweight),
    "reg+hlgauss": MethodSpec("reg+hlgauss", ("hlgauss",), _add_hlgauss),
    "reg+softlabel": MethodSpec("reg+softlabel", ("softlabel",), _add_softlabel),
    "reg-lds+cls": MethodSpec("reg-lds+cls", ("lds",), _add_lds),
    "hca": MethodSpec("hca", ("hca",), _add_hca),
    "hca+lds": MethodSpec("hca+lds", ("hca", "lds"), _add_hca_lds),
    "reg+hca": MethodSpec("reg+hca", ("hca",), _add_hierarchy, unused=("hca_rule",)),
    "reg-fds": MethodSpec("reg-fds", ("fds",), _add_fds),
    "hca-d": MethodSpec("hca", ("hca", "distill"), _add_hca, ("hca_rule",), two_stage=True),
    "hlgauss": MethodSpec("hlgauss", ("hlgauss",), _add_hlgauss_expectation),
    "reg-inv": MethodSpec("reg-inv", ("lds",), _add_inv, unused=_LDS_SMOOTHING),
    "reg-inv+fds": MethodSpec("reg-inv+fds", ("lds", "fds"), _add_inv_fds, unused=_LDS_SMOOTHING),
}


def _one_of(name: str, value: object, accepted: tuple) -> None:
    if value not in accepted:
        raise ValueError(f"{name}: must be one of {accepted}, got {value!r}")


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}: must be finite and > 0, got {value}")
