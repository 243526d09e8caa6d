"""Presets of the STS-B-DIR sentence-similarity study (our extension of the core paper).

Sentences are encoded once by a frozen sentence encoder (`encoder`, default all-MiniLM-L6-v2,
bundled offline); MLP heads on the pair features [u, v, |u - v|, u * v] are trained with reg,
reg+cls and reg+cls with balanced classes (Eq. 12-13) across C x lambda x seeds, and the
controls reg-scaled (lambda * MSE, no class head) and cls-only (CE only), packed: one
Tune trial trains one grid point across its seeds on the shared feature tensor. Metrics: MSE
and Pearson, overall and per shot over Yang et al.'s 0.1-wide bins. `subset`: encode and train
on a seeded random subset of (train, val, test) pairs (the smoke preset; null = all).
`model_selection` "best_val": each model's test predictions are kept from its best validation
epoch (cheap here: one forward pass of 2,000 pairs per epoch), "final": the last epoch.
`cache_dir`: the feature cache (null: `<out>/features`), so studies can share one encoding.

The method zoo (issue 10, `regcls.methods`): `zoo` names the variants trained beside reg, each
paired with the reg of the same seed; the class variants train at every C of `zoo_class_counts`
(null: `class_counts`) with the reg+cls class bins, the lambda variants at every lambda of
`lambdas` (chosen on validation in the report, like reg+cls). Their STS-B-DIR settings follow
Yang et al.'s STS-B code (related_methods_digest.md 2.2-2.3): LDS on inverse weights
(`lds_inverse`), LDS and FDS over 50 bins of 0.1 (`lds_bins`, `fds_bins`; equal-width over the
training range [0, 5], binned from the float64 scores as their code bins its float32 ones), FDS
variance ratio clipped to [0.5, 2] (`fds_clip`) and empty buckets filled from their neighbours
(`MethodConfig`'s default, their `fds.py`), Focal-R's beta 4 per score point (`focal_beta`: their
20 on scores divided by 5); Balanced MSE as Ren et al.'s code defaults (sigma learned from 1.0,
lr 1e-2; no STS-B code of theirs exists). Every other hyperparameter is
`regcls.methods.MethodConfig`'s default, all recorded as row columns (`docs/zoo_settings.md`).
`quick` trains the zoo subset `QUICK_ZOO` (the 10 variants without a lambda, class ones at
C = 10, and `reg+hlgauss` beside the published `hlgauss`); it leaves the lambda variants
`reg+softlabel`, `reg-lds+cls`, `reg+hca` and the two-stage `hca-d` (and the zoo's other C) to
`paper`, which trains them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces.method_zoo import METHOD_ZOO, WITH_CLASSES, WITH_LAMBDA
from search_spaces.optimizers import OPTIMIZERS, TUNED_HYPERPARAMETER
from search_spaces.real_data import (
    CLASS_MODES,
    EQUALIZE_ROUNDINGS,
    MODEL_SELECTIONS,
    check_all,
    check_choice,
    check_nonempty,
    check_positive,
    check_subset,
    with_overrides,
)

STUDY = "stsb_dir"
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
# Controls of "why does it help?" trained beside reg+cls (see study/variants.py): reg-scaled at
# every lambda, cls-only at every C, reg-tuned at every value of its sweep (what lambda stands in
# for under the optimiser, search_spaces.optimizers.TUNED_HYPERPARAMETER; chosen on validation
# in the analysis). The default trains the first two, as before reg-tuned existed here.
CONTROLS = ("reg-scaled", "cls-only", "reg-tuned")
DEFAULT_CONTROLS = ("reg-scaled", "cls-only")
# The answer preset's optimisers (issue 22): adam with the preset's lr and weight decay (0: this
# study's Adam, as Yang et al.'s STS-B code), adamw at the same lr with torch.optim.AdamW's
# default decoupled decay 1e-2, sgd (momentum 0.9, the preset's weight decay) at the lr its
# `lr_pilot` stage chooses on validation from `pilot_learning_rates`.
ADAMW_WEIGHT_DECAY = 1e-2
PILOTED = ("sgd",)
PILOT_LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
# The method zoo (`regcls.methods.METHODS` beyond reg and reg+cls; tests/test_stsb_zoo.py checks
# the names and which have classes or a lambda against `MethodConfig`).
ZOO_VARIANTS = METHOD_ZOO
ZOO_WITH_CLASSES = WITH_CLASSES
ZOO_WITH_LAMBDA = WITH_LAMBDA
# What `quick` trains of the zoo: the variants without lambda, one trial each (class ones at
# C = 10), and reg+hlgauss (3 trials at quick's 3 lambdas) beside the published CE-only hlgauss.
# It leaves to `paper` the other lambda variants (reg+softlabel, reg-lds+cls, reg+hca) and the
# two-stage hca-d.
QUICK_ZOO = (
    "reg-lds",
    "reg-fds",
    "reg-focal",
    "reg-bmc",
    "reg-denseweight",
    "hca",
    "hca+lds",
    "hlgauss",
    "reg-inv",
    "reg-inv+fds",
    "reg+hlgauss",
)
LDS_INVERSES = ("inverse", "sqrt_inv")
# The reg baseline's typical test error: RMSE sqrt(0.612) of the quick preset's reg (3 seeds).
TYPICAL_ERROR = 0.78


@dataclass(frozen=True)
class StsbPreset:
    """One size of the STS-B-DIR study; every field is recorded in the study config."""

    name: str
    seeds: tuple[int, ...]
    class_counts: tuple[int, ...]
    lambdas: tuple[float, ...]
    class_modes: tuple[str, ...] = CLASS_MODES
    hidden: tuple[int, ...] = (128,)
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    dtype: str = "float32"
    encoder: str = DEFAULT_ENCODER
    model_selection: str = "best_val"
    shot_bin_width: float = 0.1
    equalize_rounding: str = "floor"
    subset: tuple[int, int, int] | None = None
    cache_dir: str | None = None  # where encoded features are kept; null = <out>/features
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    zoo: tuple[str, ...] = ZOO_VARIANTS
    zoo_class_counts: tuple[int, ...] | None = None  # C of the zoo's class variants; null: all
    lds_inverse: str = "inverse"  # Yang et al.'s STS-B: LDS on INV
    lds_bins: int = 50  # 0.1-wide bins over [0, 5]
    fds_bins: int = 50  # Yang et al.'s STS-B bucket_num
    fds_clip: tuple[float, float] = (0.5, 2.0)  # Yang et al.'s STS-B clip of the variance ratio
    # Yang et al.'s STS-B Focal-R: beta 20 on the scores / 5 (loss.py, models.py) = 4 per point.
    focal_beta: float = 4.0
    # Every optimiser trains the whole grid (issue 22); see ADAMW_WEIGHT_DECAY and the pilot.
    optimizers: tuple[str, ...] = ("adam",)
    momentum: float = 0.9  # sgd's
    adamw_weight_decay: float = ADAMW_WEIGHT_DECAY
    pilot_learning_rates: tuple[float, ...] = PILOT_LEARNING_RATES
    # reg-tuned's sweeps, as many values as `lambdas` (the same tuning budget): the weight decay
    # under adam, the lr under adamw; sgd scales (lr, weight decay) by the lambda grid.
    weight_decays: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
    tuned_learning_rates: tuple[float, ...] = (1e-4, 5.6e-4, 3.2e-3, 1.8e-2, 1e-1)

    def __post_init__(self) -> None:
        check_nonempty(self, "seeds", "class_counts", "lambdas", "class_modes", "hidden")
        check_subset("class_modes", self.class_modes, CLASS_MODES)
        check_subset("controls", self.controls, CONTROLS)
        check_subset("optimizers", self.optimizers, OPTIMIZERS)
        check_nonempty(self, "optimizers", "pilot_learning_rates")
        check_all("pilot_learning_rates", self.pilot_learning_rates, lambda v: v > 0, "values > 0")
        check_all("weight_decays", self.weight_decays, lambda v: v >= 0, "values >= 0")
        check_all("tuned_learning_rates", self.tuned_learning_rates, lambda v: v > 0, "values > 0")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: must lie in [0, 1), got {self.momentum!r}")
        if "reg-tuned" in self.controls:
            for optimizer in self.optimizers:
                name, grid = self.tuned_grid(optimizer)
                if len(grid) != len(self.lambdas):
                    raise ValueError(
                        f"{name}: reg-tuned under {optimizer} needs as many values as lambdas "
                        f"({len(self.lambdas)}, the same tuning budget), got {len(grid)}"
                    )
        check_subset("zoo", self.zoo, ZOO_VARIANTS)
        check_choice("lds_inverse", self.lds_inverse, LDS_INVERSES)
        if self.zoo_class_counts is not None:
            check_nonempty(self, "zoo_class_counts")
            check_all("zoo_class_counts", self.zoo_class_counts, lambda v: v >= 2, "integers >= 2")
        for name in ("lds_bins", "fds_bins"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 3):
                raise ValueError(f"{name}: must be an integer >= 3, got {value!r}")
        if not (len(self.fds_clip) == 2 and 0 < self.fds_clip[0] <= self.fds_clip[1]):
            raise ValueError(
                f"fds_clip: must be [low, high] with 0 < low <= high, got {self.fds_clip}"
            )
        check_all("class_counts", self.class_counts, lambda v: v >= 2, "integers >= 2")
        check_all("lambdas", self.lambdas, lambda v: v > 0, "values > 0")
        check_all("hidden", self.hidden, lambda v: v >= 1, "widths >= 1")
        check_choice("model_selection", self.model_selection, MODEL_SELECTIONS)
        check_choice("equalize_rounding", self.equalize_rounding, EQUALIZE_ROUNDINGS)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_positive(self, "epochs", "batch_size", "lr", "shot_bin_width", "focal_beta")
        if not self.encoder:
            raise ValueError("encoder: give a sentence-transformers model name or directory")
        if self.subset is not None and (
            len(self.subset) != 3 or any(not isinstance(n, int) or n < 2 for n in self.subset)
        ):
            raise ValueError(
                f"subset: [train, val, test] pair counts >= 2 or null, got {self.subset}"
            )

    def with_overrides(self, overrides: dict[str, object]) -> StsbPreset:
        return with_overrides(self, overrides)

    def tuned_grid(self, optimizer: str) -> tuple[str, tuple[float, ...]]:
        """(field, values) of reg-tuned's sweep under `optimizer` (TUNED_HYPERPARAMETER)."""
        tuned = TUNED_HYPERPARAMETER[optimizer]
        if tuned == "weight_decay":
            return "weight_decays", self.weight_decays
        if tuned == "lr":
            return "tuned_learning_rates", self.tuned_learning_rates
        return "lambdas", self.lambdas

    def optimizer_weight_decay(self, optimizer: str) -> float:
        """The base weight decay of `optimizer` (decoupled under adamw)."""
        return self.adamw_weight_decay if optimizer == "adamw" else self.weight_decay

    @property
    def zoo_classes(self) -> tuple[int, ...]:
        """C of the zoo's class variants."""
        return self.class_counts if self.zoo_class_counts is None else self.zoo_class_counts

    def method_settings(self) -> tuple[tuple[str, object], ...]:
        """The `regcls.methods.MethodConfig` fields this preset sets (the rest: its defaults)."""
        return (
            ("fds_bins", self.fds_bins),
            ("fds_clip_max", float(self.fds_clip[1])),
            ("fds_clip_min", float(self.fds_clip[0])),
            ("focal_beta", float(self.focal_beta)),
            ("lds_bins", self.lds_bins),
            ("lds_inverse", self.lds_inverse),
        )


