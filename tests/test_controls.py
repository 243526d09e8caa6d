"""The controls of "Why does it help?": rows the study trains (same as before the objectives
moved, float64), the pair_init option, and the paired comparisons built from the rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from tiny_specs import tiny_spec

from results import empty_rows
from results.synthetic_1d import controls
from study.synthetic_1d.point import init_seed, train_points
from study.synthetic_1d.trial_spec import TrialSpec

GOLDEN = Path(__file__).parent / "data" / "golden_rows_float64.json"


# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _spec(variant: str, classes: int | None, lam: float | None, **changes) -> TrialSpec:
    values = dict(
        lambda_source="validation",
        replicates=((0, 0), (1, 421)),
        total_samples=3000,
        epochs=3,
        batch_size=128,
    )
    return tiny_spec(variant=variant, num_classes=classes, lam=lam, **{**values, **changes})


def test_paper_variants_write_the_rows_they_wrote_before_the_objectives_moved():
    # tests/data/golden_rows_float64.json: written by the code before regcls/objectives existed.
    golden = json.loads(GOLDEN.read_text())
    specs = [TrialSpec.from_config(c) for c in golden["specs"]]
    rows = [row for group in train_points(specs) for row in group]
    assert len(rows) == len(golden["rows"]) == 8
    for row, expected in zip(rows, golden["rows"], strict=True):
        assert row["variant"] == expected["variant"]
        for name, value in expected.items():
            if name == "row_key" or value is None or isinstance(value, str):
                continue
            assert row[name] == pytest.approx(value, rel=1e-10, abs=1e-14), (row["variant"], name)


def test_pair_init_independent_starts_a_pair_from_different_weights():
    # At zero epochs a model predicts with its initial weights: a shared-init pair predicts
    # alike, an independent-init pair does not.
    def untrained(pair_init: str) -> dict[str, dict]:
        specs = [
            _spec("reg", None, None, epochs=0, pair_init=pair_init),
            _spec("reg+cls", 16, 10.0, epochs=0, pair_init=pair_init),
            _spec("reg-scaled", None, 10.0, epochs=0, pair_init=pair_init),
        ]
        return {g[0]["variant"]: g[0] for g in train_points(specs)}

    shared, independent = untrained("shared"), untrained("independent")
    assert (
        shared["reg"]["val_mse"] == shared["reg+cls"]["val_mse"] == shared["reg-scaled"]["val_mse"]
    )
    assert independent["reg"]["val_mse"] == shared["reg"]["val_mse"]
    assert independent["reg+cls"]["val_mse"] != independent["reg"]["val_mse"]
    assert independent["reg-scaled"]["val_mse"] != independent["reg"]["val_mse"]
    assert independent["reg+cls"]["val_mse"] != independent["reg-scaled"]["val_mse"]
    assert {r["pair_init"] for r in independent.values()} == {"independent"}
    assert independent["reg+cls"]["init_seed"] != independent["reg"]["init_seed"] == 0
    spec = _spec("reg+cls", 16, 10.0, pair_init="independent")
    assert init_seed(spec, 5) != init_seed(spec.with_values(num_classes=4), 5)


def test_cls_only_predicts_from_its_classes_and_reg_tuned_uses_its_weight_decay():
    specs = [
        _spec("reg", None, None),
        _spec("cls-only", 16, None, lambda_source="none"),
        _spec("reg-tuned", None, None, weight_decay=0.0),
        _spec("reg-tuned", None, None, weight_decay=1e-3),
    ]
    reg, only, tuned0, tuned3 = (g[0] for g in train_points(specs))
    assert only["test_acc"] is not None and only["test_l_extra_softmax"] is not None
    assert only["test_mse"] != reg["test_mse"]
    # reg-tuned at the pack's weight decay is reg; at another weight decay it is not.
    assert tuned3["test_mse"] == pytest.approx(reg["test_mse"], rel=1e-12)
    assert tuned0["test_mse"] != pytest.approx(reg["test_mse"], rel=1e-9)
    assert reg["test_l_extra_softmax"] is None and math.isfinite(reg["test_l_extra_gauss"])


def _row(variant: str, function: int, seed: int, mse: float | None, **values) -> dict:
    status = values.pop("status", "ok")
    return {
        "stage": values.pop("stage", "test"),
        "scenario": "clean",
        "sampling": "severe",
        "noise_sigma": 0.0,
        "noise_distribution": "gaussian",
        "function_id": function,
        "seed": seed,
        "total_samples": 3000,
        "variant": variant,
        "status": status,
        "num_classes": values.pop("C", None),
        "lam": values.pop("lam", None),
        "lr": 1e-3,
        "test_mse": mse,
        "val_mse": mse,
        **values,
    }


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=empty_rows().schema)


def test_comparisons_pair_the_right_models():
    rows = []
    for f in range(6):
        for seed in (0, 1):
            rows.append(_row("reg", f, seed, 1.0))
            rows.append(_row("reg-scaled", f, seed, 0.8, lam=100.0))
            rows.append(_row("reg-scaled", f, seed, 0.5, lam=10.0))  # another lambda: no pair
            for C in (4, 16):
                mse = None if (f, seed, C) == (0, 0, 4) else 0.7
                status = "diverged" if mse is None else "ok"
                rows.append(_row("reg+cls", f, seed, mse, C=C, lam=100.0, status=status))
    stats = controls.helps_stats(_frame(rows))
    get = {(r["comparison"], r["num_classes"]): r for r in stats.iter_rows(named=True)}
    pooled = get[("reg+cls vs reg-scaled", None)]
    assert (pooled["n_pairs"], pooled["n_wins"], pooled["n_diverged_a"]) == (24, 23, 1)
    assert (pooled["n_clusters"], pooled["n_diverged_b"], pooled["n_dropped"]) == (6, 0, 0)
    assert pooled["mean_diff"] == pytest.approx(-0.1)
    assert get[("reg+cls vs reg-scaled", 4)]["n_pairs"] == 12
    # reg-scaled vs reg pairs every reg-scaled model with its reg (two lambdas: two cells).
    scaled = stats.filter(pl.col("comparison") == "reg-scaled vs reg")
    assert sorted(scaled["lam"].to_list()) == [10.0, 100.0]
    assert set(scaled["n_pairs"]) == {12}
    # Holm within one cell: the pooled test-stage comparisons of clean / severe.
    assert set(stats.filter(pl.col("num_classes").is_null())["holm_m"]) == {4}
    what = controls.what_helps(_frame(rows), stats)
    assert what["share"].unique().to_list() == [pytest.approx(0.1 / 0.3)]
    assert controls.helps_stats(empty_rows()).height == 0


def test_a_diverged_or_failed_baseline_is_counted():
    rows = []
    for f in range(6):
        reg_status = {0: "diverged", 1: "failed"}.get(f, "ok")
        rows.append(_row("reg", f, 0, None if reg_status != "ok" else 1.0, status=reg_status))
        rows.append(_row("reg+cls", f, 0, 0.9, C=4, lam=10.0))
    stats = controls.helps_stats(_frame(rows)).filter(pl.col("num_classes").is_null())
    row = stats.filter(pl.col("comparison") == "reg+cls vs reg").row(0, named=True)
    # The diverged reg loses (a win for reg+cls, not a dropped pair); the failed one drops.
    assert (row["n_pairs"], row["n_wins"], row["n_diverged_b"], row["n_dropped"]) == (5, 5, 1, 1)


def test_lambda_search_pairs_keep_lambda_and_weight_decay():
    ls = {"stage": "lambda_search"}
    rows = []
    for f in range(6):
        rows.append(_row("reg", f, 0, 1.0, **ls))
        for lam in (1.0, 10.0):
            rows.append(_row("reg+cls", f, 0, 0.5 * lam / 10, C=4, lam=lam, **ls))
            rows.append(_row("reg+cls-balanced", f, 0, 0.6 * lam / 10, C=4, lam=lam, **ls))
        for wd in (0.0, 1e-3):
            rows.append(_row("reg-tuned", f, 0, 0.9 if wd else 1.1, weight_decay=wd, **ls))
    stats = controls.helps_stats(_frame(rows))
    classes = stats.filter(
        (pl.col("comparison") == "reg+cls-balanced vs reg+cls") & pl.col("num_classes").is_null()
    )
    # One pair per function and lambda (not every lambda with every lambda).
    assert sorted(classes["lam"].to_list()) == [1.0, 10.0]
    assert set(classes["n_pairs"]) == {6}
    assert set(classes["mean_diff"].round(6)) == {0.01, 0.1}
    tuned = stats.filter(pl.col("comparison") == "reg-tuned vs reg")
    assert sorted(tuned["weight_decay"].to_list()) == [0.0, 1e-3]
    assert set(tuned["n_pairs"]) == {6}
    # reg+cls is compared with reg-tuned only at reg-tuned's chosen weight decay (test stage).
    assert stats.filter(pl.col("comparison") == "reg+cls vs reg-tuned").height == 0


def test_l_extra_table_correlates_the_changes_per_cell():
    rows = []
    for f in range(6):
        for seed in range(3):
            gain = 0.1 * (f + 1) + 0.01 * seed
            rows.append(_row("reg", f, seed, 1.0, test_l_extra_gauss=0.5, train_l_extra_gauss=0.4))
            rows.append(
                _row(
                    "reg+cls",
                    f,
                    seed,
                    1.0 - gain,
                    C=4,
                    lam=10.0,
                    test_l_extra_gauss=0.5 - gain,  # L_extra shrinks exactly with the MSE
                    train_l_extra_gauss=0.4,
                )
            )
    table = controls.l_extra_table(_frame(rows))
    row = table.filter(pl.col("comparison") == "reg+cls vs reg").row(0, named=True)
    assert (row["n_pairs"], row["n_clusters"]) == (18, 6)
    assert row["spearman"] == pytest.approx(1.0)
    assert row["spearman_within"] == pytest.approx(1.0)
    assert row["mean_d_l_extra"] == pytest.approx(row["mean_d_mse"])
    assert row["d_l_extra_ci_low"] < row["mean_d_l_extra"] < row["d_l_extra_ci_high"]
    assert row["mean_d_train_l_extra"] == pytest.approx(0.0)


def test_helps_by_accuracy_takes_quartiles_within_each_c():
    rows = []
    for f in range(6):
        rows.append(_row("reg", f, 0, 1.0))
        for C, acc in ((4, 0.5), (64, 0.02)):
            rows.append(_row("reg+cls", f, 0, 0.9, C=C, lam=10.0, test_acc=acc + 0.01 * f))
    table = controls.helps_by_accuracy(_frame(rows))
    # Each C has its own four quartiles (accuracy falls with C; pooled quartiles would sort by C).
    assert table.group_by("num_classes").len().sort("num_classes")["len"].to_list() == [4, 4]


def test_what_helps_figure_draws_the_mean_with_its_interval_over_functions():
    from results.synthetic_1d.control_figures import plot_what_helps

    rows = []
    for f in range(6):
        for seed in range(2):
            d = 0.01 * (f - 4) + 0.005 * seed
            rows.append(_row("reg", f, seed, 1.0))
            rows.append(_row("reg-scaled", f, seed, 0.9, lam=10.0))
            rows.append(_row("reg+cls", f, seed, 1.0 + d, C=4, lam=10.0))
    table = controls.what_helps(_frame(rows))
    figure = plot_what_helps(_frame(rows), table)
    (mean,) = [t for t in figure.data if t.name == "reg+cls vs reg" and t.yaxis == "y"]
    row = table.filter(pl.col("comparison") == "reg+cls vs reg").row(0, named=True)
    assert list(mean.y) == pytest.approx([row["mean_diff"]])
    assert list(mean.error_y.array) == pytest.approx([row["mean_diff_ci_high"] - row["mean_diff"]])
    assert row["mean_diff_ci_low"] < row["mean_diff"] < row["mean_diff_ci_high"]
    assert "over functions" in figure.layout.annotations[0].text
