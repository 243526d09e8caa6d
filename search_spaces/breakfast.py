"""Presets of the Breakfast video-progress study (core paper Section 3.3, Table 5).

Paper: one MLP per cooking task on 64-d IDT features (Kukleva et al.'s, with ReLU instead of
sigmoid), 3 linear layers; Adam lr 1e-3, 40 epochs, lr x 0.1 after epoch 30; splits S1-S4;
targets progress % and frame number; reg+cls with 100 classes, lambda 100 (percent) and 10
(frames); validation = 1/3 of the training videos (seed 0); mean +- std of RMSE over the 10 tasks.
Open choices (fields): `hidden` (40, 20) = Kukleva et al.'s widths (embed_dim 20: 64 -> 40 ->
20 -> 1); `batch_size` 256 (theirs); `model_selection` "final" (fixed schedule, validation only
chooses lambda); `seeds`; shot bins of 1 % and 100 frames (only overall RMSE is published).
"""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces.real_data import (
    CLASS_MODES,
    EQUALIZE_ROUNDINGS,
    MODEL_SELECTIONS,
    check_all,
    check_choice,
    check_nonempty,
    check_positive,
    check_subset,
    with_overrides,
)

STUDY = "breakfast"
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
SPLITS = ("s1", "s2", "s3", "s4")
TARGETS = ("percent", "frames")
# The row's `target` column for each loader target.
TARGET_NAMES = {"percent": "progress_pct", "frames": "frames"}


@dataclass(frozen=True)
class BreakfastPreset:
    """One size of the Breakfast study; every field is recorded in the study config."""

    name: str
    seeds: tuple[int, ...]
    tasks: tuple[str, ...] = TASKS
    splits: tuple[str, ...] = SPLITS
    targets: tuple[str, ...] = TARGETS
    class_counts: tuple[int, ...] = (100,)
    lambdas: tuple[tuple[str, float], ...] = (("percent", 100.0), ("frames", 10.0))
    class_modes: tuple[str, ...] = CLASS_MODES
    hidden: tuple[int, ...] = (40, 20)
    epochs: int = 40
    lr: float = 1e-3
    lr_milestones: tuple[int, ...] = (30,)
    batch_size: int = 256
    weight_decay: float = 0.0
    model_selection: str = "final"
    shot_bin_widths: tuple[tuple[str, float], ...] = (("percent", 1.0), ("frames", 100.0))
    val_fraction: float = 1 / 3
    skip_first_row: bool = False
    equalize_rounding: str = "floor"

    def __post_init__(self) -> None:
        check_nonempty(self, "seeds", "tasks", "splits", "targets", "class_counts", "class_modes")
        check_subset("tasks", self.tasks, TASKS)
        check_subset("splits", self.splits, SPLITS)
        check_subset("targets", self.targets, TARGETS)
        check_subset("class_modes", self.class_modes, CLASS_MODES)
        check_all("class_counts", self.class_counts, lambda v: v >= 2, "integers >= 2")
        check_all("hidden", self.hidden, lambda v: v >= 1, "widths >= 1")
        check_choice("model_selection", self.model_selection, MODEL_SELECTIONS)
        check_choice("equalize_rounding", self.equalize_rounding, EQUALIZE_ROUNDINGS)
        check_positive(self, "epochs", "lr", "batch_size")
        for name in ("lambdas", "shot_bin_widths"):
            given = dict(getattr(self, name))
            missing = [t for t in self.targets if not given.get(t, 0) > 0]
            if missing:
                raise ValueError(f"{name}: need a value > 0 for target(s) {missing}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction: must be in (0, 1), got {self.val_fraction}")

    def with_overrides(self, overrides: dict[str, object]) -> BreakfastPreset:
        return with_overrides(self, overrides)


PRESETS: dict[str, BreakfastPreset] = {
    "paper": BreakfastPreset(name="paper", seeds=(0, 1, 2)),
    "quick": BreakfastPreset(
        name="quick", seeds=(0,), splits=("s1",), epochs=20, lr_milestones=(15,)
    ),
    "smoke": BreakfastPreset(
        name="smoke",
        seeds=(0,),
        tasks=("coffee",),
        splits=("s1",),
        class_counts=(10,),
        epochs=2,
        lr_milestones=(1,),
        batch_size=32,
    ),
}
