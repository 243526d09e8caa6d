"""Run a regcls study: `python run_study.py --study synthetic_1d --preset quick`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from results import (
    DIR_ROW_SCHEMA,
    ROW_SCHEMA,
    dir_report_sections,
    format_dir_tables_for_terminal,
    format_tables_for_terminal,
    read_dir_rows,
    read_rows,
    write_dir_tables_csv,
    write_report,
    write_tables_csv,
)
from study.options import StudyOptions
from study.output_folder import OutputFolderError
from study.registry import get_study, studies
from study.tune_runner import StudyInterrupted


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        print(_listing())
        return 0
    try:
        entry = get_study(args.study)
        if args.preset not in entry.presets:
            raise ValueError(
                f"--preset: unknown preset {args.preset!r} for {entry.name}; "
                f"valid presets: {', '.join(entry.presets)}"
            )
        options = StudyOptions(
            study=entry.name,
            preset=args.preset,
            out=Path(args.out or f"runs/{entry.name}-{args.preset}-{args.search}"),
            search=args.search,
            address=args.address,
            resume=args.resume,
            num_cpus=args.num_cpus,
            dashboard=not args.no_dashboard,
            dashboard_host=args.dashboard_host,
            gpu_fraction=args.gpu_fraction,
            max_failures=args.max_failures,
            data_root=Path(args.data_root) if args.data_root else None,
            space_overrides=_space_overrides(args.space),
        )
        entry.validate(options)
        if args.report_only and not any(options.out.glob("rows/*.parquet")):
            raise ValueError(f"--report-only: {options.out} holds no results rows to report")
    except (ValueError, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.report_only:
        try:
            entry.run(options, DIR_ROW_SCHEMA if entry.kind == "dir" else ROW_SCHEMA)
        except (ValueError, OutputFolderError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except (StudyInterrupted, KeyboardInterrupt) as stop:
            print(f"stopped: {str(stop) or 'interrupted'}; rerun with --resume", file=sys.stderr)
            return 130
    rows = read_rows(options.out)
    title = f"regcls: {entry.name} ({options.preset})"
    if entry.kind == "dir":
        dir_rows = read_dir_rows(options.out)
        report = write_report(rows, options.out, title, dir_report_sections(dir_rows))
        tables = write_dir_tables_csv(dir_rows, options.out)
        print(format_dir_tables_for_terminal(dir_rows))
    else:
        report = write_report(rows, options.out, title=title)
        tables = write_tables_csv(rows, options.out)
        print(format_tables_for_terminal(rows))
    print(f"{len(rows)} result rows in {options.out / 'rows'}")
    print(f"tables: {', '.join(str(t) for t in tables)}")
    print(f"report: {report.resolve()}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--study", default="synthetic_1d", help="study to run (see --list)")
    parser.add_argument("--preset", default="quick", help="preset of the study (see --list)")
    parser.add_argument("--search", default="grid", help="grid | optuna")
    parser.add_argument("--out", help="output folder (default runs/<study>-<preset>-<search>)")
    parser.add_argument("--address", help="address of an existing Ray cluster (default: local)")
    parser.add_argument("--resume", action="store_true", help="continue a study in --out")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report only")
    parser.add_argument("--list", action="store_true", help="list studies and presets")
    parser.add_argument("--space", help="JSON file overriding fields of the preset's grid")
    parser.add_argument("--data-root", help="dataset folder for the real-data studies")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the embedded local Ray")
    parser.add_argument("--gpu-fraction", type=float, default=0.1, help="GPU share per trial")
    parser.add_argument("--max-failures", type=int, default=2, help="retries of a failed trial")
    parser.add_argument("--no-dashboard", action="store_true", help="start Ray without dashboard")
    parser.add_argument("--dashboard-host", default="127.0.0.1", help="dashboard bind address")
    return parser


def _space_overrides(path: str | None) -> dict:
    if not path:
        return {}
    try:
        overrides = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--space: cannot read JSON from {path}: {error}") from None
    if not isinstance(overrides, dict):
        raise ValueError(f"--space: {path} must hold a JSON object of preset fields")
    return overrides


def _listing() -> str:
    lines = []
    for entry in studies().values():
        lines.append(f"{entry.name}: {entry.description}")
        lines.extend(f"  --preset {name}: {text}" for name, text in entry.presets.items())
    lines.append("searches: grid (the paper's grids), optuna (TPE + ASHA over lambda and lr)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
