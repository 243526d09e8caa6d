"""The objective registry and the new compositions: reg-scaled, cls-only, per-model weight decay
and init seed, each trained packed equal to the single-model reference (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from regcls.models.mlp import init_params
from regcls.objectives import OBJECTIVES, Objective, objective
from regcls.objectives.mse import MSETerm, batch_weights
from regcls.training.packed import train_packed
from regcls.training.single import train_single
from regcls.training.tasks import ModelTask, TrainSettings

HIDDEN = (6, 16)
F64 = torch.float64
# The core paper's compositions; the issue-10 family is tested in test_method_zoo.py.
CORE = ("reg", "reg+cls", "reg+cls-balanced", "reg-scaled", "cls-only")


# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _task(seed: int, n: int = 400, classes: int = 0, **fields) -> ModelTask:
    """1D sine regression in float64; with `classes`, equal-width labels and class centres."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    y = np.sin((5 + seed % 4) * x) + 0.3 * x
    xt, yt = torch.tensor(x).unsqueeze(1), torch.tensor(y)
    fields.setdefault("lr", 1e-2)
    if not classes:
        return ModelTask(xt, yt, seed, **fields)
    edges = np.linspace(y.min(), y.max(), classes + 1)
    labels = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, classes - 1)
    fields.setdefault("class_centres", torch.tensor((edges[:-1] + edges[1:]) / 2))
    return ModelTask(xt, yt, seed, labels=torch.tensor(labels), num_classes=classes, **fields)


def _rel_err(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)) for k in b)


def _settings(**changes) -> TrainSettings:
    return TrainSettings(**{"epochs": 3, "batch_size": 64, "dtype": "float64", **changes})


