"""The fused CPU backend of the packed trainer: the 1D MLP family's whole step loop compiled.

`train_packed(tasks, TrainSettings(backend="fused"))` runs a pack here when `fused_reason` finds
nothing against it and the kernel loads; otherwise on the torch path (`TrainedModels.backend`
says which ran). The pack is built exactly as the torch path builds it (`regcls.training.packed`:
initial weights, data, per-model minibatch order and keep draws from the same torch generators,
once per epoch); only the step loop differs: one compiled call per epoch
(`_kernel.train_epoch`) runs forward, loss, hand-written backward and the optimiser of every
model, without `[B, C]` logits in memory. Float64 results equal the torch path's to rounding
(tests/test_fused.py).

Covered: one-hot class heads or none, the (per-sample weighted) MSE term, every optimiser of
`regcls.training.optimizers` (adam, adamw, sgd with momentum): `reg`, `reg+cls`,
`reg+cls-balanced`, `reg-scaled`, `reg-tuned` (its own weight decay), `cls-only`, and the zoo's
`reg-lds`, `reg-denseweight`, `reg-lds+cls`; float32 and float64 on the CPU. Focal-R, BMC, FDS,
soft and hierarchical heads, bfloat16 and GPU packs stay on the torch path.

Technology (measured, benchmarks/NOTES.md round 5): numba (LLVM JIT from PyPI wheels, no compiler
at install time, an on-disk cache) for the loops, and for the class head's three products the
BLAS that torch itself ships (`_blas.py`). Compiled code is cached on disk per machine
(numba's cache: next to this file, or the user's cache folder when the install is read-only, or
`NUMBA_CACHE_DIR`); `warm_up` compiles (or loads) it once in the study's driver, so its Ray
workers load it from the cache.

Example:
    >>> from regcls.training.packed import train_packed
    >>> from regcls.training.tasks import TrainSettings
    >>> trained = train_packed(tasks, TrainSettings(backend="fused"))  # doctest: +SKIP
    >>> trained.backend  # doctest: +SKIP
    'fused'
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Sequence

import numpy as np
import torch

from regcls.training.packed import _Pack
from regcls.training.tasks import EpochHook, ModelTask, TrainedModels, TrainSettings

__all__ = ["fused_reason", "kernel_error", "resolve_backend", "train_fused", "warm_up"]

_DTYPES = ("float32", "float64")


@functools.cache
def kernel_error() -> str | None:
    """Why the fused kernel cannot run in this process (one line), or None when it can. Imports
    numba and registers the BLAS symbols once per process; compiles nothing. `REGCLS_FUSED=0`
    in the environment turns the kernel off (every pack then runs on the torch path)."""
    if os.environ.get("REGCLS_FUSED", "1") == "0":
        return "fused kernel disabled (REGCLS_FUSED=0)"
    try:
        from regcls.training.fused import _blas

        _blas.register_symbols()
        from regcls.training.fused import _kernel  # noqa: F401
    except (ImportError, OSError, AttributeError) as error:
        return f"fused kernel unavailable ({type(error).__name__}: {error})"
    return None


def fused_reason(tasks: Sequence[ModelTask], settings: TrainSettings) -> str | None:
    """Why this pack cannot run fused (the first reason found), or None when it can: the kernel
    does not load, or a dtype, device or objective the kernel does not cover."""
    if settings.dtype not in _DTYPES:
        return f"dtype {settings.dtype!r} (fused: {', '.join(_DTYPES)})"
    if any(t.x_train.device.type != "cpu" for t in tasks):
        return "device is not the CPU"
    for task in tasks:
        spec = task.objective_spec
        if spec.class_head not in (None, "onehot"):
            return f"objective {spec.name!r} ({spec.class_head} class head)"
        if spec.regression_loss != "mse" or spec.fds or spec.ce_sample_weight:
            return f"objective {spec.name!r}"
    return kernel_error()


def train_fused(
    tasks: Sequence[ModelTask], settings: TrainSettings, on_epoch: EpochHook | None = None
) -> TrainedModels:
    """`regcls.training.packed.train_packed` with the compiled step loop; the pack must be covered
    (`fused_reason(tasks, settings) is None`)."""
    reason = fused_reason(tasks, settings)
    if reason is not None:
        raise ValueError(f"backend: the fused kernel cannot train this pack: {reason}")
    from regcls.training.fused import _kernel

    pack = _Pack(tasks, settings)
    run = _EpochRunner(pack, _kernel, tasks)
    with torch.no_grad():
        for epoch in range(settings.epochs):
            run(epoch)
            stop = bool(on_epoch(epoch, _state(pack, copy=False))) if on_epoch else False
            if stop or not bool(pack.alive.any()):
                break
    return _state(pack, copy=True)


def warm_up(dtypes: Sequence[str] = ("float32",)) -> dict[str, float] | str:
    """Compile (or load from the disk cache) the kernel for `dtypes` by training a tiny pack;
    seconds per dtype, or the one-line reason the kernel cannot run. A study calls it once in
    its driver so that its workers find the compiled code in the cache."""
    error = kernel_error()
    if error is not None:
        return error
    from numba.core.errors import NumbaError

    seconds = {}
    for name in dtypes:
        dtype = getattr(torch, name)
        n = 32
        x = torch.linspace(-1, 1, n, dtype=dtype).unsqueeze(1)
        labels = torch.arange(n) % 2
        task = ModelTask(x, x[:, 0], seed=0, lr=1e-3, labels=labels, num_classes=2)
        started = time.perf_counter()
        settings = TrainSettings(epochs=1, batch_size=16, dtype=name, backend="fused")
        try:
            train_fused([task], settings)
        except (NumbaError, OSError) as error:  # an LLVM or cache failure on this machine
            return f"fused kernel did not compile ({type(error).__name__}: {_first_line(error)})"
        seconds[name] = time.perf_counter() - started
    return seconds


def resolve_backend(requested: str, device: str, dtype: str) -> tuple[str, str]:
    """The backend a study's packs will train on, and one line saying so: "torch" when asked
    for, on a GPU, for a dtype the kernel does not cover or when the kernel does not load (the
    line says why); else "fused", after `warm_up` compiled or loaded the kernel here, in the
    driver, so that the study's workers load it from the disk cache."""
    if requested == "torch":
        return "torch", "backend torch (requested)"
    if device != "cpu":
        return "torch", f"backend torch: the fused kernel runs on the CPU, trials run on {device}"
    if dtype not in _DTYPES:
        return "torch", f"backend torch: the fused kernel runs {' and '.join(_DTYPES)}, not {dtype}"
    warm = warm_up([dtype])
    if isinstance(warm, str):
        return "torch", f"backend torch: {warm}; every pack trains on the torch path"
    seconds = warm[dtype]
    return "fused", f"backend fused (kernel compiled or loaded from its cache in {seconds:.1f} s)"


