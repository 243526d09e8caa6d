"""The real-data (DIR) studies end to end: check the data, claim the folder, run Tune, write rows.

`imdb_wiki_dir`, `nyud2_dir` (core paper Section 3.2), `breakfast` (Section 3.3) and `stsb_dir`
(our extension to STS-B-DIR). One Tune run per study; a trial whose Parquet file exists is not
run again (`--resume`). Reg trials go first, so reg+cls rows find their pair early.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
from ray import tune

from regcls.datasets import breakfast as breakfast_data
from regcls.datasets import imdb_wiki, layout_error, nyud2, stsb
from search_spaces import breakfast as breakfast_space
from search_spaces import imdb_wiki_dir, nyud2_dir, stsb_dir
from study.cluster import ray_session
from study.dir.plan import breakfast_specs, declared_models, image_specs, stsb_specs
from study.dir.spec import DirSpec
from study.dir.trainables import dir_fallback_rows, dir_identity, dir_trainable
from study.options import StudyOptions
from study.output_folder import claim_output_folder
from study.resources import (
    TrialResources,
    full_device_trial_resources,
    packed_trial_resources,
)
from study.sink import Pairing, ParquetSink
from study.tune_runner import RunSummary, run_trials

# A reg+cls row's reg model: same data (dataset, split, task, target), seed, data balance and
# model selection, in the same stage.
DIR_PAIRING = Pairing(
    fields=("dataset", "data_split", "task", "target", "seed", "data_balance", "model_selection"),
    stages={"train": "train", "balanced_data": "balanced_data"},
    copies={
        "paired_reg_row_key": "row_key",
        "paired_reg_test_mse": "test_mse_all",
        "paired_reg_test_mae": "test_mae_all",
    },
)


@dataclass(frozen=True)
class DirStudy:
    """One real-data study: its presets, how to check its data and build its trials."""

    name: str
    description: str
    presets: Mapping[str, object]
    check_data: Callable[[object, Path | None], str]  # (preset, --data-root) -> data root
    specs: Callable[[object, str], list[DirSpec]]
    packed: bool  # small MLPs share a core (packed resources) or a trial takes a whole device


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
        ),
        DirStudy(
            "nyud2_dir",
            "NYUD2-DIR depth, ResNet encoder-decoder + per-pixel class head (Tables 2 and 4)",
            nyud2_dir.PRESETS,
            _check_nyud2,
            lambda preset, root: image_specs("nyud2_dir", preset, root),
            packed=False,
        ),
        DirStudy(
            "breakfast",
            "Breakfast video progress, one ReLU MLP per task on IDT features (core paper Table 5)",
            breakfast_space.PRESETS,
            _check_breakfast,
            breakfast_specs,
            packed=True,
        ),
        DirStudy(
            "stsb_dir",
            "STS-B-DIR similarity, packed MLP heads on frozen sentence-encoder features",
            stsb_dir.PRESETS,
            _check_stsb,
            stsb_specs,
            packed=True,
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
        raise ValueError(f"--search: {study.name} runs the paper's grid only; use --search grid")
    study.check_data(resolve_preset(study, options), options.data_root)


def describe_presets(study: DirStudy) -> dict[str, str]:
    """Preset name -> one line with its model count."""
    described = {}
    for name, preset in study.presets.items():
        counts = declared_models(study.specs(preset, "<data-root>"))
        described[name] = (
            f"{sum(counts.values())} models ("
            + ", ".join(f"{stage} {count}" for stage, count in counts.items())
            + ")"
        )
    return described


def run_dir_study(
    study: DirStudy, options: StudyOptions, schema: pa.Schema
) -> dict[str, RunSummary]:
    """Run every trial of the study into `options.out`; return what the Tune run did."""
    preset = resolve_preset(study, options)
    root = study.check_data(preset, options.data_root)
    specs = study.specs(preset, root)
    claim_output_folder(
        options.out,
        {"study": study.name, "search": "grid", "data_root": root, "preset": asdict(preset)},
        options.resume,
    )
    sink = ParquetSink(options.out, schema, DIR_PAIRING)
    declared = declared_models(specs)
    print(
        f"{study.name} preset={preset.name}: "
        + ", ".join(f"{stage} {count} models" for stage, count in declared.items())
        + f" (total {sum(declared.values())}) in {len(specs)} trials",
        flush=True,
    )
    trainable: Callable = dir_trainable
    if study.name == "stsb_dir":
        trainable = tune.with_parameters(
            dir_trainable, features=_stsb_features(preset, root, options)
        )
    todo = [s for s in specs if not sink.has_trial(s.stage, s.key)]
    if len(todo) < len(specs):
        print(f"{len(specs) - len(todo)} of {len(specs)} trials already done, skipped", flush=True)
    summaries: dict[str, RunSummary] = {}
    with ray_session(
        options.address, options.num_cpus, options.dashboard, options.dashboard_host
    ) as cluster:
        if study.packed:
            resources = packed_trial_resources(
                cluster, options.gpu_fraction, options.cpus_per_trial
            )
        else:
            resources = full_device_trial_resources(cluster)
            if resources.device == "cpu" and todo:
                _print_cpu_estimate(todo, root, resources)
        if todo:
            summaries[study.name] = run_trials(
                trainable,
                {
                    "device": resources.device,
                    "threads": resources.threads,
                    "spec": tune.grid_search([[s.to_config()] for s in todo]),
                },
                name=study.name,
                storage=options.out / "tune",
                sink=sink,
                identity=dir_identity,
                fallback_rows=dir_fallback_rows,
                resources=resources,
                expected_models=sum(len(s.seeds) for s in todo),
                expected_trials=len(todo),
                max_failures=options.max_failures,
            )
    return summaries


def _stsb_features(preset, root: str, options: StudyOptions) -> dict:
    """Encode the sentence pairs once in the driver (cached on disk), before Tune starts."""
    import time

    import torch

    from study.dir.stsb import prepare_stsb_features

    cache = Path(preset.cache_dir) if preset.cache_dir else options.out / "features"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    print(f"stsb_dir: pair features from {preset.encoder} (cache {cache})", flush=True)
    features = prepare_stsb_features(root, preset.encoder, cache, preset.subset, device)
    print(
        f"stsb_dir: features ready in {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{s} {features[f'x_{s}'].shape}" for s in ("train", "val", "test")),
        flush=True,
    )
    return features


def _print_cpu_estimate(specs: list[DirSpec], root: str, resources: TrialResources) -> None:
    """No GPU: say up front how long the image trials will take, then run anyway."""
    from study.dir.image import seconds_per_sample, training_size

    first = specs[0]
    n_train, n_eval = training_size(first.dataset, root)
    subset = first.setting("train_subset")
    if subset is not None:
        n_train = min(n_train, int(subset))
    per_image = seconds_per_sample(max(specs, key=lambda s: s.num_classes or 0), resources.threads)
    # Evaluation (val every epoch, val + test at the end) costs about a third of a training step.
    total = sum(
        len(s.seeds) * per_image * (s.epochs * (n_train + n_eval / 3) + n_eval / 3) for s in specs
    )
    models = sum(len(s.seeds) for s in specs)
    print(
        f"no GPU found: {models} image models train on the CPU one at a time "
        f"({resources.threads} threads); estimated {_duration(total)} "
        f"(timed step: {per_image * 1000:.0f} ms per training image, {n_train} training and "
        f"{n_eval} evaluation images per epoch). Running anyway.",
        flush=True,
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def _require_root(study: str, root: Path | None, layout: str) -> Path:
    if root is None:
        raise ValueError(f"--data-root: {study} needs its dataset folder; expected {layout}")
    return Path(root)


def _check_imdb_wiki(preset, root: Path | None) -> str:
    root = _require_root("imdb_wiki_dir", root, imdb_wiki.LAYOUT)
    for split in imdb_wiki.SPLITS:
        if len(imdb_wiki.read_imdb_wiki(root, split).ages) == 0:
            raise layout_error(
                "imdb_wiki_dir", imdb_wiki.LAYOUT, f"no {split} rows in {root / imdb_wiki.CSV_NAME}"
            )
    return str(root.resolve())


def _check_nyud2(preset, root: Path | None) -> str:
    root = _require_root("nyud2_dir", root, nyud2.LAYOUT)
    for split in nyud2.SPLITS:
        nyud2.read_nyud2(root, split)
    return str(root.resolve())


def _check_breakfast(preset, root: Path | None) -> str:
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
    for split in stsb.FILES:
        stsb.load_stsb_dir(split, root)
    return str((Path(root) if root is not None else stsb.shipped_root()).resolve())
