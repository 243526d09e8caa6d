"""Running a batch of trials through Ray Tune and streaming their rows into the Parquet sink."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ray import tune
from tqdm import tqdm

from study.resources import TrialResources
from study.sink import ParquetSink

# (trial config, status, error text) -> rows recording a trial that produced no results.
FallbackRows = Callable[[dict, str, str | None], list[dict]]
# trial config -> (stage, trial key)
TrialIdentity = Callable[[dict], tuple[str, str]]


class StudyInterrupted(RuntimeError):
    """Tune stopped before every trial finished (Ctrl-C, SIGTERM); `--resume` continues."""


@dataclass
class RunSummary:
    """What one Tune run did, for the study log and the closing report."""

    trials: int = 0
    models: int = 0
    failed_trials: int = 0
    retried_trials: int = 0
    stopped_trials: int = 0
    seconds: float = 0.0
    best_config: dict | None = None
    best_metric: float = math.inf
    errors: list[str] = field(default_factory=list)

    @property
    def models_per_second(self) -> float:
        return self.models / self.seconds if self.seconds > 0 else 0.0


def run_trials(
    trainable: Callable[[dict], None],
    param_space: dict,
    *,
    name: str,
    storage: Path,
    sink: ParquetSink,
    identity: TrialIdentity,
    fallback_rows: FallbackRows,
    resources: TrialResources,
    expected_models: int,
    expected_trials: int,
    max_failures: int = 1,
    num_samples: int = 1,
    search_alg=None,
    scheduler=None,
    metric: str = "val_mse",
) -> RunSummary:
    """Fit one Tuner; every trial's rows reach the sink as soon as the trial reports them.

    Trials whose worker dies are retried `max_failures` times by Tune, then recorded as `failed`;
    trials stopped by the scheduler are recorded as `early_stopped`. Neither stops the study.
    Raises `StudyInterrupted` when Tune was stopped before all `expected_trials` finished.
    """
    summary = RunSummary()
    progress = tqdm(
        total=expected_models, desc=name, unit="model", mininterval=2.0, dynamic_ncols=True
    )
    callback = _SinkCallback(sink, identity, fallback_rows, progress, summary, metric)
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources.as_ray()),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            num_samples=num_samples,
            search_alg=search_alg,
            scheduler=scheduler,
            metric=metric if search_alg or scheduler else None,
            mode="min" if search_alg or scheduler else None,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(Path(storage).resolve()),
            callbacks=[callback],
            failure_config=tune.FailureConfig(max_failures=max_failures),
            verbose=0,
        ),
    )
    started = time.perf_counter()
    try:
        tuner.fit()
    finally:
        progress.close()
    summary.seconds = time.perf_counter() - started
    if summary.trials < expected_trials:
        # Tune returns normally after a Ctrl-C; stages after this one must not run on part data.
        raise StudyInterrupted(
            f"{name}: {summary.trials} of {expected_trials} trials finished before the study "
            "was stopped; rerun with --resume to continue"
        )
    return summary


class _SinkCallback(tune.Callback):
    def __init__(
        self,
        sink: ParquetSink,
        identity: TrialIdentity,
        fallback_rows: FallbackRows,
        progress: tqdm,
        summary: RunSummary,
        metric: str,
    ) -> None:
        self.sink = sink
        self.identity = identity
        self.fallback_rows = fallback_rows
        self.progress = progress
        self.summary = summary
        self.metric = metric
        self._written: set[str] = set()
        self._last: dict[str, dict] = {}
        # reg+cls rows wait here until their reg model's rows are written (pairing).
        self._pending: dict[str, tuple[str, str, list[dict]]] = {}

    def __getstate__(self) -> dict:
        # Tune saves its config (callbacks included) with the experiment; the progress bar holds
        # a terminal stream and the sink is driver state, neither belongs in that snapshot.
        return {k: v for k, v in self.__dict__.items() if k not in ("progress", "sink")}

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self._last[trial.trial_id] = result
        rows = result.get("rows")
        if not rows:
            return
        self._write(trial, rows)
        value = result.get(self.metric)
        if value is not None and value < self.summary.best_metric:
            self.summary.best_metric = value
            self.summary.best_config = trial.config

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        if trial.trial_id in self._written:
            return
        # Stopped by the scheduler before its final report: record what it reached.
        self.summary.stopped_trials += 1
        last = self._last.get(trial.trial_id, {})
        rows = self.fallback_rows(trial.config, "early_stopped", None)
        for row in rows:
            row["epochs_trained"] = int(last.get("epoch", 0))
        self._write(trial, rows)

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self.summary.retried_trials += 1

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.summary.failed_trials += 1
        error = _error_line(trial)
        self.summary.errors.append(error)
        self._write(trial, self.fallback_rows(trial.config, "failed", error))

    def on_experiment_end(self, trials, **info) -> None:
        # Whatever still waits has no reg partner (its reg trial failed): write it unpaired.
        for stage, key, rows in self._pending.values():
            self._commit(stage, key, rows)
        self._pending.clear()

    def _write(self, trial, rows: list[dict]) -> None:
        stage, key = self.identity(trial.config)
        self._written.add(trial.trial_id)
        if not self.sink.can_pair(rows):
            self._pending[trial.trial_id] = (stage, key, rows)
            return
        self._commit(stage, key, rows)
        if any(row["variant"] == "reg" for row in rows):
            for trial_id, (p_stage, p_key, p_rows) in list(self._pending.items()):
                if self.sink.can_pair(p_rows):
                    del self._pending[trial_id]
                    self._commit(p_stage, p_key, p_rows)

    def _commit(self, stage: str, key: str, rows: list[dict]) -> None:
        self.sink.write_trial(stage, key, rows)
        self.summary.trials += 1
        self.summary.models += len(rows)
        self.progress.update(len(rows))
        elapsed = self.progress.format_dict.get("elapsed") or 0
        if elapsed:
            self.progress.set_postfix(models_per_s=f"{self.summary.models / elapsed:.1f}")


def _error_line(trial) -> str:
    """The last line of the trial's error (the exception), kept short for the results row."""
    path = getattr(trial, "error_file", None)
    text = ""
    if path and Path(path).exists():
        text = Path(path).read_text(errors="replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "trial failed")[:500]
