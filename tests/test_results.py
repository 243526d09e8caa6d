"""results/: the row schema, Parquet reading and the Polars analysis on hand-made rows with known
answers (Table 1 counts, Figure 4 mean/std, Figure 3 gaps, lambda selection, Optuna vs grid)."""

from __future__ import annotations

import math

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from results import (
    PAPER_TABLE1,
    ROW_SCHEMA,
    classes_curves,
    empty_rows,
    gaps,
    helps_on_test,
    helps_table,
    helps_table_wide,
    helps_vs_paper,
    lambda_curves,
    lambda_means,
    noise_curves,
    optuna_trials,
    optuna_vs_grid,
    read_rows,
    row_counts,
    selected_lambdas,
    validate_rows,
)

CONTRACT_COLUMNS = {
    "row_key": pa.string(), "trial_key": pa.string(), "config_hash": pa.string(),
    "study": pa.string(), "stage": pa.string(), "search": pa.string(),
    # the protocol flip of the sensitivity study (issue "Reproduce the authors' own runs")
    "flip": pa.string(),
    "scenario": pa.string(), "sampling": pa.string(), "noise_sigma": pa.float64(),
    "noise_distribution": pa.string(), "function_id": pa.int64(), "seed": pa.int64(),
    "total_samples": pa.int64(), "n_train": pa.int64(), "peak_share": pa.float64(),
    # the function and the data options of the authors' code (issue "Reproduce the authors' runs")
    "function_set": pa.string(), "a": pa.float64(), "b": pa.float64(), "c": pa.int64(),
    "d": pa.int64(), "peak_bins": pa.string(), "validation_sampling": pa.string(),
    "balance_bins": pa.int64(), "function_seed": pa.int64(), "peak_center": pa.float64(),
    "variant": pa.string(), "class_mode": pa.string(), "num_classes": pa.int64(),
    "effective_classes": pa.int64(), "lam": pa.float64(), "lr": pa.float64(),
    "epochs": pa.int64(), "batch_size": pa.int64(), "weight_decay": pa.float64(),
    # the optimiser and what reg-tuned sweeps (issue 22)
    "optimizer": pa.string(), "momentum": pa.float64(), "tuned_hyperparameter": pa.string(),
    "dtype": pa.string(), "backend": pa.string(), "hidden": pa.string(),
    "lambda_source": pa.string(),
    "equalize_rounding": pa.string(),
    "shot_bins": pa.int64(), "shot_rule": pa.string(), "shot_many": pa.float64(),
    "shot_few": pa.float64(),
    "lambda_selection": pa.string(),
    # the controls and L_extra (issue "Why does it help?")
    "weight_decay_selection": pa.string(), "pair_init": pa.string(),
    "reg_pairing": pa.string(), "pair_key": pa.string(), "init_seed": pa.int64(),
    "l_extra_bins": pa.int64(), "l_extra_pseudo_count": pa.float64(),
    "l_extra_samples": pa.int64(), "l_extra_sigma2": pa.string(),
    # the method zoo's hyperparameters (issue 10; regcls/methods.py MethodConfig's fields)
    "lds_kernel": pa.string(), "lds_size": pa.int64(), "lds_sigma": pa.float64(),
    "lds_inverse": pa.string(), "lds_bins": pa.int64(), "focal_beta": pa.float64(),
    "focal_gamma": pa.float64(), "focal_activation": pa.string(), "bmc_sigma": pa.float64(),
    "bmc_sigma_learned": pa.bool_(), "bmc_sigma_lr": pa.float64(),
    "denseweight_alpha": pa.float64(), "denseweight_bandwidth": pa.string(),
    "hlgauss_sigma_ratio": pa.float64(), "softlabel_beta": pa.float64(),
    "softlabel_form": pa.string(), "hca_rule": pa.string(), "hca_heads": pa.int64(),
    "fds_bins": pa.int64(), "fds_kernel": pa.string(), "fds_ks": pa.int64(),
    "fds_sigma": pa.float64(), "fds_momentum": pa.float64(), "fds_start_update": pa.int64(),
    "fds_start_epoch": pa.int64(), "fds_clip_min": pa.float64(), "fds_clip_max": pa.float64(),
    "fds_stats_from": pa.string(), "fds_empty_bins": pa.string(), "distill_epochs": pa.int64(),
    "status": pa.string(), "error": pa.string(), "epochs_trained": pa.int64(),
    "bmc_sigma_final": pa.float64(), "final_train_loss": pa.float64(),
    **{
        f"{split}_{m}": pa.float64()
        for split in ("val", "test")
        for m in ("mse", "mse_clean", "mae", "acc", "mse_many", "mse_medium", "mse_few")
    },
    "train_mse": pa.float64(),
    **{
        f"{split}_l_extra_{kind}": pa.float64()
        for split in ("train", "test")
        for kind in ("gauss", "softmax")
    },
    "paired_reg_row_key": pa.string(), "paired_reg_val_mse": pa.float64(),
    "paired_reg_test_mse": pa.float64(),
    "wall_time_s": pa.float64(), "trial_wall_time_s": pa.float64(), "models_in_pack": pa.int64(),
    "device": pa.string(), "torch_version": pa.string(), "ray_version": pa.string(),
    "numpy_version": pa.string(), "python_version": pa.string(), "regcls_version": pa.string(),
    "git_commit": pa.string(), "command_line": pa.string(), "hostname": pa.string(),
    "finished_at": pa.string(),
}  # fmt: skip

