"""results/paired.py: Wilson intervals, the exact sign test, Holm, and `paired_stats` (counts,
schema, the function-level bootstrap, determinism, argument checks) on hand-made pairs."""

from __future__ import annotations

import ast
import math
import random
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from results.paired import (
    holm,
    median_interval,
    naive_bootstrap_interval,
    paired_stats,
    sign_test_p,
    wilson_interval,
)

ROOT = Path(__file__).resolve().parents[1]
NAN = float("nan")
STATS_SCHEMA = {
    "n_pairs": pl.Int64,
    "n_wins": pl.Int64,
    "n_diverged": pl.Int64,
    "pct_wins": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "p_holm": pl.Float64,
    "mean_diff": pl.Float64,
    "median_diff": pl.Float64,
    "mean_diff_ci_low": pl.Float64,
    "mean_diff_ci_high": pl.Float64,
    "n_clusters": pl.Int64,
    "n_boot": pl.Int64,
    "bootstrap_seed": pl.Int64,
}


def pairs_frame(rows: list[tuple[str, int, float | None, float | None]]) -> pl.DataFrame:
    """Pairs (group, function_id, mse_a, mse_b)."""
    return pl.DataFrame(
        rows,
        schema={"group": pl.String, "function_id": pl.Int64, "mse_a": pl.Float64,
                "mse_b": pl.Float64},
        orient="row",
    )  # fmt: skip


def clustered_frame(n_functions: int = 10, n_seeds: int = 5, group: str = "g") -> pl.DataFrame:
    """Pairs whose seeds of one function have the same difference mse_a - mse_b = (f - 4.5)/10."""
    return pairs_frame(
        [(group, f, 1.0 + (f - 4.5) / 10, 1.0) for f in range(n_functions) for _ in range(n_seeds)]
    )


def many_groups(n_groups: int = 12, seed: int = 7) -> pl.DataFrame:
    rng = random.Random(seed)
    return pairs_frame(
        [
            (f"g{g:03d}", f, None if rng.random() < 0.05 else rng.random(), rng.random())
            for g in range(n_groups)
            for f in range(10)
            for _ in range(5)
        ]
    )


# --- Wilson -------------------------------------------------------------------------------------
# z = NormalDist().inv_cdf(0.975) = 1.959964, z^2 = 3.841459; with p = wins / n:
#   centre = (p + z^2 / 2n) / (1 + z^2 / n),  half = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2 / n)
# 8/10: denominator 1.384146, centre 0.992073 / 1.384146 = 0.716740,
#       half 1.959964 * sqrt(0.016 + 0.009604) / 1.384146 = 0.226578 -> (0.4902, 0.9433)
# 0/5:  denominator 1.768292, centre = half = 0.384146 / 1.768292 = 0.217241 -> (0, 0.4345)
# 5/5:  the mirror image of 0/5 -> (0.5655, 1)


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [(8, 10, (0.4902, 0.9433)), (0, 5, (0.0, 0.4345)), (5, 5, (0.5655, 1.0))],
)
def test_wilson_interval_matches_hand_computed_values(wins, n, expected):
    low, high = wilson_interval(wins, n)
    assert low == pytest.approx(expected[0], abs=1e-4)
    assert high == pytest.approx(expected[1], abs=1e-4)


def test_wilson_interval_edges_and_confidence():
    assert wilson_interval(0, 5)[0] == 0.0
    assert wilson_interval(5, 5)[1] == 1.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    low95, high95 = wilson_interval(8, 10, 0.95)
    low99, high99 = wilson_interval(8, 10, 0.99)
    assert low99 < low95 and high99 > high95


# --- sign test ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [
        (9, 10, 22 / 1024),  # 2 * (C(10,0) + C(10,1)) / 2^10
        (1, 10, 22 / 1024),
        (5, 10, 1.0),
        (0, 6, 2 / 64),
        (10, 10, 2 / 1024),
        (1, 5, 12 / 32),
    ],
)
def test_sign_test_exact_values(wins, n, expected):
    assert sign_test_p(wins, n) == expected


