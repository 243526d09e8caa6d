"""The real-data (DIR) studies before Ray starts: which there are, their presets, the checks
of their data, the config their output folder records, and the plan `--dry-run` prints.

Import-light on purpose (no Ray, torch or pyarrow; a dataset reader is imported only when its
data is checked): `--list`, `--help` and validation go through here and answer at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from regcls.data.datasets import layout_error
from search_spaces import breakfast as breakfast_space
from search_spaces import imdb_wiki_dir, nyud2_dir, stsb_dir
from study.dir.plan import (
    breakfast_specs,
    declared_models,
    image_specs,
    stsb_pilot_specs,
    stsb_specs,
)
from study.dir.spec import DirSpec
from study.dry_run import StagePlan, format_plan
from study.options import StudyOptions
from study.output_folder import check_output_folder


@dataclass(frozen=True)
class DirStudy:
    """One real-data study: its presets, how to check its data and build its trials."""

    name: str
    description: str
    presets: Mapping[str, object]
    check_data: Callable[[object, Path | None], str]  # (preset, --data-root) -> data root
    specs: Callable[[object, str], list[DirSpec]]
    packed: bool  # small MLPs share a core (packed resources) or a trial takes a whole device
    # (preset, folder) -> writes the tiny generated dataset `--preset smoke` runs on without
    # `--data-root` (regcls.data.datasets.fixtures); None: the study ships its data (stsb_dir)
    write_smoke_data: Callable[[object, Path], None] | None = None
    # preset -> one line on what the preset leaves out (`--list` and `--dry-run` print it)
    preset_note: Callable[[object], str] | None = None
    # (preset, data root) -> the `lr_pilot` stage's trials, run before the others (optimisers
    # without a published lr); `specs` then takes the lr chosen per optimiser as a third argument
    pilot_specs: Callable[[object, str], list[DirSpec]] | None = None

    def all_specs(self, preset: object, root: str) -> list[DirSpec]:
        """Every trial the study plans: the pilot's, then the others' (at a placeholder lr where
        the pilot chooses it)."""
        pilot = self.pilot_specs(preset, root) if self.pilot_specs else []
        return [*pilot, *self.specs(preset, root)]


def dir_studies() -> dict[str, DirStudy]:
    """Every real-data study by name."""
    entries = [
        DirStudy(
            "imdb_wiki_dir",
            "IMDB-WIKI-DIR age estimation, ResNet + [F, C] class head (core paper Tables 3-4)",
            imdb_wiki_dir.PRESETS,
            _check_imdb_wiki,
            lambda preset, root: image_specs("imdb_wiki_dir", preset, root),
            packed=False,
            write_smoke_data=_write_imdb_wiki_smoke,
        ),
        DirStudy(
            "nyud2_dir",
            "NYUD2-DIR depth, ResNet encoder-decoder + per-pixel class head (Tables 2 and 4)",
            nyud2_dir.PRESETS,
            _check_nyud2,
            lambda preset, root: image_specs("nyud2_dir", preset, root),
            packed=False,
            write_smoke_data=_write_nyud2_smoke,
        ),
        DirStudy(
            "breakfast",
            "Breakfast video progress, one ReLU MLP per task on IDT features (core paper Table 5)",
            breakfast_space.PRESETS,
            _check_breakfast,
            breakfast_specs,
            packed=True,
            write_smoke_data=_write_breakfast_smoke,
        ),
        DirStudy(
            "stsb_dir",
            "STS-B-DIR similarity, packed MLP heads on frozen sentence-encoder features",
            stsb_dir.PRESETS,
            _check_stsb,
            stsb_specs,
            packed=True,
            preset_note=stsb_dir.zoo_note,
            pilot_specs=stsb_pilot_specs,
        ),
    ]
    return {entry.name: entry for entry in entries}


def resolve_preset(study: DirStudy, options: StudyOptions):
    """The preset named by the options, with the user's search-space overrides applied."""
    if options.preset not in study.presets:
        raise ValueError(
            f"--preset: unknown preset {options.preset!r} for {study.name}; "
            f"valid presets: {', '.join(study.presets)}"
        )
    return study.presets[options.preset].with_overrides(options.space_overrides)


def validate_dir_study(study: DirStudy, options: StudyOptions) -> None:
    """Bad preset, overrides or data root: a one-line ValueError before anything runs."""
    if options.search != "grid":
        raise ValueError(
            f"--search: {study.name} runs the paper's grid, no Optuna stage; accepted values: "
            f"grid (got {options.search!r})"
        )
    data_root(study, resolve_preset(study, options), options)


def smoke_data_root(study: DirStudy, options: StudyOptions) -> Path | None:
    """Where `--preset smoke` without `--data-root` generates its tiny dataset:
    `<out>/smoke_data/<study>`; None when the run reads `--data-root` (or the study ships its
    data, or the preset is not smoke: those need `--data-root`)."""
    if options.data_root is not None or options.preset != "smoke":
        return None
    if study.write_smoke_data is None:
        return None
    return (Path(options.out) / "smoke_data" / study.name).resolve()


def data_root(study: DirStudy, preset: object, options: StudyOptions) -> str:
    """The data folder the run reads: `--data-root` checked, or the smoke dataset the run will
    generate (checked once written, `write_smoke_data`)."""
    generated = smoke_data_root(study, options)
    return str(generated) if generated else study.check_data(preset, options.data_root)