MODES = {"reg": "none", "reg+cls": "imbalanced", "reg+cls-balanced": "balanced"}


def row(
    key,
    stage,
    variant,
    *,
    C=None,
    lam=None,
    status="ok",
    val=None,
    test=None,
    reg=None,
    scenario="clean",
    sampling="severe",
    sigma=0.1,
    seed=0,
    lr=1e-3,
    source=None,
    epochs=80,
):
    """One results row; `reg` is the paired reg row (dict) of a reg+cls row."""
    return {
        "row_key": key,
        "study": "synthetic_1d",
        "stage": stage,
        "search": "optuna" if stage == "optuna" else "grid",
        "scenario": scenario,
        "sampling": sampling,
        "noise_sigma": sigma,
        "function_id": 0,
        "seed": seed,
        "variant": variant,
        "class_mode": MODES[variant],
        "num_classes": C,
        "lam": lam,
        "lr": lr,
        "lambda_source": source or ("none" if variant == "reg" else "grid"),
        "status": status,
        "epochs_trained": epochs if status == "ok" else 30,
        "val_mse": val,
        "test_mse": test,
        "paired_reg_row_key": reg["row_key"] if reg else None,
        "paired_reg_val_mse": reg["val_mse"] if reg else None,
    }


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=empty_rows().schema)


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    r1 = row("r1", "lambda_search", "reg", val=1.0)
    r2 = row("r2", "lambda_search", "reg", val=3.0, seed=1)
    r3 = row("r3", "lambda_search", "reg", val=2.0, sampling="uniform")
    ls = "lambda_search"
    t_reg = [row(f"t{i}", "test", "reg", test=v, seed=i) for i, v in enumerate((1.0, 3.0))]
    test = {"lam": 10.0, "source": "validation"}
    noise = {"scenario": "noisy", "source": "validation", "lam": 10.0}
    return frame(
        [
            r1,
            r2,
            r3,
            # clean / severe / imbalanced: 6 pairs, 3 help (0.5, 0.8, 2.0), one diverged
            row("a1", ls, "reg+cls", C=4, lam=1.0, val=0.5, reg=r1),
            row("a2", ls, "reg+cls", C=4, lam=1.0, val=4.0, reg=r2),
            row("a3", ls, "reg+cls", C=4, lam=10.0, val=0.8, reg=r1),
            row("a4", ls, "reg+cls", C=4, lam=10.0, status="diverged", reg=r2),
            row("a5", ls, "reg+cls", C=16, lam=1.0, val=1.0, reg=r1),  # equal: a tie, half a win
            row("a6", ls, "reg+cls", C=16, lam=1.0, val=2.0, reg=r2),
            # clean / uniform / imbalanced: 1 pair, helps
            row("a7", ls, "reg+cls", C=4, lam=1.0, val=1.0, reg=r3, sampling="uniform"),
            # clean / severe / balanced: 1 pair (no help) and one failed model (not a pair)
            row("b1", ls, "reg+cls-balanced", C=4, lam=1.0, val=2.0, reg=r1),
            row("b2", ls, "reg+cls-balanced", C=4, lam=1.0, status="failed", reg=r2),
            # test stage (Figure 3): reg 1, 3; C=4: 1.5, 2.5; C=16: 0.5, 1.5 and one diverged
            *t_reg,
            row("c1", "test", "reg+cls", C=4, test=1.5, seed=0, **test),
            row("c2", "test", "reg+cls", C=4, test=2.5, seed=1, **test),
            row("c3", "test", "reg+cls", C=16, test=0.5, seed=0, **test),
            row("c4", "test", "reg+cls", C=16, test=1.5, seed=1, **test),
            row("c5", "test", "reg+cls", C=16, status="diverged", seed=2, **test),
            # noise stage (Figure 5)
            *(
                row(
                    f"n{i}{v}",
                    "noise",
                    v,
                    C=None if v == "reg" else 4,
                    test=s * 10 + i,
                    sigma=s,
                    **{**noise, "lam": None if v == "reg" else 10.0},
                )
                for s in (0.05, 0.5)
                for i, v in enumerate(MODES)
            ),
            # Optuna: A complete (mean 0.5), B lower but incomplete, C stopped early entirely
            row("oA1", "optuna", "reg+cls", C=64, lam=5.0, lr=1e-3, val=0.4, source="optuna"),
            row("oA2", "optuna", "reg+cls", C=64, lam=5.0, lr=1e-3, val=0.6, source="optuna"),
            row("oB1", "optuna", "reg+cls", C=64, lam=50.0, lr=1e-2, val=0.2, source="optuna"),
            row(
                "oB2",
                "optuna",
                "reg+cls",
                C=64,
                lam=50.0,
                lr=1e-2,
                status="early_stopped",
                source="optuna",
            ),
            row(
                "oC1",
                "optuna",
                "reg+cls",
                C=64,
                lam=500.0,
                lr=1e-4,
                status="early_stopped",
                source="optuna",
            ),
        ]
    )


