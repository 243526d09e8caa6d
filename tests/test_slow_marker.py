"""The `slow` marker stays true: tests/conftest.py fails a test that starts a study in a
subprocess or a browser unless it is marked slow."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import slow_program

pytest_plugins = ["pytester"]


@pytest.mark.parametrize(
    ("args", "program"),
    [
        ([sys.executable, "run_study.py", "--list"], "run_study.py"),
        ([sys.executable, "/repo/run_study.py", "--address", "auto"], "run_study.py"),
        (["/venv/bin/regcls", "--help"], "regcls"),
        ([sys.executable, "-c", "import run_study\nrun_study.main([])"], "run_study.py"),
        ([sys.executable, "/repo/tests/cluster_study.py", "/tmp/out"], "cluster_study.py"),
        (["/usr/bin/chromium", "--headless", "--dump-dom", "file:///r.html"], "chromium"),
        (["chromium-browser", "--headless", "--dump-dom", "file:///r.html"], "chromium-browser"),
        ([b"/usr/bin/chromium", b"--headless"], "chromium"),
        ([sys.executable, "-c", "import regcls, study"], None),
        (["git", "rev-parse", "HEAD"], None),
        (["/venv/lib/python3.11/site-packages/ray/core/src/ray/gcs/gcs_server", "--x=1"], None),
        ([], None),
    ],
)
def test_slow_program_names_what_a_command_starts(args, program):
    assert slow_program(args) == program


def test_an_unmarked_test_that_starts_a_study_fails(pytester):
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    slow: starts a study\n")
    # run_study.py is not in pytester's folder: Python exits at once, but it was started.
    pytester.makepyfile(
        test_launches="""
        import subprocess, sys
        import pytest

        def start(*command):
            subprocess.run([sys.executable, *command], capture_output=True)

        def test_unmarked_study():
            start("run_study.py", "--help")

        @pytest.mark.slow
        def test_marked_study():
            start("run_study.py", "--help")

        def test_unmarked_plain_python():
            start("-c", "pass")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_unmarked_study starts run_study.py but is not marked*"])
