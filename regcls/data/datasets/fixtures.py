"""Tiny datasets written in exactly the on-disk layouts the loaders read (tests, `smoke` preset).

Targets are imbalanced like the real data (a dense peak and a thin tail), and the inputs carry a
learnable signal (image brightness follows age / depth, the first feature dims follow progress)
so a smoke run can show learning. Every writer is deterministic in `seed` and returns what it
wrote, for round-trip tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regcls.data.datasets.breakfast import TASKS

_BREAKFAST_PARTICIPANTS = (3, 9, 16, 22, 29, 35, 42, 48)  # two per S1..S4 test group


def write_imdb_wiki_fixture(
    root: str | Path,
    counts: tuple[int, int, int] = (60, 16, 16),
    image_size: int = 24,
    seed: int = 0,
) -> dict[str, tuple[list[str], np.ndarray]]:
    """`<root>/imdb_wiki.csv` (age,path,split) + JPEG faces stand-ins; split -> (paths, ages).

    Training ages peak around 30 (imbalanced); val / test ages are uniform over the training
    range (Yang et al.'s balanced evaluation sets). Image brightness grows with age.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    train = np.clip(np.rint(rng.normal(30.0, 6.0, counts[0])), 1, 90)
    train[: max(1, counts[0] // 10)] = rng.integers(45, 90, max(1, counts[0] // 10))
    low, high = int(train.min()), int(train.max())
    ages = {
        "train": train,
        "val": rng.integers(low, high + 1, counts[1]).astype(np.float64),
        "test": rng.integers(low, high + 1, counts[2]).astype(np.float64),
    }
    lines = ["age,path,split"]
    written: dict[str, tuple[list[str], np.ndarray]] = {}
    for split, values in ages.items():
        paths = []
        for i, age in enumerate(values):
            rel = f"imdb_crop/{i % 3:02d}/{split}_{i:05d}_age{int(age)}.jpg"
            pixels = np.clip(
                age / 100.0 * 255 + rng.normal(0, 12, (image_size, image_size, 3)), 0, 255
            )
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels.astype(np.uint8), "RGB").save(root / rel, quality=95)
            lines.append(f"{int(age)},{rel},{split}")
            paths.append(rel)
        written[split] = (paths, values.astype(np.float64))
    (root / "imdb_wiki.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


def write_nyud2_fixture(
    root: str | Path,
    scenes: int = 5,
    frames_per_scene: int = 3,
    test_images: int = 4,
    image_size: tuple[int, int] = (48, 64),
    mask_size: tuple[int, int] = (24, 32),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Yang et al.'s NYUD2-DIR layout; returns depth (metres) written per CSV depth path.

    CSV paths carry Yang et al.'s leading `data/` component. Training depth is 8-bit
    (value * 10 / 255 m), test depth 16-bit millimetres. Depth is imbalanced (most pixels at
    1-4 m, a thin tail to 10 m); brightness falls with depth.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    height, width = image_size
    written: dict[str, np.ndarray] = {}

    def depth_map() -> np.ndarray:
        base = rng.gamma(4.0, 0.6) + np.linspace(0.0, 1.5, width)[None, :]
        metres = base + rng.exponential(0.3, (height, width))
        return np.clip(metres, 0.5, 9.9)

    def save_rgb(path: Path, metres: np.ndarray) -> None:
        gray = 255.0 * (1.0 - metres / 10.0)
        pixels = np.clip(gray[..., None] + rng.normal(0, 8, (height, width, 3)), 0, 255)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.astype(np.uint8), "RGB").save(path)

    train_rows = []
    for s in range(scenes):
        scene = f"data/nyu2_train/{['bedroom', 'kitchen', 'office'][s % 3]}_{s:04d}_out"
        for f in range(frames_per_scene):
            metres = depth_map()
            code = np.rint(metres / 10.0 * 255.0).astype(np.uint8)
            rgb, dep = f"{scene}/{f + 1}.jpg", f"{scene}/{f + 1}.png"
            save_rgb(root / Path(rgb).relative_to("data"), metres)
            Image.fromarray(code, "L").save(root / Path(dep).relative_to("data"))
            written[dep] = (code.astype(np.float64) * 10.0 / 255.0).astype(np.float32)
            train_rows.append(f"{rgb},{dep}")
    test_rows = []
    for t in range(test_images):
        metres = depth_map()
        millimetres = np.rint(metres * 1000.0).astype(np.uint16)
        rgb, dep = f"data/nyu2_test/{t:05d}_colors.png", f"data/nyu2_test/{t:05d}_depth.png"
        save_rgb(root / Path(rgb).relative_to("data"), metres)
        Image.fromarray(millimetres).save(root / Path(dep).relative_to("data"))
        written[dep] = (millimetres.astype(np.float64) / 1000.0).astype(np.float32)
        test_rows.append(f"{rgb},{dep}")
    (root / "nyu2_train.csv").write_text("\n".join(train_rows) + "\n", encoding="utf-8")
    (root / "nyu2_test.csv").write_text("\n".join(test_rows) + "\n", encoding="utf-8")
    mask = rng.random((test_images, *mask_size)) < 0.5
    np.save(root / "test_balanced_mask.npy", mask)
    return written


def write_breakfast_fixture(
    root: str | Path,
    tasks: tuple[str, ...] = TASKS,
    participants: tuple[int, ...] = _BREAKFAST_PARTICIPANTS,
    with_index: bool = True,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """`<root>/features/<task>/Pxx_cam01_Pxx_<task>.txt`; task -> video -> written rows.

    Rows are `frame_index` + 64 floats (`with_index`) or the 64 floats alone. Video lengths are
    imbalanced (mostly short, a few long); the first four dims follow relative time.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    written: dict[str, dict[str, np.ndarray]] = {}
    for task in tasks:
        folder = root / "features" / task
        folder.mkdir(parents=True, exist_ok=True)
        written[task] = {}
        for p in participants:
            count = int(np.clip(rng.lognormal(3.6, 0.6), 12, 240))
            progress = np.arange(count) / count
            features = rng.normal(0.0, 1.0, (count, 64))
            features[:, :4] += 3.0 * progress[:, None]
            rows = np.column_stack([np.arange(count), features]) if with_index else features
            name = f"P{p:02d}_cam01_P{p:02d}_{task}"
            np.savetxt(folder / f"{name}.txt", rows, fmt="%.17g")
            written[task][name] = rows
    return written


def write_all_fixtures(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """All three image / video fixtures under `root` (STS-B-DIR ships with the package)."""
    root = Path(root)
    paths = {name: root / name for name in ("imdb_wiki", "nyud2", "breakfast")}
    write_imdb_wiki_fixture(paths["imdb_wiki"], seed=seed)
    write_nyud2_fixture(paths["nyud2"], seed=seed)
    write_breakfast_fixture(paths["breakfast"], seed=seed)
    return paths
