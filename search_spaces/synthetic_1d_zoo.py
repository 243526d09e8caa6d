"""The method zoo on the controlled 1D data (issue 10): every variant of `regcls/methods.py`
paired with the `reg` model of its data set, under the 1D study's protocol.

The grid is a `Synthetic1DPreset` (`ZooPreset.slice`: scenarios, samplings, functions, seeds,
class counts, the lambda grid, schedule) plus the variants trained on it. Variants with a lambda
(`lam * MSE + CE`: `LAMBDA_VARIANTS`) get theirs chosen on validation per scenario and variant
(a lambda-search stage over the slice's `lambdas`, as reg+cls in the 1D study), unless the
slice's `given_lambdas` name one per scenario. `method_params` overrides a variant's
hyperparameters (`regcls.methods.MethodConfig` fields; every row records the values used).
Declarative data only, like every search space: `study/synthetic_1d/zoo.py` validates the
variant names and the hyperparameters against `regcls.methods`.

The 1D study's own hyperparameter values, in the units of its targets (f(x) in about
[-1.5, 1.5]; `docs/zoo_settings.md` has every value with its source), are the presets'
`method_params` (`ZOO_METHOD_PARAMS`); a `--space` `method_params` entry overrides single fields
of them. `reg_scaled` trains `reg-scaled` (lam * MSE alone, the 1D study's control) on test at
every lambda a lambda variant uses, so every `lam * MSE + CE` variant is also compared with the
loss scale alone (same data, init and lr).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from search_spaces.method_zoo import FOCAL_BETA_TIMES_ERROR, METHOD_ZOO, WITH_CLASSES, WITH_LAMBDA
from search_spaces.synthetic_1d import PRESETS as SYNTHETIC_1D_PRESETS
from search_spaces.synthetic_1d import Synthetic1DPreset

# Every variant of the zoo, the `reg` baseline first (regcls.methods.METHODS).
ZOO_VARIANTS = ("reg", "reg+cls", *METHOD_ZOO)
# Variants whose loss is lam * MSE + CE (MethodConfig.uses_lam): lambda chosen on validation.
LAMBDA_VARIANTS = ("reg+cls", *WITH_LAMBDA)
# Variants with classes (MethodConfig.has_classes): trained at every C of the slice.
CLASS_VARIANTS = ("reg+cls", *WITH_CLASSES)

# The reg baseline's typical test error here: the median over the six cells (clean, noisy, ood x
# uniform, severe) of its mean test RMSE in `examples/zoo_subset.json` (25 epochs, 12,000
# samples, 10 functions x 2 seeds): 0.29 (noisy uniform) to 0.79 (ood severe), median 0.66.
TYPICAL_ERROR = 0.66
# Focal-R (Yang et al.'s weighted_focal_mse_loss, sigmoid, gamma 1): beta so that
# beta * TYPICAL_ERROR is the middle of the published range (FOCAL_BETA_TIMES_ERROR): 3.8 per
# target unit (their age code's 0.2 per year gives 0.13 here, a factor 0.07 instead of 0.8).
FOCAL_BETA = round(FOCAL_BETA_TIMES_ERROR / TYPICAL_ERROR, 1)
# Balanced MSE: sigma learned (Ren et al.'s default) from 1.5 x the known noise sigma of the noisy
# scenario (0.1), as their synthetic benchmark's "learnable noise" runs; clean and ood data have
# no label noise (sigma 0 cannot start BMC), so they start from the same 0.15 and learn.
BMC_SIGMA_INIT = 0.15
ZOO_METHOD_PARAMS: dict[str, dict[str, object]] = {
    "reg-focal": {"focal_beta": FOCAL_BETA, "focal_gamma": 1.0, "focal_activation": "sigmoid"},
    "reg-bmc": {"bmc_sigma": BMC_SIGMA_INIT, "bmc_sigma_learned": True, "bmc_sigma_lr": 1e-2},
}


@dataclass(frozen=True)
class ZooPreset:
    """One named size of the zoo study: the slice of the 1D grid and the variants on it."""

    name: str
    slice: Synthetic1DPreset
    variants: tuple[str, ...] = ZOO_VARIANTS
    # variant -> {MethodConfig field: value}; unset fields keep MethodConfig's defaults.
    method_params: dict[str, dict[str, object]] = field(
        default_factory=lambda: {v: dict(p) for v, p in ZOO_METHOD_PARAMS.items()}
    )
    # Train reg-scaled at every lambda the lambda variants use on test (the "vs reg-scaled" rows).
    reg_scaled: bool = True

    def __post_init__(self) -> None:
        bad = [v for v in self.variants if v not in ZOO_VARIANTS]
        if bad or len(set(self.variants)) != len(self.variants) or "reg" not in self.variants:
            raise ValueError(
                f"variants: got {list(self.variants)}; accepted values: distinct values of "
                f"{', '.join(ZOO_VARIANTS)}, reg among them (every model is paired with it)"
            )
        unknown = sorted(set(self.method_params) - set(self.variants))
        if unknown:
            raise ValueError(
                f"method_params: unknown variant(s) {unknown}; accepted keys: the preset's "
                f"variants ({', '.join(self.variants)})"
            )
        if self.slice.controls:
            raise ValueError("controls: the zoo trains no controls; give controls = []")

    @property
    def lambdas_given(self) -> bool:
        """Whether every scenario has a given lambda (then no lambda search is run)."""
        return self.slice.lambdas_given

    def with_overrides(self, overrides: dict[str, object]) -> ZooPreset:
        """A copy with `variants`, `reg_scaled` and fields of the slice replaced and
        `method_params` merged field by field into the preset's (whose entries for variants
        left out are dropped); unknown fields are an error naming the valid ones."""
        own = {"variants", "method_params", "reg_scaled"}
        known = set(self.slice.__dataclass_fields__) - {"name", "optuna"} | own
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(
                f"search space: unknown field(s) {', '.join(unknown)}; "
                f"accepted fields: {', '.join(sorted(known))}"
            )
        rest = {k: v for k, v in overrides.items() if k not in own}
        variants = tuple(overrides.get("variants", self.variants))
        params = {v: dict(p) for v, p in self.method_params.items() if v in variants}
        given = overrides.get("method_params", {})
        if not isinstance(given, dict):
            raise ValueError("method_params: must map variant names to {field: value}")
        for variant, fields in given.items():
            own = params.get(variant, {})
            params[variant] = {**own, **fields} if isinstance(fields, dict) else fields
        return replace(
            self,
            slice=self.slice.with_overrides(rest),
            variants=variants,
            method_params=params,
            reg_scaled=bool(overrides.get("reg_scaled", self.reg_scaled)),
        )


_PAPER_SLICE = replace(
    SYNTHETIC_1D_PRESETS["paper"],
    noise_sigmas=(),
    controls=(),
)

PRESETS: dict[str, ZooPreset] = {
    # The paper's test stage: 3 scenarios x 4 samplings x 10 functions x 5 test seeds, C in
    # {4, 16, 64, 256, 1024}, lambda searched over the paper's 8 values on 3 validation seeds.
    "paper": ZooPreset(name="paper", slice=_PAPER_SLICE),
    # Fits 10 minutes on 2 cores: uniform and severe sampling, 3 functions, 2 test seeds,
    # 1 validation seed, C in {4, 64}, lambda in {0.1, 10, 1000}, 25 epochs, 12,000 samples.
    "quick": ZooPreset(
        name="quick",
        slice=replace(
            _PAPER_SLICE,
            name="quick",
            samplings=("uniform", "severe"),
            functions=(0, 1, 2),
            validation_seeds=(0,),
            test_seeds=(0, 421),
            class_counts=(4, 64),
            lambdas=(1e-1, 1e1, 1e3),
            epochs=25,
            total_samples=12_000,
        ),
    ),
}
