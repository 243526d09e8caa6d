"""results/ for the real-data (DIR) studies: the DIR row schema and reader, the Polars tables on
hand-made rows with known answers (means/stds over seeds and over Breakfast tasks, lambda chosen
on validation, help percentages, failed rows counted not averaged), the published constants
checked against the papers' text, the figures, and a report of DIR rows only rendered in headless
Chromium."""

from __future__ import annotations

import glob
import math
import re
import statistics
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from results import conform_rows, write_report
from results.dir.analysis import (
    best_config,
    breakfast_table,
    helps_summary,
    lambda_sensitivity,
    published_rows,
    results_table,
    results_vs_published,
)
from results.dir.figures import plot_dir_pairs, plot_dir_results, plot_lambda_sensitivity
from results.dir.report import (
    dir_report_sections,
    dir_report_tables,
    format_dir_tables_for_terminal,
    write_dir_tables_csv,
)
from results.dir.schema import (
    DIR_ROW_SCHEMA,
    dir_metric_columns,
    empty_dir_rows,
    read_dir_rows,
)
from results.synthetic_1d.figures import VARIANT_COLORS

PAPERS = Path("/work/shared/papers")
MODES = {"reg": "none", "reg+cls": "imbalanced", "reg+cls-balanced": "balanced"}
TARGETS = {"imdb_wiki_dir": "age", "nyud2_dir": "depth", "stsb_dir": "similarity"}
TASKS = ("cereals", "coffee", "tea")


def _row(dataset, variant, seed, C=None, lam=None, *, key=None, reg=None, **values) -> dict:
    """One DIR row; `reg` is the paired reg row (dict) of a reg+cls row."""
    balance = values.pop("balance", "natural")
    task, split = values.pop("task", None), values.pop("split", None)
    target = values.pop("target", TARGETS.get(dataset))
    return {
        "row_key": key or f"{dataset}-{target}-{split}-{task}-{balance}-{variant}-{C}-{lam}-{seed}",
        "study": dataset,
        "stage": "balanced_data" if balance == "rebalanced" else "train",
        "search": "grid",
        "dataset": dataset,
        "data_split": split,
        "task": task,
        "target": target,
        "seed": seed,
        "variant": variant,
        "class_mode": MODES[variant],
        "data_balance": balance,
        "num_classes": C,
        "lam": lam,
        "lr": 1e-3,
        "model_selection": "best_val",
        "status": values.pop("status", "ok"),
        "paired_reg_row_key": reg["row_key"] if reg else values.pop("paired_key", None),
        "paired_reg_test_mse": values.pop("paired_mse", reg.get("test_mse_all") if reg else None),
        "torch_version": "2.5.1",
        **values,
    }


def _imdb() -> list[dict]:
    d = "imdb_wiki_dir"
    reg = [
        _row(d, "reg", s, test_mse_all=m, test_mae_all=a, val_mse_all=50.0)
        for s, (m, a) in enumerate(((100.0, 8.0), (110.0, 8.5), (120.0, 9.0)))
    ]
    rows = list(reg)
    for lam, val, tests in ((1.0, 40.0, (90.0, 100.0, 130.0)), (0.1, 45.0, (95.0, 105.0, 115.0))):
        rows += [
            _row(d, "reg+cls", s, 10, lam, reg=reg[s], test_mse_all=t, val_mse_all=val)
            for s, t in enumerate(tests)
        ]
    bal = {"reg": reg[0], "val_mse_all": 30.0}
    rows += [
        _row(d, "reg+cls-balanced", 0, 100, 0.1, test_mse_all=80.0, **bal),
        _row(d, "reg+cls-balanced", 1, 100, 0.1, test_mse_all=90.0, **{**bal, "reg": reg[1]}),
        # a failed model with a (bogus) metric: counted, never averaged, not a pair
        _row(d, "reg+cls-balanced", 2, 100, 0.1, status="failed", test_mse_all=1e6, reg=reg[2]),
        # a diverged model: a pair that does not help
        _row(d, "reg+cls-balanced", 3, 100, 0.1, status="diverged", reg=reg[0]),
    ]
    rebalanced = [
        _row(d, "reg", s, balance="rebalanced", test_mse_all=m) for s, m in ((0, 130.0), (1, 132.0))
    ]
    rows += rebalanced
    rows += [
        _row(d, "reg+cls", s, 100, 0.1, balance="rebalanced", reg=rebalanced[s], test_mse_all=m)
        for s, m in ((0, 131.0), (1, 135.0))
    ]
    return rows


