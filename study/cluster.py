"""Connecting to Ray: an embedded local instance by default, an existing cluster when given."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import ray

# Tune's automatic TensorBoard/CSV/JSON loggers would duplicate the Parquet rows.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


@contextmanager
def ray_session(
    address: str | None = None,
    num_cpus: int | None = None,
    dashboard: bool = True,
    dashboard_host: str = "127.0.0.1",
) -> Iterator[dict[str, float]]:
    """Start or join Ray for the length of a study; yields the cluster's resources.

    An already initialised Ray (a test session's shared instance) is reused and left running.
    The dashboard binds to `dashboard_host` (loopback unless the user asks otherwise).
    """
    if ray.is_initialized():
        yield ray.cluster_resources()
        return
    kwargs: dict = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    if address:
        kwargs["address"] = address
    else:
        kwargs.update(
            num_cpus=num_cpus,
            include_dashboard=dashboard,
            dashboard_host=dashboard_host,
        )
    context = ray.init(**kwargs)
    if threading.current_thread() is threading.main_thread():
        # Ray's driver aborts on SIGTERM; make it stop the study like Ctrl-C instead, so Tune
        # winds down, written rows stay and `--resume` continues.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    url = getattr(context, "dashboard_url", None)
    if url:
        print(f"Ray dashboard: http://{url}", flush=True)
    try:
        yield ray.cluster_resources()
    finally:
        ray.shutdown()
