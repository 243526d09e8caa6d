"""Metrics on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regcls.data.synthetic import DataConfig, make_dataset
from regcls.evaluation.metrics import (
    SCALED_SHOT_FACTORS,
    SHOT_THRESHOLDS,
    SHOTS,
    accuracy,
    mae,
    mse,
    regression_metrics,
    scaled_shot_thresholds,
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


# ---------------------------------------------------------------- shot thresholds


def test_given_shot_thresholds_move_the_boundaries_and_default_is_dir():
    y_train = _built_training_targets()  # bins hold 150, 100, 20, 19
    test = np.array([0.1, 1.0, 2.0, 3.0])
    default = shot_of(test, y_train, num_bins=4).tolist()
    assert shot_of(test, y_train, 4, shot_thresholds=SHOT_THRESHOLDS).tolist() == default
    assert shot_of(test, y_train, 4, shot_thresholds=(100.0, 20.0)).tolist() == default
    # many > 99 takes bin 1 (100), few < 21 takes bin 2 (20); strict inequalities both ways.
    assert shot_of(test, y_train, 4, (99, 21)).tolist() == ["many", "many", "few", "few"]
    assert shot_of(test, y_train, 4, (150, 19)).tolist() == ["medium"] * 4
    assert shot_of(test, y_train, 4, (150, 19.5)).tolist() == ["medium"] * 3 + ["few"]
    assert shot_of(test, y_train, 4, (149.5, 0)).tolist() == ["many"] + ["medium"] * 3


def test_regression_metrics_default_is_unchanged_and_thresholds_pass_through():
    y_train = _built_training_targets()
    target = np.array([0.5, 1.5, 2.5, 3.5])
    pred = np.array([0.5, 1.0, 2.5, 3.0])
    default = regression_metrics(pred, target, target, y_train, num_bins=4)
    assert regression_metrics(pred, target, target, y_train, 4, None) == default
    assert (default["mse_many"], default["mse_medium"], default["mse_few"]) == (0.0, 0.125, 0.25)
    moved = regression_metrics(pred, target, target, y_train, 4, shot_thresholds=(99, 21))
    assert (moved["mse_many"], moved["mse_few"]) == (0.125, 0.125)
    assert math.isnan(moved["mse_medium"])
    assert shot_mse(pred, target, y_train, 4, (99, 21)) == {
        shot: moved[f"mse_{shot}"] for shot in SHOTS
    }


def test_scaled_shot_thresholds_are_proportional_to_the_mean_count_per_bin():
    assert SCALED_SHOT_FACTORS == (7.0, 0.5)
    assert scaled_shot_thresholds(10_000) == (700.0, 50.0)
    assert scaled_shot_thresholds(10_000, num_bins=100) == (700.0, 50.0)
    assert scaled_shot_thresholds(21_705, 100) == pytest.approx((7 * 217.05, 0.5 * 217.05))
    assert scaled_shot_thresholds(500, 4, factors=(2, 0.25)) == (250.0, 31.25)
    assert scaled_shot_thresholds(np.int64(1000), 10) == (700.0, 50.0)
    # DIR's own numbers are the factors (1, 0.2) at a mean of 100 samples per bin.
    assert scaled_shot_thresholds(10_000, 100, factors=(1.0, 0.2)) == SHOT_THRESHOLDS


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_train": 0}, "n_train"),
        ({"n_train": 10.0}, "n_train"),
        ({"n_train": True}, "n_train"),
        ({"num_bins": 0}, "num_bins"),
        ({"factors": (0.5, 7.0)}, "factors"),
        ({"factors": (7.0, -0.5)}, "factors"),
        ({"factors": (math.inf, 0.5)}, "factors"),
        ({"factors": (7.0,)}, "factors"),
        ({"factors": "ab"}, "factors"),
    ],
)
def test_bad_scaled_shot_arguments_raise_a_value_error_naming_the_field(kwargs, field):
    args = {"n_train": 10_000, "num_bins": 100, **kwargs}
    with pytest.raises(ValueError, match=rf"^{field}: must be "):
        scaled_shot_thresholds(**args)


@pytest.mark.parametrize(
    "thresholds", [(20, 100), (100, -1), (math.nan, 20), (100, 20, 5), (100,), 100, ("a", "b")]
)
def test_bad_shot_thresholds_raise_a_value_error_naming_the_field(thresholds):
    y_train = _built_training_targets()
    message = r"^shot_thresholds: must be \(many, few\), two finite numbers with 0 <= few <= many"
    with pytest.raises(ValueError, match=message):
        shot_of(np.array([0.5]), y_train, 4, thresholds)
    with pytest.raises(ValueError, match=message):
        regression_metrics(np.ones(1), np.ones(1), np.ones(1), y_train, 4, thresholds)


@pytest.mark.parametrize(
    ("scenario", "function_id", "seed"),
    [("clean", 0, 0), ("clean", 3, 421), ("noisy", 3, 0), ("ood", 7, 8125)],
)
def test_scaled_thresholds_populate_all_shots_on_severe_sampling(scenario, function_id, seed):
    """Default 30,000 samples (10,000 training): DIR's 100 / 20 leave `few` empty on clean data,
    the scaled thresholds give the peak as many, its partly covered ends (or noisy flanks) as
    medium and the balanced background as few."""
    data = make_dataset(DataConfig(scenario, "severe", function_id, seed))
    assert data.y_train.size == 10_000
    thresholds = scaled_shot_thresholds(data.y_train.size, 100)
    assert thresholds == (700.0, 50.0)
    region = shot_of(data.y_test, data.y_train, 100, thresholds)
    share = {shot: float(np.mean(region == shot)) for shot in SHOTS}
    assert min(share.values()) > 0.005
    assert share["few"] > 0.7 and share["many"] > 0.03  # background; the 6%-of-range peak
    dir_region = shot_of(data.y_test, data.y_train, 100)
    if scenario == "clean":
        assert not np.any(dir_region == "few")
    pred = data.y_test + 0.1
    out = regression_metrics(pred, data.y_test, data.y_test_clean, data.y_train, 100, thresholds)
    assert all(out[f"mse_{shot}"] == pytest.approx(0.01) for shot in SHOTS)


def test_scaled_thresholds_call_a_balanced_training_set_medium():
    data = make_dataset(DataConfig("clean", "uniform", 2, 0))
    thresholds = scaled_shot_thresholds(data.y_train.size)
    assert set(shot_of(data.y_test, data.y_train, 100, thresholds)) == {"medium"}