def _stsb() -> list[dict]:
    d = "stsb_dir"
    reg = [
        _row(d, "reg", s, test_mse_all=m, test_pearson_all=p, val_mse_all=1.0)
        for s, (m, p) in enumerate(((1.0, 0.70), (1.2, 0.74)))
    ]
    rows = list(reg)
    for C in (10, 100):
        for i, lam in enumerate((0.1, 1.0, 10.0)):
            rows += [
                _row(
                    d,
                    "reg+cls",
                    s,
                    C,
                    lam,
                    reg=reg[s],
                    test_mse_all=reg[s]["test_mse_all"] - 0.05 * i + 0.001 * C,
                    test_pearson_all=0.75,
                    val_mse_all=1.0 - 0.1 * i,
                )
                for s in (0, 1)
            ]
    # partner row absent from the frame: compared with its paired_reg_test_mse instead
    rows.append(
        _row(d, "reg+cls", 0, 10, 100.0, paired_key="gone", paired_mse=0.5, test_mse_all=0.4)
    )
    return rows


def _nyud2() -> list[dict]:
    d = "nyud2_dir"
    # rows hold RMSE only: the help comparison must read the partner row's RMSE
    reg = [_row(d, "reg", s, test_rmse_all=r, val_rmse_all=1.0) for s, r in ((0, 1.5), (1, 1.6))]
    return reg + [
        _row(d, "reg+cls-balanced", s, 10, 0.1, reg=reg[s], test_rmse_all=r, val_rmse_all=0.9)
        for s, r in ((0, 1.45), (1, 1.7))
    ]


def _breakfast_value(target, split, task, variant, seed) -> float:
    base = 30.0 if target == "progress_pct" else 800.0
    return (
        base
        + {"S1": 0.0, "S2": 1.0}[split]
        + {"cereals": 0.0, "coffee": 3.0, "tea": -2.0}[task]
        + {"reg": 0.0, "reg+cls": -2.5}[variant]
        + 2.0 * seed
    )


def _breakfast() -> list[dict]:
    rows = []
    for target, lam in (("progress_pct", 100.0), ("frames", 10.0)):
        for split in ("S1", "S2"):
            for task in TASKS:
                where = {"target": target, "split": split, "task": task}
                for seed in (0, 1):
                    v = _breakfast_value(target, split, task, "reg", seed)
                    rows.append(_row("breakfast", "reg", seed, test_rmse_all=v, **where))
                v = _breakfast_value(target, split, task, "reg+cls", 0)
                rows.append(_row("breakfast", "reg+cls", 0, 100, lam, test_rmse_all=v, **where))
    return rows


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=empty_dir_rows().schema)


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return _frame(_imdb() + _stsb() + _nyud2() + _breakfast())


# --- schema ------------------------------------------------------------------------------


