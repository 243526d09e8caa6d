"""IMDB-WIKI-DIR and NYUD2-DIR: train one image model per seed and turn it into results rows.

The body of the image trials, free of Ray: datasets from `regcls.data.datasets`, models from
`regcls.models.vision`, training (Eq. 4, balanced classes Eq. 12-13, the Table 4 control, best epoch
on validation, mixed precision on CUDA) from `regcls.training.epochs`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from regcls.data.binning import make_binning
from regcls.data.datasets.imdb_wiki import ImdbWikiDataset, read_imdb_wiki
from regcls.data.datasets.nyud2 import Nyud2Dataset, read_depth_png, read_nyud2
from regcls.evaluation.dir_metrics import bin_counts
from regcls.models.vision import DepthEncoderDecoder, ResNetRegressor
from regcls.training.epochs import train_epochs
from search_spaces.nyud2_dir import SHOT_BINS, image_shape
from study.class_tasks import class_binning
from study.dir.epochs import epoch_model_row, epoch_settings
from study.dir.spec import DirSpec

# (epoch, that epoch's history row) -> True to stop; the Tune trainable reports from here.
EpochHook = Callable[[int, dict[str, float]], bool | None]
# Depth maps read to fit NYUD2's class edges and Eq. 13 keep probabilities, and the pixel stride
# within each: the 50K training maps hold ~15G pixels, a strided sample has the same histogram.
DEPTH_SAMPLE_MAPS = 2_000
DEPTH_SAMPLE_STRIDE = 8


def train_image_trial(spec: DirSpec, device: str, on_epoch: EpochHook | None = None) -> list[dict]:
    """Train `spec`'s model once per seed; one results row per model."""
    data = _ImageData(spec)
    return [_train_seed(spec, data, seed, device, on_epoch) for seed in spec.seeds]


def training_size(dataset: str, root: str | Path) -> tuple[int, int]:
    """(training, validation + test) sample counts, read from the split files only."""
    if dataset == "imdb_wiki_dir":
        sizes = [len(read_imdb_wiki(root, s, check_images=False).ages) for s in SPLITS]
    else:
        sizes = [len(read_nyud2(root, s, check_files=False).rgb) for s in SPLITS]
    return sizes[0], sizes[1] + sizes[2]


def seconds_per_sample(spec: DirSpec, threads: int) -> float:
    """Training seconds per image on this CPU, from one timed forward + backward step."""
    torch.set_num_threads(max(1, threads))
    model = _model(spec, spec.num_classes or 0)
    batch = min(spec.batch_size, 8)
    height, width = _shape(spec)
    x = torch.randn(batch, 3, height, width)
    timings = []
    for _ in range(3):  # the first step pays for allocation and kernel selection
        started = time.perf_counter()
        pred, logits = model(x)
        loss = pred.float().mean() + (logits.float().mean() if logits is not None else 0)
        loss.backward()
        timings.append(time.perf_counter() - started)
    return min(timings[1:]) / batch


SPLITS = ("train", "val", "test")


class _ImageData:
    """The three splits of one dataset, their training targets and shot counts."""

    def __init__(self, spec: DirSpec) -> None:
        self.depth = spec.dataset == "nyud2_dir"
        root = spec.data_root
        if self.depth:
            shape = image_shape(int(spec.img_size))
            self.splits: dict[str, Dataset] = {s: Nyud2Dataset(root, s, shape) for s in SPLITS}
        else:
            self.splits = {s: ImdbWikiDataset(root, s, int(spec.img_size)) for s in SPLITS}
        train = self.splits["train"]
        rows = np.arange(len(train))
        subset = spec.setting("train_subset")
        if subset is not None and subset < len(train):
            rows = np.sort(np.random.default_rng(0).choice(len(train), subset, replace=False))
            self.splits["train"] = Subset(train, rows.tolist())
        if self.depth:
            self.y_train = _depth_sample([train.files.depth[i] for i in rows])
            self.train_counts = _nyud2_shot_counts()
        else:
            self.y_train = train.targets[rows]
            self.train_counts = bin_counts(self.y_train, spec.shot_bin_width)


def _train_seed(
    spec: DirSpec, data: _ImageData, seed: int, device: str, on_epoch: EpochHook | None
) -> dict:
    started = time.perf_counter()
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    binning = class_binning(spec, data.y_train)
    balance = (
        make_binning(
            data.y_train,
            int(spec.setting("balanced_data_classes", 100)),
            balanced=True,
            rounding=spec.equalize_rounding,
        )
        if spec.stage == "balanced_data"
        else None
    )
    model = _model(spec, 0 if binning is None else binning.num_classes)
    workers = int(spec.setting("loader_workers", 0))
    loaders = {
        split: DataLoader(
            dataset,
            batch_size=spec.batch_size,
            shuffle=split == "train",
            num_workers=workers,
            generator=torch.Generator().manual_seed(seed),
            pin_memory=device.startswith("cuda"),
        )
        for split, dataset in data.splits.items()
    }
    # Yang et al. keep the best validation epoch by the training loss's own metric.
    select = "rmse" if data.depth else ("mae" if spec.reg_loss == "l1" else "mse")
    result = train_epochs(
        model,
        loaders["train"],
        loaders["val"],
        epoch_settings(spec, seed, select),
        binning,
        balance,
        device,
        on_epoch,
    )
    return epoch_model_row(
        spec,
        seed,
        model,
        result,
        loaders,
        data.train_counts,
        binning,
        started=started,
        device=device,
        delta=data.depth,
    )


def _model(spec: DirSpec, num_classes: int) -> torch.nn.Module:
    depth = 50 if spec.backbone == "resnet50" else 18
    if spec.dataset == "nyud2_dir":
        return DepthEncoderDecoder(depth=depth, num_classes=num_classes)
    return ResNetRegressor(depth=depth, num_classes=num_classes)


def _shape(spec: DirSpec) -> tuple[int, int]:
    size = int(spec.img_size)
    return image_shape(size) if spec.dataset == "nyud2_dir" else (size, size)


def _depth_sample(files: list[Path]) -> np.ndarray:
    """Valid training depths (metres): evenly spaced maps, every DEPTH_SAMPLE_STRIDE-th pixel."""
    step = max(1, len(files) // DEPTH_SAMPLE_MAPS)
    values = []
    for path in files[::step]:
        depth = read_depth_png(path)[::DEPTH_SAMPLE_STRIDE, ::DEPTH_SAMPLE_STRIDE].ravel()
        values.append(depth[depth > 0])
    return np.concatenate(values).astype(np.float64)


def _nyud2_shot_counts() -> np.ndarray:
    """Stand-in training counts that reproduce Yang et al.'s hard-coded NYUD2 shot bins."""
    counts = np.ones(100, dtype=np.int64)  # few-shot (< 20)
    counts[list(SHOT_BINS["medium"])] = 50
    counts[list(SHOT_BINS["many"])] = 101
    return counts