def zoo_note(preset: StsbPreset) -> str:
    """One line on the preset's method zoo: which variants at which C, and what it leaves out."""
    left = [v for v in ZOO_VARIANTS if v not in preset.zoo]
    classes = ", ".join(map(str, preset.zoo_classes))
    text = f"method zoo: {len(preset.zoo)} of {len(ZOO_VARIANTS)} variants"
    text += f" (class variants at C = {classes})"
    if left:
        text += f"; leaves {', '.join(left)} to paper"
    return text


PRESETS: dict[str, StsbPreset] = {
    "paper": StsbPreset(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        class_counts=(2, 10, 50, 100),
        lambdas=(0.01, 0.1, 1.0, 10.0, 100.0),
        hidden=(256,),
        epochs=40,
    ),
    "quick": StsbPreset(
        name="quick",
        seeds=(0, 1, 2),
        class_counts=(2, 10, 100),
        lambdas=(0.1, 1.0, 10.0),
        zoo=QUICK_ZOO,
        zoo_class_counts=(10,),
    ),
    # Does the CE term help on real data, under each optimiser (issue 22)? reg, reg+cls in
    # both class modes at C = 10 x 3 lambdas, reg-scaled, cls-only and reg-tuned (3 values:
    # the same budget), 10 seeds: the unit of independence is the seed, and a 95% interval over
    # seeds needs at least 6. (quick's head and schedule; 42 trials of 10 seeds and 3 pilot
    # trials, sized for the shared 2-core machine.)
    "answer": StsbPreset(
        name="answer",
        seeds=tuple(range(10)),
        class_counts=(10,),
        lambdas=(0.1, 1.0, 10.0),
        controls=CONTROLS,
        zoo=(),
        optimizers=OPTIMIZERS,
        weight_decays=(0.0, 1e-4, 1e-2),
        tuned_learning_rates=(1e-4, 3.2e-3, 1e-1),
    ),
    "smoke": StsbPreset(
        name="smoke",
        seeds=(0, 1),
        class_counts=(10,),
        lambdas=(1.0,),
        hidden=(32,),
        epochs=3,
        batch_size=32,
        subset=(160, 60, 60),
    ),
}
