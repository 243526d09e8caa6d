"""Shared fixtures: one local Ray instance per test session (Ray start-up costs seconds)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


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
