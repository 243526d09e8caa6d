"""The method-zoo study (issue 10): its variants, trials, rows through the real Tune, pairing
with reg, HCA-d's second stage, and the league table against hand-computed numbers."""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from pathlib import Path

import polars as pl
import pytest

import run_study
from regcls.methods import METHODS, MethodConfig, method_columns
from results import read_rows
from results.synthetic_1d.schema import METHOD_FIELDS, ROW_SCHEMA
from results.synthetic_1d.zoo import league_table, shot_table
from results.synthetic_1d.zoo_figures import plot_who_wins
from search_spaces.synthetic_1d_zoo import (
    CLASS_VARIANTS,
    LAMBDA_VARIANTS,
    PRESETS,
    ZOO_VARIANTS,
)
from study.options import StudyOptions
from study.synthetic_1d.trial_spec import TrialSpec
from study.synthetic_1d.zoo import (
    declared_zoo_models,
    given_variant_lambdas,
    resolve_zoo_preset,
    zoo_lambda_search_specs,
    zoo_test_specs,
)
from study.synthetic_1d.zoo_models import METHOD_COLUMNS, method_config, with_second_stage
from study.variants import CLASS_MODES, VARIANTS, is_zoo_variant, uses_lambda


def test_the_zoo_lists_agree_with_regcls_methods():
    assert set(ZOO_VARIANTS) == set(METHODS)
    assert set(LAMBDA_VARIANTS) == {v for v in METHODS if MethodConfig(v).uses_lam}
    assert set(CLASS_VARIANTS) == {v for v in METHODS if MethodConfig(v).has_classes}
    for variant in METHODS:
        assert variant in VARIANTS
        assert uses_lambda(variant) == MethodConfig(variant).uses_lam, variant
        has_classes = MethodConfig(variant).has_classes
        assert (CLASS_MODES[variant] == "imbalanced") == has_classes, variant
        assert is_zoo_variant(variant) == (variant not in ("reg", "reg+cls")), variant
    # The paper's variants and the controls keep their place (init seed offsets).
    assert VARIANTS[:6] == (
        "reg",
        "reg+cls",
        "reg+cls-balanced",
        "reg-scaled",
        "cls-only",
        "reg-tuned",
    )


def test_row_schema_holds_every_method_column_once():
    names = [name for name, _ in METHOD_FIELDS]
    assert (
        tuple(names)
        == METHOD_COLUMNS
        == tuple(f.name for f in fields(MethodConfig) if f.name != "variant")
    )
    assert all(name in ROW_SCHEMA.names for name in names)
    assert set(method_columns(MethodConfig("reg"))) == {"variant", *names}


def test_trial_keys_of_the_existing_studies_do_not_change():
    spec = zoo_test_specs(PRESETS["quick"], _lambdas(PRESETS["quick"]))[0]
    assert spec.variant == "reg" and "method_params" not in spec.to_config()
    tuned = spec.with_values(variant="reg-lds", method_params=(("lds_sigma", 1.0),))
    assert tuned.to_config()["method_params"] == [["lds_sigma", 1.0]]
    assert TrialSpec.from_config(tuned.to_config()) == tuned
    assert tuned.key != spec.with_values(variant="reg-lds").key