def test_schema_has_exactly_the_contract_columns_all_nullable():
    assert dict(zip(ROW_SCHEMA.names, ROW_SCHEMA.types, strict=True)) == CONTRACT_COLUMNS
    assert ROW_SCHEMA.names == list(CONTRACT_COLUMNS)
    assert all(field.nullable for field in ROW_SCHEMA)


def test_read_rows_reads_parquet_files_skips_temporaries_and_keeps_extra_columns(tmp_path):
    assert read_rows(tmp_path).shape == (0, len(ROW_SCHEMA))
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    assert read_rows(tmp_path).schema == empty_rows().schema
    pq.write_table(
        pa.Table.from_pylist([{"row_key": "a", "val_mse": 1.5}], ROW_SCHEMA),
        rows_dir / "lambda_search-k1.parquet",
    )
    older = pa.table({"row_key": ["b"], "stage": ["test"], "extra_metric": [2.0]})
    pq.write_table(older, rows_dir / "test-k2.parquet")
    (rows_dir / ".test-k3.parquet.123.tmp").write_bytes(b"half written")
    pq.write_table(older, rows_dir / ".test-k4.parquet")
    df = read_rows(tmp_path)
    assert sorted(df["row_key"].to_list()) == ["a", "b"]
    assert df.columns[: len(ROW_SCHEMA)] == ROW_SCHEMA.names
    assert df["extra_metric"].drop_nulls().to_list() == [2.0]
    assert df.schema["val_mse"] == pl.Float64 and df.schema["function_id"] == pl.Int64


def test_validate_rows_names_missing_columns(rows):
    assert validate_rows(rows) is rows
    with pytest.raises(ValueError, match="missing columns.*val_mse.*wall_time_s"):
        validate_rows(rows.drop("val_mse", "wall_time_s"))
    with pytest.raises(ValueError, match="missing columns paired_reg_val_mse"):
        helps_table(rows.drop("paired_reg_val_mse"))


def test_helps_table_counts_diverged_as_not_helping(rows):
    table = helps_table(rows)
    cell = {(r["class_mode"], r["sampling"]): r for r in table.iter_rows(named=True)}
    severe = cell[("imbalanced", "severe")]
    assert (severe["n_pairs"], severe["n_helps"], severe["n_diverged_a"]) == (6, 3, 1)
    assert severe["pct_helps"] == pytest.approx(100 * 3.5 / 6)  # the tie counts half
    assert cell[("imbalanced", "uniform")]["pct_helps"] == pytest.approx(100.0)
    # One function: no interval (a 95% interval needs 6 independent functions).
    assert severe["n_clusters"] == 1 and severe["too_few_clusters"]
    assert math.isnan(severe["ci_low"]) and math.isnan(severe["ci_high"])
    balanced = cell[("balanced", "severe")]
    assert (balanced["n_pairs"], balanced["n_helps"], balanced["n_failed"]) == (1, 0, 1)
    average = cell[("imbalanced", "average")]
    # the mean of the rows, as in the paper
    assert average["pct_helps"] == pytest.approx((100 + 100 * 3.5 / 6) / 2)
    assert (average["n_pairs"], average["n_helps"], average["n_diverged_a"]) == (7, 4, 1)
    assert table["sampling"].to_list() == ["uniform", "severe", "average", "severe", "average"]


