"""Benchmark the paper's 1D workload `fig3-slice` three ways, side by side, in one run.

Workload (paper protocol): clean scenario, severe sampling, 10 functions x 5 test seeds,
C in {4, 16, 64, 256, 1024} for reg+cls (250 models) plus the 50 reg models; 80 epochs,
batch 256, 30,000 samples (10,000 for training, 39 full batches per epoch).

Paths measured (every training process uses 1 torch thread; the machine's cores are the Tune
slots):
1. packed: the product's path, `StageRunner.run` of the study through Ray Tune: grid points split
   into trials by `study.synthetic_1d.packing` (cost model x start-up calibration), many models per
   trial, one trial per core. Timed from `run` to its return (Ray start-up reported apart). Run
   twice, once per backend of the packed trainer: `fused` (the compiled CPU kernel,
   regcls/training/fused; its driver-side compile or cache load is inside the timed run) and
   `torch`. The kernel's compile time is measured apart, cold (an empty cache) and cached, in
   fresh processes; `fused_cold_compile` ratios add the cold compile to the fused run.
2. naive: one model per Tune trial (`train_single` inside the trial), a random sample of
   configurations, per-model rate; once with Tune's defaults (reuse_actors=False, a fresh
   worker process per trial) and once with the product's Tune settings (reuse_actors=True).
3. loop: a plain single-model PyTorch loop (`regcls.training.single.train_single`: nn.Module,
   torch.optim.Adam, float32 tensors in memory), in this process, 1 thread, no Ray.

FLOPs per model and training step (B = batch, layer widths 1 -> h1 -> h2, heads h2 -> 1 and
h2 -> C; `dense` = multiply-adds of one sample's forward; P = parameter count):
    dense    = 1*h1 + h1*h2 + h2*1 + h2*C
    forward  = 2*B*dense
    backward = 2*forward - 2*B*h1     (weight and input gradients; the input layer has no dX)
    CE       = 5*B*C                  (max, shift, exp, sum, scale; the softmax and its grad)
    Adam     = 12*P                   (weight decay 2, moments 5, bias-corrected update 5)
    model    = epochs * steps * (forward + backward + CE + Adam)
Bias adds and the MSE are not counted. Achieved GFLOP/s = FLOPs of all 300 models / wall seconds
of the packed path.

Roofline (the ceiling the packed path is judged against): measured in this run on one thread,
at the start and again after the packed path (the best of the two: a slow moment of a shared
host must not lower the ceiling), the float32 2048^3 matmul GFLOP/s (`sgemm`) and the bandwidth
of a streaming elementwise op (`torch.add` of two 64 MiB tensors into a third: 3 x 4 bytes per
element moved). Per model and
step, the matmul FLOPs (forward + backward above) and the minimum bytes the elementwise passes
must move (4-byte floats):
    logits   = 2*B*C        (written once by the head matmul, read once by its backward)
    hidden   = 4*B*(h1+h2)  (activations and their gradients, each written and read once)
    params   = 8*P          (Adam reads weight, grad, m, v and writes weight, m, v; grad written)
    data     = 6*B          (x, y, label (8 bytes), MSE and CE weights, read once)
    roofline step = max(matmul FLOPs / sgemm, bytes / bandwidth)      (the classic roofline)
Per (K, C) pack shape the ratio is the measured CPU seconds per step / the roofline of its K
models; for fig3-slice, packed wall seconds / (sum over its models of the roofline / cores), as
packed runs one single-thread trial per core.

Equivalence (the float64 checks are the pass/fail ones): one sampled model per class count is
trained in float64 by the packed trainer (all of them in one pack, through the study's
`train_points`) and by `train_single`; their validation MSEs must agree to 1e-10 (relative).
Fused vs torch backend, float64, per covered variant (two models of the slice's data per
variant, one full epoch, and all of them as one mixed pack): the max relative weight
difference must be <= 1e-12. The float32 differences are reported as numbers: the loop's models
against the same models' rows of each packed run, fused against torch rows (validation MSE),
and how many of the slice's reg+cls-vs-reg pair outcomes (test MSE) flip between the two runs.

Per (K, C) pack shape: float32 on the torch backend, float32 on the fused backend and the
torch backend's dtype "bfloat16" (class-head matmuls in bf16), interleaved, min of 3.

Usage: python benchmarks/bench_synthetic_1d.py [--quick | --smoke] [--json PATH] [--naive-sample 20]
       [--equivalence-models 6]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from search_spaces.synthetic_1d import PRESETS  # noqa: E402
from study.synthetic_1d.plan import test_specs  # noqa: E402
from study.synthetic_1d.point import data_config, train_point, train_points  # noqa: E402

SLICE = {
    "scenarios": ["clean"],
    "samplings": ["severe"],
    "functions": list(range(10)),
    "test_seeds": [0, 421, 8125, 2481, 849],
    "class_counts": [4, 16, 64, 256, 1024],
    "controls": [],  # the paper's reg and reg+cls only: the workload of the committed numbers
}
LAMBDA = 100.0  # the paper's best lambda on clean data
EQUAL_RTOL_FLOAT64 = 1e-10  # packed == single in float64 (relative validation MSE)
FUSED_RTOL_FLOAT64 = 1e-12  # fused == torch backend in float64 (relative weights, one epoch)
# Per-shape timing: (dtype, backend) - the default torch path, the fused kernel, the bf16 mode.
SHAPE_MODES = (("float32", "torch"), ("float32", "fused"), ("bfloat16", "torch"))
# Covered variants of the fused equivalence check: (variant, classes, lambda).
FUSED_VARIANTS = (
    ("reg", None, None),
    ("reg+cls", 4, 100.0),
    ("reg+cls", 1024, 100.0),
    ("reg+cls-balanced", 16, 100.0),
    ("reg-scaled", None, 100.0),
    ("reg-tuned", None, None),
    ("cls-only", 64, None),
)
# (K, C) packs timed to fit the cost model of study/packing.py, for the per-shape roofline and
# for the bfloat16 / float32 ratio.
COST_SHAPES = ((1, 4), (16, 4), (50, 4), (16, 64), (8, 256), (25, 256), (4, 1024), (10, 1024))
# --smoke: a tiny slice (2 functions, 1 seed, C in {4, 64}, 2 epochs) and three pack shapes.
SMOKE_SLICE = dict(
    SLICE, functions=[0, 1], test_seeds=[0], class_counts=[4, 64], epochs=2, total_samples=1536
)
SMOKE_SHAPES = ((1, 4), (4, 64), (2, 256))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 epochs instead of 80 (smoke)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a tiny slice and 3 pack shapes: checks the script end to end in minutes",
    )
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--equivalence-models", type=int, default=6, help="float64 check")
    parser.add_argument("--json", default="benchmarks/results_synthetic_1d.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = dict(SLICE, epochs=8) if args.quick else SLICE
    shapes = COST_SHAPES
    if args.smoke:
        overrides = dict(SMOKE_SLICE)
        shapes = SMOKE_SHAPES
        args.naive_sample = min(args.naive_sample, 2)
    preset = PRESETS["paper"].with_overrides(overrides)
    specs = test_specs(preset, {("clean", "imbalanced"): LAMBDA})
    models = [(s, f, seed) for s in specs for f, seed in s.replicates]
    load_start = os.getloadavg()
    cores = os.cpu_count()
    print(
        f"fig3-slice: {len(models)} models, {preset.epochs} epochs, {preset.total_samples} "
        f"samples, batch {preset.batch_size}; {cores} cores ({_cpu_model()}; {_cpu_flags()}); "
        f"load {_load()}",
        flush=True,
    )
    compile_s = measure_compile()
    print(f"fused kernel compile (float32, fresh process): {_short(compile_s)}", flush=True)
    ceiling_start = measure_roofline()
    print(
        f"roofline (1 thread): sgemm {ceiling_start['sgemm_gflops']:.1f} GFLOP/s, streaming add "
        f"{ceiling_start['stream_gbs']:.1f} GB/s (measured again after the packed paths)",
        flush=True,
    )

    cost = fit_cost_model(specs, shapes)
    print(f"cost model fit (1 thread, torch backend): {_short(cost['torch'])}", flush=True)
    print(f"cost model fit (1 thread, fused backend): {_short(cost['fused'])}", flush=True)

    sample = random.Random(0).sample(models, min(args.naive_sample, len(models)))
    loop = measure_loop(sample)
    print(f"loop: {loop['models_per_s']:.3f} models/s over {len(sample)} models", flush=True)
    naive = measure_naive(sample, reuse_actors=False)
    print(f"naive (Tune defaults): {naive['models_per_s']:.3f} models/s", flush=True)
    naive_reuse = measure_naive(sample, reuse_actors=True)
    print(f"naive (reuse_actors): {naive_reuse['models_per_s']:.3f} models/s", flush=True)

    matmul_before = measure_matmul_gflops(threads=cores)
    matmul_procs_before = measure_matmul_processes(cores)
    packed = measure_packed([s.with_values(backend="torch") for s in specs])
    _print_packed("packed, torch backend", packed)
    fused = measure_packed([s.with_values(backend="fused") for s in specs])
    _print_packed("packed, fused backend", fused)
    matmul_after = measure_matmul_gflops(threads=cores)
    matmul_procs_after = measure_matmul_processes(cores)
    ceiling_after = measure_roofline()
    # The ceiling is the best this machine reached in the run: a slow moment of a shared host
    # during one measurement would otherwise lower the roofline and flatter every ratio.
    ceiling = {
        **ceiling_start,
        "sgemm_gflops": max(ceiling_start["sgemm_gflops"], ceiling_after["sgemm_gflops"]),
        "stream_gbs": max(ceiling_start["stream_gbs"], ceiling_after["stream_gbs"]),
        "measured_start_after": [ceiling_start, ceiling_after],
    }
    per_shape = per_shape_roofline(cost["shapes"], ceiling)
    matmul = max(matmul_before, matmul_after, matmul_procs_before, matmul_procs_after)
    equal64 = check_equal_float64(sample, args.equivalence_models)
    print(
        f"float64 packed == single on {equal64['models']} models: max rel diff val MSE "
        f"{equal64['max_rel_diff_val_mse']:.1e} ({'pass' if equal64['pass'] else 'FAIL'})",
        flush=True,
    )
    fused64 = check_fused_float64(specs)
    print(
        "float64 fused == torch backend, max rel weight diff after one epoch: "
        + ", ".join(f"{k} {v:.1e}" for k, v in fused64["max_rel_weight_diff"].items())
        + f" ({'pass' if fused64['pass'] else 'FAIL'})",
        flush=True,
    )

    flops = sum(
        model_flops(s.num_classes or 0, s.batch_size, s.hidden, steps_per_epoch(s), s.epochs)
        for s, _, _ in models
    )
    roofline_s = (
        sum(
            steps_per_epoch(s) * s.epochs * roofline_step_seconds(1, s.num_classes or 0, ceiling)
            for s, _, _ in models
        )
        / cores
    )
    loop_val = loop.pop("val_mse")
    equal32 = float32_difference(loop_val, packed["val_mse"])
    fused32 = {
        "vs_loop": float32_difference(loop_val, fused["val_mse"]),
        "vs_torch_backend": float32_difference(packed.pop("val_mse"), fused.pop("val_mse")),
        "pair_outcomes": pair_outcome_flips(packed.pop("rows"), fused.pop("rows")),
    }
    packed_gflops = flops / packed["seconds"] / 1e9
    cold = fused["seconds"] + compile_s["cold_s"] - compile_s["cached_s"]
    ratios = {
        "naive": packed["models_per_s"] / naive["models_per_s"],
        "naive_reuse_actors": packed["models_per_s"] / naive_reuse["models_per_s"],
        "loop": packed["models_per_s"] / loop["models_per_s"],
        "roofline": packed["seconds"] / roofline_s,
        # train_seconds sums the trials' wall times over the `cores` slots; roofline_s is wall
        # time on all cores: compare per core.
        "roofline_training_only": packed["train_seconds"] / cores / roofline_s,
        "fused_naive": fused["models_per_s"] / naive["models_per_s"],
        "fused_naive_reuse_actors": fused["models_per_s"] / naive_reuse["models_per_s"],
        "fused_loop": fused["models_per_s"] / loop["models_per_s"],
        "fused_roofline": fused["seconds"] / roofline_s,
        "fused_roofline_training_only": fused["train_seconds"] / cores / roofline_s,
        "fused_vs_torch": packed["seconds"] / fused["seconds"],
        "fused_roofline_cold_compile": cold / roofline_s,
        "fused_loop_cold_compile": (len(models) / cold) / loop["models_per_s"],
    }
    result = {
        "workload": "fig3-slice",
        "models": len(models),
        "epochs": preset.epochs,
        "machine": {
            "cpus": cores,
            "cpu_model": _cpu_model(),
            "cpu_flags": _cpu_flags(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
            "load_start": load_start,
            "load_end": os.getloadavg(),
        },
        "threads": "1 per trial and in the loop; matmul reference: best of one process with "
        "one thread per core and one single-thread process per core (packed's setup)",
        "ratios": ratios,
        "ratios_meaning": "naive, naive_reuse_actors, loop: packed (torch backend) models/s over "
        "theirs (x faster); roofline: packed seconds / roofline seconds (1 = at the ceiling); "
        "fused_*: the same for the fused backend; fused_vs_torch: torch-backend seconds / "
        "fused seconds; *_cold_compile: with the kernel's cold compile added to the fused run",
        "equivalence_float64_max_rel": equal64["max_rel_diff_val_mse"],
        "equivalence_float64": equal64,
        "equivalence_fused_float64_max_rel": fused64["max_rel_weight_diff"],
        "equivalence_fused_float64": fused64,
        "float32_max_rel_diff_val_mse": equal32["max_rel_diff_val_mse"],
        "float32_difference": equal32,
        "fused_float32_difference": fused32,
        "fused_compile": compile_s,
        "roofline": {**ceiling, "fig3_slice_seconds": roofline_s, "per_shape": per_shape},
        "matmul_gflops": matmul,
        "matmul_gflops_threads_before_after": [matmul_before, matmul_after],
        "matmul_gflops_processes_before_after": [matmul_procs_before, matmul_procs_after],
        "matmul_gflops_1_thread": ceiling["sgemm_gflops"],
        "flops_total": flops,
        "loop": loop,
        "naive": naive,
        "naive_reuse_actors": naive_reuse,
        "packed": packed,
        "fused": fused,
        "packed_gflops": packed_gflops,
        "fused_gflops": flops / fused["seconds"] / 1e9,
        "packed_fraction_of_matmul": packed_gflops / matmul,
        "cost_model": {k: v for k, v in cost.items() if k != "shapes"},
    }
    Path(args.json).write_text(json.dumps(result, indent=2))
    _table(result)
    print(f"JSON: {Path(args.json).resolve()}")
    flips = fused32["pair_outcomes"]
    print(
        f"SUMMARY fig3-slice {len(models)} models x {preset.epochs} epochs: fused "
        f"{fused['seconds']:.1f} s, torch {packed['seconds']:.1f} s (fused "
        f"{ratios['fused_vs_torch']:.2f}x faster); fused/roofline {ratios['fused_roofline']:.2f} "
        f"(training part {ratios['fused_roofline_training_only']:.2f}; torch "
        f"{ratios['roofline']:.2f} / {ratios['roofline_training_only']:.2f}; roofline "
        f"{roofline_s:.1f} s); fused/loop {ratios['fused_loop']:.1f}x (torch "
        f"{ratios['loop']:.1f}x); fused/naive {ratios['fused_naive']:.1f}x, reused actors "
        f"{ratios['fused_naive_reuse_actors']:.1f}x (torch {ratios['naive']:.1f}x / "
        f"{ratios['naive_reuse_actors']:.1f}x); kernel compile cold {compile_s['cold_s']:.1f} s, "
        f"cached {compile_s['cached_s']:.1f} s (fused/roofline with the cold compile "
        f"{ratios['fused_roofline_cold_compile']:.2f}); float64 fused == torch "
        f"{'pass' if fused64['pass'] else 'FAIL'} (max rel weight {fused64['max']:.1e}), packed "
        f"== single {'pass' if equal64['pass'] else 'FAIL'} ({equal64['max_rel_diff_val_mse']:.1e}"
        f"); float32 fused vs torch max rel val MSE "
        f"{fused32['vs_torch_backend']['max_rel_diff_val_mse']:.1e}, pair outcomes flipped "
        f"{flips['flipped']} of {flips['pairs']}; load {_load()}"
    )


def _print_packed(name: str, packed: dict) -> None:
    print(
        f"{name} (study through Ray Tune): {packed['models_per_s']:.3f} models/s, "
        f"{packed['seconds']:.1f} s for {packed['models']} models in {packed['trials']} trials "
        f"(+{packed['ray_start_s']:.1f} s Ray start-up); backends {packed['backends']}",
        flush=True,
    )


def measure_compile() -> dict:
    """Seconds of the fused kernel's first use in a fresh process (float32 `warm_up`): cold
    (an empty numba cache: compilation) and cached (the same cache again: a load), as a new
    process of a study (driver or Ray worker) pays them; plus the process's import time."""
    code = (
        "import time; t = time.perf_counter(); "
        "from regcls.training.fused import warm_up; import torch; "
        "imported = time.perf_counter() - t; s = warm_up(['float32']); "
        "print(imported, s['float32'] if isinstance(s, dict) else -1)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        for name in ("cold_s", "cached_s"):
            result = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            )
            imported, seconds = (float(v) for v in result.stdout.split()[-2:])
            out[name], out[f"import_{name}"] = seconds, imported
    return out


