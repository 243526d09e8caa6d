"""One scenario's Optuna search, kept in Optuna's journal storage so it can resume.

The study lives in `<out>/optuna/study.log` (one journal file, one Optuna study per scenario).
A rerun with `--resume` loads it, marks the trials a stopped run left running as failed (they
never reported), and runs only the trials still missing; the rows of finished trials stay in
Parquet. A trial counts as done only when its rows are in Parquet too: a run stopped between
Optuna's record of a trial and the write of its rows runs that trial's share again.

Optuna's own views of the study (optimisation history, parameter importances, slice over lambda
and lr) are written as Plotly JSON to `<out>/optuna/figures/` for the report.
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from search_spaces.synthetic_1d import OptunaSpace
from study.tune_runner import RunSummary

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class OptunaStage:
    """The Optuna study of `scenario` in the study folder `out`."""

    def __init__(self, out: Path, scenario: str, space: OptunaSpace) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per loaded trial
        self.folder = Path(out) / "optuna"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scenario = scenario
        self.name = f"optuna-{scenario}"
        self.space = space
        self.storage = JournalStorage(JournalFileBackend(str(self.folder / "study.log")))
        self.earlier: list[optuna.trial.FrozenTrial] = []

    @property
    def finished_before(self) -> int:
        return len(self.earlier)

    def remaining_trials(self, written: set[tuple[float, float]]) -> int:
        """Trials still to run, given the (lambda, lr) of the trials whose rows are written;
        trials a stopped run left running are marked failed first."""
        study = self._study()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        self.earlier = [
            t
            for t in study.get_trials(deepcopy=False, states=_FINISHED)
            if (t.params.get("lam"), t.params.get("lr")) in written
        ]
        return max(0, self.space.num_samples - self.finished_before)

    def search(self) -> OptunaSearch:
        """Ray's Optuna searcher on this storage. TPE's seed is the number of trials already
        finished, so a resumed search does not replay the first run's random start-up points."""
        return OptunaSearch(study_name=self.name, storage=self.storage, seed=self.finished_before)

    def best(self, summary: RunSummary | None, lam: float, lr: float) -> dict[str, float]:
        """The best (lambda, lr): this run's from its `ResultGrid`, compared with the trials
        of earlier runs in the storage; the preset's values when no trial finished."""
        candidates: list[tuple[float, dict]] = []
        if summary is not None and summary.best_config is not None:
            candidates.append((summary.best_metric, summary.best_config))
        candidates += [
            (t.value, t.params)
            for t in self.earlier
            if t.value is not None and math.isfinite(t.value)
        ]
        if not candidates:
            return {"lam": float(lam), "lr": float(lr)}
        _, params = min(candidates, key=lambda item: item[0])
        return {"lam": float(params["lam"]), "lr": float(params["lr"])}

    def write_figures(self) -> list[Path]:
        """Optuna's views of the study as Plotly JSON; views that need more trials are skipped."""
        study = self._study()
        figures = self.folder / "figures"
        figures.mkdir(exist_ok=True)
        views = {
            "history": lambda: optuna.visualization.plot_optimization_history(study),
            "importances": lambda: optuna.visualization.plot_param_importances(study),
            "slice": lambda: optuna.visualization.plot_slice(study, params=["lam", "lr"]),
        }
        written = []
        for kind, plot in views.items():
            try:
                figure = plot()
            except (ValueError, RuntimeError):  # e.g. importances need two finished trials
                continue
            figure.update_layout(title=f"{figure.layout.title.text or kind} ({self.scenario})")
            path = figures / f"{self.scenario}-{kind}.json"
            path.write_text(figure.to_json())
            written.append(path)
        return written

    def _study(self) -> optuna.Study:
        return optuna.create_study(
            study_name=self.name, storage=self.storage, direction="minimize", load_if_exists=True
        )
