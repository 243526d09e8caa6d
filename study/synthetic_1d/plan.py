"""The trials of each stage of the 1D study (spec "What the study produces").

- `lambda_search`: Figure 4 and Table 1, on validation seeds, both class modes, every lambda.
- `test`: Figure 3, test seeds, lambda chosen on validation per scenario.
- `noise`: Figure 5, noisy data at every sigma, the three variants.
The `reg` baseline depends on neither C nor lambda: one trial per (scenario, sampling) per stage,
paired with every reg+cls model trained on the same data; with `reg_pairing = per_model` (the
authors' runs) every reg+cls model also gets its own reg, paired by `pair_key`.

Controls (`preset.controls`, see `study/variants.py`) are trained wherever reg+cls is trained at
its chosen lambda (test and noise stages), on the same data: `reg-scaled` at the lambda and lr of
the reg+cls models it controls (one per distinct lambda of the cell's class modes), `cls-only` at
every C with the reg+cls lr, `reg-tuned` at the (lr, weight decay) chosen on validation from its
sweep in the lambda search (`reg_tuned_sweep`: what lambda stands in for under the preset's
optimiser, `search_spaces.synthetic_1d.TUNED_HYPERPARAMETER`). With `preset.given_lambdas` (the
CLI's `--lambdas`) the lambda search trains only the reg-tuned sweep (nothing without it).
"""

from __future__ import annotations

from itertools import product

from search_spaces.optimizers import TUNED_HYPERPARAMETER
from search_spaces.synthetic_1d import Synthetic1DPreset
from study.synthetic_1d.trial_spec import CLASS_MODES, TrialSpec

STUDY = "synthetic_1d"
CLASS_VARIANTS = ("reg+cls", "reg+cls-balanced")
GRID_STAGES = ("lambda_search", "test", "noise")

# A lambda per (scenario, class mode), chosen on validation.
LambdaChoice = dict[tuple[str, str], float]
# reg-tuned's (lr, weight decay) per scenario, chosen on validation from `reg_tuned_sweep`.
TunedChoice = dict[str, tuple[float, float]]


def lambda_search_specs(preset: Synthetic1DPreset, search: str = "grid") -> list[TrialSpec]:
    """Validation grid: scenario x sampling x (reg + class mode x C x lambda + the controls:
    reg-scaled x lambda, cls-only x C, reg-tuned x weight decay)."""
    replicates = grid_replicates(preset.functions, preset.validation_seeds)
    specs = []
    for scenario, sampling in product(preset.scenarios, preset.samplings):
        base = base_spec(preset, "lambda_search", search, scenario, sampling, replicates)
        if not preset.lambdas_given:  # given lambdas: no search, only reg-tuned's sweep below
            specs.append(base)
            grid = product(CLASS_VARIANTS, preset.class_counts, preset.lambdas)
            specs += _own_regs(
                base,
                [
                    base.with_values(
                        variant=variant, num_classes=classes, lam=lam, lambda_source="grid"
                    )
                    for variant, classes, lam in grid
                ],
            )
            if "reg-scaled" in preset.controls:
                specs += [
                    base.with_values(variant="reg-scaled", lam=lam, lambda_source="grid")
                    for lam in preset.lambdas
                ]
            if "cls-only" in preset.controls:
                specs += [
                    base.with_values(variant="cls-only", num_classes=classes)
                    for classes in preset.class_counts
                ]
        if "reg-tuned" in preset.controls:
            specs += [
                base.with_values(variant="reg-tuned", lr=lr, weight_decay=wd, lambda_source="grid")
                for lr, wd in reg_tuned_sweep(preset, scenario)
            ]
    return specs


def reg_tuned_sweep(preset: Synthetic1DPreset, scenario: str) -> list[tuple[float, float]]:
    """reg-tuned's (lr, weight decay) settings in one scenario: what lambda * MSE stands in for
    under the preset's optimiser (`TUNED_HYPERPARAMETER`), as many values as its grid has.

    adam: the weight decay over `weight_decays` at the scenario's lr; sgd: (lr * s, wd / s) for s
    in the lambda grid (lam * MSE at (lr, wd) is MSE at (lr * lam, wd / lam)); adamw: the lr over
    `tuned_learning_rates` at the preset's weight decay.
    """
    lr, wd = preset.learning_rates[scenario], preset.weight_decay
    tuned = TUNED_HYPERPARAMETER[preset.optimizer]
    if tuned == "weight_decay":
        return [(lr, decay) for decay in preset.weight_decays]
    if tuned == "lr_scale":
        return [(lr * scale, wd / scale) for scale in preset.lambdas]
    return [(rate, wd) for rate in preset.tuned_learning_rates]


