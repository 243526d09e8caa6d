"""Presets of the NYUD2-DIR depth study (core paper Section 3.2, Tables 2 and 4).

Paper: Hu et al.'s ResNet-50 encoder-decoder with a per-pixel class head (Mask R-CNN's mask
head); Adam lr 1e-4, 5 epochs, batch 16 accumulated over 2; validation = 1/5 of the training
directories (seed 0); the best epoch on validation is tested; C in {2, 10, 100} with lambda 1.0
for 100 classes and 0.1 for 10 and 2; 3 seeds; the Table 4 control with batch 8 accumulated
over 4. `img_size` is the input height; the width keeps Yang et al.'s 228 x 304 aspect.
Shots: Yang et al.'s evaluation hard-codes which 0.1 m depth bins are many / medium-shot
(`SHOT_BINS`, from their training pixel histogram); every other bin is few-shot.
"""

from __future__ import annotations

from search_spaces.real_data import ImagePreset

STUDY = "nyud2_dir"
PAPER_CLASS_LAMBDAS = ((2, 0.1), (10, 0.1), (100, 1.0))
# Yang et al.'s NYUD2-DIR evaluation: depth bin min(int(10 d), 99) -> shot.
SHOT_BINS = {
    "many": (*range(9, 46), 47, 49),
    "medium": (7, 8, 46, 48, 50, 51, 52, 53, 54, 55, 56, 58, 60, 61, 63),
}
ASPECT = 304 / 228

_NYU = {
    "lr": 1e-4,
    "epochs": 5,
    "batch_size": 16,
    "grad_accumulation": 2,
    "reg_loss": "mse",
    "shot_bin_width": 0.1,
    "img_size": 228,
    "balanced_data_lam": 1.0,
    "balanced_data_batch_size": 8,
    "balanced_data_accumulation": 4,
}

PRESETS: dict[str, ImagePreset] = {
    "paper": ImagePreset(name="paper", seeds=(0, 1, 2), class_lambdas=PAPER_CLASS_LAMBDAS, **_NYU),
    "quick": ImagePreset(
        name="quick",
        seeds=(0,),
        class_lambdas=((10, 0.1), (100, 1.0)),
        train_subset=5_000,
        loader_workers=2,
        **{**_NYU, "epochs": 2, "img_size": 114},
    ),
    "smoke": ImagePreset(
        name="smoke",
        seeds=(0,),
        class_lambdas=((10, 0.1),),
        backbone="resnet18",
        balanced_data_classes=10,
        **{
            **_NYU,
            "epochs": 1,
            "img_size": 32,
            "batch_size": 4,
            "balanced_data_batch_size": 4,
            "balanced_data_accumulation": 2,
        },
    ),
}


def image_shape(img_size: int) -> tuple[int, int]:
    """(height, width) of the network input for a preset's `img_size` (the height)."""
    return img_size, round(img_size * ASPECT)
