"""One Ray Tune trial of a real-data (DIR) study: one model config, trained for its seeds.

Image trials hold one seed (a trial takes a whole device); Breakfast and STS-B-DIR trials hold
every seed of a grid point. `settings` carries the study-specific knobs (MLP widths, lr steps,
subsets, ...) as sorted (name, value) pairs; every field enters the key, so rerunning a trial
rewrites its own Parquet file. A method-zoo variant (`search_spaces.stsb_dir.ZOO_VARIANTS`)
carries its `regcls.methods.MethodConfig` fields as the setting "method".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from search_spaces.optimizers import OPTIMIZERS, TUNED_HYPERPARAMETER
from search_spaces.stsb_dir import ZOO_VARIANTS, ZOO_WITH_CLASSES, ZOO_WITH_LAMBDA
from study.spec_keys import content_key, field_values
from study.variants import CLASS_MODES, check_variant
from study.variants import VARIANTS as VARIANTS  # kept importable from here

# "balanced_data": the core paper's Table 4 control (both losses on re-balanced batches);
# "lr_pilot": reg's learning rate chosen on validation for an optimiser without a published one.
STAGES = ("train", "balanced_data", "lr_pilot")
DEFAULT_OPTIMIZER = "adam"


@dataclass(frozen=True)
class DirSpec:
    """A DIR grid point and the seeds its trial trains."""

    study: str
    preset: str
    stage: str
    dataset: str
    target: str
    data_split: str | None
    task: str | None
    variant: str
    num_classes: int | None
    lam: float | None
    seeds: tuple[int, ...]
    lr: float
    epochs: int
    batch_size: int
    grad_accumulation: int
    weight_decay: float
    backbone: str
    img_size: int | None
    reg_loss: str
    model_selection: str
    shot_bin_width: float
    equalize_rounding: str
    data_root: str
    encoder: str | None = None
    hidden: tuple[int, ...] | None = None
    settings: tuple[tuple[str, object], ...] = ()
    optimizer: str = DEFAULT_OPTIMIZER
    momentum: float | None = None

    def __post_init__(self) -> None:
        if self.variant in ZOO_VARIANTS:
            _check_zoo_variant(self)
        else:
            check_variant(self.variant, self.num_classes, self.stage, STAGES)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: accepted values are {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
            )
        if (self.optimizer == "sgd") != (self.momentum is not None):
            raise ValueError("momentum: required for optimizer sgd, None for adam and adamw")

    @property
    def class_mode(self) -> str:
        """The paper's class modes; a zoo variant with classes uses reg+cls's equal-width bins."""
        if self.variant in ZOO_VARIANTS:
            return "imbalanced" if self.variant in ZOO_WITH_CLASSES else "none"
        return CLASS_MODES[self.variant]

    @property
    def method_settings(self) -> dict[str, object]:
        """The `MethodConfig` fields (besides `variant`) of a zoo variant; {} otherwise."""
        return dict(self.setting("method", ()))

    @property
    def data_balance(self) -> str:
        return "rebalanced" if self.stage == "balanced_data" else "natural"

    def setting(self, name: str, default: object = None) -> object:
        return dict(self.settings).get(name, default)

    @property
    def key(self) -> str:
        """Stable content hash of the spec (16 hex digits)."""
        return content_key(self.to_config())

    def to_config(self) -> dict:
        """A JSON-able dict, the Tune config of the trial."""
        config = asdict(self)
        config["seeds"] = list(self.seeds)
        config["hidden"] = None if self.hidden is None else list(self.hidden)
        config["settings"] = {k: _jsonable(v) for k, v in self.settings}
        if self.optimizer == DEFAULT_OPTIMIZER:
            del config["optimizer"]
        if self.momentum is None:
            del config["momentum"]
        return config

    @classmethod
    def from_config(cls, config: dict) -> DirSpec:
        values = field_values(cls, config)
        values["seeds"] = tuple(int(s) for s in values["seeds"])
        if values.get("hidden") is not None:
            values["hidden"] = tuple(int(h) for h in values["hidden"])
        values["settings"] = tuple(
            sorted((k, _tupled(v)) for k, v in (values.get("settings") or {}).items())
        )
        return cls(**values)

    def row_key(self, seed: int) -> str:
        return f"{self.key}-{seed}"


def identity_fields(spec: DirSpec, seed: int) -> dict:
    """The config columns of one model's row; enough for a `failed` row without training."""
    return {
        "row_key": spec.row_key(seed),
        "trial_key": spec.key,
        "config_hash": spec.key,
        "study": spec.study,
        "stage": spec.stage,
        "search": "grid",
        "preset": spec.preset,
        "dataset": spec.dataset,
        "data_split": spec.data_split,
        "task": spec.task,
        "target": spec.target,
        "seed": seed,
        "variant": spec.variant,
        "class_mode": spec.class_mode,
        "data_balance": spec.data_balance,
        "num_classes": spec.num_classes,
        "lam": spec.lam,
        "lr": spec.lr,
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "grad_accumulation": spec.grad_accumulation,
        "weight_decay": spec.weight_decay,
        "optimizer": spec.optimizer,
        "momentum": spec.momentum,
        "tuned_hyperparameter": (
            TUNED_HYPERPARAMETER[spec.optimizer] if spec.variant == "reg-tuned" else None
        ),
        "backbone": spec.backbone,
        "img_size": spec.img_size,
        "reg_loss": spec.reg_loss,
        "model_selection": spec.model_selection,
        "shot_bin_width": spec.shot_bin_width,
        "encoder": spec.encoder,
        "hidden": None if spec.hidden is None else ",".join(str(h) for h in spec.hidden),
    }


def _check_zoo_variant(spec: DirSpec) -> None:
    if spec.stage != "train":
        raise ValueError(f"stage: the method zoo trains in stage train only, got {spec.stage!r}")
    if (spec.variant in ZOO_WITH_CLASSES) != (spec.num_classes is not None):
        raise ValueError(f"num_classes: required for {', '.join(ZOO_WITH_CLASSES)} only")
    if (spec.variant in ZOO_WITH_LAMBDA) != (spec.lam is not None):
        raise ValueError(f"lam: required for {', '.join(ZOO_WITH_LAMBDA)} only")


def _jsonable(value: object) -> object:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _tupled(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value
