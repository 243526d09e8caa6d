"""Pack sizing: which models share a trial, from a per-(C, N, epochs) cost model.

A grid point (one `TrialSpec`) packs all its replicates by default. On a machine with S trial
slots (S concurrent trials: one per core on CPU, `1 / gpu_fraction` per GPU) the study ends when
the slowest slot ends, so a costly grid point (C=1024 x 50 models is half of the Figure 3 slice)
is split into trials of at most `MAX_TRIAL_SECONDS` modelled seconds, and the trials run longest
first; every slot then finishes within about one such trial of the others.

Cost model (seconds, one thread, measured by `benchmarks/bench_synthetic_1d.py`, which fits the
constants below and prints them):
    pack_step(K, C) = step_s + K * (model_step_s + class_step_s * C)
    trial(K, C)     = trial_s + K * (model_s + model_class_s * C)
                      + epochs * (N // batch) * pack_step(K, C)
`step_s` is the per-step Python/op overhead shared by the pack, `model_step_s` the trunk,
regression head and Adam of one model, `class_step_s` the class head per class, `model_s` and
`model_class_s` data generation and evaluation per model (evaluation computes class logits),
`trial_s` Tune's per-trial bookkeeping (not fitted; a guess).

On a GPU the same trainer runs the same packs and `1 / gpu_fraction` trials share each GPU; the
ETA there comes from the same linear model scaled by a calibration on the GPU, which is only a
rough guide (a GPU step's cost is mostly launch latency, nearly flat in K).

The split is a function of the specs and the stored constants only (not of the slots, device or
a calibration), so a study resumed on other hardware plans the same trials and adds no rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from study.synthetic_1d.trial_spec import TrialSpec

# Longest modelled trial (seconds on one core): costlier grid points are split, so that with
# longest-first order every slot finishes within about one such trial of the others.
MAX_TRIAL_SECONDS = 20.0
# Calibration pack (shape of the costly part of a study), trained for a few steps at start-up.
_CALIBRATION = {"k": 4, "classes": 256, "steps": 24, "batch": 256}


@dataclass(frozen=True)
class CostModel:
    """Seconds to train packs on one core; see the module docstring for the formula."""

    # Fitted by benchmarks/bench_synthetic_1d.py on the 2-core AMD EPYC dev machine (1 thread).
    step_s: float = 1.1e-4
    model_step_s: float = 2.2e-5
    class_step_s: float = 5.9e-7
    model_s: float = 0.02
    model_class_s: float = 2.3e-4
    trial_s: float = 0.5
    speed: float = 1.0  # measured / modelled time on this machine now (see `calibrated`)

    def pack_step_seconds(self, models: int, classes: int) -> float:
        per_model = self.model_step_s + self.class_step_s * classes
        return self.speed * (self.step_s + models * per_model)

    def trial_seconds(self, spec: TrialSpec, models: int | None = None) -> float:
        """Wall seconds of one trial training `models` (default: all) replicates of `spec`."""
        k = len(spec.replicates) if models is None else models
        steps = spec.epochs * _steps_per_epoch(spec)
        train = steps * self.pack_step_seconds(k, spec.num_classes or 0)
        per_model = self.model_s + self.model_class_s * (spec.num_classes or 0)
        return self.trial_s + k * per_model + train

    def calibrated(self, device: str = "cpu") -> CostModel:
        """This model scaled by a short timing of one pack here and now (~0.1 s), on one
        thread like a trial."""
        # Imported here, not at the top: `--dry-run` plans with this module without torch.
        import torch

        from regcls.packed import ModelTask, TrainSettings, train_packed

        c = _CALIBRATION
        x = torch.linspace(-1, 1, c["steps"] * c["batch"], device=device).unsqueeze(1)
        y = torch.sin(3 * x[:, 0])
        labels = torch.arange(x.shape[0], device=device) % c["classes"]
        tasks = [
            ModelTask(x, y, seed=i, lr=1e-3, labels=labels, num_classes=c["classes"])
            for i in range(c["k"])
        ]
        settings = TrainSettings(epochs=2, batch_size=c["batch"])
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            train_packed(tasks, replace(settings, epochs=1))  # warm-up: first calls
            started = time.perf_counter()
            train_packed(tasks, settings)
            measured = (time.perf_counter() - started) / (2 * c["steps"])
        finally:
            torch.set_num_threads(threads)
        modelled = replace(self, speed=1.0).pack_step_seconds(c["k"], c["classes"])
        return replace(self, speed=measured / modelled)


def split_costly(
    specs: list[TrialSpec], cost: CostModel | None = None, max_seconds: float = MAX_TRIAL_SECONDS
) -> list[TrialSpec]:
    """Split costly grid points into trials of fewer replicates; costliest trials first.

    A grid point whose modelled cost exceeds `max_seconds` is cut into the fewest equal parts of
    consecutive replicates that each stay under it (a single replicate is never cut). Each part
    is a `TrialSpec` of its own (its own key and Parquet file); rows pair by content, not by key.
    The split depends only on the specs and the stored cost model, never on the machine, so a
    study resumed on other hardware plans exactly the same trials (no retrained duplicates).
    """
    cost = cost or CostModel()
    out = []
    for spec in specs:
        count = len(spec.replicates)
        parts = min(count, max(1, math.ceil(cost.trial_seconds(spec) / max_seconds)))
        bounds = [round(i * count / parts) for i in range(parts + 1)]
        out += [
            spec.with_values(replicates=spec.replicates[lo:hi]) if parts > 1 else spec
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
    return sorted(out, key=cost.trial_seconds, reverse=True)


def eta_seconds(specs: list[TrialSpec], slots: int, cost: CostModel) -> float:
    """Makespan of the trials in list order on `slots` slots, each trial to the first free slot
    (Tune's FIFO order)."""
    free = [0.0] * max(1, slots)
    for spec in specs:
        slot = min(range(len(free)), key=free.__getitem__)
        free[slot] += cost.trial_seconds(spec)
    return max(free)


def trial_slots(cluster: dict[str, float], cpus: float, gpus: float) -> int:
    """How many trials of the given resources run at once on the cluster."""
    if gpus > 0:
        return max(1, int(cluster.get("GPU", 0) / gpus + 1e-9))
    return max(1, int(cluster.get("CPU", 1) / max(cpus, 1e-9) + 1e-9))


def _steps_per_epoch(spec: TrialSpec) -> int:
    # The 1D protocol trains on one third of the samples, full batches only (drop_last).
    return max(1, (spec.total_samples // 3) // spec.batch_size)


def plan_trials(
    specs: list[TrialSpec], cluster: dict[str, float], cpus: float, gpus: float, device: str
) -> tuple[list[TrialSpec], str]:
    """The trials to run for `specs` on this cluster, and a one-line start-up ETA."""
    slots = trial_slots(cluster, cpus, gpus)
    # The split uses the stored model only (not the slots or device), so a resumed study plans
    # the same trials wherever it runs; on a GPU the parts simply share the GPU's slots.
    trials = split_costly(specs, CostModel())
    cost = CostModel().calibrated(device)
    models = sum(len(s.replicates) for s in trials)
    eta = eta_seconds(trials, slots, cost)
    line = (
        f"{models} models in {len(trials)} trials on {slots} slot(s); "
        f"ETA {eta:.0f} s (cost model x{cost.speed:.2f} from a start-up calibration)"
    )
    return trials, line
