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


_LOCAL_SESSION = """
from study.cluster import ray_session
with ray_session(num_cpus=1, dashboard=False) as resources:
    print("CPU", resources["CPU"])
"""


def test_the_default_local_ray_ignores_an_address_left_in_the_environment(tmp_path):
    """Without --address a study starts its own Ray even where RAY_ADDRESS (or the address a
    killed study left in /tmp/ray/ray_current_cluster, which Ray reads the same way) names a
    cluster: Ray would otherwise try to join it and refuse the study's num_cpus."""
    result = subprocess.run(
        [sys.executable, "-c", _LOCAL_SESSION],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_ADDRESS": "127.0.0.1:1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "CPU 1.0" in result.stdout
