"""Shared fixtures: one local Ray instance per test session (Ray start-up costs seconds)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")


@pytest.fixture(scope="session")
def ray_local():
    """A local two-CPU Ray for every test that runs real Tune trials; studies reuse it."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()
