"""An Optuna search stopped part-way resumes from its journal instead of starting over."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import polars as pl
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from results import read_rows

pytestmark = pytest.mark.slow  # studies in subprocesses

ROOT = Path(__file__).resolve().parents[1]
SPACE = {
    "functions": [0],
    "validation_seeds": [0],
    "test_seeds": [0],
    "class_counts": [4],
    "lambdas": [1.0],
    "samplings": ["uniform"],
    "scenarios": ["clean"],
    "controls": [],
    "total_samples": 3_000,
    "epochs": 30,
    "batch_size": 64,
}
SAMPLES = 8  # the quick preset's Optuna trials per scenario
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _study(out: Path, space: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "run_study.py", "--out", str(out), "--space", str(space)]
    command += ["--search", "optuna", "--no-dashboard", "--num-cpus", "1", *extra]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _trials(journal: Path) -> list[optuna.trial.FrozenTrial]:
    if not journal.exists():
        return []
    storage = JournalStorage(JournalFileBackend(str(journal)))
    try:
        return optuna.load_study(study_name="optuna-clean", storage=storage).get_trials()
    except KeyError:  # the study is not created yet
        return []


def _optuna_rows(out: Path) -> pl.DataFrame:
    return read_rows(out).filter(pl.col("stage") == "optuna")


def test_stopped_optuna_stage_resumes_with_the_trials_it_finished(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    out = tmp_path / "study"
    journal = out / "optuna" / "study.log"
    first = _study(out, space)
    deadline = time.monotonic() + 300
    while sum(t.state in FINISHED for t in _trials(journal)) < 2:
        assert first.poll() is None, first.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "the Optuna stage did not start in time"
        time.sleep(0.5)
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err[-2000:]
    before = _trials(journal)
    # Done = finished in the journal and written to Parquet (a stop can fall between the two).
    written = set(_optuna_rows(out).select("lam", "lr").iter_rows())
    finished_before = sum(
        t.state in FINISHED and (t.params["lam"], t.params["lr"]) in written for t in before
    )
    assert finished_before >= 1
    if finished_before >= SAMPLES:
        pytest.skip("the first run finished the whole search before it was stopped")

    second = _study(out, space, "--resume")
    _, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-2000:]
    after = _trials(journal)
    run_again = len(after) - len(before)
    assert run_again == SAMPLES - finished_before < SAMPLES
    assert all(t.state != TrialState.RUNNING for t in after)
    assert _optuna_rows(out).select("lam", "lr").unique().height == SAMPLES
    best = json.loads((out / "optuna_best.json").read_text())["clean"]
    assert {"lam", "lr"} <= set(best)
    assert (out / "optuna" / "figures" / "clean-history.json").exists()
