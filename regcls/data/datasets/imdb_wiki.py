"""IMDB-WIKI-DIR age estimation (Yang et al. 2021), read from Yang et al.'s split file.

Layout: `<root>/imdb_wiki.csv` with (at least) the columns `age,path,split`, `split` one of
train / val / test, and every image at `<root>/<path>`. Transforms follow Yang et al.'s code:
train = resize to `img_size`, RandomCrop(`img_size`, padding `img_size // 14`, 16 at 224),
horizontal flip, normalise mean = std = 0.5; eval = resize + normalise.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from regcls.data.datasets import layout_error

SPLITS = ("train", "val", "test")
CSV_NAME = "imdb_wiki.csv"
COLUMNS = ("age", "path", "split")
LAYOUT = (
    "<root>/imdb_wiki.csv with columns age,path,split (split in train/val/test) "
    "and images under <root>/<path>"
)


@dataclass(frozen=True)
class AgeRecords:
    """One split of the CSV: image paths relative to the root, ages in years."""

    paths: tuple[str, ...]
    ages: np.ndarray  # float64 [N]


def read_imdb_wiki(root: str | Path, split: str, check_images: bool = True) -> AgeRecords:
    """Rows of `split` from `<root>/imdb_wiki.csv`; raises DatasetLayoutError on a bad layout.

    Every row's split is validated (not only the requested one) so a typo anywhere is caught.
    `check_images` stats every image of the split (about a second for the 191.5K training rows).
    """
    if split not in SPLITS:
        raise ValueError(f"split: must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    csv_path = root / CSV_NAME
    if not csv_path.is_file():
        raise layout_error("imdb_wiki_dir", LAYOUT, f"missing: {csv_path}")
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise layout_error(
                "imdb_wiki_dir", LAYOUT, f"missing column(s) {','.join(missing)} in {csv_path}"
            )
        paths, ages = [], []
        for line, row in enumerate(reader, start=2):
            if row["split"] not in SPLITS:
                raise layout_error(
                    "imdb_wiki_dir",
                    LAYOUT,
                    f"{csv_path} line {line}: split {row['split']!r} is not one of train/val/test",
                )
            try:
                age = float(row["age"])
            except (TypeError, ValueError):
                raise layout_error(
                    "imdb_wiki_dir", LAYOUT, f"{csv_path} line {line}: age {row['age']!r}"
                ) from None
            if row["split"] == split:
                paths.append(row["path"])
                ages.append(age)
    if check_images:
        for rel in paths:
            if not (root / rel).is_file():
                raise layout_error("imdb_wiki_dir", LAYOUT, f"missing image: {root / rel}")
    return AgeRecords(paths=tuple(paths), ages=np.asarray(ages, dtype=np.float64))


def imdb_wiki_transform(img_size: int, train: bool) -> Callable:
    """Yang et al.'s age transforms: PIL RGB image -> float tensor [3, img_size, img_size]."""
    from torchvision import transforms

    steps: list = [transforms.Resize((img_size, img_size))]
    if train:
        steps += [
            transforms.RandomCrop(img_size, padding=max(img_size // 14, 1)),
            transforms.RandomHorizontalFlip(),
        ]
    steps += [transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)]
    return transforms.Compose(steps)


class ImdbWikiDataset(Dataset):
    """(image [3, S, S] float32, age float32 scalar) pairs of one split.

    `augment` defaults to True for the train split only.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        img_size: int = 224,
        augment: bool | None = None,
        check_images: bool = True,
    ) -> None:
        if img_size < 8:
            raise ValueError(f"img_size: must be >= 8, got {img_size}")
        self.root = Path(root)
        self.records = read_imdb_wiki(self.root, split, check_images=check_images)
        self.transform = imdb_wiki_transform(
            img_size, train=(split == "train") if augment is None else augment
        )

    @property
    def targets(self) -> np.ndarray:
        """Ages of every sample, in dataset order (for binning and shot counts)."""
        return self.records.ages

    def __len__(self) -> int:
        return len(self.records.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        with Image.open(self.root / self.records.paths[index]) as image:
            x = self.transform(image.convert("RGB"))
        return x, torch.tensor(self.records.ages[index], dtype=torch.float32)
