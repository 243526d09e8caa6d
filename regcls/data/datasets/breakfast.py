"""Breakfast video progress prediction (core paper Section 3.3) on per-frame IDT features.

Layout, as in Kukleva et al.'s CTE code (`<dataset_root>/features/<task>/<video>.txt`):
`<root>/features/<task>/<video>.txt`, one whitespace-separated row per frame. A row holds either
the 64 feature dims (CTE's released features) or a frame index followed by the 64 dims (the
Breakfast reduced-FV text files; CTE strips that column with `[:, 1:]`). Video files are named
like `P03_cam01_P03_coffee.txt`; the leading `Pxx` is the participant. CTE also drops the first
row of those raw files (`[1:, 1:]`); pass `skip_first_row=True` to do the same.

Splits: S1..S4 hold out participants P03-P15, P16-P28, P29-P41, P42-P54 for testing. Validation
(Section 3.3): 1/3 of the task's training videos, drawn with seed 0. One model per task.
Targets per frame: progress percentage 100 * t / T (CTE's relative time t / T, in percent) or
the frame number (the index column when present, else the row position t).
Features are z-scored per video over the non-zero rows (CTE's `f_norm`, on for Breakfast).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from regcls.data.datasets import layout_error

TASKS = (
    "cereals",
    "coffee",
    "friedegg",
    "juice",
    "milk",
    "pancake",
    "salat",
    "sandwich",
    "scrambledegg",
    "tea",
)
TEST_PARTICIPANTS = MappingProxyType(
    {"s1": (3, 15), "s2": (16, 28), "s3": (29, 41), "s4": (42, 54)}
)
TARGETS = ("percent", "frames")
FEATURE_DIM = 64
LAYOUT = (
    "<root>/features/<task>/<Pxx_...>.txt, one row per frame of 64 whitespace-separated floats "
    "(optionally a leading frame-index column)"
)
_PARTICIPANT = re.compile(r"^P(\d+)_")


@dataclass(frozen=True)
class VideoFeatures:
    """One video file: features [T, 64] float32 and frame numbers [T] int64."""

    name: str
    participant: int
    features: np.ndarray
    frames: np.ndarray


@dataclass(frozen=True)
class FrameSet:
    """All frames of a set of videos, concatenated in video order."""

    x: np.ndarray  # float32 [N, 64]
    y: np.ndarray  # float64 [N]
    video: np.ndarray  # int64 [N], index into `names`
    names: tuple[str, ...]


@dataclass(frozen=True)
class BreakfastSplits:
    train: FrameSet
    val: FrameSet
    test: FrameSet


def read_breakfast_video(path: str | Path, skip_first_row: bool = False) -> VideoFeatures:
    """Parse one feature file; 64 columns = features, 65 = frame index + features."""
    path = Path(path)
    match = _PARTICIPANT.match(path.name)
    if match is None:
        raise layout_error("breakfast", LAYOUT, f"{path.name} does not start with Pxx_")
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise layout_error("breakfast", LAYOUT, f"{path} unreadable: {error}") from None
    if skip_first_row:
        values = values[1:]
    if values.shape[0] == 0 or values.shape[1] not in (FEATURE_DIM, FEATURE_DIM + 1):
        raise layout_error(
            "breakfast", LAYOUT, f"{path} has shape {values.shape}, expected [T>0, 64 or 65]"
        )
    if values.shape[1] == FEATURE_DIM + 1:
        frames, features = values[:, 0].astype(np.int64), values[:, 1:]
    else:
        frames, features = np.arange(values.shape[0], dtype=np.int64), values
    return VideoFeatures(path.stem, int(match.group(1)), features.astype(np.float32), frames)


def load_breakfast(
    root: str | Path,
    task: str,
    split: str = "s1",
    target: str = "percent",
    val_fraction: float = 1 / 3,
    seed: int = 0,
    normalize: bool = True,
    skip_first_row: bool = False,
) -> BreakfastSplits:
    """Train / val / test frames of one task under split S1..S4."""
    if task not in TASKS:
        raise ValueError(f"task: must be one of {TASKS}, got {task!r}")
    if split not in TEST_PARTICIPANTS:
        raise ValueError(f"split: must be one of {tuple(TEST_PARTICIPANTS)}, got {split!r}")
    if target not in TARGETS:
        raise ValueError(f"target: must be one of {TARGETS}, got {target!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction}")
    folder = Path(root) / "features" / task
    if not folder.is_dir():
        raise layout_error("breakfast", LAYOUT, f"missing folder: {folder}")
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise layout_error("breakfast", LAYOUT, f"no .txt feature files in {folder}")
    videos = [read_breakfast_video(f, skip_first_row) for f in files]
    low, high = TEST_PARTICIPANTS[split]
    test = [v for v in videos if low <= v.participant <= high]
    train = [v for v in videos if not low <= v.participant <= high]
    if not test or len(train) < 2:
        raise layout_error(
            "breakfast",
            LAYOUT,
            f"{folder}: split {split} needs test videos of P{low:02d}-P{high:02d} and >= 2 "
            f"training videos, found {len(test)} and {len(train)}",
        )
    count = min(max(1, round(len(train) * val_fraction)), len(train) - 1)
    val_ids = set(np.random.default_rng(seed).choice(len(train), size=count, replace=False))
    return BreakfastSplits(
        train=_frames([v for i, v in enumerate(train) if i not in val_ids], target, normalize),
        val=_frames([v for i, v in enumerate(train) if i in val_ids], target, normalize),
        test=_frames(test, target, normalize),
    )


def _frames(videos: list[VideoFeatures], target: str, normalize: bool) -> FrameSet:
    xs, ys, ids = [], [], []
    for i, video in enumerate(videos):
        count = video.features.shape[0]
        xs.append(_zscore(video.features) if normalize else video.features)
        if target == "percent":
            ys.append(100.0 * np.arange(count, dtype=np.float64) / count)
        else:
            ys.append(video.frames.astype(np.float64))
        ids.append(np.full(count, i, dtype=np.int64))
    return FrameSet(
        x=np.concatenate(xs).astype(np.float32),
        y=np.concatenate(ys),
        video=np.concatenate(ids),
        names=tuple(v.name for v in videos),
    )


def _zscore(features: np.ndarray) -> np.ndarray:
    # CTE's f_norm: statistics over the rows that are not all zero; zero rows stay zero.
    out = np.zeros_like(features, dtype=np.float64)
    rows = features.sum(axis=1) != 0
    if rows.any():
        kept = features[rows].astype(np.float64)
        std = kept.std(axis=0)
        out[rows] = (kept - kept.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return out.astype(np.float32)
