"""One Ray Tune trial of the 1D study: one grid point evaluated across its replicates."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from search_spaces.optimizers import OPTIMIZERS
from study.spec_keys import content_key, field_values
from study.variants import CLASS_MODES, check_variant, uses_lambda
from study.variants import VARIANTS as VARIANTS  # kept importable from here

# "lr_pilot": the answer study's validation pilot of reg's learning rate (optimisers without a
# paper lr); the 1D study's own stages are the other four.
STAGES = ("lr_pilot", "lambda_search", "optuna", "test", "noise")
NO_FLIP = "none"
DEFAULT_OPTIMIZER = "adam"
DEFAULT_BACKEND = "fused"


@dataclass(frozen=True)
class TrialSpec:
    """A grid point (scenario, sampling, variant, C, lambda, ...) and the replicates it packs.

    `weight_decay` is the model's own (reg-tuned sweeps it); `method_params` holds the
    hyperparameters of a zoo variant that differ from `regcls.methods.MethodConfig`'s defaults
    ((field, value) pairs, sorted); `pair_init` says whether the
    models of a pair start from the same weights (`shared`) or not (`independent`). `flip` names
    the protocol choice the sensitivity study flipped for this trial (`none`: no flip).
    `optimizer` is a `regcls.training.optimizers` name; `momentum` is SGD's (None for the Adam
    family, which has none).

    Every field is recorded in each results row; `key` hashes all of them, so a rerun of the
    same trial maps to the same Parquet file and adds no rows. `flip = "none"` is left out of the
    hash, so trials without a flip keep the keys of the versions before the field existed; so are
    an empty `method_params`, `optimizer = "adam"` and `momentum = None`.
    """

    study: str
    stage: str
    search: str
    scenario: str
    sampling: str
    noise_sigma: float
    noise_distribution: str
    variant: str
    num_classes: int | None
    lam: float | None
    lr: float
    lambda_source: str
    replicates: tuple[tuple[int, int], ...]  # (function_id, seed)
    total_samples: int
    epochs: int
    batch_size: int
    weight_decay: float
    dtype: str
    hidden: tuple[int, ...]
    shot_bins: int
    equalize_rounding: str = "floor"
    pair_init: str = "shared"
    l_extra_bins: int = 100
    l_extra_pseudo_count: float = 0.5
    l_extra_samples: int = 2000
    function_set: str = "paper"
    peak_share: float = 0.75
    peak_bins: str = "global"
    validation_sampling: str = "balanced"
    shot_rule: str = "dir"
    flip: str = NO_FLIP
    reg_pairing: str = "per_dataset"
    # per_model: the reg+cls model and its own reg share this key (pairing and init); "" = shared
    pair_key: str = ""
    method_params: tuple[tuple[str, object], ...] = ()
    # The packed trainer's backend requested (regcls.training.tasks.BACKENDS); rows record the
    # one that ran. The default is left out of the key, so trials keep the keys they had before.
    backend: str = DEFAULT_BACKEND
    optimizer: str = DEFAULT_OPTIMIZER
    momentum: float | None = None

    def __post_init__(self) -> None:
        check_variant(self.variant, self.num_classes, self.stage, STAGES)
        if uses_lambda(self.variant) and self.lam is None and self.stage != "optuna":
            raise ValueError(f"lam: required for variant {self.variant}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: accepted values are {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
            )
        if (self.optimizer == "sgd") != (self.momentum is not None):
            raise ValueError("momentum: required for optimizer sgd, None for adam and adamw")

    @property
    def class_mode(self) -> str:
        return CLASS_MODES[self.variant]

    @property
    def data_fields(self) -> tuple[tuple[str, object], ...]:
        """The `regcls.data.synthetic.DataConfig` fields shared by the spec's replicates (all but
        the function and seed), as sorted pairs; `point.data_config` builds each replicate's
        version from them."""
        fields = {
            "scenario": self.scenario,
            "sampling": self.sampling,
            # DataConfig's default: noise_sigma is unused outside the noisy scenario.
            "noise_sigma": self.noise_sigma if self.scenario == "noisy" else 0.1,
            "noise_distribution": self.noise_distribution,
            "total_samples": self.total_samples,
            "peak_share": self.peak_share,
            "function_set": self.function_set,
            "peak_bins": self.peak_bins,
            "validation_sampling": self.validation_sampling,
        }
        return tuple(sorted(fields.items()))

    @property
    def data_key(self) -> tuple:
        """Equal for specs that train on the same dataset versions (fields and replicates)."""
        return self.data_fields, self.replicates

    @property
    def key(self) -> str:
        """Stable content hash of the spec (16 hex digits)."""
        return content_key(self.to_config())

    def to_config(self) -> dict:
        """A JSON-able dict, the Tune config of the trial."""
        config = asdict(self)
        config["replicates"] = [list(r) for r in self.replicates]
        config["hidden"] = list(self.hidden)
        if self.flip == NO_FLIP:
            del config["flip"]  # the key of a trial without a flip stays what it was before
        if self.method_params:
            config["method_params"] = [list(p) for p in self.method_params]
        else:
            del config["method_params"]
        if self.backend == DEFAULT_BACKEND:
            del config["backend"]
        # The paper's optimiser keeps the keys of the versions before the fields existed.
        if self.optimizer == DEFAULT_OPTIMIZER:
            del config["optimizer"]
        if self.momentum is None:
            del config["momentum"]
        return config

    @classmethod
    def from_config(cls, config: dict) -> TrialSpec:
        values = field_values(cls, config)
        values["replicates"] = tuple(tuple(int(x) for x in r) for r in values["replicates"])
        values["hidden"] = tuple(int(h) for h in values["hidden"])
        values["method_params"] = tuple(
            (str(name), value) for name, value in values.get("method_params", ())
        )
        return cls(**values)

    def with_values(self, **changes: object) -> TrialSpec:
        return replace(self, **changes)
