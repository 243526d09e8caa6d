"""Equal-width classes, histogram equalisation (Eq. 12) and keep probabilities (Eq. 13)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regcls.data.binning import (
    EQUALIZE_ROUNDINGS,
    ClassBinning,
    assign_classes,
    equal_width_edges,
    equalize_classes,
    keep_probability,
    make_binning,
)
from regcls.data.synthetic import DataConfig, make_dataset

CLASS_COUNTS = (4, 16, 64, 256, 1024)


@pytest.fixture(scope="module")
def severe():
    return make_dataset(DataConfig("noisy", "severe", function_id=3, seed=0))


def _random_counts(rng: np.random.Generator, size: int) -> np.ndarray:
    """Heavy-tailed class histograms with empty classes, like imbalanced targets give."""
    counts = rng.pareto(0.8, size) * rng.integers(1, 50)
    counts[rng.random(size) < 0.2] = 0
    counts = np.floor(counts).astype(np.int64)
    counts[rng.integers(size)] += 1
    return counts


# ---------------------------------------------------------------- equal-width classes


@pytest.mark.parametrize("num_classes", CLASS_COUNTS)
def test_equal_width_edges_span_the_training_targets(num_classes):
    y = np.random.default_rng(num_classes).normal(size=5_000)
    edges = equal_width_edges(y, num_classes)
    assert edges.shape == (num_classes + 1,)
    assert edges[0] == y.min() and edges[-1] == y.max()
    np.testing.assert_allclose(np.diff(edges), (y.max() - y.min()) / num_classes, rtol=1e-9)


@pytest.mark.parametrize("num_classes", CLASS_COUNTS)
def test_assign_classes_matches_numpy_histogram(num_classes):
    y = np.random.default_rng(7).uniform(-1.3, 1.4, 20_000)
    y = np.concatenate([y, np.linspace(-1.3, 1.4, num_classes + 1)])  # values on edges too
    edges = equal_width_edges(y, num_classes)
    labels = assign_classes(y, edges)
    assert labels.dtype == np.int64
    assert labels.min() == 0 and labels.max() == num_classes - 1
    np.testing.assert_array_equal(
        np.bincount(labels, minlength=num_classes), np.histogram(y, bins=edges)[0]
    )


def test_values_outside_the_training_range_fall_into_the_end_classes():
    edges = equal_width_edges(np.array([0.0, 1.0, 0.5]), 4)
    y = np.array([-5.0, -1e-12, 0.0, 0.24, 0.25, 0.99, 1.0, 1.0 + 1e-12, 7.0])
    np.testing.assert_array_equal(assign_classes(y, edges), [0, 0, 0, 0, 1, 3, 3, 3, 3])


def test_validation_targets_outside_the_training_range_get_valid_labels(severe):
    binning = make_binning(severe.y_train, 64, balanced=True)
    for y in (severe.y_val, severe.y_test):
        assert y.min() < severe.y_train.min() or y.max() > severe.y_train.max()
        labels = binning.labels(y)
        assert labels.min() == 0 and labels.max() == binning.num_classes - 1
        assert np.all(labels[y <= severe.y_train.min()] == 0)
        assert np.all(labels[y >= severe.y_train.max()] == binning.num_classes - 1)


# ---------------------------------------------------------------- Eq. 12


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [("floor", [0, 0, 0, 1, 2, 3, 3, 4]), ("ceil", [0, 0, 0, 1, 2, 3, 3, 3])],
)
def test_equalize_matches_a_hand_computed_example(rounding, expected):
    # C = 8, N = 26, cumsum = [1, 2, 3, 4, 14, 24, 25, 26], 8 cumsum / 26 =
    # [.31, .62, .92, 1.23, 4.31, 7.38, 7.69, 8]: floor -> [0, 0, 0, 1, 4, 7, 7, 8],
    # ceil - 1 -> [0, 0, 0, 1, 4, 7, 7, 7]; then consecutive ids.
    counts = np.array([1, 1, 1, 1, 10, 10, 1, 1])
    np.testing.assert_array_equal(equalize_classes(counts, rounding), expected)


@pytest.mark.parametrize("rounding", EQUALIZE_ROUNDINGS)
@pytest.mark.parametrize("num_classes", CLASS_COUNTS)
def test_equalize_keeps_already_even_classes(num_classes, rounding):
    counts = np.full(num_classes, 37)
    np.testing.assert_array_equal(equalize_classes(counts, rounding), np.arange(num_classes))


def _reference_equalize(counts: np.ndarray, rounding: str) -> np.ndarray:
    """Eq. 12 one class at a time in floats, as printed (floor) or as the authors' loop (ceil)."""
    size, total = counts.size, counts.sum()
    q, cumulative = [], 0
    for count in counts:
        cumulative += count
        wanted = size / total * cumulative
        if rounding == "floor":
            q.append(math.floor(wanted + 1e-9))
        else:  # empty leading classes get 0, like the first non-empty one in practice
            q.append(max(math.ceil(wanted - 1e-9) - 1, 0) if cumulative > 0 else None)
    first = next(k for k, c in enumerate(counts) if c > 0)
    q = [q[first]] * first + q[first:]
    ids, new = [], 0
    for k, value in enumerate(q):
        new += int(k > 0 and value != q[k - 1])
        ids.append(new)
    return np.array(ids)


