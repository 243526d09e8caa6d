"""The answer study before Ray (issue 22): its trials per stage and optimiser, the choices made
on validation between stages, the config its output folder records, and the plan `--dry-run`
prints.

Stages, each one Tune run (`answer_run.py`):
1. `lr_pilot` (optimisers without a published lr, `AnswerPreset.piloted`): reg on the validation
   seeds at every `pilot_learning_rates` value; the lr per scenario with the lowest mean
   validation MSE (`selection.choose_pilot_lrs`) becomes that optimiser's base lr.
2. `lambda_search` per optimiser: reg, reg+cls in both class modes at every C x lambda, and
   reg-tuned's sweep (`plan.reg_tuned_sweep`), on the validation seeds; lambda per scenario and
   class mode and reg-tuned's (lr, weight decay) per scenario chosen by the 1D study's rules.
3. `test` (and `noise` for the noisy scenario's other sigmas) per optimiser: the 1D study's test
   grid with both class modes and every control, at the choices of stage 2.

Every trial records its `optimizer` (and SGD's `momentum`), which enters its key and its pairing,
so a model pairs with the reg of its own optimiser. Import-light (no Ray, pyarrow).
"""

from __future__ import annotations

import os
from dataclasses import asdict, replace

from search_spaces.synthetic_1d_answer import PRESETS, AnswerPreset
from study.dry_run import format_plan
from study.options import StudyOptions
from study.output_folder import check_output_folder
from study.synthetic_1d.bundles import bundle_packs, bundles_seconds, stage_plan
from study.synthetic_1d.packing import CostModel, split_costly
from study.synthetic_1d.plan import (
    CLASS_VARIANTS,
    LambdaChoice,
    TunedChoice,
    base_spec,
    grid_replicates,
    lambda_search_specs,
    noise_specs,
    placeholder_tuned,
    test_specs,
)
from study.synthetic_1d.preflight import grid_preset
from study.synthetic_1d.selection import (
    LAMBDA_SELECTION,
    LR_PILOT_SELECTION,
    WEIGHT_DECAY_SELECTION,
)
from study.synthetic_1d.trial_spec import TrialSpec

STUDY = "synthetic_1d_answer"
# Per optimiser: its base lr per scenario, lambda per (scenario, class mode), reg-tuned's setting.
LearningRates = dict[str, dict[str, float]]


def resolve_answer_preset(options: StudyOptions) -> AnswerPreset:
    """The preset named by the options with the user's overrides applied; ValueError on a bad
    preset, override or search."""
    return grid_preset(PRESETS, STUDY, options, "runs the paper's lambda grid on validation")


def pilot_specs(preset: AnswerPreset) -> list[TrialSpec]:
    """Stage `lr_pilot`: reg at every pilot lr, per piloted optimiser x scenario x sampling, on
    the validation seeds."""
    specs = []
    for optimizer in (o for o in preset.optimizers if o in preset.piloted):
        grid = preset.for_optimizer(optimizer)
        replicates = grid_replicates(grid.functions, grid.validation_seeds)
        for scenario in grid.scenarios:
            for sampling in grid.samplings:
                base = base_spec(grid, "lr_pilot", "grid", scenario, sampling, replicates)
                specs += [
                    base.with_values(study=STUDY, lr=float(lr))
                    for lr in preset.pilot_learning_rates
                ]
    return specs


def base_learning_rates(preset: AnswerPreset, piloted: LearningRates) -> LearningRates:
    """Every optimiser's base lr per scenario: the pilot's choice for a piloted optimiser, the
    slice's (the paper's Adam rates) for the others."""
    rates = {}
    for optimizer in preset.optimizers:
        if optimizer in preset.piloted:
            if optimizer not in piloted:
                raise ValueError(f"learning rates: the lr pilot chose none for {optimizer}")
            rates[optimizer] = dict(piloted[optimizer])
        else:
            rates[optimizer] = dict(preset.slice.learning_rates)
    return rates


def search_specs(preset: AnswerPreset, rates: LearningRates) -> list[TrialSpec]:
    """Stage `lambda_search` of every optimiser: reg, reg+cls (both modes) x C x lambda and
    reg-tuned's sweep; no reg-scaled or cls-only (they need no choice)."""
    specs = []
    for optimizer in preset.optimizers:
        grid = replace(preset.for_optimizer(optimizer, rates[optimizer]), controls=("reg-tuned",))
        specs += [s.with_values(study=STUDY) for s in lambda_search_specs(grid)]
    return specs


def final_specs(
    preset: AnswerPreset,
    rates: LearningRates,
    lambdas: dict[str, LambdaChoice],
    tuned: dict[str, TunedChoice],
) -> list[TrialSpec]:
    """Stages `test` (every scenario at the default sigma) and `noise` (the noisy scenario at
    the slice's other sigmas), every arm, per optimiser at its choices."""
    specs = []
    for optimizer in preset.optimizers:
        grid = preset.for_optimizer(optimizer, rates[optimizer])
        chosen, setting = lambdas[optimizer], tuned[optimizer]
        specs += test_specs(grid, chosen, tuned=setting, class_variants=CLASS_VARIANTS)
        others = tuple(s for s in grid.noise_sigmas if s != grid.default_noise_sigma)
        if "noisy" in grid.scenarios and others:
            specs += noise_specs(replace(grid, noise_sigmas=others), chosen, tuned=setting)
    return [s.with_values(study=STUDY) for s in specs]


