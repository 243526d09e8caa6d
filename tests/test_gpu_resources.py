"""The GPU path's scheduling, checked with Ray's logical GPUs on this CPU machine: packed 1D
trials take `--gpu-fraction` of a GPU, so ten of them share one; image trials take a whole GPU
each. The trials' device is forced to the CPU (there is no CUDA behind the logical GPU)."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import ray.cloudpickle
from ray import tune

from study.resources import full_device_trial_resources, packed_trial_resources
from study.synthetic_1d.packing import trial_slots

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# Ray's workers cannot import this test module: the probe trainable travels by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _probe(config: dict) -> None:
    """Records the GPU ids Ray gave the trial, then waits until `barrier` trials have started
    (or `wait` seconds passed) and reports how many had started and when it ran."""
    import ray

    folder = Path(config["folder"])
    started = time.time()
    (folder / f"{config['i']}.start").write_text("")
    deadline = started + config["wait"]
    while len(list(folder.glob("*.start"))) < config["barrier"] and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(config["hold"])
    tune.report(
        {
            "together": len(list(folder.glob("*.start"))),
            "gpu_ids": ",".join(str(g) for g in ray.get_gpu_ids()),
            "started": started,
            "ended": time.time(),
        }
    )


def _fit(resources, count: int, folder: Path, barrier: int, hold: float) -> list[dict]:
    folder.mkdir()
    tuner = tune.Tuner(
        tune.with_resources(_probe, resources.as_ray()),
        param_space={
            "i": tune.grid_search(list(range(count))),
            "folder": str(folder),
            "barrier": barrier,
            "wait": 60.0,
            "hold": hold,
        },
        run_config=tune.RunConfig(storage_path=str(folder.parent / "tune"), verbose=0),
    )
    return [result.metrics for result in tuner.fit()]


def test_ten_packed_trials_share_one_gpu(ray_logical_gpus, tmp_path):
    cluster = ray_logical_gpus.cluster_resources()
    resources = packed_trial_resources(cluster, gpu_fraction=0.1)
    assert (resources.gpus, resources.device, resources.cpus) == (0.1, "cuda", 1)
    assert trial_slots(cluster, resources.cpus, resources.gpus) == 10
    cpu_forced = replace(resources, device="cpu")
    metrics = _fit(cpu_forced, 10, tmp_path / "probe", barrier=10, hold=0.0)
    assert [m["together"] for m in metrics] == [10] * 10  # all ten ran at once
    assert {m["gpu_ids"] for m in metrics} == {"0"}  # on the one GPU


def test_image_trials_take_a_whole_gpu_each(ray_logical_gpus, tmp_path):
    cluster = ray_logical_gpus.cluster_resources()
    resources = full_device_trial_resources(cluster)
    assert (resources.gpus, resources.device) == (1, "cuda")
    assert trial_slots(cluster, resources.cpus, resources.gpus) == 1
    metrics = _fit(replace(resources, device="cpu"), 3, tmp_path / "probe", barrier=1, hold=1.0)
    assert {m["gpu_ids"] for m in metrics} == {"0"}
    spans = sorted((m["started"], m["ended"]) for m in metrics)
    # One at a time: each trial (holding its GPU for 1 s) starts after the previous one ended.
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_packed_1d_trials_run_on_a_gpu_fraction(ray_logical_gpus, tmp_path):
    """The study's own 1D trainable under a 0.1-GPU request (device forced to the CPU): every
    model of the packs gets its row."""
    from tiny_specs import tiny_spec

    from results import ROW_SCHEMA
    from study.options import StudyOptions
    from study.sink import ParquetSink
    from study.synthetic_1d.run import StageRunner
    from study.tune_runner import study_progress

    cluster = ray_logical_gpus.cluster_resources()
    resources = replace(packed_trial_resources(cluster, gpu_fraction=0.1), device="cpu")
    specs = [
        tiny_spec(epochs=1),
        tiny_spec(epochs=1, variant="reg+cls", num_classes=8, lam=10.0),
    ]
    options = StudyOptions(study="synthetic_1d", preset="quick", out=tmp_path, dashboard=False)
    sink = ParquetSink(tmp_path, ROW_SCHEMA)
    summaries: dict = {}
    with study_progress(20) as progress:
        StageRunner(options, sink, resources, summaries, progress).run(specs)
    rows = sink.read().to_pylist()
    assert len(rows) == 20
    assert {r["device"] for r in rows} == {"cpu"} and {r["status"] for r in rows} == {"ok"}
