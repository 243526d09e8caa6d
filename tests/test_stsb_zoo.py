"""STS-B-DIR's method zoo: the variant lists agree with `regcls.methods`, the row schema holds
every hyperparameter column, a bad zoo name is one line, and the published-vs-ours table
against numbers computed by hand. (The smoke run through Tune: tests/test_study_real_data.py.)"""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

import run_study
from regcls.methods import METHODS, MethodConfig, method_columns
from results.dir.published_gains import YANG_STSB_ROWS, published_vs_ours, relative_gain
from results.dir.schema import DIR_ROW_SCHEMA
from results.synthetic_1d.schema import METHOD_FIELDS
from search_spaces import stsb_dir
from study.dir.plan import declared_models, stsb_specs


def test_zoo_lists_agree_with_the_method_configs():
    assert set(stsb_dir.ZOO_VARIANTS) == set(METHODS) - {"reg", "reg+cls"}
    for variant in stsb_dir.ZOO_VARIANTS:
        config = MethodConfig(variant)
        assert (variant in stsb_dir.ZOO_WITH_CLASSES) == config.has_classes, variant
        assert (variant in stsb_dir.ZOO_WITH_LAMBDA) == config.uses_lam, variant
    # The preset's method settings are MethodConfig fields with valid values.
    settings = dict(stsb_dir.PRESETS["paper"].method_settings())
    assert MethodConfig("reg-fds", **settings).fds_config().clip_max == 2.0


def test_dir_schema_holds_every_method_column_in_config_order():
    names = [name for name in method_columns(MethodConfig("reg")) if name != "variant"]
    assert [name for name, _ in METHOD_FIELDS] == names
    assert set(names) <= set(DIR_ROW_SCHEMA.names)


def test_quick_holds_a_named_subset_and_paper_all():
    paper = stsb_specs(stsb_dir.PRESETS["paper"], "root")
    quick = stsb_specs(stsb_dir.PRESETS["quick"], "root")
    assert {s.variant for s in paper} >= set(stsb_dir.ZOO_VARIANTS)
    assert {s.variant for s in quick} & set(stsb_dir.ZOO_VARIANTS) == set(stsb_dir.QUICK_ZOO)
    left = "leaves reg+hlgauss, reg+softlabel, reg-lds+cls, reg+hca, hca-d to paper"
    assert left in stsb_dir.zoo_note(stsb_dir.PRESETS["quick"])
    # 3 seeds x (25 paper/control trials + 5 regression-only + hca, hca+lds at C = 10).
    assert declared_models(quick) == {"train": 3 * (25 + 5 + 2)}
    assert {s.num_classes for s in quick if s.variant == "hca"} == {10}
    # paper: the lambda variants at every C x lambda of its grid (4 x 5).
    lam_specs = [s for s in paper if s.variant == "reg+hlgauss"]
    assert len(lam_specs) == 20 and {s.lam for s in lam_specs} == {0.01, 0.1, 1.0, 10.0, 100.0}


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"zoo": ["reg-lds", "reg-ldz"]}, "error: zoo: unknown value(s) ['reg-ldz']; accepted"),
        ({"lds_inverse": "sqrt"}, "error: lds_inverse: got 'sqrt'; accepted values: inverse"),
        ({"zoo_class_counts": [1]}, "error: zoo_class_counts:"),
    ],
)
def test_bad_zoo_field_in_a_space_is_one_line(capsys, tmp_path, space, expected):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    out = tmp_path / "out"
    argv = ["--study", "stsb_dir", "--space", str(path), "--out", str(out), "--no-dashboard"]
    code = run_study.main(argv)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and not out.exists()
    assert lines[0].startswith(expected), lines[0]


def _row(variant: str, seed: int, mse: float, pearson: float, **extra) -> dict:
    metrics = {}
    for shot, scale in (("all", 1.0), ("many", 0.5), ("medium", 2.0), ("few", 4.0)):
        metrics[f"test_mse_{shot}"] = mse * scale
        metrics[f"test_pearson_{shot}"] = pearson
    return {
        "dataset": "stsb_dir",
        "stage": "train",
        "target": "similarity",
        "data_balance": "natural",
        "model_selection": "best_val",
        "seed": seed,
        "variant": variant,
        "status": "ok",
        "lam": None,
        "val_mse_all": mse,
        **metrics,
        **extra,
    }


