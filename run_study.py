"""Run a regcls study: `regcls --study synthetic_1d --preset quick` (or `python run_study.py`).

Only argument parsing, `--list` and `--dry-run` happen here at import; Ray, torch and the
results stack (pyarrow, polars, plotly) are imported once a study runs or a report is built, so
`--help`, `--list` and `--dry-run` answer at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from study.options import LOGGERS, SEARCHES, StudyOptions
from study.output_folder import OutputFolderError
from study.registry import StudyEntry, get_study, studies

DESCRIPTION = "Run a regcls study: when does adding a classification loss help a regression model?"
EXAMPLES = """examples:
  regcls --list
      studies, presets and their model counts
  regcls --study synthetic_1d --preset paper --dry-run
      the plan: stages, models, Tune trials and ETA; starts and writes nothing
  regcls --study synthetic_1d --preset quick --out runs/mine
      run it (rows, tables, report.html); rerun with --resume if it was stopped
"""


def main(argv: list[str] | None = None) -> int:
    """The CLI: exit code 0, 2 (bad input, one line) or 130 (stopped by SIGTERM or Ctrl-C).

    SIGTERM stops like Ctrl-C from here on, also while the study still imports torch and Ray (a
    busy machine takes 5-40 s for that): one line and 130, not the default silent kill; the study
    installs its own handling once Ray runs (`study.cluster`).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("stopped: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    known = studies()
    args = _parser(known).parse_args(argv)
    if args.list:
        print(_listing(known))
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
            log=args.log,
            space_overrides=_with_lambdas(_space_overrides(args.space), args.lambdas, entry.name),
            command=_command(argv),
        )
        if args.dry_run and args.report_only:
            raise ValueError("--dry-run: plans a run; it cannot be combined with --report-only")
        entry.validate(options)
        if args.report_only and not any(options.out.glob("rows/*.parquet")):
            raise ValueError(f"--report-only: {options.out} holds no results rows to report")
        if args.dry_run:
            print(entry.dry_run(options))
            return 0
    except (ValueError, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summaries = None
    if not args.report_only:
        code, summaries = _run(entry, options)
        if code:
            return code
    return _report(entry, options, summaries)


def _run(entry: StudyEntry, options: StudyOptions) -> tuple[int, dict | None]:
    """Run the study: (0, what each Tune run did) when it finished, else (the exit code, None)
    with its one-line reason printed.

    When it gave up joining a Ray cluster (SIGTERM, Ctrl-C, no answer) it ends the process
    there, with that exit code: the join goes on in Ray's C++ client and a normal exit would
    race it (`study.cluster.exit_now_if_join_running`).
    """
    from results import DIR_ROW_SCHEMA, ROW_SCHEMA
    from study.cluster import exit_now_if_join_running
    from study.tune_runner import StudyInterrupted

    try:
        summaries = entry.run(options, DIR_ROW_SCHEMA if entry.kind == "dir" else ROW_SCHEMA)
    except (ValueError, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        exit_now_if_join_running(2)
        return 2, None
    except (StudyInterrupted, KeyboardInterrupt) as stop:
        # A run stopped before it claimed `--out` (e.g. while Ray was connecting) wrote nothing.
        hint = (
            "rerun with --resume"
            if (options.out / "study.json").exists()
            else f"nothing was written to {options.out}"
        )
        print(f"stopped: {str(stop) or 'interrupted'}; {hint}", file=sys.stderr)
        exit_now_if_join_running(130)
        return 130, None
    return 0, summaries


def _report(entry: StudyEntry, options: StudyOptions, summaries: dict | None) -> int:
    from results import (
        dir_report_sections,
        format_dir_tables_for_terminal,
        format_tables_for_terminal,
        read_dir_rows,
        read_rows,
        report_tables,
        write_dir_tables_csv,
        write_report,
        write_tables_csv,
    )

    rows = read_rows(options.out)
    title = f"regcls: {entry.name} ({options.preset})"
    if entry.kind == "dir":
        from results._render import terminal_blocks, write_csv_tables
        from results.dir.answer import standard_rows, stsb_answer_sections, stsb_answer_tables

        dir_rows = read_dir_rows(options.out)
        answer = stsb_answer_tables(dir_rows)  # every optimiser; the rest: Adam's rows only
        standard = standard_rows(dir_rows)
        sections = [*stsb_answer_sections(answer), *dir_report_sections(standard)]
        report = write_report(rows, options.out, title, sections)
        tables = write_dir_tables_csv(standard, options.out)
        tables += write_csv_tables(lambda: answer, options.out)
        print(format_dir_tables_for_terminal(standard))
        if answer["stsb_answer"].height:
            print(
                "\n".join(
                    terminal_blocks([("Does the CE term help? (STS-B-DIR)", answer["stsb_answer"])])
                )
            )
    elif entry.kind == "zoo":
        from results import (
            format_zoo_tables_for_terminal,
            write_zoo_tables_csv,
            zoo_report_sections,
            zoo_tables,
        )

        computed = zoo_tables(rows)  # once: the league's intervals are the costly part
        sections = zoo_report_sections(rows, computed)
        report = write_report(rows, options.out, title, sections, builtin=False)
        tables = write_zoo_tables_csv(rows, options.out, computed)
        print(format_zoo_tables_for_terminal(computed))
    elif entry.kind == "answer":
        from results.synthetic_1d.answer import answer_tables
        from results.synthetic_1d.answer_report import (
            answer_report_sections,
            format_answer_tables_for_terminal,
            write_answer_tables_csv,
        )

        computed = answer_tables(rows)  # once: the intervals are the costly part
        sections = answer_report_sections(rows, computed)
        report = write_report(rows, options.out, title, sections, builtin=False)
        tables = write_answer_tables_csv(rows, options.out, computed)
        print(format_answer_tables_for_terminal(computed))
    else:
        computed = report_tables(rows)  # once: its intervals are the costly part
        report = write_report(rows, options.out, title=title, tables=computed)
        tables = write_tables_csv(rows, options.out, tables=computed)
        print(format_tables_for_terminal(rows, tables=computed))
    print(f"tables: {', '.join(str(t) for t in tables) or '(none: every table is empty)'}")
    if summaries is None:  # --report-only
        print(f"{len(rows)} result rows in {options.out / 'rows'}")
        print(f"report: {report.resolve()}")
        return 0
    from study.closing import format_closing_summary

    print(format_closing_summary(summaries, len(rows), report, options.out))
    return 0


class _OneLineErrors(argparse.ArgumentParser):
    """argparse with bad input as one line (no usage block), exit code 2, like every other error
    of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (unless it has none), keeps the epilog's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def _parser(known: dict[str, StudyEntry]) -> argparse.ArgumentParser:
    presets = sorted({name for entry in known.values() for name in entry.presets})
    parser = _OneLineErrors(
        prog="regcls", description=DESCRIPTION, epilog=EXAMPLES, formatter_class=_HelpFormatter
    )
    # Choices are shown, and checked by the study (one line naming the study's own presets).
    parser.add_argument(
        "--study", default="synthetic_1d", metavar=f"{{{','.join(known)}}}", help="study to run"
    )
    parser.add_argument(
        "--preset",
        default="quick",
        metavar=f"{{{','.join(presets)}}}",
        help="size of the study (synthetic_1d: paper, quick; see --list)",
    )
    parser.add_argument(
        "--search",
        default="grid",
        metavar=f"{{{','.join(SEARCHES)}}}",
        help="the paper's grids, or TPE + ASHA over lambda and lr (synthetic_1d only)",
    )
    parser.add_argument("--out", help="output folder (default runs/<study>-<preset>-<search>)")
    parser.add_argument(
        "--address", help="existing Ray cluster: host:port of its head, or auto (default: local)"
    )
    parser.add_argument("--resume", action="store_true", help="continue a study in --out")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report only")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (stages, models, trials, ETA) and exit; starts and writes nothing",
    )
    parser.add_argument("--list", action="store_true", help="list studies and presets")
    parser.add_argument("--space", help="JSON file overriding fields of the preset's grid")
    parser.add_argument(
        "--lambdas",
        help="synthetic_1d: test (and noise) stages at these lambdas, no lambda search, e.g. "
        "clean=1e2,noisy=1e3 or clean/balanced=10; the grid's scenarios become the ones named",
    )
    parser.add_argument("--data-root", help="dataset folder for the real-data studies")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the embedded local Ray")
    parser.add_argument("--gpu-fraction", type=float, default=0.1, help="GPU share per trial")
    parser.add_argument("--max-failures", type=int, default=2, help="retries of a failed trial")
    parser.add_argument("--no-dashboard", action="store_true", help="start Ray without dashboard")
    parser.add_argument("--dashboard-host", default="127.0.0.1", help="dashboard bind address")
    parser.add_argument(
        "--log",
        default="none",
        metavar=f"{{{','.join(LOGGERS)}}}",
        help="experiment logging through Tune's callbacks (tensorboard: event files per trial "
        "under --out/tune; needs tensorboardX)",
    )
    return parser


def _command(argv: list[str] | None) -> tuple[str, ...]:
    """The command line as typed (from a shell), or as `main` was called (from Python)."""
    return tuple(sys.argv) if argv is None else ("run_study.main", *argv)


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


def _with_lambdas(overrides: dict, text: str | None, study: str) -> dict:
    """`--space` overrides plus `--lambdas` as `given_lambdas` (and, unless `--space` sets them,
    the scenarios the lambdas name and, for synthetic_1d, the controls without reg-tuned, whose
    weight decay would need a validation search: `--lambdas` runs no search)."""
    if text is None:
        return overrides
    if study not in ("synthetic_1d", "synthetic_1d_sensitivity", "synthetic_1d_zoo"):
        raise ValueError(
            "--lambdas: only synthetic_1d, synthetic_1d_sensitivity and synthetic_1d_zoo take "
            f"given lambdas, not {study}"
        )
    given: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        try:
            given[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise ValueError(
                "--lambdas: expected scenario=value[,scenario/class_mode=value...] "
                f"(e.g. clean=1e2,noisy=1e3), got {item!r}"
            )
    scenarios = list(dict.fromkeys(key.split("/")[0] for key in given))
    implied: dict[str, object] = {"scenarios": scenarios}
    if study == "synthetic_1d":
        implied["controls"] = ["reg-scaled", "cls-only"]
    return {**implied, **overrides, "given_lambdas": given}


def _listing(known: dict[str, StudyEntry]) -> str:
    lines = []
    for entry in known.values():
        lines.append(f"{entry.name}: {entry.description}")
        lines.extend(f"  --preset {name}: {text}" for name, text in entry.presets.items())
    lines.append(
        "searches: grid (the paper's grids; every study), optuna (TPE + ASHA over lambda and lr; "
        "synthetic_1d only)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