def test_schema_columns_order_and_nullability():
    names = DIR_ROW_SCHEMA.names
    metrics = dir_metric_columns()
    assert len(metrics) == 48 and len(set(metrics)) == 48
    assert metrics[:5] == [
        "val_mae_all",
        "val_mae_many",
        "val_mae_medium",
        "val_mae_few",
        "val_mse_all",
    ]
    assert metrics[-1] == "test_delta1_few"
    start = names.index("final_train_loss") + 1
    assert names[start : start + 48] == metrics
    assert names[:12] == [
        "row_key", "trial_key", "config_hash", "study", "stage", "search", "preset", "dataset",
        "data_split", "task", "target", "seed",
    ]  # fmt: skip
    assert names[-11:] == [
        "wall_time_s", "device", "torch_version", "ray_version", "numpy_version",
        "python_version", "regcls_version", "git_commit", "command_line", "hostname",
        "finished_at",
    ]  # fmt: skip
    for name in ("data_balance", "grad_accumulation", "reg_loss", "shot_bin_width", "best_epoch"):
        assert name in names
    assert DIR_ROW_SCHEMA.field("seed").type == pa.int64()
    assert DIR_ROW_SCHEMA.field("test_gm_few").type == pa.float64()
    assert DIR_ROW_SCHEMA.field("paired_reg_test_mae").type == pa.float64()
    assert all(field.nullable for field in DIR_ROW_SCHEMA)


def test_read_dir_rows_conforms_skips_temporaries_and_keeps_extras(tmp_path):
    assert read_dir_rows(tmp_path).schema == empty_dir_rows().schema
    rows_dir = tmp_path / "rows"
    rows_dir.mkdir()
    table = pa.Table.from_pylist(
        [{"row_key": "a", "dataset": "stsb_dir", "test_mse_all": 0.9, "seed": 3, "extra": 1}]
    )
    pq.write_table(table, rows_dir / "train-a.parquet")
    pq.write_table(table, rows_dir / ".train-b.parquet.tmp.parquet")  # a writer's temporary
    rows = read_dir_rows(tmp_path)
    assert rows.height == 1
    assert rows.columns == [*DIR_ROW_SCHEMA.names, "extra"]  # no synthetic-1D columns
    assert rows.schema["seed"] == pl.Int64 and rows["test_mse_all"].to_list() == [0.9]


# --- tables ------------------------------------------------------------------------------


def test_results_table_means_stds_counts_and_failed_rows_not_averaged(rows):
    table = results_table(rows, "imdb_wiki_dir", ("mse", "mae"), shots=("all",))
    natural = table.filter(pl.col("data_balance") == "natural")
    reg = natural.filter(pl.col("variant") == "reg").row(0, named=True)
    assert reg["mse all"] == pytest.approx(110.0) and reg["mse all std"] == pytest.approx(10.0)
    assert reg["mae all"] == pytest.approx(8.5) and reg["n"] == 3
    cls = natural.filter((pl.col("variant") == "reg+cls") & (pl.col("lam") == 1.0)).row(
        0, named=True
    )
    assert cls["mse all"] == pytest.approx(statistics.mean((90, 100, 130)))
    assert cls["mse all std"] == pytest.approx(statistics.stdev((90, 100, 130)))
    assert cls["mae all"] is None  # not recorded: stays null
    bal = natural.filter(pl.col("variant") == "reg+cls-balanced").row(0, named=True)
    assert bal["mse all"] == pytest.approx(85.0)  # the failed row's 1e6 is not averaged
    assert bal["mse all std"] == pytest.approx(statistics.stdev((80, 90)))
    assert (bal["n"], bal["n_models"], bal["n_failed"], bal["n_diverged"]) == (2, 2, 1, 1)
    assert natural["variant"].to_list() == ["reg", "reg+cls", "reg+cls", "reg+cls-balanced"]
    assert natural.filter(pl.col("variant") == "reg+cls")["lam"].to_list() == [0.1, 1.0]
    # Table 4: the rebalanced rows are their own rows
    rebalanced = table.filter(pl.col("data_balance") == "rebalanced")
    assert rebalanced["mse all"].to_list() == pytest.approx([131.0, 133.0])


