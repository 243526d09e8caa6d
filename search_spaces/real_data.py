"""Shared preset pieces of the real-data (DIR) studies: variants, checks and overrides.

Each study module (`imdb_wiki_dir`, `nyud2_dir`, `breakfast`, `stsb_dir`) declares a frozen preset
dataclass and its `smoke` / `quick` / `paper` presets; the helpers here keep their validation and
`--space` overrides identical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TypeVar

# reg+cls with imbalanced classes, and with balanced classes (Eq. 12-13).
CLASS_MODES = ("imbalanced", "balanced")
VARIANT_OF_MODE = {"imbalanced": "reg+cls", "balanced": "reg+cls-balanced"}
MODEL_SELECTIONS = ("best_val", "final")
REG_LOSSES = ("mse", "l1")
EQUALIZE_ROUNDINGS = ("floor", "ceil")

P = TypeVar("P")


def with_overrides(preset: P, overrides: dict[str, object]) -> P:
    """A copy of `preset` with some fields replaced (JSON lists become tuples, recursively)."""
    known = {f.name for f in fields(preset)} - {"name"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"search space: unknown field(s) {', '.join(unknown)}; "
            f"accepted fields: {', '.join(sorted(known))}"
        )
    return replace(preset, **{k: _tupled(v) for k, v in overrides.items()})


def check_nonempty(preset: object, *names: str) -> None:
    for name in names:
        if len(getattr(preset, name)) == 0:
            raise ValueError(f"{name}: the grid is empty; give at least one value")


def check_subset(name: str, values: tuple, accepted: tuple) -> None:
    bad = [v for v in values if v not in accepted]
    if bad:
        raise ValueError(
            f"{name}: unknown value(s) {bad}; accepted values: {', '.join(map(str, accepted))}"
        )


def check_choice(name: str, value: object, accepted: tuple) -> None:
    if value not in accepted:
        raise ValueError(f"{name}: got {value!r}; accepted values: {', '.join(map(str, accepted))}")


def check_all(name: str, values: tuple, ok: Callable[[object], bool], accepted: str) -> None:
    bad = [v for v in values if not (isinstance(v, int | float) and ok(v))]
    if bad:
        raise ValueError(f"{name}: out-of-range value(s) {bad}; accepted: {accepted}")


def check_positive(preset: object, *names: str) -> None:
    for name in names:
        value = getattr(preset, name)
        if not (isinstance(value, int | float) and value > 0):
            raise ValueError(f"{name}: must be > 0, got {value!r}")


def check_class_lambdas(name: str, pairs: tuple) -> None:
    """(C, lambda) pairs: C an integer >= 2, lambda > 0."""
    if not pairs:
        raise ValueError(f"{name}: the grid is empty; give at least one [C, lambda] pair")
    for pair in pairs:
        ok = (
            isinstance(pair, tuple)
            and len(pair) == 2
            and isinstance(pair[0], int)
            and pair[0] >= 2
            and isinstance(pair[1], int | float)
            and pair[1] > 0
        )
        if not ok:
            raise ValueError(f"{name}: bad pair {pair!r}; accepted: [C >= 2, lambda > 0]")


def _tupled(value: object) -> object:
    if isinstance(value, list | tuple):
        return tuple(_tupled(v) for v in value)
    return value


BACKBONES = ("resnet50", "resnet18")


@dataclass(frozen=True)
class ImagePreset:
    """One size of an image DIR study (IMDB-WIKI-DIR or NYUD2-DIR; core paper Section 3.2).

    `class_lambdas`: the (C, lambda) pairs of reg+cls (the paper fixes lambda per C; give several
    pairs with one C for a lambda sweep). `balanced_data`: also run Table 4's control, where
    both losses see batches re-balanced over `balanced_data_classes` target bins (Eq. 12-13),
    with its own learning rate, batch and accumulation (the paper changed them there).
    `train_subset`: train on a random subset of that many images (seed 0), None = all.
    Every field is recorded in the study config, the settings below in every row.
    """

    name: str
    seeds: tuple[int, ...]
    class_lambdas: tuple[tuple[int, float], ...]
    class_modes: tuple[str, ...] = CLASS_MODES
    backbone: str = "resnet50"
    img_size: int = 224
    epochs: int = 90
    lr: float = 1e-3
    batch_size: int = 128
    grad_accumulation: int = 1
    weight_decay: float = 0.0
    reg_loss: str = "l1"
    model_selection: str = "best_val"
    shot_bin_width: float = 1.0
    equalize_rounding: str = "floor"
    balanced_data: bool = True
    balanced_data_classes: int = 100
    balanced_data_lam: float = 0.1
    balanced_data_lr: float = 1e-4
    balanced_data_batch_size: int = 128
    balanced_data_accumulation: int = 1
    balanced_data_reg_loss: str = "mse"
    train_subset: int | None = None
    loader_workers: int = 0

    def __post_init__(self) -> None:
        check_nonempty(self, "seeds", "class_modes")
        check_class_lambdas("class_lambdas", self.class_lambdas)
        check_subset("class_modes", self.class_modes, CLASS_MODES)
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("reg_loss", self.reg_loss, REG_LOSSES)
        check_choice("balanced_data_reg_loss", self.balanced_data_reg_loss, REG_LOSSES)
        check_choice("model_selection", self.model_selection, MODEL_SELECTIONS)
        check_choice("equalize_rounding", self.equalize_rounding, EQUALIZE_ROUNDINGS)
        check_positive(
            self,
            "epochs",
            "lr",
            "batch_size",
            "grad_accumulation",
            "shot_bin_width",
            "balanced_data_lam",
            "balanced_data_lr",
            "balanced_data_batch_size",
            "balanced_data_accumulation",
        )
        if self.img_size < 16:
            raise ValueError(f"img_size: must be >= 16, got {self.img_size}")
        if self.balanced_data_classes < 2:
            raise ValueError(
                f"balanced_data_classes: must be >= 2, got {self.balanced_data_classes}"
            )
        if self.train_subset is not None and self.train_subset < 2:
            raise ValueError(f"train_subset: must be >= 2 or null, got {self.train_subset}")
        if self.loader_workers < 0:
            raise ValueError(f"loader_workers: must be >= 0, got {self.loader_workers}")

    def with_overrides(self, overrides: dict[str, object]) -> ImagePreset:
        return with_overrides(self, overrides)
