"""The 1D study before Ray starts: its resolved preset, the config its output folder records,
and the plan `--dry-run` prints.

Import-light on purpose (no Ray, pyarrow or, until an ETA is calibrated, torch): `--list`,
`--help` and validation go through here and answer at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict
from typing import TypeVar

from search_spaces.synthetic_1d import PRESETS, Synthetic1DPreset
from study.dry_run import StagePlan, format_plan
from study.options import StudyOptions
from study.output_folder import check_output_folder
from study.synthetic_1d.bundles import bundle_packs, bundles_seconds, stage_plan
from study.synthetic_1d.packing import CostModel, split_costly
from study.synthetic_1d.plan import (
    STUDY,
    given_lambdas,
    lambda_search_specs,
    noise_specs,
    optuna_specs,
    placeholder_tuned,
    test_specs,
)
from study.synthetic_1d.selection import LAMBDA_SELECTION, WEIGHT_DECAY_SELECTION

P = TypeVar("P")


def resolve_preset(options: StudyOptions) -> Synthetic1DPreset:
    """The preset named by the options, with the user's search-space overrides applied."""
    if options.preset not in PRESETS:
        raise ValueError(
            f"--preset: unknown preset {options.preset!r} for {STUDY}; "
            f"valid presets: {', '.join(PRESETS)}"
        )
    return PRESETS[options.preset].with_overrides(options.space_overrides)


def grid_preset(presets: Mapping[str, P], study: str, options: StudyOptions, search: str) -> P:
    """The preset of a grid-only 1D study named by the options, with the user's overrides
    applied; ValueError on a search other than grid (`search` says why) or an unknown preset."""
    if options.search != "grid":
        raise ValueError(f"--search: {study} {search}; accepted values: grid")
    if options.preset not in presets:
        raise ValueError(
            f"--preset: unknown preset {options.preset!r} for {study}; "
            f"valid presets: {', '.join(presets)}"
        )
    return presets[options.preset].with_overrides(options.space_overrides)


def study_config(options: StudyOptions, preset: Synthetic1DPreset) -> dict:
    """What the output folder records; a different config may not reuse the folder."""
    return {
        "study": STUDY,
        "search": options.search,
        "lambda_selection": LAMBDA_SELECTION,
        "weight_decay_selection": WEIGHT_DECAY_SELECTION,
        "preset": asdict(preset),
    }