class _EpochRunner:
    """The kernel's fixed arguments for one pack (layer offsets, data, hyperparameters) and one
    epoch of it: the torch path's minibatch order and keep draws of the epoch, then one kernel
    call, which gathers every minibatch itself."""

    def __init__(self, pack: _Pack, kernel, tasks: Sequence[ModelTask]) -> None:
        self.pack, self.kernel = pack, kernel
        offsets = pack.layout.offsets
        names = [f"trunk.{i}" for i in range(len(pack.settings.hidden))] + ["reg"]
        rows = []
        for name in names:
            start, _, (n_out, n_in) = offsets[f"{name}.weight"]
            rows.append((start, offsets[f"{name}.bias"][0], n_out, n_in))
        self.layers = np.array(rows, dtype=np.int64)
        self.head = np.array(
            [offsets["cls.weight"][0], offsets["cls.bias"][0]] if pack.has_cls else [-1, -1],
            dtype=np.int64,
        )
        self.classes = np.array(pack.classes, dtype=np.int64)
        settings = pack.settings
        used = pack.used_samples()
        self.hyper = np.array(
            [
                (
                    float(pack.mse.scale[k]),
                    task.lr,
                    settings.weight_decay if task.weight_decay is None else task.weight_decay,
                    float(pack.steps[k]),
                    float(used[k]),
                )
                for k, task in enumerate(tasks)
            ],
            dtype=np.float64,
        )
        optimizer = pack.optimizer
        if settings.optimizer == "sgd":
            buffer = optimizer.buffer
            self.state = (
                torch.zeros_like(pack.flat) if buffer is None else buffer,
                torch.zeros(len(tasks), 1, dtype=pack.dtype),  # unused by SGD
            )
        else:
            self.state = (optimizer.exp_avg, optimizer.exp_avg_sq)
        dtype = pack.flat.numpy().dtype
        none = np.zeros((1, 1), dtype=dtype)
        self.x_data, self.y_data = _array(pack.x_data), _array(pack.y_data)
        self.sw_data = _array(pack.sw_data) if pack.has_sample_weight else none
        self.labels = _array(pack.l_data) if pack.has_cls else np.zeros((1, 1), np.int64)
        k = len(pack.counts)
        ids = np.full((k, 4), -1, dtype=np.int64)
        ids[:, 0], ids[:, 1] = pack.x_ids.numpy(), pack.y_ids.numpy()
        if pack.has_sample_weight:  # models without weights read a row of ones: skip it
            weighted = [t.objective_spec.sample_weight for t in tasks]
            ids[:, 2] = np.where(weighted, pack.sw_ids.numpy(), -1)
        if pack.has_cls:
            ids[:, 3] = pack.l_ids.numpy()
        self.ids = ids
        self.no_keep = none

    def __call__(self, epoch: int) -> None:
        pack = self.pack
        order, keep_rows = pack._epoch_draws()
        pack.loss_sum.zero_()
        self.kernel.train_epoch(
            pack.flat.numpy(),
            self.state[0].numpy(),
            self.state[1].numpy(),
            self.layers,
            self.head,
            self.classes,
            self.x_data,
            self.y_data,
            self.sw_data,
            self.labels,
            self.ids,
            _array(order),
            self.no_keep if keep_rows is None else _array(keep_rows),
            pack.settings.batch_size,
            self.hyper,
            epoch,
            float(pack.settings.adam_eps),
            self.kernel.OPTIMIZER_CODES[pack.settings.optimizer],
            float(pack.settings.momentum),
            pack.alive.numpy(),
            pack.loss_sum.numpy(),
        )
        mean = (pack.loss_sum / pack.steps_t).to(pack.dtype)
        pack.final_loss = torch.where(pack.alive, mean, math.nan)
        pack.epochs_done += pack.alive


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.numpy())


def _state(pack: _Pack, copy: bool) -> TrainedModels:
    state = pack.state(copy=copy)
    state.backend = "fused"
    return state


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""
