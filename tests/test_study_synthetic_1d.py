"""One tiny 1D study through real Ray Tune into Parquet, then resumed."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from results import ROW_SCHEMA, read_rows
from search_spaces.synthetic_1d import PRESETS
from study.closing import experiment_state_bytes
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
    search = rows.filter((rows["stage"] == "lambda_search") & (rows["variant"] == "reg+cls"))
    for scenario in ("clean", "noisy"):
        part = search.filter(search["scenario"] == scenario)
        means = part.group_by("lam").agg(pl.col("val_mse").mean().alias("m")).sort("m")
        test = rows.filter(
            (rows["stage"] == "test")
            & (rows["scenario"] == scenario)
            & rows["variant"].is_in(["reg+cls", "reg+cls-balanced"])
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
    options = _options(out, search="optuna", space_overrides=space, log="tensorboard")
    run_synthetic_1d(options, ROW_SCHEMA)
    # --log tensorboard: Tune's TensorBoard callback wrote event files in the trial folders.
    assert list((out / "tune").glob("optuna-clean/*/events.out.tfevents.*"))
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
    figures = sorted(p.name for p in (out / "optuna" / "figures").glob("*.json"))
    assert figures == ["clean-history.json", "clean-importances.json", "clean-slice.json"]


def test_controls_are_trained_beside_reg_cls_on_the_same_data(tiny_study):
    rows = read_rows(tiny_study)
    for stage in ("test", "noise"):
        part = rows.filter(pl.col("stage") == stage)
        assert {"reg-scaled", "cls-only", "reg-tuned"} <= set(part["variant"]), stage
        cls = part.filter(pl.col("variant") == "reg+cls")
        scaled = part.filter(pl.col("variant") == "reg-scaled")
        # reg-scaled runs at the lambda and lr of the reg+cls models it controls, no classes.
        assert set(zip(cls["lam"], cls["lr"], strict=True)) <= set(
            zip(scaled["lam"], scaled["lr"], strict=True)
        )
        assert scaled["num_classes"].null_count() == scaled.height
        only = part.filter(pl.col("variant") == "cls-only")
        assert set(only["num_classes"]) == set(cls["num_classes"])
        assert only["lam"].null_count() == only.height
        # L_extra is measured for every finished model; the softmax form needs a class head.
        ok = part.filter(pl.col("status") == "ok")
        for column in ("train_mse", "train_l_extra_gauss", "test_l_extra_gauss"):
            assert ok[column].null_count() == 0, column
        heads = ok.filter(pl.col("num_classes").is_not_null())
        assert heads["test_l_extra_softmax"].null_count() == 0
        assert ok.filter(pl.col("num_classes").is_null())["test_l_extra_softmax"].null_count() == (
            ok.filter(pl.col("num_classes").is_null()).height
        )
    assert set(rows["pair_init"]) == {"shared"}
    # reg-tuned: swept over the weight-decay grid on validation, tested at the chosen value.
    search = rows.filter((pl.col("stage") == "lambda_search") & (pl.col("variant") == "reg-tuned"))
    assert set(search["weight_decay"]) == set(PRESETS["quick"].weight_decays)
    means = search.group_by("scenario", "weight_decay").agg(pl.col("val_mse").mean().alias("m"))
    chosen = json.loads((tiny_study / "selected_weight_decays.json").read_text())
    for scenario, wd in chosen.items():
        part = means.filter(pl.col("scenario") == scenario).sort("m", "weight_decay")
        assert part["weight_decay"][0] == wd
        tuned = rows.filter(
            (pl.col("stage") == "test")
            & (pl.col("scenario") == scenario)
            & (pl.col("variant") == "reg-tuned")
        )
        assert set(tuned["weight_decay"]) == {wd}


def test_helps_stats_table_of_the_study(tiny_study):
    from results import write_tables_csv

    rows = read_rows(tiny_study)
    write_tables_csv(rows, tiny_study)
    stats = pl.read_csv(tiny_study / "tables" / "helps_stats.csv")
    for column in (
        "comparison",
        "n_pairs",
        "n_wins",
        "pct_wins",
        "ci_low",
        "ci_high",
        "p_value",
        "p_holm",
        "mean_diff",
        "mean_diff_ci_low",
        "mean_diff_ci_high",
        "n_clusters",
        "n_diverged_a",
        "n_diverged_b",
        "n_dropped",
        "too_few_clusters",
        "verdict",
    ):
        assert column in stats.columns, column
    assert {"reg+cls vs reg", "reg+cls vs reg-scaled", "reg-scaled vs reg"} <= set(
        stats["comparison"]
    )
    assert {"reg+cls vs reg-tuned", "cls-only vs reg"} <= set(stats["comparison"])
    # The units are functions: no interval below 6 of them, and a flag saying so.
    assert (stats["too_few_clusters"] == (stats["n_clusters"] < 6)).all()
    bounded = stats.filter(~pl.col("too_few_clusters"))
    assert (bounded["ci_low"] <= bounded["pct_wins"]).all()
    assert (bounded["pct_wins"] <= bounded["ci_high"]).all()
    assert stats.filter(pl.col("too_few_clusters"))["ci_low"].is_nan().all()
    assert (stats["p_holm"] >= stats["p_value"]).all()
    for name in ("what_helps", "l_extra", "helps_by_accuracy"):
        assert pl.read_csv(tiny_study / "tables" / f"{name}.csv").height > 0, name


def test_rows_stay_out_of_tunes_experiment_state(tiny_study):
    # Trials attach rows as checkpoints; Tune's state keeps metrics only, and a few trials.
    states = list((tiny_study / "tune").glob("*/experiment_state-*.json"))
    assert states
    trials = 0
    for path in states:
        text = path.read_text()
        assert '\\"rows\\"' not in text and '"rows"' not in text
        trials += len(json.loads(text)["trial_data"])
    packs = len(list((tiny_study / "rows").glob("*.parquet")))
    assert trials < packs / 3  # cheap packs share a Tune trial
    # A few kB of Tune's own bookkeeping per trial (with rows: 6.3 kB per model, 22 MB quick).
    assert experiment_state_bytes(tiny_study) < 20_000 * trials
    checkpoints = list((tiny_study / "tune").glob("*/*/checkpoint_*/*.json"))
    assert len(checkpoints) == len(list((tiny_study / "rows").glob("*.parquet")))


def test_trial_folders_have_readable_names(tiny_study):
    folders = [p.name for p in (tiny_study / "tune" / "lambda_search").iterdir() if p.is_dir()]
    assert folders
    assert all(name.startswith("b0") and "-lambda_search-" in name for name in folders)
    assert any("-reg+cls-C4-lam" in name or "-reg+cls-C16-lam" in name for name in folders)


def test_the_study_records_its_provenance_and_every_row_its_command(tiny_study):
    provenance = json.loads((tiny_study / "provenance.json").read_text())
    assert provenance["command_line"] and provenance["git_commit"]
    rows = read_rows(tiny_study)
    assert rows["command_line"].null_count() == 0
    assert set(rows["command_line"]) == {provenance["command_line"]}
