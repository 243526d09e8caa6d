"""The start-up calibration of the pack cost model and its per-stage prediction."""

from __future__ import annotations

import pytest

from search_spaces.synthetic_1d import PRESETS
from study.synthetic_1d import plan
from study.synthetic_1d.packing import CostModel, split_costly, stage_seconds

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _specs(epochs: int):
    preset = PRESETS["paper"].with_overrides(
        {
            "scenarios": ["clean"],
            "samplings": ["severe"],
            "functions": [0, 1],
            "test_seeds": [0],
            "class_counts": [4, 256],
            "controls": [],
            "epochs": epochs,
        }
    )
    return plan.test_specs(preset, {("clean", "imbalanced"): 100.0})


def test_calibration_measures_every_constant_and_predicts_stages():
    specs = _specs(epochs=10)
    stored = CostModel()
    cost = stored.calibrated("cpu", specs)
    assert cost.speed == 1.0
    for name in ("step_s", "model_step_s", "class_step_s", "model_s", "data_s"):
        assert getattr(cost, name) > 0, name
    # One draw is part of a model's fixed cost, and it was timed, not kept.
    assert cost.data_s <= cost.model_s and cost.data_s != stored.data_s
    # Measured, not copied: at least one per-step constant differs from the stored one.
    assert any(getattr(cost, n) != getattr(stored, n) for n in ("step_s", "class_step_s"))
    assert cost.model_class_s >= 0
    assert "per step" in cost.summary()
    one_slot, two_slots = stage_seconds(specs, 1, cost), stage_seconds(specs, 2, cost)
    assert 0 < two_slots < one_slot
    # Longer training, longer stage; the prediction is the trials' cost on one slot.
    assert stage_seconds(_specs(epochs=40), 1, cost) > one_slot
    trials = split_costly(specs)
    assert one_slot == pytest.approx(sum(cost.trial_seconds(t) for t in trials))
