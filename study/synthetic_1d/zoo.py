"""The method-zoo study before Ray: its trials, the lambdas of its test stage, the config its
output folder records, its model counts and the plan `--dry-run` prints.

Two stages on the slice of `search_spaces/synthetic_1d_zoo.py`, both built from the 1D study's
`reg` trial of each (scenario, sampling) (`plan.base_spec`), so every zoo model trains on the
data of, and pairs with, that cell's `reg` (same function, seed, sampling; same initial weights
under `pair_init = shared`):

- `lambda_search` (validation seeds): `reg` and every lambda variant at every C x lambda of the
  slice; none when the slice gives lambdas.
- `test` (test seeds): `reg` and every other variant, at every C where it has classes, the
  lambda variants at the lambda chosen per scenario and variant (`selection.
  choose_variant_lambdas`) or given; with `reg_scaled`, `reg-scaled` (lam * MSE, no class head)
  at every distinct lambda of a scenario's lambda variants, so each of them also pairs with the
  loss scale alone at its own lambda and lr.

Import-light like `preflight.py` (no Ray, pyarrow; torch only to check `method_params` and to
calibrate the dry run's ETA).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from itertools import product

from search_spaces.synthetic_1d_zoo import CLASS_VARIANTS, LAMBDA_VARIANTS, PRESETS, ZooPreset
from study.dry_run import format_plan
from study.options import StudyOptions
from study.output_folder import check_output_folder
from study.synthetic_1d.bundles import stage_plan
from study.synthetic_1d.packing import CostModel, split_costly
from study.synthetic_1d.plan import base_spec
from study.synthetic_1d.selection import VARIANT_LAMBDA_SELECTION
from study.synthetic_1d.trial_spec import TrialSpec

STUDY = "synthetic_1d_zoo"
ZOO_STAGES = ("lambda_search", "test")
# A lambda per (scenario, variant): chosen on validation, or given.
VariantLambdas = dict[tuple[str, str], float]


def resolve_zoo_preset(options: StudyOptions) -> ZooPreset:
    """The preset named by the options with the user's overrides (`variants`, `method_params`
    and fields of the slice); ValueError on a bad preset, override, search or hyperparameter."""
    if options.search != "grid":
        raise ValueError(
            f"--search: {STUDY} searches lambda on its grid only; accepted values: grid"
        )
    if options.preset not in PRESETS:
        raise ValueError(
            f"--preset: unknown preset {options.preset!r} for {STUDY}; "
            f"valid presets: {', '.join(PRESETS)}"
        )
    preset = PRESETS[options.preset].with_overrides(options.space_overrides)
    _check_method_params(preset)
    return preset


def lambda_variants(preset: ZooPreset) -> tuple[str, ...]:
    """The preset's variants whose lambda is searched (or given)."""
    return tuple(v for v in preset.variants if v in LAMBDA_VARIANTS)


def zoo_lambda_search_specs(preset: ZooPreset) -> list[TrialSpec]:
    """Validation grid: scenario x sampling x (reg + lambda variant x C x lambda)."""
    grid = preset.slice
    if preset.lambdas_given or not lambda_variants(preset):
        return []
    replicates = tuple(product(grid.functions, grid.validation_seeds))
    specs = []
    for scenario, sampling in product(grid.scenarios, grid.samplings):
        base = _reg(preset, "lambda_search", scenario, sampling, replicates)
        specs.append(base)
        specs += [
            _variant(base, preset, variant, classes, lam, "grid")
            for variant, classes, lam in product(
                lambda_variants(preset), grid.class_counts, grid.lambdas
            )
        ]
    return specs


def given_variant_lambdas(preset: ZooPreset) -> VariantLambdas:
    """The slice's given lambda of each scenario for every lambda variant; empty when none."""
    if not preset.lambdas_given:
        return {}
    return {
        (scenario, variant): float(preset.slice.lambda_for(scenario, "imbalanced"))
        for scenario in preset.slice.scenarios
        for variant in lambda_variants(preset)
    }


def zoo_test_specs(preset: ZooPreset, lambdas: VariantLambdas) -> list[TrialSpec]:
    """Test grid: scenario x sampling x (reg + every variant, at every C where it has classes),
    lambda variants at `lambdas[(scenario, variant)]`."""
    grid = preset.slice
    replicates = tuple(product(grid.functions, grid.test_seeds))
    source = "given" if preset.lambdas_given else "validation"
    specs = []
    for scenario, sampling in product(grid.scenarios, grid.samplings):
        base = _reg(preset, "test", scenario, sampling, replicates)
        specs.append(base)
        for variant in preset.variants:
            if variant == "reg":
                continue
            counts = grid.class_counts if variant in CLASS_VARIANTS else (None,)
            lam = lambdas.get((scenario, variant)) if variant in LAMBDA_VARIANTS else None
            if variant in LAMBDA_VARIANTS and lam is None:
                raise ValueError(f"lambdas: no lambda for {scenario}/{variant}")
            specs += [
                _variant(base, preset, variant, classes, lam, source if lam else "none")
                for classes in counts
            ]
        if preset.reg_scaled:
            used = sorted({lambdas[(scenario, v)] for v in lambda_variants(preset)})
            specs += [_variant(base, preset, "reg-scaled", None, lam, source) for lam in used]
    return specs


