"""One tiny 1D study through real Ray Tune into Parquet, then resumed."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from results import ROW_SCHEMA, read_rows
from search_spaces.synthetic_1d import PRESETS
from study.options import StudyOptions
from study.output_folder import OutputFolderError
from study.synthetic_1d.plan import declared_models
from study.synthetic_1d.run import run_synthetic_1d

TINY = {
    "functions": [0],
    "validation_seeds": [0, 421],
    "test_seeds": [0],
    "class_counts": [4, 16],
    "lambdas": [1.0, 100.0],
    "samplings": ["uniform", "severe"],
    "scenarios": ["clean", "noisy"],
    "noise_sigmas": [0.1, 0.5],
    "total_samples": 1_500,
    "epochs": 2,
    "batch_size": 64,
}


def _options(out: Path, **changes) -> StudyOptions:
    values = dict(study="synthetic_1d", preset="quick", out=out, space_overrides=TINY)
    values.update(changes)
    return StudyOptions(**values)


@pytest.fixture(scope="module")
def tiny_study(ray_local, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "study"
    run_synthetic_1d(_options(out), ROW_SCHEMA)
    return out


def test_rows_match_the_declared_models(tiny_study):
    rows = read_rows(tiny_study)
    declared = declared_models(PRESETS["quick"].with_overrides(TINY))
    assert len(rows) == sum(declared.values())
    counts = rows.group_by("stage").len()
    assert dict(zip(counts["stage"], counts["len"], strict=True)) == declared
    assert rows["row_key"].n_unique() == len(rows)


def test_every_reg_cls_row_is_paired_with_its_reg_model(tiny_study):
    rows = read_rows(tiny_study)
    cls = rows.filter(rows["variant"] != "reg")
    assert cls["paired_reg_row_key"].null_count() == 0
    reg = rows.filter(rows["variant"] == "reg")
    by_key = dict(zip(reg["row_key"], reg["val_mse"], strict=True))
    for key, value in zip(cls["paired_reg_row_key"], cls["paired_reg_val_mse"], strict=True):
        assert by_key[key] == value
    # A pair trains on the same data: same scenario, sampling, noise, function and seed.
    joined = cls.join(reg, left_on="paired_reg_row_key", right_on="row_key", suffix="_reg")
    for column in ("scenario", "sampling", "noise_sigma", "function_id", "seed", "stage"):
        assert (joined[column] == joined[f"{column}_reg"]).all()


def test_test_stage_uses_the_lambda_chosen_on_validation(tiny_study):
    rows = read_rows(tiny_study)
    search = rows.filter((rows["stage"] == "lambda_search") & (rows["class_mode"] == "imbalanced"))
    for scenario in ("clean", "noisy"):
        part = search.filter(search["scenario"] == scenario)
        means = part.group_by("lam").agg(pl.col("val_mse").mean().alias("m")).sort("m")
        test = rows.filter(
            (rows["stage"] == "test") & (rows["scenario"] == scenario) & (rows["variant"] != "reg")
        )
        assert set(test["lam"]) == {means["lam"][0]}
        assert set(test["lambda_source"]) == {"validation"}


def test_resume_adds_no_rows_and_retrains_nothing(tiny_study):
    files = sorted((tiny_study / "rows").glob("*.parquet"))
    before = {f.name: f.stat().st_mtime_ns for f in files}
    run_synthetic_1d(_options(tiny_study, resume=True), ROW_SCHEMA)
    after = {f.name: f.stat().st_mtime_ns for f in (tiny_study / "rows").glob("*.parquet")}
    assert after == before


def test_rerun_without_resume_is_refused_and_leaves_the_folder_untouched(tiny_study):
    snapshot = {p: p.read_bytes() for p in tiny_study.rglob("*") if p.is_file()}
    with pytest.raises(OutputFolderError, match="--resume"):
        run_synthetic_1d(_options(tiny_study), ROW_SCHEMA)
    changed = dict(TINY, epochs=3)
    with pytest.raises(OutputFolderError, match="epochs"):
        run_synthetic_1d(_options(tiny_study, space_overrides=changed, resume=True), ROW_SCHEMA)
    assert {p: p.read_bytes() for p in tiny_study.rglob("*") if p.is_file()} == snapshot


def test_rows_record_every_config_field(tiny_study):
    table = pq.read_table(next((tiny_study / "rows").glob("test-*.parquet")))
    assert table.schema.equals(ROW_SCHEMA)
    rows = read_rows(tiny_study)
    for column in (
        "scenario",
        "sampling",
        "noise_sigma",
        "function_id",
        "seed",
        "variant",
        "lr",
        "epochs",
        "dtype",
        "total_samples",
        "config_hash",
        "torch_version",
        "noise_distribution",
        "equalize_rounding",
        "shot_bins",
        "lambda_selection",
    ):
        assert rows[column].null_count() == 0, column
    balanced = rows.filter(rows["variant"] == "reg+cls-balanced")
    assert (balanced["effective_classes"] <= balanced["num_classes"]).all()


def test_optuna_search_feeds_its_lambda_and_lr_to_the_test_stage(ray_local, tmp_path):
    space = dict(TINY, scenarios=["clean"], noise_sigmas=[0.1], epochs=6, class_counts=[4])
    out = tmp_path / "optuna"
    run_synthetic_1d(_options(out, search="optuna", space_overrides=space), ROW_SCHEMA)
    rows = read_rows(out)
    optuna = rows.filter(pl.col("stage") == "optuna")
    trials = optuna.select("lam", "lr").unique()
    assert len(trials) == PRESETS["quick"].optuna.num_samples
    assert set(optuna["status"]) <= {"ok", "early_stopped", "diverged"}
    best = json.loads((out / "optuna_best.json").read_text())["clean"]
    test = rows.filter((pl.col("stage") == "test") & (pl.col("variant") == "reg+cls"))
    assert set(test["lam"]) == {best["lam"]} and set(test["lr"]) == {best["lr"]}
    assert set(test["lambda_source"]) == {"optuna"}
    finished = (
        optuna.filter(pl.col("status") == "ok")
        .group_by("lam", "lr")
        .agg(pl.col("val_mse").mean().alias("m"))
    )
    assert finished.sort("m")["lam"][0] == best["lam"]
