"""Bundles: which packs share one Tune trial.

Tune keeps a few kilobytes of state per trial (its config, storage paths, metric summaries), so
one trial per grid point makes the experiment state grow with the grid (22 MB for the quick
preset before bundles). Cheap packs are therefore run one after the other inside one trial, up
to a modelled `target` seconds; costly packs keep a trial of their own. Each pack still trains
alone (the same program as before) and writes its own Parquet file, so bundling changes no
number, and a resumed study re-bundles only the packs still to run.

The target keeps enough trials for the slots: at most `MAX_BUNDLE_SECONDS`, and at most the
stage's total cost over `TRIALS_PER_SLOT` trials per slot, so on a large cluster packs are not
bundled away from idle slots.
"""

from __future__ import annotations

from study.dry_run import StagePlan
from study.synthetic_1d.packing import CostModel, makespan
from study.synthetic_1d.trial_spec import TrialSpec

MAX_BUNDLE_SECONDS = 20.0  # = packing.MAX_TRIAL_SECONDS: a bundle is no longer than a split pack
TRIALS_PER_SLOT = 4


def bundle_packs(
    packs: list[TrialSpec], slots: int, cost: CostModel | None = None
) -> list[list[TrialSpec]]:
    """Group `packs` (costliest first) into trials: the `reg` packs' trials first, then the
    others', each group in the given order.

    `reg` packs are bundled apart and run first, so reg rows are written first and the
    variants' rows find their pair at once.
    """
    if slots < 1:
        raise ValueError(f"slots: must be >= 1, got {slots}")
    cost = cost or CostModel()
    seconds = [cost.trial_seconds(p) for p in packs]
    target = min(MAX_BUNDLE_SECONDS, sum(seconds) / (TRIALS_PER_SLOT * slots))
    bundles: list[list[TrialSpec]] = []
    for is_reg in (True, False):
        current: list[TrialSpec] = []
        filled = 0.0
        for pack, pack_seconds in zip(packs, seconds, strict=True):
            if (pack.variant == "reg") != is_reg:
                continue
            if current and filled + pack_seconds > target:
                bundles.append(current)
                current, filled = [], 0.0
            current.append(pack)
            filled += pack_seconds
        if current:
            bundles.append(current)
    return bundles


def bundles_seconds(bundles: list[list[TrialSpec]], slots: int, cost: CostModel) -> float:
    """Predicted wall seconds of `bundles` run in order on `slots` slots; a trial takes its
    packs' modelled times, less the dataset draws they share (`CostModel.bundle_seconds`)."""
    return makespan([cost.bundle_seconds(b) for b in bundles], slots)


def stage_plan(stage: str, packs: list[TrialSpec], slots: int, cost: CostModel) -> StagePlan:
    """`--dry-run`'s line of one stage: its models, the Tune trials the run makes of `packs`
    (`bundle_packs`) and their predicted wall seconds."""
    bundles = bundle_packs(packs, slots)
    return StagePlan(
        stage=stage,
        models=sum(len(s.replicates) for s in packs),
        trials=len(bundles),
        eta_seconds=bundles_seconds(bundles, slots, cost),
    )
