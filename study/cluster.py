"""Connecting to Ray: an embedded local instance by default, an existing cluster when given.

SIGTERM stops a study like Ctrl-C from the moment Ray is asked for, not only once it is up. A
cluster address that does not answer is reported in one line (`ClusterUnreachable`) instead of
Ray retrying it for minutes. A join given up that way keeps running in Ray's C++ client; the CLI
then ends the process with `exit_now_if_join_running` instead of a normal exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import ray

# Tune's automatic TensorBoard/CSV/JSON loggers would duplicate the Parquet rows.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

# A TCP connect to the cluster's GCS: refused or silent within this many seconds = no cluster.
PROBE_TIMEOUT_S = 3.0
# Joining a cluster whose GCS accepts the connection but does not complete the join gives up
# after this long (a healthy cluster takes a few seconds, a busy one more).
CONNECT_TIMEOUT_S = 60.0
_JOIN_THREAD = "regcls-ray-join"
# The longest the main thread sleeps in one piece while it waits for a join (see _join_cluster).
_SIGNAL_CHECK_S = 0.1


class ClusterUnreachable(ValueError):
    """`--address` names no Ray cluster that answers (one-line message naming the address)."""


@contextmanager
def ray_session(
    address: str | None = None,
    num_cpus: int | None = None,
    dashboard: bool = True,
    dashboard_host: str = "127.0.0.1",
) -> Iterator[dict[str, float]]:
    """Start or join Ray for the length of a study; yields the cluster's resources.

    An already initialised Ray (a test session's shared instance) is reused and left running.
    The dashboard binds to `dashboard_host` (loopback unless the user asks otherwise). Raises
    `ClusterUnreachable` when `address` does not answer, KeyboardInterrupt on SIGTERM or Ctrl-C.
    """
    if ray.is_initialized():
        yield ray.cluster_resources()
        return
    kwargs: dict = {"log_to_driver": False, "configure_logging": True, "logging_level": "ERROR"}
    if not address:
        kwargs.update(
            num_cpus=num_cpus,
            include_dashboard=dashboard,
            dashboard_host=dashboard_host,
        )
    previous = _interrupt_on_sigterm()  # before connecting: a hung connect must be stoppable
    try:
        context = _join_cluster(address, kwargs) if address else _start_local(kwargs)
        # Ray's driver aborts on SIGTERM (ray.init installs that handler when it runs in the
        # main thread); make it stop the study like Ctrl-C instead, so Tune winds down, written
        # rows stay and `--resume` continues.
        _interrupt_on_sigterm()
        url = getattr(context, "dashboard_url", None)
        if url:
            print(f"Ray dashboard: http://{url}{_token_hint()}", flush=True)
        try:
            yield ray.cluster_resources()
        finally:
            ray.shutdown()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def exit_now_if_join_running(code: int) -> None:
    """End the process at once with exit status `code` if a join that was given up (SIGTERM,
    Ctrl-C, `CONNECT_TIMEOUT_S`) is still running; otherwise return.

    Nothing can stop that join: it waits inside Ray's C++ GCS client. A normal exit then races
    it: first the interpreter's teardown (mostly garbage collection with torch and Ray loaded:
    1 s on a quiet machine, up to 18 s measured on a busy one), then C++ static destructors
    that Ray's connecting threads still use (a segfault in boost::asio in about one exit in
    five). Ray never came up in this process, so there is nothing to shut down; stdout and
    stderr are flushed first. Call it only where the process may end: the CLI after its
    one-line report.
    """
    if not any(t.name == _JOIN_THREAD and t.is_alive() for t in threading.enumerate()):
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)


def _token_hint() -> str:
    """Where the dashboard's login token is, when Ray runs with token authentication (Ray
    2.60's default for a local cluster: the page asks for the token before it shows anything)."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        return ""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    return f" (it asks for a token: run `ray get-auth-token`, or read {path})"