def measure_roofline(stream_mib: int = 64, seconds: float = 1.5) -> dict:
    """Single-thread ceilings of this machine: sgemm GFLOP/s (2048^3) and the bandwidth (GB/s)
    of a streaming `torch.add(a, b, out=c)` over tensors far larger than the caches; best of
    repeats in CPU time, like the per-shape pack timings (on a shared machine wall time would
    charge other processes' time slices to the ceiling)."""
    size, n = 2048, stream_mib * 2**20 // 4
    a, b = torch.randn(size, size), torch.randn(size, size)
    x, y, out = torch.rand(n), torch.rand(n), torch.empty(n)

    def best(op, work: float) -> float:
        op()
        top, started = 0.0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            t = time.process_time()
            op()
            top = max(top, work / max(time.process_time() - t, 1e-9) / 1e9)
        return top

    return {
        "sgemm_gflops": best(lambda: torch.mm(a, b), 2 * size**3),
        "stream_gbs": best(lambda: torch.add(x, y, out=out), 3 * 4 * n),
        "clock": "CPU time (time.process_time), 1 thread",
    }


def step_flops_bytes(
    classes: int, batch: int = 256, hidden: tuple[int, ...] = (6, 16)
) -> tuple[float, float]:
    """(matmul FLOPs, minimum elementwise bytes) of one model's training step (module doc)."""
    widths = (1, *hidden)
    dense = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    dense += hidden[-1] * (1 + classes)
    forward = 2 * batch * dense
    flops = forward + 2 * forward - 2 * batch * hidden[0]
    params = dense + sum(hidden) + 1 + classes
    moved = 4 * (2 * batch * classes + 4 * batch * sum(hidden) + 8 * params + 6 * batch)
    return float(flops), float(moved)