def test_registry_names_and_compositions():
    assert tuple(OBJECTIVES)[: len(CORE)] == CORE  # the others: tests/test_method_zoo.py,
    # tests/test_hca_fds.py
    assert objective("reg+cls").mse_weight(7.0) == 7.0  # Eq. 4: lam * MSE + CE
    assert objective("reg").mse_weight(7.0) == 1.0  # lam ignored
    assert objective("reg-scaled").mse_weight(7.0) == 7.0
    assert objective("reg-scaled").class_head is None
    assert objective("cls-only").mse_weight(7.0) == 0.0
    assert objective("cls-only").prediction == "class_expectation"
    assert objective("reg+cls-balanced").keep and not objective("reg+cls").keep
    with pytest.raises(ValueError, match=r"objective: must be one of \('reg', 'reg\+cls'"):
        objective("reg+lds")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mse": "half"}, "mse"),
        ({"class_head": "hard"}, "class_head"),
        ({"prediction": "median"}, "prediction"),
        ({"keep": True}, "class_head"),  # keep draws need a CE
        ({"mse": "none"}, "class_head"),  # nothing to minimise
        ({"prediction": "class_expectation"}, "class_head"),
    ],
)
def test_bad_objective_raises(fields, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        Objective("x", **fields)


def test_objective_inferred_like_before():
    assert _task(0).objective_spec.name == "reg"
    assert _task(0, lam=5.0).objective_spec.name == "reg"  # lam ignored without labels
    assert _task(0, classes=4).objective_spec.name == "reg+cls"
    balanced = _task(0, classes=4, keep_prob=torch.ones(400, dtype=F64))
    assert balanced.objective_spec.name == "reg+cls-balanced"


# The other objectives need fields of their own (weights, soft targets, class_levels, hca_rule,
# fds): their packed == single tests are in tests/test_method_zoo.py and tests/test_hca_fds.py.
@pytest.mark.parametrize("name", CORE)
@pytest.mark.parametrize("drop_last", [True, False])
def test_packed_equals_single_per_objective(name, drop_last):
    spec = objective(name)
    fields = {"objective": name, "lam": 6.0, "lr": 5e-3}
    if spec.keep:
        fields["keep_prob"] = torch.tensor(np.random.default_rng(3).uniform(0.2, 1.0, 430))
    classes = 24 if spec.class_head else 0
    # A reg model in the same pack, so every new objective also runs next to another one.
    tasks = [_task(1, 430, classes, **fields), _task(2, 400, lr=1e-2)]
    settings = _settings(drop_last=drop_last)
    packed = train_packed(tasks, settings)
    for i, task in enumerate(tasks):
        single = train_single(task, settings)
        assert _rel_err(packed.params[i], single.params[0]) < 1e-10, (name, i)
        assert float(packed.final_loss[i]) == pytest.approx(float(single.final_loss[0]), rel=1e-10)
        x = torch.linspace(-1, 1, 50, dtype=F64).unsqueeze(1)
        torch.testing.assert_close(packed.predict(x, i), single.predict(x, 0), rtol=1e-10, atol=0)
    init = init_params(1, 1, HIDDEN, classes, F64)
    assert _rel_err(packed.params[0], init) > 1e-3  # it trained


@pytest.mark.parametrize(("lam", "exact"), [(4.0, True), (10.0, False)])
def test_reg_scaled_is_reg_with_decay_and_eps_divided_by_lam(lam, exact):
    """Adam's scale invariance: the gradient of lam * MSE + wd * |w|^2 / 2 is lam times the one of
    MSE + (wd / lam) |w|^2 / 2, so Adam's m scales by lam and sqrt(v) by lam; with eps / lam too,
    every step is the same. A power-of-two lam scales every float exactly (bitwise equal)."""
    wd, eps = 1e-2, 1e-4  # an eps large enough to matter next to sqrt(v)
    scaled = [_task(s, objective="reg-scaled", lam=lam) for s in (3, 4)]
    plain = [_task(s, objective="reg") for s in (3, 4)]
    a = train_packed(scaled, _settings(weight_decay=wd, adam_eps=eps))
    b = train_packed(plain, _settings(weight_decay=wd / lam, adam_eps=eps / lam))
    for i in range(2):
        if exact:
            assert all(torch.equal(a.params[i][k], b.params[i][k]) for k in a.params[i])
        assert _rel_err(a.params[i], b.params[i]) < 1e-12, i
        # Its loss is lam times reg's (same weights, same batches).
        assert float(a.final_loss[i]) == pytest.approx(lam * float(b.final_loss[i]), rel=1e-12)
    # With the same wd and eps it is a different model: the control is not a no-op.
    same = train_packed(plain, _settings(weight_decay=wd, adam_eps=eps))
    assert _rel_err(a.params[0], same.params[0]) > 1e-6


@pytest.mark.parametrize("lam", [4.0, 10.0])
def test_under_sgd_reg_scaled_is_reg_with_lr_times_lam_and_decay_over_lam(lam):
    """What lambda stands in for under SGD (issue 22): the gradient of lam * MSE + wd |w|^2 / 2 is
    lam times that of MSE + (wd / lam) |w|^2 / 2, so the momentum buffer scales by lam and the
    step lr * buf equals (lr * lam) times the plain buffer: reg-tuned's `lr_scale` sweep."""
    wd, lr = 1e-2, 1e-3
    scaled = [_task(s, objective="reg-scaled", lam=lam, lr=lr) for s in (3, 4)]
    plain = [_task(s, objective="reg", lr=lr * lam) for s in (3, 4)]
    a = train_packed(scaled, _settings(optimizer="sgd", momentum=0.9, weight_decay=wd))
    b = train_packed(plain, _settings(optimizer="sgd", momentum=0.9, weight_decay=wd / lam))
    for i in range(2):
        assert _rel_err(a.params[i], b.params[i]) < 1e-12, i
        assert float(a.final_loss[i]) == pytest.approx(lam * float(b.final_loss[i]), rel=1e-12)
    # The same lr and decay give another model: under SGD lambda is not a no-op.
    same = train_packed(
        [_task(s, objective="reg", lr=lr) for s in (3, 4)],
        _settings(optimizer="sgd", momentum=0.9, weight_decay=wd),
    )
    assert _rel_err(a.params[0], same.params[0]) > 1e-3


def test_under_adamw_reg_scaled_is_reg_with_eps_over_lam():
    """Under AdamW the decay is decoupled from the gradient, so lam * MSE trains like MSE with
    eps / lam and the same lr and decay: lambda stands in for (almost) nothing (issue 22)."""
    lam, wd, eps = 10.0, 1e-2, 1e-4
    scaled = [_task(s, objective="reg-scaled", lam=lam) for s in (3, 4)]
    plain = [_task(s, objective="reg") for s in (3, 4)]
    a = train_packed(scaled, _settings(optimizer="adamw", weight_decay=wd, adam_eps=eps))
    b = train_packed(plain, _settings(optimizer="adamw", weight_decay=wd, adam_eps=eps / lam))
    for i in range(2):
        assert _rel_err(a.params[i], b.params[i]) < 1e-12, i
    # With the same eps it is another model (eps matters where sqrt(v) is small).
    same = train_packed(plain, _settings(optimizer="adamw", weight_decay=wd, adam_eps=eps))
    assert _rel_err(a.params[0], same.params[0]) > 1e-6


def test_init_seed_sets_only_the_initial_weights():
    tasks = [
        _task(3),
        _task(3, init_seed=11),
        _task(5, init_seed=11),
        _task(3, init_seed=3),
    ]
    start = train_packed(tasks, _settings(epochs=0))
    assert _rel_err(start.params[1], start.params[0]) > 0.1  # same seed, other init
    for a, b in ((1, 2), (0, 3)):  # equal init seeds -> equal weights
        assert all(torch.equal(start.params[a][k], start.params[b][k]) for k in start.params[a])
    for name, value in init_params(11, 1, HIDDEN, 0, F64).items():
        assert torch.equal(start.params[1][name], value)
    # Batches stay tied to `seed`: a pair differing only in init_seed, trained, matches the
    # single reference (which draws its batches from `seed` alone), and so does the pack.
    trained = train_packed(tasks[:2], _settings())
    for i in range(2):
        assert _rel_err(trained.params[i], train_single(tasks[i], _settings()).params[0]) < 1e-10


def test_cls_only_predicts_the_class_expectation():
    centres = torch.tensor([-2.0, 0.5, 1.0, 7.0], dtype=F64)
    tasks = [_task(6, classes=4, objective="cls-only", class_centres=centres), _task(7)]
    trained = train_packed(tasks, _settings())
    x = torch.tensor([[-0.9], [-0.2], [0.4], [1.3]], dtype=F64)
    # By hand: trunk, class logits, softmax, expectation of the centres.
    p = {k: v.numpy() for k, v in trained.params[0].items()}
    h = x.numpy()
    for i in range(len(HIDDEN)):
        h = np.maximum(h @ p[f"trunk.{i}.weight"].T + p[f"trunk.{i}.bias"], 0.0)
    logits = h @ p["cls.weight"].T + p["cls.bias"]
    soft = np.exp(logits - logits.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    expected = soft @ centres.numpy()
    np.testing.assert_allclose(trained.predict(x, index=0).numpy(), expected, rtol=1e-12)
    both = trained.predict(x)  # [K, N]: each model by its own rule
    np.testing.assert_allclose(both[0].numpy(), expected, rtol=1e-12)
    reg_head = h @ p["reg.weight"].T[:, 0] + p["reg.bias"]
    assert np.abs(both[0].numpy() - reg_head).max() > 1e-3  # not the regression head
    reg_pred = trained.params[1]
    torch.testing.assert_close(
        both[1], (_hidden(reg_pred, x) @ reg_pred["reg.weight"].T)[:, 0] + reg_pred["reg.bias"]
    )
    assert trained.class_logits(x, index=0).shape == (4, 4)


def test_cls_only_regression_head_gets_weight_decay_only():
    wd = 5e-2
    task = _task(8, classes=6, objective="cls-only")
    # Other targets, same labels: nothing of the model may change (no MSE gradient anywhere).
    other = _task(8, classes=6, objective="cls-only")
    other.y_train = other.y_train * 100.0 + 3.0
    settings = _settings(weight_decay=wd)
    trained = train_packed([task, other], settings)
    for name, value in trained.params[0].items():
        assert torch.equal(value, trained.params[1][name]), name
    # The regression head moved exactly as Adam on the decay term alone moves it.
    init = init_params(8, 1, HIDDEN, 6, F64)
    head = [init["reg.weight"].clone().requires_grad_(), init["reg.bias"].clone().requires_grad_()]
    adam = torch.optim.Adam(head, lr=task.lr, weight_decay=wd)
    for _ in range(settings.epochs * (400 // settings.batch_size)):
        for param in head:
            param.grad = torch.zeros_like(param)
        adam.step()
    decayed = head[0].detach()
    torch.testing.assert_close(trained.params[0]["reg.weight"], decayed, rtol=1e-12, atol=0)
    assert not trained.params[0]["reg.bias"].any()  # zero init, zero gradient, zero decay
    assert _rel_err(trained.params[0], init) > 1e-3  # the trunk and class head did train
    # Without decay the regression head does not move at all.
    still = train_packed([task], _settings(weight_decay=0.0))
    assert torch.equal(still.params[0]["reg.weight"], init["reg.weight"])


def test_per_model_weight_decay():
    decays = {1: 0.0, 2: 1e-3, 3: 5e-2}  # seed -> the model's weight decay
    tasks = [_task(s, classes=8, lam=3.0, weight_decay=d) for s, d in decays.items()]
    packed = train_packed(tasks, _settings())
    for task, params in zip(tasks, packed.params, strict=True):
        alone = train_packed([task], _settings())  # one value: the scalar path
        assert _rel_err(params, alone.params[0]) < 1e-12
        assert _rel_err(params, train_single(task, _settings()).params[0]) < 1e-10
    # One shared override is the same as the settings value (bitwise: the same scalar op).
    same = train_packed([_task(1, weight_decay=5e-2)], _settings())
    base = train_packed([_task(1)], _settings(weight_decay=5e-2))
    assert all(torch.equal(same.params[0][k], base.params[0][k]) for k in base.params[0])
    assert _rel_err(packed.params[0], packed.params[2]) > 1e-3


def test_mse_term_and_gradient():
    # scale * sum_b w_b (pred - y)^2 with w = valid / n, and its exact gradient.
    diff = torch.tensor([[1.0, -2.0, 3.0, 5.0], [0.5, 0.5, -1.0, math.inf]], dtype=F64)
    valid = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]], dtype=F64)
    weight = torch.tensor([[1.0, 2.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]], dtype=F64)
    w = batch_weights(valid, weight)
    torch.testing.assert_close(w[0], torch.tensor([1, 2, 1, 0], dtype=F64) / 3)
    loss, d_pred = MSETerm(torch.tensor([10.0, 0.0], dtype=F64))(diff, w)
    assert float(loss[0]) == pytest.approx(10 * (1 + 8 + 9) / 3)
    torch.testing.assert_close(d_pred[0], torch.tensor([20, -80, 60, 0], dtype=F64) / 3)
    # A model without the term: exactly zero, even for a non-finite prediction.
    assert float(loss[1]) == 0.0 and not d_pred[1].any()


def _hidden(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    h = x
    for i in range(len(HIDDEN)):
        h = torch.relu(h @ params[f"trunk.{i}.weight"].T + params[f"trunk.{i}.bias"])
    return h
