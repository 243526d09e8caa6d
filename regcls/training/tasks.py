"""What the trainers train: the schedule of a pack, one model's task, and the trained models.

`TrainSettings` (shared by every model of a pack), `ModelTask` (one model: its data, seeds,
objective and hyperparameters) and `TrainedModels` (the result, with each model's prediction rule)
are the contract between a study and every trainer: the packed trainer (`regcls.training.packed`),
its single-model reference (`regcls.training.single`) and HCA-d's second stage
(`regcls.training.distillation`). `regcls.training.task_checks.check_tasks` validates them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from regcls.models.mlp import forward, torch_dtype
from regcls.objectives import OBJECTIVES, Objective, objective
from regcls.objectives.feature_smoothing import FDSConfig
from regcls.objectives.hierarchical import level_sizes
from regcls.objectives.prediction import RULES
from regcls.training.optimizers import OPTIMIZERS

EPS = 1e-8  # default TrainSettings.adam_eps (torch.optim.Adam's)
# Backends of the packed trainer: "torch" (regcls.training.packed) or "fused" (regcls.training.
# fused, the compiled CPU step loop; packs it does not cover, or a machine where it does not load,
# run on "torch").
BACKENDS = ("torch", "fused")
# Seed offsets of a model's minibatch-order and keep-draw generators (from `seed`; the init uses
# `init_seed`, default `seed`).
PERM_SEED_OFFSET = 1_000_003
KEEP_SEED_OFFSET = 2_000_006


@dataclass(frozen=True)
class TrainSettings:
    """Training schedule shared by every model of a pack."""

    epochs: int = 80
    batch_size: int = 256
    # Coupled (adam, sgd: added to the gradient) or decoupled (adamw: lr * wd shrink per step).
    weight_decay: float = 1e-3
    dtype: str = "float32"
    hidden: tuple[int, ...] = (6, 16)
    drop_last: bool = True
    adam_eps: float = EPS  # Adam's epsilon (adam, adamw)
    # An `optimizers.OPTIMIZERS` name; "adam" (coupled decay) is the core paper's (supp. Table 6).
    optimizer: str = "adam"
    # SGD's momentum (sgd only): 0.9, the usual heavy-ball value (Sutskever et al. 2013; torch's
    # ImageNet reference recipes).
    momentum: float = 0.9
    backend: str = "torch"  # a BACKENDS entry; `TrainedModels.backend` records the one that ran

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs: must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay: must be finite and >= 0, got {self.weight_decay}")
        if not (self.adam_eps > 0 and math.isfinite(self.adam_eps)):
            raise ValueError(f"adam_eps: must be finite and > 0, got {self.adam_eps}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: must be in [0, 1), got {self.momentum}")
        torch_dtype(self.dtype)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: must be one of {BACKENDS}, got {self.backend!r}")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise ValueError(f"hidden: must be a non-empty tuple of widths >= 1, got {self.hidden}")


@dataclass
class ModelTask:
    """One model to train.

    `objective` names a `regcls.objectives.OBJECTIVES` composition; None infers today's: `reg`
    without labels, `reg+cls` with labels, `reg+cls-balanced` with labels and `keep_prob`.
    """

    x_train: torch.Tensor  # [N, in_features]; tasks sharing one tensor share its memory
    y_train: torch.Tensor  # [N]
    seed: int  # minibatch order and keep draws; also the init unless `init_seed` is given
    lr: float
    lam: float = 1.0  # MSE weight of reg+cls (lam * MSE + CE, Eq. 4) and reg-scaled; else ignored
    labels: torch.Tensor | None = None  # [N] int64 class ids; None -> no class head
    num_classes: int = 0  # classifier width (C-bar for balanced classes)
    keep_prob: torch.Tensor | None = None  # [N] keep probability (Eq. 13); None -> keep all
    objective: str | None = None  # an OBJECTIVES name; None -> inferred (see above)
    class_centres: torch.Tensor | None = None  # [num_classes] value of each class
    weight_decay: float | None = None  # this model's coupled L2; None -> TrainSettings'
    init_seed: int | None = None  # seed of the initial weights; None -> `seed`
    # Objectives with per-sample MSE weights (reg-lds, reg-denseweight, reg-lds+cls) or CE weights
    # (hca+lds): [N] > 0.
    sample_weight: torch.Tensor | None = None
    # Objectives with a soft-target class head (reg+hlgauss, reg+softlabel): [N, num_classes]
    # target distributions (rows >= 0 summing to 1); `labels` stay the hard classes.
    soft_targets: torch.Tensor | None = None
    focal_beta: float = 0.2  # reg-focal: a(|e|) = 2 sigmoid(beta |e|) - 1 or tanh(beta |e|)
    focal_gamma: float = 1.0  # reg-focal: e^2 * a(|e|)^gamma
    focal_activation: str = "sigmoid"  # reg-focal: a FOCAL_ACTIVATIONS entry
    bmc_sigma: float = 1.0  # reg-bmc: the noise sigma of Balanced MSE (the init when learned)
    bmc_sigma_learned: bool = False  # reg-bmc: sigma is a parameter trained with the model
    bmc_sigma_lr: float = 1e-2  # reg-bmc: Adam learning rate of a learned sigma (no decay)
    # Hierarchical heads (hca, reg+hca): [H - 1, num_classes] int64, the coarse class of every
    # finest class per coarse level (regcls.data.hierarchy.hierarchy_levels); [0, C] = one level.
    class_levels: torch.Tensor | None = None
    hca_rule: str | None = None  # hca's test-time rule: "add" (Eq. 7) or "mul" (Eq. 8)
    fds: FDSConfig | None = None  # reg-fds: feature distribution smoothing hyperparameters

    @property
    def is_classifier(self) -> bool:
        """Whether the model has a class head (it has labels)."""
        return self.labels is not None

    @property
    def objective_spec(self) -> Objective:
        """The model's objective: `objective`, else the one inferred from labels / keep_prob."""
        if self.objective is not None:
            return objective(self.objective)
        if self.labels is None:
            return OBJECTIVES["reg"]
        return OBJECTIVES["reg+cls" if self.keep_prob is None else "reg+cls-balanced"]

    @property
    def head_width(self) -> int:
        """Rows of the class head: 0 without labels, else every level's classes."""
        if self.labels is None:
            return 0
        return sum(level_sizes(self.class_levels, int(self.num_classes)))

    @property
    def class_blocks(self) -> tuple[int, ...] | None:
        """Level sizes of a hierarchical head (each its own linear layer), else None."""
        if self.labels is None or self.class_levels is None:
            return None
        return tuple(level_sizes(self.class_levels, int(self.num_classes)))

    @property
    def prediction_rule(self) -> str:
        """The model's `prediction.RULES` name (hca: by `hca_rule`)."""
        rule = self.objective_spec.prediction
        return f"hca_{self.hca_rule}" if rule == "hca" else rule


