"""The CLI as a tool: the `regcls` command, light `--help`/`--list`, `--dry-run`, and `--address`
failures and SIGTERM that stop at once and leave `--out` untouched."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import run_study
from search_spaces.stsb_dir import PRESETS as STSB_PRESETS
from search_spaces.synthetic_1d import PRESETS
from study.dir.plan import declared_models as dir_declared_models
from study.dir.plan import stsb_specs
from study.output_folder import check_output_folder, claim_output_folder
from study.synthetic_1d.bundles import bundle_packs
from study.synthetic_1d.packing import split_costly
from study.synthetic_1d.plan import declared_models, lambda_search_specs

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("ray", "torch", "polars", "plotly", "pyarrow", "optuna")
# A bound against hangs, not a speed check: on a busy machine a study's imports alone took
# 30-40 s here (load ~18 on 2 cores).
HANG_S = 300


def _main_in_subprocess(argv: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `run_study.main(argv)` in a fresh interpreter; also return the heavy top-level
    packages it had imported when main returned."""
    code = (
        "import sys\nimport run_study\n"
        f"try:\n    code = run_study.main({argv!r})\nexcept SystemExit as stop:\n"
        "    code = stop.code\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    marker = [line for line in result.stderr.splitlines() if line.startswith("HEAVY=")]
    assert marker, result.stderr[-2000:]
    heavy = [name for name in marker[-1].removeprefix("HEAVY=").split(",") if name]
    return result, heavy


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("HEAVY=")]


