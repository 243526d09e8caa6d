"""How trials reach Tune and their rows reach Parquet: bundles, row files, the closing summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from ray import tune

from search_spaces.synthetic_1d import PRESETS
from study.closing import experiment_state_bytes, format_closing_summary
from study.synthetic_1d.bundles import MAX_BUNDLE_SECONDS, bundle_packs, bundles_seconds
from study.synthetic_1d.packing import CostModel, split_costly
from study.synthetic_1d.plan import lambda_search_specs
from study.synthetic_1d.trainables import bundle_name, fallback_rows, pack_identity, trial_name
from study.trial_rows import read_rows
from study.tune_runner import RunSummary


@pytest.fixture(scope="module")
def quick_packs():
    specs = split_costly(lambda_search_specs(PRESETS["quick"]))
    return sorted(specs, key=lambda s: s.variant != "reg")


def test_bundles_hold_every_pack_once_in_run_order_reg_first(quick_packs):
    bundles = bundle_packs(quick_packs, slots=2)
    flat = [pack for bundle in bundles for pack in bundle]
    assert flat == quick_packs
    kinds = [{p.variant == "reg" for p in bundle} for bundle in bundles]
    assert all(len(kind) == 1 for kind in kinds)  # reg never shares a trial with a variant
    first_variant = next(i for i, kind in enumerate(kinds) if kind == {False})
    assert all(kind == {True} for kind in kinds[:first_variant])
    assert len(bundles) < len(quick_packs) / 4  # the quick preset's packs are mostly cheap


def test_a_bundle_stays_under_its_target_unless_it_is_one_costly_pack(quick_packs):
    cost = CostModel()
    for bundle in bundle_packs(quick_packs, slots=2, cost=cost):
        seconds = sum(cost.trial_seconds(p) for p in bundle)
        assert len(bundle) == 1 or seconds <= MAX_BUNDLE_SECONDS + 1e-9


def test_bundles_seconds_is_the_fifo_makespan_of_the_bundles(quick_packs):
    cost = CostModel()
    bundles = bundle_packs(quick_packs, slots=2, cost=cost)
    sums = [cost.bundle_seconds(b) for b in bundles]
    # Bundled packs share dataset versions: a bundle costs less than its packs alone.
    assert sum(sums) < sum(cost.trial_seconds(p) for b in bundles for p in b)
    one = bundles_seconds(bundles, 1, cost)
    assert one == pytest.approx(sum(sums))
    two = bundles_seconds(bundles, 2, cost)
    assert max(sums) <= two < one and two >= sum(sums) / 2


def test_many_slots_keep_enough_trials_to_fill_them(quick_packs):
    few, many = bundle_packs(quick_packs, slots=2), bundle_packs(quick_packs, slots=256)
    assert len(many) > len(few)
    assert len(many) >= min(len(quick_packs), 256)
    with pytest.raises(ValueError, match="slots: must be >= 1"):
        bundle_packs(quick_packs, slots=0)


def test_row_files_round_trip_every_value_exactly(tmp_path):
    rows = [{"a": 0.1 + 0.2, "b": math.nan, "c": -math.inf, "d": None, "e": 3, "f": "x-y"}]
    (tmp_path / "lambda_search-0123abcd.json").write_text(json.dumps(rows))
    (tmp_path / "notes.txt").write_text("not rows")
    files = read_rows(tune.Checkpoint.from_directory(str(tmp_path)))
    assert list(files) == [("lambda_search", "0123abcd")]
    (back,) = files[("lambda_search", "0123abcd")]
    assert back["a"] == 0.1 + 0.2 and math.isnan(back["b"]) and back["c"] == -math.inf
    assert back["d"] is None and back["e"] == 3 and back["f"] == "x-y"


def test_fallback_rows_and_trial_names_follow_the_bundle(quick_packs):
    bundle = [quick_packs[0], quick_packs[-1]]
    bundles = {"b0": [[s.to_config()] for s in bundle]}
    files = fallback_rows({"bundle": "b0"}, "failed", "boom", bundles=bundles)
    assert list(files) == [pack_identity([s]) for s in bundle]
    for spec, rows in zip(bundle, files.values(), strict=True):
        assert len(rows) == len(spec.replicates)
        assert {r["status"] for r in rows} == {"failed"} and {r["error"] for r in rows} == {"boom"}
    name = bundle_name(7, [[s] for s in bundle])
    first = bundle[0]
    assert name.startswith(f"b007-lambda_search-{first.scenario}-{first.sampling}-{first.variant}")
    assert name.endswith("-and1more")
    assert trial_name({"bundle": name}) == name
    assert trial_name({"bundle": "b000", "lam": 12.5, "lr": 0.001}) == "b000-lam12.5-lr0.001"


def test_closing_summary_names_stages_failures_rows_and_report(tmp_path):
    state = tmp_path / "tune" / "test"
    state.mkdir(parents=True)
    (state / "experiment_state-2026.json").write_text("x" * 1500)
    summaries = {
        "lambda_search": RunSummary(trials=3, models=36, seconds=75.0, predicted_seconds=61.4),
        "test+noise": RunSummary(
            trials=2, models=12, seconds=9.0, retried_trials=1, failed_trials=1, errors=["Boom"]
        ),
    }
    text = format_closing_summary(summaries, 48, tmp_path / "report.html", tmp_path)
    assert "lambda_search: 36 models in 3 Tune trials, 1 min 15 s (predicted 1 min 01 s)" in text
    assert "test+noise: 12 models in 2 Tune trials, 9 s; retried 1, failed 1" in text
    assert "error: Boom" in text
    assert "48 result rows" in text and "report.html" in text
    assert "Tune experiment state 0.00 MB" in text
    assert experiment_state_bytes(tmp_path) == 1500
    assert experiment_state_bytes(Path(tmp_path / "missing")) == 0
