"""The zoo at its published settings (issue 20): Focal-R's factor at each study's typical error,
Balanced MSE's learned sigma, LDS / INV / FDS binning of STS-B's scores as Yang et al.'s code,
FDS's empty-bucket fill, HL-Gauss as published; every check against hand values or the
sources' rules (docs/zoo_settings.md), float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from regcls.data.binning import label_bins
from regcls.data.datasets.stsb import load_stsb_dir
from regcls.data.reweighting import inverse_weights, lds_kernel_window
from regcls.data.soft_targets import hl_gauss_targets
from regcls.methods import MethodConfig, build_method_task
from regcls.models.mlp import init_params
from regcls.objectives.feature_smoothing import (
    FDSConfig,
    FeatureSmoothing,
    kernel_window,
    smoothing_matrix,
    target_bins,
)
from regcls.objectives.focal import FocalTerm
from regcls.training.packed import train_packed
from regcls.training.single import train_single
from regcls.training.tasks import TrainSettings
from search_spaces import stsb_dir, synthetic_1d_zoo
from search_spaces.method_zoo import FOCAL_PUBLISHED_BETA_ERROR

F64 = torch.float64
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _focal_factor(beta: float, error: float) -> float:
    """The Focal-R weight of an error (sigmoid, gamma 1), read off the loss piece: loss / e^2."""
    loss, d_pred = torch.zeros(1, dtype=F64), torch.zeros(1, 1, dtype=F64)
    diff, w = torch.tensor([[error]], dtype=F64), torch.ones(1, 1, dtype=F64)
    FocalTerm([0], torch.ones(1, dtype=F64), [beta], [1.0], ["sigmoid"])(diff, w, loss, d_pred)
    return float(loss[0]) / error**2


def test_focal_factor_at_each_studys_typical_error_is_in_the_published_range():
    low, high = (_focal_factor(1.0, b) for b in FOCAL_PUBLISHED_BETA_ERROR)
    assert (round(low, 2), round(high, 2)) == (0.65, 0.96)  # tanh(1.55 / 2), tanh(3.95 / 2)
    one_d = synthetic_1d_zoo.PRESETS["quick"].method_params["reg-focal"]
    assert one_d["focal_activation"] == "sigmoid" and one_d["focal_gamma"] == 1.0
    studies = {
        "1D": (one_d["focal_beta"], synthetic_1d_zoo.TYPICAL_ERROR),
        "STS-B": (stsb_dir.PRESETS["quick"].focal_beta, stsb_dir.TYPICAL_ERROR),
    }
    assert studies["STS-B"][0] == 20 / 5  # Yang et al.'s 20 on the scores divided by 5
    for name, (beta, error) in studies.items():
        assert low <= _focal_factor(beta, error) <= high, name
    # The age code's 0.2 per year at the 1D error: almost no focal weight (the old setting).
    assert _focal_factor(MethodConfig("reg-focal").focal_beta, synthetic_1d_zoo.TYPICAL_ERROR) < 0.1


@pytest.mark.parametrize("init", [0.15, 1.0])
def test_learned_bmc_sigma_moves_to_the_noise_level(init):
    """y = 1.5 x + N(0, 0.1^2): from 1.5 x the noise sigma (Ren et al.'s synthetic benchmark) or
    from their code's 1.0, 400 steps bring the learned sigma to the noise level."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 2048)
    y = 1.5 * x + rng.normal(0.0, 0.1, x.size)
    task = build_method_task(
        MethodConfig("reg-bmc", bmc_sigma=init),
        x_train=torch.tensor(x).unsqueeze(1),
        y_train=torch.tensor(y),
        seed=0,
        lr=1e-2,
    )
    settings = TrainSettings(epochs=50, batch_size=256, dtype="float64", weight_decay=0.0)
    trained = train_packed([task], settings)  # 8 steps per epoch
    sigma = trained.final_bmc_sigma(0)
    assert abs(sigma - 0.1) < 0.01 < abs(init - 0.1), sigma
    fixed = build_method_task(
        MethodConfig("reg-bmc", bmc_sigma=init, bmc_sigma_learned=False),
        x_train=task.x_train,
        y_train=task.y_train,
        seed=0,
        lr=1e-2,
    )
    assert train_packed([fixed], settings).final_bmc_sigma(0) == init


def _yang_stsb_bin(score: float) -> int:
    """Yang et al.'s STS-B bin of a score (tasks.py get_bin_idx, fds.py _get_bucket_idx): a
    float32 label against the float32 edges of np.histogram(bins=50, range=(0, 5)); 5.0 -> 49."""
    label = np.float32(score)
    _, edges = np.histogram(np.array([], dtype=np.float32), bins=50, range=(0.0, 5.0))
    if label == 5.0:
        return 49
    return int(np.where(edges > label)[0][0] - 1)


def test_lds_and_fds_bins_of_stsb_float64_scores_are_yang_et_als():
    scores = load_stsb_dir("train", None).score  # float64, [0, 5]
    expected = np.array([_yang_stsb_bin(v) for v in scores])
    grid = np.arange(51) / 10  # every edge value 0.0, 0.1, ..., 5.0
    on_edges = np.array([_yang_stsb_bin(v) for v in grid])
    assert on_edges.tolist() == [*range(50), 49]
    edges = np.linspace(0.0, 5.0, 51)
    assert label_bins(grid, edges).tolist() == on_edges.tolist()
    assert label_bins(scores, edges).tolist() == expected.tolist()
    y64 = torch.tensor(scores)
    assert target_bins(y64, 50).tolist() == expected.tolist()  # FDS
    # float32 scores (the old path) put 1,289 pairs in another bin and empty the 1.4-1.5 bin.
    moved = target_bins(y64.float(), 50).numpy() != expected
    assert int(moved.sum()) == 1289 and np.bincount(expected, minlength=50).min() > 0
    # LDS on inverse weights (their STS-B settings) = their weights from their bins.
    counts = np.bincount(expected, minlength=50).astype(np.float64)
    smoothed = np.convolve(counts, lds_kernel_window("gaussian", 5, 2.0), mode="same")
    raw = 1.0 / smoothed[expected]
    config = MethodConfig("reg-lds", lds_inverse="inverse", lds_bins=50)
    x = torch.zeros(scores.size, 1, dtype=F64)
    task = build_method_task(config, x_train=x, y_train=y64, seed=0, lr=1e-3)
    np.testing.assert_allclose(task.sample_weight.numpy(), raw * raw.size / raw.sum(), rtol=1e-12)
    inv = build_method_task(
        MethodConfig("reg-inv", lds_bins=50), x_train=x, y_train=y64, seed=0, lr=1e-3
    )
    plain = 1.0 / counts[expected]
    np.testing.assert_allclose(
        inv.sample_weight.numpy(), plain * plain.size / plain.sum(), rtol=1e-12
    )


def test_inverse_weights_on_a_known_histogram():
    edges = torch.arange(6, dtype=F64)  # bins [0,1), ..., [4,5]
    y = torch.tensor([0.1, 0.5, 0.2, 0.9, 1.5, 4.5], dtype=F64)  # counts [4, 1, 0, 0, 1]
    # INV: 1/4 (x4), 1, 1, rescaled to mean 1: x 6 / 3. SQINV: 1/2 (x4), 1, 1: x 6 / 4.
    torch.testing.assert_close(
        inverse_weights(y, edges), torch.tensor([0.5] * 4 + [2.0] * 2, dtype=F64)
    )
    torch.testing.assert_close(
        inverse_weights(y, edges, "sqrt_inv"), torch.tensor([0.75] * 4 + [1.5] * 2, dtype=F64)
    )


@pytest.mark.parametrize("empty_bins", ["neighbours", "keep"])
def test_fds_empty_bucket_fill_on_a_hand_built_histogram(empty_bins):
    """Seven bins, samples in bins 1 (1, 3), 4 (10) and 5 (20, 22): bins 0, 2, 3, 6 are empty.
    Yang et al.'s STS-B fill, in bin order after the update: bin 0 copies bin 1, bin 2 the mean
    of bins 1 and 3 (3 as it stands), bin 3 the mean of bins 2 (just filled) and 4, the last bin
    copies bin 5. "keep" leaves them at mean 0, variance 1."""
    config = FDSConfig(bins=7, ks=3, empty_bins=empty_bins)
    bins = torch.tensor([1, 1, 4, 5, 5])
    fds = FeatureSmoothing([config], [bins], 1, 5, F64, torch.device("cpu"))
    features = torch.tensor([[[1.0, 3.0, 10.0, 20.0, 22.0]]], dtype=F64)
    alive = torch.tensor([True])
    fds.end_epoch(0, features, alive)  # start_update: the running statistics are this epoch's
    state = fds.state(0, 7)
    mean, var = state["running_mean"][:, 0].tolist(), state["running_var"][:, 0].tolist()
    if empty_bins == "keep":
        assert mean == [0.0, 2.0, 0.0, 0.0, 10.0, 21.0, 0.0]
        assert var == [1.0, 2.0, 1.0, 1.0, 0.0, 2.0, 1.0]
        return
    assert mean == [2.0, 2.0, 1.0, 5.5, 10.0, 21.0, 21.0]
    assert var == [2.0, 2.0, 1.5, 0.75, 0.0, 2.0, 2.0]
    fds.end_epoch(1, features, alive)  # momentum 0.9 on the seen bins (unchanged); refill
    state = fds.state(0, 7)
    assert state["running_mean"][:, 0].tolist() == [2.0, 2.0, 3.75, 6.875, 10.0, 21.0, 21.0]
    assert state["running_var"][:, 0].tolist() == [2.0, 2.0, 1.375, 0.6875, 0.0, 2.0, 2.0]
    # Epoch 1's smoothed statistics are those of the filled epoch-0 statistics (Eqs. 4-5).
    smoother = smoothing_matrix(kernel_window("gaussian", 3, 2.0), 7)
    expected = smoother @ np.array([2.0, 2.0, 1.0, 5.5, 10.0, 21.0, 21.0])
    np.testing.assert_allclose(state["smoothed_mean"][:, 0].numpy(), expected, rtol=1e-14)


def _gapped_data(seed: int, n: int):
    """y = sin(3x) with every target in [0.1, 0.35) removed: FDS bins over the gap are empty."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, 3 * n)
    y = np.sin(3 * x)
    keep = ~((y >= 0.1) & (y < 0.35))
    return torch.tensor(x[keep][:n]).unsqueeze(1), torch.tensor(y[keep][:n])


@pytest.mark.parametrize("variant", ["reg-fds", "reg-inv+fds"])
def test_fds_with_empty_bins_packed_equals_single(variant):
    x, y = _gapped_data(1, 400)
    tasks = [
        build_method_task(
            MethodConfig(variant, fds_bins=20, fds_empty_bins=choice),
            x_train=x,
            y_train=y,
            seed=1,
            lr=1e-2,
        )
        for choice in ("neighbours", "keep")
    ]
    assert (torch.bincount(target_bins(y, 20), minlength=20) == 0).sum() >= 2
    settings = TrainSettings(epochs=4, batch_size=64, dtype="float64")
    packed = train_packed(tasks, settings)
    for i, task in enumerate(tasks):
        single = train_single(task, settings)
        for name, value in single.fds_stats[0].items():
            torch.testing.assert_close(packed.fds_stats[i][name], value, rtol=1e-10, atol=1e-10)
        for name, value in single.params[0].items():
            torch.testing.assert_close(packed.params[i][name], value, rtol=1e-10, atol=1e-12)
    filled, kept = (packed.fds_stats[i]["running_mean"] for i in (0, 1))
    assert not torch.equal(filled, kept)


def test_hlgauss_is_ce_only_and_predicts_the_expectation_of_the_bin_centres():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.uniform(-1, 1, 256)).unsqueeze(1)
    y = torch.sin(3 * x[:, 0])
    edges = torch.linspace(float(y.min()), float(y.max()), 9, dtype=F64)
    labels = (torch.searchsorted(edges, y, right=True) - 1).clamp(0, 7)
    task = build_method_task(
        MethodConfig("hlgauss"), x_train=x, y_train=y, seed=2, lr=1e-2, edges=edges, labels=labels
    )
    centres = (edges[1:] + edges[:-1]) / 2
    torch.testing.assert_close(task.class_centres, centres)
    assert not MethodConfig("hlgauss").uses_lam and task.prediction_rule == "class_expectation"
    # One step on the whole set: the loss is the CE against the HL-Gauss targets (sigma 0.75
    # bin widths) at the initial weights, no MSE term.
    settings = TrainSettings(epochs=1, batch_size=256, dtype="float64")
    init = init_params(2, 1, settings.hidden, 8, F64)
    h = x
    for i in range(2):
        h = torch.relu(h @ init[f"trunk.{i}.weight"].T + init[f"trunk.{i}.bias"])
    logits = h @ init["cls.weight"].T + init["cls.bias"]
    targets = hl_gauss_targets(y, edges, 0.75 * float(edges[1] - edges[0]))
    expected = float(F.cross_entropy(logits, targets))
    first = train_packed([task], settings)
    assert float(first.final_loss[0]) == pytest.approx(expected, rel=1e-12)
    trained = train_packed([task], TrainSettings(epochs=5, batch_size=64, dtype="float64"))
    probs = torch.softmax(trained.class_logits(x, index=0), dim=-1)
    torch.testing.assert_close(trained.predict(x, index=0), probs @ centres, rtol=1e-14, atol=0)
    assert math.isfinite(float(trained.final_loss[0]))
