"""Metrics on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regcls.metrics import (
    SHOT_THRESHOLDS,
    accuracy,
    mae,
    mse,
    regression_metrics,
    shot_bins,
    shot_mse,
    shot_of,
)


def test_mse_mae_by_hand():
    pred, target = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    assert mse(pred, target) == pytest.approx((0 + 4 + 9) / 3)
    assert mae(pred, target) == pytest.approx((0 + 2 + 3) / 3)
    assert mse(pred.reshape(3, 1), target) == pytest.approx(13 / 3)  # [N, 1] predictions
    with pytest.raises(ValueError, match="pred/target"):
        mse(pred, target[:2])


def test_accuracy_by_hand():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, 2.0, 0.0]])
    assert accuracy(logits, np.array([1, 0, 1, 1])) == pytest.approx(0.75)
    # -inf padded logits never win.
    padded = np.array([[0.0, -math.inf], [-1.0, -math.inf]])
    assert accuracy(padded, np.array([0, 0])) == 1.0
    with pytest.raises(ValueError, match="logits"):
        accuracy(logits[0], np.array([1]))


def test_shot_bins_are_equal_width_over_training_range():
    edges = shot_bins(np.array([2.0, -1.0, 0.5]), num_bins=3)
    np.testing.assert_allclose(edges, [-1.0, 0.0, 1.0, 2.0])
    assert len(shot_bins(np.arange(10.0))) == 101
    with pytest.raises(ValueError, match="num_bins"):
        shot_bins(np.arange(3.0), 0)


def _built_training_targets():
    """4 bins over [0, 4]: 150 samples in bin 0 (many), 100 in bin 1 (medium: not > 100),
    20 in bin 2 (medium: not < 20), 19 in bin 3 (few); 0.0 and 4.0 fix the range."""
    many, few = SHOT_THRESHOLDS
    parts = [[0.0], np.full(149, 0.5), np.full(many, 1.5), np.full(few, 2.5)]
    y = np.concatenate([*parts, np.full(few - 2, 3.5), [4.0]])
    return y


def test_shot_assignment_on_a_built_example():
    y_train = _built_training_targets()
    test = np.array([0.1, 1.0, 1.99, 2.0, 3.0, 3.999, 4.0, -7.0, 9.0])
    expected = ["many", "medium", "medium", "medium", "few", "few", "few", "many", "few"]
    assert shot_of(test, y_train, num_bins=4).tolist() == expected  # outside -> end bins


def test_shot_mse_by_hand_and_empty_region_is_nan():
    y_train = _built_training_targets()
    target = np.array([0.5, 0.5, 1.5, 3.5])
    pred = np.array([1.5, 0.5, 3.5, 3.0])
    shots = shot_mse(pred, target, y_train, num_bins=4)
    assert shots["many"] == pytest.approx((1.0 + 0.0) / 2)
    assert shots["medium"] == pytest.approx(4.0)
    assert shots["few"] == pytest.approx(0.25)
    only_many = shot_mse(pred[:2], target[:2], y_train, num_bins=4)
    assert math.isnan(only_many["medium"]) and math.isnan(only_many["few"])


def test_regression_metrics_keys_and_clean_target():
    y_train = _built_training_targets()
    target = np.array([0.5, 1.5, 3.5])
    clean = np.array([0.5, 1.0, 3.5])
    pred = np.array([0.5, 1.0, 3.5])
    out = regression_metrics(pred, target, clean, y_train, num_bins=4)
    assert set(out) == {"mse", "mse_clean", "mae", "mse_many", "mse_medium", "mse_few"}
    assert out["mse"] == pytest.approx(0.25 / 3)
    assert out["mse_clean"] == 0.0
    assert out["mae"] == pytest.approx(0.5 / 3)
    assert (out["mse_many"], out["mse_medium"], out["mse_few"]) == (0.0, 0.25, 0.0)
