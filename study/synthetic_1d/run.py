"""The controlled 1D study end to end: lambda search, lambda choice, test grid, noise study.

Each stage is resumable: a trial whose Parquet file exists is not run again, and the stages
after the lambda search are derived from the rows already written, so a resumed study ends with
exactly the rows of an uninterrupted one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pyarrow as pa
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from tqdm import tqdm

from regcls.training.fused import resolve_backend
from search_spaces.synthetic_1d import Synthetic1DPreset
from study.cluster import ray_session
from study.options import StudyOptions
from study.output_folder import check_output_folder, claim_output_folder, write_json_atomic
from study.resources import TrialResources, packed_trial_resources
from study.run_info import write_provenance
from study.sink import ParquetSink
from study.synthetic_1d.bundles import bundle_packs, bundles_seconds
from study.synthetic_1d.packing import CostModel, split_costly, trial_slots
from study.synthetic_1d.plan import (
    STUDY,
    declared_models,
    given_lambdas,
    lambda_search_specs,
    noise_specs,
    optuna_specs,
    test_specs,
)
from study.synthetic_1d.preflight import resolve_preset, study_config
from study.synthetic_1d.selection import (
    choose_lambdas,
    choose_tuned,
    require_lambdas,
    require_scenarios,
)
from study.synthetic_1d.trainables import (
    Bundles,
    bundle_name,
    fallback_rows,
    synthetic_1d_trainable,
    trial_name,
)
from study.synthetic_1d.trial_spec import TrialSpec
from study.tune_runner import RunSummary, run_trials, study_progress


def run_synthetic_1d(options: StudyOptions, schema: pa.Schema) -> dict[str, RunSummary]:
    """Run every stage of the study into `options.out`; return what each Tune run did."""
    preset = resolve_preset(options)
    config = study_config(options, preset)
    # Refuse a folder of another study before Ray starts; record ours only once Ray is up, so a
    # cluster that does not answer leaves `--out` untouched.
    check_output_folder(options.out, config, options.resume)
    sink = ParquetSink(options.out, schema)
    summaries: dict[str, RunSummary] = {}
    declared = declared_models(preset)
    print(
        f"{STUDY} preset={preset.name} search={options.search}: "
        + ", ".join(f"{stage} {count} models" for stage, count in declared.items())
        + f" (total {sum(declared.values())})",
        flush=True,
    )
    total = sum(declared.values()) + _optuna_models(preset, options.search)
    with stage_runner(options, config, sink, summaries, total) as runner:
        search_specs = lambda_search_specs(preset, options.search)
        if search_specs:  # empty with given lambdas and no reg-tuned control
            runner.run(search_specs)
        search_rows = sink.read("lambda_search").to_pylist()
        lambdas = given_lambdas(preset) or require_lambdas(
            choose_lambdas(search_rows), preset.scenarios
        )
        tuned = None
        if "reg-tuned" in preset.controls:
            tuned = require_scenarios(
                choose_tuned(search_rows), preset.scenarios, "reg-tuned", "lambda_search"
            )
            decays = {scenario: wd for scenario, (_, wd) in tuned.items()}
            write_json_atomic(options.out / "selected_weight_decays.json", decays)
        learning_rates = None
        if options.search == "optuna":
            found = runner.optuna(preset)
            lambdas = {
                (scenario, mode): found[scenario]["lam"]
                for scenario in found
                for mode in ("imbalanced", "balanced")
            }
            learning_rates = {scenario: found[scenario]["lr"] for scenario in found}
        write_json_atomic(
            options.out / "selected_lambdas.json",
            {f"{s}/{m}": lam for (s, m), lam in sorted(lambdas.items())},
        )
        final = test_specs(preset, lambdas, options.search, learning_rates, tuned)
        if "noisy" in preset.scenarios:
            final += noise_specs(preset, lambdas, options.search, learning_rates, tuned)
        runner.run(final, name="test+noise")
    return summaries


def _optuna_models(preset: Synthetic1DPreset, search: str) -> int:
    if search != "optuna":
        return 0
    per_trial = [
        sum(len(spec.replicates) for spec in optuna_specs(preset, scenario))
        for scenario in preset.scenarios
    ]
    return preset.optuna.num_samples * sum(per_trial)


@contextmanager
def stage_runner(
    options: StudyOptions,
    config: dict,
    sink: ParquetSink,
    summaries: dict[str, RunSummary],
    total_models: int,
) -> Iterator[StageRunner]:
    """A `StageRunner` inside the study's Ray session; the output folder (checked before) is
    claimed only once Ray is up, so a cluster that does not answer leaves `--out` untouched.

    One progress bar counts the models of every stage (`total_models`), so its rate and ETA are
    the whole study's; a resumed study starts it at the rows already written.
    """
    with ray_session(
        options.address, options.num_cpus, options.dashboard, options.dashboard_host
    ) as cluster:
        claim_output_folder(options.out, config, options.resume)
        write_provenance(options.out, options.command or sys.argv)
        resources = packed_trial_resources(cluster, options.gpu_fraction, options.cpus_per_trial)
        done = sink.read().num_rows if options.resume else 0
        with study_progress(max(total_models, done), done) as progress:
            yield StageRunner(options, sink, resources, summaries, progress)


class StageRunner:
    """Runs trials through Tune, `reg` trials first so reg+cls rows find their pair early."""

    def __init__(
        self,
        options: StudyOptions,
        sink: ParquetSink,
        resources: TrialResources,
        summaries: dict[str, RunSummary],
        progress: tqdm,
    ) -> None:
        self.options = options
        self.sink = sink
        self.resources = resources
        self.summaries = summaries
        self.progress = progress
        self.backend_note = ""

    def run(self, specs: list[TrialSpec], name: str | None = None) -> None:
        name = name or specs[0].stage
        # Costly grid points split into several packs so the slots finish together (LPT order).
        packs = split_costly(specs)
        todo = [s for s in packs if not self.sink.has_trial(s.stage, s.key)]
        skipped = len(packs) - len(todo)
        if skipped:
            print(f"{name}: {skipped} of {len(packs)} packs already done, skipped", flush=True)
        if not todo:
            return
        res = self.resources
        slots = trial_slots(ray.cluster_resources(), res.cpus, res.gpus)
        bundles = bundle_packs(todo, slots)
        cost = CostModel().calibrated(res.device, todo, self._backend(name, todo[0]))
        predicted = bundles_seconds(bundles, slots, cost)
        models = sum(len(s.replicates) for s in todo)
        self.progress.write(
            f"{name}: {models:,} models in {len(todo)} packs, {len(bundles)} Tune trials on "
            f"{slots} slot(s); predicted {predicted:.0f} s (cost model calibrated at start-up: "
            f"{cost.summary()})"
        )
        summary = self._fit(name, [[[s] for s in b] for b in bundles])
        summary.predicted_seconds = predicted
        self.summaries[name] = summary

    def optuna(self, preset: Synthetic1DPreset) -> dict[str, dict[str, float]]:
        """TPE over (lambda, lr) per scenario with ASHA; the best trial's values.

        Each scenario's Optuna study lives in `<out>/optuna/study.log` (Optuna's journal
        storage), so a stopped search resumes with the trials it finished (their rows stay) and
        runs only the ones still missing; Optuna's own figures are written beside it.
        """
        from study.synthetic_1d.optuna_stage import OptunaStage

        record = self.options.out / "optuna_best.json"
        if record.exists():
            return json.loads(record.read_text())
        space = preset.optuna
        written: dict[str, set[tuple[float, float]]] = {}
        for row in self.sink.read("optuna").select(["scenario", "lam", "lr"]).to_pylist():
            written.setdefault(row["scenario"], set()).add((row["lam"], row["lr"]))
        found: dict[str, dict[str, float]] = {}
        for scenario in preset.scenarios:
            stage = OptunaStage(self.options.out, scenario, space)
            remaining = stage.remaining_trials(written.get(scenario, set()))
            summary = None
            if remaining:
                self._backend(f"optuna-{scenario}", optuna_specs(preset, scenario)[0])
                summary = self._fit(
                    f"optuna-{scenario}",
                    [[optuna_specs(preset, scenario)]],
                    param_space={
                        "lam": tune.loguniform(space.lam.low, space.lam.high),
                        "lr": tune.loguniform(space.lr.low, space.lr.high),
                    },
                    num_samples=remaining,
                    search_alg=stage.search(),
                    scheduler=ASHAScheduler(
                        time_attr="training_iteration",
                        max_t=preset.epochs // space.report_every,
                        grace_period=space.grace_period,
                        reduction_factor=space.reduction_factor,
                    ),
                    report_every=space.report_every,
                )
                self.summaries[f"optuna/{scenario}"] = summary
            defaults = (preset.lambdas[0], preset.learning_rates[scenario])
            found[scenario] = stage.best(summary, *defaults)
            stage.write_figures()
        write_json_atomic(record, found)
        return found

    def _backend(self, name: str, spec: TrialSpec) -> str:
        """The backend the stage's packs will train on (`resolve_backend`: compiles or loads the
        fused kernel here, once, for the workers); its line is printed when it changes."""
        backend, note = resolve_backend(spec.backend, self.resources.device, spec.dtype)
        if note != self.backend_note:
            self.progress.write(f"{name}: {note}")
            self.backend_note = note
        return backend

    def _fit(
        self,
        name: str,
        bundles: list[list[list[TrialSpec]]],
        param_space: dict | None = None,
        num_samples: int = 1,
        search_alg=None,
        scheduler=None,
        report_every: int = 0,
    ) -> RunSummary:
        """One Tuner over `bundles` (trials of packs of specs); a search samples `param_space`
        `num_samples` times over the single bundle."""
        configs: Bundles = {
            bundle_name(i, bundle): [[s.to_config() for s in pack] for pack in bundle]
            for i, bundle in enumerate(bundles)
        }
        execution = {
            "device": self.resources.device,
            "threads": self.resources.threads,
            "report_every": report_every,
        }
        if param_space is None:
            space = {**execution, "bundle": tune.grid_search(list(configs))}
            expected = len(configs)
        else:
            space = {**execution, **param_space, "bundle": next(iter(configs))}
            expected = num_samples
        return run_trials(
            tune.with_parameters(synthetic_1d_trainable, bundles=configs),
            space,
            name=name,
            storage=self.options.out / "tune",
            sink=self.sink,
            fallback_rows=partial(fallback_rows, bundles=configs),
            resources=self.resources,
            expected_trials=expected,
            progress=self.progress,
            trial_name=trial_name,
            logger=self.options.log,
            max_failures=self.options.max_failures,
            num_samples=num_samples,
            search_alg=search_alg,
            scheduler=scheduler,
        )