def write_smoke_data(study: DirStudy, preset: object, root: Path) -> str:
    """Write the study's tiny generated dataset (the tests' fixtures, exact on-disk format) to
    `root` and check it as `--data-root` would be; returns the checked root. Deterministic, so
    a resumed run rewrites the same data."""
    if study.write_smoke_data is None:
        raise ValueError(f"--preset: {study.name} has no generated smoke dataset")
    study.write_smoke_data(preset, Path(root))
    return study.check_data(preset, Path(root))


def describe_presets(study: DirStudy) -> dict[str, str]:
    """Preset name -> one line with its model count."""
    described = {}
    for name, preset in study.presets.items():
        counts = declared_models(study.all_specs(preset, "<data-root>"))
        described[name] = (
            f"{sum(counts.values())} models ("
            + ", ".join(f"{stage} {count}" for stage, count in counts.items())
            + ")"
            + (f"; {study.preset_note(preset)}" if study.preset_note else "")
        )
    return described


def study_config(study: DirStudy, preset: object, root: str) -> dict:
    """What the output folder records; a different config may not reuse the folder."""
    return {"study": study.name, "search": "grid", "data_root": root, "preset": asdict(preset)}


def dry_run(study: DirStudy, options: StudyOptions) -> str:
    """The study's plan: models and trials (one per spec) per stage; writes nothing."""
    preset = resolve_preset(study, options)
    root = data_root(study, preset, options)
    check_output_folder(options.out, study_config(study, preset, root), options.resume)
    specs = study.all_specs(preset, root)
    plans = [
        StagePlan(stage, models, sum(s.stage == stage for s in specs))
        for stage, models in declared_models(specs).items()
    ]
    title = (
        f"{study.name} preset={preset.name} --dry-run: nothing is trained, Ray is not started, "
        f"nothing is written to {options.out}"
    )
    notes = [
        f"ETA: no cost model for {study.name}"
        + ("" if study.packed else "; without a GPU the run times one step and prints an estimate")
    ]
    if study.preset_note is not None:
        notes.append(study.preset_note(preset))
    if any(s.stage == "lr_pilot" for s in specs):
        notes.append(
            "lr_pilot runs first (its own Tune run); the optimisers it serves train at the lr it "
            "chooses on validation"
        )
    if smoke_data_root(study, options) is not None:
        notes.append(f"no --data-root: the run writes a tiny generated dataset to {root}")
    return format_plan(title, plans, None, notes)


def _write_imdb_wiki_smoke(preset: object, root: Path) -> None:
    from regcls.data.datasets.fixtures import write_imdb_wiki_fixture  # numpy, PIL

    write_imdb_wiki_fixture(root)


def _write_nyud2_smoke(preset: object, root: Path) -> None:
    from regcls.data.datasets.fixtures import write_nyud2_fixture

    write_nyud2_fixture(root)


def _write_breakfast_smoke(preset, root: Path) -> None:
    from regcls.data.datasets.fixtures import write_breakfast_fixture

    write_breakfast_fixture(root, tasks=tuple(preset.tasks))


def _require_root(study: str, root: Path | None, layout: str) -> Path:
    if root is None:
        raise ValueError(
            f"--data-root: {study} needs its dataset folder; expected {layout} (or try "
            "--preset smoke without --data-root: a tiny generated dataset)"
        )
    return Path(root)


def _check_imdb_wiki(preset, root: Path | None) -> str:
    from regcls.data.datasets import imdb_wiki  # its reader imports torch

    root = _require_root("imdb_wiki_dir", root, imdb_wiki.LAYOUT)
    for split in imdb_wiki.SPLITS:
        if len(imdb_wiki.read_imdb_wiki(root, split).ages) == 0:
            raise layout_error(
                "imdb_wiki_dir", imdb_wiki.LAYOUT, f"no {split} rows in {root / imdb_wiki.CSV_NAME}"
            )
    return str(root.resolve())


def _check_nyud2(preset, root: Path | None) -> str:
    from regcls.data.datasets import nyud2  # its reader imports torch

    root = _require_root("nyud2_dir", root, nyud2.LAYOUT)
    for split in nyud2.SPLITS:
        nyud2.read_nyud2(root, split)
    return str(root.resolve())


def _check_breakfast(preset, root: Path | None) -> str:
    from regcls.data.datasets import breakfast as breakfast_data

    layout = breakfast_data.LAYOUT
    root = _require_root("breakfast", root, layout)
    for task in preset.tasks:
        folder = root / "features" / task
        files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if not files:
            raise layout_error("breakfast", layout, f"no .txt feature files in {folder}")
        breakfast_data.read_breakfast_video(files[0], preset.skip_first_row)
        people = [int(m.group(1)) for f in files if (m := re.match(r"^P(\d+)_", f.name))]
        for split in preset.splits:
            low, high = breakfast_data.TEST_PARTICIPANTS[split]
            test = sum(low <= p <= high for p in people)
            if not test or len(people) - test < 2:
                raise layout_error(
                    "breakfast",
                    layout,
                    f"{folder}: split {split} needs test videos of P{low:02d}-P{high:02d} and "
                    f">= 2 training videos, found {test} and {len(people) - test}",
                )
    return str(root.resolve())


def _check_stsb(preset, root: Path | None) -> str:
    from regcls.data.datasets import stsb

    for split in stsb.FILES:
        stsb.load_stsb_dir(split, root)
    return str((Path(root) if root is not None else stsb.shipped_root()).resolve())