def test_quick_grid_pairs_every_variant_with_the_reg_of_its_cell():
    preset = PRESETS["quick"]
    search = zoo_lambda_search_specs(preset)
    assert {s.variant for s in search} == {"reg", *LAMBDA_VARIANTS}
    assert {s.lam for s in search if s.variant != "reg"} == set(preset.slice.lambdas)
    test = zoo_test_specs(preset, _lambdas(preset))
    assert {s.variant for s in test} == {*ZOO_VARIANTS, "reg-scaled"}
    assert len({s.key for s in test}) == len(test)
    for spec in test:
        counts = (4, 64) if spec.variant in CLASS_VARIANTS else (None,)
        assert spec.num_classes in counts
        assert (spec.lam is not None) == (spec.variant in (*LAMBDA_VARIANTS, "reg-scaled"))
    cells = {(s.scenario, s.sampling) for s in test}
    assert len(cells) == 3 * 2
    # Regression-only variants + class variants x C + reg-scaled at the one lambda, x replicates;
    # the plan holds reg-scaled at the grid's 3 lambdas (the most 5 variants can choose).
    per_cell = (8 + 9 * 2 + 1) * 3 * 2
    assert declared_zoo_models(preset)["test"] == len(cells) * (per_cell + 2 * 3 * 2)
    assert declared_zoo_models(preset)["lambda_search"] == len(cells) * (1 + 5 * 2 * 3) * 3
    for bad, message in (
        ({"variants": ["reg", "reg-magic"]}, "variants: got"),
        ({"variants": ["hca"]}, "reg among them"),
        ({"method_params": {"reg-lds": {"lds_kernel": "box"}}}, "lds_kernel: must be one of"),
        ({"method_params": {"reg-lds": {"lds_colour": 1}}}, "method_params: reg-lds"),
        ({"method_params": {"hca": {}}, "variants": ["reg"]}, "method_params: unknown variant"),
        ({"lambdax": 1}, "unknown field"),
    ):
        options = StudyOptions(
            study="synthetic_1d_zoo", preset="quick", out=Path("x"), space_overrides=bad
        )
        with pytest.raises(ValueError, match=message):
            resolve_zoo_preset(options)


TINY = {
    "scenarios": ["clean"],
    "samplings": ["severe"],
    "functions": [0, 1],
    "validation_seeds": [0],
    "test_seeds": [0],
    "class_counts": [4],
    "lambdas": [1.0, 10.0],
    "total_samples": 1_500,
    "epochs": 2,
    "batch_size": 64,
    "method_params": {"reg-bmc": {"bmc_sigma_learned": True}},
}


