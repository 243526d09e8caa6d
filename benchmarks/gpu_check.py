"""The GPU path measured on a machine with CUDA GPUs (run by `benchmarks/gpu_check.sh`).

Four parts, each bounded to fit the whole run in under 8 minutes:
1. Packed 1D throughput: a slice (clean, severe, 10 functions x 1 seed, reg and reg+cls at C in
   {4, 64, 1024}, lambda 100, 20 epochs: 40 models) through the study's own runner and Ray
   Tune, with trials of a GPU fraction 1, 0.5 and 0.1 (the torch backend: the fused kernel is
   the CPU's) and on the CPU (one trial per core, the default backend); models/s and the
   ratio to the CPU.
2. float64 cuda vs cpu: one mixed pack (reg, reg+cls at C = 4, 64, 1024, reg+cls-balanced,
   cls-only), 2 epochs, trained on each device; max relative weight difference (pass <= 1e-10).
3. One ResNet-50 smoke trial on a whole GPU (the image studies' resources): a Tune trial trains
   `regcls.vision.ResNetRegressor(50, 10 classes)` for 30 steps on random 224 x 224 batches of
   32 (MSE + CE); its steps/s and that the loss stayed finite.
4. The paper preset's predicted time on this machine's GPUs at --gpu-fraction 0.1
   (`study.synthetic_1d.preflight.predict`, calibrated on the GPU now).
Ends with one SUMMARY line; `--json PATH` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from search_spaces.synthetic_1d import PRESETS  # noqa: E402
from study.resources import (  # noqa: E402
    TrialResources,
    full_device_trial_resources,
    packed_trial_resources,
)
from study.synthetic_1d.plan import test_specs  # noqa: E402

SLICE = {
    "scenarios": ["clean"],
    "samplings": ["severe"],
    "functions": list(range(10)),
    "test_seeds": [0],
    "class_counts": [4, 64, 1024],
    "controls": [],
    "epochs": 20,
}
FRACTIONS = (1.0, 0.5, 0.1)
EQUAL_RTOL = 1e-10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA GPU on this machine; nothing measured")
    gpus = torch.cuda.device_count()
    name = torch.cuda.get_device_name(0)
    print(f"gpu_check: {gpus} x {name}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    result: dict = {"gpus": gpus, "gpu": name, "cpus": os.cpu_count()}

    specs = test_specs(PRESETS["paper"].with_overrides(SLICE), {("clean", "imbalanced"): 100.0})
    throughput = {"cpu": _packed("cpu", specs, gpus)}
    for fraction in FRACTIONS:
        throughput[f"gpu {fraction:g}"] = _packed(fraction, specs, gpus)
    cpu_rate = throughput["cpu"]["models_per_s"]
    for key, value in throughput.items():
        value["vs_cpu"] = value["models_per_s"] / cpu_rate
        print(
            f"packed 1D, {key}: {value['models_per_s']:.2f} models/s ({value['seconds']:.1f} s, "
            f"{value['trials']} trials), {value['vs_cpu']:.2f}x the CPU",
            flush=True,
        )
    result["throughput"] = throughput

    equal = _cuda_equals_cpu()
    print(
        f"float64 cuda vs cpu: max rel weight diff {equal['max_rel']:.1e} "
        f"({'pass' if equal['pass'] else 'FAIL'})",
        flush=True,
    )
    result["equivalence_float64"] = equal

    smoke = _resnet_smoke()
    print(
        f"ResNet-50 smoke trial (whole GPU): {smoke['steps_per_s']:.1f} steps/s, loss "
        f"{smoke['first_loss']:.3g} -> {smoke['last_loss']:.3g}",
        flush=True,
    )
    result["resnet50"] = smoke

    prediction = _paper_prediction(gpus)
    print(
        f"paper preset predicted on {gpus} GPU(s) at --gpu-fraction 0.1: "
        f"{prediction['hours']:.2f} h ({prediction['backend']})",
        flush=True,
    )
    result["paper_prediction"] = prediction

    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    best = max(FRACTIONS, key=lambda f: throughput[f"gpu {f:g}"]["models_per_s"])
    print(
        f"SUMMARY gpu_check {gpus} x {name}: packed 1D models/s "
        + ", ".join(f"{k} {v['models_per_s']:.2f}" for k, v in throughput.items())
        + f" (best fraction {best:g}: {throughput[f'gpu {best:g}']['vs_cpu']:.2f}x the CPU); "
        f"float64 cuda == cpu {'pass' if equal['pass'] else 'FAIL'} ({equal['max_rel']:.1e}); "
        f"ResNet-50 {smoke['steps_per_s']:.1f} steps/s, finite loss "
        f"{'yes' if smoke['finite'] else 'NO'}; paper preset predicted {prediction['hours']:.2f} h"
    )


def _packed(fraction: float | str, specs, gpus: int) -> dict:
    """The slice through the study's runner on the CPU or at a GPU fraction; models/s."""
    from results import ROW_SCHEMA
    from study.cluster import ray_session
    from study.options import StudyOptions
    from study.sink import ParquetSink
    from study.synthetic_1d.run import StageRunner
    from study.tune_runner import study_progress

    with tempfile.TemporaryDirectory() as out:
        options = StudyOptions(study="synthetic_1d", preset="paper", out=Path(out), dashboard=False)
        sink = ParquetSink(Path(out), ROW_SCHEMA)
        summaries: dict = {}
        on_gpu = fraction != "cpu"
        with ray_session(num_cpus=os.cpu_count(), dashboard=False) as cluster:
            if on_gpu:
                resources = packed_trial_resources(cluster, gpu_fraction=float(fraction))
            else:
                resources = TrialResources(cpus=1, gpus=0, device="cpu", threads=1)
            models = sum(len(s.replicates) for s in specs)
            started = time.perf_counter()
            with study_progress(models) as progress:
                StageRunner(options, sink, resources, summaries, progress).run(specs)
            seconds = time.perf_counter() - started
        rows = sink.read().to_pylist()
    return {
        "models": len(rows),
        "seconds": seconds,
        "models_per_s": len(rows) / seconds,
        "trials": sum(s.trials for s in summaries.values()),
        "device": resources.device,
        "gpu_fraction": resources.gpus,
        "backends": sorted({r["backend"] for r in rows}),
    }