@pytest.mark.parametrize("rounding", EQUALIZE_ROUNDINGS)
@pytest.mark.parametrize("trial", range(25))
def test_equalize_gives_contiguous_non_empty_classes_as_even_as_eq12_allows(trial, rounding):
    rng = np.random.default_rng(trial)
    size = int(rng.choice(CLASS_COUNTS))
    counts = _random_counts(rng, size)
    if trial % 4 == 0:
        counts[: rng.integers(1, size)] = 0  # leading empty classes
        counts[-1] += 3
    mapping = equalize_classes(counts, rounding)
    total = counts.sum()

    assert mapping.shape == counts.shape and mapping.dtype == np.int64
    assert mapping[0] == 0 and set(np.diff(mapping)) <= {0, 1}
    new_counts = np.bincount(mapping, weights=counts)
    assert new_counts.size <= size and np.all(new_counts > 0)
    for new in range(new_counts.size):
        members = counts[mapping == new]
        first = members[np.argmax(members > 0)]  # its first non-empty original class
        assert new_counts[new] - first < total / size
    np.testing.assert_array_equal(mapping, _reference_equalize(counts, rounding))
    if rounding == "floor":
        # As printed, Eq. 12 always leaves the last non-empty class on its own.
        last = np.flatnonzero(counts)[-1]
        assert np.sum(mapping == mapping[last]) == 1 + (size - 1 - last)


@pytest.mark.parametrize(
    "counts", [[], [0, 0, 0], [3, -1, 2], [1.5, 2.0], [[1, 2], [3, 4]], [1.0, np.nan]]
)
def test_equalize_rejects_bad_counts(counts):
    with pytest.raises(ValueError, match="^counts: "):
        equalize_classes(np.array(counts))


@pytest.mark.parametrize("rounding", EQUALIZE_ROUNDINGS)
@pytest.mark.parametrize("num_classes", [16, 64, 256, 1024])
def test_balanced_classes_on_severe_data_merge_light_classes(severe, num_classes, rounding):
    plain = make_binning(severe.y_train, num_classes, balanced=False)
    balanced = make_binning(severe.y_train, num_classes, balanced=True, rounding=rounding)
    assert plain.num_classes == num_classes
    assert balanced.num_classes <= 0.6 * num_classes
    per_class = severe.y_train.size / num_classes
    plain_counts = np.bincount(plain.labels(severe.y_train), minlength=num_classes)
    counts = np.bincount(balanced.labels(severe.y_train), minlength=balanced.num_classes)
    assert counts.min() > 0 and counts.sum() == severe.y_train.size
    # Equal-width classes on severe data: the typical class holds ~0.3 N / C, many hold almost
    # nothing. Eq. 12 merges the light ones (it cannot split a heavy one): the typical class
    # holds ~N / C, at most one (the "floor" last class) holds under 0.1 N / C.
    assert np.median(plain_counts) < 0.5 * per_class
    assert 0.8 * per_class < np.median(counts) < 1.7 * per_class
    assert np.sum(plain_counts < 0.1 * per_class) >= (num_classes >= 64)
    assert np.sum(counts < 0.1 * per_class) <= (rounding == "floor")
    spread = counts.std() / counts.mean()
    assert spread < 0.65 * plain_counts.std() / plain_counts.mean()


