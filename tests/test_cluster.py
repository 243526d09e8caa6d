"""A study on a real three-node Ray cluster survives losing a worker node mid-study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a study on a three-node Ray cluster, in a subprocess

ROOT = Path(__file__).resolve().parents[1]


def test_study_completes_after_a_worker_node_dies(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "cluster_study.py"), str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Ray's node processes print to the same stdout; the script's report is the JSON line.
    lines = [line for line in result.stdout.splitlines() if line.startswith('{"declared"')]
    assert lines, result.stdout[-3000:]
    report = json.loads(lines[-1])
    assert report["errors"] == []
    assert report["killed_after_files"] is not None, "the node was not killed mid-study"
    assert report["rows"] == report["unique_keys"] == report["declared"]
    assert report["statuses"] == ["ok"]
