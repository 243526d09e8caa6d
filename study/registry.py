"""The studies this product runs, their presets, and how to validate, plan and run each.

Import-light on purpose: everything here comes from the `preflight` modules (no Ray, torch,
pyarrow), and a study's run module (which imports Ray) is imported only when it runs, so
`--help`, `--list` and `--dry-run` answer at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from search_spaces.synthetic_1d import PRESETS as SYNTHETIC_1D_PRESETS
from search_spaces.synthetic_1d_answer import PRESETS as ANSWER_PRESETS
from search_spaces.synthetic_1d_sensitivity import PRESETS as SENSITIVITY_PRESETS
from search_spaces.synthetic_1d_zoo import PRESETS as ZOO_PRESETS
from study.dir.preflight import DirStudy, describe_presets, dir_studies, validate_dir_study
from study.dir.preflight import dry_run as dir_dry_run
from study.options import StudyOptions
from study.synthetic_1d.answer import (
    answer_dry_run,
    declared_answer_models,
    resolve_answer_preset,
)
from study.synthetic_1d.plan import declared_models
from study.synthetic_1d.preflight import dry_run as synthetic_1d_dry_run
from study.synthetic_1d.preflight import resolve_preset
from study.synthetic_1d.sensitivity import (
    declared_sensitivity_models,
    resolve_sensitivity_preset,
    sensitivity_dry_run,
)
from study.synthetic_1d.zoo import declared_zoo_models, resolve_zoo_preset, zoo_dry_run

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class StudyEntry:
    """One selectable study: `validate` raises ValueError on bad input before anything runs;
    `dry_run` returns the plan `--dry-run` prints (it starts nothing and writes nothing)."""

    name: str
    description: str
    presets: dict[str, str]  # preset name -> one-line description
    validate: Callable[[StudyOptions], None]
    run: Callable[[StudyOptions, pa.Schema], object]
    dry_run: Callable[[StudyOptions], str]
    # "synthetic_1d" | "zoo" | "answer" (1D rows, their own report) | "dir": which row schema and
    # report
    kind: str = "synthetic_1d"


def _synthetic_1d_presets() -> dict[str, str]:
    described = {}
    for name, preset in SYNTHETIC_1D_PRESETS.items():
        counts = declared_models(preset)
        described[name] = (
            f"{sum(counts.values())} models ("
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"); {len(preset.functions)} functions, {preset.epochs} epochs, "
            f"{preset.total_samples} samples"
        )
    return described


def _sensitivity_presets() -> dict[str, str]:
    described = {}
    for name, preset in SENSITIVITY_PRESETS.items():
        counts = declared_sensitivity_models(preset)
        described[name] = (
            f"{sum(counts.values())} models ({len(counts) - 1} flips + baseline, "
            f"{next(iter(counts.values()))} in the baseline); {len(preset.slice.functions)} "
            "functions, "
            f"{preset.slice.epochs} epochs, {preset.slice.total_samples} samples"
        )
    return described


def _zoo_presets() -> dict[str, str]:
    described = {}
    for name, preset in ZOO_PRESETS.items():
        counts = declared_zoo_models(preset)
        grid = preset.slice
        described[name] = (
            f"{sum(counts.values())} models ("
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"); {len(preset.variants)} variants, {len(grid.samplings)} samplings, "
            f"C in {list(grid.class_counts)}, {len(grid.functions)} functions, "
            f"{grid.epochs} epochs, {grid.total_samples} samples"
        )
    return described


def _answer_presets() -> dict[str, str]:
    described = {}
    for name, preset in ANSWER_PRESETS.items():
        counts = declared_answer_models(preset)
        grid = preset.slice
        described[name] = (
            f"{sum(counts.values())} models ("
            + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            + f"); optimizers {', '.join(preset.optimizers)}, {len(grid.samplings)} samplings, "
            f"C in {list(grid.class_counts)}, {len(grid.functions)} functions, "
            f"{grid.epochs} epochs, {grid.total_samples} samples"
        )
    return described


def studies() -> dict[str, StudyEntry]:
    """Every registered study by name."""
    entries = [
        StudyEntry(
            name="synthetic_1d",
            description="the core paper's controlled 1D study (Figures 3-5, Table 1)",
            presets=_synthetic_1d_presets(),
            validate=_validate_synthetic_1d,
            run=_run_synthetic_1d,
            dry_run=synthetic_1d_dry_run,
        ),
        StudyEntry(
            name="synthetic_1d_sensitivity",
            description="which of the paper's unstated 1D choices moves 'reg+cls beats reg': "
            "one choice at a time flipped to the authors' code, at fixed lambda",
            presets=_sensitivity_presets(),
            validate=_validate_sensitivity,
            run=_run_sensitivity,
            dry_run=sensitivity_dry_run,
        ),
        StudyEntry(
            name="synthetic_1d_zoo",
            description="the regression-by-classification family side by side (issue 10): every "
            "variant of regcls/methods.py against its paired reg, league tables",
            presets=_zoo_presets(),
            validate=resolve_zoo_preset,
            run=_run_zoo,
            dry_run=zoo_dry_run,
            kind="zoo",
        ),
        StudyEntry(
            name="synthetic_1d_answer",
            description="does the CE term help once the loss scale and the tuning budget are "
            "controlled? every arm (reg, reg+cls, reg+cls-balanced, reg-scaled, reg-tuned, "
            "cls-only) under adam, adamw and sgd, lambda chosen on validation",
            presets=_answer_presets(),
            validate=resolve_answer_preset,
            run=_run_answer,
            dry_run=answer_dry_run,
            kind="answer",
        ),
    ]
    entries += [_dir_entry(study) for study in dir_studies().values()]
    return {entry.name: entry for entry in entries}


def _dir_entry(study: DirStudy) -> StudyEntry:
    def run(options: StudyOptions, schema: pa.Schema) -> object:
        from study.dir.run import run_dir_study

        return run_dir_study(study, options, schema)

    return StudyEntry(
        name=study.name,
        description=study.description,
        presets=describe_presets(study),
        validate=lambda options: validate_dir_study(study, options),
        run=run,
        dry_run=lambda options: dir_dry_run(study, options),
        kind="dir",
    )


def get_study(name: str) -> StudyEntry:
    """The study called `name`, or a one-line error naming the valid studies."""
    known = studies()
    if name not in known:
        raise ValueError(f"--study: unknown study {name!r}; valid studies: {', '.join(known)}")
    return known[name]


def _validate_synthetic_1d(options: StudyOptions) -> None:
    """Bad preset names and search-space overrides raise here, before Ray starts."""
    resolve_preset(options)


def _validate_sensitivity(options: StudyOptions) -> None:
    resolve_sensitivity_preset(options)


def _run_sensitivity(options: StudyOptions, schema: pa.Schema) -> object:
    from study.synthetic_1d.sensitivity_run import run_sensitivity  # imports Ray

    return run_sensitivity(options, schema)


def _run_zoo(options: StudyOptions, schema: pa.Schema) -> object:
    from study.synthetic_1d.zoo_run import run_zoo  # imports Ray

    return run_zoo(options, schema)


def _run_answer(options: StudyOptions, schema: pa.Schema) -> object:
    from study.synthetic_1d.answer_run import run_answer  # imports Ray

    return run_answer(options, schema)


def _run_synthetic_1d(options: StudyOptions, schema: pa.Schema) -> object:
    from study.synthetic_1d.run import run_synthetic_1d  # imports Ray: only when a study runs

    return run_synthetic_1d(options, schema)
