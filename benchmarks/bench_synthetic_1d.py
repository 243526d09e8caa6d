"""Benchmark the paper's 1D workload `fig3-slice` three ways, side by side, in one run.

Workload (paper protocol): clean scenario, severe sampling, 10 functions x 5 test seeds,
C in {4, 16, 64, 256, 1024} for reg+cls (250 models) plus the 50 reg models; 80 epochs,
batch 256, 30,000 samples (10,000 for training, 39 full batches per epoch).

Paths measured (every training process uses 1 torch thread; the machine's cores are the Tune
slots):
1. packed: the product's path, `StageRunner.run` of the study through Ray Tune: grid points split
   into trials by `study.synthetic_1d.packing` (cost model x start-up calibration), many models per
   trial, one trial per core. Timed from `run` to its return (Ray start-up reported apart).
2. naive: one model per Tune trial (`train_single` inside the trial), a random sample of
   configurations, per-model rate; once with Tune's defaults (reuse_actors=False, a fresh
   worker process per trial) and once with the product's Tune settings (reuse_actors=True).
3. loop: a plain single-model PyTorch loop (`regcls.single.train_single`: nn.Module,
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
of the packed path. The reference is a float32 2048^3 matmul measured in this run, just before
and just after the packed path, in two setups: one process with one thread per core, and one
single-thread process per core at once (packed's setup: one single-thread trial per core); the
highest of the four measurements is the reference.

Equivalence: the `loop` sample trains the same (config, function, seed) models as rows of the
packed run; their validation MSEs must agree within float32 tolerance (rel. 1e-3).

Usage: python benchmarks/bench_synthetic_1d.py [--quick] [--json PATH] [--naive-sample 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
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
from study.synthetic_1d.point import data_config, train_point  # noqa: E402

SLICE = {
    "scenarios": ["clean"],
    "samplings": ["severe"],
    "functions": list(range(10)),
    "test_seeds": [0, 421, 8125, 2481, 849],
    "class_counts": [4, 16, 64, 256, 1024],
    "controls": [],  # the paper's reg and reg+cls only: the workload of the committed numbers
}
LAMBDA = 100.0  # the paper's best lambda on clean data
EQUAL_RTOL = 1e-3  # float32: summation order differs between packed and single-model training
# (K, C) packs timed to fit the cost model of study/packing.py.
COST_SHAPES = ((1, 4), (16, 4), (50, 4), (16, 64), (8, 256), (25, 256), (4, 1024), (10, 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 epochs instead of 80 (smoke)")
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--json", default="benchmarks/results_synthetic_1d.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = dict(SLICE, epochs=8) if args.quick else SLICE
    preset = PRESETS["paper"].with_overrides(overrides)
    specs = test_specs(preset, {("clean", "imbalanced"): LAMBDA})
    models = [(s, f, seed) for s in specs for f, seed in s.replicates]
    load_start = os.getloadavg()
    print(
        f"fig3-slice: {len(models)} models, {preset.epochs} epochs, {preset.total_samples} "
        f"samples, batch {preset.batch_size}; {os.cpu_count()} cores; load {_load()}",
        flush=True,
    )

    cost = fit_cost_model(specs)
    print(f"cost model fit (1 thread): {cost}", flush=True)

    sample = random.Random(0).sample(models, min(args.naive_sample, len(models)))
    loop = measure_loop(sample)
    print(f"loop: {loop['models_per_s']:.3f} models/s over {len(sample)} models", flush=True)
    naive = measure_naive(sample, reuse_actors=False)
    print(f"naive (Tune defaults): {naive['models_per_s']:.3f} models/s", flush=True)
    naive_reuse = measure_naive(sample, reuse_actors=True)
    print(f"naive (reuse_actors): {naive_reuse['models_per_s']:.3f} models/s", flush=True)

    cores = os.cpu_count()
    matmul_before = measure_matmul_gflops(threads=cores)
    matmul_procs_before = measure_matmul_processes(cores)
    packed = measure_packed(specs)
    matmul_after = measure_matmul_gflops(threads=cores)
    matmul_procs_after = measure_matmul_processes(cores)
    matmul_1t = measure_matmul_gflops(threads=1)
    matmul = max(matmul_before, matmul_after, matmul_procs_before, matmul_procs_after)
    print(
        f"packed (study through Ray Tune): {packed['models_per_s']:.3f} models/s, "
        f"{packed['seconds']:.1f} s for {packed['models']} models in {packed['trials']} trials "
        f"(+{packed['ray_start_s']:.1f} s Ray start-up)",
        flush=True,
    )

    flops = sum(
        model_flops(s.num_classes or 0, s.batch_size, s.hidden, steps_per_epoch(s), s.epochs)
        for s, _, _ in models
    )
    equal = check_equal(loop.pop("val_mse"), packed.pop("val_mse"))
    packed_gflops = flops / packed["seconds"] / 1e9
    result = {
        "workload": "fig3-slice",
        "models": len(models),
        "epochs": preset.epochs,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
            "load_start": load_start,
            "load_end": os.getloadavg(),
        },
        "threads": "1 per trial and in the loop; matmul reference: best of one process with "
        "one thread per core and one single-thread process per core (packed's setup)",
        "matmul_gflops": matmul,
        "matmul_gflops_threads_before_after": [matmul_before, matmul_after],
        "matmul_gflops_processes_before_after": [matmul_procs_before, matmul_procs_after],
        "matmul_gflops_1_thread": matmul_1t,
        "flops_total": flops,
        "loop": loop,
        "naive": naive,
        "naive_reuse_actors": naive_reuse,
        "packed": packed,
        "packed_gflops": packed_gflops,
        "packed_vs_naive": packed["models_per_s"] / naive["models_per_s"],
        "packed_vs_naive_reuse_actors": packed["models_per_s"] / naive_reuse["models_per_s"],
        "packed_vs_loop": packed["models_per_s"] / loop["models_per_s"],
        "packed_fraction_of_matmul": packed_gflops / matmul,
        "equivalence": equal,
        "cost_model": cost,
    }
    Path(args.json).write_text(json.dumps(result, indent=2))
    _table(result)
    print(f"JSON: {Path(args.json).resolve()}")
    print(
        f"SUMMARY fig3-slice {len(models)} models x {preset.epochs} epochs: packed "
        f"{packed['seconds']:.0f} s ({packed['models_per_s']:.2f} models/s) = "
        f"{result['packed_vs_naive']:.1f}x naive ({result['packed_vs_naive_reuse_actors']:.1f}x "
        f"with reused actors), {result['packed_vs_loop']:.1f}x loop; {packed_gflops:.1f} GFLOP/s"
        f" = {100 * result['packed_fraction_of_matmul']:.0f}% of {cores}-core matmul "
        f"{matmul:.0f} GFLOP/s; packed == loop on {equal['models']} models: "
        f"{'yes' if equal['within_float32'] else 'NO'} (max rel diff val MSE "
        f"{equal['max_rel_diff_val_mse']:.1e}); load {_load()}"
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


def fit_cost_model(specs) -> dict:
    """Time packs of the shapes in COST_SHAPES (1 thread, CPU time) and fit study/packing.py's
    pack_step(K, C) = step_s + K * (model_step_s + class_step_s * C) by least squares."""
    from regcls.packed import ModelTask, TrainSettings, train_packed

    n, batch = 10_000, 256
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    y = torch.sin(5 * x[:, 0])
    rows, times = [], []
    for k, c in COST_SHAPES:
        labels = torch.arange(n) % c
        tasks = [ModelTask(x, y, i, 1e-3, 100.0, labels, c) for i in range(k)]
        train_packed(tasks, TrainSettings(epochs=1))
        started = time.process_time()
        train_packed(tasks, TrainSettings(epochs=2))
        times.append((time.process_time() - started) / (2 * (n // batch)))
        rows.append([1.0, k, k * c])
    coef, *_ = np.linalg.lstsq(np.array(rows), np.array(times), rcond=None)
    # Zero epochs: data generation, binning and evaluation only, of the narrowest and widest.
    overhead = {}
    for spec in (min(specs, key=_classes), max(specs, key=_classes)):
        point = spec.with_values(epochs=0, replicates=spec.replicates[:5])
        started = time.process_time()
        train_point(point)
        overhead[_classes(spec)] = (time.process_time() - started) / 5
    (c0, t0), (c1, t1) = sorted(overhead.items())
    return {
        "step_s": float(coef[0]),
        "model_step_s": float(coef[1]),
        "class_step_s": float(coef[2]),
        "model_s": t0 - c0 * (t1 - t0) / (c1 - c0),
        "model_class_s": (t1 - t0) / (c1 - c0),
        "pack_step_ms": {
            f"K={k},C={c}": 1e3 * t for (k, c), t in zip(COST_SHAPES, times, strict=True)
        },
    }


def _classes(spec) -> int:
    return spec.num_classes or 0


def measure_loop(sample) -> dict:
    """Plain single-model training of each sampled model; also its validation MSE."""
    from regcls.single import train_single

    seconds, val_mse = 0.0, {}
    for spec, f, seed in sample:
        task, data = single_task(spec, f, seed)
        started = time.perf_counter()
        trained = train_single(task, settings_of(spec))
        seconds += time.perf_counter() - started
        x = torch.as_tensor(data.x_val, dtype=torch.float32).unsqueeze(1)
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

    ray.init(
        num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR"
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

    from regcls.single import train_single
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

    with tempfile.TemporaryDirectory() as out:
        options = StudyOptions(study="synthetic_1d", preset="paper", out=Path(out), dashboard=False)
        sink = ParquetSink(Path(out), ROW_SCHEMA)
        summaries: dict = {}
        started = time.perf_counter()
        with ray_session(num_cpus=os.cpu_count(), dashboard=False) as cluster:
            ray_start = time.perf_counter() - started
            resources = packed_trial_resources(cluster)
            started = time.perf_counter()
            StageRunner(options, sink, resources, summaries).run(specs)
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
        "device": resources.device,
        "threads_per_trial": resources.threads,
        "val_mse": {
            model_id(r["num_classes"], r["function_id"], r["seed"]): r["val_mse"] for r in rows
        },
    }


def check_equal(loop: dict, packed: dict) -> dict:
    """Validation MSE of the loop's models against the same models' rows from the packed run."""
    diffs = {k: abs(packed[k] - v) / abs(v) for k, v in loop.items()}
    worst = max(diffs.values())
    return {
        "models": len(diffs),
        "max_rel_diff_val_mse": worst,
        "rtol": EQUAL_RTOL,
        "within_float32": worst < EQUAL_RTOL,
    }


def model_id(num_classes: int | None, function_id: int, seed: int) -> str:
    return f"C={num_classes or 0},f={function_id},seed={seed}"


def settings_of(spec):
    from regcls.packed import TrainSettings

    return TrainSettings(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        weight_decay=spec.weight_decay,
        dtype=spec.dtype,
        hidden=spec.hidden,
    )


def single_task(spec, function_id: int, seed: int):
    """The model's task, built the way the study builds it (float32 tensors in memory)."""
    from regcls.synthetic import make_dataset
    from study.class_tasks import class_binning, packed_task

    data = make_dataset(data_config(spec, function_id, seed))
    x = torch.as_tensor(data.x_train, dtype=torch.float32).unsqueeze(1)
    y = torch.as_tensor(data.y_train, dtype=torch.float32)
    binning = class_binning(spec, data.y_train)
    return packed_task(spec, x, y, data.y_train, binning, seed), data


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _table(r: dict) -> None:
    p, n, nr, lp = r["packed"], r["naive"], r["naive_reuse_actors"], r["loop"]
    print("| path | models | seconds | models/s | packed is x faster |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| packed (Tune, {p['trials']} trials) | {p['models']} | {p['seconds']:.1f} | "
        f"{p['models_per_s']:.3f} | 1.0 |"
    )
    for name, v in (("naive (Tune defaults)", n), ("naive (reuse_actors)", nr), ("loop", lp)):
        ratio = p["models_per_s"] / v["models_per_s"]
        print(
            f"| {name} | {v['models']} | {v['seconds']:.1f} | {v['models_per_s']:.3f} | "
            f"{ratio:.1f} |"
        )
    print(
        f"packed: {r['packed_gflops']:.1f} GFLOP/s of {r['flops_total'] / 1e12:.2f} TFLOP = "
        f"{100 * r['packed_fraction_of_matmul']:.0f}% of measured float32 matmul "
        f"{r['matmul_gflops']:.1f} GFLOP/s (best of: {r['machine']['cpus']} threads "
        f"{max(r['matmul_gflops_threads_before_after']):.1f}, {r['machine']['cpus']} "
        f"single-thread processes {max(r['matmul_gflops_processes_before_after']):.1f}; "
        f"1 thread alone {r['matmul_gflops_1_thread']:.1f})"
    )


if __name__ == "__main__":
    main()
