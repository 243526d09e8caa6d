"""The authors' 1D choices as recorded options: their functions in the rows, per-shot groups
that fill on severe sampling, the `authors` preset and a test stage at given lambdas."""

from __future__ import annotations

import json

import polars as pl
import pytest
from tiny_specs import tiny_spec

import run_study
from results import read_rows
from search_spaces.synthetic_1d import PRESETS
from study.synthetic_1d import plan
from study.synthetic_1d.plan import declared_models
from study.synthetic_1d.point import train_points
from study.synthetic_1d.trial_spec import TrialSpec

# authors_code_choices.md: the ten (a, c) of the authors' code; b = 1.5 - a, d = c // 3.
AUTHORS_FUNCTIONS = [
    (0.8444, 22),
    (0.0405, 25),
    (0.4859, 18),
    (0.9678, 20),
    (0.5834, 15),
    (0.5047, 18),
    (0.1397, 12),
    (0.6184, 17),
    (0.9873, 26),
    (0.9828, 28),
]


# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _spec(**changes) -> TrialSpec:
    return tiny_spec(**changes)


def test_rows_record_the_authors_functions():
    rows = train_points([_spec(function_set="authors")])[0]
    for row, (a, c) in zip(rows, AUTHORS_FUNCTIONS, strict=True):
        assert row["function_set"] == "authors"
        assert round(row["a"], 4) == a and row["c"] == c
        assert row["b"] == pytest.approx(1.5 - row["a"]) and row["d"] == c // 3
    paper = train_points([_spec()])[0]
    assert [r["c"] for r in paper] != [c for _, c in AUTHORS_FUNCTIONS]


def test_scaled_shot_thresholds_fill_every_group_on_severe_sampling():
    # The paper's 30,000 samples (10,000 for training): DIR's 100 / 20 leave `few` empty.
    spec = _spec(replicates=((0, 0), (3, 421)), total_samples=30_000)
    scaled = train_points([spec.with_values(shot_rule="scaled")])[0]
    fixed = train_points([spec])[0]
    for row in scaled:
        assert (row["shot_many"], row["shot_few"]) == (700.0, 50.0)
        for group in ("many", "medium", "few"):
            assert row[f"test_mse_{group}"] is not None, group
    assert all(row["test_mse_few"] is None for row in fixed)
    assert {(r["shot_many"], r["shot_few"]) for r in fixed} == {(100.0, 20.0)}


def test_authors_preset_bundles_the_authors_choices():
    authors, paper = PRESETS["authors"], PRESETS["paper"]
    assert (authors.total_samples, authors.dtype, authors.equalize_rounding) == (
        60_000,
        "float64",
        "ceil",
    )
    assert (authors.function_set, authors.peak_bins, authors.pair_init) == (
        "authors",
        "region",
        "independent",
    )
    assert authors.peak_share == pytest.approx(0.9056, abs=1e-4)
    assert authors.reg_pairing == "per_model"
    # Every reg+cls model gets a reg of its own, on top of the paper's models.
    lambdas = {(s, m): 10.0 for s in authors.scenarios for m in ("imbalanced", "balanced")}
    specs = plan.test_specs(authors, lambdas, tuned=dict.fromkeys(authors.scenarios, (1e-3, 0.0)))
    own = [s for s in specs if s.variant == "reg" and s.pair_key]
    cls = [s for s in specs if s.variant == "reg+cls"]
    assert sorted(s.pair_key for s in own) == sorted(s.pair_key for s in cls) and own
    extra = {
        stage: n - declared_models(paper)[stage] for stage, n in declared_models(authors).items()
    }
    assert extra["test"] == sum(len(s.replicates) for s in own)


def test_per_model_reg_pairs_each_reg_cls_with_its_own_reg(ray_local, tmp_path):
    from results import ROW_SCHEMA
    from study.options import StudyOptions
    from study.synthetic_1d.run import run_synthetic_1d

    space = {
        "functions": [0],
        "test_seeds": [0, 421],
        "class_counts": [4, 16],
        "samplings": ["severe"],
        "scenarios": ["clean"],
        "total_samples": 1_500,
        "epochs": 2,
        "batch_size": 64,
        "controls": ["reg-scaled"],
        "given_lambdas": {"clean": 100.0},
        "reg_pairing": "per_model",
    }
    options = StudyOptions(
        study="synthetic_1d", preset="quick", out=tmp_path / "out", space_overrides=space
    )
    run_synthetic_1d(options, ROW_SCHEMA)
    rows = read_rows(tmp_path / "out").filter(pl.col("stage") == "test")
    reg = rows.filter(pl.col("variant") == "reg")
    cls = rows.filter(pl.col("variant") == "reg+cls")
    assert reg.height == 3 * 2  # the shared reg and one per C, x 2 seeds
    keys = dict(zip(reg["row_key"], reg["pair_key"], strict=True))
    for row in cls.iter_rows(named=True):
        assert keys[row["paired_reg_row_key"]] == row["pair_key"] != ""
    # Each pair trained from another seed: the regs of one data set differ.
    for _, part in reg.group_by("seed"):
        assert part["test_mse"].n_unique() == 3
        assert part["init_seed"].n_unique() == 3
    scaled = rows.filter(pl.col("variant") == "reg-scaled")
    shared = set(reg.filter(pl.col("pair_key") == "")["row_key"])
    assert set(scaled["paired_reg_row_key"]) <= shared


def test_lambdas_flag_runs_the_test_stage_at_the_given_lambda(ray_local, tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps(
            {
                "functions": [0],
                "test_seeds": [0, 421],
                "class_counts": [4],
                "samplings": ["severe"],
                "total_samples": 1_500,
                "epochs": 2,
                "batch_size": 64,
                "controls": ["reg-scaled"],
            }
        )
    )
    out = tmp_path / "out"
    argv = ["--study", "synthetic_1d", "--preset", "quick", "--space", str(space)]
    code = run_study.main([*argv, "--lambdas", "clean=100", "--out", str(out), "--no-dashboard"])
    assert code == 0, capsys.readouterr().err
    rows = read_rows(out)
    assert set(rows["stage"]) == {"test"}  # no lambda search; no noisy scenario, no noise stage
    assert set(rows["scenario"]) == {"clean"}
    cls = rows.filter(pl.col("variant").is_in(["reg+cls", "reg-scaled"]))
    assert set(cls["lam"]) == {100.0} and set(cls["lambda_source"]) == {"given"}
    assert rows.height == 2 * 3  # reg, reg+cls (C = 4), reg-scaled x 2 seeds
    bad = run_study.main([*argv, "--lambdas", "clean=lots", "--out", str(tmp_path / "bad")])
    assert bad == 2 and not (tmp_path / "bad").exists()
    assert "--lambdas" in capsys.readouterr().err
