"""Packed training equals the plain single-model reference, model by model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from regcls.models.mlp import MLPLayout, init_params
from regcls.training.packed import _Pack, train_packed
from regcls.training.single import train_single
from regcls.training.tasks import ModelTask, TrainSettings

HIDDEN = (6, 16)


# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(seed: int, n: int, num_classes: int, peak: bool = False):
    """Tiny 1D regression data (sum of two sines) with equal-width class labels."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    if peak:  # imbalanced targets: most samples near x = 0.3
        x = np.where(rng.random(n) < 0.7, rng.normal(0.3, 0.05, n).clip(-1, 1), x)
    y = (0.4 + 0.1 * seed) * np.sin((9 + seed) * x) + (1.1 - 0.1 * seed) * np.sin(3 * x)
    edges = np.linspace(y.min(), y.max(), num_classes + 1)
    labels = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, num_classes - 1)
    return x, y, labels


def _task(seed, n, dtype, lr, num_classes=0, lam=1.0, keep=None, peak=False, **fields) -> ModelTask:
    """`fields`: the optional ModelTask fields (objective, weight_decay, init_seed, ...); a
    `cls-only` task gets the centres of its equal-width classes."""
    x, y, labels = _data(seed, n, max(num_classes, 2), peak)
    xt = torch.tensor(x, dtype=dtype).unsqueeze(1)
    yt = torch.tensor(y, dtype=dtype)
    if not num_classes:
        return ModelTask(xt, yt, seed=seed, lr=lr, lam=lam, **fields)
    if fields.get("objective") == "cls-only":
        edges = np.linspace(y.min(), y.max(), num_classes + 1)
        fields["class_centres"] = torch.tensor((edges[:-1] + edges[1:]) / 2, dtype=dtype)
    keep_prob = None
    if keep == "balanced":  # Eq. 13 over the (non-empty) classes
        counts = np.bincount(labels, minlength=num_classes)
        keep_prob = torch.tensor(counts[counts > 0].min() / counts[labels], dtype=dtype)
    elif keep == "ones":
        keep_prob = torch.ones(n, dtype=dtype)
    return ModelTask(
        xt,
        yt,
        seed,
        lr,
        lam,
        torch.tensor(labels),
        num_classes=num_classes,
        keep_prob=keep_prob,
        **fields,
    )


def _mixed_tasks(dtype) -> list[ModelTask]:
    return [
        _task(0, 600, dtype, lr=1e-2),  # reg
        _task(1, 600, dtype, lr=1e-2, num_classes=4, lam=10.0, peak=True),  # imbalanced cls
        _task(2, 600, dtype, lr=3e-3, num_classes=16, lam=100.0, keep="balanced", peak=True),
        _task(3, 600, dtype, lr=1e-2, num_classes=64, lam=1.0),
        _task(4, 520, dtype, lr=1e-3),  # fewer samples: fewer steps per epoch
        _task(5, 600, dtype, lr=1e-2, num_classes=8, lam=1e3, keep="ones"),
        _task(6, 600, dtype, lr=1e-2, lam=10.0, objective="reg-scaled"),
        _task(7, 600, dtype, lr=1e-2, num_classes=32, objective="cls-only"),
        _task(8, 600, dtype, lr=1e-2, num_classes=4, lam=10.0, weight_decay=3e-2),
        _task(0, 600, dtype, lr=1e-2, init_seed=42),  # task 0's batches, its own init
        _task(9, 560, dtype, lr=3e-3, lam=3.0, objective="reg-scaled", weight_decay=0.0),
    ]


def _rel_err(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)) for k in b)


def _val_mse(trained, index: int, seed: int, dtype) -> float:
    x, y, _ = _data(seed + 100, 300, 2)
    pred = trained.predict(torch.tensor(x, dtype=dtype).unsqueeze(1), index=index)
    return float(np.mean((pred.double().numpy() - y) ** 2))