def given_lambdas(preset: Synthetic1DPreset) -> LambdaChoice:
    """The user-given lambda per (scenario, class mode); empty when none are given."""
    if not preset.lambdas_given:
        return {}
    return {
        (scenario, mode): float(preset.lambda_for(scenario, mode))
        for scenario in preset.scenarios
        for mode in ("imbalanced", "balanced")
    }


def test_specs(
    preset: Synthetic1DPreset,
    lambdas: LambdaChoice,
    search: str = "grid",
    learning_rates: dict[str, float] | None = None,
    tuned: TunedChoice | None = None,
    class_variants: tuple[str, ...] = ("reg+cls",),
) -> list[TrialSpec]:
    """Test grid of Figure 3: scenario x sampling x (reg + reg+cls at every C + controls).

    `learning_rates` (from the Optuna search) applies to reg+cls and the controls that train
    like it (reg-scaled, cls-only); reg and reg-tuned keep the paper's. `class_variants` are the
    variants with a class head trained at every C (the sensitivity study adds reg+cls-balanced).
    """
    replicates = grid_replicates(preset.functions, preset.test_seeds)
    specs = []
    for scenario, sampling in product(preset.scenarios, preset.samplings):
        base = base_spec(preset, "test", search, scenario, sampling, replicates)
        selected = _selected(base, class_variants, preset, lambdas, learning_rates)
        controls = _controls(base, selected, preset, tuned)
        specs += [base, *_own_regs(base, selected), *controls]
    return specs


def noise_specs(
    preset: Synthetic1DPreset,
    lambdas: LambdaChoice,
    search: str = "grid",
    learning_rates: dict[str, float] | None = None,
    tuned: TunedChoice | None = None,
) -> list[TrialSpec]:
    """Figure 5 (noise): sigma x sampling x (reg + both class modes at every C + controls)."""
    replicates = grid_replicates(preset.functions, preset.test_seeds)
    specs = []
    for sigma, sampling in product(preset.noise_sigmas, preset.samplings):
        base = base_spec(preset, "noise", search, "noisy", sampling, replicates).with_values(
            noise_sigma=sigma
        )
        selected = _selected(base, CLASS_VARIANTS, preset, lambdas, learning_rates)
        controls = _controls(base, selected, preset, tuned)
        specs += [base, *_own_regs(base, selected), *controls]
    return specs


def optuna_specs(preset: Synthetic1DPreset, scenario: str) -> list[TrialSpec]:
    """One Optuna trial's pack: reg+cls at the search's C over samplings x validation replicates.

    lambda and lr are placeholders; the searcher's sampled values replace them in the trial.
    """
    replicates = grid_replicates(preset.functions, preset.validation_seeds)
    return [
        base_spec(preset, "optuna", "optuna", scenario, sampling, replicates).with_values(
            variant="reg+cls",
            num_classes=preset.optuna.num_classes,
            lam=1.0,
            lambda_source="optuna",
        )
        for sampling in preset.samplings
    ]


def declared_models(preset: Synthetic1DPreset) -> dict[str, int]:
    """Models each grid stage trains; their sum is the Parquet row count of a grid study."""
    placeholder = {
        (scenario, mode): 1.0
        for scenario in preset.scenarios
        for mode in ("imbalanced", "balanced")
    }
    placeholder = given_lambdas(preset) or placeholder
    tuned = placeholder_tuned(preset)
    stages = {
        "lambda_search": lambda_search_specs(preset),
        "test": test_specs(preset, placeholder, tuned=tuned),
        "noise": noise_specs(preset, placeholder, tuned=tuned)
        if "noisy" in preset.scenarios
        else [],
    }
    return {stage: sum(len(s.replicates) for s in specs) for stage, specs in stages.items()}


def placeholder_tuned(preset: Synthetic1DPreset) -> TunedChoice:
    """reg-tuned at the preset's own lr and weight decay, to count and plan the stages after
    the lambda search before its choice is known."""
    return {s: (preset.learning_rates[s], preset.weight_decay) for s in preset.scenarios}


