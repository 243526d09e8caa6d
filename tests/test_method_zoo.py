"""The regression-by-classification family (issue 10): every variant trained packed equals the
autograd reference `train_single` (float64, 1e-10), alone and mixed in one pack; the loss pieces,
weights and soft targets against values computed by hand; bad input fails in one line."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from regcls.data.reweighting import denseweight_weights, lds_kernel_window, lds_weights
from regcls.data.soft_targets import hl_gauss_targets, soft_group_targets
from regcls.methods import (
    METHODS,
    MethodConfig,
    build_method_task,
    distill_method_models,
    method_columns,
    split_packs,
)
from regcls.models.mlp import init_params
from regcls.objectives.balanced_mse import BMCTerm
from regcls.objectives.focal import FocalTerm
from regcls.training.packed import train_packed
from regcls.training.single import distill_single, train_single
from regcls.training.tasks import ModelTask, TrainSettings

F64 = torch.float64
ZOO = (
    "reg-lds",
    "reg-focal",
    "reg-bmc",
    "reg-denseweight",
    "reg+hlgauss",
    "reg+softlabel",
    "reg-lds+cls",
    "hlgauss",
    "reg-inv",
    "reg-inv+fds",
)
# The HCA / FDS variants (hca-d's stage 1 is an hca model; its stage 2: test_hca_d_via_methods).
HCA_FDS = ("hca", "hca+lds", "reg+hca", "reg-fds", "hca-d")

# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(seed: int, n: int):
    """Imbalanced 1D data: most x near 0.3, y = sine; float64 tensors."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    x = np.where(rng.random(n) < 0.6, rng.normal(0.3, 0.08, n).clip(-1, 1), x)
    y = np.sin((4 + seed % 3) * x) + 0.3 * x
    return torch.tensor(x).unsqueeze(1), torch.tensor(y)


def _task(variant: str, seed: int, n: int = 400, classes: int = 12, **hyper) -> ModelTask:
    x, y = _data(seed, n)
    config = MethodConfig(variant, **hyper)
    fields = {"seed": seed, "lr": 1e-2, "lam": 0.3 + 0.1 * seed}  # not float32-exact
    if config.has_classes:
        edges = torch.linspace(float(y.min()), float(y.max()), classes + 1, dtype=F64)
        labels = (torch.searchsorted(edges, y, right=True) - 1).clamp(0, classes - 1)
        fields.update(edges=edges, labels=labels)
        if config.pack_group != "hierarchical":  # hca*: HCA's class means by default
            fields["class_centres"] = (edges[1:] + edges[:-1]) / 2
    return build_method_task(config, x_train=x, y_train=y, **fields)


def _settings(**changes) -> TrainSettings:
    return TrainSettings(**{"epochs": 3, "batch_size": 64, "dtype": "float64", **changes})


def _rel_err(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)) for k in b)


def _val_mse(trained, index: int) -> float:
    x, y = _data(99, 300)
    pred = trained.predict(x.to(trained.params[index]["reg.weight"].dtype), index)
    return float(((pred.double() - y) ** 2).mean())


def _assert_packed_equals_single(
    tasks: list[ModelTask], settings: TrainSettings, tol: float = 1e-10
) -> float:
    """Packed == single per task; returns the largest parameter relative difference."""
    packed = train_packed(tasks, settings)
    assert not packed.diverged.any()
    worst = 0.0
    for i, task in enumerate(tasks):
        single = train_single(task, settings)
        err = _rel_err(packed.params[i], single.params[0])
        worst = max(worst, err)
        assert err < tol, (task.objective, i)
        assert _val_mse(packed, i) == pytest.approx(_val_mse(single, 0), rel=tol, abs=0)
        assert float(packed.final_loss[i]) == pytest.approx(float(single.final_loss[0]), rel=tol)
        if task.objective == "reg-bmc":  # the (learned or fixed) noise sigma too
            sigma = float(packed.bmc_sigma[i])
            assert sigma == pytest.approx(float(single.bmc_sigma[0]), rel=tol)
            assert (sigma != task.bmc_sigma) == task.bmc_sigma_learned
        else:
            assert packed.bmc_sigma is None or math.isnan(float(packed.bmc_sigma[i]))
        if task.fds is not None:  # FDS statistics too
            for name, value in single.fds_stats[0].items():
                torch.testing.assert_close(
                    packed.fds_stats[i][name], value, rtol=tol, atol=tol, msg=name
                )
    return worst