def test_helps_table_wide_and_paper_comparison(rows):
    wide = helps_table_wide(helps_table(rows))
    assert wide.columns == ["sampling", "imbalanced/clean", "balanced/clean"]
    assert wide.row(1) == ("severe", pytest.approx(100 * 3.5 / 6), 0.0)
    compared = helps_vs_paper(helps_table(rows))
    severe = compared.filter(pl.col("sampling") == "severe").row(0, named=True)
    assert severe["imbalanced/clean"] == pytest.approx(100 * 3.5 / 6)
    assert severe["imbalanced/clean paper"] == 36.83
    assert severe["balanced/noisy"] is None and severe["balanced/noisy paper"] == 46.25
    assert len(PAPER_TABLE1) == 20
    for mode, scenario in (("imbalanced", "clean"), ("balanced", "noisy")):
        values = [v for s, m, sc, v in PAPER_TABLE1 if (m, sc) == (mode, scenario)]
        assert sum(values[:4]) / 4 == pytest.approx(values[4], abs=0.01)  # published average


def test_lambda_curves_mean_std_and_reg_reference(rows):
    curves = lambda_curves(rows)
    key = (pl.col("class_mode") == "imbalanced") & (pl.col("sampling") == "severe")
    point = curves.filter(key & (pl.col("num_classes") == 4) & (pl.col("lam") == 1.0)).row(
        0, named=True
    )
    assert point["val_mse_mean"] == pytest.approx(2.25)
    assert point["val_mse_std"] == pytest.approx(math.sqrt(6.125))
    assert point["n"] == 2 and point["n_diverged"] == 0
    assert point["reg_val_mse_mean"] == pytest.approx(2.0)
    assert point["reg_val_mse_std"] == pytest.approx(math.sqrt(2.0))
    assert point["reg_n"] == 2
    lone = curves.filter(key & (pl.col("num_classes") == 4) & (pl.col("lam") == 10.0)).row(
        0, named=True
    )
    assert (lone["val_mse_mean"], lone["val_mse_std"], lone["n"], lone["n_diverged"]) == (
        0.8,
        None,
        1,
        1,
    )


def test_selected_lambdas_and_what_the_test_stage_used(rows):
    chosen = {
        (r["scenario"], r["class_mode"]): r for r in selected_lambdas(rows).iter_rows(named=True)
    }
    imbalanced = chosen[("clean", "imbalanced")]
    # lambda=1: (0.5 + 4 + 1 + 2 + 1) / 5 = 1.7; lambda=10: 0.8 (the diverged model is left out)
    assert imbalanced["selected_lam"] == 10.0
    assert imbalanced["val_mse_mean"] == pytest.approx(0.8)
    assert (imbalanced["test_lam"], imbalanced["n_test_models"], imbalanced["agrees"]) == (
        10.0,
        5,
        True,
    )
    assert chosen[("clean", "balanced")]["selected_lam"] == 1.0
    assert chosen[("clean", "balanced")]["test_lam"] is None
    means = lambda_means(rows).filter(pl.col("class_mode") == "imbalanced")
    assert means.sort("lam")["val_mse_mean"].to_list() == pytest.approx([1.7, 0.8])


def test_selected_lambdas_ties_go_to_the_smaller_lambda():
    tie = frame(
        [
            row(f"x{lam}", "lambda_search", "reg+cls", C=4, lam=lam, val=1.0)
            for lam in (100.0, 0.1, 10.0)
        ]
    )
    assert selected_lambdas(tie)["selected_lam"].to_list() == [0.1]


@pytest.mark.parametrize(
    ("vals", "chosen", "edge"),
    [((2.0, 1.0, 3.0), 1.0, False), ((0.5, 1.0, 3.0), 0.1, True), ((2.0, 1.0, 0.3), 10.0, True)],
)
def test_selected_lambdas_flag_a_lambda_at_the_grid_edge(vals, chosen, edge):
    grid = frame(
        [
            row(f"x{lam}", "lambda_search", "reg+cls", C=4, lam=lam, val=val)
            for lam, val in zip((0.1, 1.0, 10.0), vals, strict=True)
        ]
    )
    out = selected_lambdas(grid)
    assert (out["selected_lam"].to_list(), out["at_grid_edge"].to_list()) == ([chosen], [edge])