@pytest.mark.parametrize(
    ("dtype", "drop_last", "tol"),
    # Exactness is checked in float64; float32 only smoke-tests its path, with a tolerance loose
    # enough for any CPU's rounding (gemm blocking, FMA) over 3 epochs.
    [("float64", True, 1e-10), ("float64", False, 1e-10), ("float32", True, 1e-3)],
)
def test_packed_equals_single(dtype, drop_last, tol):
    torch_dtype = getattr(torch, dtype)
    settings = TrainSettings(epochs=3, batch_size=64, dtype=dtype, drop_last=drop_last)
    tasks = _mixed_tasks(torch_dtype)
    packed = train_packed(tasks, settings)
    assert not packed.diverged.any()
    assert packed.epochs_trained.tolist() == [3] * len(tasks)
    for i, task in enumerate(tasks):
        single = train_single(task, settings)
        assert _rel_err(packed.params[i], single.params[0]) < tol, i
        assert packed.params[i]["trunk.0.weight"].dtype == torch_dtype
        val_p, val_s = _val_mse(packed, i, i, torch_dtype), _val_mse(single, 0, i, torch_dtype)
        assert val_p == pytest.approx(val_s, rel=tol)
        assert float(packed.final_loss[i]) == pytest.approx(float(single.final_loss[0]), rel=tol)
        # Training moved the weights away from the init (the comparison is not vacuous).
        seed = task.seed if task.init_seed is None else task.init_seed
        init = init_params(seed, 1, HIDDEN, task.num_classes if task.labels is not None else 0)
        assert _rel_err(packed.params[i], {k: v.to(torch_dtype) for k, v in init.items()}) > 1e-3


# (optimizer, momentum): the paper's Adam is the default above; AdamW, SGD with and without
# momentum.
OPTIMIZER_CASES = [("adam", 0.9), ("adamw", 0.9), ("sgd", 0.9), ("sgd", 0.0)]


@pytest.mark.parametrize(("optimizer", "momentum"), OPTIMIZER_CASES)
def test_one_model_equals_its_torch_optimizer(optimizer, momentum):
    """One reg+cls model per optimiser: the flat optimiser equals torch.optim.Adam / AdamW / SGD
    (the reference trainer's) to 1e-12 in float64 after two epochs (weight decay on, so the
    coupled / decoupled difference is exercised)."""
    settings = TrainSettings(
        epochs=2, batch_size=64, dtype="float64", optimizer=optimizer, momentum=momentum
    )
    task = _task(1, 600, torch.float64, lr=1e-2, num_classes=8, lam=10.0, weight_decay=3e-2)
    packed, single = train_packed([task], settings), train_single(task, settings)
    assert _rel_err(packed.params[0], single.params[0]) < 1e-12
    init = {k: v.double() for k, v in init_params(1, 1, HIDDEN, 8).items()}
    assert _rel_err(packed.params[0], init) > 1e-3


@pytest.mark.parametrize(("optimizer", "momentum"), OPTIMIZER_CASES[1:])
def test_packed_equals_single_under_each_optimizer(optimizer, momentum):
    """The mixed pack (per-model lr and weight decay, fewer steps for one model, balanced-class
    keep draws, cls-only, reg-scaled) under AdamW and SGD, as test_packed_equals_single does
    under Adam."""
    settings = TrainSettings(
        epochs=2, batch_size=64, dtype="float64", optimizer=optimizer, momentum=momentum
    )
    tasks = _mixed_tasks(torch.float64)
    packed = train_packed(tasks, settings)
    assert not packed.diverged.any()
    for i, task in enumerate(tasks):
        assert _rel_err(packed.params[i], train_single(task, settings).params[0]) < 1e-10, i


def test_optimizers_train_different_models():
    """The optimiser field reaches the update: the same task ends elsewhere under each."""
    task = _task(1, 600, torch.float64, lr=1e-2, num_classes=8, lam=10.0)
    ends = []
    for optimizer, momentum in OPTIMIZER_CASES:
        settings = TrainSettings(epochs=1, dtype="float64", optimizer=optimizer, momentum=momentum)
        ends.append(train_packed([task], settings).params[0]["reg.weight"])
    for a in range(len(ends)):
        for b in range(a + 1, len(ends)):
            assert not torch.equal(ends[a], ends[b]), (OPTIMIZER_CASES[a], OPTIMIZER_CASES[b])


