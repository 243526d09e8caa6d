"""Calibration is tested, not assumed (issue 19): simulated studies of the 1D design (10
functions x 5 seeds x 3 C, one baseline shared by the C, function effects) and of harder and
smaller ones, with no true effect and with one, fed to the sign-flip method of
`results.cluster_inference` exactly as `paired_stats` uses it. Under no effect the reported
p-value must reject at 5% in at most ~7% of studies and the % wins interval must cover 50% in at
least ~93%; a real effect must be found. The old pair-level method (sign test and Wilson
interval over pairs) must fail the same check: a test of the test. Fixed seeds; vectorised
(`tests/inference_sim.py`)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from inference_sim import (
    DESIGNS,
    Design,
    cluster_calibration,
    pair_level_calibration,
    percentile_bootstrap_coverage,
    simulate,
)

from results.cluster_inference import paired_stats, ratio_interval, sign_patterns

STUDIES = 1000
MAX_REJECTION, MIN_COVERAGE = 0.07, 0.93


@pytest.mark.parametrize("design", DESIGNS, ids=[d.label for d in DESIGNS])
def test_no_effect_rejects_at_most_seven_percent_and_covers_fifty(design):
    studies = simulate(design, STUDIES, seed=11)
    cal = cluster_calibration(studies)
    assert cal.flagged == 0.0
    assert cal.reject_wins <= MAX_REJECTION
    assert cal.cover_wins >= MIN_COVERAGE
    assert cal.reject_mean <= MAX_REJECTION
    assert cal.cover_mean >= MIN_COVERAGE


def test_the_old_pair_level_method_fails_the_same_check():
    # Strong function effects: the pairs of one function move together.
    studies = simulate(Design(effect_sd=1.0), STUDIES, seed=12)
    reject, cover = pair_level_calibration(studies)
    assert reject > 0.3 and cover < 0.7
    # Even the plain design (shared baseline, no effect on A - B) breaks it.
    reject, cover = pair_level_calibration(simulate(Design(), STUDIES, seed=13))
    assert reject > MAX_REJECTION and cover < MIN_COVERAGE


@pytest.mark.parametrize(("n_clusters", "min_power"), [(10, 0.9), (20, 0.99)])
def test_a_real_effect_is_found(n_clusters, min_power):
    design = Design(n_clusters=n_clusters, effect=-0.5, effect_sd=0.3)
    cal = cluster_calibration(simulate(design, STUDIES, seed=14), effect=-0.5)
    assert cal.reject_wins >= min_power and cal.reject_mean >= min_power
    assert cal.cover_mean >= MIN_COVERAGE  # the interval holds at the true effect too


@pytest.mark.parametrize("n_clusters", [3, 5])
def test_too_few_clusters_never_claim_an_interval(n_clusters):
    design = Design(n_clusters=n_clusters, effect=-2.0)  # even a huge effect
    cal = cluster_calibration(simulate(design, 200, seed=15), effect=-2.0)
    assert cal.flagged == 1.0 and cal.reject_wins == 0.0 and cal.reject_mean == 0.0


def test_dir_seed_level_intervals():
    # DIR: the seed is the unit; within a seed every C x lambda pair shares one reg.
    few = simulate(Design(n_clusters=3, seeds=1, n_c=20, effect_sd=0.5), STUDIES, seed=16)
    assert cluster_calibration(few).flagged == 1.0  # "—", not a narrow interval
    # The old percentile bootstrap over 3 seeds claims 95% and covers far less.
    assert percentile_bootstrap_coverage(few, effect=0.0) < 0.8
    # With enough seeds the seed-level method holds its level.
    enough = simulate(Design(n_clusters=8, seeds=1, n_c=20, effect_sd=0.5), STUDIES, seed=17)
    cal = cluster_calibration(enough)
    assert cal.reject_wins <= MAX_REJECTION and cal.cover_wins >= MIN_COVERAGE
    assert cal.reject_mean <= MAX_REJECTION and cal.cover_mean >= MIN_COVERAGE


def test_share_interval_covers_the_true_share():
    # Per function: gain of A over reg and of the control over reg, correlated through the
    # function; true share of A's gain the control does not reach: 0.25.
    rng = np.random.default_rng(18)
    g, pairs, share, covered, bounded = 10, 15, 0.25, 0, 0
    patterns = sign_patterns(g)
    for _ in range(300):
        level = rng.normal(0, 0.3, (g, 1))
        own = 1.0 + level + rng.normal(0, 0.5, (g, pairs))
        control = (1 - share) * (1.0 + level) + rng.normal(0, 0.5, (g, pairs))
        own_g, control_g = own.sum(1) / own.size, control.sum(1) / control.size
        _, low, high, ok = ratio_interval(own_g - control_g, own_g, patterns=patterns)
        bounded += ok
        covered += (not ok) or (low <= share <= high)
    assert bounded >= 290  # the gain over reg is clear here, so the share has an interval
    assert covered / 300 >= MIN_COVERAGE


def test_paired_stats_on_one_simulated_study_matches_the_vectorised_method():
    # The simulation's cluster totals are what paired_stats computes from the pairs.
    rng = np.random.default_rng(19)
    rows = []
    for f in range(10):
        level = rng.normal()
        for s in range(5):
            b = level + rng.normal(0, 0.3)
            for c in range(3):
                rows.append((f, s, c, level + rng.normal(0, 0.3), b))
    frame = pl.DataFrame(
        rows, schema=["function_id", "seed", "c", "mse_a", "mse_b"], orient="row"
    ).with_columns(pl.lit("x").alias("cell"))
    row = paired_stats(frame, ["cell"]).row(0, named=True)
    per = (
        frame.group_by("function_id")
        .agg(
            (pl.col("mse_a") < pl.col("mse_b")).sum().cast(pl.Float64).alias("w"),
            pl.len().cast(pl.Float64).alias("n"),
        )
        .sort("function_id")
    )
    from results.cluster_inference import cluster_flip

    r = cluster_flip(per["w"].to_numpy(), per["n"].to_numpy(), theta0=0.5)
    assert row["p_value"] == pytest.approx(r.p_value[0])
    assert row["ci_low"] == pytest.approx(100 * r.low[0])
    assert row["ci_high"] == pytest.approx(100 * r.high[0])
