"""The protocol-sensitivity study: flip effects on hand-made rows with known answers, a tiny study
through real Ray Tune (rows carry their flip and pair within it; the report has the section),
and the tornado figure on its rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import run_study
from results import ROW_SCHEMA, empty_rows, read_rows
from results.cluster_inference import cluster_flip, paired_stats
from results.synthetic_1d.sensitivity import flip_effects
from results.synthetic_1d.sensitivity_figures import plot_sensitivity
from search_spaces.synthetic_1d_sensitivity import PRESETS
from study.options import StudyOptions
from study.synthetic_1d.sensitivity import (
    declared_sensitivity_models,
    resolve_sensitivity_preset,
    sensitivity_specs,
)
from study.synthetic_1d.sensitivity_run import run_sensitivity

REG_MSE = 1.0


def _row(flip: str, variant: str, function: int, seed: int, mse: float | None) -> dict:
    return {
        "row_key": f"{flip}-{variant}-{function}-{seed}",
        "study": "synthetic_1d_sensitivity",
        "stage": "test",
        "flip": flip,
        "dtype": "float64" if flip == "dtype" else "float32",
        "pair_init": "independent" if flip == "pair_init" else "shared",
        "scenario": "clean",
        "sampling": "severe",
        "noise_sigma": 0.0,
        "noise_distribution": "gaussian",
        "function_id": function,
        "seed": seed,
        "total_samples": 30_000,
        "variant": variant,
        "num_classes": None if variant == "reg" else 4,
        "lam": None if variant == "reg" else 100.0,
        "lr": 1e-3,
        "status": "ok" if mse is not None else "diverged",
        "test_mse": mse,
    }


def _cell(flip: str, gains: dict[tuple[int, int], float | None]) -> list[dict]:
    """reg (MSE 1) and reg+cls (MSE 1 - gain; None: diverged) per (function, seed)."""
    rows = []
    for (function, seed), gain in gains.items():
        rows.append(_row(flip, "reg", function, seed, REG_MSE))
        mse = None if gain is None else REG_MSE - gain
        rows.append(_row(flip, "reg+cls", function, seed, mse))
    return rows


# Paper defaults: reg+cls beats reg in every pair by 0.1 (functions 0-5, seeds 0 and 1: six
# functions, the fewest with a 95% interval).
BASE = {(f, s): 0.1 for f in range(6) for s in (0, 1)}
# pair_init turns the wins into losses: functions 0-2 lose both pairs by 0.2; functions 3-5 lose
# one by 0.2 and win one by 0.05 (so 3 wins in 12 pairs).
TURNED = {(f, s): (0.05 if f >= 3 and s == 1 else -0.2) for f in range(6) for s in (0, 1)}


@pytest.fixture(scope="module")
def hand_rows() -> pl.DataFrame:
    rows = _cell("none", BASE) + _cell("dtype", BASE) + _cell("pair_init", TURNED)
    return pl.DataFrame(rows, schema=empty_rows().schema, strict=False)


def test_a_flip_that_changes_nothing_has_a_zero_change_and_a_collapsed_interval(hand_rows):
    effects = flip_effects(hand_rows)
    row = effects.filter(pl.col("flip") == "dtype").row(0, named=True)
    assert row["setting"] == "float32 → float64"
    assert (row["pct_wins_base"], row["pct_wins_flip"]) == (100.0, 100.0)
    for column in ("d_pct_wins", "d_pct_wins_ci_low", "d_pct_wins_ci_high"):
        assert row[column] == 0.0, column
    for column in ("d_gain", "d_gain_ci_low", "d_gain_ci_high"):
        assert row[column] == 0.0, column
    assert (row["n_pairs_base"], row["n_pairs_flip"], row["n_clusters"]) == (12, 12, 6)
    assert not row["too_few_clusters"]


def test_a_flip_that_turns_wins_into_losses_has_the_hand_computed_change(hand_rows):
    row = flip_effects(hand_rows).filter(pl.col("flip") == "pair_init").row(0, named=True)
    assert row["setting"] == "shared → independent" and row["variant"] == "reg+cls"
    # 3 wins of 12 pairs after the flip, 12 of 12 before: -75 points.
    assert row["pct_wins_flip"] == 25.0 and row["d_pct_wins"] == pytest.approx(-75.0)
    # Per function the change is -100 points (functions 0-2) or -50 (3-5), each function
    # weighing 1/6: the interval is the sign-flip inversion over those six values.
    change = cluster_flip(np.array([-1.0] * 3 + [-0.5] * 3) / 6, np.full(6, 1 / 6))
    assert row["d_pct_wins_ci_low"] == pytest.approx(100 * change.low[0])
    assert row["d_pct_wins_ci_high"] == pytest.approx(100 * change.high[0])
    own = cluster_flip(np.array([0.0] * 3 + [1.0] * 3), np.full(6, 2.0))
    assert row["pct_wins_flip_ci_low"] == pytest.approx(100 * own.low[0])
    # Mean gain 0.1 before; after (-0.2 * 9 + 0.05 * 3) / 12 = -0.1375.
    assert row["gain_base"] == pytest.approx(0.1) and row["gain_flip"] == pytest.approx(-0.1375)
    assert row["d_gain"] == pytest.approx(-0.2375)
    gain = cluster_flip(np.array([-0.3] * 3 + [-0.175] * 3) / 6, np.full(6, 1 / 6))
    assert row["d_gain_ci_low"] == pytest.approx(gain.low[0])
    assert row["d_gain_ci_high"] == pytest.approx(gain.high[0])
    assert row["d_pct_wins_ci_high"] < 0 and row["d_gain_ci_high"] < 0  # excludes 0
    # The flip's own side agrees with the shared paired statistics.
    pairs = hand_rows.filter((pl.col("flip") == "pair_init") & (pl.col("variant") == "reg+cls"))
    stats = paired_stats(
        pairs.select("function_id", pl.col("test_mse").alias("mse_a")).with_columns(
            pl.lit(REG_MSE).alias("mse_b")
        ),
        [],
    ).row(0, named=True)
    assert stats["pct_wins"] == row["pct_wins_flip"]
    assert stats["mean_diff"] == pytest.approx(-row["gain_flip"])


def test_diverged_models_count_as_losses_and_leave_the_mean(hand_rows):
    diverged = pl.DataFrame(
        _cell("none", BASE) + _cell("dtype", {**BASE, (1, 1): None}),
        schema=empty_rows().schema,
        strict=False,
    )
    row = flip_effects(diverged).row(0, named=True)
    assert row["pct_wins_flip"] == pytest.approx(100 * 11 / 12) and row["n_pairs_flip"] == 12
    assert row["gain_flip"] == pytest.approx(0.1) and row["d_gain"] == pytest.approx(0.0)


def test_rows_without_a_flip_give_an_empty_table_and_figure(hand_rows):
    base = hand_rows.filter(pl.col("flip") == "none")
    for frame in (base, empty_rows(), pl.DataFrame()):
        assert flip_effects(frame).height == 0
        figure = plot_sensitivity(frame)
        assert len(figure.data) == 0
        assert "no rows with a protocol flip" in figure.layout.annotations[0].text
    with pytest.raises(ValueError, match="df"):
        flip_effects(base.to_dicts())


def test_presets_and_bad_overrides():
    quick = PRESETS["quick"]
    counts = declared_sensitivity_models(quick)
    # 2 scenarios x 2 samplings x (reg + 2 class variants x 3 C) x 3 functions x 2 seeds; the
    # reg_pairing flip adds each reg+cls model's own reg (2 x 3 per cell).
    expected = dict.fromkeys(["none", *quick.flips], 168)
    expected["reg_pairing"] = 168 + 2 * 2 * 6 * 6
    assert counts == expected
    specs = sensitivity_specs(quick)
    assert {s.lam for s in specs if s.variant != "reg"} == {100.0, 1000.0}
    assert {s.stage for s in specs} == {"test"} and len({s.key for s in specs}) == len(specs)
    flipped = {s.flip: s for s in specs if s.variant == "reg+cls-balanced"}
    assert flipped["equalize_rounding"].equalize_rounding == "ceil"
    assert flipped["none"].equalize_rounding == "floor"
    assert flipped["peak_share"].peak_share == pytest.approx(58_971 / 65_115)
    for overrides, message in (
        ({"flips": ["pair_pairing"]}, "flips: got"),
        ({"flips": ["dtype"], "dtype": "float64"}, "dtype changes nothing"),
        ({"given_lambdas": {}}, "given_lambdas"),
        ({"controls": ["reg-tuned"]}, "controls: reg-tuned"),
        ({"lambdax": 1}, "unknown field"),
    ):
        options = StudyOptions(
            study="synthetic_1d_sensitivity",
            preset="quick",
            out=Path("x"),
            space_overrides=overrides,
        )
        with pytest.raises(ValueError, match=message):
            resolve_sensitivity_preset(options)


TINY = {
    "flips": ["equalize_rounding", "dtype"],
    "functions": [0],
    "test_seeds": [0, 421],
    "class_counts": [4],
    "samplings": ["severe"],
    "total_samples": 1_500,
    "epochs": 2,
    "batch_size": 64,
}


@pytest.fixture(scope="module")
def tiny_study(ray_local, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sensitivity")
    space = root / "space.json"
    space.write_text(json.dumps(TINY))
    out = root / "study"
    argv = ["--study", "synthetic_1d_sensitivity", "--space", str(space), "--out", str(out)]
    assert run_study.main([*argv, "--no-dashboard"]) == 0
    return out


def test_tiny_study_rows_carry_their_flip_and_pair_within_it(tiny_study):
    rows = read_rows(tiny_study)
    preset = PRESETS["quick"].with_overrides(TINY)
    assert rows.height == sum(declared_sensitivity_models(preset).values()) == 3 * 2 * 3 * 2
    assert dict(rows.group_by("flip").len().iter_rows()) == {
        "none": 12,
        "equalize_rounding": 12,
        "dtype": 12,
    }
    assert set(rows["study"]) == {"synthetic_1d_sensitivity"}
    assert set(rows["lambda_source"].drop_nulls()) == {"none", "given"}
    reg = rows.filter(pl.col("variant") == "reg")
    cls = rows.filter(pl.col("variant") != "reg")
    assert cls["paired_reg_row_key"].null_count() == 0
    joined = cls.join(reg, left_on="paired_reg_row_key", right_on="row_key", suffix="_reg")
    assert joined.height == cls.height
    for column in ("flip", "dtype", "equalize_rounding", "scenario", "function_id", "seed"):
        assert (joined[column] == joined[f"{column}_reg"]).all(), column
    assert set(rows.filter(pl.col("flip") == "dtype")["dtype"]) == {"float64"}
    assert set(rows.filter(pl.col("flip") != "dtype")["dtype"]) == {"float32"}


def test_tiny_study_report_has_the_section_the_table_and_the_tornado(tiny_study):
    page = (tiny_study / "report.html").read_text(encoding="utf-8")
    assert "<h2>Which protocol choice moves the answer?</h2>" in page
    assert 'id="figure-sensitivity"' in page
    assert page.index("Which protocol choice") < page.index("Table 1: does classification")
    table = pl.read_csv(tiny_study / "tables" / "sensitivity.csv")
    assert set(table["flip"]) == {"equalize_rounding", "dtype"}
    assert set(table["variant"]) == {"reg+cls", "reg+cls-balanced"}
    assert table.height == 2 * 2 * 2  # flips x variants x scenarios (one sampling)
    # The Eq. 12 rounding acts on balanced classes only: reg+cls trains the same models.
    same = table.filter((pl.col("flip") == "equalize_rounding") & (pl.col("variant") == "reg+cls"))
    assert same["d_gain"].abs().max() < 1e-6


def test_tornado_on_real_rows_has_one_bar_per_flip(tiny_study):
    figure = plot_sensitivity(read_rows(tiny_study))
    panels = [a.text for a in figure.layout.annotations]
    assert panels == ["clean · severe", "noisy · severe"]
    bars = [t for t in figure.data if t.type == "bar"]
    assert len(bars) == 2 * 2  # per panel: reg+cls and reg+cls balanced
    for trace in bars:
        assert trace.orientation == "h"
        assert sorted(label.split(":")[0] for label in trace.y) == ["dtype", "equalize_rounding"]
        assert all(math.isfinite(x) for x in trace.x)


def test_list_and_dry_run_name_the_study_and_write_nothing(capsys, tmp_path):
    assert run_study.main(["--list"]) == 0
    assert "synthetic_1d_sensitivity" in capsys.readouterr().out
    out = tmp_path / "out"
    argv = ["--study", "synthetic_1d_sensitivity", "--preset", "paper", "--out", str(out)]
    assert run_study.main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    flips = ["none", *PRESETS["paper"].flips]
    for flip in flips:
        assert f"test, flip {flip} " in text, flip
    # 8 x 1,400 models, and the reg_pairing flip's 1,200 own regs.
    assert "13,800" in text and "reg_pairing" in text
    assert not out.exists()
    assert run_study.main([*argv, "--dry-run", "--search", "optuna"]) == 2
    assert "accepted values: grid" in capsys.readouterr().err


def test_tiny_study_resume_retrains_nothing(tiny_study):
    files = {f.name: f.stat().st_mtime_ns for f in (tiny_study / "rows").glob("*.parquet")}
    options = StudyOptions(
        study="synthetic_1d_sensitivity",
        preset="quick",
        out=tiny_study,
        resume=True,
        dashboard=False,
        space_overrides=TINY,
    )
    run_sensitivity(options, ROW_SCHEMA)
    after = {f.name: f.stat().st_mtime_ns for f in (tiny_study / "rows").glob("*.parquet")}
    assert after == files
