"""Simulated studies for the calibration tests of `results.cluster_inference` (issue 19).

One simulated study is the 1D studies' design: G target functions (clusters) x seeds x C, model
A trained per (function, seed, C), the baseline B once per (function, seed) and shared by every C
(`shared_baseline`), a function effect and a seed effect shared by A and B, and optionally a
function-level effect on the difference A - B (`effect_sd`, mean 0: A better on some functions,
worse on others) and a true mean shift `effect` (A - B, negative: A better). Noise may be
normal, skewed (centred log-normal) or rounded to a grid (ties). Vectorised over R studies.

`python tests/inference_sim.py` prints the calibration table quoted in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from results.cluster_inference import cluster_flip, sign_patterns


@dataclass(frozen=True)
class Design:
    n_clusters: int = 10
    seeds: tuple[int, ...] | int = 5  # per cluster, or one count for all
    n_c: int = 3
    shared_baseline: bool = True
    function_sd: float = 1.0  # level shared by A and B
    seed_sd: float = 0.5
    effect_sd: float = 0.0  # function effect on A - B, mean 0
    effect: float = 0.0  # true mean of A - B
    noise: str = "normal"  # normal | skewed
    noise_sd: float = 0.3
    tie_step: float | None = None
    label: str = field(default="", compare=False)

    def sizes(self) -> np.ndarray:
        if isinstance(self.seeds, int):
            return np.full(self.n_clusters, self.seeds)
        return np.asarray(self.seeds)


@dataclass(frozen=True)
class Studies:
    """Per study and cluster: win-score totals and pair counts, difference sums and counts; per
    study the pooled strict wins, ties and pairs (for the pair-level reference method)."""

    win_sums: np.ndarray  # [R, G]
    pairs: np.ndarray  # [R, G]
    diff_sums: np.ndarray  # [R, G]
    wins: np.ndarray  # [R]
    ties: np.ndarray  # [R]
    n_pairs: int


def simulate(design: Design, n_studies: int, seed: int) -> Studies:
    rng = np.random.default_rng(seed)
    g, c = design.n_clusters, design.n_c
    sizes = design.sizes()
    s = int(sizes.max())
    mask = (np.arange(s)[None, :] < sizes[:, None])[None, :, :, None]  # [1, G, S, 1]
    level = (
        rng.normal(0, design.function_sd, (n_studies, g, 1, 1))
        + rng.normal(0, design.seed_sd, (n_studies, g, s, 1))
    )  # fmt: skip
    shift = design.effect + rng.normal(0, design.effect_sd, (n_studies, g, 1, 1))
    b_shape = (n_studies, g, s, 1) if design.shared_baseline else (n_studies, g, s, c)
    a = level + shift + _noise(rng, design, (n_studies, g, s, c))
    b = level + _noise(rng, design, b_shape)
    if design.tie_step:
        a, b = np.round(a / design.tie_step), np.round(b / design.tie_step)
    b = np.broadcast_to(b, a.shape)
    score = np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0)) * mask
    diff = (a - b) * mask
    pairs = np.broadcast_to(mask, a.shape).sum(axis=(2, 3)).astype(float)
    return Studies(
        win_sums=score.sum(axis=(2, 3)),
        pairs=np.broadcast_to(pairs, (n_studies, g)).copy(),
        diff_sums=diff.sum(axis=(2, 3)),
        wins=((a < b) * mask).sum(axis=(1, 2, 3)),
        ties=((a == b) * mask).sum(axis=(1, 2, 3)),
        n_pairs=int(sizes.sum() * c),
    )


def _noise(rng: np.random.Generator, design: Design, shape: tuple[int, ...]) -> np.ndarray:
    if design.noise == "normal":
        return rng.normal(0, design.noise_sd, shape)
    if design.noise == "skewed":  # centred log-normal, skewness ~ 6
        raw = rng.lognormal(0.0, 1.0, shape)
        return design.noise_sd * (raw - math.exp(0.5)) / math.sqrt((math.e - 1) * math.e)
    raise ValueError(f"noise: got {design.noise!r}; accepted values: normal, skewed")


@dataclass(frozen=True)
class Calibration:
    reject_wins: float  # share of studies with p(% wins = 50) < 0.05
    cover_wins: float  # share whose % wins interval covers 50
    reject_mean: float  # share with mean-difference interval excluding 0
    cover_mean: float  # share whose mean-difference interval covers `effect`
    flagged: float  # share without an interval (too few clusters)


def cluster_calibration(studies: Studies, effect: float = 0.0) -> Calibration:
    """The cluster sign-flip method on every study (one shared pattern set per design)."""
    e = sign_patterns(studies.win_sums.shape[1], key="calibration")
    wins = cluster_flip(studies.win_sums, studies.pairs, theta0=0.5, patterns=e)
    means = cluster_flip(studies.diff_sums, studies.pairs, theta0=0.0, patterns=e)
    bounded = np.isfinite(means.low)
    cover_wins = np.where(np.isfinite(wins.low), (wins.low <= 0.5) & (wins.high >= 0.5), True)
    cover_mean = np.where(bounded, (means.low <= effect) & (effect <= means.high), True)
    return Calibration(
        reject_wins=float(np.mean(wins.p_value <= 0.05)),
        cover_wins=float(np.mean(cover_wins)),
        reject_mean=float(np.mean(bounded & ((means.low > 0) | (means.high < 0)))),
        cover_mean=float(np.mean(cover_mean)),
        flagged=float(np.mean(~bounded)),
    )


def pair_level_calibration(studies: Studies) -> tuple[float, float]:
    """The old method, pairs taken as independent: the exact sign test (scipy's binomtest, ties
    left out) and the Wilson interval of wins / pairs. Returns (rejection rate, coverage)."""
    reject, cover, cache = 0, 0, {}
    for wins, ties in zip(studies.wins.tolist(), studies.ties.tolist(), strict=True):
        key = (int(wins), int(ties))
        if key not in cache:
            directed = studies.n_pairs - key[1]
            p = stats.binomtest(key[0], directed).pvalue if directed else 1.0
            ci = stats.binomtest(key[0], studies.n_pairs).proportion_ci(method="wilson")
            cache[key] = (p <= 0.05, ci.low <= 0.5 <= ci.high)
        reject += cache[key][0]
        cover += cache[key][1]
    n = len(studies.wins)
    return reject / n, cover / n


def percentile_bootstrap_coverage(
    studies: Studies, effect: float, n_boot: int = 1000, seed: int = 0
) -> float:
    """Coverage of the percentile bootstrap over clusters (the old DIR / function bootstrap) of
    the pooled mean difference."""
    rng = np.random.default_rng(seed)
    r, g = studies.diff_sums.shape
    draws = rng.integers(0, g, size=(n_boot, g))
    sums = studies.diff_sums[:, draws].sum(axis=2)  # [R, B]
    counts = studies.pairs[:, draws].sum(axis=2)
    means = sums / counts
    low, high = np.quantile(means, [0.025, 0.975], axis=1)
    return float(np.mean((low <= effect) & (effect <= high)))


DESIGNS = (
    Design(label="issue design: 10 x 5 x 3, shared baseline"),
    Design(effect_sd=1.0, label="strong function effects on A - B"),
    Design(effect_sd=1.0, noise="skewed", label="skewed noise, function effects"),
    Design(tie_step=0.5, label="ties (MSE on a grid)"),
    Design(seeds=(1, 1, 2, 2, 3, 5, 8, 8, 10, 10), effect_sd=0.5, label="unequal clusters"),
    Design(n_clusters=6, effect_sd=0.5, label="G = 6"),
    Design(n_clusters=20, seeds=3, effect_sd=0.5, label="G = 20 (Monte Carlo patterns)"),
)


def main() -> None:
    print("design | % wins: reject, cover 50 | mean: reject 0, cover | pair-level: reject, cover")
    for design in DESIGNS:
        studies = simulate(design, 2000, seed=1)
        cal = cluster_calibration(studies)
        old = pair_level_calibration(studies)
        print(
            f"{design.label} | {cal.reject_wins:.3f}, {cal.cover_wins:.3f} | "
            f"{cal.reject_mean:.3f}, {cal.cover_mean:.3f} | {old[0]:.3f}, {old[1]:.3f}"
        )
    print("power (effect -0.3, function sd 0.3 on A - B): G -> % wins reject, mean reject, cover")
    for g in (3, 5, 6, 10, 20):
        design = Design(n_clusters=g, effect=-0.3, effect_sd=0.3)
        cal = cluster_calibration(simulate(design, 2000, seed=2), effect=-0.3)
        print(f"G = {g}: {cal.reject_wins:.3f}, {cal.reject_mean:.3f}, {cal.cover_mean:.3f}, "
              f"flagged {cal.flagged:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
