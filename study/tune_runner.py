"""Running a batch of trials through Ray Tune and streaming their rows into the Parquet sink.

Trials report metrics to Tune and attach their rows as a checkpoint (`study.trial_rows`); the
driver's callback writes the rows to Parquet as soon as each checkpoint arrives. Tune's
experiment state therefore holds a few numbers per trial, and the best configuration of a search
is read from the `ResultGrid` that `Tuner.fit()` returns.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ray import tune
from tqdm import tqdm

from study.options import LOGGERS
from study.resources import TrialResources
from study.sink import ParquetSink
from study.trial_rows import RowFiles, read_rows

# (trial config, status, error text) -> the row files recording a trial that produced no rows.
FallbackRows = Callable[[dict, str, str | None], RowFiles]
# trial config -> a readable trial folder name (stage, scenario, variant, C, lambda, ...).
TrialName = Callable[[dict], str]


class StudyInterrupted(RuntimeError):
    """Tune stopped before every trial finished (Ctrl-C, SIGTERM); `--resume` continues."""


@dataclass
class RunSummary:
    """What one Tune run did, for the study log and the closing summary."""

    trials: int = 0
    models: int = 0
    rows_files: int = 0
    failed_trials: int = 0
    retried_trials: int = 0
    stopped_trials: int = 0
    seconds: float = 0.0
    predicted_seconds: float | None = None  # the cost model's prediction, where there is one
    best_config: dict | None = None
    best_metric: float = math.inf
    errors: list[str] = field(default_factory=list)

    @property
    def models_per_second(self) -> float:
        return self.models / self.seconds if self.seconds > 0 else 0.0


def study_progress(total_models: int, done_models: int = 0) -> tqdm:
    """The study's one progress bar: models of every stage, one rate, one whole-study ETA."""
    return tqdm(
        total=total_models,
        initial=done_models,
        desc="models",
        unit="model",
        mininterval=2.0,
        dynamic_ncols=True,
    )


def run_trials(
    trainable: Callable[[dict], None],
    param_space: dict,
    *,
    name: str,
    storage: Path,
    sink: ParquetSink,
    fallback_rows: FallbackRows,
    resources: TrialResources,
    expected_trials: int,
    progress: tqdm | None = None,
    trial_name: TrialName | None = None,
    logger: str = "none",
    max_failures: int = 1,
    num_samples: int = 1,
    search_alg=None,
    scheduler=None,
    metric: str = "val_mse",
) -> RunSummary:
    """Fit one Tuner; every trial's rows reach the sink as soon as its checkpoint arrives.

    Trials whose worker dies are retried `max_failures` times by Tune, then recorded as `failed`;
    trials stopped by the scheduler are recorded as `early_stopped`. Neither stops the study.
    With a search or scheduler, `best_config` is the `ResultGrid`'s best trial by the last
    reported `metric`. Raises `StudyInterrupted` when Tune was stopped before all
    `expected_trials` finished.
    """
    if logger not in LOGGERS:
        raise ValueError(f"--log: must be one of {LOGGERS}, got {logger!r}")
    summary = RunSummary()
    own_progress = progress is None
    progress = progress or study_progress(0)
    callbacks: list[tune.Callback] = [_SinkCallback(sink, fallback_rows, progress, summary)]
    if logger == "tensorboard":
        callbacks.append(tune.logger.TBXLoggerCallback())
    searching = bool(search_alg or scheduler)
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources.as_ray()),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            num_samples=num_samples,
            search_alg=search_alg,
            scheduler=scheduler,
            metric=metric if searching else None,
            mode="min" if searching else None,
            reuse_actors=True,
            trial_dirname_creator=_dirname_creator(trial_name) if trial_name else None,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(Path(storage).resolve()),
            callbacks=callbacks,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            verbose=0,
        ),
    )
    started = time.perf_counter()
    try:
        grid = tuner.fit()
    finally:
        if own_progress:
            progress.close()
    summary.seconds = time.perf_counter() - started
    if summary.trials < expected_trials:
        # Tune returns normally after a Ctrl-C; stages after this one must not run on part data.
        raise StudyInterrupted(
            f"{name}: {summary.trials} of {expected_trials} trials finished before the study "
            "was stopped; rerun with --resume to continue"
        )
    if searching:
        _record_best(grid, metric, summary)
    return summary


