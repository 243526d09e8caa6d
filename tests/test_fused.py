"""The fused backend trains exactly the torch path's models (float64), model by model.

The first test of a session compiles the kernel's float64 signature once per machine (~20 s; a
later session loads it from numba's disk cache)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from test_packed import OPTIMIZER_CASES, _task

from regcls.training.fused import fused_reason, kernel_error
from regcls.training.packed import train_packed
from regcls.training.tasks import TrainSettings

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(kernel_error() is not None, reason=str(kernel_error())),
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# float64: max relative weight difference after training (the bound).
EQUAL_RTOL = 1e-12


def _weights(n: int, seed: int) -> torch.Tensor:
    """Per-sample weights > 0 (reg-lds / reg-denseweight / reg-lds+cls)."""
    generator = torch.Generator().manual_seed(seed)
    return 0.5 + torch.rand(n, generator=generator, dtype=torch.float64)


def _variant_tasks(variant: str) -> list:
    """Two float64 models of one covered variant (different data, lr, lambda, class counts)."""
    d = torch.float64
    made = {
        "reg": lambda s: _task(s, 600, d, lr=1e-2 * (s + 1)),
        "reg+cls": lambda s: _task(s, 600, d, lr=1e-2, num_classes=4 + 60 * s, lam=10.0 * (s + 1)),
        "reg+cls-balanced": lambda s: _task(
            s, 600, d, lr=3e-3, num_classes=16, lam=100.0, keep="balanced", peak=True
        ),
        "reg-scaled": lambda s: _task(s, 600, d, lr=1e-2, lam=30.0, objective="reg-scaled"),
        "reg-tuned": lambda s: _task(s, 600, d, lr=1e-2, weight_decay=[0.0, 3e-2][s - 1]),
        "cls-only": lambda s: _task(s, 600, d, lr=1e-2, num_classes=32, objective="cls-only"),
        "reg-lds": lambda s: _task(
            s, 600, d, lr=1e-2, objective="reg-lds", sample_weight=_weights(600, s)
        ),
        "reg-denseweight": lambda s: _task(
            s, 600, d, lr=1e-2, objective="reg-denseweight", sample_weight=_weights(600, s + 7)
        ),
        "reg-lds+cls": lambda s: _task(
            s,
            600,
            d,
            lr=1e-2,
            num_classes=8,
            lam=10.0,
            objective="reg-lds+cls",
            sample_weight=_weights(600, s + 3),
        ),
    }
    return [made[variant](seed) for seed in (1, 2)]


VARIANTS = (
    "reg",
    "reg+cls",
    "reg+cls-balanced",
    "reg-scaled",
    "reg-tuned",
    "cls-only",
    "reg-lds",
    "reg-denseweight",
    "reg-lds+cls",
)


def _mixed_pack() -> list:
    """Every covered variant in one pack, with what makes a pack hard: fewer steps per epoch
    for some models (520 and 300 samples), per-model lr and weight decay, keep draws, a head
    wide enough for several sample tiles (C = 700), padded class rows, and a model whose data
    hold NaN targets, so its loss turns NaN in its first epoch (it must freeze, the rest go on)."""
    tasks = [t for variant in VARIANTS for t in _variant_tasks(variant)[:1]]
    d = torch.float64
    tasks.append(_task(4, 520, d, lr=1e-3, num_classes=700, lam=3.0))
    tasks.append(_task(5, 300, d, lr=3e-2, weight_decay=0.0))
    broken = _task(6, 600, d, lr=1e-2, num_classes=4, lam=10.0)
    broken.y_train = broken.y_train.clone()
    broken.y_train[::20] = math.nan
    tasks.append(broken)
    return tasks


def _max_rel(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-300)) for k in b)


def _assert_same_training(tasks, settings) -> None:
    reference = train_packed(tasks, settings)
    fused = train_packed(tasks, replace(settings, backend="fused"))
    assert reference.backend == "torch" and fused.backend == "fused"
    assert fused.diverged.tolist() == reference.diverged.tolist()
    assert fused.epochs_trained.tolist() == reference.epochs_trained.tolist()
    for i in range(len(tasks)):
        assert _max_rel(fused.params[i], reference.params[i]) <= EQUAL_RTOL, i
        a, b = float(fused.final_loss[i]), float(reference.final_loss[i])
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=EQUAL_RTOL), i
    return reference


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_equals_torch_path_float64(variant):
    settings = TrainSettings(epochs=2, batch_size=64, dtype="float64")
    reference = _assert_same_training(_variant_tasks(variant), settings)
    assert not reference.diverged.any()


@pytest.mark.parametrize(
    ("drop_last", "optimizer", "momentum"),
    [(False, "adam", 0.9)] + [(True, *case) for case in OPTIMIZER_CASES],
)
def test_mixed_pack_equals_torch_path_float64(drop_last, optimizer, momentum):
    tasks = _mixed_pack()
    settings = TrainSettings(
        epochs=2,
        batch_size=64,
        dtype="float64",
        drop_last=drop_last,
        optimizer=optimizer,
        momentum=momentum,
    )
    reference = _assert_same_training(tasks, settings)
    # The comparison is not vacuous: the broken model diverged, the others trained.
    assert reference.diverged.tolist() == [i == len(tasks) - 1 for i in range(len(tasks))]
    assert reference.epochs_trained.tolist()[:-1] == [2] * (len(tasks) - 1)


def test_float32_pack_trains_near_torch_path():
    """float32 rounds differently (summation order, exp): a smoke check; the difference is a
    number the benchmark reports."""
    d = torch.float32
    tasks = [_task(1, 600, d, lr=1e-2, num_classes=64, lam=10.0), _task(2, 600, d, lr=1e-2)]
    settings = TrainSettings(epochs=2, batch_size=64, dtype="float32")
    fused = train_packed(tasks, replace(settings, backend="fused"))
    reference = train_packed(tasks, settings)
    assert fused.backend == "fused" and fused.params[0]["cls.weight"].dtype == d
    for i in range(2):
        assert 0 <= _max_rel(fused.params[i], reference.params[i]) < 1e-3


def test_on_epoch_sees_live_state_and_stops():
    seen = []

    def on_epoch(epoch, state):
        seen.append((epoch, state.backend, float(state.params[1]["cls.bias"].abs().sum())))
        return epoch == 1

    tasks = [_task(0, 300, torch.float64, 1e-2), _task(1, 300, torch.float64, 1e-2, 4)]
    settings = TrainSettings(epochs=5, dtype="float64", batch_size=64, backend="fused")
    trained = train_packed(tasks, settings, on_epoch=on_epoch)
    assert [s[:2] for s in seen] == [(0, "fused"), (1, "fused")]
    assert 0 < seen[0][2] != seen[1][2]  # live views: the biases moved between the epochs
    assert trained.epochs_trained.tolist() == [2, 2]


def test_uncovered_pack_runs_on_torch_path():
    focal = _task(0, 300, torch.float64, 1e-2, objective="reg-focal")
    tasks = [focal, _task(1, 300, torch.float64, 1e-2)]
    assert "reg-focal" in fused_reason(tasks, TrainSettings(dtype="float64"))
    assert "bfloat16" in fused_reason(tasks[1:], TrainSettings(dtype="bfloat16"))
    settings = TrainSettings(epochs=1, batch_size=64, dtype="float64")
    fused = train_packed(tasks, replace(settings, backend="fused"))
    reference = train_packed(tasks, settings)
    assert fused.backend == "torch"
    for i in range(2):
        assert _max_rel(fused.params[i], reference.params[i]) == 0


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, **env},
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_disabled_kernel_falls_back_to_torch_path():
    code = (
        "import torch; from regcls.training.fused import kernel_error, warm_up; "
        "from regcls.training.packed import train_packed; "
        "from regcls.training.tasks import ModelTask, TrainSettings; "
        "x = torch.linspace(-1, 1, 64).unsqueeze(1); "
        "s = TrainSettings(1, 16, backend='fused'); "
        "t = train_packed([ModelTask(x, x[:, 0], 0, 1e-2)], s); "
        "print(t.backend, '|', kernel_error(), '|', warm_up())"
    )
    backend, error, warm = _run(code, REGCLS_FUSED="0").split(" | ")
    assert backend == "torch"
    assert error == warm and "REGCLS_FUSED=0" in error


def test_new_process_loads_the_compiled_kernel_from_cache():
    """What a Ray worker sees after the driver's warm-up: the compiled kernel from the disk
    cache, no compilation."""
    code = (
        "from regcls.training.fused import warm_up; from regcls.training.fused import _kernel; "
        "warm_up(['float64']); s = _kernel.train_epoch.stats; "
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))"
    )
    _run(code)  # compiles (or loads) and fills the cache
    hits, misses = (int(v) for v in _run(code).split())
    assert (hits, misses) == (1, 0)


def test_study_rows_same_pair_outcomes_on_both_backends():
    """A small float64 grid trained by the study's `train_points` on both backends: every row
    records its backend, the metrics agree to rounding, so every reg+cls-vs-reg pair outcome
    is the same."""
    from tiny_specs import tiny_spec

    from study.synthetic_1d.point import train_points

    base = {"epochs": 2, "replicates": tuple((f, 0) for f in range(6))}
    specs = [
        tiny_spec(**base),
        tiny_spec(**base, variant="reg+cls", num_classes=4, lam=100.0),
        tiny_spec(**base, variant="reg+cls", num_classes=64, lam=10.0),
        tiny_spec(**base, variant="reg+cls-balanced", num_classes=16, lam=100.0),
        tiny_spec(**base, variant="cls-only", num_classes=16),
    ]
    rows = {}
    for backend in ("torch", "fused"):
        groups = train_points([s.with_values(backend=backend) for s in specs])
        rows[backend] = [r for group in groups for r in group]
    assert {r["backend"] for r in rows["torch"]} == {"torch"}
    assert {r["backend"] for r in rows["fused"]} == {"fused"}
    for a, b in zip(rows["fused"], rows["torch"], strict=True):
        assert a["row_key"] != b["row_key"]  # a requested torch backend is its own trial
        for column in ("val_mse", "test_mse", "train_mse", "final_train_loss"):
            assert a[column] == pytest.approx(b[column], rel=1e-10), column

    def outcomes(backend: str) -> list[bool]:
        reg = {r["function_id"]: r["test_mse"] for r in rows[backend] if r["variant"] == "reg"}
        return [
            r["test_mse"] < reg[r["function_id"]] for r in rows[backend] if r["variant"] != "reg"
        ]

    assert outcomes("fused") == outcomes("torch")
    assert 0 < sum(outcomes("torch")) < len(outcomes("torch"))  # both outcomes occur


def test_resolve_backend_names_the_backend_in_one_line():
    from regcls.training.fused import resolve_backend

    assert resolve_backend("torch", "cpu", "float32") == ("torch", "backend torch (requested)")
    backend, note = resolve_backend("fused", "cuda", "float32")
    assert backend == "torch" and "CPU" in note
    backend, note = resolve_backend("fused", "cpu", "bfloat16")
    assert backend == "torch" and "bfloat16" in note
    backend, note = resolve_backend("fused", "cpu", "float64")
    assert backend == "fused" and note.startswith("backend fused") and "\n" not in note
    code = (
        "from regcls.training.fused import resolve_backend; "
        "print(resolve_backend('fused', 'cpu', 'float32'))"
    )
    assert "every pack trains on the torch path" in _run(code, REGCLS_FUSED="0")


def test_a_kernel_that_does_not_compile_falls_back_in_one_line(monkeypatch):
    """An LLVM failure on some machine cannot be produced here: the compile step is replaced by
    one raising numba's error, and the study's backend choice says so and picks torch."""
    from numba.core.errors import NumbaError

    from regcls.training import fused

    def no_llvm(tasks, settings):
        raise NumbaError("Failed in nopython mode pipeline\nsecond line")

    monkeypatch.setattr(fused, "train_fused", no_llvm)
    warm = fused.warm_up(["float32"])
    assert warm == "fused kernel did not compile (NumbaError: Failed in nopython mode pipeline)"
    backend, note = fused.resolve_backend("fused", "cpu", "float32")
    assert backend == "torch" and "did not compile" in note and "\n" not in note
