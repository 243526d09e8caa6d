"""A study grid point in the bfloat16 mode: float32 data and weights, `dtype` recorded per row."""

from __future__ import annotations

import math

import pytest

from search_spaces.synthetic_1d import PRESETS
from study.synthetic_1d import plan
from study.synthetic_1d.point import train_point

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bfloat16_point_trains_and_records_its_dtype():
    overrides = {
        "scenarios": ["clean"],
        "samplings": ["uniform"],
        "functions": [0],
        "test_seeds": [0],
        "class_counts": [256],
        "controls": [],
        "epochs": 3,
        "total_samples": 3_000,
        "dtype": "bfloat16",
    }
    preset = PRESETS["paper"].with_overrides(overrides)
    specs = plan.test_specs(preset, {("clean", "imbalanced"): 10.0})
    cls = next(s for s in specs if s.num_classes)
    (row,) = train_point(cls)
    (full,) = train_point(cls.with_values(dtype="float32"))
    assert row["dtype"] == "bfloat16" and full["dtype"] == "float32"
    assert math.isfinite(row["val_mse"]) and row["status"] == "ok"
    # Same data, seed and init; only the class head's matmul precision differs.
    assert row["val_mse"] != full["val_mse"]
    assert row["val_mse"] == pytest.approx(full["val_mse"], rel=0.05)
    with pytest.raises(ValueError, match="dtype"):
        PRESETS["paper"].with_overrides({"dtype": "float16"})
