"""Presets of the IMDB-WIKI-DIR age study (core paper Section 3.2, Tables 3 and 4).

Paper: ResNet-50 from scratch (Yang et al.), Adam lr 1e-3, 90 epochs, batch 128; reg+cls adds a
linear head [F, C] during training only; C in {2, 10, 100} with lambda 1.0 for 2 and 10 classes
and 0.1 for 100; 3 seeds; both class modes; the Table 4 control (data re-balanced over 100 bins,
lr 1e-4, batch 128). Choices the paper leaves open, each a field recorded in the rows:
`reg_loss` "l1" (Table 3 says "reg (MAE)", Yang et al.'s default; the text says MSE) and
`balanced_data_reg_loss` "mse" (Table 4 says "reg (MSE)"); `model_selection` "best_val" (Yang
et al.'s code keeps the best validation epoch); shots over 1-year bins.
"""

from __future__ import annotations

from search_spaces.real_data import ImagePreset

STUDY = "imdb_wiki_dir"
PAPER_CLASS_LAMBDAS = ((2, 1.0), (10, 1.0), (100, 0.1))

PRESETS: dict[str, ImagePreset] = {
    "paper": ImagePreset(name="paper", seeds=(0, 1, 2), class_lambdas=PAPER_CLASS_LAMBDAS),
    "quick": ImagePreset(
        name="quick",
        seeds=(0,),
        class_lambdas=((10, 1.0), (100, 0.1)),
        img_size=112,
        epochs=10,
        train_subset=20_000,
        loader_workers=2,
    ),
    "smoke": ImagePreset(
        name="smoke",
        seeds=(0,),
        class_lambdas=((10, 1.0),),
        backbone="resnet18",
        img_size=32,
        epochs=1,
        batch_size=16,
        balanced_data_classes=10,
        balanced_data_batch_size=16,
    ),
}
