"""Epoch trainer: learns, keeps the best val epoch, masks per Eq. 13 / Table 4, diverges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from regcls.data.binning import make_binning
from regcls.training.epochs import EpochSettings, class_labels, evaluate, predict, train_epochs


class Tiny(nn.Module):
    """Linear regression head and optional linear class head on the raw input."""

    def __init__(self, features: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        self.reg = nn.Linear(features, 1)
        self.cls = nn.Linear(features, num_classes) if num_classes else None

    def forward(self, x):
        logits = self.cls(x) if self.cls is not None else None
        return self.reg(x)[:, 0], logits


def _line(n: int = 64, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    return TensorDataset(x, 2.0 * x[:, 0] + 1.0)


def test_class_labels_match_binning():
    rng = np.random.default_rng(0)
    y_train = np.concatenate([rng.normal(0, 0.1, 900), rng.uniform(-1, 1, 100)])
    y = np.concatenate([y_train, [-5.0, 5.0], np.linspace(-1, 1, 7)])
    for balanced in (False, True):
        binning = make_binning(y_train, 16, balanced)
        got = class_labels(torch.tensor(y, dtype=torch.float32), binning).numpy()
        np.testing.assert_array_equal(got, binning.labels(y.astype(np.float32)))


def test_tiny_model_learns_and_restores_best():
    torch.manual_seed(0)
    model = Tiny(1, num_classes=4)
    data = _line()
    binning = make_binning(data.tensors[1].numpy(), 4, balanced=True)
    loader = DataLoader(data, batch_size=16, shuffle=False)
    before = evaluate(model, loader)["mse"]
    result = train_epochs(model, loader, loader, EpochSettings(epochs=15, lr=0.05), binning)
    assert result.status == "ok" and result.epochs_trained == 15
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert result.best_val < 0.1 * before
    assert evaluate(model, loader)["mse"] == pytest.approx(result.best_val, rel=1e-5)
    pred, target = predict(model, loader)
    assert pred.shape == target.shape == (64,)


class _ShiftingVal:
    """A validation loader whose targets move each epoch, so epoch 3 is the best by design."""

    def __init__(self, offsets):
        self.offsets, self.epoch = offsets, 0

    def __iter__(self):
        offset = self.offsets[self.epoch]
        self.epoch += 1
        x = torch.zeros(4, 1)
        yield x, torch.full((4,), offset)


def test_best_on_validation_keeps_the_best_epoch():
    torch.manual_seed(0)
    model = Tiny(1)
    states = {}

    def remember(epoch, row):
        states[epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    # The model's prediction at x = 0 is its bias b; val targets b_epoch + offset.
    val = _ShiftingVal([10.0, 5.0, 0.0, 5.0, 10.0])
    settings = EpochSettings(epochs=5, lr=1e-3)
    result = train_epochs(
        model, DataLoader(_line(), batch_size=16), val, settings, on_epoch=remember
    )
    assert result.best_epoch == 3
    assert [r["val_mse"] for r in result.history].index(result.best_val) == 2
    for key, value in result.best_state.items():
        torch.testing.assert_close(value, states[3][key])
        torch.testing.assert_close(model.state_dict()[key], states[3][key])  # restored


def _expected_first_loss(model, x, y, u, reg_keep, cls_keep, binning, lam):
    pred, logits = model(x)
    reg_in = torch.ones_like(y, dtype=torch.bool) if reg_keep is None else u <= reg_keep
    reg = ((pred - y) ** 2)[reg_in].mean()
    ce_in = reg_in & (u <= cls_keep)
    labels = torch.as_tensor(binning.labels(y.numpy()))
    ce = F.cross_entropy(logits[ce_in], labels[ce_in])
    return float(lam * reg + ce)


@pytest.mark.parametrize("control", [False, True])
def test_keep_draws_gate_ce_and_balanced_control_gates_regression(control):
    g = torch.Generator().manual_seed(1)
    y = torch.cat([torch.randn(56, generator=g) * 0.05, torch.rand(8, generator=g) * 2 - 1])
    x = torch.stack([y, torch.randn(64, generator=g)], 1)
    binning = make_binning(y.numpy(), 8, balanced=True)
    assert binning.keep.min() < 0.5  # the draws really drop samples
    torch.manual_seed(0)
    model = Tiny(2, binning.num_classes)
    settings = EpochSettings(epochs=1, lr=1e-9, lam=2.0, keep_seed=7)
    u = torch.rand(64, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    keep = torch.as_tensor(binning.keep_per_sample(y.numpy()))
    with torch.no_grad():
        expected = _expected_first_loss(
            model, x, y, u, keep if control else None, keep, binning, 2.0
        )
        all_in = _expected_first_loss(model, x, y, u, None, torch.ones(64), binning, 2.0)
    loader = DataLoader(TensorDataset(x, y), batch_size=64)
    result = train_epochs(
        model, loader, loader, settings, binning, data_balance=binning if control else None
    )
    assert result.history[0]["train_loss"] == pytest.approx(expected, rel=1e-5)
    assert not math.isclose(expected, all_in, rel_tol=1e-3)


def test_gradient_accumulation_matches_the_big_batch():
    data = _line(32)
    models = []
    for batch, accumulate in ((32, 1), (16, 2)):
        torch.manual_seed(0)
        model = Tiny(1)
        settings = EpochSettings(epochs=3, lr=0.01, accumulate=accumulate)
        loader = DataLoader(data, batch_size=batch)
        train_epochs(model, loader, loader, settings)
        models.append(model.state_dict())
    for key in models[0]:
        torch.testing.assert_close(models[0][key], models[1][key])


def test_step_decay_and_callback_stop():
    loader = DataLoader(_line(16), batch_size=8)
    settings = EpochSettings(epochs=4, lr=1e-2, lr_milestones=(2,))
    result = train_epochs(Tiny(1), loader, loader, settings)
    assert [r["lr"] for r in result.history] == pytest.approx([1e-2, 1e-3, 1e-3, 1e-3])
    stopped = train_epochs(Tiny(1), loader, loader, settings, on_epoch=lambda e, r: e == 2)
    assert stopped.status == "early_stopped" and stopped.epochs_trained == 2


def test_non_finite_loss_is_diverged():
    x = torch.ones(8, 1)
    loader = DataLoader(TensorDataset(x, torch.full((8,), 1e30)), batch_size=4)
    result = train_epochs(Tiny(1), loader, loader, EpochSettings(epochs=3))
    assert result.status == "diverged"
    assert result.epochs_trained == 0 and result.best_state is None


def test_settings_validation():
    with pytest.raises(ValueError, match="reg_loss"):
        EpochSettings(reg_loss="huber")
    with pytest.raises(ValueError, match="accumulate"):
        EpochSettings(accumulate=0)
    with pytest.raises(ValueError, match="binning"):
        loader = DataLoader(_line(8), batch_size=8)
        train_epochs(
            Tiny(1), loader, loader, EpochSettings(epochs=1), make_binning(np.arange(8.0), 2, False)
        )