def dry_run(options: StudyOptions) -> str:
    """The study's plan: per stage its models, Tune trials after packing and ETA; writes nothing.

    The test and noise stages depend on the lambdas chosen on validation; they are planned with
    the placeholder lambda 1.0 (as `declared_models` counts them), which the text says.
    """
    preset = resolve_preset(options)
    check_output_folder(options.out, study_config(options, preset), options.resume)
    cpus = options.num_cpus or os.cpu_count() or 1
    slots = max(1, cpus // options.cpus_per_trial)
    search = options.search
    plans, total_eta, cost, backend_note = predict(preset, search, slots, "cpu")
    title = (
        f"{STUDY} preset={preset.name} search={search} --dry-run: nothing is trained, Ray is not "
        f"started, nothing is written to {options.out}"
    )
    machine = "--num-cpus" if options.num_cpus else "CPUs of this machine"
    notes = [
        f"ETA: cost model of study/synthetic_1d/packing.py calibrated on this CPU now "
        f"({cost.summary()}), {slots} slot(s) = {machine}; a run on a cluster or GPU prints its "
        "own ETA per stage",
        backend_note,
        "the total ETA runs the stages one after the other, test and noise as one Tune run",
        *_lambda_notes(preset, search, placeholder_tuned(preset), plans[-1].models),
    ]
    return format_plan(title, plans, total_eta, notes)


def predict(
    preset: Synthetic1DPreset, search: str, slots: int, device: str
) -> tuple[list[StagePlan], float, CostModel, str]:
    """Per stage plans and the total predicted seconds of `preset` on `slots` trial slots of
    `device` ("cpu", or "cuda" with `slots` = GPUs / gpu_fraction), with the cost model
    calibrated here and now on the backend the run would use; also that model and the line
    naming the backend. Test and noise stages assume the placeholder lambda 1.0."""
    from regcls.training.fused import resolve_backend

    lambdas = given_lambdas(preset) or _placeholder_lambdas(preset, 1.0, 1.0)
    tuned = placeholder_tuned(preset)
    stages = {"lambda_search": lambda_search_specs(preset, search)}
    stages["test"] = test_specs(preset, lambdas, search, tuned=tuned)
    stages["noise"] = (
        noise_specs(preset, lambdas, search, tuned=tuned) if "noisy" in preset.scenarios else []
    )
    # Calibrated like the run's start-up (constants measured here, now, on the backend the run
    # will use), so the ETA matches the one the run prints.
    backend, backend_note = resolve_backend(preset.backend, device, preset.dtype)
    all_specs = [s for specs in stages.values() for s in specs]
    cost = CostModel().calibrated(device, all_specs, backend)
    # Split as the run splits them (stored cost model, not the calibrated one).
    trials = {stage: split_costly(specs) for stage, specs in stages.items()}
    plans = [stage_plan(stage, trials[stage], slots, cost) for stage in ("lambda_search",)]
    total_eta = plans[0].eta_seconds or 0.0
    if search == "optuna":
        plans.append(_optuna_plan(preset, slots, cost))
        total_eta += plans[-1].eta_seconds or 0.0
    plans += [stage_plan(stage, trials[stage], slots, cost) for stage in ("test", "noise")]
    # The run trains test and noise as one Tune run, planned together.
    final = bundle_packs(split_costly(stages["test"] + stages["noise"]), slots)
    total_eta += bundles_seconds(final, slots, cost)
    return plans, total_eta, cost, backend_note


def _optuna_plan(preset: Synthetic1DPreset, slots: int, cost: CostModel) -> StagePlan:
    """TPE trials per scenario, each one pack of every sampling; scenarios one after another.

    An upper bound: ASHA stops poor trials early.
    """
    samples = preset.optuna.num_samples
    models = trials = 0
    seconds = 0.0
    for scenario in preset.scenarios:
        pack = optuna_specs(preset, scenario)
        models += samples * sum(len(s.replicates) for s in pack)
        trials += samples
        per_trial = sum(cost.trial_seconds(s) for s in pack)
        seconds += math.ceil(samples / slots) * per_trial
    return StagePlan("optuna", models, trials, seconds)


def _placeholder_lambdas(
    preset: Synthetic1DPreset, imbalanced: float, balanced: float
) -> dict[tuple[str, str], float]:
    return {
        (scenario, mode): lam
        for scenario in preset.scenarios
        for mode, lam in (("imbalanced", imbalanced), ("balanced", balanced))
    }


def _lambda_notes(
    preset: Synthetic1DPreset,
    search: str,
    tuned: dict[str, tuple[float, float]],
    noise_models: int,
) -> list[str]:
    """What the test and noise rows assumed about choices made only during the run."""
    notes = []
    if search == "optuna":
        notes.append("optuna: models and ETA are upper bounds (ASHA stops poor trials early)")
    if given_lambdas(preset):
        return notes
    source = "with Optuna" if search == "optuna" else "on validation after lambda_search"
    notes.append(
        f"test, noise: planned with the placeholder lambda 1.0 for every scenario and class "
        f"mode (the run chooses lambda {source})"
    )
    if "reg-scaled" in preset.controls and "noisy" in preset.scenarios:
        # One reg-scaled model per distinct lambda of a noise cell's two class modes.
        apart = _placeholder_lambdas(preset, 1.0, 2.0)
        specs = noise_specs(preset, apart, search, tuned=tuned)
        more = sum(len(s.replicates) for s in specs) - noise_models
        if more > 0:
            notes.append(
                f"noise: {more:,} more reg-scaled models if the lambdas chosen for the two class "
                "modes differ"
            )
    return notes
