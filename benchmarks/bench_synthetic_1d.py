"""Benchmark the paper's 1D workload `fig3-slice` three ways, side by side, in one run.

Workload (paper protocol): clean scenario, severe sampling, 10 functions x 5 test seeds,
C in {4, 16, 64, 256, 1024} for reg+cls (250 models) plus the 50 reg models; 80 epochs,
batch 256, 30,000 samples (10,000 for training).

Paths measured:
1. packed: the product's path, the study's trials through Ray Tune, many models per trial;
2. naive: one model per Tune trial (a sample of configurations; per-model rate);
3. loop: a plain single-model PyTorch loop (float32, tensors in memory), no Ray.

FLOPs per model and training step (B = batch, layer widths 1 -> h1 -> h2, heads h2 -> 1 and
h2 -> C; P = parameter count):
    forward  = 2B(1*h1 + h1*h2 + h2*1 + h2*C)
    backward = 2 x forward minus the input-gradient of the first layer (2B*h1)
    softmax/CE ~ 5BC (max, subtract, exp, sum, normalise), counted with the backward's BC terms
    Adam     = 12P (weight decay 2, moments 5, bias-corrected update 5)
Achieved GFLOP/s = total FLOPs of all models / wall seconds of the packed path.

Usage: python benchmarks/bench_synthetic_1d.py [--quick] [--json PATH]
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

import torch  # noqa: E402

from search_spaces.synthetic_1d import PRESETS  # noqa: E402
from study.synthetic_1d_plan import test_specs  # noqa: E402
from study.synthetic_1d_point import data_config, train_point  # noqa: E402

SLICE = {
    "scenarios": ["clean"],
    "samplings": ["severe"],
    "functions": list(range(10)),
    "test_seeds": [0, 421, 8125, 2481, 849],
    "class_counts": [4, 16, 64, 256, 1024],
}
LAMBDA = 100.0  # the paper's best lambda on clean data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 epochs instead of 80 (smoke)")
    parser.add_argument("--naive-sample", type=int, default=20)
    parser.add_argument("--json", default="benchmarks/results_synthetic_1d.json")
    args = parser.parse_args()
    overrides = dict(SLICE, epochs=8) if args.quick else SLICE
    preset = PRESETS["paper"].with_overrides(overrides)
    specs = test_specs(preset, {("clean", "imbalanced"): LAMBDA})
    models = [(s, f, seed) for s in specs for f, seed in s.replicates]
    print(
        f"fig3-slice: {len(models)} models, {preset.epochs} epochs, "
        f"{preset.total_samples} samples, batch {preset.batch_size}",
        flush=True,
    )

    matmul = measure_matmul_gflops()
    print(f"float32 matmul: {matmul:.1f} GFLOP/s ({torch.get_num_threads()} threads)", flush=True)

    sample = random.Random(0).sample(models, min(args.naive_sample, len(models)))
    loop = measure_loop(sample)
    print(f"loop: {loop['models_per_s']:.3f} models/s over {len(sample)} models", flush=True)
    naive = measure_naive(sample)
    print(f"naive (1 model per Tune trial): {naive['models_per_s']:.3f} models/s", flush=True)
    packed = measure_packed(specs)
    print(
        f"packed (study through Ray Tune): {packed['models_per_s']:.3f} models/s, "
        f"{packed['seconds']:.1f} s for {packed['models']} models",
        flush=True,
    )

    flops = sum(
        model_flops(s.num_classes or 0, s.batch_size, s.hidden, steps_per_epoch(s), s.epochs)
        for s, _, _ in models
    )
    equal = check_packed_equals_loop(specs)
    result = {
        "workload": "fig3-slice",
        "models": len(models),
        "epochs": preset.epochs,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
        "matmul_gflops": matmul,
        "loop": loop,
        "naive": naive,
        "packed": packed,
        "packed_gflops": flops / packed["seconds"] / 1e9,
        "packed_vs_naive": packed["models_per_s"] / naive["models_per_s"],
        "packed_vs_loop": packed["models_per_s"] / loop["models_per_s"],
        "packed_fraction_of_matmul": flops / packed["seconds"] / 1e9 / matmul,
        "equivalence": equal,
    }
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(
        json.dumps(
            {k: v for k, v in result.items() if k not in ("loop", "naive", "packed")}, indent=2
        )
    )
    print(
        f"SUMMARY fig3-slice {len(models)} models: packed {packed['seconds']:.0f} s "
        f"({packed['models_per_s']:.2f} models/s) = {result['packed_vs_naive']:.1f}x naive, "
        f"{result['packed_vs_loop']:.1f}x loop; {result['packed_gflops']:.1f} GFLOP/s = "
        f"{100 * result['packed_fraction_of_matmul']:.0f}% of matmul {matmul:.0f} GFLOP/s; "
        f"packed == loop: {equal['max_rel_diff_val_mse']:.1e} max rel diff"
    )


def steps_per_epoch(spec) -> int:
    return (spec.total_samples // 3) // spec.batch_size


def model_flops(
    classes: int, batch: int, hidden: tuple[int, ...], steps: int, epochs: int
) -> float:
    """FLOPs to train one model (formula in the module docstring)."""
    widths = (1, *hidden)
    dense = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True)) + hidden[-1] * (
        1 + classes
    )
    forward = 2 * batch * dense
    backward = 2 * forward - 2 * batch * hidden[0]
    softmax = 5 * batch * classes
    params = dense + sum(hidden) + 1 + classes
    return float(steps * epochs * (forward + backward + softmax + 12 * params))


def measure_matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def measure_loop(sample) -> dict:
    from regcls.single import train_single

    started = time.perf_counter()
    for spec, f, seed in sample:
        task = single_task(spec, f, seed)
        train_single(task, settings_of(spec))
    seconds = time.perf_counter() - started
    return {"models": len(sample), "seconds": seconds, "models_per_s": len(sample) / seconds}


def measure_naive(sample) -> dict:
    import ray
    from ray import tune

    ray.init(
        num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR"
    )
    configs = [
        {"spec": s.with_values(replicates=((f, seed),)).to_config()} for s, f, seed in sample
    ]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as storage:
        tune.Tuner(
            tune.with_resources(_naive_trainable, {"cpu": 1}),
            param_space={"spec": tune.grid_search([c["spec"] for c in configs])},
            tune_config=tune.TuneConfig(reuse_actors=False),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()
    seconds = time.perf_counter() - started
    ray.shutdown()
    return {"models": len(sample), "seconds": seconds, "models_per_s": len(sample) / seconds}


def _naive_trainable(config: dict) -> None:
    from ray import tune

    from regcls.single import train_single
    from study.trial_spec import TrialSpec

    torch.set_num_threads(1)
    spec = TrialSpec.from_config(config["spec"])
    ((f, seed),) = spec.replicates
    train_single(single_task(spec, f, seed), settings_of(spec))
    tune.report({"done": 1})


def measure_packed(specs) -> dict:
    from results import ROW_SCHEMA
    from study.cluster import ray_session
    from study.options import StudyOptions
    from study.resources import packed_trial_resources
    from study.sink import ParquetSink
    from study.synthetic_1d import StageRunner  # the study's own stage runner

    with tempfile.TemporaryDirectory() as out:
        options = StudyOptions(study="synthetic_1d", preset="paper", out=Path(out), dashboard=False)
        sink = ParquetSink(Path(out), ROW_SCHEMA)
        summaries: dict = {}
        with ray_session(dashboard=False) as cluster:
            resources = packed_trial_resources(cluster)
            started = time.perf_counter()
            StageRunner(options, sink, resources, summaries).run(specs)
            seconds = time.perf_counter() - started
        rows = sink.read().num_rows
    return {
        "models": rows,
        "seconds": seconds,
        "models_per_s": rows / seconds,
        "trials": sum(s.trials for s in summaries.values()),
    }


def check_packed_equals_loop(specs, count: int = 3) -> dict:
    """Train a few models packed (via the study's point trainer) and alone; compare val MSE."""
    from regcls.single import train_single

    spec = next(s for s in specs if s.num_classes == 16)
    small = spec.with_values(replicates=spec.replicates[:count])
    packed_rows = train_point(small)
    diffs = []
    for row, (f, seed) in zip(packed_rows, small.replicates, strict=True):
        trained = train_single(single_task(small, f, seed), settings_of(small))
        from regcls.synthetic import make_dataset

        data = make_dataset(data_config(small, f, seed))
        x = torch.as_tensor(data.x_val, dtype=torch.float32).unsqueeze(1)
        pred = trained.predict(x, index=0).double().numpy()
        mse = float(((pred - data.y_val) ** 2).mean())
        diffs.append(abs(mse - row["val_mse"]) / mse)
    return {
        "models": count,
        "max_rel_diff_val_mse": max(diffs),
        "within_float32": max(diffs) < 1e-3,
    }


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
    from regcls.binning import make_binning
    from regcls.packed import ModelTask
    from regcls.synthetic import make_dataset

    data = make_dataset(data_config(spec, function_id, seed))
    x = torch.as_tensor(data.x_train, dtype=torch.float32).unsqueeze(1)
    y = torch.as_tensor(data.y_train, dtype=torch.float32)
    if spec.num_classes is None:
        return ModelTask(x_train=x, y_train=y, seed=seed, lr=spec.lr)
    binning = make_binning(data.y_train, spec.num_classes, balanced=False)
    return ModelTask(
        x_train=x,
        y_train=y,
        seed=seed,
        lr=spec.lr,
        lam=float(spec.lam),
        labels=torch.as_tensor(binning.labels(data.y_train)),
        num_classes=binning.num_classes,
    )


if __name__ == "__main__":
    main()