def roofline_step_seconds(models: int, classes: int, ceiling: dict) -> float:
    """Roofline seconds of one step of a pack of `models` models with `classes` classes."""
    flops, moved = step_flops_bytes(classes)
    return models * max(
        flops / (ceiling["sgemm_gflops"] * 1e9), moved / (ceiling["stream_gbs"] * 1e9)
    )


def steps_per_epoch(spec) -> int:
    return (spec.total_samples // 3) // spec.batch_size


def model_flops(
    classes: int, batch: int, hidden: tuple[int, ...], steps: int, epochs: int
) -> float:
    """FLOPs to train one model (formula in the module docstring)."""
    widths = (1, *hidden)
    dense = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    dense += hidden[-1] * (1 + classes)
    forward = 2 * batch * dense
    backward = 2 * forward - 2 * batch * hidden[0]
    ce = 5 * batch * classes
    params = dense + sum(hidden) + 1 + classes
    return float(steps * epochs * (forward + backward + ce + 12 * params))


def measure_matmul_gflops(threads: int, size: int = 2048, seconds: float = 1.5) -> float:
    """float32 size^3 matmul GFLOP/s with `threads` threads; best of repeated timings."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(a, b)
        best, started = 0.0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            t = time.perf_counter()
            torch.mm(a, b)
            best = max(best, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    finally:
        torch.set_num_threads(previous)
    return best


def measure_matmul_processes(processes: int) -> float:
    """Sum of `processes` concurrent single-thread matmul GFLOP/s (packed's thread setup)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        return float(sum(pool.map(measure_matmul_gflops, [1] * processes)))


def fit_cost_model(specs, shapes_timed=COST_SHAPES) -> dict:
    """Time packs of the shapes in COST_SHAPES (1 thread, CPU time, every `SHAPE_MODES` entry
    interleaved, min of 3) and fit study/packing.py's
    pack_step(K, C) = step_s + K * (model_step_s + class_step_s * C) by least squares for the
    float32 torch and fused backends; per shape the times and ratios (the roofline ratio:
    `per_shape_roofline`)."""
    from regcls.training.packed import train_packed
    from regcls.training.tasks import ModelTask, TrainSettings

    n, batch = 10_000, 256
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    y = torch.sin(5 * x[:, 0])
    rows, times, shapes = [], {"torch": [], "fused": []}, {}
    for k, c in shapes_timed:
        labels = torch.arange(n) % c
        tasks = [ModelTask(x, y, i, 1e-3, 100.0, labels, c) for i in range(k)]
        best = {}
        for mode in SHAPE_MODES * 3:
            dtype, backend = mode
            train_packed(tasks, TrainSettings(epochs=1, dtype=dtype, backend=backend))  # warm-up
            started = time.process_time()
            train_packed(tasks, TrainSettings(epochs=2, dtype=dtype, backend=backend))
            step = (time.process_time() - started) / (2 * (n // batch))
            best[mode] = min(best.get(mode, math.inf), step)
        torch32, fused32, bf16 = (best[mode] for mode in SHAPE_MODES)
        times["torch"].append(torch32)
        times["fused"].append(fused32)
        rows.append([1.0, k, k * c])
        shapes[f"K={k},C={c}"] = {
            "models": k,
            "classes": c,
            "float32_ms_per_step": 1e3 * torch32,
            "fused_ms_per_step": 1e3 * fused32,
            "bfloat16_ms_per_step": 1e3 * bf16,
            "float32_over_bfloat16": torch32 / bf16,
            "torch_over_fused": torch32 / fused32,
        }
    # Zero epochs: data generation, binning and evaluation only, of the narrowest and widest.
    overhead = {}
    for spec in (min(specs, key=_classes), max(specs, key=_classes)):
        point = spec.with_values(epochs=0, replicates=spec.replicates[:5])
        started = time.process_time()
        train_point(point)
        overhead[_classes(spec)] = (time.process_time() - started) / 5
    (c0, t0), (c1, t1) = sorted(overhead.items())
    per_model = {
        "model_s": t0 - c0 * (t1 - t0) / (c1 - c0),
        "model_class_s": (t1 - t0) / (c1 - c0),
    }
    out: dict = {"shapes": shapes}
    for backend, measured in times.items():
        coef, *_ = np.linalg.lstsq(np.array(rows), np.array(measured), rcond=None)
        out[backend] = {
            "step_s": float(coef[0]),
            "model_step_s": float(coef[1]),
            "class_step_s": float(coef[2]),
            **per_model,
        }
    return out


def per_shape_roofline(shapes: dict, ceiling: dict) -> dict:
    """Each timed pack shape with its roofline ms per step, float32 (and fused, when timed) /
    roofline and bound."""
    out = {}
    for name, shape in shapes.items():
        k, c = shape["models"], shape["classes"]
        roof = roofline_step_seconds(k, c, ceiling)
        out[name] = {
            **shape,
            "roofline_ms_per_step": 1e3 * roof,
            "float32_over_roofline": shape["float32_ms_per_step"] / (1e3 * roof),
            "bound": "memory" if _memory_bound(c, ceiling) else "compute",
        }
        if "fused_ms_per_step" in shape:
            out[name]["fused_over_roofline"] = shape["fused_ms_per_step"] / (1e3 * roof)
    return out


def _memory_bound(classes: int, ceiling: dict) -> bool:
    flops, moved = step_flops_bytes(classes)
    return moved / ceiling["stream_gbs"] > flops / ceiling["sgemm_gflops"]


def _short(values: dict) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in values.items() if k != "shapes")


def _classes(spec) -> int:
    return spec.num_classes or 0


def measure_loop(sample) -> dict:
    """Plain single-model training of each sampled model; also its validation MSE."""
    from regcls.training.single import train_single

    seconds, val_mse = 0.0, {}
    for spec, f, seed in sample:
        task, data = single_task(spec, f, seed)
        started = time.perf_counter()
        trained = train_single(task, settings_of(spec))
        seconds += time.perf_counter() - started
        x = torch.as_tensor(data.x_val, dtype=getattr(torch, spec.dtype)).unsqueeze(1)
        pred = trained.predict(x, index=0).double().numpy()
        val_mse[model_id(spec.num_classes, f, seed)] = float(np.mean((pred - data.y_val) ** 2))
    return {
        "models": len(sample),
        "seconds": seconds,
        "models_per_s": len(sample) / seconds,
        "threads": 1,
        "val_mse": val_mse,
    }


def measure_naive(sample, reuse_actors: bool) -> dict:
    import ray
    from ray import tune

    ray.init(  # a Ray of its own, even when another cluster runs on this machine
        address="local",
        num_cpus=os.cpu_count(),
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
    )
    configs = [s.with_values(replicates=((f, seed),)).to_config() for s, f, seed in sample]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as storage:
        tune.Tuner(
            tune.with_resources(_naive_trainable, {"cpu": 1}),
            param_space={"spec": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(reuse_actors=reuse_actors),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()
    seconds = time.perf_counter() - started
    ray.shutdown()
    return {
        "models": len(sample),
        "seconds": seconds,
        "models_per_s": len(sample) / seconds,
        "reuse_actors": reuse_actors,
    }


def _naive_trainable(config: dict) -> None:
    from ray import tune

    from regcls.training.single import train_single
    from study.synthetic_1d.trial_spec import TrialSpec

    torch.set_num_threads(1)
    spec = TrialSpec.from_config(config["spec"])
    ((f, seed),) = spec.replicates
    task, _ = single_task(spec, f, seed)
    train_single(task, settings_of(spec))
    tune.report({"done": 1})


def measure_packed(specs) -> dict:
    from results import ROW_SCHEMA
    from study.cluster import ray_session
    from study.options import StudyOptions
    from study.resources import packed_trial_resources
    from study.sink import ParquetSink
    from study.synthetic_1d.run import StageRunner  # the study's own stage runner
    from study.tune_runner import study_progress

    with tempfile.TemporaryDirectory() as out:
        options = StudyOptions(study="synthetic_1d", preset="paper", out=Path(out), dashboard=False)
        sink = ParquetSink(Path(out), ROW_SCHEMA)
        summaries: dict = {}
        started = time.perf_counter()
        with ray_session(num_cpus=os.cpu_count(), dashboard=False) as cluster:
            ray_start = time.perf_counter() - started
            resources = packed_trial_resources(cluster)
            models = sum(len(s.replicates) for s in specs)
            started = time.perf_counter()
            with study_progress(models) as progress:
                StageRunner(options, sink, resources, summaries, progress).run(specs)
            seconds = time.perf_counter() - started
        table = sink.read()
    rows = table.to_pylist()
    packs = sorted(r["models_in_pack"] for r in rows)
    return {
        "models": len(rows),
        "seconds": seconds,
        "ray_start_s": ray_start,
        "models_per_s": len(rows) / seconds,
        "trials": sum(s.trials for s in summaries.values()),
        "models_in_pack_min_max": [packs[0], packs[-1]],
        "trial_wall_s_max": max(r["trial_wall_time_s"] for r in rows),
        # Data + training of every trial (evaluation, e.g. L_extra, excluded) over the slots.
        "train_seconds": sum({r["trial_key"]: r["trial_wall_time_s"] for r in rows}.values())
        / os.cpu_count(),
        "device": resources.device,
        "threads_per_trial": resources.threads,
        "backends": sorted({r["backend"] for r in rows}),
        "val_mse": {
            model_id(r["num_classes"], r["function_id"], r["seed"]): r["val_mse"] for r in rows
        },
        "rows": [
            {k: r[k] for k in ("num_classes", "function_id", "seed", "test_mse")} for r in rows
        ],
    }


def float32_difference(loop: dict, packed: dict) -> dict:
    """Validation MSE of the loop's float32 models against the same models' rows from the packed
    run: a number, not a pass/fail (float32 rounding depends on summation order and CPU)."""
    diffs = {k: abs(packed[k] - v) / abs(v) for k, v in loop.items()}
    return {"models": len(diffs), "max_rel_diff_val_mse": max(diffs.values())}


def pair_outcome_flips(rows_a: list[dict], rows_b: list[dict]) -> dict:
    """How many reg+cls-vs-reg pair outcomes (test MSE below the paired reg's, same function
    and seed) differ between two runs of the same slice."""

    def outcomes(rows: list[dict]) -> dict:
        reg = {(r["function_id"], r["seed"]): r["test_mse"] for r in rows if not r["num_classes"]}
        return {
            (r["num_classes"], r["function_id"], r["seed"]): r["test_mse"]
            < reg[(r["function_id"], r["seed"])]
            for r in rows
            if r["num_classes"] and r["test_mse"] is not None
        }

    a, b = outcomes(rows_a), outcomes(rows_b)
    shared = sorted(set(a) & set(b))
    flipped = [key for key in shared if a[key] != b[key]]
    return {
        "pairs": len(shared),
        "flipped": len(flipped),
        "flipped_pairs": [list(key) for key in flipped],
        "reg_cls_wins_a_b": [sum(a[k] for k in shared), sum(b[k] for k in shared)],
    }


def check_fused_float64(specs) -> dict:
    """Fused vs torch backend in float64 after one epoch, per `FUSED_VARIANTS` entry (two models
    of the slice's first two functions) and for all of them as one mixed pack: the max relative
    weight difference, which must stay <= FUSED_RTOL_FLOAT64."""
    from dataclasses import replace

    from regcls.training.packed import train_packed

    spec0 = next(s for s in specs if s.variant == "reg")
    groups = {}
    for variant, classes, lam in FUSED_VARIANTS:
        spec = spec0.with_values(
            variant=variant, num_classes=classes, lam=lam, dtype="float64", epochs=1
        )
        if variant == "reg-tuned":
            spec = spec.with_values(weight_decay=1e-2)
        name = variant if classes is None else f"{variant} C={classes}"
        groups[name] = [_variant_task(spec, f, seed) for f, seed in spec.replicates[:2]]
    groups["mixed pack"] = [t for tasks in groups.values() for t in tasks]
    settings = replace(settings_of(spec0), dtype="float64", epochs=1)
    diffs = {}
    for name, tasks in groups.items():
        ref = train_packed(tasks, settings)
        got = train_packed(tasks, replace(settings, backend="fused"))
        assert got.backend == "fused", name
        diffs[name] = max(
            float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-300))
            for a, b in zip(got.params, ref.params, strict=True)
            for k in b
        )
    worst = max(diffs.values())
    return {
        "max_rel_weight_diff": diffs,
        "max": worst,
        "rtol": FUSED_RTOL_FLOAT64,
        "epochs": 1,
        "pass": worst <= FUSED_RTOL_FLOAT64,
    }


def _variant_task(spec, function_id: int, seed: int):
    """A model of any variant, built as the study's trial builds it (`point._task`)."""
    from regcls.data.synthetic import make_dataset
    from study.class_tasks import class_binning
    from study.synthetic_1d.point import _task

    data = make_dataset(data_config(spec, function_id, seed))
    dtype = getattr(torch, spec.dtype)
    x = torch.as_tensor(data.x_train, dtype=dtype).unsqueeze(1)
    y = torch.as_tensor(data.y_train, dtype=dtype)
    return _task(spec, data, (x, y), class_binning(spec, data.y_train), seed)


def check_equal_float64(sample, count: int) -> dict:
    """One sampled model per class count (up to `count`), trained in float64 as one packed pack
    of mixed class counts (the study's `train_points`) and one by one by `train_single`; their
    validation MSEs must agree to EQUAL_RTOL_FLOAT64. The pack trains on the specs' backend
    (the study's default, fused); `check_fused_float64` compares the two backends."""
    chosen: dict[int, tuple] = {}
    for spec, f, seed in sample:
        chosen.setdefault(_classes(spec), (spec, f, seed))
    chosen_models = list(chosen.values())[:count]
    points = [
        spec.with_values(dtype="float64", replicates=((f, seed),))
        for spec, f, seed in chosen_models
    ]
    packed = {}
    for spec, rows in zip(points, train_points(points), strict=True):
        (row,) = rows
        packed[model_id(spec.num_classes, row["function_id"], row["seed"])] = row["val_mse"]
    single = measure_loop(
        [(s, f, seed) for s, (_, f, seed) in zip(points, chosen_models, strict=True)]
    )
    diffs = {k: abs(packed[k] - v) / abs(v) for k, v in single["val_mse"].items()}
    worst = max(diffs.values())
    return {
        "backend": points[0].backend,  # the study's default: fused where it runs
        "models": len(diffs),
        "class_counts": sorted(chosen)[:count],
        "max_rel_diff_val_mse": worst,
        "rtol": EQUAL_RTOL_FLOAT64,
        "pass": worst < EQUAL_RTOL_FLOAT64,
    }


def model_id(num_classes: int | None, function_id: int, seed: int) -> str:
    return f"C={num_classes or 0},f={function_id},seed={seed}"


def settings_of(spec):
    from regcls.training.tasks import TrainSettings

    return TrainSettings(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        weight_decay=spec.weight_decay,
        dtype=spec.dtype,
        hidden=spec.hidden,
    )


def single_task(spec, function_id: int, seed: int):
    """The model's task, built the way the study builds it (tensors in memory, spec.dtype)."""
    from regcls.data.synthetic import make_dataset
    from study.class_tasks import class_binning, packed_task

    data = make_dataset(data_config(spec, function_id, seed))
    dtype = getattr(torch, spec.dtype)  # float32 or float64 (the benchmark's specs)
    x = torch.as_tensor(data.x_train, dtype=dtype).unsqueeze(1)
    y = torch.as_tensor(data.y_train, dtype=dtype)
    binning = class_binning(spec, data.y_train)
    return packed_task(spec, x, y, data.y_train, binning, seed), data


def _cpu_model() -> str:
    return _lscpu("Model name") or platform.processor() or "unknown CPU"


def _cpu_flags() -> str:
    """The matrix / vector extensions that matter here (AVX-512, its BF16, AMX)."""
    flags = set(_lscpu("Flags").split())
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8")
    return " ".join(f for f in wanted if f in flags) or "no avx2/avx512/amx flags"


def _lscpu(field: str) -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _table(r: dict) -> None:
    p, f, n, nr, lp = r["packed"], r["fused"], r["naive"], r["naive_reuse_actors"], r["loop"]
    print("| path | models | seconds | models/s | fused is x faster | torch backend is x faster |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, v in (
        (f"packed, fused backend (Tune, {f['trials']} trials)", f),
        (f"packed, torch backend (Tune, {p['trials']} trials)", p),
        ("naive (Tune defaults)", n),
        ("naive (reuse_actors)", nr),
        ("loop", lp),
    ):
        print(
            f"| {name} | {v['models']} | {v['seconds']:.1f} | {v['models_per_s']:.3f} | "
            f"{f['models_per_s'] / v['models_per_s']:.1f} | "
            f"{p['models_per_s'] / v['models_per_s']:.1f} |"
        )
    print(
        f"packed (torch): {r['packed_gflops']:.1f} GFLOP/s, fused {r['fused_gflops']:.1f} GFLOP/s "
        f"of {r['flops_total'] / 1e12:.2f} TFLOP; measured float32 matmul {r['matmul_gflops']:.1f}"
        f" GFLOP/s (best of: {r['machine']['cpus']} threads "
        f"{max(r['matmul_gflops_threads_before_after']):.1f}, {r['machine']['cpus']} "
        f"single-thread processes {max(r['matmul_gflops_processes_before_after']):.1f}; "
        f"1 thread alone {r['matmul_gflops_1_thread']:.1f})"
    )
    roof = r["roofline"]
    print(
        f"roofline (1 thread): sgemm {roof['sgemm_gflops']:.1f} GFLOP/s, stream "
        f"{roof['stream_gbs']:.1f} GB/s; fig3-slice roofline {roof['fig3_slice_seconds']:.1f} s"
    )
    print(
        "| K | C | bound | roofline ms/step | torch ms/step | / roofline | fused ms/step "
        "| / roofline | torch / fused | bf16 ms/step | float32 / bf16 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape, v in roof["per_shape"].items():
        k, c = (part.split("=")[1] for part in shape.split(","))
        print(
            f"| {k} | {c} | {v['bound']} | {v['roofline_ms_per_step']:.4f} | "
            f"{v['float32_ms_per_step']:.3f} | {v['float32_over_roofline']:.1f} | "
            f"{v['fused_ms_per_step']:.3f} | {v['fused_over_roofline']:.1f} | "
            f"{v['torch_over_fused']:.2f} | {v['bfloat16_ms_per_step']:.3f} | "
            f"{v['float32_over_bfloat16']:.2f} |"
        )


if __name__ == "__main__":
    main()