def _interrupt_on_sigterm() -> object:
    """Make SIGTERM raise KeyboardInterrupt in the main thread; return the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, signal.default_int_handler)


def _start_local(kwargs: dict) -> object:
    try:
        return ray.init(**kwargs)
    except SystemExit:
        # While it starts the node, ray.init's own SIGTERM handler stops what it started and
        # exits; stop the study like Ctrl-C instead (one line, exit 130).
        ray.shutdown()
        raise KeyboardInterrupt("SIGTERM while Ray was starting") from None


def _join_cluster(address: str, kwargs: dict) -> object:
    """ray.init(address) in a helper thread, so that SIGTERM and Ctrl-C act at once.

    ray.init blocks in C++ for seconds at a time while it retries a GCS that does not answer,
    and Python runs signal handlers only between bytecodes of the main thread. Here the main
    thread waits for the join in short slices: the kernel may hand SIGTERM to any thread of the
    process (one of the gRPC threads the join starts, say), which only flags it for the main
    thread, and a main thread asleep in one long wait would act on the flag only when that wait
    ends (a full `CONNECT_TIMEOUT_S` later). (Ray installs its own SIGTERM handler only when
    ray.init runs in the main thread.) When the wait ends early, the thread is left running:
    see `exit_now_if_join_running`.
    """
    dialled = _dialled_address(address)
    if dialled is not None:
        _probe(address, dialled)
    outcome: dict[str, object] = {}
    done = threading.Event()

    def connect() -> None:
        try:
            outcome["context"] = ray.init(address=address, **kwargs)
        except BaseException as error:  # reported by the main thread
            outcome["error"] = error
        finally:
            done.set()

    with _native_stderr_silenced():
        threading.Thread(target=connect, name=_JOIN_THREAD, daemon=True).start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not done.wait(_SIGNAL_CHECK_S):
            if time.monotonic() >= deadline:
                raise ClusterUnreachable(
                    f"--address {address}: the Ray cluster did not complete the join within "
                    f"{CONNECT_TIMEOUT_S:g} s; check that host:port is the head node's GCS port"
                )
    if "error" in outcome:
        error = outcome["error"]
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ClusterUnreachable(f"--address {address}: cannot join the Ray cluster: {first}")
    return outcome["context"]


def _dialled_address(address: str) -> str | None:
    """host:port that ray.init will dial for `address` (None: nothing to probe).

    Ray's own canonicalisation: `auto` is Ray's address discovery (RAY_ADDRESS, then the
    latest local cluster), and a loopback host becomes this node's IP, where Ray's GCS listens.
    """
    if "://" in address:  # Ray Client (ray://): another protocol, Ray reports its own errors
        return None
    try:
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address(address)
    except Exception:  # a private helper: without it, probe what the user gave
        return None if address == "auto" else address


def _probe(address: str, dialled: str) -> None:
    host, _, port = dialled.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        where = "" if dialled == address else f" (Ray dials {dialled})"
        raise ClusterUnreachable(
            f"--address {address}: no Ray cluster answers{where}: {reason}; start one with "
            "`ray start --head` or give the head node's host:port"
        ) from None


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: Ray's C++ client prints a warning every few seconds
    while it retries a GCS; the outcome of the join is reported in one line instead."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:  # from here a KeyboardInterrupt (SIGTERM) at any bytecode still gives stderr back
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    except BaseException:
        # Given up (timeout, SIGTERM, Ctrl-C): the join thread still retries in C++ and would
        # print its next warning between our one-line error and the exit. Keep fd 2 silenced
        # and give Python's own stderr the terminal.
        _python_stderr_to(saved)
        raise
    os.dup2(saved, 2)
    os.close(saved)


def _python_stderr_to(fd: int) -> None:
    try:
        on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # captured (pytest): not on fd 2
        on_fd2 = False
    if not on_fd2:
        os.dup2(fd, 2)
        os.close(fd)
        return
    sys.stderr.flush()
    sys.stderr = open(  # noqa: SIM115 - the process's stderr from here on
        fd, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace"
    )