def _selected(
    base: TrialSpec,
    variants: tuple[str, ...],
    preset: Synthetic1DPreset,
    lambdas: LambdaChoice,
    learning_rates: dict[str, float] | None,
) -> list[TrialSpec]:
    """reg+cls trials at every C with the lambda (and lr) chosen for their scenario and mode."""
    rates = learning_rates or preset.learning_rates
    source = "optuna" if base.search == "optuna" else "validation"
    if preset.lambdas_given:
        source = "given"
    return [
        base.with_values(
            lr=rates[base.scenario],
            variant=variant,
            num_classes=classes,
            lam=lambdas[(base.scenario, CLASS_MODES[variant])],
            lambda_source=source,
        )
        for variant, classes in product(variants, preset.class_counts)
    ]


def _own_regs(base: TrialSpec, selected: list[TrialSpec]) -> list[TrialSpec]:
    """`selected` (reg+cls trials) as they are under `reg_pairing = per_dataset`; under
    `per_model` each preceded by its own reg, the two sharing a `pair_key` (the pairing, and the
    reg's init seed offset). The cell's shared reg (`base`) stays for the controls."""
    if base.reg_pairing != "per_model":
        return selected
    out: list[TrialSpec] = []
    for spec in selected:
        key = f"{spec.variant}/C={spec.num_classes}/lam={spec.lam:g}"
        out += [base.with_values(pair_key=key), spec.with_values(pair_key=key)]
    return out


def _controls(
    base: TrialSpec,
    selected: list[TrialSpec],
    preset: Synthetic1DPreset,
    tuned: TunedChoice | None,
) -> list[TrialSpec]:
    """The preset's controls of one cell, beside its reg+cls trials `selected`."""
    out: list[TrialSpec] = []
    if "reg-scaled" in preset.controls:
        # One per distinct (lambda, lr) of the cell's reg+cls models (both modes may share one).
        settings = sorted({(s.lam, s.lr, s.lambda_source) for s in selected})
        out += [
            base.with_values(variant="reg-scaled", lam=lam, lr=lr, lambda_source=source)
            for lam, lr, source in settings
        ]
    if "cls-only" in preset.controls:
        out += [
            s.with_values(variant="cls-only", lam=None, lambda_source="none")
            for s in selected
            if s.variant == "reg+cls"
        ]
    if "reg-tuned" in preset.controls:
        if tuned is None or base.scenario not in tuned:
            raise ValueError(f"tuned: reg-tuned needs its (lr, weight decay) for {base.scenario}")
        lr, decay = tuned[base.scenario]
        out.append(
            base.with_values(
                variant="reg-tuned", lr=lr, weight_decay=decay, lambda_source="validation"
            )
        )
    return out


def grid_replicates(
    functions: tuple[int, ...], seeds: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    """Every (function, seed) replicate of a grid point."""
    return tuple(product(functions, seeds))


def base_spec(
    preset: Synthetic1DPreset,
    stage: str,
    search: str,
    scenario: str,
    sampling: str,
    replicates: tuple[tuple[int, int], ...],
) -> TrialSpec:
    """The `reg` trial of one (scenario, sampling); class variants derive from it."""
    return TrialSpec(
        study=STUDY,
        stage=stage,
        search=search,
        scenario=scenario,
        sampling=sampling,
        noise_sigma=preset.default_noise_sigma if scenario == "noisy" else 0.0,
        noise_distribution=preset.noise_distribution,
        variant="reg",
        num_classes=None,
        lam=None,
        lr=preset.learning_rates[scenario],
        lambda_source="none",
        replicates=replicates,
        total_samples=preset.total_samples,
        epochs=preset.epochs,
        batch_size=preset.batch_size,
        weight_decay=preset.weight_decay,
        dtype=preset.dtype,
        backend=preset.backend,
        hidden=preset.hidden,
        shot_bins=preset.shot_bins,
        equalize_rounding=preset.equalize_rounding,
        pair_init=preset.pair_init,
        l_extra_bins=preset.l_extra_bins,
        l_extra_pseudo_count=preset.l_extra_pseudo_count,
        l_extra_samples=preset.l_extra_samples,
        reg_pairing=preset.reg_pairing,
        function_set=preset.function_set,
        peak_share=preset.peak_share,
        peak_bins=preset.peak_bins,
        validation_sampling=preset.validation_sampling,
        shot_rule=preset.shot_rule,
        optimizer=preset.optimizer,
        momentum=preset.momentum if preset.optimizer == "sgd" else None,
    )