def _cuda_equals_cpu() -> dict:
    from regcls.training.packed import train_packed
    from regcls.training.tasks import ModelTask, TrainSettings

    n = 2_000
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, generator=generator, dtype=torch.float64) * 2 - 1
    y = torch.sin(7 * x[:, 0]) + 0.5 * torch.sin(2 * x[:, 0])

    def tasks(device: str) -> list[ModelTask]:
        xd, yd = x.to(device), y.to(device)
        out = [ModelTask(xd, yd, seed=0, lr=1e-2)]
        for seed, classes in enumerate((4, 64, 1024), start=1):
            labels = ((yd - yd.min()) / (yd.max() - yd.min()) * (classes - 1)).round().long()
            out.append(ModelTask(xd, yd, seed, 1e-2, 10.0, labels, classes))
        labels = ((yd - yd.min()) / (yd.max() - yd.min()) * 15).round().long()
        keep = torch.full((n,), 0.5, dtype=torch.float64, device=device)
        out.append(ModelTask(xd, yd, 5, 1e-2, 10.0, labels, 16, keep_prob=keep))
        centres = torch.linspace(-1.5, 1.5, 16, dtype=torch.float64, device=device)
        out.append(
            ModelTask(
                xd,
                yd,
                6,
                1e-2,
                labels=labels,
                num_classes=16,
                objective="cls-only",
                class_centres=centres,
            )
        )
        return out

    settings = TrainSettings(epochs=2, batch_size=256, dtype="float64")
    cpu = train_packed(tasks("cpu"), settings)
    gpu = train_packed(tasks("cuda"), settings)
    worst = max(
        float((a[k].cpu() - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-300))
        for a, b in zip(gpu.params, cpu.params, strict=True)
        for k in b
    )
    return {
        "models": len(cpu.params),
        "max_rel": worst,
        "rtol": EQUAL_RTOL,
        "pass": worst <= EQUAL_RTOL,
    }


def _resnet_trial(config: dict) -> None:
    from ray import tune

    from regcls.vision import ResNetRegressor

    torch.manual_seed(0)
    model = ResNetRegressor(50, num_classes=10).to("cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses, started = [], None
    for step in range(config["steps"] + 3):
        if step == 3:  # after cuDNN's first-call autotuning
            torch.cuda.synchronize()
            started = time.perf_counter()
        images = torch.randn(32, 3, 224, 224, device="cuda")
        target = torch.rand(32, device="cuda")
        labels = torch.randint(0, 10, (32,), device="cuda")
        pred, logits = model(images)
        loss = torch.nn.functional.mse_loss(pred, target)
        loss = loss + torch.nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    tune.report(
        {
            "steps_per_s": config["steps"] / seconds,
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "finite": all(math.isfinite(v) for v in losses),
        }
    )


def _resnet_smoke() -> dict:
    from ray import tune

    from study.cluster import ray_session

    with (
        tempfile.TemporaryDirectory() as storage,
        ray_session(num_cpus=os.cpu_count(), dashboard=False) as cluster,
    ):
        resources = full_device_trial_resources(cluster)
        assert resources.gpus == 1, resources
        results = tune.Tuner(
            tune.with_resources(_resnet_trial, resources.as_ray()),
            param_space={"steps": 30},
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()
        return dict(results[0].metrics, gpus_per_trial=resources.gpus)


def _paper_prediction(gpus: int) -> dict:
    from study.synthetic_1d.packing import trial_slots
    from study.synthetic_1d.preflight import predict

    slots = trial_slots({"GPU": float(gpus)}, 1, 0.1)
    plans, seconds, cost, note = predict(PRESETS["paper"], "grid", slots, "cuda")
    return {
        "seconds": seconds,
        "hours": seconds / 3600,
        "slots": slots,
        "backend": note,
        "cost_model": cost.summary(),
        "stages": [asdict(p) for p in plans],
    }


if __name__ == "__main__":
    main()