def _record_best(grid: tune.ResultGrid, metric: str, summary: RunSummary) -> None:
    try:
        best = grid.get_best_result(metric, "min", scope="last", filter_nan_and_inf=True)
    except RuntimeError:  # no trial reported a finite metric
        return
    summary.best_config = dict(best.config)
    summary.best_metric = float(best.metrics[metric])


def _dirname_creator(trial_name: TrialName) -> Callable[[object], str]:
    def dirname(trial) -> str:
        # Tune wants unique folder names: the trial id ends the readable part.
        readable = re.sub(r"[^A-Za-z0-9_.+=-]+", "_", trial_name(trial.config))[:100]
        return f"{readable}_{trial.trial_id}"

    return dirname


class _SinkCallback(tune.Callback):
    def __init__(
        self,
        sink: ParquetSink,
        fallback_rows: FallbackRows,
        progress: tqdm,
        summary: RunSummary,
    ) -> None:
        self.sink = sink
        self.fallback_rows = fallback_rows
        self.progress = progress
        self.summary = summary
        self._written: set[str] = set()
        self._last_epoch: dict[str, int] = {}
        # Row files waiting until their reg model's rows are written (pairing).
        self._pending: dict[tuple[str, str], list[dict]] = {}

    def __getstate__(self) -> dict:
        # Tune saves its config (callbacks included) with the experiment; the progress bar holds
        # a terminal stream and the sink is driver state, neither belongs in that snapshot.
        return {k: v for k, v in self.__dict__.items() if k not in ("progress", "sink")}

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self._last_epoch[trial.trial_id] = int(result.get("epoch", 0))

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        files = read_rows(checkpoint)
        if files:
            self._write(trial, files)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        if trial.trial_id in self._written:
            return
        # Stopped by the scheduler before its final report: record what it reached.
        self.summary.stopped_trials += 1
        files = self.fallback_rows(trial.config, "early_stopped", None)
        for rows in files.values():
            for row in rows:
                row["epochs_trained"] = self._last_epoch.get(trial.trial_id, 0)
        self._write(trial, files)

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self.summary.retried_trials += 1

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.summary.failed_trials += 1
        error = _error_line(trial)
        self.summary.errors.append(error)
        self._write(trial, self.fallback_rows(trial.config, "failed", error))

    def on_experiment_end(self, trials, **info) -> None:
        # Whatever still waits has no reg partner (its reg trial failed): write it unpaired.
        for (stage, key), rows in self._pending.items():
            self._commit(stage, key, rows)
        self._pending.clear()

    def _write(self, trial, files: RowFiles) -> None:
        if trial.trial_id in self._written:
            return
        self._written.add(trial.trial_id)
        self.summary.trials += 1
        for (stage, key), rows in files.items():
            if self.sink.can_pair(rows):
                self._commit(stage, key, rows)
            else:
                self._pending[(stage, key)] = rows
        for file, rows in list(self._pending.items()):
            if self.sink.can_pair(rows):
                del self._pending[file]
                self._commit(*file, rows)

    def _commit(self, stage: str, key: str, rows: list[dict]) -> None:
        self.sink.write_trial(stage, key, rows)
        self.summary.rows_files += 1
        self.summary.models += len(rows)
        self.progress.update(len(rows))


def _error_line(trial) -> str:
    """The last line of the trial's error (the exception), kept short for the results row."""
    path = getattr(trial, "error_file", None)
    text = ""
    if path and Path(path).exists():
        text = Path(path).read_text(errors="replace").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "trial failed")[:500]
