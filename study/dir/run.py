"""The real-data (DIR) studies end to end: check the data, claim the folder, run Tune, write rows.

`imdb_wiki_dir`, `nyud2_dir` (core paper Section 3.2), `breakfast` (Section 3.3) and `stsb_dir`
(our extension to STS-B-DIR). One Tune run per study; a trial whose Parquet file exists is not
run again (`--resume`). Reg trials go first, so reg+cls rows find their pair early.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from ray import tune

from study.cluster import ray_session
from study.dir.plan import declared_models
from study.dir.preflight import (
    DirStudy,
    data_root,
    resolve_preset,
    smoke_data_root,
    study_config,
    write_smoke_data,
)
from study.dir.spec import DirSpec
from study.dir.trainables import dir_fallback_rows, dir_trainable, dir_trial_name
from study.dry_run import duration
from study.options import StudyOptions
from study.output_folder import check_output_folder, claim_output_folder, write_json_atomic
from study.resources import (
    TrialResources,
    full_device_trial_resources,
    packed_trial_resources,
)
from study.run_info import write_provenance
from study.sink import Pairing, ParquetSink
from study.tune_runner import RunSummary, run_trials, study_progress
from study.validation_choice import lowest_mean

# A reg+cls row's reg model: same data (dataset, split, task, target), seed, data balance, model
# selection and optimiser, in the same stage.
DIR_PAIRING = Pairing(
    fields=(
        "dataset",
        "data_split",
        "task",
        "target",
        "seed",
        "data_balance",
        "model_selection",
        "optimizer",
    ),
    stages={"train": "train", "balanced_data": "balanced_data"},
    copies={
        "paired_reg_row_key": "row_key",
        "paired_reg_test_mse": "test_mse_all",
        "paired_reg_test_mae": "test_mae_all",
    },
    defaults={"optimizer": "adam"},
)


def run_dir_study(
    study: DirStudy, options: StudyOptions, schema: pa.Schema
) -> dict[str, RunSummary]:
    """Run every trial of the study into `options.out`; return what each Tune run did.

    A study with an `lr_pilot` stage (`DirStudy.pilot_specs`) runs it first, as its own Tune
    run; the other trials are then built at the lr it chose per optimiser (written to
    `<out>/selected_learning_rates.json`)."""
    preset = resolve_preset(study, options)
    generated = smoke_data_root(study, options)
    root = data_root(study, preset, options)
    planned = study.all_specs(preset, root)
    config = study_config(study, preset, root)
    # Refuse a folder of another study before Ray starts; record ours only once Ray is up, so a
    # cluster that does not answer leaves `--out` untouched.
    check_output_folder(options.out, config, options.resume)
    sink = ParquetSink(options.out, schema, DIR_PAIRING)
    declared = declared_models(planned)
    print(
        f"{study.name} preset={preset.name}: "
        + ", ".join(f"{stage} {count} models" for stage, count in declared.items())
        + f" (total {sum(declared.values())}) in {len(planned)} trials",
        flush=True,
    )
    summaries: dict[str, RunSummary] = {}
    with ray_session(
        options.address, options.num_cpus, options.dashboard, options.dashboard_host
    ) as cluster:
        claim_output_folder(options.out, config, options.resume)
        write_provenance(options.out, options.command or sys.argv)
        if generated is not None:
            write_smoke_data(study, preset, generated)
            print(
                f"{study.name}: no --data-root given; wrote a tiny generated dataset (the tests' "
                f"fixtures) to {generated} and running the smoke preset on it",
                flush=True,
            )
        trainable: Callable = dir_trainable
        if study.name == "stsb_dir":
            # After the claim: the feature cache may live in the output folder.
            trainable = tune.with_parameters(
                dir_trainable, features=_stsb_features(preset, root, options)
            )
        if study.packed:
            resources = packed_trial_resources(
                cluster, options.gpu_fraction, options.cpus_per_trial
            )
        else:
            resources = full_device_trial_resources(cluster)
        done = sink.read().num_rows if options.resume else 0
        with study_progress(sum(declared.values()), done) as progress:

            def run(specs: list[DirSpec], name: str) -> None:
                todo = [s for s in specs if not sink.has_trial(s.stage, s.key)]
                if len(todo) < len(specs):
                    print(
                        f"{name}: {len(specs) - len(todo)} of {len(specs)} trials already done, "
                        "skipped",
                        flush=True,
                    )
                if not todo:
                    return
                if not study.packed and resources.device == "cpu":
                    _print_cpu_estimate(todo, root, resources)
                summaries[name] = run_trials(
                    trainable,
                    {
                        "device": resources.device,
                        "threads": resources.threads,
                        "spec": tune.grid_search([[s.to_config()] for s in todo]),
                    },
                    name=name,
                    storage=options.out / "tune",
                    sink=sink,
                    fallback_rows=dir_fallback_rows,
                    resources=resources,
                    expected_trials=len(todo),
                    progress=progress,
                    trial_name=dir_trial_name,
                    logger=options.log,
                    max_failures=options.max_failures,
                )

            specs = study.specs(preset, root)
            if study.pilot_specs is not None and (pilot := study.pilot_specs(preset, root)):
                run(pilot, f"{study.name}-lr_pilot")
                chosen = choose_pilot_lrs(sink.read("lr_pilot").to_pylist(), pilot)
                write_json_atomic(options.out / "selected_learning_rates.json", chosen)
                specs = study.specs(preset, root, chosen)
            run(specs, study.name)
    return summaries


def choose_pilot_lrs(rows: list[dict], pilot: list[DirSpec]) -> dict[str, float]:
    """{optimizer: lr} with the lowest mean validation MSE of the pilot's finished reg models
    over seeds (ties to the smaller lr); a clear error when an optimiser has none."""
    chosen = lowest_mean(
        rows, ("reg",), lambda r: (r["optimizer"], r["lr"]), "lr_pilot", "val_mse_all"
    )
    missing = sorted({s.optimizer for s in pilot} - set(chosen))
    if missing:
        raise RuntimeError(
            f"lr selection: no finished lr_pilot models for {', '.join(missing)}; see the "
            "lr_pilot rows"
        )
    return chosen


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
        f"({resources.threads} threads); estimated {duration(total)} "
        f"(timed step: {per_image * 1000:.0f} ms per training image, {n_train} training and "
        f"{n_eval} evaluation images per epoch). Running anyway.",
        flush=True,
    )