def test_published_vs_ours_against_hand_numbers():
    rows = pl.DataFrame(
        [
            _row("reg", 0, 1.0, 0.50),
            _row("reg", 1, 2.0, 0.60),
            _row("reg-lds", 0, 0.9, 0.55),  # gains: MSE 10 %, Pearson 10 %
            _row("reg-lds", 1, 1.6, 0.66),  # gains: MSE 20 %, Pearson 10 %
            _row("reg-focal", 0, 1.1, 0.45),  # MSE -10 %, Pearson -10 %; seed 1 diverged
            _row("reg-focal", 1, 9.9, 0.9, status="diverged"),
            _row("reg-lds+cls", 0, 0.1, 0.9, lam=1.0),  # maps to nothing published
        ]
    )
    table = published_vs_ours(rows)
    assert table.height == 6 * 2 * 4  # methods but VANILLA x (MSE, Pearson) x shots

    def cell(method: str, metric: str, shot: str = "all") -> dict:
        return table.filter(
            (pl.col("method") == method) & (pl.col("metric") == metric) & (pl.col("shot") == shot)
        ).to_dicts()[0]

    lds = cell("LDS", "mse")
    # Published: Table 3 INV + LDS 0.914 vs VANILLA 0.974 -> 100 * 0.060 / 0.974.
    assert lds["published_gain_pct"] == pytest.approx(100 * 0.060 / 0.974)
    assert lds["published_row"] == "INV + LDS" and lds["variant"] == "reg-lds"
    assert lds["our_gain_pct"] == pytest.approx(15.0) and lds["n"] == 2
    # Two seeds (gains 10 and 20) are two independent units: no 95% interval exists (a
    # percentile bootstrap would have claimed [10, 20]).
    assert math.isnan(lds["ci_low"]) and math.isnan(lds["ci_high"]) and lds["too_few_clusters"]
    assert cell("LDS", "mse", "few")["our_gain_pct"] == pytest.approx(15.0)  # scale cancels
    assert cell("LDS", "pearson")["our_gain_pct"] == pytest.approx(10.0)
    # Pearson: higher is better; published 75.6 vs 74.2.
    assert cell("LDS", "pearson", "medium")["published_gain_pct"] == pytest.approx(
        100 * (63.8 - 62.7) / 62.7
    )
    focal = cell("Focal-R", "mse")
    assert focal["our_gain_pct"] == pytest.approx(-10.0) and focal["n"] == 1
    assert math.isnan(focal["ci_low"]) and math.isnan(focal["ci_high"])  # one seed: no interval
    assert focal["published_gain_pct"] == pytest.approx(100 * (0.974 - 0.951) / 0.974)
    # FDS maps to reg-fds, which these rows did not train: n = 0, no gain.
    fds = cell("FDS", "mse")
    assert fds["variant"] == "reg-fds" and fds["n"] == 0 and fds["our_gain_pct"] is None
    for method in ("LDS+FDS", "RRT", "INV"):
        row = cell(method, "mse")
        assert row["variant"] == "—" and row["our_gain_pct"] is None and row["n"] is None
        assert row["note"]
    assert "not implemented" in cell("RRT", "pearson")["note"]


def test_relative_gain_sign_and_published_vanilla_is_table_3():
    assert relative_gain("mse", 2.0, 1.5) == pytest.approx(25.0)
    assert relative_gain("pearson", 50.0, 55.0) == pytest.approx(10.0)
    assert YANG_STSB_ROWS[0][:3] == ("VANILLA", "VANILLA", "reg")
    assert YANG_STSB_ROWS[0][4] == (0.974, 0.851, 1.520, 0.984)


def test_zoo_variants_are_paired_with_reg_once_per_cell():
    from results.dir.controls import controls_stats

    rows = pl.DataFrame(
        [
            _row("reg", 0, 1.0, 0.5),
            _row("reg", 1, 2.0, 0.5),
            _row("reg-lds", 0, 0.5, 0.5),  # A - B: -0.5 (a win)
            _row("reg-lds", 1, 2.5, 0.5),  # +0.5 (a loss)
            _row("hca", 0, 0.8, 0.5, num_classes=10),  # -0.2, a win
            _row("hca", 1, 1.0, 0.5, num_classes=10),  # -1.0, a win
        ]
    ).with_columns(pl.lit(None, pl.String).alias(c) for c in ("data_split", "task"))
    stats = controls_stats(rows)
    lds = stats.filter(pl.col("comparison") == "reg-lds vs reg")
    # No lambda, no C: its one cell is the pooled one, each seed counted once.
    assert lds.height == 1 and lds["n_pairs"][0] == 2 and lds["n_wins"][0] == 1
    assert lds["mean_diff"][0] == pytest.approx(0.0)
    hca = stats.filter(pl.col("comparison") == "hca vs reg")
    assert hca["num_classes"].to_list() == [10, None]  # per C, then pooled
    assert hca["n_pairs"].to_list() == [2, 2] and hca["mean_diff"][0] == pytest.approx(-0.6)