def planned_stages(preset: AnswerPreset) -> dict[str, list[TrialSpec]]:
    """Every stage's trials with placeholders for the choices made during the run (the slice's
    lr for a piloted optimiser, lambda 1.0, reg-tuned at the base setting): the models and
    trials are the run's, the lambdas and rates are not."""
    rates = {o: dict(preset.slice.learning_rates) for o in preset.optimizers}
    lambdas, tuned = {}, {}
    for optimizer in preset.optimizers:
        grid = preset.for_optimizer(optimizer)
        lambdas[optimizer] = {
            (s, m): 1.0 for s in grid.scenarios for m in ("imbalanced", "balanced")
        }
        tuned[optimizer] = placeholder_tuned(grid)
    final = final_specs(preset, rates, lambdas, tuned)
    return {
        "lr_pilot": pilot_specs(preset),
        "lambda_search": search_specs(preset, rates),
        "test": [s for s in final if s.stage == "test"],
        "noise": [s for s in final if s.stage == "noise"],
    }


def declared_answer_models(preset: AnswerPreset) -> dict[str, int]:
    """Models per stage; their sum is the study's Parquet row count."""
    return {
        stage: sum(len(s.replicates) for s in specs)
        for stage, specs in planned_stages(preset).items()
    }


def answer_config(options: StudyOptions, preset: AnswerPreset) -> dict:
    """What the output folder records; a different config may not reuse the folder."""
    return {
        "study": STUDY,
        "search": options.search,
        "lambda_selection": LAMBDA_SELECTION,
        "weight_decay_selection": WEIGHT_DECAY_SELECTION,
        "lr_pilot_selection": LR_PILOT_SELECTION,
        "preset": asdict(preset),
    }


def answer_dry_run(options: StudyOptions) -> str:
    """The plan: per stage its models, Tune trials after packing and ETA; writes nothing."""
    preset = resolve_answer_preset(options)
    check_output_folder(options.out, answer_config(options, preset), options.resume)
    cpus = options.num_cpus or os.cpu_count() or 1
    slots = max(1, cpus // options.cpus_per_trial)
    stages = planned_stages(preset)
    from regcls.training.fused import resolve_backend  # compiles or loads the kernel: not at import

    backend, backend_note = resolve_backend(preset.slice.backend, "cpu", preset.slice.dtype)
    cost = CostModel().calibrated("cpu", [s for specs in stages.values() for s in specs], backend)
    packs = {stage: split_costly(specs) for stage, specs in stages.items()}
    plans = [stage_plan(stage, packs[stage], slots, cost) for stage in stages if packs[stage]]
    # lr_pilot and lambda_search run one after the other; test and noise as one Tune run.
    total = sum(
        bundles_seconds(bundle_packs(p, slots), slots, cost)
        for p in (packs["lr_pilot"], packs["lambda_search"], packs["test"] + packs["noise"])
        if p
    )
    grid = preset.slice
    title = (
        f"{STUDY} preset={preset.name} --dry-run: nothing is trained, Ray is not started, "
        f"nothing is written to {options.out}"
    )
    machine = "--num-cpus" if options.num_cpus else "CPUs of this machine"
    noisy = sorted({grid.default_noise_sigma, *grid.noise_sigmas})
    notes = [
        f"ETA: cost model of study/synthetic_1d/packing.py calibrated on this CPU now "
        f"({cost.summary()}), {slots} slot(s) = {machine}; the stages run one after the other "
        "(test and noise as one Tune run); the cost model times Adam's step, SGD's is cheaper",
        backend_note,
        f"grid per optimizer ({', '.join(preset.optimizers)}): {', '.join(grid.scenarios)} "
        f"(noisy at sigma {', '.join(f'{s:g}' for s in noisy)}) x {', '.join(grid.samplings)}, "
        f"C in {list(grid.class_counts)}, {len(grid.lambdas)} lambdas, "
        f"{len(grid.functions)} functions x {len(grid.validation_seeds)} validation / "
        f"{len(grid.test_seeds)} test seeds, {grid.epochs} epochs, {grid.total_samples} samples",
        "test, noise: planned with the placeholder lambda 1.0 and reg-tuned at the base setting "
        "(the run chooses both on validation after lambda_search); one more reg-scaled model per "
        "cell where the two class modes choose different lambdas",
    ]
    if stages["lr_pilot"]:
        notes.append(
            f"lr_pilot: {', '.join(o for o in preset.optimizers if o in preset.piloted)} at lr "
            f"{', '.join(f'{v:g}' for v in preset.pilot_learning_rates)}; the stages after it are "
            "planned at the slice's learning rates"
        )
    return format_plan(title, plans, total, notes)