# ---------------------------------------------------------------- Eq. 13


def test_keep_probability_is_the_minimum_over_the_count():
    counts = np.array([40, 10, 25, 10, 200])
    np.testing.assert_allclose(keep_probability(counts), [0.25, 1.0, 0.4, 1.0, 0.05])
    with pytest.raises(ValueError, match="^counts: "):
        keep_probability(np.array([3, 0, 2]))


def test_unbalanced_binning_is_plain_equal_width(severe):
    binning = make_binning(severe.y_train, 16, balanced=False)
    assert isinstance(binning, ClassBinning)
    np.testing.assert_array_equal(binning.mapping, np.arange(16))
    np.testing.assert_array_equal(binning.keep, np.ones(16))
    np.testing.assert_array_equal(
        binning.labels(severe.y_val), assign_classes(severe.y_val, binning.edges)
    )
    np.testing.assert_array_equal(binning.keep_per_sample(severe.y_train), 1.0)


@pytest.mark.parametrize("num_classes", CLASS_COUNTS)
def test_expected_kept_count_is_equal_across_balanced_classes(severe, num_classes):
    binning = make_binning(severe.y_train, num_classes, balanced=True)
    labels = binning.labels(severe.y_train)
    counts = np.bincount(labels, minlength=binning.num_classes)
    np.testing.assert_allclose(binning.keep, counts.min() / counts)
    keep = binning.keep_per_sample(severe.y_train)
    assert keep.shape == severe.y_train.shape and keep.max() == 1.0
    expected = np.bincount(labels, weights=keep, minlength=binning.num_classes)
    np.testing.assert_allclose(expected, counts.min())

    # Monte Carlo over 50 epochs of u ~ U(0, 1), kept iff u <= rho (supplementary B).
    epochs = 50
    u = np.random.default_rng(num_classes).random((epochs, keep.size))
    kept = np.bincount(np.broadcast_to(labels, u.shape)[u <= keep], minlength=binning.num_classes)
    # Binomial(H(k), rho(k)) per epoch: mean min H, variance at most min H.
    sd = np.sqrt(epochs * counts.min())
    assert np.all(np.abs(kept - epochs * counts.min()) < 5 * sd)
    # Without Eq. 12 first, Eq. 13 alone would starve the most frequent equal-width classes.
    plain = np.bincount(assign_classes(severe.y_train, binning.edges), minlength=num_classes)
    assert keep_probability(plain[plain > 0]).min() <= binning.keep.min()


@pytest.mark.parametrize(
    ("y", "num_classes", "field"),
    [
        (np.linspace(0, 1, 10), 0, "num_classes"),
        (np.linspace(0, 1, 10), True, "num_classes"),
        (np.linspace(0, 1, 10), 2.0, "num_classes"),
        (np.ones(10), 4, "y_train"),
        (np.array([]), 4, "y_train"),
        (np.array([0.0, np.nan, 1.0]), 4, "y_train"),
    ],
)
def test_make_binning_rejects_bad_input(y, num_classes, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        make_binning(y, num_classes, balanced=True)


def test_rounding_must_be_a_known_eq12_variant(severe):
    with pytest.raises(ValueError, match="^rounding: .*'floor', 'ceil'"):
        make_binning(severe.y_train, 64, balanced=True, rounding="round")
    with pytest.raises(ValueError, match="^rounding: "):
        equalize_classes(np.array([1, 2, 3]), rounding="nearest")
    floor = make_binning(severe.y_train, 256, balanced=True, rounding="floor")
    ceil = make_binning(severe.y_train, 256, balanced=True, rounding="ceil")
    # The authors' variant does not isolate the last class, so its smallest class is larger.
    assert ceil.keep.min() > floor.keep.min()
