"""The pluggable objectives train exactly the weights the monolithic trainer trained.

`tests/data/golden_packed_float64.npz` holds the weights, final losses and epoch counts of the
packs below as trained by the code before the objectives moved out of `regcls/packed.py` (commit
3eb3f2a). The tasks are rebuilt here from numpy seeds, not read from the fixture. To rebuild the
fixture from a checkout of the old code:

    git worktree add /tmp/regcls_head 3eb3f2a
    PYTHONPATH=/tmp/regcls_head python tests/test_objectives_golden.py

(only `ModelTask` fields of that commit are used, so the builder runs on both versions).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from regcls.training.packed import train_packed
from regcls.training.tasks import ModelTask, TrainSettings

GOLDEN = Path(__file__).parent / "data" / "golden_packed_float64.npz"
EPOCHS, BATCH = 3, 64
WIDE = 160  # > CLASS_MAJOR_MAX (128): the sample-major head path
# run name -> (drop_last, wide head in the pack, TILE_BYTES override or None)
RUNS = {
    "sample_drop": (True, True, None),
    "sample_keep": (False, True, None),
    "class_drop": (True, False, None),
    "class_keep": (False, False, None),
    "sample_tiled": (False, True, 1 << 14),  # 12-sample tiles of one model: grads accumulate
    "class_tiled": (True, False, 1 << 14),  # 2-model tiles
}
# (seed, n, num_classes, lam, keep, peak, lr); num_classes 0 = reg. Fewer samples = fewer steps.
SPECS = (
    (10, 600, 0, 1.0, None, False, 1e-2),  # reg
    (11, 600, 4, 10.0, None, True, 1e-2),  # reg+cls, imbalanced targets
    (12, 600, 16, 100.0, "balanced", True, 3e-3),  # reg+cls-balanced (Eq. 13)
    (13, 600, WIDE, 1.0, None, False, 1e-2),  # reg+cls, wide head
    (14, 520, 0, 1.0, None, False, 1e-3),  # reg, fewer samples
    (15, 550, 8, 1e3, "balanced", True, 1e-2),  # reg+cls-balanced, fewer samples
)


# Tiny ops: intra-op threads only add sync overhead (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def golden_tasks(wide: bool, explicit: bool = False) -> list[ModelTask]:
    """The golden pack's tasks, float64, 2 input features; `explicit` names each objective
    (the fixture was trained with the inferred ones, which must be the same)."""
    tasks = []
    for seed, n, classes, lam, keep, peak, lr in SPECS:
        if classes > 128 and not wide:
            continue
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, (n, 2))
        if peak:  # imbalanced targets: most samples near x0 = 0.3
            x[:, 0] = np.where(rng.random(n) < 0.7, rng.normal(0.3, 0.05, n).clip(-1, 1), x[:, 0])
        y = np.sin((7 + seed % 5) * x[:, 0]) + 0.5 * np.sin(3 * x[:, 1]) * x[:, 0]
        xt, yt = torch.tensor(x), torch.tensor(y)
        if not classes:
            extra = {"objective": "reg"} if explicit else {}
            tasks.append(ModelTask(xt, yt, seed, lr, **extra))
            continue
        edges = np.linspace(y.min(), y.max(), classes + 1)
        labels = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, classes - 1)
        keep_prob = None
        if keep == "balanced":  # Eq. 13 over the non-empty classes
            counts = np.bincount(labels, minlength=classes)
            keep_prob = torch.tensor(counts[counts > 0].min() / counts[labels])
        extra = {}
        if explicit:
            extra["objective"] = "reg+cls" if keep_prob is None else "reg+cls-balanced"
        tasks.append(
            ModelTask(xt, yt, seed, lr, lam, torch.tensor(labels), classes, keep_prob, **extra)
        )
    return tasks


def train_run(run: str, explicit: bool = False) -> dict[str, np.ndarray]:
    """Train one golden run; arrays keyed `run/...` (each model's parameters as one flat vector
    in layout order, to keep the fixture small)."""
    drop_last, wide, tile_bytes = RUNS[run]
    settings = TrainSettings(epochs=EPOCHS, batch_size=BATCH, dtype="float64", drop_last=drop_last)
    module = _tile_module()
    saved = module.TILE_BYTES
    if tile_bytes is not None:
        module.TILE_BYTES = tile_bytes
    try:
        trained = train_packed(golden_tasks(wide, explicit), settings)
    finally:
        module.TILE_BYTES = saved
    out = {
        f"{run}/final_loss": trained.final_loss.numpy(),
        f"{run}/epochs_trained": trained.epochs_trained.numpy(),
    }
    for i, params in enumerate(trained.params):
        out[f"{run}/{i}"] = torch.cat([v.reshape(-1) for v in params.values()]).numpy()
    return out


@pytest.mark.parametrize("run", list(RUNS))
def test_packed_equals_golden(run):
    golden = np.load(GOLDEN, allow_pickle=False)
    tasks = golden_tasks(RUNS[run][1])
    # Inferred objectives, and the same objectives named explicitly.
    for explicit in (False, True):
        new = train_run(run, explicit)
        assert new[f"{run}/epochs_trained"].tolist() == [EPOCHS] * len(tasks)
        np.testing.assert_array_equal(new[f"{run}/epochs_trained"], golden[f"{run}/epochs_trained"])
        np.testing.assert_allclose(
            new[f"{run}/final_loss"], golden[f"{run}/final_loss"], rtol=1e-10, atol=0
        )
        for i in range(len(tasks)):
            got, want = new[f"{run}/{i}"], golden[f"{run}/{i}"]
            assert got.shape == want.shape, (run, i)
            rel = np.abs(got - want).max() / np.abs(want).max()
            assert rel < 1e-10, (run, i, rel)
            # Elementwise too: small weights must not hide behind the large ones.
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13 * np.abs(want).max())


def _tile_module():
    # TILE_BYTES lives with the class head: regcls.objectives.cross_entropy, or (old code)
    # regcls.training.packed.
    try:
        return importlib.import_module("regcls.objectives.cross_entropy")
    except ModuleNotFoundError:
        return importlib.import_module("regcls.training.packed")


def _write_golden(path: Path) -> None:
    torch.set_num_threads(1)
    arrays: dict[str, np.ndarray] = {}
    for run in RUNS:
        arrays.update(train_run(run))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size:,} bytes) with {sys.modules['regcls'].__file__}")


if __name__ == "__main__":
    _write_golden(GOLDEN)
