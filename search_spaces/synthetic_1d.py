"""Grids and Optuna distributions of the controlled 1D study (core paper Sections 2.1 and 3.1).

Every value here is declarative data; `study/` turns it into Ray Tune trials. The `paper` preset
is the whole protocol of `spec/synthetic_1d_protocol.md`; `quick` keeps every stage and fills
every table and figure with fewer functions, seeds, class counts and lambdas.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from search_spaces.distributions import LogUniform
from search_spaces.optimizers import OPTIMIZERS

PAPER_LAMBDAS = (1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4)
PAPER_CLASS_COUNTS = (4, 16, 64, 256, 1024)
VALIDATION_SEEDS = (0, 421, 8125)
TEST_SEEDS = (0, 421, 8125, 2481, 849)
SCENARIOS = ("clean", "noisy", "ood")
SAMPLINGS = ("uniform", "mild", "moderate", "severe")
# Section 2.1: Adam learning rate per scenario.
LEARNING_RATES = {"clean": 1e-3, "noisy": 1e-2, "ood": 1e-4}
# Controls that isolate what in reg+cls helps (study/variants.py), trained beside reg+cls.
CONTROLS = ("reg-scaled", "cls-only", "reg-tuned")
# reg-tuned's weight-decay grid: as many values as the lambda grid (the same tuning budget). With
# Adam, lam * MSE trains like MSE with weight decay wd / lam, so 1e-8..1e-2 spans wd / lam for
# the paper's lambdas 1e-1..1e4 at wd 1e-3 (and 0 for none).
PAPER_WEIGHT_DECAYS = (0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
# adamw's reg-tuned grid (search_spaces.optimizers.TUNED_HYPERPARAMETER): 8 values (as many as
# the paper's lambdas) log-spaced over the study's own lr range, Optuna's [1e-4, 1e-1].
PAPER_TUNED_LEARNING_RATES = (1e-4, 2.7e-4, 7.2e-4, 1.9e-3, 5.2e-3, 1.4e-2, 3.7e-2, 1e-1)
PAIR_INITS = ("shared", "independent")
# Which reg model a reg+cls model is compared with: one reg per data set, shared by every reg+cls
# trained on it (ours), or its own reg per reg+cls model, as every run of the authors' code trains.
REG_PAIRINGS = ("per_dataset", "per_model")
# regcls.data.synthetic's data options (authors_code_choices.md): declared here, as search spaces
# import nothing heavy; regcls validates them again when a dataset is drawn.
FUNCTION_SETS = ("paper", "authors")
PEAK_BINS = ("global", "region")
VALIDATION_SAMPLINGS = ("balanced", "as_training")
# Per-shot groups: "scaled" thresholds follow the training-set size (regcls.evaluation.metrics
# scaled_shot_thresholds, many > 7x and few < 0.5x the mean count per bin), "dir" are Yang et
# al.'s fixed 100 / 20 samples per bin (always an empty few group at ~10,000 samples).
SHOT_RULES = ("scaled", "dir")
# The authors' code: 58,971 peak samples and 6 x 1024 spread samples (authors_code_choices.md).
AUTHORS_PEAK_SHARE = 58_971 / (58_971 + 6_144)
CLASS_MODES = ("imbalanced", "balanced")


@dataclass(frozen=True)
class OptunaSpace:
    """TPE over lambda and learning rate, pruned by ASHA on validation MSE per epoch."""

    lam: LogUniform = LogUniform(1e-3, 1e4)
    lr: LogUniform = LogUniform(1e-4, 1e-1)
    num_samples: int = 24
    num_classes: int = 64
    grace_period: int = 10
    reduction_factor: int = 3
    report_every: int = 1


@dataclass(frozen=True)
class Synthetic1DPreset:
    """One named size of the 1D study. Field names are recorded in every results row."""

    name: str
    functions: tuple[int, ...]
    validation_seeds: tuple[int, ...]
    test_seeds: tuple[int, ...]
    class_counts: tuple[int, ...]
    lambdas: tuple[float, ...]
    noise_sigmas: tuple[float, ...] = (0.05, 0.1, 0.5)  # empty: no noise stage (Figure 5)
    scenarios: tuple[str, ...] = SCENARIOS
    samplings: tuple[str, ...] = SAMPLINGS
    learning_rates: dict[str, float] = field(default_factory=lambda: dict(LEARNING_RATES))
    default_noise_sigma: float = 0.1
    noise_distribution: str = "gaussian"
    total_samples: int = 30_000
    epochs: int = 80
    batch_size: int = 256
    weight_decay: float = 1e-3
    # regcls.training.optimizers: adam (coupled decay, the paper's), adamw (decoupled), sgd
    # (coupled, with `momentum`; the momentum is recorded on sgd rows only).
    optimizer: str = "adam"
    momentum: float = 0.9
    dtype: str = "float32"
    # The packed trainer's backend: "fused" (the compiled CPU kernel, regcls.training.fused; the
    # faster on CPU, benchmarks/NOTES.md round 5; packs it does not cover, a GPU or a machine
    # where it does not load run on "torch") or "torch". Rows record the backend that ran.
    backend: str = "fused"
    hidden: tuple[int, ...] = (6, 16)
    shot_bins: int = 100
    # Eq. 12 as printed ("floor") or as in the authors' code ("ceil"): see regcls.data.binning.
    equalize_rounding: str = "floor"
    optuna: OptunaSpace = OptunaSpace()
    controls: tuple[str, ...] = CONTROLS
    weight_decays: tuple[float, ...] = PAPER_WEIGHT_DECAYS
    # reg-tuned's learning rates under adamw (TUNED_HYPERPARAMETER); adam sweeps
    # `weight_decays`, sgd scales (lr, wd) by the lambda grid.
    tuned_learning_rates: tuple[float, ...] = PAPER_TUNED_LEARNING_RATES
    # Whether a pair's models start from the same weights (ours) or not (the authors' code).
    pair_init: str = "shared"
    reg_pairing: str = "per_dataset"
    # lambda per "scenario" or "scenario/class_mode" given by the user: no lambda search for
    # reg+cls, rows record lambda_source = "given".
    given_lambdas: dict[str, float] = field(default_factory=dict)
    # L_extra (Eq. 8-9): histogram bins and pseudo-count of the target prior, and how many
    # samples of each split it is evaluated on (the first of a fixed permutation).
    l_extra_bins: int = 100
    l_extra_pseudo_count: float = 0.5
    l_extra_samples: int = 2000
    # Data options where the authors' code differs from the paper
    # (regcls.data.synthetic.DataConfig).
    function_set: str = "paper"
    peak_share: float = 0.75
    peak_bins: str = "global"
    validation_sampling: str = "balanced"
    shot_rule: str = "scaled"

    def __post_init__(self) -> None:
        for name in (
            "functions",
            "validation_seeds",
            "test_seeds",
            "class_counts",
            "lambdas",
            "scenarios",
            "samplings",
        ):
            if len(getattr(self, name)) == 0:
                raise ValueError(f"{name}: the grid is empty; give at least one value")
        _check_subset("scenarios", self.scenarios, SCENARIOS)
        _check_subset("samplings", self.samplings, SAMPLINGS)
        _check_all("lambdas", self.lambdas, lambda v: v > 0, "values > 0")
        _check_all(
            "class_counts", self.class_counts, lambda v: int(v) == v and v >= 2, "integers >= 2"
        )
        _check_all("functions", self.functions, lambda v: 0 <= v < 10, "function ids 0..9")
        _check_all("noise_sigmas", self.noise_sigmas, lambda v: v > 0, "values > 0")
        for scenario in self.scenarios:
            if self.learning_rates.get(scenario, 0) <= 0:
                raise ValueError(f"learning_rates: need a value > 0 for scenario {scenario!r}")
        _check_subset("controls", self.controls, CONTROLS)
        if "reg-tuned" in self.controls and not self.weight_decays:
            raise ValueError("weight_decays: the grid is empty; give at least one value")
        _check_all("weight_decays", self.weight_decays, lambda v: v >= 0, "values >= 0")
        if "reg-tuned" in self.controls and not self.tuned_learning_rates:
            raise ValueError("tuned_learning_rates: the grid is empty; give at least one value")
        _check_all("tuned_learning_rates", self.tuned_learning_rates, lambda v: v > 0, "values > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer: accepted values are {', '.join(OPTIMIZERS)}; got {self.optimizer!r}"
            )
        if not (isinstance(self.momentum, int | float) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum: must lie in [0, 1), got {self.momentum!r}")
        if self.pair_init not in PAIR_INITS:
            raise ValueError(
                f"pair_init: accepted values are {', '.join(PAIR_INITS)}; got {self.pair_init!r}"
            )
        _check_given_lambdas(self.given_lambdas, self.scenarios)
        for name, accepted in (
            ("function_set", FUNCTION_SETS),
            ("peak_bins", PEAK_BINS),
            ("validation_sampling", VALIDATION_SAMPLINGS),
            ("shot_rule", SHOT_RULES),
            ("reg_pairing", REG_PAIRINGS),
        ):
            if getattr(self, name) not in accepted:
                raise ValueError(
                    f"{name}: accepted values are {', '.join(accepted)}; "
                    f"got {getattr(self, name)!r}"
                )
        if not (isinstance(self.peak_share, int | float) and 0 < self.peak_share <= 1):
            raise ValueError(f"peak_share: must lie in (0, 1], got {self.peak_share!r}")
        if not self.l_extra_pseudo_count >= 0:
            raise ValueError(f"l_extra_pseudo_count: must be >= 0, got {self.l_extra_pseudo_count}")
        for name in (
            "total_samples",
            "epochs",
            "batch_size",
            "shot_bins",
            "l_extra_bins",
            "l_extra_samples",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.total_samples // 3 < self.batch_size:
            raise ValueError(
                f"total_samples: {self.total_samples} gives fewer training samples than one "
                f"batch ({self.batch_size})"
            )
        if self.equalize_rounding not in ("floor", "ceil"):
            raise ValueError(
                "equalize_rounding: accepted values are floor, ceil; "
                f"got {self.equalize_rounding!r}"
            )
        if self.dtype not in ("float32", "float64", "bfloat16"):
            raise ValueError(
                f"dtype: accepted values are float32, float64, bfloat16; got {self.dtype!r}"
            )
        if self.backend not in ("torch", "fused"):
            raise ValueError(f"backend: accepted values are torch, fused; got {self.backend!r}")

    def with_overrides(self, overrides: dict[str, object]) -> Synthetic1DPreset:
        """A copy with some fields replaced; unknown fields are an error naming the valid ones."""
        known = set(self.__dataclass_fields__) - {"name", "optuna"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"search space: unknown field(s) {', '.join(unknown)}; "
                f"accepted fields: {', '.join(sorted(known))}"
            )
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        return replace(self, **values)

    def lambda_for(self, scenario: str, class_mode: str) -> float | None:
        """The user-given lambda of a scenario and class mode, if any ("scenario/mode" first)."""
        return self.given_lambdas.get(f"{scenario}/{class_mode}", self.given_lambdas.get(scenario))

    @property
    def lambdas_given(self) -> bool:
        """Whether every scenario has given lambdas (then reg+cls skips the lambda search)."""
        return all(self.lambda_for(s, m) is not None for s in self.scenarios for m in CLASS_MODES)


def _check_subset(name: str, values: tuple[str, ...], accepted: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in accepted]
    if bad:
        raise ValueError(f"{name}: unknown value(s) {bad}; accepted values: {', '.join(accepted)}")


def _check_given_lambdas(given: dict[str, float], scenarios: tuple[str, ...]) -> None:
    accepted = [*scenarios, *(f"{s}/{m}" for s in scenarios for m in CLASS_MODES)]
    bad = sorted(k for k in given if k not in accepted)
    if bad:
        raise ValueError(
            f"given_lambdas: unknown key(s) {bad}; accepted keys: {', '.join(accepted)}"
        )
    _check_all("given_lambdas", tuple(given.values()), lambda v: v > 0, "values > 0")
    if given and not all(
        given.get(f"{s}/{m}", given.get(s)) is not None for s in scenarios for m in CLASS_MODES
    ):
        raise ValueError(
            "given_lambdas: give a lambda for every scenario of the grid "
            f"({', '.join(scenarios)}), or none"
        )


def _check_all(name: str, values: tuple, ok, accepted: str) -> None:
    bad = [v for v in values if not (isinstance(v, int | float) and ok(v))]
    if bad:
        raise ValueError(f"{name}: out-of-range value(s) {bad}; accepted: {accepted}")


PRESETS: dict[str, Synthetic1DPreset] = {
    "paper": Synthetic1DPreset(
        name="paper",
        functions=tuple(range(10)),
        validation_seeds=VALIDATION_SEEDS,
        test_seeds=TEST_SEEDS,
        class_counts=PAPER_CLASS_COUNTS,
        lambdas=PAPER_LAMBDAS,
    ),
    "quick": Synthetic1DPreset(
        name="quick",
        functions=(0, 1, 2),
        validation_seeds=(0, 421),
        test_seeds=(0, 421),
        class_counts=(4, 64, 256),
        lambdas=(1e-1, 1e1, 1e3),
        weight_decays=(0.0, 1e-5, 1e-3),
        tuned_learning_rates=(1e-4, 1e-3, 1e-2),
        total_samples=15_000,
        epochs=40,
        optuna=OptunaSpace(num_samples=8, grace_period=5),
    ),
}
# The paper's grid run the way the authors' public 1D code runs it (authors_code_choices.md):
# 60,000 samples, float64, Eq. 12 with ceil, their ten functions, their 90.6% peak share with
# peak bins over the peak region, independent initial weights of a pair, every reg+cls model its
# own reg, validation sets drawn like the training set. Not reproduced: their data seeds (the
# study's seeds seed both data and training).
PRESETS["authors"] = replace(
    PRESETS["paper"],
    name="authors",
    total_samples=60_000,
    dtype="float64",
    equalize_rounding="ceil",
    function_set="authors",
    peak_share=AUTHORS_PEAK_SHARE,
    peak_bins="region",
    pair_init="independent",
    reg_pairing="per_model",
    validation_sampling="as_training",
)