def test_results_table_selects_lambda_on_validation_and_reports_pearson_in_percent(rows):
    table = results_table(rows, "imdb_wiki_dir", "mse", ("all",), select_lam=True)
    cls = table.filter((pl.col("variant") == "reg+cls") & (pl.col("data_balance") == "natural"))
    assert cls["lam"].to_list() == [1.0]  # validation 40 < 45, although its test is worse
    stsb = results_table(rows, "stsb_dir", ("mse", "pearson"), ("all",), select_lam=True)
    assert stsb.filter(pl.col("variant") == "reg")["pearson all"][0] == pytest.approx(72.0)
    # lambda 10 has the lowest validation MSE; lambda 100 has none: not a candidate
    assert stsb.filter(pl.col("num_classes") == 10)["lam"].to_list() == [10.0]
    assert stsb.filter(pl.col("num_classes") == 100)["lam"].to_list() == [10.0]


def test_breakfast_table_is_mean_and_std_over_tasks_of_seed_means(rows):
    table = breakfast_table(rows)
    reg = table.filter(pl.col("variant") == "reg").row(0, named=True)
    for label, target in (("%", "progress_pct"), ("frames", "frames")):
        for split in ("S1", "S2"):
            per_task = [
                statistics.mean(_breakfast_value(target, split, t, "reg", s) for s in (0, 1))
                for t in TASKS
            ]
            assert reg[f"{label} {split}"] == pytest.approx(statistics.mean(per_task))
            assert reg[f"{label} {split} std"] == pytest.approx(statistics.stdev(per_task))
    assert reg["% S3"] is None  # split not trained
    assert (reg["n_tasks"], reg["n_models"]) == (3, 24)  # 2 targets x 2 splits x 3 tasks x 2
    cls = table.filter(pl.col("variant") == "reg+cls").row(0, named=True)
    assert (cls["lam %"], cls["lam frames"]) == (100.0, 10.0)
    assert cls["% S1"] == pytest.approx(30.0 - 2.5 + 1.0 / 3.0)
    published = breakfast_table(rows, with_published=True)
    assert published["source"].to_list()[:5] == ["Pintea et al. 2023, Table 5"] * 5
    assert published.filter(pl.col("method") == "reg+cls (100 cls)")["% S1"][0] == 28.71


def test_helps_summary_percentages_with_diverged_failed_and_partners(rows):
    helps = helps_summary(rows)

    def cell(dataset, variant, balance="natural", C=None) -> dict:
        keys = (
            (pl.col("dataset") == dataset)
            & (pl.col("variant") == variant)
            & (pl.col("data_balance") == balance)
            & pl.col("num_classes").eq_missing(C)
        )
        return helps.filter(keys).row(0, named=True)

    cls = cell("imdb_wiki_dir", "reg+cls")  # 2 of 3 at lambda 1, 3 of 3 at lambda 0.1
    assert (cls["n_pairs"], cls["n_helps"], cls["metric"]) == (6, 5, "mse")
    assert cls["pct_helps"] == pytest.approx(500 / 6)
    bal = cell("imdb_wiki_dir", "reg+cls-balanced", C=100)
    assert (bal["n_pairs"], bal["n_helps"], bal["n_diverged_a"], bal["n_failed"]) == (3, 2, 1, 1)
    # Pairs of one seed share their reg: the seeds are the units, too few for an interval.
    assert bal["too_few_clusters"] and math.isnan(bal["ci_low"])
    assert cell("imdb_wiki_dir", "reg+cls", "rebalanced")["pct_helps"] == 0.0
    nyud2 = cell("nyud2_dir", "reg+cls-balanced")  # RMSE read from the partner row
    assert (nyud2["metric"], nyud2["n_pairs"], nyud2["n_helps"]) == ("rmse", 2, 1)
    stsb = cell("stsb_dir", "reg+cls", C=10)
    # seed 0: 1.0 - 0.05 i + 0.01 vs 1.0 helps for i = 1, 2; seed 1 likewise; plus the
    # row whose partner is absent (0.4 < paired_reg_test_mse 0.5)
    assert (stsb["n_pairs"], stsb["n_helps"], stsb["n_unpaired"]) == (7, 5, 0)
    breakfast = cell("breakfast", "reg+cls")  # unpaired here: 2 splits x 3 tasks per target
    assert (breakfast["n_pairs"], breakfast["n_unpaired"], breakfast["pct_helps"]) == (0, 6, None)


