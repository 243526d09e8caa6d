"""The answer study (issue 22): the optimiser as a recorded field of every 1D row, reg-tuned's
sweep per optimiser, the equal tuning budget, the verdict words, and a tiny study through the
real Ray Tune whose tables have one row per optimiser x scenario x sampling."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from tiny_specs import tiny_spec

import run_study
from results import read_dir_rows, read_rows
from results.verdicts import ce_verdict
from search_spaces.synthetic_1d import PRESETS as SYNTHETIC_1D_PRESETS
from search_spaces.synthetic_1d_answer import PRESETS
from study.synthetic_1d.answer import (
    declared_answer_models,
    final_specs,
    pilot_specs,
    search_specs,
)
from study.synthetic_1d.plan import reg_tuned_sweep
from study.synthetic_1d.point import train_points
from study.synthetic_1d.trial_spec import TrialSpec

# 6 functions: the fewest with which a 95% interval over functions exists (issue 19's sign-flip
# test needs 2 / 2^G <= 0.05).
TINY = {
    "functions": [0, 1, 2, 3, 4, 5],
    "validation_seeds": [0],
    "test_seeds": [0],
    "scenarios": ["clean", "ood"],
    "samplings": ["severe"],
    "noise_sigmas": [],
    "class_counts": [4],
    "lambdas": [1.0, 100.0],
    "weight_decays": [0.0, 1e-3],
    "tuned_learning_rates": [1e-3, 1e-2],
    "pilot_learning_rates": [1e-2, 1e-1],
    "epochs": 1,
    "total_samples": 900,
    "batch_size": 64,
}


def test_default_optimizer_keeps_the_keys_and_sgd_needs_its_momentum():
    spec = tiny_spec()
    assert spec.optimizer == "adam" and spec.momentum is None
    assert "optimizer" not in spec.to_config() and "momentum" not in spec.to_config()
    sgd = spec.with_values(optimizer="sgd", momentum=0.9)
    assert sgd.to_config()["optimizer"] == "sgd" and sgd.key != spec.key
    assert TrialSpec.from_config(sgd.to_config()) == sgd
    with pytest.raises(ValueError, match="momentum"):
        spec.with_values(optimizer="sgd")
    with pytest.raises(ValueError, match="optimizer: accepted values"):
        spec.with_values(optimizer="rmsprop")


@pytest.mark.usefixtures("one_torch_thread")
def test_rows_record_the_optimizer_it_trained_with():
    specs = [
        tiny_spec(epochs=1, optimizer="sgd", momentum=0.9, replicates=((0, 0),)),
        tiny_spec(epochs=1, replicates=((0, 0),)),
    ]
    sgd = train_points(specs[:1])[0][0]
    adam = train_points(specs[1:])[0][0]
    assert (sgd["optimizer"], sgd["momentum"]) == ("sgd", 0.9)
    assert (adam["optimizer"], adam["momentum"]) == ("adam", None)
    assert sgd["val_mse"] != adam["val_mse"]  # the optimiser reached the trainer
    tuned = train_points([specs[0].with_values(variant="reg-tuned")])[0][0]
    assert tuned["tuned_hyperparameter"] == "lr_scale" and sgd["tuned_hyperparameter"] is None
    with pytest.raises(ValueError, match="one training schedule"):
        train_points(specs)


def test_reg_tuned_sweeps_what_lambda_stands_in_for():
    paper = SYNTHETIC_1D_PRESETS["paper"]
    lr, wd = paper.learning_rates["noisy"], paper.weight_decay
    assert reg_tuned_sweep(paper, "noisy") == [(lr, d) for d in paper.weight_decays]
    sgd = reg_tuned_sweep(paper.with_overrides({"optimizer": "sgd"}), "noisy")
    assert sgd == [(lr * s, wd / s) for s in paper.lambdas]
    adamw = reg_tuned_sweep(paper.with_overrides({"optimizer": "adamw"}), "noisy")
    assert adamw == [(r, wd) for r in paper.tuned_learning_rates]
    # The same budget as reg+cls's lambdas, under every optimiser.
    assert {len(sgd), len(adamw), len(paper.weight_decays)} == {len(paper.lambdas)}


def test_the_answer_presets_plan_every_arm_per_optimizer():
    preset = PRESETS["paper"]
    counts = declared_answer_models(preset)
    assert counts["lambda_search"] == 3 * 3 * 4 * 30 * (1 + 2 * 3 * 8 + 8)
    assert counts["lr_pilot"] == 3 * 4 * 30 * 6  # sgd only
    quick = PRESETS["quick"].with_overrides(TINY)
    assert {s.optimizer for s in pilot_specs(quick)} == {"sgd"}
    rates = {o: dict(quick.slice.learning_rates) for o in quick.optimizers}
    search = search_specs(quick, rates)
    assert {s.variant for s in search} == {"reg", "reg+cls", "reg+cls-balanced", "reg-tuned"}
    assert {(s.optimizer, s.momentum) for s in search} == {
        ("adam", None),
        ("adamw", None),
        ("sgd", 0.9),
    }
    assert {s.weight_decay for s in search if s.variant == "reg" and s.optimizer == "adamw"} == {
        1e-2
    }
    lambdas = {o: {(s, m): 100.0 for s in ("clean", "ood") for m in ("imbalanced", "balanced")}
               for o in quick.optimizers}  # fmt: skip
    tuned = {o: {"clean": (1e-3, 0.0), "ood": (1e-3, 0.0)} for o in quick.optimizers}
    final = final_specs(quick, rates, lambdas, tuned)
    assert {s.variant for s in final} == {
        "reg", "reg+cls", "reg+cls-balanced", "reg-scaled", "reg-tuned", "cls-only",
    }  # fmt: skip
    assert {s.study for s in final} == {"synthetic_1d_answer"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weight_decays", [0.0], "weight_decays: reg-tuned under adam needs as many values"),
        ("tuned_learning_rates", [1e-3], "tuned_learning_rates: reg-tuned under adamw"),
        ("given_lambdas", {"clean": 1.0, "ood": 1.0}, "given_lambdas: the answer study"),
        ("optimizers", ["adam", "lbfgs"], "optimizers: got"),
        ("controls", ["reg-scaled"], "controls: the answer trains every control"),
    ],
)
def test_bad_answer_space_is_one_line(capsys, tmp_path, field, value, message):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({**TINY, field: value}))
    argv = ["--study", "synthetic_1d_answer", "--space", str(space), "--out", str(tmp_path / "o")]
    assert run_study.main([*argv, "--dry-run"]) == 2
    assert message in capsys.readouterr().err


def test_verdict_words_follow_the_intervals():
    base = {"mse_reg": 0.1, "vs_reg_mean_diff_ci_low": -0.02, "vs_reg_mean_diff_ci_high": -0.01}

    def cell(scaled, tuned, share=(float("nan"), float("nan"))):
        return {
            **base,
            "vs_scaled_mean_diff": sum(scaled) / 2,
            "vs_scaled_mean_diff_ci_low": scaled[0],
            "vs_scaled_mean_diff_ci_high": scaled[1],
            "vs_tuned_mean_diff_ci_low": tuned[0],
            "vs_tuned_mean_diff_ci_high": tuned[1],
            "ce_share_ci_low": share[0],
            "ce_share_ci_high": share[1],
        }

    assert ce_verdict(cell((-0.02, -0.01), (-0.03, -0.001))).startswith(
        "helps beyond scale and tuning: -15% [-20%, -10%]"
    )
    assert ce_verdict(cell((-0.02, -0.01), (-0.01, 0.01))).startswith(
        "helps beyond scale, not beyond tuning"
    )
    assert ce_verdict(cell((0.001, 0.002), (-0.01, 0.01))).startswith("hurts: +1.5% [+1.0%")
    assert ce_verdict(cell((-0.01, 0.002), (-0.01, 0.01), (-0.3, 0.25))) == (
        "no detectable effect; at most 25% of the gain"
    )
    assert ce_verdict(cell((-0.01, 0.002), (-0.01, 0.01))) == (
        "no detectable effect; abs difference <= 0.01 (10% of reg's MSE)"
    )
    losing = {**cell((-0.02, -0.01), (-0.03, -0.001)), "vs_reg_mean_diff_ci_low": 0.01}
    assert ce_verdict(losing).startswith("helps beyond scale, but reg+cls loses to reg")
    assert ce_verdict({}) == "no pairs with reg-scaled"


@pytest.fixture(scope="module")
def tiny_answer(ray_local, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("answer")
    space = root / "space.json"
    space.write_text(json.dumps(TINY))
    out = root / "study"
    argv = ["--study", "synthetic_1d_answer", "--space", str(space), "--out", str(out)]
    assert run_study.main([*argv, "--no-dashboard"]) == 0
    return out


def test_tiny_answer_rows_carry_the_optimizer_and_its_choices(tiny_answer):
    rows = read_rows(tiny_answer)
    assert set(rows["status"]) == {"ok", "diverged"} or set(rows["status"]) == {"ok"}
    assert set(rows["optimizer"]) == {"adam", "adamw", "sgd"}
    momentum = rows.group_by("optimizer").agg(pl.col("momentum").unique())
    assert {r["optimizer"]: r["momentum"] for r in momentum.iter_rows(named=True)} == {
        "adam": [None],
        "adamw": [None],
        "sgd": [0.9],
    }
    pilot = rows.filter(pl.col("stage") == "lr_pilot")
    assert set(pilot["optimizer"]) == {"sgd"} and set(pilot["lr"]) == {1e-2, 1e-1}
    rates = json.loads((tiny_answer / "selected_learning_rates.json").read_text())
    test = rows.filter(pl.col("stage") == "test")
    for scenario in ("clean", "ood"):
        reg = test.filter((pl.col("variant") == "reg") & (pl.col("scenario") == scenario))
        by_optimizer = dict(zip(reg["optimizer"], reg["lr"], strict=False))
        assert by_optimizer == {o: rates[o][scenario] for o in ("adam", "adamw", "sgd")}
    tuned = json.loads((tiny_answer / "selected_tuning.json").read_text())
    reg_tuned = test.filter(pl.col("variant") == "reg-tuned")
    for row in reg_tuned.iter_rows(named=True):
        chosen = tuned[row["optimizer"]][row["scenario"]]
        assert (row["lr"], row["weight_decay"]) == (chosen["lr"], chosen["weight_decay"])
        assert row["tuned_hyperparameter"] == chosen["tuned_hyperparameter"]
    # Every model pairs with the reg of its own optimiser.
    regs = dict(zip(rows["row_key"], rows["optimizer"], strict=True))
    paired = test.filter(pl.col("variant") != "reg")
    assert paired["paired_reg_row_key"].is_not_null().all()
    assert all(
        regs[key] == optimizer
        for key, optimizer in zip(paired["paired_reg_row_key"], paired["optimizer"], strict=True)
    )


def test_tiny_answer_table_has_one_row_per_optimizer_scenario_sampling(tiny_answer):
    table = pl.read_csv(tiny_answer / "tables" / "answer.csv")
    cells = table.select("optimizer", "scenario", "sampling").unique()
    assert table.height == cells.height == 3 * 2 * 1
    assert set(table["n_clusters"]) == {6}
    for prefix in ("vs_reg", "vs_scaled", "vs_tuned"):
        assert table[f"{prefix}_n_pairs"].to_list() == [6] * 6  # C = 4, one test seed
        for bound in ("ci_low", "ci_high", "mean_diff_ci_low", "mean_diff_ci_high"):
            assert table[f"{prefix}_{bound}"].is_not_null().all(), (prefix, bound)
    assert table["verdict"].is_not_null().all()
    page = (tiny_answer / "report.html").read_text(encoding="utf-8")
    assert "Does the CE term help?" in page and "figure-answer" in page


STSB_SMOKE = {
    "seeds": [0, 1, 2, 3, 4, 5],
    "optimizers": ["adam", "sgd"],
    "controls": ["reg-scaled", "cls-only", "reg-tuned"],
    "zoo": [],
    "class_modes": ["imbalanced"],
    "lambdas": [1.0, 10.0],
    "weight_decays": [0.0, 1e-3],
    "tuned_learning_rates": [1e-3, 1e-2],
    "pilot_learning_rates": [1e-3, 1e-2],
}


def test_stsb_answer_trains_every_arm_per_optimizer(ray_local, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(STSB_SMOKE))
    out = tmp_path / "stsb"
    argv = ["--study", "stsb_dir", "--preset", "smoke", "--space", str(space), "--out", str(out)]
    assert run_study.main([*argv, "--no-dashboard"]) == 0
    rows = read_dir_rows(out)
    pilot = rows.filter(pl.col("stage") == "lr_pilot")
    assert set(pilot["optimizer"]) == {"sgd"} and set(pilot["lr"]) == {1e-3, 1e-2}
    chosen = json.loads((out / "selected_learning_rates.json").read_text())["sgd"]
    train = rows.filter(pl.col("stage") == "train")
    sgd_reg = train.filter((pl.col("optimizer") == "sgd") & (pl.col("variant") == "reg"))
    assert set(sgd_reg["lr"]) == {chosen} and set(sgd_reg["momentum"]) == {0.9}
    tuned = train.filter(pl.col("variant") == "reg-tuned")
    sweeps = tuned.group_by("optimizer").agg(pl.struct("lr", "weight_decay").unique().len())
    assert dict(sweeps.iter_rows()) == {"adam": 2, "sgd": 2}
    assert set(tuned["tuned_hyperparameter"]) == {"weight_decay", "lr_scale"}
    # Pairs stay within an optimiser.
    keys = dict(zip(rows["row_key"], rows["optimizer"], strict=True))
    paired = train.filter(pl.col("paired_reg_row_key").is_not_null())
    assert paired.height and all(
        keys[k] == o for k, o in zip(paired["paired_reg_row_key"], paired["optimizer"], strict=True)
    )
    table = pl.read_csv(out / "tables" / "stsb_answer.csv")
    assert table["optimizer"].to_list() == ["adam", "sgd"]
    assert set(table["n_clusters"]) == {6}
    assert table["vs_scaled_mean_diff_ci_low"].is_not_null().all()
    assert table["verdict"].is_not_null().all()
    assert "Does the CE term help? (STS-B-DIR)" in (out / "report.html").read_text("utf-8")
