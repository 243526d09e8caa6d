"""HCA's class hierarchy (Xiong & Yao, CVPR 2024, Sec. 3.2): coarse levels over the finest classes.

Classifier H is the finest (C classes, the study's class binning). Classifiers h = 1 .. H - 1 have
`C_h = 2^h` classes whose boundaries are picked from the finest boundaries V_i so that every class
holds about the same number of training samples ("E-Num"): for h = 1 the V_i closest to the
median, for h = 2 the V_i closest to the quartiles, and so on. Picking cut points from the V_i
makes every coarse class a union of consecutive finest classes, which is what the class-mapping
matrix T_{h,H} (Eqs. 7, 8, 13) needs.

Choices the paper leaves open (digest 1.5, pitfall 2), fixed here:
- "closest" is by value (the paper's "the value selected from V_i that is closest to the
  median"); a tie goes to the lower V_i; quantiles are numpy's linear-interpolation quantiles;
- two quantiles that snap to the same V_i give one cut: the level then has fewer than 2^h
  classes (deduplicated, no empty duplicate classes);
- H defaults to the smallest H with C <= 2^H (the paper: H = 7 "since C_H <= 2^7"), so the
  coarse levels are 2, 4, ..., 2^(H-1) < C.

`class_means` gives the value HCA predicts for a finest class (the mean of its training
targets). A hierarchy is stored as `class_levels` `[H - 1, C]` int64: row h - 1 holds the
level-h class of every finest class (coarsest level first).
"""

from __future__ import annotations

import math

import numpy as np


def default_num_heads(num_classes: int) -> int:
    """The paper's H for C finest classes: the smallest H with C <= 2^H (1 for C = 1)."""
    if num_classes < 1:
        raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
    return max(1, math.ceil(math.log2(num_classes)))


def hierarchy_levels(
    y_train: np.ndarray, fine_edges: np.ndarray, num_heads: int | None = None
) -> np.ndarray:
    """`class_levels` `[H - 1, C]`: the equal-count (E-Num) class of every finest class at each
    coarse level h = 1 .. H - 1 (2^h classes before deduplication), from the training targets
    and the C + 1 finest class edges."""
    y = np.asarray(y_train, dtype=np.float64)
    edges = np.asarray(fine_edges, dtype=np.float64)
    if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError("y_train: must be a non-empty 1-D array of finite values")
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError("fine_edges: must be a 1-D increasing array of at least 2 edges")
    classes = edges.size - 1
    most = default_num_heads(classes)
    heads = most if num_heads is None else num_heads
    if isinstance(heads, bool) or not isinstance(heads, int | np.integer) or not 1 <= heads <= most:
        raise ValueError(f"num_heads: must be an integer in [1, {most}] for C={classes}")
    interior = edges[1:-1]  # V_1 .. V_{C-1}; cut i separates finest classes i and i + 1
    fine = np.arange(classes)
    levels = []
    for h in range(1, heads):
        quantiles = np.quantile(y, np.arange(1, 2**h) / 2**h)
        # argmin returns the first minimum: a tie goes to the lower V_i.
        cuts = np.unique([int(np.argmin(np.abs(interior - q))) for q in quantiles])
        levels.append(np.searchsorted(cuts, fine, side="left"))
    return np.array(levels, dtype=np.int64).reshape(len(levels), classes)


def merged_edges(edges: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """The edges of merged classes (e.g. `ClassBinning.edges` / `.mapping` of equalised classes,
    Eq. 12): the equal-width edges where the merged class changes, plus both ends."""
    edges, mapping = np.asarray(edges, dtype=np.float64), np.asarray(mapping)
    if mapping.shape != (edges.size - 1,) or np.any(np.diff(mapping) < 0):
        raise ValueError("mapping: must be a non-decreasing class id per edge interval")
    change = np.flatnonzero(np.diff(mapping)) + 1
    return edges[np.r_[0, change, edges.size - 1]]


def class_mapping_matrix(level: np.ndarray) -> np.ndarray:
    """T_{h,H} `[C_h, C]` of one coarse level (a row of `class_levels`): T[v, u] = 1 iff finest
    class u lies inside coarse class v. The identity row `arange(C)` gives T_{H,H} = I."""
    level = np.asarray(level)
    if level.ndim != 1 or level.size == 0 or level[0] != 0 or np.any(np.diff(level) < 0):
        raise ValueError("level: must be a non-decreasing 1-D class id per finest class from 0")
    matrix = np.zeros((int(level[-1]) + 1, level.size))
    matrix[level, np.arange(level.size)] = 1.0
    return matrix


def class_means(y_train: np.ndarray, labels: np.ndarray, midpoints: np.ndarray) -> np.ndarray:
    """HCA's representative value of every finest class `[C]`: the mean of the training targets
    in the class (Sec. 4, "following [36]"); an empty class falls back to its interval midpoint
    (`midpoints`, e.g. `ClassBinning.centres()`; the paper leaves this open, digest pitfall 6)."""
    y = np.asarray(y_train, dtype=np.float64)
    labels, midpoints = np.asarray(labels), np.asarray(midpoints, dtype=np.float64)
    if labels.shape != y.shape or labels.min() < 0 or labels.max() >= midpoints.size:
        raise ValueError(f"labels: must be class ids in [0, {midpoints.size - 1}], one per target")
    counts = np.bincount(labels, minlength=midpoints.size)
    sums = np.bincount(labels, weights=y, minlength=midpoints.size)
    return np.where(counts > 0, sums / np.maximum(counts, 1), midpoints)
