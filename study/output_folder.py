"""A study's output folder: its recorded config, and the guard against mixing two studies.

`<out>/study.json` records what the folder holds. A run whose config differs from it is refused
before anything in the folder is touched, naming the first field that differs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class OutputFolderError(ValueError):
    """The output folder cannot be used for this run (one-line message)."""


def check_output_folder(out: Path, config: dict, resume: bool) -> None:
    """Every refusal of `claim_output_folder`, reading only: nothing is created or written.

    Refuses: a folder holding another study config; a folder already holding rows of this
    config without `--resume`; `--resume` of a folder that holds no study.
    """
    out = Path(out)
    recorded_path = out / "study.json"
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"--out {out}: exists and is not a folder")
    if recorded_path.exists():
        recorded = json.loads(recorded_path.read_text())
        difference = _first_difference(recorded, _canonical(config))
        if difference:
            raise OutputFolderError(
                f"--out {out}: holds a study with {difference}; use another --out"
            )
        has_rows = any((out / "rows").glob("*.parquet")) if (out / "rows").exists() else False
        if has_rows and not resume:
            raise OutputFolderError(
                f"--out {out}: already holds results of this study; pass --resume to continue it"
            )
        return
    if resume:
        raise OutputFolderError(f"--out {out}: holds no study to resume (no study.json)")
    if out.exists() and any(out.iterdir()):
        raise OutputFolderError(f"--out {out}: is not empty and holds no study; use another --out")


def claim_output_folder(out: Path, config: dict, resume: bool) -> None:
    """Check `out` against `config` (see `check_output_folder`); record the config when the
    folder is new.

    A study checks its folder before Ray starts and claims it only once Ray is up, so a run
    that cannot reach its cluster leaves `--out` untouched; the check is repeated here in case
    another run claimed the folder meanwhile.
    """
    check_output_folder(out, config, resume)
    recorded_path = Path(out) / "study.json"
    if not recorded_path.exists():
        recorded_path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(recorded_path, _canonical(config))


def write_json_atomic(path: Path, payload: object) -> None:
    """Write JSON via a temporary file and rename, so a killed process leaves no half file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(temporary, path)


def _canonical(config: dict) -> dict:
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def _first_difference(recorded: object, wanted: object, path: str = "") -> str | None:
    if isinstance(recorded, dict) and isinstance(wanted, dict):
        for key in sorted(set(recorded) | set(wanted)):
            where = f"{path}.{key}" if path else key
            if key not in recorded or key not in wanted:
                return f"{where} present in only one config"
            found = _first_difference(recorded[key], wanted[key], where)
            if found:
                return found
        return None
    if recorded != wanted:
        return f"{path}={json.dumps(recorded)} (this run: {json.dumps(wanted)})"
    return None
