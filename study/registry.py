"""The studies this product runs, their presets, and how to validate and run each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from search_spaces.synthetic_1d import PRESETS as SYNTHETIC_1D_PRESETS
from study.dir.run import (
    DirStudy,
    describe_presets,
    dir_studies,
    run_dir_study,
    validate_dir_study,
)
from study.options import StudyOptions
from study.synthetic_1d.plan import declared_models
from study.synthetic_1d.run import resolve_preset, run_synthetic_1d


@dataclass(frozen=True)
class StudyEntry:
    """One selectable study: `validate` raises ValueError on bad input before anything runs."""

    name: str
    description: str
    presets: dict[str, str]  # preset name -> one-line description
    validate: Callable[[StudyOptions], None]
    run: Callable[[StudyOptions, pa.Schema], object]
    kind: str = "synthetic_1d"  # "synthetic_1d" | "dir": which row schema and report it uses


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


def studies() -> dict[str, StudyEntry]:
    """Every registered study by name."""
    entries = [
        StudyEntry(
            name="synthetic_1d",
            description="the core paper's controlled 1D study (Figures 3-5, Table 1)",
            presets=_synthetic_1d_presets(),
            validate=_validate_synthetic_1d,
            run=run_synthetic_1d,
        ),
    ]
    entries += [_dir_entry(study) for study in dir_studies().values()]
    return {entry.name: entry for entry in entries}


def _dir_entry(study: DirStudy) -> StudyEntry:
    return StudyEntry(
        name=study.name,
        description=study.description,
        presets=describe_presets(study),
        validate=lambda options: validate_dir_study(study, options),
        run=lambda options, schema: run_dir_study(study, options, schema),
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
