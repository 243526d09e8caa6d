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
`trial_s` Tune's per-trial bookkeeping (not fitted; a guess). A Tune trial of several packs
(`bundle_seconds`) pays `trial_s` once, and, as it draws each dataset version once
(`DatasetCache`), saves `data_s` (one draw, part of `model_s`) for every model whose version an
earlier model of the trial drew.

At start-up (`CostModel.calibrated`) the constants are re-measured here (CPU time), on one
thread like a trial: `step_s`, `model_step_s` and `class_step_s` by least squares over four short
packs (K, C) = (1, 4), (32, 4), (4, 256), (2, 1024), each the minimum of 5 repeats (~0.6 s in
all), so a machine whose small ops are slow (per-op overhead) and one whose wide heads are slow
(per-element cost) are both predicted; `model_s` and `model_class_s` from the study's own grid-point
trainer run for 0 epochs on two replicates of the narrowest and the widest spec (data generation,
binning, evaluation incl. L_extra; an untrained model's evaluation, so approximate), and `data_s`
from drawing one of their dataset versions.
`stage_seconds` predicts a stage from its specs with the calibrated model.

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
# Calibration packs (models, classes) timed at start-up to refit the per-step constants: per-op
# overhead (K=1), per-model cost (K=32, C=4) and per-class-element cost (C=256, C=1024).
_CALIBRATION_SHAPES = ((1, 4), (32, 4), (4, 256), (2, 1024))
_CALIBRATION_STEPS, _CALIBRATION_BATCH, _CALIBRATION_REPEATS = 24, 256, 5
# Replicates of the narrowest and widest spec timed for the per-model (data, evaluation) cost.
_CALIBRATION_MODELS = 2


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
    data_s: float = 0.027  # drawing one dataset version (part of model_s)
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

    def bundle_seconds(self, packs: list[TrialSpec]) -> float:
        """Wall seconds of one Tune trial training `packs` one after the other: their
        `trial_seconds` with Tune's per-trial cost (`trial_s`) once, less one draw for each model
        whose dataset version the trial already drew (`TrialSpec.data_key`: the same fields and
        replicate)."""
        models = sum(len(p.replicates) for p in packs)
        versions = len({(p.data_fields, r) for p in packs for r in p.replicates})
        shared = self.trial_s * (len(packs) - 1) + self.data_s * (models - versions)
        return sum(self.trial_seconds(p) for p in packs) - shared

    def summary(self) -> str:
        """The constants, for the start-up line and `--dry-run`."""
        return (
            f"per step {1e6 * self.step_s:.0f} us + per model {1e6 * self.model_step_s:.1f} us "
            f"+ per model-class {1e9 * self.class_step_s:.0f} ns; per model {self.model_s:.3f} s "
            f"+ {1e6 * self.model_class_s:.0f} us per class, of which {self.data_s:.3f} s per "
            f"dataset version drawn (x{self.speed:.2f})"
        )

    def calibrated(
        self, device: str = "cpu", specs: list[TrialSpec] | None = None, backend: str = "torch"
    ) -> CostModel:
        """This model with its constants measured here and now, on one thread like a trial: the
        per-step constants from short packs (`_CALIBRATION_SHAPES`, ~0.6 s), the per-model ones
        (data, binning, evaluation) from two replicates of the narrowest and widest of `specs`
        (when given) trained for 0 epochs (~2-4 s). `speed` becomes 1 (the constants are this
        machine's). A fitted constant <= 0 (timing noise) keeps the stored value, scaled by the
        measured / modelled time of the calibration packs."""
        # Imported here, not at the top: `--dry-run` plans with this module without torch.
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            shapes = _CALIBRATION_SHAPES
            times = [_time_pack(k, c, device, backend) for k, c in shapes]
            per_model = _time_models(specs, device) if specs else None
        finally:
            torch.set_num_threads(threads)
        stored = replace(self, speed=1.0)
        ratio = sum(times) / sum(stored.pack_step_seconds(k, c) for k, c in shapes)
        fit = _least_squares([[1.0, k, k * c] for k, c in shapes], times)
        names = ("step_s", "model_step_s", "class_step_s")
        values = {
            name: value if value > 0 else ratio * getattr(self, name)
            for name, value in zip(names, fit, strict=True)
        }
        if per_model:
            (c0, t0), (c1, t1) = per_model[0], per_model[-1]
            slope = (t1 - t0) / (c1 - c0) if c1 > c0 else self.model_class_s
            slope = max(slope, 0.0)
            model_s = max(t0 - c0 * slope, 1e-4)
            values.update(model_s=model_s, model_class_s=slope)
            draw = _time_draw(specs[0], device)
            if draw is not None:
                values.update(data_s=min(draw, model_s))
        return replace(self, speed=1.0, **values)


def stage_seconds(
    specs: list[TrialSpec], slots: int, cost: CostModel, max_seconds: float = MAX_TRIAL_SECONDS
) -> float:
    """Predicted wall seconds of one stage: `specs` (grid points, or trials already split) split
    as the run splits them (stored model) and run longest first on `slots` slots with `cost`,
    normally `CostModel().calibrated(device, specs)`."""
    return eta_seconds(split_costly(specs, max_seconds=max_seconds), slots, cost)


def split_costly(
    specs: list[TrialSpec], cost: CostModel | None = None, max_seconds: float = MAX_TRIAL_SECONDS
) -> list[TrialSpec]:
    """Split costly grid points into trials of fewer replicates; costliest trials first.

    A grid point whose modelled cost exceeds `max_seconds` is cut into the fewest equal parts of
    consecutive replicates that each stay under it (a single replicate is never cut). Each part
    is a `TrialSpec` of its own (its own key and Parquet file); rows pair by content, not by key.
    Trials of equal cost are ordered by their dataset versions (`TrialSpec.data_key`).
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
    # Ties (e.g. the lambdas of one C) ordered by data, so that bundles of consecutive packs hold
    # packs of the same dataset versions, which their trial draws once (DatasetCache).
    return sorted(out, key=lambda spec: (-cost.trial_seconds(spec), spec.data_key))


def eta_seconds(specs: list[TrialSpec], slots: int, cost: CostModel) -> float:
    """Makespan of the trials in list order on `slots` slots (see `makespan`)."""
    return makespan([cost.trial_seconds(spec) for spec in specs], slots)


def makespan(seconds: list[float], slots: int) -> float:
    """Wall seconds of jobs taking `seconds` run in list order on `slots` slots, each job to the
    first free slot (Tune's FIFO order)."""
    free = [0.0] * max(1, slots)
    for job in seconds:
        slot = min(range(len(free)), key=free.__getitem__)
        free[slot] += job
    return max(free)


def trial_slots(cluster: dict[str, float], cpus: float, gpus: float) -> int:
    """How many trials of the given resources run at once on the cluster."""
    if gpus > 0:
        return max(1, int(cluster.get("GPU", 0) / gpus + 1e-9))
    return max(1, int(cluster.get("CPU", 1) / max(cpus, 1e-9) + 1e-9))


def _steps_per_epoch(spec: TrialSpec) -> int:
    # The 1D protocol trains on one third of the samples, full batches only (drop_last).
    return max(1, (spec.total_samples // 3) // spec.batch_size)


def _time_pack(models: int, classes: int, device: str, backend: str = "torch") -> float:
    """Seconds per step of a reg+cls pack of this shape: the minimum of a few short timings
    after a warm-up."""
    import torch

    from regcls.training.packed import train_packed
    from regcls.training.tasks import ModelTask, TrainSettings

    n = _CALIBRATION_STEPS * _CALIBRATION_BATCH
    x = torch.linspace(-1, 1, n, device=device).unsqueeze(1)
    y = torch.sin(3 * x[:, 0])
    labels = torch.arange(n, device=device) % classes
    tasks = [
        ModelTask(x, y, seed=i, lr=1e-3, labels=labels, num_classes=classes) for i in range(models)
    ]
    settings = TrainSettings(epochs=1, batch_size=_CALIBRATION_BATCH, backend=backend)
    train_packed(tasks, settings)  # warm-up: first calls, buffers
    best = math.inf
    for _ in range(_CALIBRATION_REPEATS):
        started = _clock(device)
        train_packed(tasks, settings)
        best = min(best, _clock(device) - started)
    return best / _CALIBRATION_STEPS


def _time_models(specs: list[TrialSpec], device: str) -> list[tuple[int, float]]:
    """(classes, seconds per model) of data, binning and evaluation (0 epochs) of a few
    replicates of the narrowest and the widest spec. Evaluation includes the L_extra metric
    (0.25-0.8 s per model on the dev machine, varying by replicate: more than data and training
    of a small-C model), so it is measured, not assumed; no warm-up (small against that)."""
    from study.synthetic_1d.point import train_point

    def classes(spec: TrialSpec) -> int:
        return spec.num_classes or 0

    ends = sorted(
        {
            classes(min(specs, key=classes)): min(specs, key=classes),
            classes(max(specs, key=classes)): max(specs, key=classes),
        }.items()
    )
    out = []
    for c, spec in ends:
        few = spec.with_values(epochs=0, replicates=spec.replicates[:_CALIBRATION_MODELS])
        started = _clock(device)
        try:
            train_point(few, device)
        except (ValueError, RuntimeError):
            # A spec its trial cannot train (it will be recorded as failed there) is not timed.
            continue
        out.append((c, (_clock(device) - started) / len(few.replicates)))
    return out


def _time_draw(spec: TrialSpec, device: str) -> float | None:
    """Seconds to draw one dataset version of `spec` (its first replicate's), best of two; None
    when the spec's data cannot be drawn (its trial will record the error)."""
    from study.synthetic_1d.dataset_cache import DatasetCache
    from study.synthetic_1d.point import data_config

    best = math.inf
    for _ in range(2):
        started = _clock(device)
        try:
            DatasetCache().dataset(data_config(spec, *spec.replicates[0]))
        except ValueError:
            return None
        best = min(best, _clock(device) - started)
    return best


def _least_squares(rows: list[list[float]], values: list[float]) -> list[float]:
    """Coefficients of the least-squares fit rows @ coef = values (normal equations; 3 unknowns,
    well conditioned for the calibration shapes), in plain Python: no numpy at import."""
    n = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    b = [sum(r[i] * v for r, v in zip(rows, values, strict=True)) for i in range(n)]
    for col in range(n):  # Gauss-Jordan with partial pivoting
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        for r in range(n):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
                b[r] -= f * b[col]
    return [b[i] / a[i][i] for i in range(n)]


def _clock(device: str) -> float:
    """CPU time of this process on a CPU (a trial's single thread): other processes on a shared
    host do not enter the calibration, so it measures the machine, not the moment's load (wall
    time at load ~10 on the 2-core dev host gave predictions 4.9-11 h for one preset); wall time
    on a GPU, whose work is not CPU time."""
    return time.process_time() if device == "cpu" else time.perf_counter()
