"""The controlled 1D study end to end: lambda search, lambda choice, test grid, noise study.

Each stage is resumable: a trial whose Parquet file exists is not run again, and the stages
after the lambda search are derived from the rows already written, so a resumed study ends with
exactly the rows of an uninterrupted one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from search_spaces.synthetic_1d import Synthetic1DPreset
from study.cluster import ray_session
from study.options import StudyOptions
from study.output_folder import check_output_folder, claim_output_folder, write_json_atomic
from study.resources import TrialResources, packed_trial_resources
from study.sink import ParquetSink
from study.synthetic_1d.packing import plan_trials
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
    choose_weight_decays,
    require_lambdas,
    require_weight_decays,
)
from study.synthetic_1d.trainables import fallback_rows, synthetic_1d_trainable, trial_identity
from study.synthetic_1d.trial_spec import TrialSpec
from study.tune_runner import RunSummary, run_trials


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
    with stage_runner(options, config, sink, summaries) as runner:
        search_specs = lambda_search_specs(preset, options.search)
        if search_specs:  # empty with given lambdas and no reg-tuned control
            runner.run(search_specs)
        search_rows = sink.read("lambda_search").to_pylist()
        lambdas = given_lambdas(preset) or require_lambdas(
            choose_lambdas(search_rows), preset.scenarios
        )
        decays = None
        if "reg-tuned" in preset.controls:
            decays = require_weight_decays(choose_weight_decays(search_rows), preset.scenarios)
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
        final = test_specs(preset, lambdas, options.search, learning_rates, decays)
        if "noisy" in preset.scenarios:
            final += noise_specs(preset, lambdas, options.search, learning_rates, decays)
        runner.run(final, name="test+noise")
    return summaries


@contextmanager
def stage_runner(
    options: StudyOptions, config: dict, sink: ParquetSink, summaries: dict[str, RunSummary]
) -> Iterator[StageRunner]:
    """A `StageRunner` inside the study's Ray session; the output folder (checked before) is
    claimed only once Ray is up, so a cluster that does not answer leaves `--out` untouched."""
    with ray_session(
        options.address, options.num_cpus, options.dashboard, options.dashboard_host
    ) as cluster:
        claim_output_folder(options.out, config, options.resume)
        resources = packed_trial_resources(cluster, options.gpu_fraction, options.cpus_per_trial)
        yield StageRunner(options, sink, resources, summaries)


class StageRunner:
    """Runs trials through Tune, `reg` trials first so reg+cls rows find their pair early."""

    def __init__(
        self,
        options: StudyOptions,
        sink: ParquetSink,
        resources: TrialResources,
        summaries: dict[str, RunSummary],
    ) -> None:
        self.options = options
        self.sink = sink
        self.resources = resources
        self.summaries = summaries

    def run(self, specs: list[TrialSpec], name: str | None = None) -> None:
        name = name or specs[0].stage
        # Costly grid points split into several trials so the slots finish together (LPT order).
        res = self.resources
        specs, eta = plan_trials(specs, ray.cluster_resources(), res.cpus, res.gpus, res.device)
        todo = [s for s in specs if not self.sink.has_trial(s.stage, s.key)]
        skipped = len(specs) - len(todo)
        if skipped:
            print(f"{name}: {skipped} of {len(specs)} trials already done, skipped", flush=True)
        todo.sort(key=lambda s: s.variant != "reg")  # stable: costliest first after reg
        if todo:
            print(f"{name}: {eta}", flush=True)
            self.summaries[name] = self._fit(name, todo)

    def optuna(self, preset: Synthetic1DPreset) -> dict[str, dict[str, float]]:
        """TPE over (lambda, lr) per scenario with ASHA; the best finished trial's values.

        A search cannot resume part-way (TPE's state is not in the rows), so an interrupted
        Optuna stage is rerun from its start on resume, replacing its earlier rows.
        """
        record = self.options.out / "optuna_best.json"
        if record.exists():
            return json.loads(record.read_text())
        self.sink.remove_stage("optuna")
        space = preset.optuna
        found: dict[str, dict[str, float]] = {}
        for scenario in preset.scenarios:
            base = optuna_specs(preset, scenario)
            summary = self._fit(
                f"optuna-{scenario}",
                base,
                param_space={
                    "lam": tune.loguniform(space.lam.low, space.lam.high),
                    "lr": tune.loguniform(space.lr.low, space.lr.high),
                },
                num_samples=space.num_samples,
                search_alg=OptunaSearch(seed=0),
                scheduler=ASHAScheduler(
                    time_attr="training_iteration",
                    max_t=preset.epochs // space.report_every,
                    grace_period=space.grace_period,
                    reduction_factor=space.reduction_factor,
                ),
                report_every=space.report_every,
            )
            self.summaries[f"optuna/{scenario}"] = summary
            best = summary.best_config or {}
            found[scenario] = {
                "lam": float(best.get("lam", preset.lambdas[0])),
                "lr": float(best.get("lr", preset.learning_rates[scenario])),
            }
        write_json_atomic(record, found)
        return found

    def _fit(
        self,
        name: str,
        specs: list[TrialSpec],
        param_space: dict | None = None,
        num_samples: int = 1,
        search_alg=None,
        scheduler=None,
        report_every: int = 0,
    ) -> RunSummary:
        execution = {
            "device": self.resources.device,
            "threads": self.resources.threads,
            "report_every": report_every,
        }
        if param_space is None:
            space = {**execution, "specs": tune.grid_search([[s.to_config()] for s in specs])}
            models = sum(len(s.replicates) for s in specs)
        else:
            space = {**execution, **param_space, "specs": [s.to_config() for s in specs]}
            models = num_samples * sum(len(s.replicates) for s in specs)
        return run_trials(
            synthetic_1d_trainable,
            space,
            name=name,
            storage=self.options.out / "tune",
            sink=self.sink,
            identity=trial_identity,
            fallback_rows=fallback_rows,
            resources=self.resources,
            expected_models=models,
            expected_trials=num_samples if param_space is not None else len(specs),
            max_failures=self.options.max_failures,
            num_samples=num_samples,
            search_alg=search_alg,
            scheduler=scheduler,
        )
