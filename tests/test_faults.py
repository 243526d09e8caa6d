"""Faults inside a study: a diverging model and a failing trial are recorded, the study goes on."""

from __future__ import annotations

import polars as pl

from results import ROW_SCHEMA, helps_table, read_rows
from search_spaces.synthetic_1d import PRESETS
from study.options import StudyOptions
from study.resources import packed_trial_resources
from study.sink import ParquetSink
from study.synthetic_1d.plan import lambda_search_specs
from study.synthetic_1d.run import StageRunner
from study.tune_runner import study_progress

SPACE = {
    "functions": [0],
    "validation_seeds": [0, 421],
    "class_counts": [4],
    "lambdas": [10.0],
    "samplings": ["severe"],
    "scenarios": ["clean"],
    "total_samples": 1_500,
    "epochs": 3,
    "batch_size": 64,
    "controls": [],  # the specs below are the paper's three variants
}


def _runner(out, max_failures: int = 1) -> tuple[StageRunner, ParquetSink, dict]:
    options = StudyOptions(study="synthetic_1d", preset="quick", out=out, max_failures=max_failures)
    sink = ParquetSink(out, ROW_SCHEMA)
    summaries: dict = {}
    resources = packed_trial_resources({"CPU": 2})
    runner = StageRunner(options, sink, resources, summaries, study_progress(0))
    return runner, sink, summaries


def test_diverging_models_are_recorded_as_diverged(ray_local, tmp_path):
    reg, cls, balanced = lambda_search_specs(PRESETS["quick"].with_overrides(SPACE))
    exploding = cls.with_values(lam=1e4, lr=1e6)  # Adam steps of 1e6 overflow float32
    runner, _, summaries = _runner(tmp_path)
    runner.run([reg, exploding, balanced])
    rows = read_rows(tmp_path)
    assert len(rows) == 6
    bad = rows.filter(pl.col("lr") == 1e6)
    assert set(bad["status"]) == {"diverged"}
    assert bad["val_mse"].null_count() == len(bad)
    assert set(rows.filter(pl.col("lr") != 1e6)["status"]) == {"ok"}
    table = helps_table(rows).filter(
        (pl.col("class_mode") == "imbalanced") & (pl.col("sampling") == "severe")
    )
    assert table["n_diverged_a"].to_list() == [2] and table["n_helps"].to_list() == [0]
    assert summaries["lambda_search"].failed_trials == 0


def test_a_failing_trial_is_retried_then_recorded_as_failed(ray_local, tmp_path):
    reg, cls, _ = lambda_search_specs(PRESETS["quick"].with_overrides(SPACE))
    broken = cls.with_values(replicates=((99, 0),))  # no function 99: make_dataset raises
    runner, _, summaries = _runner(tmp_path, max_failures=1)
    runner.run([reg, broken])
    rows = read_rows(tmp_path)
    failed = rows.filter(pl.col("status") == "failed")
    assert len(failed) == 1 and "function_id" in failed["error"][0]
    assert set(rows.filter(pl.col("variant") == "reg")["status"]) == {"ok"}
    summary = summaries["lambda_search"]
    assert summary.failed_trials == 1 and summary.retried_trials == 1
