"""Loaders read exactly what the fixtures write; a malformed layout raises one clear line."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from regcls.data.datasets import DatasetLayoutError
from regcls.data.datasets.breakfast import load_breakfast, read_breakfast_video
from regcls.data.datasets.fixtures import (
    write_breakfast_fixture,
    write_imdb_wiki_fixture,
    write_nyud2_fixture,
)
from regcls.data.datasets.imdb_wiki import ImdbWikiDataset, read_imdb_wiki
from regcls.data.datasets.nyud2 import Nyud2Dataset, read_depth_png, read_nyud2, validation_scenes
from regcls.data.datasets.stsb import load_stsb_dir, shipped_root
from regcls.models import text_encoder
from regcls.models.text_encoder import cache_path, encode_pairs, pair_features, resolve_model


def _one_line(error: pytest.ExceptionInfo, start: str) -> str:
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(start), text
    return text


@pytest.fixture(scope="module")
def imdb_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("imdb")
    return root, write_imdb_wiki_fixture(root)


@pytest.fixture(scope="module")
def nyu_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("nyu")
    return root, write_nyud2_fixture(root)


@pytest.fixture(scope="module")
def breakfast_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("breakfast")
    return root, write_breakfast_fixture(root, tasks=("coffee", "tea"))


# ---------------------------------------------------------------- IMDB-WIKI-DIR


def test_imdb_round_trip(imdb_root):
    root, written = imdb_root
    for split, (paths, ages) in written.items():
        records = read_imdb_wiki(root, split)
        assert records.paths == tuple(paths)
        np.testing.assert_array_equal(records.ages, ages)
    train = written["train"][1]
    counts = np.bincount(train.astype(int))
    assert counts.max() >= 5 and (counts[counts > 0] == 1).any()  # imbalanced


def test_imdb_eval_item_is_normalised_image(imdb_root):
    from PIL import Image

    root, written = imdb_root
    data = ImdbWikiDataset(root, "test", img_size=24)
    x, age = data[3]
    with Image.open(root / written["test"][0][3]) as image:
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
    torch.testing.assert_close(x, (pixels.permute(2, 0, 1) - 0.5) / 0.5)
    assert float(age) == written["test"][1][3]
    train = ImdbWikiDataset(root, "train", img_size=16)
    assert train[0][0].shape == (3, 16, 16) and len(train) == 60


def _rewrite_csv(src: Path, dst: Path, edit) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    rows = list(csv.reader((src / "imdb_wiki.csv").open()))
    with (dst / "imdb_wiki.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(edit(rows))
    for item in src.iterdir():
        if item.is_dir() and not (dst / item.name).exists():
            (dst / item.name).symlink_to(item)


@pytest.mark.parametrize(
    ("case", "edit", "needle"),
    [
        ("missing_csv", None, "missing: "),
        ("missing_column", lambda r: [row[:2] for row in r], "missing column(s) split"),
        ("wrong_split", lambda r: r[:1] + [[r[1][0], r[1][1], "validation"]] + r[2:], "split "),
        (
            "missing_image",
            lambda r: r[:1] + [[r[1][0], "imdb_crop/nope.jpg", r[1][2]]] + r[2:],
            "missing image",
        ),
    ],
)
def test_imdb_malformed_layout(imdb_root, tmp_path, case, edit, needle):
    root, _ = imdb_root
    bad = tmp_path / case
    if edit is None:
        bad.mkdir()
    else:
        _rewrite_csv(root, bad, edit)
    with pytest.raises(DatasetLayoutError) as error:
        read_imdb_wiki(bad, "train")
    text = _one_line(
        error, "imdb_wiki_dir: expected <root>/imdb_wiki.csv with columns age,path,split"
    )
    assert needle in text


def test_imdb_bad_split_argument(imdb_root):
    with pytest.raises(ValueError, match="split: must be one of"):
        read_imdb_wiki(imdb_root[0], "dev")


# ---------------------------------------------------------------- NYUD2-DIR


def test_nyu_depth_round_trip(nyu_root):
    root, written = nyu_root
    for rel, metres in written.items():
        decoded = read_depth_png(root / Path(rel).relative_to("data"))
        np.testing.assert_allclose(decoded, metres, rtol=0, atol=1e-6)
    assert any(v.max() > 6 for v in written.values())  # a tail beyond the dense range


def test_nyu_splits_by_scene_directory(nyu_root):
    root, _ = nyu_root
    train, val = read_nyud2(root, "train"), read_nyud2(root, "val")
    assert len(train.rgb) + len(val.rgb) == 15
    assert set(train.scenes).isdisjoint(val.scenes)
    assert len(set(val.scenes)) == 1  # 1/5 of 5 scene directories
    assert read_nyud2(root, "val").scenes == val.scenes  # seed 0 is reproducible
    scenes = [f"s{i}" for i in range(50)]
    assert len(validation_scenes(scenes)) == 10
    assert validation_scenes(scenes, seed=0) != validation_scenes(scenes, seed=1)


def test_nyu_dataset_items(nyu_root):
    root, _ = nyu_root
    mask = np.load(root / "test_balanced_mask.npy")
    test = Nyud2Dataset(root, "test", img_size=(24, 32))
    image, depth, m = test[1]
    assert image.shape == (3, 24, 32) and depth.shape == (24, 32)
    np.testing.assert_array_equal(m.numpy(), mask[1])
    assert float(depth.min()) >= 0.5 and float(depth.max()) <= 10.0
    train = Nyud2Dataset(root, "train", img_size=(24, 32))
    image, depth, m = train[0]
    assert image.shape == (3, 24, 32) and depth.shape == (12, 16) and m.dtype == torch.bool


def _copy_nyu(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for item in src.iterdir():
        if item.is_dir():
            (dst / item.name).symlink_to(item)
        else:
            (dst / item.name).write_bytes(item.read_bytes())
    return dst


@pytest.mark.parametrize(
    ("case", "split", "needle"),
    [
        ("missing_train_csv", "train", "missing: "),
        ("missing_mask", "test", "missing: "),
        ("one_column", "train", "expected 2 columns"),
        ("missing_depth", "test", "missing file"),
        ("bad_mask_shape", "test", "has shape"),
    ],
)
def test_nyu_malformed_layout(nyu_root, tmp_path, case, split, needle):
    bad = _copy_nyu(nyu_root[0], tmp_path / case)
    if case == "missing_train_csv":
        (bad / "nyu2_train.csv").unlink()
    elif case == "missing_mask":
        (bad / "test_balanced_mask.npy").unlink()
    elif case == "one_column":
        (bad / "nyu2_train.csv").write_text("data/nyu2_train/a/1.jpg\n")
    elif case == "missing_depth":
        (bad / "nyu2_test.csv").write_text("data/nyu2_test/00000_colors.png,data/x.png\n")
    else:
        np.save(bad / "test_balanced_mask.npy", np.ones((2, 3, 3), dtype=bool))
    with pytest.raises(DatasetLayoutError) as error:
        read_nyud2(bad, split)
    assert needle in _one_line(error, "nyud2_dir: expected <root>/nyu2_train.csv")


# ---------------------------------------------------------------- Breakfast


def test_breakfast_video_round_trip(breakfast_root, tmp_path):
    root, written = breakfast_root
    for name, rows in written["coffee"].items():
        video = read_breakfast_video(root / "features" / "coffee" / f"{name}.txt")
        np.testing.assert_array_equal(video.frames, rows[:, 0].astype(np.int64))
        np.testing.assert_array_equal(video.features, rows[:, 1:].astype(np.float32))
        assert video.participant == int(name[1:3])
    plain = write_breakfast_fixture(tmp_path, tasks=("tea",), with_index=False, seed=3)
    name, rows = next(iter(plain["tea"].items()))
    video = read_breakfast_video(tmp_path / "features" / "tea" / f"{name}.txt")
    np.testing.assert_array_equal(video.features, rows.astype(np.float32))
    np.testing.assert_array_equal(video.frames, np.arange(rows.shape[0]))


def test_breakfast_splits_and_targets(breakfast_root):
    root, written = breakfast_root
    data = load_breakfast(root, "coffee", "s2", target="frames", normalize=False)
    assert set(data.test.names) == {"P16_cam01_P16_coffee", "P22_cam01_P22_coffee"}
    assert len(data.val.names) == 2 and len(data.train.names) == 4  # 1/3 of 6 training videos
    assert set(data.train.names).isdisjoint(data.val.names)
    for part in (data.train, data.val, data.test):
        for i, name in enumerate(part.names):
            rows = written["coffee"][name]
            np.testing.assert_array_equal(part.x[part.video == i], rows[:, 1:].astype(np.float32))
            np.testing.assert_array_equal(part.y[part.video == i], rows[:, 0])
    percent = load_breakfast(root, "coffee", "s2", target="percent")
    first = percent.test.y[percent.test.video == 0]
    np.testing.assert_allclose(first, 100.0 * np.arange(first.size) / first.size)
    assert percent.train.names == data.train.names  # validation draw is seeded (seed 0)
    x = percent.train.x[percent.train.video == 0]
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-5)  # CTE per-video z-score


@pytest.mark.parametrize("case", ["missing_folder", "bad_columns", "bad_name"])
def test_breakfast_malformed_layout(tmp_path, case):
    folder = tmp_path / "features" / "coffee"
    if case != "missing_folder":
        folder.mkdir(parents=True)
        name = "P03_cam01_P03_coffee.txt" if case == "bad_columns" else "video1.txt"
        np.savetxt(folder / name, np.ones((5, 10)))
    with pytest.raises(DatasetLayoutError) as error:
        load_breakfast(tmp_path, "coffee", "s1")
    _one_line(error, "breakfast: expected <root>/features/<task>/<Pxx_...>.txt")


# ---------------------------------------------------------------- STS-B-DIR


def test_stsb_shipped_files():
    sizes = {"train": 5249, "val": 1000, "test": 1000}
    for split, size in sizes.items():
        pairs = load_stsb_dir(split)
        assert len(pairs.sentence1) == len(pairs.sentence2) == pairs.score.size == size
        assert pairs.score.min() >= 0.0 and pairs.score.max() <= 5.0
    assert (shipped_root() / "SOURCE.md").is_file()
    first = load_stsb_dir("train")
    assert first.sentence1[0] == "A woman is dancing." and first.score[0] == pytest.approx(0.143)


@pytest.mark.parametrize("case", ["missing", "header"])
def test_stsb_malformed(tmp_path, case):
    if case == "header":
        (tmp_path / "dev_new.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DatasetLayoutError) as error:
        load_stsb_dir("val", root=tmp_path)
    _one_line(error, "stsb_dir: expected <root>/train_new.tsv")


# ---------------------------------------------------------------- STS-B text features


def test_pair_features_layout():
    u, v = np.array([[1.0, -2.0]]), np.array([[3.0, 1.0]])
    np.testing.assert_array_equal(pair_features(u, v), [[1, -2, 3, 1, 2, 3, 3, -2]])
    with pytest.raises(ValueError, match="u, v"):
        pair_features(u, v[:, :1])


def test_bundled_model_resolves_to_a_local_directory():
    from pathlib import Path

    path = Path(resolve_model())
    assert path.is_dir() and (path / "modules.json").is_file()
    assert resolve_model(str(path)) == str(path.resolve())


def test_encode_few_pairs_then_hit_the_cache(tmp_path, monkeypatch):
    s1 = ["A man is playing a guitar.", "A woman is slicing onions.", "A dog runs."]
    s2 = ["A man plays the guitar.", "Someone is cutting a tomato.", "A cat sleeps."]
    features = encode_pairs(s1, s2, cache_dir=tmp_path)
    assert features.shape == (3, 4 * 384) and features.dtype == np.float32
    u, v = features[:, :384], features[:, 384:768]
    np.testing.assert_allclose(features[:, 768:1152], np.abs(u - v), atol=1e-6)
    cosine = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    assert cosine[0] > cosine[2]  # paraphrase closer than unrelated pair

    def no_model(*args, **kwargs):
        raise AssertionError("cache miss: the encoder was loaded again")

    monkeypatch.setattr(text_encoder, "load_encoder", no_model)
    np.testing.assert_array_equal(encode_pairs(s1, s2, cache_dir=tmp_path), features)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    assert cache_path(tmp_path, "other-model", "k") != cache_path(tmp_path, "all-MiniLM-L6-v2", "k")