# Per variant, three models of different seeds, sizes and hyperparameters.
VARIANT_HYPER = {
    "reg-lds": [{}, {"lds_kernel": "triangular", "lds_inverse": "inverse"}, {"lds_bins": 20}],
    "reg-focal": [{}, {"focal_activation": "tanh", "focal_gamma": 0.5, "focal_beta": 2.0}, {}],
    "reg-bmc": [
        {},
        {"bmc_sigma": 0.3, "bmc_sigma_learned": False},
        {"bmc_sigma": 3.0, "bmc_sigma_lr": 0.05},
    ],
    "reg-denseweight": [{}, {"denseweight_alpha": 0.5}, {"denseweight_bandwidth": "scott"}],
    "reg+hlgauss": [{}, {"hlgauss_sigma_ratio": 2.0}, {}],
    "reg+softlabel": [{}, {"softlabel_beta": 0.3}, {}],
    "reg-lds+cls": [{}, {"lds_kernel": "laplace", "lds_sigma": 1.0}, {}],
    "hca": [{}, {"hca_rule": "mul"}, {"hca_heads": 3}],
    "hca+lds": [{}, {"hca_rule": "mul", "lds_inverse": "inverse"}, {"lds_bins": 20}],
    "reg+hca": [{}, {"hca_heads": 2}, {}],
    "reg-fds": [
        {"fds_bins": 20},
        {"fds_kernel": "laplace", "fds_momentum": 0.5, "fds_start_epoch": 2},
        {"fds_bins": 12, "fds_stats_from": "raw", "fds_clip_max": 2.0},
    ],
    "hca-d": [{}, {"hca_heads": 2}, {}],
    "hlgauss": [{}, {"hlgauss_sigma_ratio": 2.0}, {}],
    "reg-inv": [{}, {"lds_bins": 20}, {"lds_bins": 7}],
    "reg-inv+fds": [{"fds_bins": 20}, {"lds_bins": 20, "fds_empty_bins": "keep"}, {}],
}


@pytest.mark.parametrize("variant", ZOO + HCA_FDS)
@pytest.mark.parametrize("drop_last", [True, False])
def test_packed_equals_single_per_variant(variant, drop_last):
    hyper = VARIANT_HYPER[variant]
    tasks = [_task(variant, 1, 430, **hyper[0]), _task(variant, 2, 400, 8, **hyper[1])]
    # Fewer samples: fewer steps per epoch than the others (frozen steps in the pack).
    tasks.append(_task(variant, 3, 300, 20, **hyper[2]))
    _assert_packed_equals_single(tasks, _settings(drop_last=drop_last))


@pytest.mark.parametrize(
    ("drop_last", "dtype", "tol"),
    [(True, "float64", 1e-10), (False, "float64", 1e-10), (True, "float32", 1e-4)],
)
def test_mixed_pack_of_every_variant(drop_last, dtype, tol):
    """Regression variants, one-hot and soft-target class heads, different class counts and
    sizes in one pack: the soft head runs one-hot rows for reg+cls and reg-lds+cls."""
    tasks = [_task("reg", 0, 430), _task("reg+cls", 4, 400, 6)]
    tasks += [_task(v, 10 + i, 400 + 10 * i, 6 + 2 * i) for i, v in enumerate(ZOO)]
    tasks.append(_task("reg-bmc", 20, 300, bmc_sigma_learned=False))  # fewer steps, fixed sigma
    tasks.append(_task("reg-fds", 21, 350, fds_bins=20))  # FDS next to the soft head
    _assert_packed_equals_single(tasks, _settings(drop_last=drop_last, dtype=dtype), tol)


@pytest.mark.parametrize(
    ("drop_last", "dtype", "tol"),
    [(True, "float64", 1e-10), (False, "float64", 1e-10), (True, "float32", 1e-4)],
)
def test_mixed_pack_of_every_variant_that_shares_a_hierarchical_pack(drop_last, dtype, tol):
    """One model of every variant that can join a hierarchical head's pack (all but the soft-target
    ones): no head, one-hot heads (one-level hierarchies), HCA heads of different depths, LDS
    weights on the MSE and on the CEs, Focal-R, BMC, FDS; float64, packed == single."""
    variants = [v for v in METHODS if MethodConfig(v).pack_group != "soft"]
    assert set(variants) >= set(HCA_FDS) and "reg+hlgauss" not in variants
    tasks = [_task(v, 30 + i, 380 + 10 * i, 6 + 2 * i) for i, v in enumerate(variants)]
    tasks.append(_task("reg-bmc", 20, 300, bmc_sigma_learned=True))  # fewer steps
    worst = _assert_packed_equals_single(tasks, _settings(drop_last=drop_last, dtype=dtype), tol)
    print(f"mixed hierarchical pack ({len(tasks)} models, {dtype}): max param rel diff {worst:.2e}")


