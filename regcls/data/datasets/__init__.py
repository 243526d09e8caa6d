"""Loaders for the real-data studies, each reading its standard on-disk layout from a root.

| module | dataset | layout |
| `imdb_wiki` | IMDB-WIKI-DIR (Yang et al.) | `<root>/imdb_wiki.csv` (age,path,split) + images |
| `nyud2` | NYUD2-DIR (Yang et al.) | `nyu2_train.csv`, `nyu2_test.csv`, `test_balanced_mask.npy` |
| `breakfast` | Breakfast IDT features (Kukleva et al.) | `<root>/features/<task>/<video>.txt` |
| `stsb` | STS-B-DIR (Yang et al.), shipped | `train_new.tsv`, `dev_new.tsv`, `test_new.tsv` |
| `fixtures` | tiny fixtures written in exactly those layouts | |

A missing or malformed layout raises `DatasetLayoutError` (a `ValueError`) with one line naming
the expected layout and what is missing.
"""

from __future__ import annotations


class DatasetLayoutError(ValueError):
    """The files under a dataset root do not match the layout the loader expects."""


def layout_error(dataset: str, expected: str, problem: str) -> DatasetLayoutError:
    """One-line error: `<dataset>: expected <layout>; <problem>`."""
    text = f"{dataset}: expected {expected}; {problem}"
    return DatasetLayoutError(" ".join(text.split()))