def declared_zoo_models(preset: ZooPreset) -> dict[str, int]:
    """Models per stage; their sum is the study's Parquet row count (an upper bound with
    `reg_scaled` when lambda is chosen on validation: reg-scaled trains at the distinct lambdas
    chosen, planned at the most there can be)."""
    stages = {
        "lambda_search": zoo_lambda_search_specs(preset),
        "test": zoo_test_specs(preset, _placeholder_lambdas(preset)),
    }
    return {stage: sum(len(s.replicates) for s in specs) for stage, specs in stages.items()}


def zoo_config(options: StudyOptions, preset: ZooPreset) -> dict:
    """What the output folder records; a different config may not reuse the folder."""
    return {
        "study": STUDY,
        "search": options.search,
        "lambda_selection": VARIANT_LAMBDA_SELECTION,
        "preset": asdict(preset),
    }


def zoo_dry_run(options: StudyOptions) -> str:
    """The plan: per stage its models, Tune trials after packing and ETA; writes nothing."""
    preset = resolve_zoo_preset(options)
    check_output_folder(options.out, zoo_config(options, preset), options.resume)
    cpus = options.num_cpus or os.cpu_count() or 1
    slots = max(1, cpus // options.cpus_per_trial)
    stages = {
        "lambda_search": zoo_lambda_search_specs(preset),
        "test": zoo_test_specs(
            preset, given_variant_lambdas(preset) or _placeholder_lambdas(preset)
        ),
    }
    # Calibrated like the run's start-up; split and bundled as the run does.
    cost = CostModel().calibrated("cpu", [s for specs in stages.values() for s in specs])
    plans = [stage_plan(stage, split_costly(specs), slots, cost) for stage, specs in stages.items()]
    grid = preset.slice
    title = (
        f"{STUDY} preset={preset.name} --dry-run: nothing is trained, Ray is not started, "
        f"nothing is written to {options.out}"
    )
    machine = "--num-cpus" if options.num_cpus else "CPUs of this machine"
    notes = [
        f"ETA: cost model of study/synthetic_1d/packing.py calibrated on this CPU now "
        f"({cost.summary()}), {slots} slot(s) = {machine}; the cost model is the reg+cls one "
        "(HCA, FDS and HCA-d's second stage cost more)",
        f"variants: {', '.join(preset.variants)}",
        f"grid: {', '.join(grid.scenarios)} x {', '.join(grid.samplings)}, C in "
        f"{list(grid.class_counts)}, {len(grid.functions)} functions x "
        f"{len(grid.test_seeds)} test seeds",
        "test: planned with placeholder lambdas (the grid's, spread over the lambda variants: "
        "reg-scaled at the most lambdas the run can need; the run chooses lambda per scenario "
        "and variant on validation)"
        if not preset.lambdas_given
        else f"lambdas given: {grid.given_lambdas}",
    ]
    total = sum(p.eta_seconds or 0.0 for p in plans)
    return format_plan(title, plans, total, notes)


def _reg(
    preset: ZooPreset,
    stage: str,
    scenario: str,
    sampling: str,
    replicates: tuple[tuple[int, int], ...],
) -> TrialSpec:
    base = base_spec(preset.slice, stage, "grid", scenario, sampling, replicates)
    return base.with_values(study=STUDY)


def _variant(
    base: TrialSpec,
    preset: ZooPreset,
    variant: str,
    classes: int | None,
    lam: float | None,
    source: str,
) -> TrialSpec:
    params = tuple(sorted(preset.method_params.get(variant, {}).items()))
    return base.with_values(
        variant=variant,
        num_classes=classes,
        lam=lam,
        lambda_source=source,
        method_params=params,
    )


def _placeholder_lambdas(preset: ZooPreset) -> VariantLambdas:
    """The given lambdas, else the grid's lambdas spread over the lambda variants (round robin),
    so the plan holds reg-scaled at as many lambdas as the choice on validation can need."""
    grid = preset.slice.lambdas
    return given_variant_lambdas(preset) or {
        (scenario, variant): float(grid[i % len(grid)])
        for scenario in preset.slice.scenarios
        for i, variant in enumerate(lambda_variants(preset))
    }


def _check_method_params(preset: ZooPreset) -> None:
    """Every variant's `method_params` must make a valid `MethodConfig` (its one-line error)."""
    if not preset.method_params:
        return
    from regcls.methods import MethodConfig  # torch: only when hyperparameters are given

    for variant, params in preset.method_params.items():
        if not isinstance(params, dict) or "variant" in params:
            raise ValueError(
                f"method_params: {variant} must map MethodConfig fields (not variant) to values"
            )
        try:
            MethodConfig(variant, **params)
        except TypeError as error:
            raise ValueError(f"method_params: {variant}: {error}") from None