def test_best_config_and_lambda_sensitivity(rows):
    best = best_config(rows, "imdb_wiki_dir")
    natural = best.filter(pl.col("data_balance") == "natural").row(0, named=True)
    assert (natural["variant"], natural["num_classes"], natural["lam"]) == (
        "reg+cls-balanced",
        100,
        0.1,
    )
    assert natural["val_mean"] == 30.0 and natural["reg_val_mean"] == 50.0
    assert natural["test_mean"] == pytest.approx(85.0) and natural["n_configs"] == 4
    curves = lambda_sensitivity(rows, "stsb_dir")
    c10 = curves.filter((pl.col("num_classes") == 10) & (pl.col("lam") == 1.0)).row(0, named=True)
    assert c10["mean"] == pytest.approx(statistics.mean((1.0 - 0.05 + 0.01, 1.2 - 0.05 + 0.01)))
    assert c10["reg_mean"] == pytest.approx(1.1) and c10["reg_n"] == 2
    assert curves.filter(pl.col("num_classes") == 10)["lam"].to_list() == [0.1, 1.0, 10.0, 100.0]


# --- published constants -------------------------------------------------------------------


def _paper_lines(prefix: str) -> set[str]:
    files = glob.glob(str(PAPERS / f"{prefix}_*.txt"))
    if not files:
        pytest.skip(f"paper {prefix} not available")
    return {line.rstrip() for line in Path(files[0]).read_text(encoding="utf-8").splitlines()}


def _printed(value, std, decimals) -> str:
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}"
    return text if std is None else f"{text} (± {std:.{decimals}f})"


def _printed_row(frame, method, columns, decimals) -> str:
    """The published row as the paper's text prints it: method, then tab-separated cells."""
    cells = []
    for filters, column in columns:
        match = frame.filter(pl.col("method") == method)
        for name, value in filters.items():
            match = match.filter(pl.col(name).eq_missing(value))
        record = match.row(0, named=True) if match.height else {column: None}
        cells.append(_printed(record[column], record.get(f"{column} std"), decimals))
    return "\t".join([method, *cells])


def test_published_constants_match_the_core_paper_text_exactly():
    lines = _paper_lines("000")
    shots = ("all", "many", "medium", "few")
    table2 = published_rows("nyud2_dir").filter(pl.col("source").str.contains("Table 2"))
    table2_columns = [
        ({"model_selection": sel}, f"rmse {shot}")
        for sel in ("best_val", "best_test")
        for shot in shots
    ]
    assert table2.height == 16  # Kernel and Balanced only on test
    for method in table2["method"].unique().to_list():
        assert _printed_row(table2, method, table2_columns, 3) in lines, method
    table3 = published_rows("imdb_wiki_dir").filter(pl.col("source").str.contains("Table 3"))
    table3_columns = [({}, f"{m} {shot}") for m in ("mae", "mse") for shot in shots]
    assert table3.height == 10
    for method in table3["method"].to_list():
        assert _printed_row(table3, method, table3_columns, 2) in lines, method
    breakfast = published_rows("breakfast")
    table5_columns = [
        ({"target": target, "data_split": split}, "rmse all")
        for target in ("progress_pct", "frames")
        for split in ("S1", "S2", "S3", "S4")
    ]
    for method in breakfast["method"].unique().to_list():
        assert _printed_row(breakfast, method, table5_columns, 2) in lines, method
    table4 = published_rows("nyud2_dir").filter(pl.col("data_balance") == "rebalanced")
    table4_columns = [({"model_selection": s}, "rmse all") for s in ("best_val", "best_test")]
    assert _printed_row(table4, "reg (MSE)", table4_columns, 3) in lines
    assert _printed_row(table4, "reg+cls", table4_columns, 3) in lines
    table4 = published_rows("imdb_wiki_dir").filter(pl.col("data_balance") == "rebalanced")
    for method in ("reg (MSE)", "reg+cls"):
        assert _printed_row(table4, method, [({}, "mae all"), ({}, "mse all")], 2) in lines
    assert table4.filter(pl.col("method") == "reg+cls")["num_classes"][0] == 100


