"""The benchmark's measured paths run on a tiny slice (they call the study's own runner, so a
change there must not silently break `benchmarks/bench_synthetic_1d.py`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from search_spaces.synthetic_1d import PRESETS
from study.synthetic_1d import plan

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_synthetic_1d.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_synthetic_1d", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_slice(bench):
    overrides = dict(
        bench.SLICE,
        functions=[0, 1],
        test_seeds=[0],
        class_counts=[4, 64],
        epochs=2,
        total_samples=1536,
    )
    preset = PRESETS["paper"].with_overrides(overrides)
    return plan.test_specs(preset, {("clean", "imbalanced"): bench.LAMBDA})


def test_packed_path_trains_every_model_through_the_study_runner(bench, ray_local):
    specs = _tiny_slice(bench)
    packed = bench.measure_packed([s.with_values(backend="torch") for s in specs])
    fused = bench.measure_packed(specs)  # the study's default backend
    assert packed["models"] == fused["models"] == 6  # reg, C=4, C=64 on two functions
    assert packed["trials"] >= 1
    assert len(packed["val_mse"]) == 6
    assert (packed["backends"], fused["backends"]) == (["torch"], ["fused"])
    flips = bench.pair_outcome_flips(packed["rows"], fused["rows"])
    assert flips["pairs"] == 4 and 0 <= flips["flipped"] <= 4
    loop = bench.measure_loop([(s, f, seed) for s in specs for f, seed in s.replicates])
    difference = bench.float32_difference(loop["val_mse"], packed["val_mse"])
    assert difference["models"] == 6
    # float32 packed vs loop: rounding only, far below any effect the study measures.
    assert difference["max_rel_diff_val_mse"] < 1e-2


def test_float64_check_compares_one_model_per_class_count(bench):
    specs = _tiny_slice(bench)
    sample = [(s, f, seed) for s in specs for f, seed in s.replicates]
    equal = bench.check_equal_float64(sample, count=3)
    assert equal["class_counts"] == [0, 4, 64]
    assert equal["pass"], equal


def test_fused_float64_check_covers_every_variant(bench):
    equal = bench.check_fused_float64(_tiny_slice(bench))
    names = [n.split(" C=")[0] for n in equal["max_rel_weight_diff"]]
    assert sorted(set(names)) == sorted({v for v, _, _ in bench.FUSED_VARIANTS} | {"mixed pack"})
    assert equal["pass"], equal


def test_pair_outcome_flips_counts_changed_sides(bench):
    def rows(reg, cls):
        return [
            {"num_classes": None, "function_id": 0, "seed": 0, "test_mse": reg},
            {"num_classes": 4, "function_id": 0, "seed": 0, "test_mse": cls[0]},
            {"num_classes": 64, "function_id": 0, "seed": 0, "test_mse": cls[1]},
        ]

    flips = bench.pair_outcome_flips(rows(1.0, (0.9, 1.1)), rows(1.0, (1.2, 1.05)))
    assert (flips["pairs"], flips["flipped"], flips["flipped_pairs"]) == (2, 1, [[4, 0, 0]])


def test_per_shape_roofline_divides_by_the_ceiling_of_each_shape(bench):
    ceiling = {"sgemm_gflops": 100.0, "stream_gbs": 40.0}
    shapes = {
        "K=2,C=4": {"models": 2, "classes": 4, "float32_ms_per_step": 0.5},
        "K=3,C=1024": {"models": 3, "classes": 1024, "float32_ms_per_step": 9.0},
    }
    out = bench.per_shape_roofline(shapes, ceiling)
    for name, shape in shapes.items():
        flops, moved = bench.step_flops_bytes(shape["classes"])
        seconds = shape["models"] * max(flops / 100e9, moved / 40e9)
        assert out[name]["roofline_ms_per_step"] == pytest.approx(1e3 * seconds)
        assert out[name]["float32_over_roofline"] == pytest.approx(
            shape["float32_ms_per_step"] / (1e3 * seconds)
        )
    assert (out["K=2,C=4"]["bound"], out["K=3,C=1024"]["bound"]) == ("memory", "compute")


def test_gpu_check_stops_at_once_without_a_cuda_gpu():
    """This machine has no CUDA GPU: the one-command GPU check says so in one line and exits 2
    before measuring anything."""
    import os
    import subprocess
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: run benchmarks/gpu_check.sh itself")
    script = _PATH.parent / "gpu_check.sh"
    result = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
        "nothing measured"
    ]
