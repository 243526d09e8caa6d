"""DIR metrics against hand-computed values (Yang et al. protocol, digest §2.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regcls.evaluation.dir_metrics import (
    bin_counts,
    bin_index,
    dir_metrics,
    regression_errors,
    shot_masks,
)


def test_bin_index_handles_float_edges_and_clipping():
    np.testing.assert_array_equal(
        bin_index([0.0, 0.3, 0.29, 4.99, 5.0], 0.1, 50), [0, 3, 2, 49, 49]
    )
    np.testing.assert_array_equal(bin_index([0.05, 9.99, 12.0], 0.1, 100), [0, 99, 99])
    np.testing.assert_array_equal(bin_index([20.0, 20.9, 21.0], 1.0), [20, 20, 21])
    np.testing.assert_array_equal(bin_counts([1, 1, 3], 1.0), [0, 2, 0, 1])
    with pytest.raises(ValueError, match="bin_width"):
        bin_index([1.0], 0.0)


def test_shots_follow_training_counts_per_bin():
    # bin 0: 150 train (many), bin 1: 100 (medium: 100 is not > 100), bin 2: 20 (medium),
    # bin 3: 19 (few), bin 4: 0 (zero-shot -> few by default)
    y_train = np.repeat([0.5, 1.5, 2.5, 3.5], [150, 100, 20, 19])
    counts = bin_counts(y_train, 1.0)
    target = np.array([0.2, 1.2, 2.2, 3.2, 4.2, 7.0])
    masks = shot_masks(target, counts, 1.0)
    np.testing.assert_array_equal(masks["many"], [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(masks["medium"], [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(masks["few"], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(masks["zero"], [0, 0, 0, 0, 1, 1])
    excluded = shot_masks(target, counts, 1.0, zero_in_few=False)
    np.testing.assert_array_equal(excluded["few"], [0, 0, 0, 1, 0, 0])


def test_regression_errors_by_hand():
    pred = np.array([1.0, 2.0, 5.0, 4.0])
    target = np.array([1.0, 3.0, 3.0, 8.0])  # |e| = 0, 1, 2, 4
    out = regression_errors(pred, target, delta=True)
    assert out["mae"] == pytest.approx(7 / 4)
    assert out["mse"] == pytest.approx(21 / 4)
    assert out["rmse"] == pytest.approx(math.sqrt(21 / 4))
    assert out["gm"] == pytest.approx((1e-10 * 1 * 2 * 4) ** 0.25)  # zero error -> eps
    p, t = pred - pred.mean(), target - target.mean()
    assert out["pearson"] == pytest.approx((p @ t) / math.sqrt((p @ p) * (t @ t)))
    # ratios: 1, 1.5, 1.667, 2 -> only the first is within 1.25
    assert out["delta1"] == pytest.approx(0.25)
    assert regression_errors([-1.0, 1.2], [1.0, 1.0], delta=True)["delta1"] == 0.5
    assert math.isnan(regression_errors([], [])["mae"])


def test_dir_metrics_per_shot_is_sample_weighted():
    y_train = np.repeat([0.5, 1.5, 2.5], [200, 50, 5])  # many, medium, few
    counts = bin_counts(y_train, 1.0)
    target = np.array([0.5, 0.5, 0.5, 1.5, 2.5, 2.5])
    pred = target + np.array([1.0, 1.0, 4.0, 2.0, 3.0, -1.0])
    out = dir_metrics(pred, target, counts, 1.0)
    assert out["mae"] == pytest.approx(12 / 6)
    assert out["mae_many"] == pytest.approx(6 / 3)
    assert out["mae_medium"] == pytest.approx(2.0)
    assert out["mae_few"] == pytest.approx(4 / 2)
    assert out["mse_many"] == pytest.approx(18 / 3)
    assert out["gm_few"] == pytest.approx(math.sqrt(3.0))
    assert math.isnan(out["pearson_medium"])  # one sample
    assert (out["n"], out["n_many"], out["n_medium"], out["n_few"], out["n_zero"]) == (
        6,
        3,
        1,
        2,
        0,
    )


def test_targets_past_the_last_bin_clip_into_it_when_num_bins_is_given():
    # STS-B: 50 bins of 0.1 over [0, 5]; a score of exactly 5.0 belongs to the last bin.
    counts = np.zeros(50, dtype=np.int64)
    counts[-1] = 150
    target = np.array([5.0, 4.95])
    clipped = shot_masks(target, counts, 0.1, num_bins=50)
    assert clipped["many"].tolist() == [True, True]
    unclipped = shot_masks(target, counts, 0.1)
    assert unclipped["zero"].tolist() == [True, False]