def test_published_spot_checks_and_yang_stsb_vanilla():
    imdb = published_rows("imdb_wiki_dir")
    row = imdb.filter(pl.col("method") == "reg+cls bal. (100 cls)").row(0, named=True)
    assert (row["mse all"], row["mse all std"], row["mae few"]) == (127.87, 1.99, 25.30)
    assert (row["variant"], row["num_classes"], row["data_balance"]) == (
        "reg+cls-balanced",
        100,
        "natural",
    )
    balanced = imdb.filter(pl.col("method") == "Balanced [31]").row(0, named=True)
    assert balanced["mae all"] == 8.12 and balanced["mse all"] is None  # printed "—"
    nyud2 = published_rows("nyud2_dir").filter(pl.col("method") == "reg (MSE)")
    assert nyud2.filter(pl.col("model_selection") == "best_val")["rmse few"][0] == 2.360
    breakfast = published_rows("breakfast").filter(pl.col("method") == "reg+cls bal. (100 cls)")
    assert breakfast["target"].to_list() == ["frames"] * 4  # its "%" row is all "—"
    stsb = published_rows("stsb_dir").row(0, named=True)
    assert (stsb["method"], stsb["variant"], stsb["source"]) == (
        "VANILLA",
        "reg",
        "Yang et al. 2021, Table 3",
    )
    values = [
        stsb[f"{m} {s}"] for m in ("mse", "pearson") for s in ("all", "many", "medium", "few")
    ]
    assert values == [0.974, 0.851, 1.520, 0.984, 74.2, 72.0, 62.7, 75.2]
    yang = _paper_lines("003")
    assert (
        "\t".join(["VANILLA", "0.974", "0.851", "1.520", "0.984", "74.2", "72.0", "62.7", "75.2"])
        in yang
    )
    with pytest.raises(ValueError, match="dataset"):
        published_rows("agedb_dir")


def test_results_vs_published_interleaves_ours_and_paper(rows):
    table = results_vs_published(rows, "stsb_dir")
    assert table["source"].to_list()[:2] == ["Yang et al. 2021, Table 3", "ours"]
    assert table["variant"].to_list()[:2] == ["reg", "reg"]
    assert table.filter(pl.col("source") == "ours")["n"].to_list()[0] == 2


# --- empty input and bad arguments -----------------------------------------------------------


@pytest.mark.parametrize("empty", [pl.DataFrame(), empty_dir_rows()])
def test_empty_input_gives_empty_tables_and_figures(empty):
    assert results_table(empty, "nyud2_dir", ("rmse",)).height == 0
    assert "rmse few std" in results_table(empty, "nyud2_dir", ("rmse",)).columns
    assert helps_summary(empty).height == 0 and "pct_helps" in helps_summary(empty).columns
    assert best_config(empty, "stsb_dir").height == 0
    assert lambda_sensitivity(empty).height == 0
    assert breakfast_table(empty).height == 0
    assert breakfast_table(empty, with_published=True).height == 5  # the paper's rows remain
    for figure in (
        plot_dir_results(empty, "imdb_wiki_dir", "mae"),
        plot_lambda_sensitivity(empty),
    ):
        assert len(figure.data) == 0 and "no " in figure.layout.annotations[0].text
    assert dir_report_sections(empty) == []
    assert "(no DIR rows)" in format_dir_tables_for_terminal(empty)
    assert list(dir_report_tables(empty)) == ["dir_helps_summary"]


