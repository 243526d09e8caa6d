"""The design card's import rules: the science has no Ray, the search spaces nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> list[str]:
    return [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in sorted((ROOT / package).rglob("*.py"))
        if p.name != "__init__.py"
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("regcls", ("ray", "polars", "plotly", "study", "results")),
        ("search_spaces", ("ray", "torch", "optuna", "polars", "numpy")),
        ("results", ("ray", "torch", "regcls", "study")),
    ],
)
def test_package_imports_nothing_forbidden(package, forbidden):
    code = (
        "import importlib, sys\n"
        f"for name in {_modules(package)!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{package} imports {result.stdout.strip()}"


# The rooms of `regcls/` (its docstring): data and models are the ground floor, objectives build
# on models, training on everything below it; evaluation measures trained models without training.
REGCLS_ROOMS = [
    ("regcls/data", ("regcls.models", "regcls.objectives", "regcls.training", "regcls.evaluation")),
    ("regcls/models", ("regcls.objectives", "regcls.training", "regcls.evaluation")),
    ("regcls/objectives", ("regcls.training", "regcls.evaluation", "regcls.methods")),
    ("regcls/evaluation", ("regcls.training", "regcls.objectives", "regcls.methods")),
    ("regcls/training", ("regcls.evaluation", "regcls.methods")),
]


@pytest.mark.parametrize(("room", "forbidden"), REGCLS_ROOMS)
def test_regcls_rooms_import_downwards_only(room, forbidden):
    # A fresh interpreter imports every module of the room; no module of a forbidden room may load.
    code = (
        "import importlib, sys\n"
        f"for name in {_modules(room)!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({forbidden!r}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{room} imports {result.stdout.strip()}"


def test_regcls_top_level_holds_only_rooms_and_the_zoo_registry():
    top = {p.name for p in (ROOT / "regcls").iterdir() if not p.name.startswith(("_", "."))}
    assert top == {"data", "models", "objectives", "training", "evaluation", "methods.py"}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("study/synthetic_1d", ("study.dir", "results.dir")),
        ("study/dir", ("study.synthetic_1d",)),
        ("results/dir", ("study",)),
    ],
)
def test_study_families_do_not_import_each_other(package, forbidden):
    sources = {p: p.read_text() for p in (ROOT / package).rglob("*.py")}
    for path, text in sources.items():
        for name in forbidden:
            assert f"from {name}" not in text and f"import {name}" not in text, (path, name)


def test_no_study_prefixed_files_outside_their_folder():
    # One subpackage per study family: `study/dir/plan.py`, never `study/dir_plan.py`.
    families = ("dir", "synthetic_1d", "stsb", "imdb", "nyud2", "breakfast")
    for package in ("study", "results"):
        for path in (ROOT / package).glob("*.py"):
            assert not path.stem.startswith(families), path
        folders = {p.name for p in (ROOT / package).iterdir() if p.is_dir() and p.name[0] != "_"}
        assert {"dir", "synthetic_1d"} <= folders, package