def test_classes_curves_broadcast_reg_and_gap(rows):
    curves = classes_curves(rows)
    reg = curves.filter(pl.col("variant") == "reg")
    assert reg["num_classes"].to_list() == [4, 16]
    assert reg["test_mse_mean"].to_list() == pytest.approx([2.0, 2.0])
    assert reg["test_mse_std"].to_list() == pytest.approx([math.sqrt(2.0)] * 2)
    cls = curves.filter(pl.col("variant") == "reg+cls")
    assert cls["test_mse_mean"].to_list() == pytest.approx([2.0, 1.0])
    assert cls["n_diverged"].to_list() == [0, 1]
    gap = gaps(rows)
    assert gap.height == 1
    assert gap.row(0, named=True) == {
        "scenario": "clean",
        "sampling": "severe",
        "variant": "reg+cls",
        "class_mode": "imbalanced",
        "gap": pytest.approx(0.5),
        "n_classes": 2,
    }
    with pytest.raises(ValueError, match="stage"):
        classes_curves(rows, stage="validation")


def test_noise_curves_three_variants_per_sigma(rows):
    curves = noise_curves(rows)
    assert curves["noise_sigma"].unique().sort().to_list() == [0.05, 0.5]
    high = curves.filter(pl.col("noise_sigma") == 0.5)
    assert high["variant"].to_list() == ["reg", "reg+cls", "reg+cls-balanced"]
    assert high["test_mse_mean"].to_list() == pytest.approx([5.0, 6.0, 7.0])
    assert high["num_classes"].to_list() == [4, 4, 4]


def test_optuna_vs_grid_prefers_complete_trials_and_counts_cost(rows):
    trials = optuna_trials(rows)
    assert trials["complete"].to_list() == [True, False, False]
    assert trials["epochs_used"].to_list() == [160, 110, 30]
    best = optuna_vs_grid(rows).row(0, named=True)
    assert (best["optuna_lam"], best["optuna_lr"]) == (5.0, 1e-3)
    assert best["optuna_val_mse"] == pytest.approx(0.5)
    assert (best["optuna_trials"], best["optuna_models"], best["optuna_epochs"]) == (3, 5, 300)
    assert (best["grid_lam"], best["grid_lr"], best["grid_models"]) == (10.0, 1e-3, 7)
    assert best["grid_epochs"] == 5 * 80 + 30 + 80  # severe 5 ok + 1 diverged, uniform 1 ok


def test_row_counts(rows):
    counts = {
        (r["stage"], r["status"]): r["n_rows"] for r in row_counts(rows).iter_rows(named=True)
    }
    assert counts[("lambda_search", "diverged")] == 1
    assert counts[("optuna", "early_stopped")] == 2
    assert sum(counts.values()) == rows.height


@pytest.mark.parametrize(
    "function",
    [
        helps_table,
        lambda_curves,
        lambda_means,
        selected_lambdas,
        classes_curves,
        gaps,
        noise_curves,
        optuna_trials,
        optuna_vs_grid,
        row_counts,
    ],
)
def test_empty_rows_give_empty_frames_with_the_same_columns(function, rows):
    expected = function(rows).schema
    for empty in (pl.DataFrame(), empty_rows(), rows.clear()):
        out = function(empty)
        assert out.height == 0
        assert out.schema == expected


def test_empty_table1_still_shows_the_paper():
    compared = helps_vs_paper(helps_table(empty_rows()))
    assert compared.height == 5
    assert compared["imbalanced/clean paper"].to_list() == [55.42, 54.17, 47.50, 36.83, 48.48]
    assert compared["imbalanced/clean"].null_count() == 5


def test_helps_on_test_counts_pairs_and_mean_gain():
    regs = [
        row(f"g{seed}", "test", "reg", test=mse, seed=seed) for seed, mse in ((0, 0.2), (1, 0.4))
    ]
    cls = []
    for i, (seed, classes, mse) in enumerate(
        [(0, 4, 0.1), (1, 4, 0.5), (0, 16, 0.15), (1, 16, 0.3)]
    ):
        r = row(f"c{i}", "test", "reg+cls", C=classes, lam=10.0, test=mse, seed=seed)
        cls.append({**r, "paired_reg_test_mse": regs[seed]["test_mse"]})
    diverged = row("d", "test", "reg+cls", C=64, lam=10.0, status="diverged", seed=1)
    cls.append({**diverged, "paired_reg_test_mse": 0.4})
    table = helps_on_test(frame(regs + cls))
    assert table.height == 1
    got = table.row(0, named=True)
    assert (got["n_pairs"], got["n_helps"], got["n_diverged_a"]) == (5, 3, 1)
    assert got["pct_helps"] == pytest.approx(60.0)
    assert got["mse_reg_cls"] == pytest.approx((0.1 + 0.5 + 0.15 + 0.3) / 4)
    assert got["mse_reg"] == pytest.approx(0.3)
    assert got["gain_pct"] == pytest.approx(100 * (0.3 - 0.2625) / 0.3)
    assert helps_on_test(frame(regs + cls), "noise").height == 0