def test_bad_arguments_raise_value_errors(rows):
    with pytest.raises(ValueError, match="dataset"):
        results_table(rows, "agedb_dir", ("mae",))
    with pytest.raises(ValueError, match="metrics"):
        results_table(rows, "imdb_wiki_dir", ("r2",))
    with pytest.raises(ValueError, match="shots"):
        results_table(rows, "imdb_wiki_dir", ("mae",), shots=("zero",))
    with pytest.raises(ValueError, match="split"):
        results_table(rows, "imdb_wiki_dir", ("mae",), split="train")
    with pytest.raises(ValueError, match="metric"):
        plot_dir_results(rows, "imdb_wiki_dir", "accuracy")
    with pytest.raises(ValueError, match="df"):
        plot_lambda_sensitivity(rows.to_dicts())
    with pytest.raises(ValueError, match="missing columns.*dataset"):
        helps_summary(rows.drop("dataset"))


# --- figures and report ------------------------------------------------------------------------


def test_results_figure_bars_colours_error_bars_and_published_markers(rows):
    figure = plot_dir_results(rows, "imdb_wiki_dir", "mse")
    assert isinstance(figure, go.Figure)
    bars = [t for t in figure.data if t.type == "bar"]
    assert {t.marker.color for t in bars} == set(VARIANT_COLORS.values())
    reg = next(t for t in bars if t.name == "reg (ours)" and t.xaxis == "x")
    assert list(reg.x) == ["reg", "reg (rebal.)"] and list(reg.y) == pytest.approx([110, 131])
    assert list(reg.error_y.array) == pytest.approx([10.0, math.sqrt(2)])
    published = [t for t in figure.data if t.type == "scatter" and t.xaxis == "x"]
    assert all(t.marker.symbol == "diamond-open" for t in published)
    paper_reg = next(t for t in published if t.marker.color == VARIANT_COLORS["reg"])
    assert "reg" in paper_reg.x and 138.53 in paper_reg.y and 131.03 in paper_reg.y
    assert [a.text for a in figure.layout.annotations] == [
        f"age, best_val · {s}" for s in ("all", "many", "medium", "few")
    ]
    breakfast = plot_dir_results(rows, "breakfast", "rmse")
    assert "S1" in breakfast.layout.annotations[0].text


def test_lambda_figure_log_axis_one_line_per_class_count(rows):
    figure = plot_lambda_sensitivity(rows)
    assert figure.layout.xaxis.type == "log"
    assert {t.name for t in figure.data if t.showlegend} == {"reg", "C=10", "C=100"}
    reg = next(t for t in figure.data if t.name == "reg" and t.mode == "lines+markers")
    assert reg.line.color == VARIANT_COLORS["reg"]


def test_tables_csv_and_terminal(rows, tmp_path):
    paths = write_dir_tables_csv(rows, tmp_path)
    tables = dir_report_tables(rows)
    assert [p.stem for p in paths] == [name for name, t in tables.items() if t.height]
    assert all(pl.read_csv(p).height > 0 for p in paths)
    assert (tmp_path / "tables" / "dir_breakfast_table5.csv").exists()
    helps = pl.read_csv(tmp_path / "tables" / "dir_helps_summary.csv")
    assert helps.height == helps_summary(rows).height
    text = format_dir_tables_for_terminal(rows)
    for name in ("IMDB-WIKI-DIR", "NYUD2-DIR", "Breakfast", "STS-B-DIR", "138.53 ± 1.17"):
        assert name in text


@pytest.fixture(scope="module")
def report(rows, tmp_path_factory) -> Path:
    # write_report's 1D sections need the 1D columns: conformed, DIR rows leave them empty
    return write_report(
        conform_rows(rows),
        tmp_path_factory.mktemp("dir-report"),
        title="regcls: DIR studies",
        extra_sections=dir_report_sections(rows),
    )


