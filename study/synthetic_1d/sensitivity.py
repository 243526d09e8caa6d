"""The protocol-sensitivity study before Ray: its trials, the config its output folder records,
its model counts and the plan `--dry-run` prints.

The study trains the test stage of one slice (`search_spaces/synthetic_1d_sensitivity.py`) at
the given lambdas once per flip: `none` (the paper's defaults) and each flip of the preset, one
protocol choice set to the authors' value. Every trial records its `flip`, which enters its key
and its pairing, so a reg+cls model pairs with the reg model of its own flip and data. All flips
run as one Tune run into one output folder. Import-light like `preflight.py` (no Ray, pyarrow).
"""

from __future__ import annotations

import os
from dataclasses import asdict

from search_spaces.synthetic_1d_sensitivity import (
    BASELINE,
    NOT_AVAILABLE,
    PRESETS,
    SensitivityPreset,
)
from study.dry_run import format_plan
from study.options import StudyOptions
from study.output_folder import check_output_folder
from study.synthetic_1d.bundles import bundle_packs, bundles_seconds, stage_plan
from study.synthetic_1d.packing import CostModel, split_costly
from study.synthetic_1d.plan import CLASS_VARIANTS, given_lambdas, test_specs
from study.synthetic_1d.preflight import grid_preset
from study.synthetic_1d.trial_spec import TrialSpec

STUDY = "synthetic_1d_sensitivity"


def resolve_sensitivity_preset(options: StudyOptions) -> SensitivityPreset:
    """The preset named by the options with the user's overrides (`flips` and fields of the
    slice) applied; ValueError on a bad preset, override or search."""
    return grid_preset(PRESETS, STUDY, options, "trains at given lambdas, no search")


def sensitivity_specs(preset: SensitivityPreset) -> list[TrialSpec]:
    """The test-stage trials of the slice once per flip (baseline first), each marked with it."""
    specs = []
    for flip in (BASELINE, *preset.flips):
        flipped = preset.flipped(flip)
        grid = test_specs(flipped, given_lambdas(flipped), class_variants=CLASS_VARIANTS)
        specs += [spec.with_values(study=STUDY, flip=flip) for spec in grid]
    return specs


def declared_sensitivity_models(preset: SensitivityPreset) -> dict[str, int]:
    """Models per flip (baseline `none` first); their sum is the study's Parquet row count."""
    counts = dict.fromkeys((BASELINE, *preset.flips), 0)
    for spec in sensitivity_specs(preset):
        counts[spec.flip] += len(spec.replicates)
    return counts


def sensitivity_config(options: StudyOptions, preset: SensitivityPreset) -> dict:
    """What the output folder records; a different config may not reuse the folder."""
    return {"study": STUDY, "search": options.search, "preset": asdict(preset)}


def sensitivity_dry_run(options: StudyOptions) -> str:
    """The plan: per flip its models, Tune trials after packing and ETA; writes nothing."""
    preset = resolve_sensitivity_preset(options)
    check_output_folder(options.out, sensitivity_config(options, preset), options.resume)
    cpus = options.num_cpus or os.cpu_count() or 1
    slots = max(1, cpus // options.cpus_per_trial)
    specs = sensitivity_specs(preset)
    cost = CostModel().calibrated("cpu", specs)
    plans = []
    for flip in (BASELINE, *preset.flips):
        packs = split_costly([s for s in specs if s.flip == flip])
        plans.append(stage_plan(f"test, flip {flip}", packs, slots, cost))
    slice_ = preset.slice
    title = (
        f"{STUDY} preset={preset.name} --dry-run: nothing is trained, Ray is not started, "
        f"nothing is written to {options.out}"
    )
    machine = "--num-cpus" if options.num_cpus else "CPUs of this machine"
    notes = [
        f"ETA: cost model of study/synthetic_1d/packing.py calibrated on this CPU now "
        f"({cost.summary()}), {slots} slot(s) = {machine}; the flips run as one Tune run",
        f"slice: {', '.join(slice_.scenarios)} x {', '.join(slice_.samplings)}, C in "
        f"{list(slice_.class_counts)}, lambdas {slice_.given_lambdas}, "
        f"{len(slice_.functions)} functions x {len(slice_.test_seeds)} seeds",
        *(f"not available as a flip: {name} ({why})" for name, why in NOT_AVAILABLE.items()),
    ]
    # The flips run as one Tune run: bundled together, as the run bundles them.
    together = bundle_packs(split_costly(specs), slots)
    return format_plan(title, plans, bundles_seconds(together, slots, cost), notes)