def test_soft_and_hierarchical_heads_need_their_own_packs():
    configs = [MethodConfig(v) for v in ("reg+hlgauss", "reg", "hca", "reg+cls", "reg+softlabel")]
    assert [c.pack_group for c in configs] == ["soft", None, "hierarchical", None, "soft"]
    assert split_packs(configs) == [[0, 1, 3, 4], [2]]
    assert split_packs([MethodConfig("reg"), MethodConfig("reg-fds")]) == [[0, 1]]
    assert split_packs([MethodConfig("reg+hca"), MethodConfig("reg")]) == [[0, 1]]
    tasks = [_task(c.variant, 1 + i) for i, c in enumerate(configs)]
    message = r"^tasks: soft and hierarchical heads need own packs, got \['hierarchical', 'soft'\]$"
    with pytest.raises(ValueError, match=message):
        train_packed(tasks, _settings(epochs=1))
    for pack in split_packs(configs):  # the split packs train, each equal to the reference
        _assert_packed_equals_single([tasks[i] for i in pack], _settings(epochs=2))


def test_hca_lds_weights_every_levels_ce():
    """hca+lds with unit weights is hca exactly; with LDS weights it trains a different model,
    and its first-step loss is the weighted sum of the levels' CEs, by hand."""
    plain, weighted = _task("hca", 3), _task("hca+lds", 3)
    assert weighted.sample_weight is not None and plain.sample_weight is None
    assert torch.equal(plain.class_levels, weighted.class_levels)
    unit = _task("hca+lds", 3)
    unit.sample_weight = torch.ones(400, dtype=F64)
    trained = train_packed([plain, unit, weighted], _settings())
    assert torch.equal(trained.params[0]["cls.weight"], trained.params[1]["cls.weight"])
    assert _rel_err(trained.params[2], trained.params[0]) > 1e-4
    # One step of one batch = the whole set: loss = sum_h mean_i w_i CE_h,i at the init.
    settings = _settings(epochs=1, batch_size=400)
    first = train_packed([weighted], settings)
    seed, head = weighted.seed, weighted.head_width
    init = init_params(seed, 1, settings.hidden, head, F64, weighted.class_blocks)
    h = weighted.x_train
    for i in range(2):
        h = torch.relu(h @ init[f"trunk.{i}.weight"].T + init[f"trunk.{i}.bias"])
    logits = h @ init["cls.weight"].T + init["cls.bias"]
    w, labels, start, expected = weighted.sample_weight, weighted.labels, 0, 0.0
    targets = [labels] + [level[labels] for level in weighted.class_levels]
    for target in targets:
        size = int(target.max()) + 1 if start else weighted.num_classes
        ce = F.cross_entropy(logits[:, start : start + size], target, reduction="none")
        expected += float((w * ce).mean())
        start += size
    assert float(first.final_loss[0]) == pytest.approx(expected, rel=1e-12)


def test_hca_d_via_methods_two_stages():
    configs = [MethodConfig("hca-d"), MethodConfig("hca-d", hca_heads=2)]
    assert all(c.needs_distillation for c in configs) and not MethodConfig("hca").needs_distillation
    tasks = [_task("hca-d", 1, 400, 12), _task("hca-d", 2, 350, 10, hca_heads=2)]
    settings = _settings(epochs=3)
    stage1 = train_packed(tasks, settings)
    distilled = distill_method_models(configs, tasks, stage1, settings)
    assert distilled.epochs_trained.tolist() == [1, 1]  # ceil(0.2 * 3)
    for i, task in enumerate(tasks):
        single = distill_single(task, stage1.params[i], settings, epochs=1)
        assert _rel_err(distilled.heads[i], single.heads[0]) < 1e-10
    with pytest.raises(ValueError, match=r"^variant: 'hca' has no second stage"):
        distill_method_models([MethodConfig("hca")] * 2, tasks, stage1, settings)
    mixed = [MethodConfig("hca-d", distill_epochs=2), MethodConfig("hca-d")]
    with pytest.raises(ValueError, match=r"^distill_epochs: one value per stage-2 pack"):
        distill_method_models(mixed, tasks, stage1, settings)
    two = distill_method_models(
        [MethodConfig("hca-d", distill_epochs=2)] * 2, tasks, stage1, settings
    )
    assert two.epochs_trained.tolist() == [2, 2]


@pytest.mark.parametrize(("optimizer", "momentum"), [("adamw", 0.9), ("sgd", 0.9)])
def test_learned_sigma_and_distillation_follow_the_optimizer(optimizer, momentum):
    """BMC's learned sigma is a param group of the model's optimiser (Ren et al.), HCA-d's second
    stage a fresh one of the same kind: packed == single under AdamW and SGD too."""
    settings = _settings(optimizer=optimizer, momentum=momentum)
    bmc = [
        _task("reg-bmc", 1, 430, bmc_sigma_learned=True),
        _task("reg-bmc", 2, 300, bmc_sigma=0.3, bmc_sigma_learned=False),  # fixed, fewer steps
        _task("reg", 3, 400),
    ]
    _assert_packed_equals_single(bmc, settings)
    tasks = [_task("hca-d", 1, 400, 12), _task("hca-d", 2, 350, 10, hca_heads=2)]
    stage1 = train_packed(tasks, settings)
    distilled = distill_method_models([MethodConfig("hca-d")] * 2, tasks, stage1, settings)
    for i, task in enumerate(tasks):
        single = distill_single(task, stage1.params[i], settings, epochs=1)
        assert _rel_err(distilled.heads[i], single.heads[0]) < 1e-10