# IMDB mae, mse, lambda; NYUD2 rmse; Breakfast rmse; STS-B mse, pearson, lambda; a paired view each
DIR_FIGURES = 12


def test_report_of_dir_rows_only_holds_every_section(report):
    page = report.read_text(encoding="utf-8")
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the bundle once, from the 1D part
    assert page.count('id="figure-dir-') == DIR_FIGURES
    for title in ("IMDB-WIKI-DIR", "NYUD2-DIR", "Breakfast", "STS-B-DIR"):
        assert f"<h2>{title} (" in page
    assert "138.53 ± 1.17" in page and "Pintea et al. 2023, Table 4" in page  # published rows
    assert "Yang et al. 2021, Table 3" in page and "Does classification help?" in page
    assert "Optuna vs grid" not in page  # no Optuna rows: no such section
    for dataset in ("imdb_wiki_dir", "nyud2_dir", "breakfast", "stsb_dir"):
        results = page.index(f'id="figure-dir-{dataset}-')
        assert results < page.index(f'id="figure-dir-{dataset}-paired"')
    assert "IMDB-WIKI-DIR, paired: test error reg+cls" in page
    assert "provenance not recorded" in page  # built from rows only: no provenance.json
    assert page.index("<h2>What helps: CE or scale?</h2>") < page.index("<h2>IMDB-WIKI-DIR (")


@pytest.mark.slow
def test_report_dir_figures_render_in_headless_chromium(report, render_in_chromium):
    dom = render_in_chromium(report)
    figures = dom.split('id="figure-')[1:]
    assert len([f for f in figures if f.startswith("dir-")]) == DIR_FIGURES
    for figure in figures:  # plotly drew each one, the DIR divs included: an svg inside
        name = figure.split('"', 1)[0]
        assert 'class="main-svg"' in figure, f"{name} not drawn"


def test_dir_paired_view_per_config_mean_and_interval(rows):
    figure = plot_dir_pairs(rows, "imdb_wiki_dir")
    means = {t.name: t for t in figure.data if t.name.endswith(": mean")}
    reg_cls = means["reg+cls: mean"]
    # lambda 1: test MSE 90, 100, 130 against reg 100, 110, 120 -> -10, -10, +10
    at = list(reg_cls.x).index("reg+cls C=10 λ=1")
    assert reg_cls.y[at] == pytest.approx(-10.0 / 3)
    assert reg_cls.error_y.array[at] is None  # three seeds: no 95% interval claimed
    assert "3 pairs, 3 independent units (seed), reg+cls better in 2" in reg_cls.text[at]
    # the failed model (bogus 1e6) and the diverged one are no pairs
    balanced = means["reg+cls bal: mean"]
    assert list(balanced.y) == pytest.approx([-20.0])  # 80 - 100, 90 - 110
    assert [a.text for a in figure.layout.annotations][:1] == ["age, best_val · MSE"]
    with pytest.raises(ValueError, match="dataset"):
        plot_dir_pairs(rows, "agedb_dir")


_MEASURE = """<script>window.addEventListener("load", () => {
  const out = document.createElement("p");
  out.id = "measured";
  out.textContent = [document.documentElement.scrollWidth,
    document.documentElement.clientWidth].join(",");
  document.body.appendChild(out);
});</script>"""


@pytest.mark.slow
def test_dir_report_has_no_horizontal_scroll_at_1400_px(report, render_in_chromium, tmp_path):
    page = tmp_path / "measured.html"
    page.write_text(report.read_text("utf-8").replace("</body>", _MEASURE + "</body>"), "utf-8")
    measured = re.search(
        r'<p id="measured">(\d+),(\d+)</p>', render_in_chromium(page, window_size="1400,900")
    )
    assert measured, "the measuring script did not run"
    scroll_width, client_width = map(int, measured.groups())
    assert 1300 < client_width <= 1400
    assert scroll_width <= client_width, "the page scrolls horizontally at 1400 px"
