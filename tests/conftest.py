"""Shared fixtures: one local Ray instance per test session (Ray start-up costs seconds).

Also keeps the `slow` marker true: a test that starts a study in a subprocess (`run_study.py`,
the `regcls` command, the multi-node `cluster_study.py`) or a browser (Chromium) fails unless
it is marked `slow`, so `pytest -m "not slow"` stays the fast part.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")

SLOW_PROGRAMS = ("run_study.py", "regcls", "cluster_study.py", "chromium", "chromium-browser")


def slow_program(args: list) -> str | None:
    """The slow program a subprocess command line starts (see SLOW_PROGRAMS), or None.

    `args` as the `subprocess.Popen` audit event gives them: a list of str, bytes or paths. A
    `python -c` that imports run_study counts as run_study.py.
    """
    words = [os.fsdecode(word) for word in args]
    if not words:
        return None
    names = [Path(word).name for word in words[:2]]
    for name in names:
        if name in SLOW_PROGRAMS:
            return name
    if "-c" in words[1:2] and "run_study" in " ".join(words[2:3]):
        return "run_study.py"
    return None


class _SlowLaunches:
    """Records the slow programs each test starts (an audit hook on `subprocess.Popen`)."""

    def __init__(self) -> None:
        self.started: list[str] | None = None  # None: outside a test

    def audit(self, event: str, args: tuple) -> None:
        if event == "subprocess.Popen" and self.started is not None:
            program = slow_program(args[1])
            if program is not None:
                self.started.append(program)


_LAUNCHES = pytest.StashKey[_SlowLaunches]()


def pytest_configure(config: pytest.Config) -> None:
    launches = _SlowLaunches()
    sys.addaudithook(launches.audit)
    config.stash[_LAUNCHES] = launches


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    launches = item.config.stash[_LAUNCHES]
    launches.started = []  # setup (fixtures), call and teardown
    yield
    launches.started = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    started = item.config.stash[_LAUNCHES].started
    if report.when != "call" or not started or item.get_closest_marker("slow"):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid} starts {', '.join(sorted(set(started)))} but is not marked slow: add "
        "@pytest.mark.slow (or the module's pytestmark) so `pytest -m 'not slow'` stays fast"
        + (f"\n\n{report.longrepr}" if report.longrepr else "")
    )


_RAY_OPTIONS = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}


@pytest.fixture(scope="session")
def ray_local():
    """A local two-CPU Ray for every test that runs real Tune trials; studies reuse it."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, **_RAY_OPTIONS)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_logical_gpus():
    """The session's Ray restarted for one module with logical resources of a GPU machine: one
    GPU and 10 CPUs, declared on this CPU machine (no CUDA behind them: trials force their
    device to the CPU). Still one Ray at a time; the two-CPU Ray comes back afterwards, as
    `ray_local` started it."""
    import ray

    was_running = ray.is_initialized()
    ray.shutdown()
    ray.init(address="local", num_cpus=10, num_gpus=1, **_RAY_OPTIONS)
    yield ray
    ray.shutdown()
    if was_running:
        ray.init(num_cpus=2, **_RAY_OPTIONS)


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (tiny ops: intra-op threads only add sync overhead and
    oversubscribe a loaded machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def render_in_chromium(tmp_path):
    """`render(page, window_size=None) -> dom`: the DOM of an HTML file after headless Chromium
    ran its scripts, in a window of `window_size` ("1400,900") when given.

    Skips the test when Chromium is not installed; fails it when Chromium exits non-zero.
    """
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install -y chromium) - cannot render report")

    def render(page, window_size: str | None = None) -> str:
        size = [f"--window-size={window_size}"] if window_size else []
        result = subprocess.run(
            [
                chromium,
                *size,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    return render
