"""L_extra of Section 2.2 (Eq. 7-11): hand-computed values, limits and argument checks."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from regcls.evaluation.l_extra import (
    TargetHistogram,
    class_frequencies,
    l_extra_gauss,
    l_extra_softmax,
    target_histogram,
)

ROOT = Path(__file__).resolve().parents[1]


def _hand_histogram(pseudo_count: float = 0.0) -> TargetHistogram:
    return TargetHistogram(
        edges=np.array([0.0, 1.0, 2.0, 3.0, 4.0]),
        counts=np.array([6, 2, 1, 1]),
        pseudo_count=pseudo_count,
    )


def _riemann_l_extra(pred, y, edges, density, sigma, points=200_000):
    """Eq. 8 by a fine midpoint Riemann sum of N(y'; pred, sigma^2) p~(y') over the edges."""
    step = (edges[-1] - edges[0]) / points
    grid = edges[0] + step * (np.arange(points) + 0.5)
    p_tilde = density[np.clip(np.searchsorted(edges, grid, side="right") - 1, 0, len(density) - 1)]
    values = []
    for pred_i, y_i in zip(pred, y, strict=True):
        normal = np.exp(-0.5 * ((grid - pred_i) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        integral = float(np.sum(normal * p_tilde) * step)
        bin_i = min(int(y_i - edges[0]), len(density) - 1)
        values.append(math.log(density[bin_i]) - math.log(integral))
    return float(np.mean(values))


def test_hand_histogram_density():
    hist = _hand_histogram()
    np.testing.assert_allclose(hist.density, [0.6, 0.2, 0.1, 0.1])
    np.testing.assert_allclose(_hand_histogram(1.0).density, [7 / 14, 3 / 14, 2 / 14, 2 / 14])
    assert hist.num_bins == 4


def test_target_histogram_equal_width_bins_and_max_in_last_bin():
    y = np.array([0.0, 0.2, 0.5, 0.9, 1.5, 1.7, 2.5, 4.0])
    hist = target_histogram(y, bins=4, pseudo_count=0.0)
    np.testing.assert_allclose(hist.edges, [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(hist.counts, [4, 2, 1, 1])
    assert hist.pseudo_count == 0.0
    assert target_histogram(y).num_bins == 100


def test_gauss_matches_riemann_integral():
    hist = _hand_histogram()
    pred = np.array([0.3, 1.7, 3.9])
    y = np.array([0.5, 2.2, 3.5])
    sigma = 0.8
    expected = _riemann_l_extra(pred, y, hist.edges, hist.density, sigma)
    assert l_extra_gauss(pred, y, hist, sigma**2) == pytest.approx(expected, abs=1e-6)


def test_gauss_single_sample_closed_form():
    # pred at the centre of bin 0 with sigma 0.5: masses from the normal CDF by hand via math.erf.
    hist = _hand_histogram()
    sigma = 0.5

    def phi(z):
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))

    masses = [
        phi((e1 - 0.5) / sigma) - phi((e0 - 0.5) / sigma)
        for e0, e1 in zip(range(4), range(1, 5), strict=True)
    ]
    integral = sum(d * m for d, m in zip([0.6, 0.2, 0.1, 0.1], masses, strict=True))
    expected = math.log(0.2) - math.log(integral)  # y = 1.5 lies in bin 1 (density 0.2)
    got = l_extra_gauss(np.array([0.5]), np.array([1.5]), hist, sigma**2)
    assert got == pytest.approx(expected, abs=1e-12)


def test_gauss_uniform_prior_is_about_zero():
    hist = target_histogram(np.linspace(-2.0, 6.0, 8001), bins=50)
    pred = np.array([0.0, 1.3, 2.0, 4.4])
    y = np.array([0.1, 1.2, 2.5, 4.0])
    assert l_extra_gauss(pred, y, hist, 0.01) == pytest.approx(0.0, abs=1e-3)


def test_gauss_pseudo_count_keeps_empty_bin_finite():
    hist = TargetHistogram(edges=[0.0, 1.0, 2.0, 3.0], counts=[5, 0, 5], pseudo_count=0.5)
    assert hist.density[1] == pytest.approx(0.5 / 11.5)  # (0 + 0.5) / (10 + 3 * 0.5) / width 1
    value = l_extra_gauss(np.array([1.5]), np.array([1.5]), hist, 0.01)
    assert math.isfinite(value)
    # Without smoothing a target in the empty bin has log p~(y) = -inf.
    bare = TargetHistogram(edges=[0.0, 1.0, 2.0, 3.0], counts=[5, 0, 5], pseudo_count=0.0)
    assert l_extra_gauss(np.array([1.5]), np.array([1.5]), bare, 0.01) == -math.inf


def test_out_of_range_targets_clip_into_end_bins():
    hist = _hand_histogram()
    np.testing.assert_allclose(
        hist.log_density_at(np.array([-5.0, 0.0, 4.0, 99.0])), np.log([0.6, 0.6, 0.1, 0.1])
    )
    pred = np.array([2.0, 2.0])
    inside = l_extra_gauss(pred, np.array([0.2, 3.8]), hist, 1.0)
    outside = l_extra_gauss(pred, np.array([-7.0, 12.0]), hist, 1.0)
    assert outside == pytest.approx(inside, abs=1e-12)


def test_gauss_far_prediction_is_large_finite_positive():
    hist = _hand_histogram()
    value = l_extra_gauss(np.array([1e3]), np.array([3.5]), hist, 0.01)
    assert math.isfinite(value)
    # Dominated by the nearest edge: -log N-tail mass ~ (1e3 - 4)^2 / (2 * 0.01) = 4.96e7.
    assert value == pytest.approx(0.5 * (1e3 - 4.0) ** 2 / 0.01, rel=1e-5)
    low = l_extra_gauss(np.array([-1e3]), np.array([0.5]), hist, 0.01)
    assert math.isfinite(low) and low > 1e7


def test_gauss_nan_or_inf_prediction_gives_nan():
    hist = _hand_histogram()
    assert math.isnan(l_extra_gauss(np.array([1.0, np.nan]), np.array([1.0, 2.0]), hist, 1.0))
    assert math.isnan(l_extra_gauss(np.array([np.inf]), np.array([1.0]), hist, 1.0))


def test_gauss_vectorised_size():
    rng = np.random.default_rng(0)
    y = rng.exponential(size=20_000)
    hist = target_histogram(y, bins=100)
    value = l_extra_gauss(y + rng.normal(scale=0.3, size=y.size), y, hist, 0.09)
    assert math.isfinite(value)


def test_softmax_confident_correct_classifier_is_exactly_zero():
    prior = np.array([0.5, 0.3, 0.2])
    labels = np.array([0, 2, 1])
    log_probs = np.full((3, 3), -np.inf)
    log_probs[np.arange(3), labels] = 0.0
    assert l_extra_softmax(log_probs, labels, prior) == 0.0


def test_softmax_uniform_posterior_closed_form():
    prior = np.array([0.5, 0.3, 0.2])
    labels = np.array([0, 2, 1, 0])
    log_probs = np.full((4, 3), -math.log(3))
    expected = np.mean(np.log(prior[labels])) - math.log(1 / 3)
    assert l_extra_softmax(log_probs, labels, prior) == pytest.approx(expected, abs=1e-12)


def test_softmax_hand_value_and_float32_log_softmax():
    prior = np.array([0.6, 0.4])
    probs = np.array([[0.9, 0.1], [0.25, 0.75]])
    labels = np.array([0, 1])
    expected = np.mean(
        [
            math.log(0.6) - math.log(0.9 * 0.6 + 0.1 * 0.4),
            math.log(0.4) - math.log(0.25 * 0.6 + 0.75 * 0.4),
        ]
    )
    log_probs = np.log(probs).astype(np.float32)
    assert l_extra_softmax(log_probs, labels, prior) == pytest.approx(expected, abs=1e-6)


def test_softmax_nan_gives_nan():
    log_probs = np.array([[np.nan, np.nan], [0.0, -np.inf]])
    assert math.isnan(l_extra_softmax(log_probs, np.array([0, 0]), np.array([0.5, 0.5])))


def test_class_frequencies_pseudo_count():
    freq = class_frequencies(np.array([0, 0, 0, 2]), num_classes=3, pseudo_count=0.5)
    np.testing.assert_allclose(freq, [3.5 / 5.5, 0.5 / 5.5, 1.5 / 5.5])
    np.testing.assert_allclose(class_frequencies(np.array([0, 1, 1, 1]), 2, 0.0), [0.25, 0.75])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: target_histogram(np.array([0.0, 1.0]), bins=0), "bins"),
        (lambda: target_histogram(np.array([1.0, 1.0]), bins=3), "y_train"),
        (lambda: target_histogram(np.array([0.0, 1.0]), pseudo_count=-1.0), "pseudo_count"),
        (lambda: TargetHistogram(edges=[0.0, 2.0, 1.0], counts=[1, 1]), "edges"),
        (lambda: TargetHistogram(edges=[0.0, 1.0, 2.0], counts=[1, 1, 1]), "counts"),
        (lambda: l_extra_gauss(np.zeros(3), np.zeros(2), _hand_histogram(), 1.0), "pred"),
        (lambda: l_extra_gauss(np.zeros(2), np.zeros(2), _hand_histogram(), 0.0), "sigma2"),
        (lambda: l_extra_gauss(np.zeros(2), np.zeros(2), _hand_histogram(), np.nan), "sigma2"),
        (lambda: l_extra_gauss(np.zeros(2), np.array([0.0, np.nan]), _hand_histogram(), 1.0), "y"),
        (lambda: l_extra_gauss(np.zeros(1), np.zeros(1), None, 1.0), "prior"),
        (lambda: class_frequencies(np.array([0, 3]), num_classes=3), "labels_train"),
        (lambda: class_frequencies(np.array([0, 1]), num_classes=0), "num_classes"),
        (
            lambda: l_extra_softmax(np.log([[0.5, 0.5]]), np.array([0]), np.array([0.5, 0.6])),
            "class_prior",
        ),
        (
            lambda: l_extra_softmax(np.log([[0.5, 0.5]]), np.array([2]), np.array([0.5, 0.5])),
            "labels",
        ),
        (
            lambda: l_extra_softmax(np.log([[0.5, 0.5]]), np.array([0, 1]), np.array([0.5, 0.5])),
            "labels",
        ),
        # Probabilities (or raw logits) instead of log-probabilities are rejected.
        (
            lambda: l_extra_softmax(np.array([[0.5, 0.5]]), np.array([0]), np.array([0.5, 0.5])),
            "class_log_probs",
        ),
        (
            lambda: l_extra_softmax(np.zeros(2), np.array([0]), np.array([0.5, 0.5])),
            "class_log_probs",
        ),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()


def test_module_imports_no_ray_polars_plotly():
    code = (
        "import sys, regcls.evaluation.l_extra\n"
        "print(','.join(sorted(m for m in sys.modules\n"
        "                      if m.split('.')[0] in ('ray', 'polars', 'plotly', 'scipy'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