def test_sign_test_large_n_is_finite_tiny_and_exact():
    p = sign_test_p(600, 1000)
    # Independent log-space computation of 2 * P(X <= 400), X ~ Binomial(1000, 1/2).
    log_terms = [
        math.lgamma(1001) - math.lgamma(k + 1) - math.lgamma(1001 - k) - 1000 * math.log(2)
        for k in range(401)
    ]
    expected = 2 * math.fsum(math.exp(t) for t in log_terms)
    assert math.isfinite(p) and 0 < p < 1e-8
    assert p == pytest.approx(expected, rel=1e-9)
    assert sign_test_p(400, 1000) == p
    assert sign_test_p(0, 5000) == 0.0  # 2 / 2^5000 underflows; no OverflowError


def test_sign_test_of_no_pairs_is_nan():
    assert math.isnan(sign_test_p(0, 0))


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_hand_example():
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_passes_nan_through_and_does_not_count_it():
    adjusted = holm([0.01, NAN, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)
    assert math.isnan(adjusted[1])
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert holm([]) == []


# --- the function-level bootstrap ---------------------------------------------------------------


def test_median_interval_order_statistics_by_the_binomial_rule():
    values = [float(v) for v in (9, 1, 8, 2, 7, 3, 6, 4, 5)]
    assert median_interval(values) == (2.0, 8.0)  # n = 9: the 2nd and 8th order statistics
    assert math.isnan(median_interval(values[:5])[0])  # 2 / 2^5 > 5%: no 95% interval
    assert median_interval(values[:6]) == (1.0, 9.0)  # 2 / 2^6 <= 5%: min and max
    for n in range(6, 60):
        low, high = median_interval([float(v) for v in range(1, n + 1)])
        k = int(low)  # values 1..n: the order statistic is its own rank
        assert high == n + 1 - k
        tail = sum(math.comb(n, j) for j in range(k)) / 2**n
        assert 2 * tail <= 0.05 < 2 * (tail + math.comb(n, k) / 2**n)  # the largest such k
    assert median_interval(values, confidence=0.5) == (3.0, 7.0)  # P(X <= 2) = 46 / 512
    with pytest.raises(ValueError, match="values"):
        median_interval([1.0, NAN])
    with pytest.raises(ValueError, match="confidence"):
        median_interval([1.0], confidence=1.5)


def test_cluster_bootstrap_is_wider_than_naive_when_seeds_of_a_function_agree():
    pairs = clustered_frame()
    out = paired_stats(pairs, ["group"], n_boot=2000, seed=3)
    cluster_width = out["mean_diff_ci_high"][0] - out["mean_diff_ci_low"][0]
    diffs = (pairs["mse_a"] - pairs["mse_b"]).to_list()
    low, high = naive_bootstrap_interval(diffs, n_boot=2000, seed=3)
    # 10 independent values, not 50: the cluster interval is about sqrt(5) = 2.2 times wider.
    assert cluster_width > 1.5 * (high - low)
    assert out["mean_diff_ci_low"][0] < out["mean_diff"][0] < out["mean_diff_ci_high"][0]
    assert out["n_clusters"][0] == 10


def test_cluster_bootstrap_collapses_when_all_differences_are_equal():
    pairs = pairs_frame([("g", f, 1.25, 1.0) for f in range(6) for _ in range(3)])
    out = paired_stats(pairs, ["group"], n_boot=500)
    assert out["mean_diff"][0] == 0.25 and out["median_diff"][0] == 0.25
    assert out["mean_diff_ci_low"][0] == pytest.approx(0.25, abs=1e-12)
    assert out["mean_diff_ci_high"][0] == pytest.approx(0.25, abs=1e-12)


def test_one_cluster_gives_no_interval():
    pairs = pairs_frame([("g", 0, 1.0 + s / 10, 1.0) for s in range(5)])
    out = paired_stats(pairs, ["group"], n_boot=100)
    assert out["n_clusters"][0] == 1
    assert math.isnan(out["mean_diff_ci_low"][0]) and math.isnan(out["mean_diff_ci_high"][0])
    assert out["mean_diff"][0] == pytest.approx(0.2)


# --- paired_stats -------------------------------------------------------------------------------


def test_counts_with_ties_diverged_and_missing_baselines():
    pairs = pairs_frame(
        [
            ("g", 0, 0.5, 1.0),  # win, diff -0.5
            ("g", 1, 1.0, 1.0),  # tie: not a win, diff 0
            ("g", 2, 2.0, 1.0),  # loss, diff +1
            ("g", 3, None, 1.0),  # A diverged (null): a pair, not a win, no diff
            ("g", 4, NAN, 1.0),  # A diverged (NaN): likewise
            ("g", 5, 0.1, None),  # no baseline: dropped
            ("g", 6, 0.1, NAN),  # no baseline: dropped
        ]
    )
    row = paired_stats(pairs, ["group"], n_boot=200).row(0, named=True)
    assert (row["n_pairs"], row["n_wins"], row["n_diverged"]) == (5, 1, 2)
    assert row["pct_wins"] == 20.0
    low, high = wilson_interval(1, 5)
    assert (row["ci_low"], row["ci_high"]) == (100 * low, 100 * high)
    # The sign test leaves the exact tie out: 1 win of 4 directed pairs, 2 * 5/16.
    assert row["p_value"] == 10 / 16 == row["p_holm"]
    assert row["mean_diff"] == pytest.approx(0.5 / 3)
    assert row["median_diff"] == 0.0
    assert row["n_clusters"] == 3  # functions 0-2: the diverged pairs carry no difference
    assert (row["n_boot"], row["bootstrap_seed"]) == (200, 0)


def test_all_diverged_group_has_nan_difference():
    pairs = pairs_frame([("g", f, None, 1.0) for f in range(3)])
    row = paired_stats(pairs, ["group"], n_boot=50).row(0, named=True)
    assert (row["n_pairs"], row["n_wins"], row["n_diverged"], row["n_clusters"]) == (3, 0, 3, 0)
    assert all(math.isnan(row[c]) for c in ("mean_diff", "median_diff", "mean_diff_ci_low"))


def test_columns_dtypes_and_order():
    out = paired_stats(many_groups(3), ["group"], n_boot=50)
    assert dict(out.schema) == {"group": pl.String, **STATS_SCHEMA}
    assert out["group"].to_list() == ["g000", "g001", "g002"]
    whole = paired_stats(many_groups(3), [], n_boot=50)
    assert dict(whole.schema) == STATS_SCHEMA
    assert whole["n_pairs"].to_list() == [150]


def test_holm_is_applied_across_the_rows_of_the_table():
    pairs = pairs_frame(
        [("a", f, 0.0, 1.0) for f in range(10)]  # 10/10: p = 2/1024
        + [("b", f, 0.0 if f < 9 else 2.0, 1.0) for f in range(10)]  # 9/10: p = 22/1024
        + [("c", f, 0.0 if f < 5 else 2.0, 1.0) for f in range(10)]  # 5/10: p = 1
    )
    out = paired_stats(pairs, ["group"], n_boot=50)
    assert out["p_value"].to_list() == [2 / 1024, 22 / 1024, 1.0]
    assert out["p_holm"].to_list() == pytest.approx([6 / 1024, 44 / 1024, 1.0])
    assert out["p_holm"].to_list() == holm(out["p_value"].to_list())


@pytest.mark.parametrize(
    "pairs",
    [
        pairs_frame([]),
        pairs_frame([("g", 0, 1.0, None), ("h", 1, None, NAN)]),  # no pair has a baseline
    ],
    ids=["no rows", "no baselines"],
)
def test_empty_input_gives_empty_frame_with_schema(pairs):
    out = paired_stats(pairs, ["group"])
    assert out.height == 0
    assert dict(out.schema) == {"group": pl.String, **STATS_SCHEMA}


def test_deterministic_and_independent_of_row_and_group_order():
    pairs = many_groups(12)
    out = paired_stats(pairs, ["group"], n_boot=300, seed=11)
    assert_frame_equal(out, paired_stats(pairs, ["group"], n_boot=300, seed=11))
    shuffled = pairs.sample(fraction=1.0, shuffle=True, seed=5)
    assert shuffled["group"].to_list() != pairs["group"].to_list()
    assert_frame_equal(out, paired_stats(shuffled, ["group"], n_boot=300, seed=11))
    # A group's interval does not depend on which other groups are in the table.
    alone = paired_stats(pairs.filter(pl.col("group") == "g007"), ["group"], n_boot=300, seed=11)
    columns = ["mean_diff_ci_low", "mean_diff_ci_high"]
    assert_frame_equal(alone.select(columns), out.filter(pl.col("group") == "g007").select(columns))
    other = paired_stats(pairs, ["group"], n_boot=300, seed=12)
    assert other["mean_diff_ci_low"].to_list() != out["mean_diff_ci_low"].to_list()
    assert other["bootstrap_seed"].to_list() == [12] * 12


@pytest.mark.parametrize(
    ("change", "kwargs", "argument"),
    [
        (None, {"by": ["nope"]}, "by"),
        (None, {"by": "group"}, "by"),
        (None, {"by": ["group", "group"]}, "by"),
        (lambda df: df.drop("mse_a"), {}, "mse_a"),
        (lambda df: df.drop("mse_b"), {}, "mse_b"),
        (lambda df: df.drop("function_id"), {}, "cluster"),
        (None, {"cluster": "seed"}, "cluster"),
        (lambda df: df.with_columns(pl.lit(None, pl.Int64).alias("function_id")), {}, "cluster"),
        (None, {"n_boot": 0}, "n_boot"),
        (None, {"confidence": 0.0}, "confidence"),
        (None, {"confidence": 1.0}, "confidence"),
        (None, {"confidence": 95}, "confidence"),
        (None, {"seed": 1.5}, "seed"),
        (lambda df: df.to_dicts(), {}, "pairs"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(change, kwargs, argument):
    pairs = many_groups(2)
    if change is not None:
        pairs = change(pairs)
    arguments = {"by": ["group"], **kwargs}
    with pytest.raises(ValueError, match=argument):
        paired_stats(pairs, **arguments)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: wilson_interval(11, 10), "wins"),
        (lambda: wilson_interval(-1, 10), "wins"),
        (lambda: wilson_interval(1, 10, 1.5), "confidence"),
        (lambda: sign_test_p(3, -1), "n"),
        (lambda: holm([0.5, 1.5]), "p_values"),
        (lambda: naive_bootstrap_interval([1.0, NAN]), "values"),
        (lambda: naive_bootstrap_interval([1.0, 2.0], n_boot=0), "n_boot"),
    ],
)
def test_helpers_validate_their_arguments(call, argument):
    with pytest.raises(ValueError, match=f"^{argument}:"):
        call()


# --- imports ------------------------------------------------------------------------------------


def test_paired_module_imports_only_stdlib_and_polars():
    tree = ast.parse((ROOT / "results" / "paired.py").read_text())
    imported = {
        (alias.name if isinstance(node, ast.Import) else node.module).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed = set(sys.stdlib_module_names) | {"polars", "pyarrow", "plotly"}
    assert imported - allowed == set()


def test_paired_module_loads_no_numpy_scipy_or_torch():
    # Loaded from its file, not as `results.paired`: the package's __init__ imports plotly and
    # pyarrow, which bring numpy; this checks what paired.py itself (and running it) pulls in.
    code = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('paired', 'results/paired.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "import polars as pl\n"
        "pairs = pl.DataFrame({'g': ['x'] * 4, 'function_id': [0, 0, 1, 1],\n"
        "                      'mse_a': [1.0, None, 2.0, 0.5], 'mse_b': [2.0, 1.0, 1.0, 1.0]})\n"
        "assert module.paired_stats(pairs, ['g'], n_boot=20).height == 1\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy', 'torch'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"results/paired.py loads {result.stdout.strip()}"