@pytest.mark.parametrize("wide", [16, 256])  # class-major and sample-major class heads
def test_bfloat16_pack_trains(wide):
    """dtype "bfloat16": class-head matmuls in bf16, float32 weights; the loss goes down and the
    result is near (not equal to) the float32 pack's."""
    tasks = [
        _task(1, 600, torch.float32, lr=1e-2, num_classes=4, lam=10.0),
        _task(2, 600, torch.float32, lr=1e-2, num_classes=wide, lam=10.0),
        _task(3, 600, torch.float32, lr=1e-2),
    ]
    losses = []

    def on_epoch(epoch, state):
        losses.append(state.final_loss.clone())

    settings = TrainSettings(epochs=6, batch_size=64, dtype="bfloat16")
    low = train_packed(tasks, settings, on_epoch)
    full = train_packed(tasks, TrainSettings(epochs=6, batch_size=64, dtype="float32"))
    assert not low.diverged.any()
    assert low.params[1]["cls.weight"].dtype == torch.float32
    assert bool((losses[-1] < 0.8 * losses[0]).all()), losses
    for i in (0, 1):
        err = _rel_err(low.params[i], full.params[i])
        assert 0 < err < 0.05, (i, err)
    # The reg model has no class head: no bf16 matmul touches it.
    assert _rel_err(low.params[2], full.params[2]) == 0


def test_same_seed_reg_and_cls_share_trunk_init():
    reg = init_params(7, 1, HIDDEN, 0, torch.float64)
    cls = init_params(7, 1, HIDDEN, 16, torch.float64)
    other = init_params(8, 1, HIDDEN, 0, torch.float64)
    assert set(cls) - set(reg) == {"cls.weight", "cls.bias"}
    for name in reg:
        assert torch.equal(reg[name], cls[name]), name
    assert not torch.equal(reg["trunk.0.weight"], other["trunk.0.weight"])
    # Xavier-uniform bound sqrt(6 / (fan_in + fan_out)); zero biases.
    assert float(cls["cls.weight"].abs().max()) <= math.sqrt(6 / (16 + 16))
    assert not any(cls[n].any() for n in cls if n.endswith(".bias"))
    # The packed trainer starts from exactly these weights.
    tasks = [_task(7, 300, torch.float64, 1e-2), _task(7, 300, torch.float64, 1e-2, 16)]
    state = train_packed(tasks, TrainSettings(epochs=0, dtype="float64"))
    for name in reg:
        assert torch.equal(state.params[0][name], reg[name])
    assert torch.equal(state.params[1]["cls.weight"], cls["cls.weight"])


@pytest.mark.parametrize("wide", [64, 256])  # class-major and sample-major class heads
def test_padded_classes_are_masked(wide):
    settings = TrainSettings(epochs=2, batch_size=64, dtype="float64")
    small = _task(1, 400, torch.float64, lr=1e-2, num_classes=4, lam=1.0)
    big = _task(2, 400, torch.float64, lr=1e-2, num_classes=wide, lam=1.0)
    packed = train_packed([small, big], settings)
    alone = train_packed([small], settings)
    reference = train_single(small, settings)
    assert packed.params[0]["cls.weight"].shape == (4, 16)
    assert _rel_err(packed.params[0], alone.params[0]) < 1e-10
    assert _rel_err(packed.params[0], reference.params[0]) < 1e-10
    assert _rel_err(packed.params[1], train_single(big, settings).params[0]) < 1e-10
    assert packed.class_logits(torch.zeros(3, 1, dtype=torch.float64), index=0).shape == (3, 4)


def test_divergent_model_is_frozen_and_others_unaffected():
    settings = TrainSettings(epochs=3, batch_size=64, dtype="float32")
    tasks = _mixed_tasks(torch.float32)
    # lr=1e3 with lam=1e4 on inputs of size ~1e8: the float32 loss overflows after a few steps.
    bad = _task(9, 600, torch.float32, lr=1e3, num_classes=4, lam=1e4)
    bad.x_train = bad.x_train * 1e8
    tasks.insert(2, bad)
    packed = train_packed(tasks, settings)
    single_bad = train_single(bad, settings)
    assert bool(single_bad.diverged[0])
    assert packed.diverged.tolist() == [i == 2 for i in range(len(tasks))]
    assert int(packed.epochs_trained[2]) == int(single_bad.epochs_trained[0]) < 3
    assert math.isnan(float(packed.final_loss[2]))
    # Frozen at the parameters of the last finite step, like the reference loop.
    assert all(bool(torch.isfinite(v).all()) for v in packed.params[2].values())
    assert _rel_err(packed.params[2], single_bad.params[0]) < 1e-4
    init = init_params(bad.seed, 1, HIDDEN, 4, torch.float32)
    assert _rel_err(packed.params[2], init) > 1.0  # it did take (huge) steps before diverging
    for i, task in enumerate(tasks):
        if i != 2:
            assert _rel_err(packed.params[i], train_single(task, settings).params[0]) < 1e-4, i


