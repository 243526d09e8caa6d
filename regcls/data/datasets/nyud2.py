"""NYUD2-DIR depth estimation (Yang et al. 2021), read from Yang et al.'s data layout.

Layout under `<root>`:
- `nyu2_train.csv`: no header, rows `rgb_path,depth_path` (Yang et al.'s training subset);
- `nyu2_test.csv`: the same for the 654 test images;
- `test_balanced_mask.npy`: bool `[n_test, H, W]`, Yang et al.'s balanced test pixels
  (9357 per 0.1 m bin) at their evaluation size 228 x 304;
- the files the CSVs name. Paths are relative to `<root>`; Yang et al.'s CSVs carry a leading
  `data/` component (their loader strips the first component), so a path that is missing as
  written is also tried without its first component.

Depth PNGs follow Yang et al.'s (DenseDepth's) encoding, decoded by PNG mode: 16-bit PNGs
(the test set) hold millimetres (/1000 to metres); 8-bit PNGs (the training set) hold
depth / 10 m * 255 (x 10 / 255 to metres). Depth is capped at 10 m.

The paper's validation split (Section 3.2): 1/5 of the training *scene directories*, drawn with
seed 0; the remaining directories train. Geometry follows Hu et al. / Yang et al. at any
`img_size` (H, W), default (228, 304): scale to (H * 240 / 228, W * 320 / 304), centre-crop to
(H, W); the training depth target is at (H // 2, W // 2) like the network output, evaluation
depth at (H, W) (predictions are upsampled, as in Yang et al.'s test.py).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from regcls.data.datasets import layout_error

SPLITS = ("train", "val", "test")
TRAIN_CSV = "nyu2_train.csv"
TEST_CSV = "nyu2_test.csv"
MASK_NAME = "test_balanced_mask.npy"
MAX_DEPTH = 10.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LAYOUT = (
    "<root>/nyu2_train.csv and <root>/nyu2_test.csv (no header, rows rgb_path,depth_path "
    "relative to <root>), <root>/test_balanced_mask.npy [n_test,H,W] and the listed RGB / "
    "depth PNG files"
)


@dataclass(frozen=True)
class NyuSplit:
    """Resolved (rgb, depth) file pairs of one split; `mask` only for test."""

    rgb: tuple[Path, ...]
    depth: tuple[Path, ...]
    scenes: tuple[str, ...]  # scene directory of each pair
    mask: np.ndarray | None = None  # bool [n, H, W] (test only)


def read_nyud2(
    root: str | Path,
    split: str,
    val_fraction: float = 0.2,
    seed: int = 0,
    check_files: bool = True,
) -> NyuSplit:
    """File pairs of `split`; train / val split the training CSV by scene directory."""
    if split not in SPLITS:
        raise ValueError(f"split: must be one of {SPLITS}, got {split!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: must be in (0, 1), got {val_fraction}")
    root = Path(root)
    rows = _read_pairs(root, TEST_CSV if split == "test" else TRAIN_CSV)
    rgb = [_resolve(root, r, check_files) for r, _ in rows]
    depth = [_resolve(root, d, check_files) for _, d in rows]
    scenes = [_scene(r) for r, _ in rows]
    if split == "test":
        return NyuSplit(tuple(rgb), tuple(depth), tuple(scenes), _read_mask(root, len(rows)))
    val_scenes = validation_scenes(scenes, val_fraction, seed)
    keep = [(s in val_scenes) == (split == "val") for s in scenes]
    return NyuSplit(
        rgb=tuple(p for p, k in zip(rgb, keep, strict=True) if k),
        depth=tuple(p for p, k in zip(depth, keep, strict=True) if k),
        scenes=tuple(s for s, k in zip(scenes, keep, strict=True) if k),
    )


def validation_scenes(scenes: list[str], val_fraction: float = 0.2, seed: int = 0) -> set[str]:
    """Section 3.2: a random 1/5 of the training scene directories, drawn with `seed`.

    Sorted unique directories, then `np.random.default_rng(seed).choice` without replacement of
    round(n * val_fraction) (at least one) of them.
    """
    unique = sorted(set(scenes))
    count = min(max(1, round(len(unique) * val_fraction)), len(unique) - 1)
    if count < 1:
        raise ValueError("scenes: need at least two scene directories to hold one out")
    chosen = np.random.default_rng(seed).choice(len(unique), size=count, replace=False)
    return {unique[i] for i in chosen}


def read_depth_png(path: str | Path) -> np.ndarray:
    """Depth in metres (float32 [H, W]) from a 16-bit mm PNG or an 8-bit (x 10 m / 255) PNG."""
    from PIL import Image

    with Image.open(path) as image:
        mode = image.mode
        values = np.asarray(image)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        metres = values.astype(np.float64) / 1000.0
    elif mode == "L":
        metres = values.astype(np.float64) * (MAX_DEPTH / 255.0)
    else:
        raise layout_error(
            "nyud2_dir", LAYOUT, f"depth PNG {path} has mode {mode!r}, not L or I;16"
        )
    return np.minimum(metres, MAX_DEPTH).astype(np.float32)


class Nyud2Dataset(Dataset):
    """(image [3, H, W], depth [h, w] metres, mask [h, w] bool) triples of one split.

    Training targets are at (H // 2, W // 2); val / test at (H, W). The mask is Yang et al.'s
    balanced-pixel mask for test (resized nearest when (H, W) != the mask's size) and the valid
    (depth > 0) pixels otherwise. `augment` (default: train only) = horizontal flip, rotation
    within +-5 degrees and colour jitter 0.4 (Yang et al.'s set minus the PCA lighting noise).
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        img_size: tuple[int, int] = (228, 304),
        augment: bool | None = None,
        val_fraction: float = 0.2,
        seed: int = 0,
        check_files: bool = True,
    ) -> None:
        height, width = (int(v) for v in img_size)
        if height < 8 or width < 8:
            raise ValueError(f"img_size: both sides must be >= 8, got {img_size}")
        self.split = split
        self.img_size = (height, width)
        self.files = read_nyud2(root, split, val_fraction, seed, check_files)
        self.augment = (split == "train") if augment is None else augment
        self.target_size = (height // 2, width // 2) if split == "train" else (height, width)

    def __len__(self) -> int:
        return len(self.files.rgb)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from PIL import Image
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms import functional as TF

        with Image.open(self.files.rgb[index]) as image:
            rgb = TF.to_tensor(image.convert("RGB"))
        depth = torch.from_numpy(read_depth_png(self.files.depth[index]))[None]
        height, width = self.img_size
        scaled = [round(height * 240 / 228), round(width * 320 / 304)]
        rgb = TF.resize(rgb, scaled, InterpolationMode.BILINEAR, antialias=True)
        depth = TF.resize(depth, scaled, InterpolationMode.NEAREST)
        if self.augment:
            if torch.rand(()) < 0.5:
                rgb, depth = TF.hflip(rgb), TF.hflip(depth)
            angle = float(torch.empty(()).uniform_(-5.0, 5.0))
            rgb = TF.rotate(rgb, angle, InterpolationMode.BILINEAR)
            depth = TF.rotate(depth, angle, InterpolationMode.NEAREST)
        rgb, depth = TF.center_crop(rgb, [height, width]), TF.center_crop(depth, [height, width])
        if self.augment:
            from torchvision.transforms import ColorJitter

            rgb = ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)(rgb)
        rgb = TF.normalize(rgb, IMAGENET_MEAN, IMAGENET_STD)
        depth = TF.resize(depth, list(self.target_size), InterpolationMode.NEAREST)[0]
        if self.files.mask is not None:
            mask = torch.from_numpy(self.files.mask[index])[None].float()
            mask = TF.resize(mask, list(self.target_size), InterpolationMode.NEAREST)[0] > 0.5
        else:
            # Rotation fills corners with depth 0: those pixels carry no target.
            mask = depth > 0
        return rgb, depth, mask


def _read_pairs(root: Path, name: str) -> list[tuple[str, str]]:
    path = root / name
    if not path.is_file():
        raise layout_error("nyud2_dir", LAYOUT, f"missing: {path}")
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if len(row) != 2 or not row[0] or not row[1]:
                raise layout_error(
                    "nyud2_dir", LAYOUT, f"{path} line {line}: expected 2 columns, got {row!r}"
                )
            rows.append((row[0].strip(), row[1].strip()))
    if not rows:
        raise layout_error("nyud2_dir", LAYOUT, f"{path} has no rows")
    return rows


def _resolve(root: Path, rel: str, check: bool) -> Path:
    direct = root / rel
    if direct.is_file():
        return direct
    parts = Path(rel).parts
    stripped = root.joinpath(*parts[1:]) if len(parts) > 1 else direct
    if stripped.is_file():
        return stripped
    if check:
        raise layout_error("nyud2_dir", LAYOUT, f"missing file: {direct}")
    return direct


def _scene(rel: str) -> str:
    # The scene directory is the folder holding the frame, e.g. nyu2_train/living_room_0038_out.
    return Path(rel).parent.as_posix()


def _read_mask(root: Path, count: int) -> np.ndarray:
    path = root / MASK_NAME
    if not path.is_file():
        raise layout_error("nyud2_dir", LAYOUT, f"missing: {path}")
    try:
        mask = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise layout_error("nyud2_dir", LAYOUT, f"{path} unreadable: {error}") from None
    if mask.ndim != 3 or mask.shape[0] != count:
        raise layout_error(
            "nyud2_dir",
            LAYOUT,
            f"{path} has shape {mask.shape}, expected [{count}, H, W] for {count} test rows",
        )
    return mask.astype(bool)
