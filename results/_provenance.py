"""The provenance block at the top of the report: what the study ran with, from the
`<out>/provenance.json` the study wrote when it started (`study.run_info.write_provenance`).

Read with the standard library only (results does not import the study package); a folder
without the file says "provenance not recorded" instead of failing.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

PROVENANCE_FILE = "provenance.json"  # the name `study.run_info` writes
NOT_RECORDED = "provenance not recorded"


def read_provenance(out_dir: str | Path) -> dict | None:
    """The study's recorded provenance, or None when the folder holds none (or it is unreadable)."""
    path = Path(out_dir) / PROVENANCE_FILE
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return recorded if isinstance(recorded, dict) else None


def provenance_html(out_dir: str | Path) -> str:
    """The report's provenance block: a two-column table (or the "not recorded" note)."""
    recorded = read_provenance(out_dir)
    if recorded is None:
        return (
            f"<p class='note' id='provenance'>{NOT_RECORDED} (no readable {PROVENANCE_FILE} in "
            f"{html.escape(str(out_dir))}).</p>"
        )
    rows = [(label, text) for label, text in _fields(recorded) if text]
    body = "".join(
        f"<tr><th>{html.escape(label)}</th><td class='text'>{html.escape(text)}</td></tr>"
        for label, text in rows
    )
    return f"<table class='rows' id='provenance'><tbody>{body}</tbody></table>"


def _fields(recorded: dict) -> list[tuple[str, str]]:
    commit = str(recorded.get("git_commit") or "")
    if recorded.get("git_dirty"):
        commit += " (with uncommitted changes)"
    packages = recorded.get("packages") or {}
    machine = recorded.get("machine") or {}
    parts = [
        str(machine.get("cpu") or ""),
        f"{machine['cores']} cores" if machine.get("cores") else "",
        f"{machine['ram_gb']} GB RAM" if machine.get("ram_gb") else "",
        str(machine.get("os") or ""),
        f"host {machine['hostname']}" if machine.get("hostname") else "",
    ]
    return [
        ("command line", str(recorded.get("command_line") or "")),
        ("regcls version", str(recorded.get("regcls_version") or "")),
        ("git commit", commit),
        ("python", str(recorded.get("python_version") or "")),
        ("packages", " · ".join(f"{name} {v}" for name, v in packages.items())),
        ("machine", " · ".join(p for p in parts if p)),
        ("study started", str(recorded.get("started_at") or "")),
    ]
