"""Dataset versions drawn once per trial: the same rows, fewer draws, and a cost model that
knows it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from tiny_specs import tiny_spec

from regcls.data.synthetic import DataConfig, make_dataset
from study.synthetic_1d.dataset_cache import DatasetCache
from study.synthetic_1d.packing import CostModel
from study.synthetic_1d.point import data_config, train_points
from study.synthetic_1d.trial_spec import TrialSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _spec(**changes) -> TrialSpec:
    values = dict(replicates=((0, 0), (1, 0), (2, 5)), total_samples=1200, epochs=3)
    return tiny_spec(**{**values, **changes})


def _numbers(rows: list[dict]) -> list[dict]:
    # Everything a model measured; timings and pack sizes differ between the two runs.
    skip = {"wall_time_s", "trial_wall_time_s", "models_in_pack", "finished_at"}
    return [{k: v for k, v in r.items() if k not in skip} for r in rows]


def test_packs_sharing_a_cache_train_exactly_the_models_they_train_alone():
    reg = _spec()
    cls = _spec(variant="reg+cls", num_classes=8, lam=10.0)
    other = _spec(scenario="noisy", noise_sigma=0.5, variant="reg+cls", num_classes=8, lam=10.0)
    alone = [train_points([s])[0] for s in (reg, cls, other)]
    cache = DatasetCache()
    shared = [train_points([s], cache=cache)[0] for s in (reg, cls, other)]
    for a, b in zip(alone, shared, strict=True):
        assert _numbers(a) == _numbers(b)
    # reg and reg+cls share the clean versions; the noisy spec draws its own.
    assert (cache.requests, cache.generated) == (9, 6)
    # One pack of two specs on the same data: each version drawn once, the same models again.
    cache = DatasetCache()
    together = train_points([reg, cls], cache=cache)
    assert cache.generated == 3
    assert _numbers(together[1]) == _numbers(alone[1])


def test_a_cache_hands_every_model_of_a_version_the_same_tensors():
    cache = DatasetCache()
    config = data_config(_spec(), 0, 0)
    x, y = cache.train_tensors(config, torch.float32, "cpu")
    again = cache.train_tensors(config, torch.float32, "cpu")
    assert again[0] is x and again[1] is y
    data = make_dataset(config)
    assert np.array_equal(x[:, 0].double().numpy(), data.x_train.astype(np.float32))
    assert cache.generated == 1


@pytest.mark.parametrize(
    "change",
    [
        {"scenario": "ood"},
        {"sampling": "mild"},
        {"scenario": "noisy", "noise_sigma": 0.5},
        {"noise_distribution": "uniform", "scenario": "noisy"},
        {"total_samples": 1500},
        {"peak_share": 0.9},
        {"function_set": "authors"},
        {"peak_bins": "region"},
        {"validation_sampling": "as_training"},
        {"replicates": ((0, 1), (1, 0), (2, 5))},
    ],
)
def test_data_key_tells_apart_every_change_that_changes_the_data(change):
    base = _spec()
    changed = base.with_values(**change)
    assert changed.data_key != base.data_key
    configs = [data_config(changed, *r) for r in changed.replicates]
    assert configs != [data_config(base, *r) for r in base.replicates]
    # ... and the data really differs (so sharing on an equal key is what keeps rows equal).
    changed_data = [make_dataset(c).y_train for c in configs]
    base_data = [make_dataset(data_config(base, *r)).y_train for r in base.replicates]
    assert any(
        a.shape != b.shape or not np.array_equal(a, b)
        for a, b in zip(changed_data, base_data, strict=True)
    )


def test_data_key_ignores_what_does_not_change_the_data():
    base = _spec()
    for change in (
        {"variant": "reg+cls", "num_classes": 64, "lam": 1.0},
        {"lr": 1e-3},
        {"epochs": 7},
        {"stage": "lambda_search"},
        {"noise_sigma": 0.7},  # clean data: the noise level is not used
    ):
        assert base.with_values(**change).data_key == base.data_key, change
    # Every DataConfig field but the replicate's own (and the fixed pool) is set from the spec.
    from_spec = {name for name, _ in base.data_fields}
    assert from_spec == {f.name for f in dataclasses.fields(DataConfig)} - {
        "function_id",
        "seed",
        "pool_size",
        "balance_bins",
        "function_seed",
    }


def test_bundle_seconds_counts_one_trial_and_one_draw_per_version():
    cost = CostModel(data_s=0.5, trial_s=2.0)
    reg, cls = _spec(), _spec(variant="reg+cls", num_classes=8, lam=10.0)
    noisy = _spec(scenario="noisy", noise_sigma=0.5)
    alone = [cost.trial_seconds(s) for s in (reg, cls, noisy)]
    assert cost.bundle_seconds([reg]) == pytest.approx(alone[0])
    # One Tune trial, not three; reg and reg+cls share three versions, the noisy pack none.
    assert cost.bundle_seconds([reg, cls, noisy]) == pytest.approx(sum(alone) - 2 * 2.0 - 3 * 0.5)
