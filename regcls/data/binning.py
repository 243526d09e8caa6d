"""Regression targets to classes: equal-width classes and balanced classes (Section 2.3).

Balanced classes first merge adjacent equal-width classes by histogram equalisation (Eq. 12),
then give each equalised class a keep probability for the classification loss (Eq. 13,
supplementary B).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Eq. 12 as printed ("floor") or as in the authors' public code ("ceil"); see equalize_classes.
EQUALIZE_ROUNDINGS = ("floor", "ceil")
# `label_bins`: a target this many bin widths below an edge is on it (float64 cannot hold 0.3).
EDGE_SLACK = 1e-9


def equal_width_edges(y_train: np.ndarray, num_classes: int) -> np.ndarray:
    """C + 1 equal-width class edges over [min, max] of the training targets."""
    y = _targets(y_train, "y_train")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes: must be an integer >= 1, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes: must be an integer >= 1, got {num_classes!r}")
    low, high = float(y.min()), float(y.max())
    if not high > low:
        raise ValueError("y_train: needs at least two distinct target values")
    return np.linspace(low, high, int(num_classes) + 1)


def assign_classes(y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class id in [0, C - 1] of every target; values outside the edges go to the end classes.

    Classes are half-open [e_k, e_k+1) except the last, which also holds the maximum.
    """
    y = np.asarray(y, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"edges: must be a 1-D array of at least 2 edges, got shape {edges.shape}")
    return np.searchsorted(edges[1:-1], y, side="right").astype(np.int64)


def label_bins(y: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """int64 bin `[N]` of every target over the increasing `edges` `[B + 1]`, as Yang et al.'s
    LDS and FDS code bins labels: `edges[b] <= y < edges[b + 1]`, the end bins open outwards
    (their STS-B code puts a score of exactly 5.0 in the last bin).

    Their code compares float32 labels with float32 edges, so a score on an edge (1.4 of STS-B's
    0.1 grid) lands in the bin that starts there. In float64 neither the score nor the edge is
    the decimal (`0.3 * 10 = 2.9999999999999996`), so a float64 target within `EDGE_SLACK` bin
    widths below an edge counts as on it; float32-cast targets (1.4 -> 1.39999998) would not be
    (1,289 of STS-B-DIR's 5,249 training pairs moved). Give float64 targets.
    """
    values = _targets(y, "y")
    grid = np.asarray(edges, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.diff(grid) > 0):
        raise ValueError("edges: must be increasing [B + 1] with B >= 1")
    last = grid.size - 2
    index = np.clip(np.searchsorted(grid, values, side="right") - 1, 0, last)
    upper = grid[index + 1]
    snap = (index < last) & (upper - values <= EDGE_SLACK * (upper - grid[index]))
    return (index + snap).astype(np.int64)


def equalize_classes(counts: np.ndarray, rounding: str = "floor") -> np.ndarray:
    """Eq. 12: map old class k to new class q(k) = floor(C / N * sum_{j <= k} H(j)), relabelled.

    The distinct values of q are relabelled to consecutive ids 0..C̄-1, so C̄ <= C.
    `rounding="floor"` is the paper's text. `"ceil"` is the authors' public code
    (q(k) = ceil(C / N * cumsum) - 1, 0-indexed): the same rule with the other end of each
    window of N / C closed. With "floor" the last non-empty old class always stays alone (its
    cumulative count is exactly N), which often leaves a tiny class and so a small min H in Eq. 13.

    No new class is empty: a new class other than the first starts at an old class k whose q(k)
    exceeds q(k - 1), which needs H(k) > 0. Leading empty classes (only possible when `counts`
    does not come from training targets, whose minimum lies in class 0) join the first non-empty
    class. Within a new class the cumulative counts lie in one window of width N / C, so its count
    minus the count of its first non-empty old class is below N / C: "as even as Eq. 12 allows".
    """
    if rounding not in EQUALIZE_ROUNDINGS:
        raise ValueError(f"rounding: must be one of {EQUALIZE_ROUNDINGS}, got {rounding!r}")
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts: must be a non-empty 1-D array, got shape {counts.shape}")
    integral = np.issubdtype(counts.dtype, np.integer) or (
        np.all(np.isfinite(counts)) and np.all(counts == np.round(counts))
    )
    if not integral:
        raise ValueError("counts: must hold non-negative integer class counts")
    counts = counts.astype(np.int64)
    if np.any(counts < 0) or counts.sum() == 0:
        raise ValueError("counts: must be non-negative with at least one positive count")
    total = int(counts.sum())
    scaled = counts.size * np.cumsum(counts)
    # Integer arithmetic: no float rounding at exact multiples of N / C.
    q = scaled // total if rounding == "floor" else -(-scaled // total) - 1
    first = int(np.argmax(counts > 0))
    q[:first] = q[first]
    return np.concatenate([[0], np.cumsum(np.diff(q) != 0)]).astype(np.int64)


def keep_probability(counts: np.ndarray) -> np.ndarray:
    """Eq. 13: rho(k) = min_j H(j) / H(k) over the (equalised) class histogram H."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts: must be a non-empty 1-D array, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        raise ValueError("counts: every class needs a positive count")
    return counts.min() / counts


@dataclass(frozen=True, eq=False)
class ClassBinning:
    """Equal-width edges, old -> new class mapping and per-new-class keep probability."""

    edges: np.ndarray  # C + 1 equal-width edges
    mapping: np.ndarray  # [C] old class -> new class (identity when not balanced)
    keep: np.ndarray  # [C̄] keep probability per new class (all ones when not balanced)

    @property
    def num_classes(self) -> int:
        """C̄, the classifier width (== C when not balanced)."""
        return int(self.keep.size)

    def labels(self, y: np.ndarray) -> np.ndarray:
        """int64 class ids in [0, num_classes)."""
        return self.mapping[assign_classes(y, self.edges)]

    def keep_per_sample(self, y: np.ndarray) -> np.ndarray:
        """Keep probability (Eq. 13) of each sample's class."""
        return self.keep[self.labels(y)]

    def centres(self) -> np.ndarray:
        """[num_classes] the value each class stands for: the midpoint of its target range (a
        merged class of Eq. 12 spans its old classes), used by regression by classification."""
        low = np.full(self.num_classes, np.inf)
        high = np.full(self.num_classes, -np.inf)
        np.minimum.at(low, self.mapping, self.edges[:-1])
        np.maximum.at(high, self.mapping, self.edges[1:])
        return (low + high) / 2.0


def make_binning(
    y_train: np.ndarray, num_classes: int, balanced: bool, rounding: str = "floor"
) -> ClassBinning:
    """C equal-width classes over the training targets; balanced: Eq. 12 then Eq. 13.

    `rounding` selects the Eq. 12 variant (see `equalize_classes`); unused when not balanced.
    """
    if rounding not in EQUALIZE_ROUNDINGS:
        raise ValueError(f"rounding: must be one of {EQUALIZE_ROUNDINGS}, got {rounding!r}")
    edges = equal_width_edges(y_train, num_classes)
    if not balanced:
        return ClassBinning(
            edges=edges, mapping=np.arange(num_classes, dtype=np.int64), keep=np.ones(num_classes)
        )
    counts = np.bincount(assign_classes(y_train, edges), minlength=num_classes)
    mapping = equalize_classes(counts, rounding)
    new_counts = np.bincount(mapping, weights=counts).astype(np.int64)
    return ClassBinning(edges=edges, mapping=mapping, keep=keep_probability(new_counts))


def _targets(y: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: must be a non-empty 1-D array of finite values")
    return y
