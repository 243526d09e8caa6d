"""Presets of the STS-B-DIR sentence-similarity study (our extension of the core paper).

Sentences are encoded once by a frozen sentence encoder (`encoder`, default all-MiniLM-L6-v2,
bundled offline); MLP heads on the pair features [u, v, |u - v|, u * v] are trained with reg,
reg+cls and reg+cls with balanced classes (Eq. 12-13) across C x lambda x seeds, and the
controls reg-scaled (lambda * MSE, no class head) and cls-only (CE only), packed: one
Tune trial trains one grid point across its seeds on the shared feature tensor. Metrics: MSE
and Pearson, overall and per shot over Yang et al.'s 0.1-wide bins. `subset`: encode and train
on a seeded random subset of (train, val, test) pairs (the smoke preset; null = all).
`model_selection` "best_val": each model's test predictions are kept from its best validation
epoch (cheap here: one forward pass of 2,000 pairs per epoch), "final": the last epoch.
`cache_dir`: the feature cache (null: `<out>/features`), so studies can share one encoding.
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

STUDY = "stsb_dir"
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
# Controls of "why does it help?" trained beside reg+cls (see study/variants.py): reg-scaled at
# every lambda, cls-only at every C. (reg-tuned, a weight-decay sweep, is 1D-only for now.)
CONTROLS = ("reg-scaled", "cls-only")


@dataclass(frozen=True)
class StsbPreset:
    """One size of the STS-B-DIR study; every field is recorded in the study config."""

    name: str
    seeds: tuple[int, ...]
    class_counts: tuple[int, ...]
    lambdas: tuple[float, ...]
    class_modes: tuple[str, ...] = CLASS_MODES
    hidden: tuple[int, ...] = (128,)
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    dtype: str = "float32"
    encoder: str = DEFAULT_ENCODER
    model_selection: str = "best_val"
    shot_bin_width: float = 0.1
    equalize_rounding: str = "floor"
    subset: tuple[int, int, int] | None = None
    cache_dir: str | None = None  # where encoded features are kept; null = <out>/features
    controls: tuple[str, ...] = CONTROLS

    def __post_init__(self) -> None:
        check_nonempty(self, "seeds", "class_counts", "lambdas", "class_modes", "hidden")
        check_subset("class_modes", self.class_modes, CLASS_MODES)
        check_subset("controls", self.controls, CONTROLS)
        check_all("class_counts", self.class_counts, lambda v: v >= 2, "integers >= 2")
        check_all("lambdas", self.lambdas, lambda v: v > 0, "values > 0")
        check_all("hidden", self.hidden, lambda v: v >= 1, "widths >= 1")
        check_choice("model_selection", self.model_selection, MODEL_SELECTIONS)
        check_choice("equalize_rounding", self.equalize_rounding, EQUALIZE_ROUNDINGS)
        check_choice("dtype", self.dtype, ("float32", "float64"))
        check_positive(self, "epochs", "batch_size", "lr", "shot_bin_width")
        if not self.encoder:
            raise ValueError("encoder: give a sentence-transformers model name or directory")
        if self.subset is not None and (
            len(self.subset) != 3 or any(not isinstance(n, int) or n < 2 for n in self.subset)
        ):
            raise ValueError(
                f"subset: [train, val, test] pair counts >= 2 or null, got {self.subset}"
            )

    def with_overrides(self, overrides: dict[str, object]) -> StsbPreset:
        return with_overrides(self, overrides)


PRESETS: dict[str, StsbPreset] = {
    "paper": StsbPreset(
        name="paper",
        seeds=(0, 1, 2, 3, 4),
        class_counts=(2, 10, 50, 100),
        lambdas=(0.01, 0.1, 1.0, 10.0, 100.0),
        hidden=(256,),
        epochs=40,
    ),
    "quick": StsbPreset(
        name="quick",
        seeds=(0, 1, 2),
        class_counts=(2, 10, 100),
        lambdas=(0.1, 1.0, 10.0),
    ),
    "smoke": StsbPreset(
        name="smoke",
        seeds=(0, 1),
        class_counts=(10,),
        lambdas=(1.0,),
        hidden=(32,),
        epochs=3,
        batch_size=32,
        subset=(160, 60, 60),
    ),
}