def test_hca_defaults_to_class_means_and_the_papers_heads():
    task = _task("hca", 1, 400, 12)
    y, labels = task.y_train, task.labels
    for c in range(12):
        if bool((labels == c).any()):
            assert float(task.class_centres[c]) == pytest.approx(float(y[labels == c].mean()))
    assert task.class_levels.shape == (3, 12)  # H = 4 (12 <= 2^4): levels of 2, 4, 8 classes
    assert task.hca_rule == "add" and task.prediction_rule == "hca_add"
    assert _task("hca", 1, 400, 12, hca_heads=2).class_levels.shape == (1, 12)
    assert _task("reg+hca", 1, 400, 12).hca_rule is None
    with pytest.raises(ValueError, match=r"^hca_heads: must be an integer in \[1, 4\] for C=12$"):
        _task("hca", 1, 400, 12, hca_heads=5)


def test_reg_and_regression_variants_share_a_pack_without_class_head():
    tasks = [_task(v, 5) for v in ("reg", "reg-lds", "reg-focal", "reg-denseweight", "reg-bmc")]
    trained = train_packed(tasks, _settings())
    assert "cls.weight" not in trained.params[0]
    # Same data, seed and init: each variant trains a different model from reg's.
    for i in range(1, len(tasks)):
        assert _rel_err(trained.params[i], trained.params[0]) > 1e-4, tasks[i].objective
    _assert_packed_equals_single(tasks, _settings())


def test_variants_do_what_they_say():
    # reg-focal with gamma 0 is reg; reg-lds with unit weights is reg (same steps, to rounding).
    reg = train_packed([_task("reg", 6)], _settings())
    focal0 = train_packed([_task("reg-focal", 6, focal_gamma=0.0)], _settings())
    assert _rel_err(focal0.params[0], reg.params[0]) < 1e-12
    flat = _task("reg-lds", 6)
    flat.sample_weight = torch.ones_like(flat.sample_weight)
    assert _rel_err(train_packed([flat], _settings()).params[0], reg.params[0]) < 1e-12
    # reg+softlabel with beta -> large is reg+cls (one-hot targets), up to e^-beta.
    soft = train_packed([_task("reg+softlabel", 6, softlabel_beta=60.0)], _settings())
    hard = train_packed([_task("reg+cls", 6)], _settings())
    assert _rel_err(soft.params[0], hard.params[0]) < 1e-12


# --- hand values -------------------------------------------------------------------------------


def test_lds_weights_on_a_known_histogram():
    edges = torch.arange(6, dtype=F64)  # bins [0,1), ..., [4,5]
    y = torch.tensor([0.1, 0.5, 0.2, 0.9, 1.5, 4.5], dtype=F64)  # counts [4, 1, 0, 0, 1]
    # Triangular size 3 = [0.5, 1, 0.5], zero padding: effective counts [4.5, 3, 0.5, 0.5, 1];
    # weights 1/4.5 (x4), 1/3, 1, rescaled to mean 1: scaling 6 / (4/4.5 + 1/3 + 1) = 2.7.
    w = lds_weights(y, edges, "triangular", 3, 1.0, "inverse")
    torch.testing.assert_close(w, torch.tensor([0.6] * 4 + [0.9, 2.7], dtype=F64))
    # sqrt_inv smooths the roots [2, 1, 0, 0, 1]: [2.5, 2, ., ., 1] -> [0.4, 0.5, 1] * 6 / 3.1.
    w = lds_weights(y, edges, "triangular", 3, 1.0, "sqrt_inv")
    torch.testing.assert_close(w, torch.tensor([0.4] * 4 + [0.5, 1.0], dtype=F64) * 6 / 3.1)
    # Laplace size 3, sigma 1: window [1/e, 1, 1/e].
    e = math.exp(-1.0)
    w = lds_weights(y, edges, "laplace", 3, 1.0, "inverse")
    raw = [1 / (4 + e)] * 4 + [1 / (4 * e + 1), 1.0]
    torch.testing.assert_close(w, torch.tensor(raw, dtype=F64) * 6 / sum(raw))
    assert float(w.mean()) == pytest.approx(1.0, rel=1e-14)


def test_lds_gaussian_window_is_the_reference_codes():
    # The digest's window of the authors' code for size 5, sigma 2 (max-normalised, reflected).
    window = lds_kernel_window("gaussian", 5, 2.0)
    np.testing.assert_allclose(window, [0.858, 0.946, 1.0, 0.946, 0.858], atol=5e-4)
    np.testing.assert_allclose(
        lds_kernel_window("triangular", 5, 2.0), [1 / 3, 2 / 3, 1, 2 / 3, 1 / 3]
    )