@pytest.fixture(scope="module")
def tiny_zoo(ray_local, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    space = root / "space.json"
    space.write_text(json.dumps(TINY))
    out = root / "study"
    argv = ["--study", "synthetic_1d_zoo", "--space", str(space), "--out", str(out)]
    assert run_study.main([*argv, "--no-dashboard"]) == 0
    return out


def test_tiny_zoo_rows_record_each_variants_hyperparameters(tiny_zoo):
    rows = read_rows(tiny_zoo)
    preset = PRESETS["quick"].with_overrides(TINY)
    # reg-scaled is planned at both lambdas of the grid, trained at the ones chosen.
    chosen = set(
        rows.filter(pl.col("variant").is_in(LAMBDA_VARIANTS) & (pl.col("stage") == "test"))["lam"]
    )
    assert rows.height == sum(declared_zoo_models(preset).values()) - 2 * (2 - len(chosen))
    assert set(rows["status"]) == {"ok"}
    test = rows.filter(pl.col("stage") == "test")
    assert set(test["variant"]) == {*ZOO_VARIANTS, "reg-scaled"}
    for variant in ZOO_VARIANTS:
        part = test.filter(pl.col("variant") == variant)
        assert part.height == 2, variant  # two functions x one seed, C = 4
        config = _reg_config(preset)
        config.update(variant=variant, num_classes=part["num_classes"][0], lam=part["lam"][0])
        params = tuple(sorted(preset.method_params.get(variant, {}).items()))
        spec = TrialSpec.from_config(config).with_values(method_params=params)
        expected = method_columns(method_config(spec))
        for column in METHOD_COLUMNS:
            values = set(part[column].to_list())
            assert values == {expected[column]}, (variant, column, values)
    # The hyperparameters a variant uses are filled, the others null.
    hca = test.filter(pl.col("variant") == "hca-d").row(0, named=True)
    assert (hca["hca_heads"], hca["distill_epochs"], hca["hca_rule"]) == (2, 1, None)
    assert hca["lds_kernel"] is None and hca["fds_bins"] is None
    # The 1D study's own settings (search_spaces/synthetic_1d_zoo.py), with the sigma learned.
    bmc = test.filter(pl.col("variant") == "reg-bmc").row(0, named=True)
    assert (bmc["bmc_sigma"], bmc["bmc_sigma_learned"], bmc["bmc_sigma_lr"]) == (0.15, True, 0.01)
    assert 0 < bmc["bmc_sigma_final"] != 0.15
    assert test.filter(pl.col("variant") != "reg-bmc")["bmc_sigma_final"].null_count() == (
        test.height - 2
    )
    assert set(test.filter(pl.col("variant") == "reg-focal")["focal_beta"]) == {3.8}
    assert set(test.filter(pl.col("variant") == "reg-fds")["fds_empty_bins"]) == {"neighbours"}
    assert test.filter(pl.col("variant") == "reg")["lds_kernel"].null_count() == 2
    # reg-scaled at every lambda a lambda variant chose, on the same data and init as reg.
    scaled = test.filter(pl.col("variant") == "reg-scaled")
    chosen_lams = set(test.filter(pl.col("variant").is_in(LAMBDA_VARIANTS))["lam"])
    assert set(scaled["lam"]) == chosen_lams and scaled.height == 2 * len(chosen_lams)
    assert set(scaled["init_seed"]) == set(test.filter(pl.col("variant") == "reg")["init_seed"])
    lams = test.filter(pl.col("variant").is_in(LAMBDA_VARIANTS))
    assert set(lams["lambda_source"]) == {"validation"}
    assert set(lams["lam"]) <= {1.0, 10.0}
    chosen = json.loads((tiny_zoo / "selected_lambdas.json").read_text())
    assert set(chosen) == {f"clean/{v}" for v in LAMBDA_VARIANTS}


def test_tiny_zoo_pairs_every_model_with_the_reg_of_its_data(tiny_zoo):
    rows = read_rows(tiny_zoo)
    for stage in ("lambda_search", "test"):
        part = rows.filter(pl.col("stage") == stage)
        reg = part.filter(pl.col("variant") == "reg")
        others = part.filter(pl.col("variant") != "reg")
        joined = others.join(reg, left_on="paired_reg_row_key", right_on="row_key", suffix="_r")
        assert joined.height == others.height > 0
        assert (joined["paired_reg_test_mse"] == joined["test_mse_r"]).all()
        assert (joined["paired_reg_val_mse"] == joined["val_mse_r"]).all()
        for column in ("scenario", "sampling", "function_id", "seed", "init_seed", "peak_center"):
            assert (joined[column] == joined[f"{column}_r"]).all(), column


def test_tiny_zoo_hca_d_is_hca_plus_a_second_stage(tiny_zoo):
    test = read_rows(tiny_zoo).filter(pl.col("stage") == "test")
    hca = test.filter(pl.col("variant") == "hca").sort("function_id")
    distilled = test.filter(pl.col("variant") == "hca-d").sort("function_id")
    assert hca.height == distilled.height == 2
    # Same data and stage-1 weights; HCA-d adds ceil(0.2 x 2) = 1 epoch of G_T.
    assert (distilled["init_seed"] == hca["init_seed"]).all()
    assert (distilled["epochs_trained"] == hca["epochs_trained"] + 1).all()
    assert (distilled["test_mse"] - hca["test_mse"]).abs().max() > 0
    assert (distilled["final_train_loss"] != hca["final_train_loss"]).all()


@pytest.mark.slow
def test_tiny_zoo_report_and_league(tiny_zoo, render_in_chromium, tmp_path):
    league = pl.read_csv(tiny_zoo / "tables" / "league.csv")
    assert league.columns[:11] == [
        "scenario",
        "sampling",
        "variant",
        "vs",
        "n_pairs",
        "n_clusters",
        "pct_wins",
        "ci_low",
        "ci_high",
        "mean_gain",
        "gain_ci_low",
    ]
    for column in ("verdict", "rank", "n_diverged_a", "n_diverged_b", "n_dropped"):
        assert column in league.columns
    assert set(league["variant"]) == {*ZOO_VARIANTS, "reg-scaled"} - {"reg"}
    vs_scaled = league.filter(pl.col("vs") == "reg-scaled")
    assert set(league["vs"]) == {"reg", "reg-scaled"}
    assert set(vs_scaled["variant"]) == set(LAMBDA_VARIANTS)
    scaled_rows = league.filter(pl.col("variant") == "reg-scaled")
    assert set(league.filter(pl.col("variant") != "reg-scaled")["n_pairs"]) == {2}
    # reg-scaled vs reg: one pair per function and chosen lambda (both 1 and 10 were chosen).
    assert scaled_rows["vs"].to_list() == ["reg"] and scaled_rows["n_pairs"][0] == 4
    page = (tiny_zoo / "report.html").read_text(encoding="utf-8")
    assert "League: which variant beats reg where?" in page
    assert "Table 1: does classification" not in page  # the zoo has its own analysis
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the bundle, inlined once
    assert "<script src=" not in page and page.count('class="plotly-graph-div"') == 2
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = render_in_chromium(measured, window_size="1400,900")
    found = re.search(r'<p id="measured">(\d+),(\d+),(\d+)</p>', dom)
    assert found, "the measuring script did not run"
    scroll_width, client_width, drawn = map(int, found.groups())
    assert 1300 < client_width <= 1400
    assert scroll_width <= client_width, "the zoo report scrolls horizontally at 1400 px"
    assert drawn == 2  # both figures drawn offline


def test_list_and_dry_run_name_the_zoo_and_write_nothing(capsys, tmp_path):
    assert run_study.main(["--list"]) == 0
    assert "synthetic_1d_zoo" in capsys.readouterr().out
    out = tmp_path / "out"
    argv = ["--study", "synthetic_1d_zoo", "--preset", "quick", "--out", str(out)]
    assert run_study.main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "lambda_search" in text and "1,602" in text and "hca-d" in text
    assert not out.exists()
    assert run_study.main([*argv, "--dry-run", "--search", "optuna"]) == 2
    assert "accepted values: grid" in capsys.readouterr().err


def _pairs_frame() -> pl.DataFrame:
    """Hand-built test rows: one cell, reg + variants A (3 wins of 4, one diverged, over two
    functions) and B (1 win of 2; a third pair whose reg diverged is no pair)."""
    rows = [
        # variant, function, seed, test_mse, paired reg test_mse
        ("A", 0, 0, 1.0, 2.0),
        ("A", 0, 1, 2.0, 3.0),
        ("A", 1, 0, 3.0, 5.0),
        ("A", 1, 1, None, 1.0),
        ("B", 0, 0, 4.0, 2.0),
        ("B", 1, 0, 1.0, 5.0),
        ("B", 1, 1, 1.0, None),
        ("reg", 0, 0, 2.0, None),
    ]
    return pl.DataFrame(
        {
            "stage": ["test"] * len(rows),
            "scenario": ["clean"] * len(rows),
            "sampling": ["severe"] * len(rows),
            "variant": [r[0] for r in rows],
            "num_classes": [None] * len(rows),
            "lam": [None] * len(rows),
            "function_id": [r[1] for r in rows],
            "seed": [r[2] for r in rows],
            "test_mse": [r[3] for r in rows],
            "paired_reg_test_mse": [r[4] for r in rows],
        },
        schema_overrides={"num_classes": pl.Int64, "lam": pl.Float64},
    )


def test_league_table_matches_hand_computed_numbers():
    table = league_table(_pairs_frame())
    a = table.filter(pl.col("variant") == "A").row(0, named=True)
    b = table.filter(pl.col("variant") == "B").row(0, named=True)
    # A: 4 pairs, 3 wins (the diverged one loses), gains 1, 1, 2 -> mean 4/3.
    assert (a["n_pairs"], a["n_wins"], a["n_diverged_a"], a["n_clusters"]) == (4, 3, 1, 2)
    assert a["pct_wins"] == pytest.approx(75.0)
    # Two functions are two independent units: no 95% interval (a Wilson interval over the
    # four pairs claimed [30.1, 95.4]).
    assert a["too_few_clusters"] and math.isnan(a["ci_low"]) and math.isnan(a["gain_ci_low"])
    assert a["verdict"] == "too few independent units (2 < 6)"
    assert a["mean_gain"] == pytest.approx(4 / 3)
    # gain_pct over the three finished pairs: 100 x (4/3) / mean(2, 3, 5).
    assert a["gain_pct"] == pytest.approx(100 * (4 / 3) / (10 / 3))
    # B: the pair without a reg value (and no reg row) is no pair; 1 win of 2, gains -2, 4.
    assert (b["n_pairs"], b["n_wins"], b["pct_wins"]) == (2, 1, pytest.approx(50.0))
    assert b["mean_gain"] == pytest.approx(1.0)
    assert (a["rank"], b["rank"]) == (1, 2)
    assert table["variant"].to_list() == ["A", "B"]  # reg is the baseline, not in the league


def test_league_pairs_lambda_variants_with_reg_scaled_at_their_lambda():
    """A at lambda 10 (its four pairs) and reg-scaled at lambdas 10 and 100 on the same data: A
    vs reg-scaled pairs each A model with the reg-scaled of its function, seed and lambda."""
    base = _pairs_frame().filter(pl.col("variant") == "A").with_columns(pl.lit(10.0).alias("lam"))
    scaled = [(0, 0, 10.0, 0.5), (0, 1, 10.0, 4.0), (1, 0, 10.0, 2.0), (1, 1, 10.0, 1.0)]
    scaled += [(0, 0, 100.0, 9.0)]  # another lambda: not A's baseline
    extra = pl.DataFrame(
        {
            "stage": "test",
            "scenario": "clean",
            "sampling": "severe",
            "variant": "reg-scaled",
            "num_classes": None,
            "function_id": [f for f, _, _, _ in scaled],
            "seed": [s for _, s, _, _ in scaled],
            "lam": [lam for _, _, lam, _ in scaled],
            "test_mse": [m for _, _, _, m in scaled],
            "paired_reg_test_mse": 3.0,
        },
        schema=base.schema,
    )
    table = league_table(pl.concat([base, extra]))
    a = table.filter((pl.col("variant") == "A") & (pl.col("vs") == "reg-scaled")).row(0, named=True)
    # A's MSEs 1, 2, 3, diverged against 0.5, 4, 2, 1: a win at (0, 1) only (the diverged A
    # loses); gains over the pairs where both finished -0.5, 2, -1.
    assert (a["n_pairs"], a["n_wins"], a["n_diverged_a"], a["n_clusters"]) == (4, 1, 1, 2)
    assert a["mean_gain"] == pytest.approx(0.5 / 3)
    assert set(table.filter(pl.col("vs") == "reg")["variant"]) == {"A", "reg-scaled"}
    assert table.filter(pl.col("vs") == "reg-scaled")["variant"].to_list() == ["A"]


def test_league_counts_a_diverged_reg_as_a_loss_of_reg():
    rows = []
    for f in range(6):
        reg_status = "diverged" if f == 0 else "ok"
        rows.append(("reg", f, reg_status, None if f == 0 else 1.0, f"r{f}", None))
        rows.append(("A", f, "ok", 0.5, f"a{f}", f"r{f}"))
    frame = pl.DataFrame(
        rows,
        schema=["variant", "function_id", "status", "test_mse", "row_key", "paired_reg_row_key"],
        orient="row",
    ).with_columns(
        stage=pl.lit("test"),
        scenario=pl.lit("clean"),
        sampling=pl.lit("severe"),
        num_classes=pl.lit(None, pl.Int64),
        seed=pl.lit(0),
        paired_reg_test_mse=pl.lit(None, pl.Float64),
    )
    a = league_table(frame).row(0, named=True)
    assert (a["n_pairs"], a["n_wins"], a["n_diverged_b"], a["n_clusters"]) == (6, 6, 1, 6)
    assert a["p_value"] == 2 / 64 and a["ci_low"] > 50
    # Only five functions hold a difference (the sixth's reg has no MSE): no mean interval.
    assert math.isnan(a["gain_ci_low"])
    assert a["verdict"] == "wins more often (mean not distinguishable)"


def test_league_rank_breaks_ties_by_mean_gain_and_heat_map_shows_counts():
    frame = _pairs_frame().with_columns(
        pl.when(pl.col("variant") == "A").then(pl.lit("C")).otherwise("variant").alias("variant")
    )
    same = pl.concat([_pairs_frame(), frame.filter(pl.col("variant") == "C")])
    # C: A's pairs with larger gains -> the same % wins, a larger mean gain: rank 1.
    same = same.with_columns(
        pl.when(pl.col("variant") == "C")
        .then(pl.col("test_mse") / 2)
        .otherwise(pl.col("test_mse"))
        .alias("test_mse")
    )
    table = league_table(same)
    ranks = dict(table.select("variant", "rank").iter_rows())
    assert ranks == {"C": 1, "A": 2, "B": 3}
    figure = plot_who_wins(same, table)
    heat = figure.data[0]
    assert list(heat.y) == ["A", "B", "C"] and list(heat.x) == ["clean · severe"]
    assert heat.text[0][0] == "75%<br>n=4" and heat.z[1][0] == pytest.approx(50.0)


def test_shot_table_means_finished_models_per_variant():
    frame = _pairs_frame().with_columns(
        pl.when(pl.col("test_mse").is_null())
        .then(pl.lit("diverged"))
        .otherwise(pl.lit("ok"))
        .alias("status"),
        pl.col("test_mse").alias("test_mse_many"),
        (2 * pl.col("test_mse")).alias("test_mse_medium"),
        pl.lit(None, dtype=pl.Float64).alias("test_mse_few"),
    )
    table = shot_table(frame)
    a = table.filter(pl.col("variant") == "A").row(0, named=True)
    assert (a["n_models"], a["mse_many"], a["mse_medium"]) == (3, 2.0, 4.0)
    assert a["mse_few"] is None
    assert table["variant"].to_list() == ["reg", "A", "B"]


def _lambdas(preset) -> dict[tuple[str, str], float]:
    return {(s, v): 1.0 for s in preset.slice.scenarios for v in LAMBDA_VARIANTS}


def _reg_config(preset) -> dict:
    return zoo_test_specs(preset, _lambdas(preset))[0].to_config()


_MEASURE = """<script>window.addEventListener("load", () => {
  const out = document.createElement("p");
  out.id = "measured";
  out.textContent = [document.documentElement.scrollWidth, document.documentElement.clientWidth,
    document.querySelectorAll(".js-plotly-plot .main-svg").length > 0 ?
    document.querySelectorAll(".js-plotly-plot").length : 0].join(",");
  document.body.appendChild(out);
});</script>"""


def test_given_lambdas_skip_the_search_and_hca_d_packs_alone():
    options = StudyOptions(
        study="synthetic_1d_zoo",
        preset="quick",
        out=Path("x"),
        space_overrides={"scenarios": ["clean"], "given_lambdas": {"clean": 10.0}},
    )
    preset = resolve_zoo_preset(options)
    assert zoo_lambda_search_specs(preset) == []
    specs = zoo_test_specs(preset, given_variant_lambdas(preset))
    lam = [s for s in specs if s.variant in (*LAMBDA_VARIANTS, "reg-scaled")]
    assert {(s.lam, s.lambda_source) for s in lam} == {(10.0, "given")}
    assert [s.variant for s in lam].count("reg-scaled") == 2  # one per sampling, at the given 10
    rest = {s.lambda_source for s in specs if s.variant not in (*LAMBDA_VARIANTS, "reg-scaled")}
    assert rest == {"none"}
    mixed = [next(s for s in specs if s.variant == v) for v in ("hca-d", "hca")]
    with pytest.raises(ValueError, match="an hca-d pack holds only hca-d specs"):
        with_second_stage(mixed, [], None, None)
