"""study/run_info.py: the provenance a study records once (`<out>/provenance.json`), the run info
of every row (regcls version, git commit, command line), and the sink filling in the command
line a Ray worker cannot know; results reads the same file name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from results import ROW_SCHEMA, read_rows
from results._provenance import PROVENANCE_FILE as READ_NAME
from study.run_info import (
    PROVENANCE_FILE,
    PROVENANCE_PACKAGES,
    provenance,
    run_info,
    write_provenance,
)
from study.sink import ParquetSink

ROOT = Path(__file__).resolve().parents[1]


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()


def test_write_provenance_records_command_versions_commit_and_machine(tmp_path):
    argv = ["run_study.py", "--study", "breakfast", "--out", "runs/a b"]
    path = write_provenance(tmp_path / "new", argv)
    assert path == tmp_path / "new" / "provenance.json" and READ_NAME == PROVENANCE_FILE
    recorded = json.loads(path.read_text(encoding="utf-8"))
    assert recorded["command_line"] == "run_study.py --study breakfast --out 'runs/a b'"
    assert recorded["git_commit"] == _head() and isinstance(recorded["git_dirty"], bool)
    assert sorted(recorded["packages"]) == sorted(PROVENANCE_PACKAGES)
    assert recorded["packages"]["polars"] == pl.__version__
    assert recorded["regcls_version"] == provenance([])["regcls_version"] != "not installed"
    machine = recorded["machine"]
    assert machine["cores"] == os.cpu_count() and machine["ram_gb"] > 0 and machine["cpu"]
    assert not list(path.parent.glob(".*.tmp"))  # written atomically


def test_run_info_records_regcls_version_and_commit():
    info = run_info("cpu")
    assert info["git_commit"] == _head()
    assert info["regcls_version"] == provenance([])["regcls_version"]
    assert info["command_line"] is None  # a worker does not know it: the sink fills it in
    assert run_info("cpu", "regcls --list")["command_line"] == "regcls --list"
    assert set(info) <= set(ROW_SCHEMA.names)


def test_git_commit_outside_a_checkout_says_so(tmp_path):
    # A copy of run_info.py outside any checkout runs git in its own folder.
    script = tmp_path / "probe.py"
    source = (ROOT / "study" / "run_info.py").read_text(encoding="utf-8")
    script.write_text(
        source.replace("from study.output_folder import write_json_atomic", "")
        + "\nprint(git_commit())\n",
        encoding="utf-8",
    )
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "not a git checkout"


def test_sink_fills_in_the_studys_command_line(tmp_path):
    sink = ParquetSink(tmp_path, ROW_SCHEMA)
    row = {
        "row_key": "k",
        "study": "synthetic_1d",
        "stage": "test",
        "variant": "reg",
        **run_info("cpu"),
    }
    sink.write_trial("test", "before", [row])  # no provenance.json yet: left null
    write_provenance(tmp_path, ["regcls", "--study", "synthetic_1d"])
    sink.write_trial("test", "after", [{**row, "row_key": "k2"}])
    sink.write_trial("test", "own", [{**row, "row_key": "k3", "command_line": "given"}])
    lines = dict(read_rows(tmp_path).select("row_key", "command_line").iter_rows())
    assert lines == {"k": None, "k2": "regcls --study synthetic_1d", "k3": "given"}
