"""The 1D generator follows spec/synthetic_1d_protocol.md (core paper Section 2.1, supp. A)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from regcls.synthetic import (
    FUNCTION_SEED,
    PEAK_WIDTH_RATIO,
    SAMPLINGS,
    SCENARIOS,
    DataConfig,
    Dataset1D,
    make_dataset,
    sine_functions,
)

ARRAYS = [f.name for f in dataclasses.fields(Dataset1D) if f.name != "peak_center"]
SPLITS = ("train", "val", "test")
OOD_WIDTH = 2.0 / 9.0


def _coarse_counts(y: np.ndarray, bins: int = 32) -> np.ndarray:
    return np.histogram(y, bins=bins, range=(y.min(), y.max()))[0]


def _is_flat(y: np.ndarray, bins: int = 32) -> bool:
    """Balanced in y: every coarse bin within 10% of the others, chi-square far below its dof."""
    counts = _coarse_counts(y, bins)
    expected = y.size / bins
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    return counts.min() > 0 and counts.max() / counts.min() < 1.1 and chi_square < bins - 1


# ---------------------------------------------------------------- functions


def test_ten_functions_are_fixed_and_follow_the_protocol():
    functions = sine_functions()
    assert functions == sine_functions() == sine_functions(10, FUNCTION_SEED)
    assert len(functions) == 10
    assert len({(f.a, f.c) for f in functions}) == 10
    for f in functions:
        assert 0.0 < f.a < 1.0
        assert f.b == 1.5 - f.a
        assert isinstance(f.c, int) and 9 <= f.c <= 30
        assert f.d == f.c // 3
        x = np.linspace(-1.0, 1.0, 101)
        np.testing.assert_array_equal(f(x), f.a * np.sin(f.c * x) + f.b * np.sin(f.d * x))
        assert np.abs(f(x)).max() <= 1.5


def test_functions_are_a_prefix_and_depend_on_the_seed():
    assert sine_functions(3) == sine_functions(10)[:3]
    assert sine_functions(10, FUNCTION_SEED + 1) != sine_functions(10)


# ---------------------------------------------------------------- determinism and sizes


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_same_config_gives_identical_data(scenario):
    config = DataConfig(scenario, "severe", function_id=4, seed=421)
    first, second = make_dataset(config), make_dataset(config)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
        assert getattr(first, name).dtype == np.float64 and getattr(first, name).ndim == 1
    assert first.peak_center == second.peak_center


@pytest.mark.parametrize(
    "change", [{"seed": 1}, {"function_id": 5}, {"sampling": "mild"}, {"noise_sigma": 0.5}]
)
def test_different_seed_function_or_settings_give_different_data(change):
    base = DataConfig("noisy", "severe", function_id=4, seed=0)
    a, b = make_dataset(base), make_dataset(dataclasses.replace(base, **change))
    for name in ("x_train", "y_train", "x_val", "y_test"):
        assert not np.array_equal(getattr(a, name), getattr(b, name))
    if "seed" in change:
        assert a.peak_center != b.peak_center


def test_noise_settings_do_not_change_noiseless_scenarios():
    base = DataConfig("clean", "moderate", function_id=2, seed=8125)
    a = make_dataset(base)
    b = make_dataset(dataclasses.replace(base, noise_sigma=0.5, noise_distribution="uniform"))
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("total", [30_000, 3_001, 60_000])
def test_each_split_has_a_third_of_the_samples(total):
    data = make_dataset(DataConfig("ood", "mild", function_id=0, seed=0, total_samples=total))
    for name in ARRAYS:
        assert getattr(data, name).shape == (total // 3,)


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("function_id", range(10))
def test_uniform_sampling_is_balanced_in_y_unlike_uniform_x(function_id):
    data = make_dataset(DataConfig("clean", "uniform", function_id=function_id, seed=0))
    f = sine_functions()[function_id]
    np.testing.assert_array_equal(data.y_train_clean, f(data.x_train))
    for split in SPLITS:
        assert _is_flat(getattr(data, f"y_{split}"))
    assert data.peak_center is None
    plain = f(np.random.default_rng(function_id).uniform(-1.0, 1.0, data.x_train.size))
    counts = _coarse_counts(plain)
    assert not _is_flat(plain) and counts.max() / counts.min() > 2.0


@pytest.mark.parametrize("sampling", ["mild", "moderate", "severe"])
@pytest.mark.parametrize("seed", [0, 421, 8125])
def test_imbalanced_sampling_puts_the_peak_share_in_a_region_of_half_width_r_range(sampling, seed):
    data = make_dataset(DataConfig("clean", sampling, function_id=seed % 10, seed=seed))
    y = data.y_train_clean
    low, high = y.min(), y.max()
    span = high - low
    mu = data.peak_center
    assert low <= mu <= high
    half = PEAK_WIDTH_RATIO[sampling] * span
    region = (max(low, mu - half), min(high, mu + half))
    region_share = (region[1] - region[0]) / span
    inside = np.mean((y >= region[0]) & (y <= region[1]))
    # 75% drawn in the region plus the balanced 25% that happen to land there.
    assert inside == pytest.approx(0.75 + 0.25 * region_share, abs=0.02)

    # The dense bins (peak plus background) form one run matching the region within 2 bins.
    bins = 256
    counts = np.histogram(y, bins=bins, range=(low, high))[0]
    background = 0.25 * y.size / bins
    dense = np.flatnonzero(counts > 2.5 * background)
    width = span / bins
    assert dense.size == dense[-1] - dense[0] + 1
    assert low + dense[0] * width == pytest.approx(region[0], abs=2 * width)
    assert low + (dense[-1] + 1) * width == pytest.approx(region[1], abs=2 * width)
    # Away from the peak the training targets are balanced over the whole range (a multinomial
    # draw would spread these 64-bin counts by about +-16%; the balanced draw far less).
    counts, edges = np.histogram(y, bins=64, range=(low, high))
    away = (edges[1:] < region[0] - 0.01 * span) | (edges[:-1] > region[1] + 0.01 * span)
    background = 0.25 * y.size / 64
    assert away.sum() >= 10
    assert np.all(np.abs(counts[away] / background - 1.0) < 0.2)


@pytest.mark.parametrize("scenario", ["clean", "noisy"])
@pytest.mark.parametrize("function_id", [0, 3, 7])
def test_validation_and_test_sets_are_balanced_under_severe_sampling(scenario, function_id):
    data = make_dataset(DataConfig(scenario, "severe", function_id=function_id, seed=421))
    assert not _is_flat(data.y_train_clean)
    assert _is_flat(data.y_val_clean) and _is_flat(data.y_test_clean)


def test_ood_evaluation_sets_are_balanced_where_reachable():
    data = make_dataset(DataConfig("ood", "severe", function_id=0, seed=0))
    for y in (data.y_val_clean, data.y_test_clean):
        counts = _coarse_counts(y)
        # Targets reachable in an ood split can have gaps: judge bins fully inside the image.
        interior = counts[1:-1][(counts[:-2] > 0) & (counts[1:-1] > 0) & (counts[2:] > 0)]
        # (a bin can still hold a small gap, so ask most bins, not all, to match the median)
        close = np.abs(interior / np.median(interior) - 1.0) < 0.05
        assert interior.size >= 10 and close.mean() > 0.8
        assert counts.max() < 1.05 * np.median(interior)


# ---------------------------------------------------------------- scenarios


def test_clean_targets_are_the_function_values():
    data = make_dataset(DataConfig("clean", "mild", function_id=6, seed=2481))
    f = sine_functions()[6]
    for split in SPLITS:
        x = getattr(data, f"x_{split}")
        assert np.all((x >= -1.0) & (x <= 1.0))
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), f(x))
        np.testing.assert_array_equal(getattr(data, f"y_{split}_clean"), f(x))


@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
@pytest.mark.parametrize("sigma", [0.05, 0.5])
def test_noisy_adds_noise_of_the_configured_std_to_every_split(distribution, sigma):
    config = DataConfig(
        "noisy", "moderate", function_id=1, seed=0, noise_sigma=sigma,
        noise_distribution=distribution,
    )  # fmt: skip
    data = make_dataset(config)
    f = sine_functions()[1]
    for split in SPLITS:
        clean = getattr(data, f"y_{split}_clean")
        np.testing.assert_array_equal(clean, f(getattr(data, f"x_{split}")))
        noise = getattr(data, f"y_{split}") - clean
        # Std of a 10,000-sample std estimate is ~0.7% (Gaussian); allow 4%.
        assert noise.std() == pytest.approx(sigma, rel=0.04)
        assert abs(noise.mean()) < 4 * sigma / np.sqrt(noise.size)
        beyond = np.mean(np.abs(noise) > np.sqrt(3.0) * sigma * (1 + 1e-12))
        if distribution == "uniform":
            assert beyond == 0.0
        else:
            assert beyond == pytest.approx(0.0833, abs=0.015)  # P(|z| > sqrt 3)


def _ood_base_interval(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.floor((x + 1.0) / OOD_WIDTH), 8).astype(int)


@pytest.mark.parametrize("seed", [0, 421, 8125])
def test_ood_splits_follow_the_interval_rule_with_overlap(seed):
    data = make_dataset(DataConfig("ood", "uniform", function_id=3, seed=seed))
    overlap = []
    for split, offset in zip(SPLITS, (0, 1, 2), strict=True):
        x = getattr(data, f"x_{split}")
        assert np.all((x >= -1.0) & (x <= 1.0))
        base = _ood_base_interval(x)
        own = base % 3 == offset
        # Anything outside the split's own intervals is the upper extension into the next one.
        assert np.all(base[~own] % 3 == (offset + 1) % 3)
        assert not np.any(base == (offset + 2) % 3)
        assert not np.any(~own & (base == 0))
        for i in range(offset, 9, 3):
            inside = x[base == i]
            assert inside.min() < -1.0 + (i + 0.1) * OOD_WIDTH
            assert inside.max() > -1.0 + (i + 0.9) * OOD_WIDTH
            spill = x[base == i + 1] if i < 8 else np.zeros(0)
            if spill.size:
                # The extension starts at the base interval's upper end, contiguously.
                assert spill.min() < -1.0 + (i + 1.05) * OOD_WIDTH
                overlap.append((spill.max() + 1.0) / OOD_WIDTH - (i + 1))
    # |N(0, w/4)| has mean ~0.2 w: most intervals spill over, by well under one interval.
    assert len(overlap) >= 4
    assert 0.02 < np.mean(overlap) < 0.6 and max(overlap) < 1.0


@pytest.mark.parametrize("sampling", ["moderate", "severe"])
@pytest.mark.parametrize("function_id", [0, 5])
def test_ood_peak_center_is_reachable_in_all_three_splits(sampling, function_id):
    data = make_dataset(DataConfig("ood", sampling, function_id=function_id, seed=8125))
    mu = data.peak_center
    for split in SPLITS:
        y = getattr(data, f"y_{split}_clean")
        assert np.abs(y - mu).min() < 0.01 * (y.max() - y.min())
    half = PEAK_WIDTH_RATIO[sampling] * np.ptp(data.y_train_clean)
    assert np.mean(np.abs(data.y_train_clean - mu) <= half) >= 0.75


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scenario", "dirty"),
        ("sampling", "extreme"),
        ("function_id", 10),
        ("function_id", -1),
        ("function_id", 1.0),
        ("seed", -3),
        ("seed", True),
        ("noise_sigma", -0.1),
        ("noise_sigma", float("nan")),
        ("noise_distribution", "laplace"),
        ("total_samples", 2),
        ("peak_share", 1.5),
        ("balance_bins", 0),
        ("pool_size", 1),
        ("function_seed", "x"),
    ],
)
def test_bad_config_raises_a_value_error_naming_the_field(field, value):
    kwargs = dict(scenario="clean", sampling="uniform", function_id=0, seed=0)
    kwargs[field] = value
    with pytest.raises(ValueError, match=rf"^{field}: ") as info:
        DataConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_accepted_values_are_listed_in_the_message():
    with pytest.raises(ValueError, match="'uniform', 'mild', 'moderate', 'severe'"):
        DataConfig("clean", "extreme", 0, 0)
    assert set(SAMPLINGS) == {"uniform", *PEAK_WIDTH_RATIO}
