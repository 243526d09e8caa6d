"""Controlled 1D regression data (core paper Section 2.1, supplementary A, Eq. 14).

Every choice follows `spec/synthetic_1d_protocol.md`: ten fixed functions
f(x) = a sin(cx) + b sin(dx), three scenarios (clean / noisy / ood) and four training samplings
(uniform, i.e. balanced in y, and mild / moderate / severe peaks). Test sets are always, and
validation sets by default, balanced in y. A dataset version is a pure function of its `DataConfig`.

Where the authors' public 1D code differs from the paper's text on the data side
(`spec/authors_code_choices.md`), the other choice is a `DataConfig` field whose default keeps
the paper's (and this module's original) behaviour: `function_set`, `peak_share`, `peak_bins` and
`validation_sampling`. `total_samples` (60,000 in their code) already was one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

SCENARIOS = ("clean", "noisy", "ood")
SAMPLINGS = ("uniform", "mild", "moderate", "severe")
NOISE_DISTRIBUTIONS = ("gaussian", "uniform")
# Half-width of the peak region as a fraction of the target range R (Section 2.1).
PEAK_WIDTH_RATIO = {"mild": 0.3, "moderate": 0.1, "severe": 0.03}
FUNCTION_SEED = 2023
NUM_FUNCTIONS = 10
# Which ten functions (spec/authors_code_choices.md, "functions"): "paper" draws them from
# numpy with `function_seed`; "authors" replays the authors' code (Python's `random`, seed 0).
FUNCTION_SETS = ("paper", "authors")
AUTHORS_FUNCTION_SEED = 0
# How the peak's samples are balanced (spec/authors_code_choices.md, "peak bins"): over the
# global grid of `balance_bins` bins across the whole y range, or over `balance_bins` bins
# spanning the peak region itself (the authors' code).
PEAK_BINS = ("global", "region")
# How the validation split is drawn: balanced in y (the protocol) or with the training split's
# sampling (the authors' run script for mild / moderate). The test split is always balanced.
VALIDATION_SAMPLINGS = ("balanced", "as_training")
# The authors' effective peak share (spec/authors_code_choices.md, "share of training samples
# from the peak"): 60000 - 1024 - 5 = 58,971 peak samples plus (5 + 1) * 1024 = 6,144 balanced
# ones, i.e. 58971 / 65115 = 0.9056...
AUTHORS_PEAK_SHARE = 58_971 / (58_971 + 6_144)
# ood: nine contiguous x intervals; interval i goes to split i mod 3 (train, val, test).
OOD_INTERVALS = 9


@dataclass(frozen=True)
class SineFunction:
    """f(x) = a sin(cx) + b sin(dx) (Eq. 14), with b = 1.5 - a and d = c // 3."""

    a: float
    b: float
    c: int
    d: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return self.a * np.sin(self.c * x) + self.b * np.sin(self.d * x)