def test_keep_prob_all_ones_equals_imbalanced():
    settings = TrainSettings(epochs=2, batch_size=64, dtype="float64")
    plain = _task(3, 500, torch.float64, lr=1e-2, num_classes=8, lam=10.0, peak=True)
    ones = _task(3, 500, torch.float64, lr=1e-2, num_classes=8, lam=10.0, keep="ones", peak=True)
    half = _task(3, 500, torch.float64, lr=1e-2, num_classes=8, lam=10.0, keep="ones", peak=True)
    half.keep_prob = torch.full((500,), 0.5, dtype=torch.float64)
    packed = train_packed([plain, ones, half], settings)
    for name, value in packed.params[0].items():
        assert torch.equal(value, packed.params[1][name]), name
    assert _rel_err(packed.params[2], packed.params[0]) > 1e-6  # the draws do matter
    assert _rel_err(packed.params[2], train_single(half, settings).params[0]) < 1e-10


def test_shared_data_is_stored_once():
    x, y, labels = _data(0, 300, 4)
    xt, yt = torch.tensor(x).unsqueeze(1), torch.tensor(y)
    tasks = [ModelTask(xt, yt, seed=s, lr=1e-2) for s in range(3)]
    tasks.append(ModelTask(xt, yt, 3, 1e-2, 1.0, torch.tensor(labels), num_classes=4))
    pack = _Pack(tasks, TrainSettings(dtype="float64"))
    assert pack.x_data.shape[0] == 1 and pack.y_data.shape[0] == 1
    assert pack.flat.shape == (4, MLPLayout(1, HIDDEN, 4).size)


def test_on_epoch_can_stop_and_sees_live_state():
    seen = []

    def on_epoch(epoch, state):
        pred = state.predict(torch.zeros(5, 1, dtype=torch.float64), index=1)
        seen.append((epoch, tuple(pred.shape), state.diverged.tolist()))
        return epoch == 1

    tasks = [_task(0, 300, torch.float64, 1e-2), _task(1, 300, torch.float64, 1e-2, 4)]
    trained = train_packed(tasks, TrainSettings(epochs=5, dtype="float64"), on_epoch=on_epoch)
    assert seen == [(0, (5,), [False, False]), (1, (5,), [False, False])]
    assert trained.epochs_trained.tolist() == [2, 2]
    assert trained.predict(torch.zeros(5, 1, dtype=torch.float64)).shape == (2, 5)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lr": 0.0}, "lr"),
        ({"num_classes": 2}, "labels"),  # labels reach 3
        ({"labels": None}, "keep_prob"),
        ({"y_train": torch.zeros(5)}, "y_train"),
        ({"objective": "reg+cls-scaled"}, "objective"),
        ({"objective": "reg+cls"}, "keep_prob"),  # keep_prob given: that is reg+cls-balanced
        ({"objective": "reg-scaled", "keep_prob": None}, "labels"),  # no class head
        ({"objective": "cls-only", "keep_prob": None}, "class_centres"),
        ({"class_centres": torch.zeros(3)}, "class_centres"),  # 4 classes
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"lam": math.nan}, "lam"),
    ],
)
def test_bad_task_raises(change, field):
    task = _task(0, 300, torch.float64, 1e-2, 4, keep="ones")
    for key, value in change.items():
        setattr(task, key, value)
    with pytest.raises(ValueError, match=field):
        train_packed([task], TrainSettings(dtype="float64"))


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="dtype"):
        TrainSettings(dtype="float16")
    with pytest.raises(ValueError, match="batch_size"):
        TrainSettings(batch_size=0)
    with pytest.raises(ValueError, match="adam_eps"):
        TrainSettings(adam_eps=0.0)
    with pytest.raises(ValueError, match=r"optimizer: must be one of \('adam', 'adamw', 'sgd'\)"):
        TrainSettings(optimizer="rmsprop")
    with pytest.raises(ValueError, match="momentum"):
        TrainSettings(optimizer="sgd", momentum=1.0)