def test_hl_gauss_target_on_a_known_grid():
    def phi(z: float) -> float:
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))

    edges = torch.tensor([0.0, 1.0, 2.0, 4.0], dtype=F64)
    y = torch.tensor([0.5, 3.0], dtype=F64)
    q = hl_gauss_targets(y, edges, sigma=0.75)
    for row, value in enumerate((0.5, 3.0)):
        mass = [
            phi((b - value) / 0.75) - phi((a - value) / 0.75) for a, b in ((0, 1), (1, 2), (2, 4))
        ]
        expected = torch.tensor(mass, dtype=F64) / sum(mass)
        torch.testing.assert_close(q[row], expected, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(q.sum(1), torch.ones(2, dtype=F64), rtol=0, atol=1e-15)
    # A target at the centre of a symmetric grid gets a symmetric target.
    mid = hl_gauss_targets(torch.tensor([1.5], dtype=F64), torch.arange(4, dtype=F64), 0.6)[0]
    assert float(mid[0]) == pytest.approx(float(mid[2]), rel=1e-12) and mid[1] > mid[0]


def test_soft_group_targets_by_hand():
    q = soft_group_targets(torch.tensor([0, 1]), 3, beta=1.0)
    # softmax of [G, G-1, G-2] and [G-1, G, G-1] with G = 3.
    a = np.exp([3.0, 2.0, 1.0])
    b = np.exp([2.0, 3.0, 2.0])
    np.testing.assert_allclose(q.numpy(), np.stack([a / a.sum(), b / b.sum()]), rtol=1e-14)


def test_bmc_on_a_batch_of_two():
    p1, p2, y1, y2, sigma = 0.3, -0.4, 0.1, 0.8, 0.5
    s = sigma * sigma
    z = [[-((p - t) ** 2) / (2 * s) for t in (y1, y2)] for p in (p1, p2)]
    ce = [math.log(math.exp(r[0]) + math.exp(r[1])) - r[i] for i, r in enumerate(z)]
    expected_loss = 2 * s * (ce[0] + ce[1]) / 2
    q = [[math.exp(v) / (math.exp(r[0]) + math.exp(r[1])) for v in r] for r in z]
    expected_grad = [q[0][0] * y1 + q[0][1] * y2 - y1, q[1][0] * y1 + q[1][1] * y2 - y2]  # 2/n = 1
    # Row 1 of a two-model pack, with a third padded sample (weight 0) that must not count.
    pred = torch.tensor([[p1, p2, 7.0]], dtype=F64)
    y = torch.tensor([[0.0, 0.0, 0.0], [y1, y2, -9.0]], dtype=F64)
    w = torch.tensor([[1 / 3] * 3, [0.5, 0.5, 0.0]], dtype=F64)
    loss, d_pred = torch.zeros(2, dtype=F64), torch.zeros(2, 3, dtype=F64)
    BMCTerm([1], torch.ones(2, dtype=F64), [sigma])(pred, y, w, loss, d_pred)
    assert float(loss[1]) == pytest.approx(expected_loss, rel=1e-14)
    torch.testing.assert_close(d_pred[1], torch.tensor([*expected_grad, 0.0], dtype=F64))
    assert float(loss[0]) == 0.0 and not d_pred[0].any()  # other rows untouched
    # Autograd on Ren et al.'s form agrees.
    p = torch.tensor([p1, p2], dtype=F64, requires_grad=True)
    target = torch.tensor([y1, y2], dtype=F64)
    ref = F.cross_entropy(-((p[:, None] - target[None]) ** 2) / (2 * s), torch.arange(2)) * 2 * s
    ref.backward()
    assert float(ref.detach()) == pytest.approx(expected_loss, rel=1e-14)
    torch.testing.assert_close(p.grad, d_pred[1, :2])
    # Learned sigma: dL/dsigma with the 2 sigma^2 factor held fixed, by hand:
    # 2 sigma * (2 sigma^2 / n) * sum_i dCE_i/d(var), dCE_i/d(var) = (z_ii - sum_j q_ij z_ij) / var.
    gap = [z[i][i] - sum(q[i][j] * z[i][j] for j in range(2)) for i in range(2)]
    expected_d_sigma = 2 * sigma * (2 * s / 2) * sum(g / s for g in gap)
    term = BMCTerm([1], torch.ones(2, dtype=F64), [sigma], learned=True)
    term(pred, y, w, loss, d_pred)
    assert float(term.grad_sigma[0]) == pytest.approx(expected_d_sigma, rel=1e-13)
    noise = torch.tensor(sigma, dtype=F64, requires_grad=True)
    var = noise**2
    logits = -((p.detach()[:, None] - target[None]) ** 2) / (2 * var)
    (F.cross_entropy(logits, torch.arange(2)) * (2 * var).detach()).backward()
    assert float(noise.grad) == pytest.approx(expected_d_sigma, rel=1e-13)


@pytest.mark.parametrize(("activation", "gamma"), [("sigmoid", 1.0), ("tanh", 0.5), ("tanh", 2.0)])
@pytest.mark.parametrize("e", [1.5, -0.7])
def test_focal_weight_and_gradient_on_a_scalar(activation, gamma, e):
    beta = 0.2 if activation == "sigmoid" else 1.3
    t = beta * abs(e)
    if activation == "sigmoid":
        sig = 1 / (1 + math.exp(-t))
        a, da = 2 * sig - 1, 2 * beta * sig * (1 - sig)
    else:
        a, da = math.tanh(t), beta * (1 - math.tanh(t) ** 2)
    expected_loss = e * e * a**gamma
    expected_grad = 2 * e * a**gamma + e * e * gamma * a ** (gamma - 1) * da * math.copysign(1, e)
    diff = torch.tensor([[e]], dtype=F64)
    w = torch.ones(1, 1, dtype=F64)
    loss, d_pred = torch.zeros(1, dtype=F64), torch.zeros(1, 1, dtype=F64)
    FocalTerm([0], torch.ones(1, dtype=F64), [beta], [gamma], [activation])(diff, w, loss, d_pred)
    assert float(loss[0]) == pytest.approx(expected_loss, rel=1e-14)
    assert float(d_pred[0, 0]) == pytest.approx(expected_grad, rel=1e-14)


def test_focal_gradient_is_zero_at_zero_error():
    diff = torch.zeros(1, 2, dtype=F64)
    loss, d_pred = torch.ones(1, dtype=F64), torch.ones(1, 2, dtype=F64)
    FocalTerm([0], torch.ones(1, dtype=F64), [0.2], [0.5], ["tanh"])(
        diff, torch.full((1, 2), 0.5, dtype=F64), loss, d_pred
    )
    assert float(loss[0]) == 0.0 and torch.equal(d_pred, torch.zeros(1, 2, dtype=F64))


def test_denseweight_on_a_tiny_sample_against_a_hand_kde():
    values = [0.0, 1.0, 3.0]
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    h2 = var * (n * 3 / 4) ** (-2 / 5)  # SciPy's Silverman factor (d = 1), squared
    density = [
        sum(math.exp(-((a - b) ** 2) / (2 * h2)) for b in values)
        / (n * math.sqrt(2 * math.pi * h2))
        for a in values
    ]
    low, high = min(density), max(density)
    for alpha in (0.5, 1.0, 3.0):
        raw = [max(1 - alpha * (p - low) / (high - low), 1e-6) for p in density]
        expected = torch.tensor(raw, dtype=F64) / (sum(raw) / n)
        got = denseweight_weights(torch.tensor(values, dtype=F64), alpha)
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    # alpha = 1: the densest target gets eps before rescaling; alpha = 0: all ones.
    assert float(got.min()) < 1e-5
    assert torch.equal(
        denseweight_weights(torch.tensor(values, dtype=F64), 0.0), torch.ones(3, dtype=F64)
    )


# --- configs, columns, errors ------------------------------------------------------------------


def test_method_columns_record_only_the_variants_hyperparameters():
    row = method_columns(MethodConfig("reg-lds"))
    assert row["variant"] == "reg-lds"
    assert (row["lds_kernel"], row["lds_size"], row["lds_sigma"], row["lds_inverse"]) == (
        "gaussian",
        5,
        2.0,
        "sqrt_inv",
    )
    assert row["focal_beta"] is None and row["bmc_sigma"] is None
    assert row["hlgauss_sigma_ratio"] is None and row["softlabel_beta"] is None
    focal = method_columns(MethodConfig("reg-focal"))
    assert (focal["focal_beta"], focal["focal_gamma"], focal["focal_activation"]) == (
        0.2,
        1.0,
        "sigmoid",
    )
    assert focal["lds_kernel"] is None
    # Every variant gives the same columns (one schema for every row).
    keys = {tuple(method_columns(MethodConfig(v))) for v in METHODS}
    assert len(keys) == 1
    assert all(v is None for k, v in method_columns(MethodConfig("reg")).items() if k != "variant")
    assert method_columns(MethodConfig("reg+hlgauss"))["hlgauss_sigma_ratio"] == 0.75
    # Ren et al.'s code: sigma learned from 1.0 at lr 1e-2; fixed, it has no learning rate.
    bmc = method_columns(MethodConfig("reg-bmc"))
    assert (bmc["bmc_sigma"], bmc["bmc_sigma_learned"], bmc["bmc_sigma_lr"]) == (1.0, True, 0.01)
    fixed = method_columns(MethodConfig("reg-bmc", bmc_sigma_learned=False))
    assert fixed["bmc_sigma_lr"] is None
    with_lam = {v for v in METHODS if MethodConfig(v).uses_lam}
    assert with_lam == {"reg+cls", "reg+hlgauss", "reg+softlabel", "reg-lds+cls", "reg+hca"}
    assert {v for v in METHODS if MethodConfig(v).has_classes} == with_lam | {
        "hca",
        "hca+lds",
        "hca-d",
        "hlgauss",
    }
    hca = method_columns(MethodConfig("hca", hca_rule="mul", hca_heads=3))
    assert (hca["hca_rule"], hca["hca_heads"], hca["lds_kernel"], hca["fds_bins"]) == (
        "mul",
        3,
        None,
        None,
    )
    hca_lds = method_columns(MethodConfig("hca+lds"))
    assert (hca_lds["hca_rule"], hca_lds["lds_inverse"], hca_lds["distill_epochs"]) == (
        "add",
        "sqrt_inv",
        None,
    )
    assert method_columns(MethodConfig("reg+hca"))["hca_rule"] is None
    assert method_columns(MethodConfig("hca-d"))["hca_rule"] is None
    assert method_columns(MethodConfig("hca-d", distill_epochs=4))["distill_epochs"] == 4
    fds = method_columns(MethodConfig("reg-fds", fds_ks=3))
    fds_cols = {k: v for k, v in fds.items() if k.startswith("fds_")}
    assert fds_cols == {
        "fds_bins": 100,
        "fds_kernel": "gaussian",
        "fds_ks": 3,
        "fds_sigma": 2.0,
        "fds_momentum": 0.9,
        "fds_start_update": 0,
        "fds_start_epoch": 1,
        "fds_clip_min": 0.1,
        "fds_clip_max": 10.0,
        "fds_stats_from": "calibrated",
        "fds_empty_bins": "neighbours",
    }
    assert all(method_columns(MethodConfig("hca"))[k] is None for k in fds_cols)
    # INV records its bins, none of LDS's smoothing; INV + FDS its bins and FDS.
    inv = method_columns(MethodConfig("reg-inv+fds", lds_bins=50))
    assert inv["lds_bins"] == 50 and inv["fds_bins"] == 100
    assert [inv[k] for k in ("lds_kernel", "lds_size", "lds_sigma", "lds_inverse")] == [None] * 4
    assert method_columns(MethodConfig("hlgauss"))["hlgauss_sigma_ratio"] == 0.75


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variant": "reg-fancy"}, r"^variant: must be one of \('reg', "),
        ({"lds_kernel": "box"}, r"^lds_kernel: must be one of \('gaussian', 'triangular'"),
        ({"lds_inverse": "log"}, r"^lds_inverse: must be one of"),
        ({"lds_size": 4}, r"^lds_size: must be an odd int"),
        ({"lds_bins": 0}, r"^lds_bins: must be an int >= 1"),
        ({"focal_activation": "relu"}, r"^focal_activation: must be one of \('sigmoid', 'tanh'\)"),
        ({"focal_beta": 0.0}, r"^focal_beta: must be finite and > 0"),
        ({"focal_gamma": -1.0}, r"^focal_gamma: must be finite and >= 0"),
        ({"bmc_sigma": math.nan}, r"^bmc_sigma: must be finite and > 0"),
        ({"bmc_sigma_learned": 1}, r"^bmc_sigma_learned: must be a bool"),
        ({"bmc_sigma_lr": 0.0}, r"^bmc_sigma_lr: must be finite and > 0"),
        ({"denseweight_bandwidth": "isj"}, r"^denseweight_bandwidth: must be one of"),
        ({"hlgauss_sigma_ratio": -0.5}, r"^hlgauss_sigma_ratio: must be finite and > 0"),
        ({"softlabel_form": "asymmetric"}, r"^softlabel_form: must be one of \('symmetric',\)"),
        ({"hca_rule": "max"}, r"^hca_rule: must be one of \('add', 'mul'\)"),
        ({"hca_heads": 0}, r"^hca_heads: must be None or an int >= 1"),
        ({"distill_epochs": 1.5}, r"^distill_epochs: must be None or an int >= 1"),
        ({"fds_kernel": "box"}, r"^fds_kernel: must be one of"),
        ({"fds_ks": 4}, r"^fds_ks: must be an odd integer"),
        ({"fds_stats_from": "both"}, r"^fds_stats_from: must be one of"),
        ({"fds_empty_bins": "zero"}, r"^fds_empty_bins: must be one of \('neighbours', 'keep'\)"),
    ],
)
def test_bad_config_raises_one_line(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        MethodConfig(**{"variant": "reg", **changes})
    assert "\n" not in str(error.value)


def test_bad_tasks_raise_one_line():
    def fails(task: ModelTask, message: str) -> None:
        with pytest.raises(ValueError, match=message) as error:
            train_packed([task], _settings(epochs=1))
        assert "\n" not in str(error.value)

    lds = _task("reg-lds", 1)
    lds.sample_weight = None
    fails(lds, r"^tasks\[0\]\.sample_weight: must be finite > 0 \[N=400\]")
    lds.sample_weight = -torch.ones(400, dtype=F64)
    fails(lds, r"^tasks\[0\]\.sample_weight: must be finite > 0")
    reg = _task("reg", 1)
    reg.sample_weight = torch.ones(400, dtype=F64)
    fails(reg, r"^tasks\[0\]\.sample_weight: objective 'reg' has no weights; give None")
    focal = _task("reg-focal", 1)
    focal.focal_activation = "relu"
    fails(focal, r"^tasks\[0\]\.focal_activation: must be one of \('sigmoid', 'tanh'\)")
    bmc = _task("reg-bmc", 1, bmc_sigma_learned=True)
    bmc.bmc_sigma_lr = -1.0
    fails(bmc, r"^tasks\[0\]\.bmc_sigma_lr: must be finite and > 0")
    soft = _task("reg+hlgauss", 1)
    soft.soft_targets = soft.soft_targets * 2
    fails(soft, r"^tasks\[0\]\.soft_targets: must be finite, >= 0, rows summing to 1")
    soft.soft_targets = None
    fails(soft, r"^tasks\[0\]\.soft_targets: must be \[N=400, num_classes=12\]")
    onehot = _task("reg+cls", 1)
    onehot.soft_targets = torch.full((400, 12), 1 / 12, dtype=F64)
    fails(onehot, r"^tasks\[0\]\.soft_targets: objective 'reg\+cls' has no soft targets")
    x, y = _data(1, 400)
    with pytest.raises(ValueError, match=r"^edges: variant 'reg\+hlgauss' needs class edges"):
        build_method_task(MethodConfig("reg+hlgauss"), x_train=x, y_train=y, seed=1, lr=1e-2)
    with pytest.raises(ValueError, match=r"^edges: variant 'reg-lds' has no classes; give None"):
        build_method_task(
            MethodConfig("reg-lds"), x_train=x, y_train=y, seed=1, lr=1e-2, edges=torch.arange(3.0)
        )
    with pytest.raises(ValueError, match=r"^kernel: must be one of"):
        lds_weights(y, torch.arange(3.0), kernel="box")
    with pytest.raises(ValueError, match=r"^edges: must be increasing"):
        hl_gauss_targets(y, torch.tensor([0.0, 0.0]), 1.0)
    with pytest.raises(ValueError, match=r"^alpha: must be finite and >= 0"):
        denseweight_weights(y, -1.0)


@pytest.mark.parametrize("tile_bytes", [None, 8 * 1024])
def test_wide_soft_head_packed_equals_single(tile_bytes, monkeypatch):
    """C > CLASS_MAJOR_MAX runs the sample-major head; small tiles split models and samples."""
    import regcls.objectives.cross_entropy as head

    if tile_bytes is not None:
        monkeypatch.setattr(head, "TILE_BYTES", tile_bytes)
    tasks = [
        _task("reg+hlgauss", 1, 400, head.CLASS_MAJOR_MAX + 32),
        _task("reg+cls", 2, 430, head.CLASS_MAJOR_MAX + 22),
        _task("reg+softlabel", 3, 400, 20),
        _task("reg-lds", 4, 400),
    ]
    _assert_packed_equals_single(tasks, _settings(epochs=1, drop_last=False))


@pytest.mark.parametrize("classes", [12, 160])  # class-major and sample-major soft heads
def test_soft_head_in_bfloat16_trains_near_float32(classes):
    """dtype "bfloat16" runs the soft-target head's matmuls in bf16 with its own soft CE."""
    tasks = [
        _task(v, s, classes=classes) for s, v in enumerate(("reg+hlgauss", "reg+softlabel", "reg"))
    ]
    tasks = [replace(t, x_train=t.x_train.float(), y_train=t.y_train.float()) for t in tasks]
    losses = []
    low = train_packed(
        tasks,
        _settings(epochs=6, dtype="bfloat16"),
        lambda e, s: losses.append(s.final_loss.clone()),
    )
    full = train_packed(tasks, _settings(epochs=6, dtype="float32"))
    assert not low.diverged.any()
    assert bool((losses[-1] < losses[0]).all()), losses
    for i in (0, 1):
        assert 0 < _rel_err(low.params[i], full.params[i]) < 0.05, i
    assert _rel_err(low.params[2], full.params[2]) == 0  # no class head, no bf16 matmul


def test_hierarchical_head_refuses_bfloat16_in_one_line():
    task = _task("hca", 0)
    task = replace(task, x_train=task.x_train.float(), y_train=task.y_train.float())
    with pytest.raises(ValueError, match=r"^dtype: bfloat16 runs one-hot and soft class heads"):
        train_packed([task], _settings(dtype="bfloat16"))