def sine_functions(count: int = NUM_FUNCTIONS, seed: int = FUNCTION_SEED) -> list[SineFunction]:
    """The fixed functions: a ~ U(0, 1), c uniform integer in [9, 30], from one generator seed.

    Drawn one function at a time, so `sine_functions(k)` is a prefix of `sine_functions(10)`.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count: must be an integer >= 1, got {count!r}")
    rng = np.random.default_rng(seed)
    functions = []
    for _ in range(count):
        a = float(rng.uniform(0.0, 1.0))
        c = int(rng.integers(9, 31))
        functions.append(SineFunction(a=a, b=1.5 - a, c=c, d=c // 3))
    return functions


def authors_sine_functions(count: int = NUM_FUNCTIONS) -> list[SineFunction]:
    """The authors' ten functions (spec/authors_code_choices.md, "functions").

    Python's `random` module seeded with 0, then for j = 0..count-1: a = random.random(),
    b = 1.5 - a, c = random.randint(9, 30), d = c // 3. A private `random.Random` instance is
    used, so the global `random` state is neither read nor changed. Rounded to four decimals,
    the ten (a, c) are (0.8444, 22), (0.0405, 25), (0.4859, 18), (0.9678, 20), (0.5834, 15),
    (0.5047, 18), (0.1397, 12), (0.6184, 17), (0.9873, 26), (0.9828, 28).
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count: must be an integer >= 1, got {count!r}")
    generator = random.Random(AUTHORS_FUNCTION_SEED)
    functions = []
    for _ in range(count):
        a = generator.random()
        c = generator.randint(9, 30)
        functions.append(SineFunction(a=a, b=1.5 - a, c=c, d=c // 3))
    return functions


@dataclass(frozen=True)
class DataConfig:
    """One dataset version; every field is recorded in the results rows.

    Fields beyond the repetition (spec/synthetic_1d_protocol.md; the authors' alternatives from
    spec/authors_code_choices.md):

    - `function_set`: "paper" (default) = `sine_functions(10, function_seed)`; "authors" = the
      authors' ten functions (`authors_sine_functions`), for which `function_seed` is unused.
    - `peak_share`: share of the training samples drawn from the peak region, in (0, 1]
      (default 0.75, the paper; `AUTHORS_PEAK_SHARE` ~ 0.906 is the authors' code). The rest is
      drawn balanced over the whole range. 0 is rejected: it would be uniform sampling with a
      meaningless peak centre (use sampling="uniform"). Unused by uniform sampling.
    - `peak_bins`: "global" (default): the peak's samples are balanced over the bins of the
      global grid (`balance_bins` equal-width bins over [min y, max y] of the split's pool)
      that meet the peak region, only pool samples inside the region being candidates; the two
      bins cut by the region's ends get a full quota for a partial width. "region" (the
      authors' code): they are balanced over `balance_bins` equal-width bins spanning the peak
      region [mu - rR, mu + rR] ∩ [min y, max y] itself. Either way every non-empty bin gets an
      equal quota (the remainder to random bins; bins without pool samples are skipped) and a
      bin uses each of its pool samples once before drawing with replacement; the non-peak
      share always uses the global grid. Unused by uniform sampling.
    - `validation_sampling`: "balanced" (default) = validation balanced in y like test;
      "as_training" = validation drawn with the training sampling (same peak centre and peak
      width rR, R the training range; the authors validated mild / moderate this way). The test
      split is always balanced. Unused by uniform sampling (both are balanced).

    Options left at their defaults do not enter the seed, so every default dataset is the one
    drawn before these options existed; a non-default option that changes the data does.
    """

    scenario: str
    sampling: str
    function_id: int
    seed: int
    noise_sigma: float = 0.1  # used only when scenario == "noisy"
    noise_distribution: str = "gaussian"  # "uniform" has the same std
    total_samples: int = 30_000  # one third per split
    peak_share: float = 0.75
    balance_bins: int = 1024
    pool_size: int = 100_000
    function_seed: int = FUNCTION_SEED  # function_set == "paper" only
    function_set: str = "paper"
    peak_bins: str = "global"
    validation_sampling: str = "balanced"

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario: must be one of {SCENARIOS}, got {self.scenario!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling: must be one of {SAMPLINGS}, got {self.sampling!r}")
        if self.noise_distribution not in NOISE_DISTRIBUTIONS:
            raise ValueError(
                f"noise_distribution: must be one of {NOISE_DISTRIBUTIONS}, "
                f"got {self.noise_distribution!r}"
            )
        for name, accepted in (
            ("function_set", FUNCTION_SETS),
            ("peak_bins", PEAK_BINS),
            ("validation_sampling", VALIDATION_SAMPLINGS),
        ):
            if getattr(self, name) not in accepted:
                raise ValueError(f"{name}: must be one of {accepted}, got {getattr(self, name)!r}")
        _check_int("function_id", self.function_id, 0, NUM_FUNCTIONS - 1)
        _check_int("seed", self.seed, 0)
        _check_int("total_samples", self.total_samples, 3)
        _check_int("balance_bins", self.balance_bins, 1)
        _check_int("pool_size", self.pool_size, 2)
        _check_int("function_seed", self.function_seed, 0)
        _check_float("noise_sigma", self.noise_sigma, 0.0, math.inf)
        _check_float("peak_share", self.peak_share, 0.0, 1.0, low_open=True)


def target_function(config: DataConfig) -> SineFunction:
    """The function f a dataset version samples (its a, b, c, d belong in every results row)."""
    if config.function_set == "authors":
        return authors_sine_functions(config.function_id + 1)[config.function_id]
    return sine_functions(config.function_id + 1, config.function_seed)[config.function_id]


@dataclass(frozen=True, eq=False)
class Dataset1D:
    """Train / validation / test splits; `y_*` are the targets, `y_*_clean` are f(x)."""

    x_train: np.ndarray
    y_train: np.ndarray
    y_train_clean: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    y_val_clean: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    y_test_clean: np.ndarray
    peak_center: float | None  # None for uniform training sampling


def make_dataset(config: DataConfig) -> Dataset1D:
    """Draw the dataset version `config` names; identical arrays for identical configs.

    Balancing is done on the clean targets f(x); noise (scenario `noisy`) is added afterwards to
    all three splits.
    """
    f = target_function(config)
    rng = np.random.default_rng(np.random.SeedSequence(_entropy(config)))
    n = config.total_samples // 3
    if config.scenario == "ood":
        intervals = _ood_intervals(rng)
        pools = [_pool_x(rng, intervals[split], config.pool_size) for split in range(3)]
    else:
        pools = [rng.uniform(-1.0, 1.0, config.pool_size) for _ in range(3)]
    pools_y = [f(x) for x in pools]

    peak_center = None
    val = None
    if config.sampling == "uniform":
        train = _balanced(rng, pools_y[0], _range(pools_y[0]), n, config.balance_bins)
    else:
        peak_center = _peak_center(rng, pools_y, config.scenario == "ood")
        low, high = _range(pools_y[0])
        half_width = PEAK_WIDTH_RATIO[config.sampling] * (high - low)  # rR of the training pool
        train = _imbalanced(rng, pools_y[0], peak_center, half_width, n, config)
        if config.validation_sampling == "as_training":
            val = _imbalanced(rng, pools_y[1], peak_center, half_width, n, config)
    if val is None:
        val = _balanced(rng, pools_y[1], _range(pools_y[1]), n, config.balance_bins)
    test = _balanced(rng, pools_y[2], _range(pools_y[2]), n, config.balance_bins)

    arrays: dict[str, np.ndarray] = {}
    for name, pool, pool_y, index in zip(
        ("train", "val", "test"), pools, pools_y, (train, val, test), strict=True
    ):
        # Shuffle so no consumer can see the bin-sorted draw order.
        index = index[rng.permutation(n)]
        clean = pool_y[index]
        arrays[f"x_{name}"] = pool[index]
        arrays[f"y_{name}_clean"] = clean
        arrays[f"y_{name}"] = (
            clean + _noise(rng, n, config) if config.scenario == "noisy" else clean.copy()
        )
    return Dataset1D(**arrays, peak_center=peak_center)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        accepted = f"an integer in [{low}, {high}]" if high is not None else f"an integer >= {low}"
        raise ValueError(f"{name}: must be {accepted}, got {value!r}")


def _check_float(name: str, value: object, low: float, high: float, low_open: bool = False) -> None:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    above = low < value if low_open else low <= value
    if not ok or not math.isfinite(value) or not (above and value <= high):
        interval = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ValueError(f"{name}: must be a finite number in {interval}, got {value!r}")


# Entropy tags of the options added after the first datasets were drawn (see `_entropy`).
_TAG_FUNCTION_SET, _TAG_PEAK_BINS, _TAG_VALIDATION_SAMPLING = 1001, 1002, 1003


def _entropy(config: DataConfig) -> list[int]:
    """SeedSequence entropy: the repetition seed plus every field that shapes the draw."""
    entropy = [
        config.seed,
        config.function_id,
        SCENARIOS.index(config.scenario),
        SAMPLINGS.index(config.sampling),
        config.total_samples,
        config.balance_bins,
        config.pool_size,
        config.function_seed,
        _float_bits(config.peak_share),
    ]
    if config.scenario == "noisy":
        # Noise settings only matter (and only change the data) when noise is added.
        entropy += [
            NOISE_DISTRIBUTIONS.index(config.noise_distribution),
            _float_bits(config.noise_sigma),
        ]
    # Options added later enter only when not at their default (so default datasets keep their
    # draw) and only where they change the data; each as a (tag, value) pair, so that no two
    # different configs share an entropy list.
    if config.function_set != "paper":
        entropy += [_TAG_FUNCTION_SET, FUNCTION_SETS.index(config.function_set)]
    if config.sampling != "uniform":
        if config.peak_bins != "global":
            entropy += [_TAG_PEAK_BINS, PEAK_BINS.index(config.peak_bins)]
        if config.validation_sampling != "balanced":
            entropy += [
                _TAG_VALIDATION_SAMPLING,
                VALIDATION_SAMPLINGS.index(config.validation_sampling),
            ]
    return [int(v) for v in entropy]


def _float_bits(value: float) -> int:
    return int(np.array(float(value), dtype=np.float64).view(np.uint64))


def _range(y: np.ndarray) -> tuple[float, float]:
    return float(y.min()), float(y.max())


def _ood_intervals(rng: np.random.Generator) -> list[np.ndarray]:
    """Per split, a [k, 2] array of x intervals: interval i of width 2/9 goes to split i mod 3.

    Each upper end is extended by |N(0, (2/9)/4)|, capped at 1, so neighbouring regions overlap.
    """
    width = 2.0 / OOD_INTERVALS
    lower = -1.0 + width * np.arange(OOD_INTERVALS)
    extension = np.abs(rng.normal(0.0, width / 4.0, OOD_INTERVALS))
    upper = np.minimum(lower + width + extension, 1.0)
    bounds = np.stack([lower, upper], axis=1)
    return [bounds[split::3] for split in range(3)]


def _pool_x(rng: np.random.Generator, intervals: np.ndarray, size: int) -> np.ndarray:
    """x uniform over a union of disjoint intervals."""
    lengths = intervals[:, 1] - intervals[:, 0]
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    u = rng.uniform(0.0, lengths.sum(), size)
    which = np.searchsorted(starts, u, side="right") - 1
    return intervals[which, 0] + (u - starts[which])


def _peak_center(rng: np.random.Generator, pools_y: list[np.ndarray], ood: bool) -> float:
    """mu ~ U(min y, max y) of the training pool; for ood, only values reachable in all splits.

    Reachability is judged on the pools: a value is reachable in a split when its pool has a
    target within one part in 1024 of the training range (a pool has ~100 targets per such bin).
    """
    low, high = _range(pools_y[0])
    if not ood:
        return float(rng.uniform(low, high))
    tolerance = (high - low) / 1024
    sorted_pools = [np.sort(y) for y in pools_y]
    # Rejection sampling in batches; the reachable set is a union of intervals of y.
    for _ in range(100):
        candidates = rng.uniform(low, high, 256)
        ok = np.ones(candidates.shape, dtype=bool)
        for pool in sorted_pools:
            ok &= _nearest_distance(pool, candidates) <= tolerance
        if ok.any():
            return float(candidates[np.argmax(ok)])
    raise ValueError("scenario: ood splits share no reachable target value for this function")


def _nearest_distance(sorted_values: np.ndarray, points: np.ndarray) -> np.ndarray:
    right = np.clip(np.searchsorted(sorted_values, points), 0, len(sorted_values) - 1)
    left = np.clip(right - 1, 0, len(sorted_values) - 1)
    return np.minimum(np.abs(sorted_values[right] - points), np.abs(sorted_values[left] - points))


def _imbalanced(
    rng: np.random.Generator,
    pool_y: np.ndarray,
    center: float,
    half_width: float,
    n: int,
    config: DataConfig,
) -> np.ndarray:
    """peak_share of n balanced over the peak region [mu - rR, mu + rR] ∩ [min y, max y] of the
    pool, the rest balanced over the whole pool range (`half_width` = rR, R the training range).

    The peak's bins are the global grid's (`peak_bins="global"`) or span the region itself
    (`"region"`); the rest always uses the global grid.
    """
    low, high = _range(pool_y)
    region = (max(low, center - half_width), min(high, center + half_width))
    n_peak = round(config.peak_share * n)
    bins = config.balance_bins
    peak_grid = (low, high) if config.peak_bins == "global" else None
    peak = _balanced(rng, pool_y, region, n_peak, bins, grid=peak_grid)
    rest = _balanced(rng, pool_y, (low, high), n - n_peak, bins, grid=(low, high))
    return np.concatenate([peak, rest])


def _balanced(
    rng: np.random.Generator,
    pool_y: np.ndarray,
    region: tuple[float, float],
    n: int,
    bins: int,
    grid: tuple[float, float] | None = None,
) -> np.ndarray:
    """Indices of n pool samples with targets in `region`, the same number from every bin.

    Bins are `bins` equal-width bins over `grid` (default: the region). Bins without any pool
    sample cannot be drawn from and are skipped; the remainder n mod (non-empty bins) goes to
    randomly chosen bins. A bin holding fewer samples than its quota uses each sample once and
    fills the rest with replacement; otherwise it takes its first quota samples, which is a
    random subset because the pool is i.i.d. and the sort below is stable.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = grid if grid is not None else region
    candidates = np.flatnonzero((pool_y >= region[0]) & (pool_y <= region[1]))
    if candidates.size == 0:
        raise ValueError("balance_bins: the sampling region holds no pool sample")
    scale = bins / (high - low) if high > low else 0.0
    bin_id = np.clip(((pool_y[candidates] - low) * scale).astype(np.int64), 0, bins - 1)
    # Small integer keys make numpy's stable sort a radix sort (several times faster).
    key = bin_id.astype(np.int16) if bins <= np.iinfo(np.int16).max else bin_id
    order = candidates[np.argsort(key, kind="stable")]
    counts = np.bincount(bin_id, minlength=bins)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    filled = np.flatnonzero(counts)
    quota = np.full(filled.size, n // filled.size, dtype=np.int64)
    quota[rng.permutation(filled.size)[: n % filled.size]] += 1
    which = np.repeat(np.arange(filled.size), quota)
    rank = np.arange(n) - np.repeat(np.cumsum(quota) - quota, quota)
    size = counts[filled][which]
    extra = (rng.random(n) * size).astype(np.int64)
    position = np.where(rank < size, rank, extra)
    return order[starts[filled][which] + position]


def _noise(rng: np.random.Generator, n: int, config: DataConfig) -> np.ndarray:
    sigma = config.noise_sigma
    if config.noise_distribution == "gaussian":
        return rng.normal(0.0, sigma, n)
    # Uniform on [-sqrt(3) sigma, sqrt(3) sigma] has standard deviation sigma.
    half = math.sqrt(3.0) * sigma
    return rng.uniform(-half, half, n)
