"""results/cluster_inference.py: the sign-flip test over clusters and its inverted intervals
(exact values, agreement with a brute-force inversion, the test/interval duality), the
Fieller-type ratio interval, TOST, the pair-outcome rule (diverged on either side, ties,
failed trials), `paired_stats`' columns, weights, Holm families and argument checks; scipy's
binomial test and Wilson interval against the hand values the old pair-level code was checked
with (the calibration tests use them as the pair-level reference)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from results.cluster_inference import (
    MONTE_CARLO_PATTERNS,
    STAT_COLUMNS,
    cluster_flip,
    holm,
    holm_within,
    min_clusters,
    one_sided_p,
    paired_stats,
    ratio_interval,
    sign_patterns,
    spearman,
)
from results.verdicts import comparison_verdict, share_verdict

NAN = float("nan")


def pairs_frame(rows: list[tuple]) -> pl.DataFrame:
    """Pairs (group, function_id, mse_a, mse_b[, status_a, status_b])."""
    with_status = rows and len(rows[0]) == 6
    schema = {"group": pl.String, "function_id": pl.Int64, "mse_a": pl.Float64,
              "mse_b": pl.Float64}  # fmt: skip
    if with_status:
        schema |= {"status_a": pl.String, "status_b": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


# --- scipy against the hand values of the old pair-level code ------------------------------------
# Wilson, z = 1.959964: 8/10 -> (0.4902, 0.9433); 0/5 -> (0, 0.4345); 5/5 -> (0.5655, 1).


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [(8, 10, (0.4902, 0.9433)), (0, 5, (0.0, 0.4345)), (5, 5, (0.5655, 1.0))],
)
def test_scipy_wilson_interval_matches_hand_computed_values(wins, n, expected):
    ci = stats.binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert ci.low == pytest.approx(expected[0], abs=1e-4)
    assert ci.high == pytest.approx(expected[1], abs=1e-4)


@pytest.mark.parametrize(
    ("wins", "n", "expected"),
    [(9, 10, 22 / 1024), (1, 10, 22 / 1024), (5, 10, 1.0), (0, 6, 2 / 64), (1, 5, 12 / 32)],
)
def test_scipy_sign_test_matches_exact_values(wins, n, expected):
    assert stats.binomtest(wins, n).pvalue == pytest.approx(expected, rel=1e-12)


def test_spearman_is_scipys_and_nan_when_undefined():
    assert spearman([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]) == pytest.approx(0.8)
    assert math.isnan(spearman([1.0, 2.0], [2.0, 1.0]))
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


# --- Holm --------------------------------------------------------------------------------------


def test_holm_hand_example_and_nan():
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, NAN, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1])
    assert holm([]) == []


def test_holm_within_families():
    frame = pl.DataFrame({"family": ["x", "x", "y"], "p_value": [0.01, 0.04, 0.01]})
    out = holm_within(frame, ["family"])
    assert out["p_holm"].to_list() == pytest.approx([0.02, 0.04, 0.01])
    assert out["holm_m"].to_list() == [2, 2, 1]
    whole = holm_within(frame, [])
    assert whole["p_holm"].to_list() == pytest.approx([0.03, 0.04, 0.03])


# --- the sign-flip test and its inversion ------------------------------------------------------


def test_min_clusters_is_where_two_patterns_reach_alpha():
    assert min_clusters(0.95) == 6  # 2/32 > 0.05 >= 2/64
    assert min_clusters(0.90) == 5  # 2/16 > 0.10 >= 2/32
    assert min_clusters(0.99) == 8  # 2/128 > 0.01 >= 2/256


def test_sign_patterns_exact_and_monte_carlo():
    e = sign_patterns(4)
    assert e.shape == (16, 4) and len({tuple(r) for r in e}) == 16
    assert (e[0] == 1).all()
    big = sign_patterns(20, key=("a",))
    assert big.shape == (MONTE_CARLO_PATTERNS, 20)
    assert (big[0] == 1).all() and (big[1] == -1).all()
    half = (MONTE_CARLO_PATTERNS - 2) // 2
    assert (big[2 : 2 + half] == -big[2 + half :]).all()  # every pattern with its negation
    assert (sign_patterns(20, key=("a",)) == big).all()
    assert not (sign_patterns(20, key=("b",)) == big).all()


def test_all_clusters_one_sign_give_the_smallest_p():
    r = cluster_flip(np.array([1.0, 2.0, 0.5, 1.5, 1.0, 2.0]), np.ones(6))
    assert r.p_value[0] == 2 / 64
    assert r.estimate[0] == pytest.approx(8 / 6)
    assert r.n_clusters == 6 and r.n_patterns == 64
    # Five clusters cannot reach 5%: no interval, the test never rejects.
    five = cluster_flip(np.array([1.0, 2.0, 0.5, 1.5, 1.0]), np.ones(5))
    assert five.p_value[0] == 2 / 32
    assert math.isnan(five.low[0]) and math.isnan(five.high[0])


@pytest.mark.parametrize("g", [6, 8, 11])
def test_interval_equals_a_brute_force_inversion(g):
    rng = np.random.default_rng(g)
    n = rng.integers(1, 6, size=g).astype(float)  # unequal cluster sizes
    s = (rng.normal(size=g) + 0.3) * n
    r = cluster_flip(s, n)
    e = sign_patterns(g)
    grid = np.linspace(r.estimate[0] - 4, r.estimate[0] + 4, 40001)
    terms = s[None, :] - grid[:, None] * n[None, :]
    p = (np.abs(terms @ e.T) >= np.abs(terms.sum(1))[:, None] * (1 - 1e-12)).mean(1)
    accepted = grid[p > 0.05]
    step = grid[1] - grid[0]
    assert r.low[0] == pytest.approx(accepted.min(), abs=step)
    assert r.high[0] == pytest.approx(accepted.max(), abs=step)
    assert accepted.max() - accepted.min() == pytest.approx(len(accepted) * step, abs=2 * step)


def test_identical_clusters_get_clopper_pearson_over_clusters_not_a_point():
    # Ten functions, all pairs won: the inversion would say [100, 100]; with perfect
    # correlation within functions this is 10 coin flips, so the bound is 0.025^(1/10).
    rows = [("g", f, 0.5, 1.0) for f in range(10) for _ in range(15)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert row["pct_wins"] == 100.0 and row["ci_high"] == 100.0
    assert row["ci_low"] == pytest.approx(100 * 0.025 ** (1 / 10))
    assert row["p_value"] == 2 / 1024


def test_interval_and_test_agree_on_random_groups():
    rng = np.random.default_rng(3)
    s, n = rng.normal(0.2, 1.0, size=(400, 8)), rng.integers(1, 4, size=(400, 8)).astype(float)
    r = cluster_flip(s * n, n)
    for theta in (-0.5, 0.0, 0.4):
        p = cluster_flip(s * n, n, theta0=theta).p_value
        outside = (theta < r.low) | (theta > r.high)
        # boundary values aside (p exactly at alpha), outside the interval iff p <= alpha
        assert ((p <= 0.05) == outside).mean() > 0.995


def test_one_sided_p_is_half_the_two_sided_for_symmetric_patterns():
    s, n = np.array([0.3, -0.1, 0.5, 0.2, 0.4, 0.1, 0.6]), np.ones(7)
    e = sign_patterns(7)
    two = cluster_flip(s, n, patterns=e).p_value[0]
    assert one_sided_p(s, n, 0.0, below=False, patterns=e)[0] == pytest.approx(two / 2)


def test_ratio_interval_matches_the_mean_interval_and_is_unbounded_for_a_null_denominator():
    rng = np.random.default_rng(5)
    n = rng.integers(1, 5, size=9).astype(float)
    s = (rng.normal(size=9) + 1.0) * n
    est, low, high, bounded = ratio_interval(s, n)
    r = cluster_flip(s, n)
    assert bounded and est == pytest.approx(r.estimate[0])
    assert (low, high) == (pytest.approx(r.low[0]), pytest.approx(r.high[0]))
    # Denominator with clusters of both signs: not distinguishable from 0, no interval.
    _, low, high, bounded = ratio_interval(s, np.array([1.0, -1.0] * 4 + [0.5]))
    assert not bounded and math.isnan(low) and math.isnan(high)


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="sums, weights"):
        cluster_flip(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="sums, weights"):
        cluster_flip(np.ones(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="confidence"):
        cluster_flip(np.ones(6), np.ones(6), confidence=95)


# --- paired_stats: outcomes, counts, columns ----------------------------------------------------


def test_pair_outcomes_one_rule_for_a_and_b():
    rows = [
        ("g", 0, 0.5, 1.0, "ok", "ok"),  # win
        ("g", 1, 1.0, 1.0, "ok", "ok"),  # tie: half
        ("g", 2, 2.0, 1.0, "ok", "ok"),  # loss
        ("g", 3, None, 1.0, "diverged", "ok"),  # A diverged: loss
        ("g", 4, 0.7, None, "ok", "diverged"),  # B diverged: win
        ("g", 5, None, None, "diverged", "diverged"),  # both diverged: tie
        ("g", 6, None, 1.0, "failed", "ok"),  # failed A: dropped
        ("g", 7, 0.5, None, "ok", "failed"),  # failed B: dropped
        ("g", 8, 0.5, None, "ok", None),  # no B row: dropped
    ]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    counts = ("n_pairs", "n_wins", "n_ties", "n_diverged_a", "n_diverged_b", "n_dropped")
    assert tuple(row[c] for c in counts) == (6, 2, 2, 2, 2, 3)
    assert row["pct_wins"] == pytest.approx(100 * 3 / 6)  # 2 wins + 2 halves of 6
    assert row["n_clusters"] == 6
    assert row["mean_diff"] == pytest.approx((-0.5 + 0.0 + 1.0) / 3)  # both finished only
    assert row["median_diff"] == 0.0


def test_a_diverged_b_is_a_win_not_a_dropped_pair():
    # The old rule dropped pairs whose B diverged (favouring B): 6 wins of 6 now, not 0 of 0.
    rows = [("g", f, 0.5, None, "ok", "diverged") for f in range(6)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert (row["n_pairs"], row["n_wins"], row["n_diverged_b"]) == (6, 6, 6)
    assert row["p_value"] == 2 / 64 and row["ci_low"] > 50


def test_without_status_columns_a_non_finite_mse_is_a_divergence():
    rows = [("g", 0, None, 1.0), ("g", 1, 0.5, NAN), ("g", 2, 0.5, 1.0)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert (row["n_pairs"], row["n_diverged_a"], row["n_diverged_b"], row["n_wins"]) == (3, 1, 1, 2)


def test_clusters_not_pairs_are_the_units():
    # 10 functions x 5 seeds whose seeds agree: 50 pairs but 10 independent units.
    rows = [("g", f, 1.0 + (f - 4.5) / 10, 1.0) for f in range(10) for _ in range(5)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert (row["n_pairs"], row["n_clusters"], row["n_patterns"]) == (50, 10, 1024)
    assert row["pct_wins"] == 50.0 and row["p_value"] == 1.0
    # The pair-level sign test would call 25/50 neutral too, but 45/50 wins from 9/10 agreeing
    # functions is p = 22/1024 over functions, not the pair-level 2 P(X <= 5 | 50).
    rows = [("g", f, 0.5 if f < 9 else 2.0, 1.0) for f in range(10) for _ in range(5)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert row["p_value"] == pytest.approx(22 / 1024)
    assert stats.binomtest(45, 50).pvalue < 1e-8


def test_too_few_clusters_flags_and_leaves_no_interval():
    rows = [("g", f, 0.5, 1.0) for f in range(5) for _ in range(4)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert row["too_few_clusters"] and row["n_clusters"] == 5
    assert all(math.isnan(row[c]) for c in ("ci_low", "ci_high", "mean_diff_ci_low"))
    assert row["p_value"] == 2 / 32  # cannot reach 5% with 5 units
    assert row["verdict"] == "too few independent units (5 < 6)"


def test_weights_pool_groups_as_the_mean_of_their_percentages():
    # Sampling u: 1 pair per function, all wins; sampling s: 3 pairs per function, all losses.
    rows = [("u", f, 0.5, 1.0) for f in range(6)] + [("s", f, 2.0, 1.0) for f in range(6)] * 3
    pairs = pairs_frame(rows).with_columns(
        (1.0 / pl.len().over("group")).alias("w"), pl.lit("all").alias("cell")
    )
    plain = paired_stats(pairs, ["cell"]).row(0, named=True)
    weighted = paired_stats(pairs, ["cell"], weight="w").row(0, named=True)
    assert plain["pct_wins"] == pytest.approx(25.0)
    assert weighted["pct_wins"] == pytest.approx(50.0)  # mean of 100% and 0%


def test_equivalence_within_the_margin():
    # Differences +-0.01 around 0 on a baseline MSE of 1: |mean| < 10% of it, clearly.
    rows = [("g", f, 1.0 + (0.01 if f % 2 else -0.01), 1.0) for f in range(10)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert row["equivalence_margin"] == pytest.approx(0.1)
    assert row["p_equivalence"] == 1 / 1024  # every function inside the margin, both sides
    assert row["verdict"].startswith("equivalent within ±0.1 (10% of B)")
    # A 0.5 effect is far outside the margin: no equivalence.
    rows = [("g", f, 1.5 + (0.1 if f % 2 else -0.1), 1.0) for f in range(10)]
    row = paired_stats(pairs_frame(rows), ["group"]).row(0, named=True)
    assert row["p_equivalence"] == 1.0 and row["verdict"] == "hurts"


def test_columns_order_determinism_and_group_independence():
    rng = np.random.default_rng(7)
    rows = [
        (f"g{g}", f, float(rng.random()), float(rng.random()))
        for g in range(3)
        for f in range(14)  # > EXACT_CLUSTERS: Monte Carlo patterns, seeded by the group key
        for _ in range(2)
    ]
    pairs = pairs_frame(rows)
    out = paired_stats(pairs, ["group"])
    assert dict(out.schema) == {"group": pl.String, **STAT_COLUMNS}
    assert out["n_patterns"].to_list() == [MONTE_CARLO_PATTERNS] * 3
    shuffled = pairs.sample(fraction=1.0, shuffle=True, seed=5)
    assert_frame_equal(out, paired_stats(shuffled, ["group"]))
    alone = paired_stats(pairs.filter(pl.col("group") == "g1"), ["group"])
    columns = ["ci_low", "ci_high", "mean_diff_ci_low", "p_value"]
    assert_frame_equal(alone.select(columns), out.filter(pl.col("group") == "g1").select(columns))


def test_empty_input_gives_empty_frame_with_schema():
    out = paired_stats(pairs_frame([]), ["group"])
    assert out.height == 0 and dict(out.schema) == {"group": pl.String, **STAT_COLUMNS}


@pytest.mark.parametrize(
    ("change", "kwargs", "argument"),
    [
        (None, {"by": ["nope"]}, "by"),
        (None, {"by": "group"}, "by"),
        (lambda df: df.drop("mse_a"), {}, "mse_a"),
        (lambda df: df.drop("function_id"), {}, "cluster"),
        (lambda df: df.with_columns(pl.lit(None, pl.Int64).alias("function_id")), {}, "cluster"),
        (None, {"confidence": 1.0}, "confidence"),
        (None, {"weight": "nope"}, "weight"),
        (lambda df: df.with_columns(pl.lit(0.0).alias("w")), {"weight": "w"}, "weight"),
        (None, {"holm_by": ["nope"]}, "holm_by"),
        (None, {"margin_fraction": 0.0}, "margin_fraction"),
        (lambda df: df.to_dicts(), {}, "pairs"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(change, kwargs, argument):
    pairs = pairs_frame([("g", f, 0.5, 1.0) for f in range(3)])
    if change is not None:
        pairs = change(pairs)
    with pytest.raises(ValueError, match=argument):
        paired_stats(pairs, **{"by": ["group"], **kwargs})


# --- verdicts ----------------------------------------------------------------------------------


def _verdict_row(**values) -> dict:
    base = {"n_pairs": 50, "n_clusters": 10, "too_few_clusters": False, "ci_low": 40.0,
            "ci_high": 60.0, "mean_diff_ci_low": -0.01, "mean_diff_ci_high": 0.02,
            "p_equivalence": 0.3, "equivalence_margin": 0.01, "mean_b": 0.1}  # fmt: skip
    return {**base, **values}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"mean_diff_ci_high": -0.001}, "helps"),
        ({"mean_diff_ci_low": 0.001}, "hurts"),
        ({"mean_diff_ci_high": -0.001, "ci_high": 45.0}, "mixed: lower mean MSE, loses more often"),
        ({"ci_low": 55.0}, "wins more often (mean not distinguishable)"),
        ({"ci_high": 45.0}, "loses more often (mean not distinguishable)"),
        ({"p_equivalence": 0.01}, "equivalent within ±0.01 (10% of B)"),
        ({}, "no detectable effect; |mean| <= 0.02 (20% of B)"),
        ({"too_few_clusters": True, "n_clusters": 3}, "too few independent units (3 < 6)"),
        ({"n_pairs": 0}, "no pairs"),
    ],
)
def test_comparison_verdicts_follow_the_intervals(values, expected):
    assert comparison_verdict(_verdict_row(**values)) == expected


def test_share_verdicts():
    assert share_verdict(0.1, -0.2, 0.3) == "no detectable contribution; at most 30% of the gain"
    assert share_verdict(0.5, 0.2, 0.8) == "carries 20% to 80% of the gain"
    assert share_verdict(NAN, NAN, NAN, "why") == "no share: why"
