"""A study SIGKILLed part-way and resumed ends with exactly the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from results import read_rows

pytestmark = pytest.mark.slow  # studies in subprocesses

ROOT = Path(__file__).resolve().parents[1]
SPACE = {
    "functions": [1],
    "validation_seeds": [0],
    "test_seeds": [421],
    "class_counts": [4],
    "lambdas": [1.0, 10.0, 100.0],
    "samplings": ["uniform", "severe"],
    "scenarios": ["clean"],
    "total_samples": 1_500,
    "epochs": 3,
    "batch_size": 64,
}
METRICS = ["val_mse", "test_mse", "val_acc", "test_mse_few", "paired_reg_val_mse"]


def _study(out: Path, space: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "run_study.py",
        "--out",
        str(out),
        "--space",
        str(space),
        "--no-dashboard",
        "--num-cpus",
        "1",
        *extra,
    ]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    baseline, interrupted = tmp_path / "baseline", tmp_path / "interrupted"

    _finish(_study(baseline, space))

    process = _study(interrupted, space)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((interrupted / "rows").glob("*.parquet"))) >= 4:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the study finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    partial = len(list((interrupted / "rows").glob("*.parquet")))
    assert partial >= 4

    _finish(_study(interrupted, space, "--resume"))

    expected, resumed = read_rows(baseline), read_rows(interrupted)
    assert resumed["row_key"].n_unique() == len(resumed) == len(expected)
    assert set(resumed["row_key"]) == set(expected["row_key"])
    left = expected.select("row_key", *METRICS).sort("row_key")
    right = resumed.select("row_key", *METRICS).sort("row_key")
    assert left.equals(right)