@dataclass
class TrainedModels:
    """K trained models. Inside `on_epoch`, `params` are live views of the training state."""

    params: Sequence[dict[str, torch.Tensor]]
    diverged: torch.Tensor  # [K] bool
    epochs_trained: torch.Tensor  # [K] int64
    final_loss: torch.Tensor  # [K] mean training loss of the last epoch; nan when diverged
    # Per model: its `prediction.RULES` name (None: all "regression") and class centres (or None).
    prediction_rules: Sequence[str] | None = None
    class_centres: Sequence[torch.Tensor | None] | None = None
    bmc_sigma: torch.Tensor | None = None  # [K] BMC noise sigma (trained if learned); nan: no BMC
    class_levels: Sequence[torch.Tensor | None] | None = None  # hierarchical heads (or None)
    # Per model: FDS statistics (running_mean/var, smoothed_mean/var [bins, D]) or None.
    fds_stats: Sequence[dict[str, torch.Tensor] | None] | None = None
    backend: str = "torch"  # the packed trainer's backend that trained them (a BACKENDS entry)

    def predict(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """Prediction `[N]` of model `index`, else `[K, N]`, by each model's own rule (the
        regression head, or for `cls-only` the expectation of the class centres); x `[N, in]` or
        `[K, N, in]`."""
        with torch.no_grad():
            if index is not None:
                return self._predict(index, x)
            return torch.stack([self._predict(k, _model_x(x, k)) for k in range(len(self.params))])

    def class_logits(self, x: torch.Tensor, index: int | None = None) -> torch.Tensor:
        """Class logits `[N, C]` of model `index`, else `[K, N, C_max]` padded with -inf."""
        with torch.no_grad():
            if index is not None:
                return forward(self.params[index], x, with_logits=True)[1]
            logits = [forward(p, _model_x(x, k), True)[1] for k, p in enumerate(self.params)]
            width = max(item.shape[-1] for item in logits)
            padded = [
                torch.nn.functional.pad(t, (0, width - t.shape[-1]), value=-math.inf)
                for t in logits
            ]
            return torch.stack(padded)

    def _predict(self, index: int, x: torch.Tensor) -> torch.Tensor:
        rules, centres = self.prediction_rules, self.class_centres
        rule = RULES["regression" if rules is None else rules[index]]
        levels = None if self.class_levels is None else self.class_levels[index]
        return rule(self.params[index], x, None if centres is None else centres[index], levels)


EpochHook = Callable[[int, TrainedModels], bool | None]


def _model_x(x: torch.Tensor, index: int) -> torch.Tensor:
    # x shared by every model ([N, in]) or one input per model ([K, N, in]).
    return x if x.dim() == 2 else x[index]
