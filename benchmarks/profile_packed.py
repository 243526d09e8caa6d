"""Time the packed trainer against the single-model reference on 1 thread.

Usage: python benchmarks/profile_packed.py [--epochs 80] [--ks 1,10,50] [--cs 4,64,1024]
       [--single] [--profile K,C]

Data: N = 9,984 + 16 training samples (39 full batches of 256, as the paper protocol with about
10,000 training samples), 1 input feature, a sum of two sines as target. Prints seconds for the
requested epochs, ms per step, model-steps per second and the achieved matmul GFLOP/s next to the
machine's single-thread sgemm GFLOP/s.
"""

from __future__ import annotations

import argparse
import time
from itertools import pairwise

import numpy as np
import torch

from regcls.training.packed import train_packed
from regcls.training.single import train_single
from regcls.training.tasks import ModelTask, TrainSettings

N_TRAIN = 10_000


def make_task(seed: int, num_classes: int, dtype: torch.dtype, lam: float = 100.0) -> ModelTask:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, N_TRAIN)
    y = 0.6 * np.sin(17 * x) + 0.9 * np.sin(5 * x)
    xt = torch.tensor(x, dtype=dtype).unsqueeze(1)
    yt = torch.tensor(y, dtype=dtype)
    if not num_classes:
        return ModelTask(xt, yt, seed=seed, lr=1e-3)
    edges = np.linspace(y.min(), y.max(), num_classes + 1)
    labels = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, num_classes - 1)
    return ModelTask(
        xt, yt, seed=seed, lr=1e-3, lam=lam, labels=torch.tensor(labels), num_classes=num_classes
    )


def flops_per_model_step(num_classes: int, batch: int = 256, hidden=(6, 16)) -> float:
    """Matmul FLOPs of forward + backward (3 matmuls per layer, first layer's dX skipped)."""
    widths = (1, *hidden)
    macs = sum(a * b for a, b in pairwise(widths)) + hidden[-1] * (1 + num_classes)
    return 2 * batch * macs * 3


def sgemm_gflops() -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    start = time.perf_counter()
    reps = 10
    for _ in range(reps):
        a @ b
    return 2 * 1024**3 * reps / (time.perf_counter() - start) / 1e9


def time_packed(k: int, c: int, epochs: int, dtype: torch.dtype) -> float:
    tasks = [make_task(seed, c, dtype) for seed in range(k)]
    settings = TrainSettings(epochs=epochs, dtype=str(dtype).removeprefix("torch."))
    start = time.perf_counter()
    train_packed(tasks, settings)
    return time.perf_counter() - start


def time_single(c: int, epochs: int, dtype: torch.dtype) -> float:
    settings = TrainSettings(epochs=epochs, dtype=str(dtype).removeprefix("torch."))
    task = make_task(0, c, dtype)
    start = time.perf_counter()
    train_single(task, settings)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--ks", default="1,10,50")
    parser.add_argument("--cs", default="4,64,1024")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--single", action="store_true", help="also time train_single, K=1")
    parser.add_argument("--profile", default="", help="K,C: print a torch.profiler table")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)
    steps = args.epochs * (N_TRAIN // 256)
    print(f"threads=1 torch={torch.__version__} sgemm={sgemm_gflops():.1f} GFLOP/s")
    if args.profile:
        k, c = (int(v) for v in args.profile.split(","))
        tasks = [make_task(seed, c, dtype) for seed in range(k)]
        settings = TrainSettings(epochs=args.epochs, dtype=args.dtype)
        with torch.profiler.profile() as prof:
            train_packed(tasks, settings)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return
    print("| trainer | K | C | s total | ms/step | model-steps/s | matmul GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c in (int(v) for v in args.cs.split(",")):
        if args.single:
            seconds = time_single(c, args.epochs, dtype)
            _row("single", 1, c, seconds, steps, 1)
        for k in (int(v) for v in args.ks.split(",")):
            _row("packed", k, c, time_packed(k, c, args.epochs, dtype), steps, k)


def _row(name: str, k: int, c: int, seconds: float, steps: int, models: int) -> None:
    gflops = flops_per_model_step(c) * steps * models / seconds / 1e9
    print(
        f"| {name} | {k} | {c} | {seconds:.2f} | {1e3 * seconds / steps:.3f} | "
        f"{steps * models / seconds:,.0f} | {gflops:.2f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
