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
