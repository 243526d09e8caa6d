"""HCA (hierarchical class heads, HCA-add / HCA-mul, max alignment) and FDS (feature distribution
smoothing): hand-computed pieces, and packed training equal to the single-model reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from regcls.data.hierarchy import (
    class_mapping_matrix,
    class_means,
    default_num_heads,
    hierarchy_levels,
    merged_edges,
)
from regcls.models.mlp import init_params
from regcls.objectives import OBJECTIVES, Objective
from regcls.objectives.distillation import distillation_loss
from regcls.objectives.feature_smoothing import (
    FDSConfig,
    FeatureSmoothing,
    kernel_window,
    smoothing_matrix,
    target_bins,
)
from regcls.objectives.hierarchical import hca_scores, max_alignment
from regcls.training.distillation import distill_epochs, student_init, train_distillation
from regcls.training.packed import train_packed
from regcls.training.single import _FDSReference, distill_single, train_single
from regcls.training.tasks import ModelTask, TrainSettings

HIDDEN = (6, 16)
F64 = torch.float64

# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(seed: int, n: int, peak: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    if peak:  # imbalanced targets: most samples near x = 0.3
        x = np.where(rng.random(n) < 0.6, rng.normal(0.3, 0.08, n).clip(-1, 1), x)
    return x, np.sin((4 + seed % 3) * x) + 0.4 * x


def _task(seed: int, n: int = 420, classes: int = 0, **fields) -> ModelTask:
    """Float64 1D task; with `classes`: equal-width finest classes, their centres and (for the
    hierarchical objectives) the E-Num hierarchy."""
    x, y = _data(seed, n)
    xt, yt = torch.tensor(x).unsqueeze(1), torch.tensor(y)
    fields.setdefault("lr", 1e-2)
    if not classes:
        return ModelTask(xt, yt, seed, **fields)
    edges = np.linspace(y.min(), y.max(), classes + 1)
    labels = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, classes - 1)
    fields.setdefault("class_centres", torch.tensor((edges[:-1] + edges[1:]) / 2))
    if OBJECTIVES[fields.get("objective", "reg+cls")].class_head == "hierarchical":
        fields.setdefault("class_levels", torch.tensor(hierarchy_levels(y, edges)))
    return ModelTask(xt, yt, seed, labels=torch.tensor(labels), num_classes=classes, **fields)


def _settings(**changes) -> TrainSettings:
    return TrainSettings(**{"epochs": 4, "batch_size": 64, "dtype": "float64", **changes})


def _rel_err(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)) for k in b)


def _val_mse(trained, index: int, seed: int) -> float:
    x, y = _data(seed + 100, 300, peak=False)
    pred = trained.predict(torch.tensor(x).unsqueeze(1), index=index)
    return float(np.mean((pred.numpy() - y) ** 2))


# --- the hierarchy (Sec. 3.2) -------------------------------------------------------------------


def test_class_mapping_matrix_for_eight_classes():
    # Unit-width finest classes 0..8 with counts 10 10 10 10 20 20 10 10 (values at the centres).
    counts = [10, 10, 10, 10, 20, 20, 10, 10]
    y = np.repeat(np.arange(8) + 0.5, counts)
    levels = hierarchy_levels(y, np.arange(9.0))
    assert default_num_heads(8) == 3  # C <= 2^H: levels 2, 4 and the finest 8
    # Median 4.5: V=4 and V=5 tie, the lower wins. Quartiles 2.5, 4.5, 5.5 -> V = 2, 4, 5.
    np.testing.assert_array_equal(levels, [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 2, 3, 3, 3]])
    t1 = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]])
    t2 = np.array(
        [
            [1, 1, 0, 0, 0, 0, 0, 0],
            [0, 0, 1, 1, 0, 0, 0, 0],
            [0, 0, 0, 0, 1, 0, 0, 0],
            [0, 0, 0, 0, 0, 1, 1, 1],
        ]
    )
    np.testing.assert_array_equal(class_mapping_matrix(levels[0]), t1)
    np.testing.assert_array_equal(class_mapping_matrix(levels[1]), t2)
    np.testing.assert_array_equal(class_mapping_matrix(np.arange(8)), np.eye(8))  # T_{H,H} = I
    # Equal-count levels: the 4 classes hold 20 / 20 / 20 / 40 samples.
    np.testing.assert_array_equal(
        np.bincount(levels[1][np.repeat(np.arange(8), counts)]), [20] * 3 + [40]
    )


def test_quantiles_snapping_to_one_edge_are_deduplicated():
    # One finest class holds 90% of the samples: every quartile falls inside it.
    y = np.repeat(np.arange(8) + 0.5, [2, 90, 2, 1, 1, 1, 1, 2])
    levels = hierarchy_levels(y, np.arange(9.0))
    np.testing.assert_array_equal(levels, [[0, 1, 1, 1, 1, 1, 1, 1]] * 2)  # 2 classes, not 4
    assert hierarchy_levels(y, np.arange(9.0), num_heads=1).shape == (0, 8)
    # Equalised (merged) finest classes: their edges are where the merged class changes.
    np.testing.assert_array_equal(merged_edges(np.arange(6.0), [0, 0, 1, 2, 2]), [0, 2, 3, 5])


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: hierarchy_levels(np.arange(5.0), np.arange(9.0), num_heads=4), "num_heads"),
        (lambda: hierarchy_levels(np.arange(5.0), np.array([0.0, 2.0, 1.0])), "fine_edges"),
        (lambda: hierarchy_levels(np.array([np.nan]), np.arange(3.0)), "y_train"),
        (lambda: class_mapping_matrix(np.array([0, 2, 1])), "level"),
    ],
)
def test_bad_hierarchy_input_raises(call, field):
    with pytest.raises(ValueError, match=f"^{field}: must"):
        call()


# --- HCA-add / HCA-mul (Eqs. 7-8) and max alignment (Eqs. 13-14) ------------------------------


def test_hca_add_and_mul_on_a_tiny_example():
    fine = torch.tensor([0.01, 0.69, 0.2, 0.1], dtype=F64)
    coarse = torch.tensor([0.25, 0.75], dtype=F64)
    levels = torch.tensor([[0, 0, 1, 1]])
    logits = torch.cat([fine.log() + 3.0, coarse.log() - 1.0])  # softmax ignores the shifts
    add = hca_scores(logits, levels, "add")
    mul = hca_scores(logits, levels, "mul")
    # By hand: p^H + T^T p^1 and log p^H + T^T log p^1.
    torch.testing.assert_close(add, torch.tensor([0.26, 0.94, 0.95, 0.85], dtype=F64))
    torch.testing.assert_close(mul, torch.tensor([0.0025, 0.1725, 0.15, 0.075], dtype=F64).log())
    matrix = torch.tensor(class_mapping_matrix(levels[0].numpy()))
    torch.testing.assert_close(add, fine + matrix.T @ coarse)
    # The rules disagree here, and both differ from the finest head's own argmax for add.
    assert (int(fine.argmax()), int(add.argmax()), int(mul.argmax())) == (1, 2, 1)
    with pytest.raises(ValueError, match="^hca_rule: must be one of"):
        hca_scores(logits, levels, "sum")


def test_max_alignment_by_hand():
    p = torch.tensor([[0.1, 0.4, 0.3, 0.2], [0.5, 0.1, 0.1, 0.3]], dtype=F64, requires_grad=True)
    halves = max_alignment(p, torch.tensor([0, 0, 1, 1]))
    # Eq. 13: max inside each coarse class; Eq. 14: normalise.
    torch.testing.assert_close(halves, torch.tensor([[4 / 7, 3 / 7], [5 / 8, 3 / 8]], dtype=F64))
    uneven = max_alignment(p, torch.tensor([0, 1, 1, 1]))
    torch.testing.assert_close(uneven, torch.tensor([[0.2, 0.8], [5 / 8, 3 / 8]], dtype=F64))
    # The sum alignment (Eq. 10) would give [0.5, 0.5] for row 0; max keeps the argmax (Prop. 1).
    assert int(halves[0].argmax()) == 0 and int(uneven[0].argmax()) == 1
    # Gradient reaches only the arg-max finest class of each coarse class.
    halves[0, 0].backward()
    assert p.grad[0, 0] == 0 and p.grad[0, 3] == 0 and p.grad[0, 1] != 0 and p.grad[0, 2] != 0


# --- FDS kernel, smoothing and calibration -------------------------------------------------------


def test_fds_kernel_windows():
    scipy_ndimage = pytest.importorskip("scipy.ndimage")
    delta = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    expected = scipy_ndimage.gaussian_filter1d(delta, sigma=2.0)
    np.testing.assert_allclose(kernel_window("gaussian", 5, 2.0), expected / expected.sum(), 1e-14)
    # The digest's max-normalised version of the same window (LDS), to 3 decimals.
    window = kernel_window("gaussian", 5, 2.0)
    np.testing.assert_allclose(window / window.max(), [0.858, 0.946, 1, 0.946, 0.858], atol=5e-4)
    np.testing.assert_allclose(kernel_window("triang", 5, 1.0), np.array([1, 2, 3, 2, 1]) / 9)
    lap = np.exp(-np.abs(np.arange(-1, 2)) / 2.0)
    np.testing.assert_allclose(kernel_window("laplace", 3, 2.0), lap / lap.sum())


def test_fds_smoothing_of_per_bin_statistics():
    window = np.array([0.25, 0.5, 0.25])
    stats = np.array([[1.0, 10.0], [2.0, 0.0], [4.0, 0.0], [8.0, 0.0]])  # [bins, D]
    # Reflect padding: [2 | 1 2 4 8 | 4].
    expected = np.array([[1.5, 5.0], [2.25, 2.5], [4.5, 0.0], [6.0, 0.0]])
    np.testing.assert_allclose(smoothing_matrix(window, 4) @ stats, expected)
    # The single-model reference smooths with conv1d (the authors' code): the same numbers.
    reference = _FDSReference(FDSConfig(bins=4, ks=3), 2, F64, torch.device("cpu"))
    reference.window = torch.tensor(window)
    np.testing.assert_allclose(reference._smooth_bins(torch.tensor(stats)).numpy(), expected)


def test_fds_calibration_by_hand():
    config = FDSConfig(bins=2, ks=1, clip_min=0.1, clip_max=10.0, start_epoch=0)
    fds = FeatureSmoothing([config], [torch.tensor([0, 1])], 3, 2, F64, torch.device("cpu"))
    fds.linked[:] = True  # after the first refresh: mu_b, var_b are the running statistics
    fds.running_mean[0] = torch.tensor([[2.0, 1.0, 5.0], [0.0, 0.0, 0.0]])
    fds.running_var[0] = torch.tensor([[4.0, 0.0, 1.0], [1e-12, 0.0, 0.0]])
    fds.smoothed_mean[0] = torch.tensor([[3.0, 7.0, 0.0], [9.0, 9.0, 9.0]])
    fds.smoothed_var[0] = torch.tensor([[1.0, 3.0, 400.0], [5.0, 5.0, 5.0]])
    fds.begin_epoch(0, torch.tensor([[0, 1]]), steps=1, batch=2)
    h = torch.tensor([[[6.0, 6.0], [6.0, 6.0], [6.0, 6.0]]], dtype=F64)  # [K, D, B]
    out = fds.calibrate(h.clone(), 0)
    # Bin 0: (6 - 2) * sqrt(1/4) + 3 = 5; zero variance: unchanged; clip 400 -> 10.
    # Bin 1: running variances sum to < 1e-10: not calibrated.
    torch.testing.assert_close(
        out[0, :, 0], torch.tensor([5.0, 6.0, (6 - 5) * math.sqrt(10)], dtype=F64)
    )
    torch.testing.assert_close(out[0, :, 1], h[0, :, 1])
    d_h = fds.backward(torch.ones_like(h))
    torch.testing.assert_close(d_h[0, :, 0], torch.tensor([0.5, 1.0, math.sqrt(10)], dtype=F64))


def test_target_bins_are_equal_width_over_the_training_range():
    y = torch.tensor([0.0, 0.24, 0.25, 0.99, 1.0], dtype=F64)
    assert target_bins(y, 4).tolist() == [0, 0, 1, 3, 3]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kernel": "box"}, "kernel"),
        ({"ks": 4}, "ks"),
        ({"bins": 2, "ks": 5}, "bins"),
        ({"sigma": 0.0}, "sigma"),
        ({"momentum": 1.5}, "momentum"),
        ({"start_epoch": -1}, "start_epoch"),
        ({"clip_min": 2.0, "clip_max": 1.0}, "clip_min"),
        ({"stats_from": "smoothed"}, "stats_from"),
    ],
)
def test_bad_fds_config_raises(changes, field):
    with pytest.raises(ValueError, match=f"^fds.{field}: must"):
        FDSConfig(**changes)


# --- packed == single ----------------------------------------------------------------------------

FDS_VARIANTS = {
    "default": FDSConfig(bins=20),
    "late": FDSConfig(bins=12, kernel="triang", ks=3, momentum=0.5, start_update=1, start_epoch=2),
    "laplace": FDSConfig(bins=30, kernel="laplace", ks=7, sigma=1.0, clip_min=0.5, clip_max=2.0),
    "raw": FDSConfig(bins=16, stats_from="raw"),
}


def _zoo_tasks() -> list[ModelTask]:
    return [
        _task(1, classes=16, objective="hca", hca_rule="add"),
        _task(2, 400, classes=8, objective="hca", hca_rule="mul", weight_decay=3e-2),
        _task(3, classes=12, objective="reg+hca", lam=5.0),
        _task(4, classes=2, objective="hca", hca_rule="add"),  # H = 1: one level
        _task(5, objective="reg-fds", fds=FDS_VARIANTS["default"]),
        _task(6, 380, objective="reg-fds", fds=FDS_VARIANTS["late"]),
        _task(7, objective="reg-fds", fds=FDS_VARIANTS["laplace"], lr=3e-3),
        _task(12, objective="reg-fds", fds=FDS_VARIANTS["raw"]),
        _task(8),  # reg
        _task(9, classes=8, lam=10.0),  # reg+cls (a one-level hierarchy in this pack)
        _task(
            10,
            classes=8,
            lam=10.0,
            keep_prob=torch.tensor(np.random.default_rng(0).uniform(0.3, 1, 420)),
        ),
    ]


@pytest.mark.parametrize("drop_last", [True, False])
def test_packed_equals_single_for_hca_and_fds(drop_last):
    settings = _settings(drop_last=drop_last)
    tasks = _zoo_tasks()
    packed = train_packed(tasks, settings)
    assert not packed.diverged.any()
    worst = {"params": 0.0, "val": 0.0, "fds": 0.0}
    for i, task in enumerate(tasks):
        single = train_single(task, settings)
        err = _rel_err(packed.params[i], single.params[0])
        val_p, val_s = _val_mse(packed, i, i), _val_mse(single, 0, i)
        worst["params"] = max(worst["params"], err)
        worst["val"] = max(worst["val"], abs(val_p - val_s) / val_s)
        assert err < 1e-10, i
        assert val_p == pytest.approx(val_s, rel=1e-10), i
        assert float(packed.final_loss[i]) == pytest.approx(float(single.final_loss[0]), rel=1e-10)
        if task.fds is not None:
            stats_p, stats_s = packed.fds_stats[i], single.fds_stats[0]
            worst["fds"] = max(worst["fds"], _rel_err(stats_p, stats_s))
            assert _rel_err(stats_p, stats_s) < 1e-10, i
            # The statistics moved off their initial zeros / ones.
            assert float(stats_p["running_mean"].abs().max()) > 1e-2
        else:
            assert packed.fds_stats[i] is None
        head = task.head_width if task.labels is not None else 0
        init = init_params(task.seed, 1, HIDDEN, head, F64, task.class_blocks)
        assert _rel_err(packed.params[i], init) > 1e-3, i  # it trained
    print(f"max rel. differences packed vs single: {worst}")


def test_hca_head_layout_and_prediction_by_hand():
    task = _task(1, classes=16, objective="hca", hca_rule="mul")
    sizes = [16] + [int(row[-1]) + 1 for row in task.class_levels]
    assert task.class_levels.shape == (3, 16)
    assert sizes[1:] == [2, 3, 5]  # 2, 4, 8 with quantiles of the peak on one edge deduplicated
    trained = train_packed(
        [task, _task(1, classes=16, objective="hca", hca_rule="add")], _settings()
    )
    params = trained.params[0]
    assert params["cls.weight"].shape == (sum(sizes), 16)
    # Both rules share the training (same seed, same loss): only the prediction differs.
    assert all(torch.equal(params[k], trained.params[1][k]) for k in params)
    x = torch.linspace(-1, 1, 200, dtype=F64).unsqueeze(1)
    h = x
    for i in range(len(HIDDEN)):
        h = torch.relu(h @ params[f"trunk.{i}.weight"].T + params[f"trunk.{i}.bias"])
    logits = h @ params["cls.weight"].T + params["cls.bias"]
    bounds = np.cumsum([0, *sizes])
    logs = [torch.log_softmax(logits[:, a:b], -1) for a, b in itertools.pairwise(bounds)]
    mats = [torch.tensor(class_mapping_matrix(row.numpy())) for row in task.class_levels]
    mul = logs[0] + sum(lg @ m for lg, m in zip(logs[1:], mats, strict=True))
    add = logs[0].exp() + sum(lg.exp() @ m for lg, m in zip(logs[1:], mats, strict=True))
    centres = task.class_centres
    torch.testing.assert_close(trained.predict(x, 0), centres[mul.argmax(1)], rtol=0, atol=0)
    torch.testing.assert_close(trained.predict(x, 1), centres[add.argmax(1)], rtol=0, atol=0)
    # The regression head is not trained by hca (no MSE term): weight decay only.
    assert trained.params[0]["reg.bias"].abs().max() == 0


def test_fds_before_its_start_epoch_is_plain_reg():
    fds = FDSConfig(bins=10, start_epoch=3)
    a = train_packed([_task(5, objective="reg-fds", fds=fds), _task(5)], _settings(epochs=3))
    assert all(torch.equal(a.params[0][k], a.params[1][k]) for k in a.params[0])
    # From the start epoch on, calibration changes the training.
    b = train_packed([_task(5, objective="reg-fds", fds=fds), _task(5)], _settings(epochs=5))
    assert _rel_err(b.params[0], b.params[1]) > 1e-6


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"objective": "hca", "classes": 8}, r"tasks\[0\]\.hca_rule: must be one of"),
        ({"objective": "hca", "classes": 8, "hca_rule": "max"}, r"tasks\[0\]\.hca_rule: must"),
        ({"objective": "reg+hca", "classes": 8, "hca_rule": "add"}, r"tasks\[0\]\.hca_rule: obj"),
        (
            {"objective": "hca", "classes": 8, "hca_rule": "add", "class_levels": None},
            r"tasks\[0\]\.class_levels: objective 'hca' needs",
        ),
        (
            {
                "objective": "hca",
                "classes": 4,
                "hca_rule": "add",
                "class_levels": torch.zeros(1, 3, dtype=torch.int64),
            },
            r"tasks\[0\]\.class_levels: must be int64",
        ),
        (
            {
                "objective": "hca",
                "classes": 4,
                "hca_rule": "add",
                "class_levels": torch.tensor([[0, 0, 2, 2]]),
            },
            r"tasks\[0\]\.class_levels: each row",
        ),
        (
            {"classes": 4, "class_levels": torch.tensor([[0, 0, 1, 1]])},
            r"tasks\[0\]\.class_levels: obj",
        ),
        ({"objective": "reg-fds"}, r"tasks\[0\]\.fds: objective 'reg-fds' needs an FDSConfig"),
        ({"fds": FDSConfig()}, r"tasks\[0\]\.fds: objective 'reg' has no FDS"),
        (
            {"objective": "hca", "classes": 4, "hca_rule": "add", "class_centres": None},
            r"tasks\[0\]\.class_centres: objective 'hca' predicts from class centres",
        ),
    ],
)
def test_bad_task_fields_raise(fields, message):
    classes = fields.pop("classes", 0)
    if "class_levels" in fields and fields["class_levels"] is None:
        fields.pop("class_levels")
        task = _task(1, classes=classes, **fields)
        task.class_levels = None
    else:
        task = _task(1, classes=classes, **fields)
    with pytest.raises(ValueError, match=f"^{message}"):
        train_packed([task], _settings(epochs=1))


def test_hca_objective_needs_hierarchical_head():
    with pytest.raises(ValueError, match="^class_head: objective 'x' needs 'hierarchical'"):
        Objective("x", class_head="onehot", prediction="hca")


def test_each_level_head_has_its_own_xavier_init():
    task = _task(1, classes=16, objective="hca", hca_rule="add")
    start = train_packed([task, _task(1, classes=16)], _settings(epochs=0))
    weight = start.params[0]["cls.weight"]
    sizes = task.class_blocks
    assert sizes == (16, 2, 3, 5)
    for block, size in zip(weight.split(list(sizes)), sizes, strict=True):
        bound = math.sqrt(6 / (HIDDEN[-1] + size))  # Linear(16, C_h) each (Sec. 3.2)
        assert float(block.abs().max()) <= bound
        assert float(block.abs().max()) > 0.5 * bound
    # The same uniform draws, only scaled per level: the finest head of a plain cls model with
    # the same seed draws the same numbers with its own bound.
    plain = start.params[1]["cls.weight"]
    torch.testing.assert_close(weight[:16], plain, rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="^class_blocks: must sum to num_classes=5"):
        init_params(0, 1, HIDDEN, 5, F64, (2, 2))


def test_distillation_loss_by_hand_and_its_gradient():
    student = torch.tensor([[0.1, 0.4, 0.3, 0.2]], dtype=F64)
    levels = torch.tensor([[0, 0, 1, 1]])
    teachers = [torch.full((1, 4), 0.25, dtype=F64), torch.tensor([[0.5, 0.5]], dtype=F64)]
    loss, _ = distillation_loss(student.log(), teachers, levels)
    # KL(teacher || student) on the finest level + KL against the max alignment [4/7, 3/7].
    fine = sum(0.25 * math.log(0.25 / p) for p in (0.1, 0.4, 0.3, 0.2))
    coarse = 0.5 * math.log(0.5 / (4 / 7)) + 0.5 * math.log(0.5 / (3 / 7))
    assert float(loss) == pytest.approx(fine + coarse, rel=1e-14)
    # The hand-written gradient equals autograd through Eqs. 13-14 (several levels, a batch).
    gen = torch.Generator().manual_seed(0)
    levels = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 1, 1, 2, 2, 3]])
    logits = torch.randn(3, 5, 6, generator=gen, dtype=F64, requires_grad=True)
    teachers = [
        torch.softmax(torch.randn(3, 5, size, generator=gen, dtype=F64), -1) for size in (6, 2, 4)
    ]
    loss, d_logits = distillation_loss(logits.detach(), teachers, levels)
    p = torch.softmax(logits, -1)
    aligned = [p] + [max_alignment(p, row) for row in levels]
    kl = sum(
        (t * (t.log() - a.log())).sum(-1).mean(-1) for t, a in zip(teachers, aligned, strict=True)
    )
    torch.testing.assert_close(loss, kl.detach(), rtol=1e-13, atol=0)
    kl.sum().backward()
    torch.testing.assert_close(d_logits, logits.grad, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="^teachers: must hold one distribution per level"):
        distillation_loss(logits.detach(), teachers[:2], levels)


# --- HCA-d: stage 2 ------------------------------------------------------------------------------


@pytest.mark.parametrize("drop_last", [True, False])
def test_hca_d_stage2_packed_equals_single(drop_last):
    settings = _settings(drop_last=drop_last, epochs=3)
    tasks = [
        _task(1, classes=16, objective="hca", hca_rule="add"),
        _task(2, 400, classes=8, objective="hca", hca_rule="mul", weight_decay=3e-2, lr=3e-3),
        _task(4, classes=2, objective="hca", hca_rule="add"),  # H = 1: KL to the finest only
        _task(11, 380, classes=24, objective="hca", hca_rule="add"),
    ]
    stage1 = train_packed(tasks, settings)
    assert distill_epochs(settings.epochs) == 1 and distill_epochs(10) == 2
    packed = train_distillation(tasks, stage1, settings, epochs=3)
    assert not packed.diverged.any() and packed.epochs_trained.tolist() == [3] * 4
    worst = {"params": 0.0, "val": 0.0}
    for i, task in enumerate(tasks):
        single = distill_single(task, stage1.params[i], settings, epochs=3)
        err = _rel_err(packed.heads[i], single.heads[0])
        val_p, val_s = _val_mse(packed, i, i), _val_mse(single, 0, i)
        worst = {"params": max(worst["params"], err), "val": max(worst["val"], abs(val_p - val_s))}
        assert err < 1e-10, i
        assert val_p == pytest.approx(val_s, rel=1e-10), i
        assert float(packed.final_loss[i]) == pytest.approx(float(single.final_loss[0]), rel=1e-10)
        init = student_init(task.seed, HIDDEN[-1], task.num_classes, F64)
        assert _rel_err(packed.heads[i], init) > 1e-3, i  # it trained
        # Stage 1 stays frozen.
        assert all(torch.equal(packed.stage1[i][k], stage1.params[i][k]) for k in stage1.params[i])
    print(f"HCA-d stage 2, max differences packed vs single: {worst}")
    with pytest.raises(ValueError, match=r"^tasks\[0\]\.objective: HCA-d distils an 'hca' model"):
        train_distillation(
            [_task(1, classes=4)], train_packed([_task(1, classes=4)], settings), settings
        )


def test_float32_packs_match_single():
    settings = _settings(dtype="float32", epochs=3)
    tasks = [
        _task(1, classes=16, objective="hca", hca_rule="add"),
        _task(5, objective="reg-fds", fds=FDS_VARIANTS["default"]),
        _task(9, classes=8, lam=10.0),
    ]
    for task in tasks:
        task.x_train, task.y_train = task.x_train.float(), task.y_train.float()
    packed = train_packed(tasks, settings)
    for i, task in enumerate(tasks):
        assert packed.params[i]["trunk.0.weight"].dtype == torch.float32
        assert _rel_err(packed.params[i], train_single(task, settings).params[0]) < 1e-4, i


def test_fds_statistics_from_calibrated_or_raw_features_differ():
    calibrated = _task(5, objective="reg-fds", fds=FDSConfig(bins=12))
    raw = _task(5, objective="reg-fds", fds=FDSConfig(bins=12, stats_from="raw"))
    trained = train_packed([calibrated, raw], _settings(epochs=3))
    # Epochs 0-2 train alike (epoch 1's calibration is the identity: no refresh yet), but the
    # statistics after epoch 2 come from calibrated features in one model only.
    a, b = trained.fds_stats
    assert _rel_err(a, b) > 1e-6


def test_class_representative_is_the_training_mean_or_the_midpoint():
    y = np.array([0.1, 0.3, 2.9, 2.2, 2.6])
    means = class_means(y, np.array([0, 0, 2, 2, 2]), np.array([0.5, 1.5, 2.5]))
    np.testing.assert_allclose(means, [0.2, 1.5, 2.9 / 3 + 2.2 / 3 + 2.6 / 3])  # class 1: empty
    with pytest.raises(ValueError, match=r"^labels: must be class ids in \[0, 2\]"):
        class_means(y, np.array([0, 0, 3, 2, 2]), np.array([0.5, 1.5, 2.5]))