@pytest.mark.slow
def test_regcls_console_script_is_installed_and_answers_help(tmp_path):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["regcls"] == "run_study:main"
    assert "run_study" in project["tool"]["setuptools"]["py-modules"]
    script = Path(sys.executable).with_name("regcls")
    assert script.exists(), "no regcls command: run `pip install -e .` after editing pyproject"
    # From another folder: the command must not depend on the working directory.
    result = subprocess.run(
        [str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: regcls")


@pytest.mark.slow
def test_run_study_script_stays_the_thin_entry():
    result = subprocess.run(
        [sys.executable, "run_study.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert result.returncode == 0, result.stderr
    assert "--preset paper: 55320 models" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["--help", "--list"])
def test_help_and_list_import_nothing_heavy(flag):
    result, heavy = _main_in_subprocess([flag])
    assert result.returncode == 0, result.stderr[-2000:]
    assert heavy == [], f"{flag} imported {heavy}"


@pytest.mark.slow
def test_help_shows_choices_defaults_and_three_examples():
    result, _ = _main_in_subprocess(["--help"])
    text = result.stdout
    studies = (
        "synthetic_1d,synthetic_1d_sensitivity,synthetic_1d_zoo,synthetic_1d_answer,imdb_wiki_dir,"
        "nyud2_dir,breakfast,stsb_dir"
    )
    assert f"--study {{{studies}}}" in text
    assert "--preset {answer,authors,paper,quick,smoke}" in text
    assert "--search {grid,optuna}" in text
    for default in ("(default: synthetic_1d)", "(default: quick)", "(default: grid)"):
        assert default in text
    examples = text.split("examples:")[1].splitlines()
    assert len([line for line in examples if line.strip().startswith("regcls ")]) == 3


def test_bad_flag_value_gives_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        run_study.main(["--num-cpus", "many"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert stop.value.code == 2
    assert len(lines) == 1 and "--num-cpus" in lines[0]


@pytest.mark.slow
def test_dry_run_prints_every_stage_without_ray_and_creates_nothing(tmp_path):
    out = tmp_path / "out"
    result, heavy = _main_in_subprocess(
        ["--study", "synthetic_1d", "--preset", "paper", "--dry-run", "--out", str(out)]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ray" not in heavy
    assert not out.exists()
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["stage", "models"])
    rows = [line.split() for line in lines[header + 1 : header + 5]]
    table = {row[0]: row[1:] for row in rows}
    assert list(table) == ["lambda_search", "test", "noise", "total"]
    declared = declared_models(PRESETS["paper"])
    for stage, models in declared.items():
        assert int(table[stage][0].replace(",", "")) == models, stage
    assert int(table["total"][0].replace(",", "")) == sum(declared.values()) == 55_320
    # The Tune trials are the bundles the run makes: the packs after splitting, bundled.
    packs = sorted(
        split_costly(lambda_search_specs(PRESETS["paper"])), key=lambda s: s.variant != "reg"
    )
    slots = os.cpu_count() or 1
    trials = int(table["lambda_search"][1].replace(",", ""))
    assert trials == len(bundle_packs(packs, slots)) < len(packs)
    assert all(row[2] != "-" for row in table.values()), "every stage has an ETA"
    assert "placeholder lambda" in result.stdout


def test_dry_run_of_a_dir_study_counts_models_per_stage(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["--study", "stsb_dir", "--preset", "smoke", "--dry-run", "--out", str(out)]
    code = run_study.main(argv)
    printed = capsys.readouterr().out
    assert code == 0
    counts = dir_declared_models(stsb_specs(STSB_PRESETS["smoke"], "root"))
    rows = {line.split()[0]: line.split()[1:3] for line in printed.splitlines()[2:] if line}
    for stage, models in counts.items():
        assert rows[stage] == [str(models), str(len(stsb_specs(STSB_PRESETS["smoke"], "root")))]
    assert not out.exists()


def test_dry_run_refuses_a_folder_of_another_config_and_leaves_it(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "study.json").write_text(json.dumps({"study": "synthetic_1d", "search": "optuna"}))
    before = (out / "study.json").read_bytes()
    code = run_study.main(["--dry-run", "--out", str(out)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "use another --out" in lines[0]
    assert (out / "study.json").read_bytes() == before


def test_checking_an_output_folder_writes_nothing_and_claiming_records_it(tmp_path):
    out = tmp_path / "new"
    check_output_folder(out, {"study": "x"}, resume=False)
    assert not out.exists()
    claim_output_folder(out, {"study": "x"}, resume=False)
    assert json.loads((out / "study.json").read_text()) == {"study": "x"}


@pytest.mark.slow
def test_unreachable_address_gives_one_line_and_leaves_out_untouched(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "run_study.py",
            "--address",
            "127.0.0.1:1",
            "--out",
            str(out),
            "--no-dashboard",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    lines = _error_lines(result.stderr)
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and "--address 127.0.0.1:1" in lines[0], lines
    assert not out.exists()


def _silent_listener() -> socket.socket:
    """A TCP port that accepts connections and never answers: a GCS that hangs.

    Bound to every interface: Ray dials a loopback address at this node's IP.
    """
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    return server


def _next_connection(
    server: socket.socket, process: subprocess.Popen, within: float
) -> socket.socket | None:
    """The next connection to `server` within `within` seconds (None if none came); fails at
    once if `process` exits meanwhile."""
    deadline = time.monotonic() + within
    server.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            return server.accept()[0]
        except TimeoutError:
            if process.poll() is not None:
                pytest.fail(f"the study exited ({process.returncode}): {process.stderr.read()}")
    return None


@pytest.mark.slow
def test_address_that_accepts_but_never_answers_gives_up_in_one_line(tmp_path):
    out = tmp_path / "out"
    with _silent_listener() as server:
        port = server.getsockname()[1]
        argv = ["--address", f"127.0.0.1:{port}", "--out", str(out), "--no-dashboard"]
        # Just before Ray's C++ client warns (5 s after it dials): the warning must not reach
        # the terminal while the process exits. (main ends the process itself here: the join
        # it gave up is still running.)
        code = (
            "import sys\nimport study.cluster\nstudy.cluster.CONNECT_TIMEOUT_S = 4.8\n"
            f"import run_study\nsys.exit(run_study.main({argv!r}))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=HANG_S,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    lines = _error_lines(result.stderr)
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and f"--address 127.0.0.1:{port}" in lines[0], lines
    assert not out.exists()


@pytest.mark.slow
def test_sigterm_while_joining_a_cluster_stops_at_once(tmp_path):
    _sigterm_while_joining(tmp_path, lambda process: process.send_signal(signal.SIGTERM))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_sigterm_taken_by_another_thread_while_joining_stops_at_once(tmp_path):
    """The kernel may hand a process's SIGTERM to any thread that does not block it; kill() of
    a thread id makes it try that thread first."""

    def to_another_thread(process: subprocess.Popen) -> None:
        os.kill(_thread_taking_sigterm(process.pid), signal.SIGTERM)

    _sigterm_while_joining(tmp_path, to_another_thread)


def _thread_taking_sigterm(pid: int) -> int:
    """A thread of `pid` other than its main thread that does not block SIGTERM."""
    for task in sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda t: int(t.name)):
        try:
            lines = (task / "status").read_text().splitlines()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        blocked = int(status["SigBlk"], 16) >> (signal.SIGTERM - 1) & 1
        if int(task.name) != pid and not blocked:
            return int(task.name)
    raise AssertionError(f"every thread of {pid} but the main one blocks SIGTERM")


def _sigterm_while_joining(tmp_path: Path, send_sigterm) -> None:
    """Start a study that joins a silent "GCS", SIGTERM it once Ray dials (`send_sigterm(process)`)
    and check that it stops at once, in one line, exit 130, `--out` untouched."""
    out = tmp_path / "out"
    with _silent_listener() as server:
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [
                sys.executable,
                "run_study.py",
                "--address",
                f"127.0.0.1:{port}",
                "--out",
                str(out),
                "--no-dashboard",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        accepted = []
        try:
            # First the reachability probe (after the study's imports: slow on a busy machine),
            # then ray.init itself dials the silent "GCS".
            probe = _next_connection(server, process, within=HANG_S)
            assert probe is not None, "the study never probed the address"
            accepted.append(probe)
            # If Ray never dials, it is still joining in Python: SIGTERM must stop that too.
            accepted.append(_next_connection(server, process, within=20))
            time.sleep(1.0)
            send_sigterm(process)
            started = time.monotonic()
            _, stderr = process.communicate(timeout=HANG_S)
            stopped_after = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
            for connection in filter(None, accepted):
                connection.close()
    lines = _error_lines(stderr)
    assert process.returncode == 130, stderr[-2000:]
    assert stopped_after < 10, f"SIGTERM stopped the study only after {stopped_after:.1f} s"
    assert len(lines) == 1 and lines[0].startswith("stopped:"), lines
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_sigterm_while_the_study_still_imports_stops_in_one_line(tmp_path):
    """SIGTERM during the heavy imports (torch mapped, Ray not yet up): one line, exit 130,
    `--out` untouched, not the default silent kill."""
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "run_study.py", "--out", str(out), "--no-dashboard"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        maps = Path(f"/proc/{process.pid}/maps")
        deadline = time.monotonic() + HANG_S
        # torch's library mapped: main() runs and the study is importing (long before Ray).
        while process.poll() is None and "libtorch" not in maps.read_text():
            assert time.monotonic() < deadline, "the study never imported torch"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=HANG_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    lines = _error_lines(stderr)
    assert process.returncode == 130, stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("stopped:"), lines
    assert not out.exists()
