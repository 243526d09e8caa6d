"""STS-B-DIR sentence-pair similarity (Yang et al. 2021), shipped with the package.

Files `train_new.tsv` (5249 pairs), `dev_new.tsv` (1000) and `test_new.tsv` (1000): tab-separated
with a header `index,genre,filename,year,old_index,source1,source2,sentence1,sentence2,score`,
no quoting, score in [0, 5]. The copies in `stsb_dir_data/` are Yang et al.'s (see SOURCE.md);
`root` points the loader at another directory with the same three files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from regcls.data.datasets import layout_error

FILES = MappingProxyType({"train": "train_new.tsv", "val": "dev_new.tsv", "test": "test_new.tsv"})
COLUMNS = (
    "index",
    "genre",
    "filename",
    "year",
    "old_index",
    "source1",
    "source2",
    "sentence1",
    "sentence2",
    "score",
)
LAYOUT = (
    "<root>/train_new.tsv, dev_new.tsv, test_new.tsv (tab-separated, header "
    "index,genre,filename,year,old_index,source1,source2,sentence1,sentence2,score)"
)


@dataclass(frozen=True)
class SentencePairs:
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    score: np.ndarray  # float64 [N], in [0, 5]


def shipped_root() -> Path:
    """Directory of the STS-B-DIR files that ship with regcls."""
    return Path(__file__).resolve().parent / "stsb_dir_data"


def stsb_path(split: str, root: str | Path | None = None) -> Path:
    """Path of the TSV file of `split` (train / val / test)."""
    if split not in FILES:
        raise ValueError(f"split: must be one of {tuple(FILES)}, got {split!r}")
    return Path(root if root is not None else shipped_root()) / FILES[split]


def load_stsb_dir(split: str, root: str | Path | None = None) -> SentencePairs:
    """Sentence pairs and scores of one split; DatasetLayoutError on a bad file."""
    path = stsb_path(split, root)
    if not path.is_file():
        raise layout_error("stsb_dir", LAYOUT, f"missing: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(c.strip() for c in rows[0]) != COLUMNS:
        header = rows[0] if rows else []
        raise layout_error("stsb_dir", LAYOUT, f"{path} has header {header!r}")
    s1, s2, scores = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS):
            raise layout_error(
                "stsb_dir", LAYOUT, f"{path} line {line}: {len(row)} columns, expected 10"
            )
        try:
            score = float(row[9])
        except ValueError:
            raise layout_error(
                "stsb_dir", LAYOUT, f"{path} line {line}: score {row[9]!r}"
            ) from None
        s1.append(row[7])
        s2.append(row[8])
        scores.append(score)
    return SentencePairs(tuple(s1), tuple(s2), np.asarray(scores, dtype=np.float64))
