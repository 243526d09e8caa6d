"""The study's outputs for people: one self-contained HTML report, CSV tables, terminal tables.

`report.html` inlines plotly.js once (with the first figure), so it opens offline; every later
figure, and any `extra_sections` HTML holding plotly divs, reuses that bundle.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from results._provenance import provenance_html
from results._render import (
    details,
    figure_div,
    html_table,
    note,
    terminal_blocks,
    write_csv_tables,
)
from results._tables import check_frame
from results.synthetic_1d import (
    analysis,
    control_figures,
    controls,
    figures,
    paired_figures,
    sensitivity,
    sensitivity_figures,
)
from results.synthetic_1d.glance import glance_lines
from results.synthetic_1d.optuna_views import optuna_views_section
from results.synthetic_1d.schema import empty_rows

_VERSION_COLUMNS = (
    "torch_version",
    "ray_version",
    "numpy_version",
    "python_version",
    "regcls_version",
    "git_commit",
    "device",
    "dtype",
    "backend",
    "hostname",
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1300px; color: #222; }
h1 { margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 1px solid #ccc; }
table.rows { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px 0; }
table.rows th, table.rows td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.rows th { background: #f3f3f3; } table.rows td.text { text-align: left; }
p.note { color: #555; font-size: 14px; max-width: 1000px; }
nav a { margin-right: 14px; } .figure { margin: 8px 0 24px 0; }
details summary { cursor: pointer; color: #335; }
div.wide { overflow-x: auto; max-width: 100%; }
#table1 { font-size: 12px; } #table1 th { white-space: normal; overflow-wrap: anywhere; }
#provenance th { text-align: left; } #provenance td { overflow-wrap: anywhere; }
"""


def write_report(
    df: pl.DataFrame,
    out_dir: str | Path,
    title: str = "regcls report",
    extra_sections: Sequence[tuple[str, str]] | None = None,
    *,
    tables: Mapping[str, pl.DataFrame] | None = None,
    builtin: bool = True,
) -> Path:
    """Write `<out_dir>/report.html` with every figure and table of the rows; return its path.

    At the top, the study's provenance from `<out_dir>/provenance.json` ("provenance not
    recorded" without it). Sections: run summary (row counts by stage x status, the grid and the
    package versions recorded in the rows), "Which protocol choice moves the answer?" (only
    when rows with a protocol flip exist: the sensitivity study; every later section then shows
    its rows without a flip), Table 1 (ours beside the paper's), Figure 4, the lambda
    selection, Figure 3 with its gaps, Figure 5 (each figure comparing reg+cls with reg
    followed by its paired view, `results.synthetic_1d.paired_figures`), Optuna vs grid (only
    when Optuna rows exist), Optuna's own views (only when `<out_dir>/optuna/figures/*.json`
    exist), then `extra_sections` as given: (title, HTML fragment) pairs for other studies;
    their plotly figures should use `include_plotlyjs=False`, the page already holds plotly.js.
    `tables`: `report_tables(df)` when the caller has it already (its intervals are
    the costly part). `builtin=False` leaves out every built-in section after the run summary
    (a study with its own analysis, e.g. the method zoo); the first figure of `extra_sections`
    must then inline plotly.js.

    Example:
        >>> write_report(read_rows("runs/x"), "runs/x", title="regcls: synthetic_1d (quick)")
    """
    check_frame(df, "results rows")
    extra = _check_sections(extra_sections)
    if df.width == 0:
        df = empty_rows()
    out = Path(out_dir)
    sections = extra
    if builtin:
        sections = [*_sections(df, report_tables(df) if tables is None else tables, out), *extra]
    page = _page(title, df, sections, provenance_html(out))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    temporary = out / f".report.html.{os.getpid()}.tmp"
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, path)
    return path


def report_tables(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Every table of the report by file stem (the CSV names of `write_tables_csv`).

    `sensitivity` compares the protocol flips with their baseline; every other table is of the
    rows without a flip (all rows of a study that has none).
    """
    flips = df
    df = sensitivity.baseline_rows(df)
    helps = analysis.helps_table(df)
    stats = controls.helps_stats(df)
    return {
        "row_counts": analysis.row_counts(df),
        "table1_helps": helps,
        "table1_vs_paper": analysis.helps_vs_paper(helps),
        "figure4_lambda_curves": analysis.lambda_curves(df),
        "selected_lambdas": analysis.selected_lambdas(df),
        "figure3_classes_curves": analysis.classes_curves(df),
        "figure3_gaps": analysis.gaps(df),
        "figure3_helps": analysis.helps_on_test(df),
        "figure5_helps": analysis.helps_on_test(df, "noise"),
        "figure5_noise_curves": analysis.noise_curves(df),
        "figure4_paired": paired_figures.paired_table(df, "figure4"),
        "figure3_paired": paired_figures.paired_table(df, "figure3"),
        "figure5_paired": paired_figures.paired_table(df, "figure5"),
        "optuna_trials": analysis.optuna_trials(df),
        "optuna_vs_grid": analysis.optuna_vs_grid(df),
        "helps_stats": stats,
        "what_helps": controls.what_helps(df, stats),
        "what_helps_by_lambda": controls.what_helps_by_lambda(df, stats),
        "gain_shares": controls.gain_shares(df),
        "l_extra": controls.l_extra_table(df),
        "helps_by_accuracy": controls.helps_by_accuracy(df),
        "sensitivity": sensitivity.flip_effects(flips),
    }


def write_tables_csv(
    df: pl.DataFrame, out_dir: str | Path, *, tables: Mapping[str, pl.DataFrame] | None = None
) -> list[Path]:
    """One CSV per non-empty report table under `<out_dir>/tables/` (empty ones write none);
    `tables`: `report_tables(df)` when the caller has it already."""
    return write_csv_tables(lambda: report_tables(df) if tables is None else tables, out_dir)


def format_tables_for_terminal(
    df: pl.DataFrame, *, tables: Mapping[str, pl.DataFrame] | None = None
) -> str:
    """Table 1 beside the paper's, the lambdas chosen on validation and the Figure 3 gaps (and,
    first, the sensitivity study's flip effects when its rows are given); `tables`:
    `report_tables(df)` when the caller has it already."""
    tables = report_tables(df) if tables is None else tables
    helps = tables["table1_helps"]
    selected = tables["selected_lambdas"]
    glance = glance_lines(tables)
    blocks = _sensitivity_block(tables["sensitivity"]) + [
        (
            "Table 1: % of validation runs where reg+cls beats its paired reg (ours | paper)",
            _rounded(analysis.helps_vs_paper(helps), 2),
        ),
        (
            "Table 1 counts (pairs, functions = independent units, 95% interval over functions, "
            "diverged reg+cls = not helping, failed)",
            _rounded(
                helps.select(
                    "scenario",
                    "class_mode",
                    "sampling",
                    "n_pairs",
                    "n_clusters",
                    "n_helps",
                    "ci_low",
                    "ci_high",
                    "n_diverged_a",
                    "n_diverged_b",
                    "n_dropped",
                    "n_failed",
                ).filter(pl.col("sampling") == analysis.AVERAGE),
                2,
            ),
        ),
        (
            "Lambda chosen on validation (and used by the test stage)"
            + _edge_note(selected, lambda text: f"\n{text}"),
            selected,
        ),
        ("Figure 3 gaps: mean over C of |MSE reg - MSE reg+cls(C)|", tables["figure3_gaps"]),
        (
            "Test: % of pairs where reg+cls beats reg, and mean MSE gain, at the chosen lambda",
            _rounded(tables["figure3_helps"], 4),
        ),
    ]
    what = tables["what_helps"]
    if what.height:
        blocks.append(
            (
                "What helps: CE or scale? (test, pooled over C; mean_diff = MSE A - MSE B, "
                "negative: A better; 95% intervals over functions, n_clusters)",
                _rounded(
                    what.select(
                        "scenario",
                        "sampling",
                        "comparison",
                        "n_pairs",
                        "n_clusters",
                        "pct_wins",
                        "ci_low",
                        "ci_high",
                        "p_holm",
                        "mean_diff",
                        "mean_diff_ci_low",
                        "mean_diff_ci_high",
                        "verdict",
                    ),
                    4,
                ),
            )
        )
    comparison = tables["optuna_vs_grid"]
    if comparison.height:
        blocks.append(("Optuna vs grid", comparison))
    head = ["At a glance (95% intervals over target functions, the independent units):"]
    head += [f"- {line}" for line in glance]
    return "\n\n".join(["\n".join(head)] * bool(glance) + terminal_blocks(blocks))


def _edge_note(selected: pl.DataFrame, render: Callable[[str], str]) -> str:
    """A one-line warning, rendered by `render`, when a chosen lambda is at the grid's edge."""
    edge = selected.filter(pl.col("at_grid_edge").fill_null(False))
    if edge.height == 0:
        return ""
    cells = ", ".join(f"{s}/{m}" for s, m in edge.select("scenario", "class_mode").iter_rows())
    return render(
        f"Note: λ chosen at the edge of the grid ({cells}); the best λ may lie outside the "
        "grid searched."
    )


def _sensitivity_block(effects: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    if effects.height == 0:
        return []
    title = (
        "Which protocol choice moves the answer? % of pairs where reg+cls beats reg and mean "
        "gain mse_reg - mse_reg+cls, paper defaults (base) vs one flip, pooled over C; 95% "
        "intervals of the change over functions (none below 6 functions; reg+cls-balanced: "
        "tables/sensitivity.csv)"
    )
    columns = (
        "flip",
        "variant",
        "scenario",
        "sampling",
        "pct_wins_base",
        "pct_wins_flip",
        "d_pct_wins",
        "d_pct_wins_ci_low",
        "d_pct_wins_ci_high",
        "d_gain",
        "d_gain_ci_low",
        "d_gain_ci_high",
    )
    main = effects.filter(pl.col("variant") == "reg+cls").select(columns).drop("variant")
    return [(title, _rounded(main, 4))]


def _sections(
    df: pl.DataFrame, tables: Mapping[str, pl.DataFrame], out_dir: Path
) -> list[tuple[str, str]]:
    """(title, HTML) of the built-in sections; the first figure carries plotly.js."""
    figure_html = _FigureWriter()
    flipped = _sensitivity_section(df, tables["sensitivity"], figure_html)
    df = sensitivity.baseline_rows(df)
    sections = (
        _glance_section(tables)
        + flipped
        + [
            (
                "Table 1: does classification help? (validation)",
                note(
                    "Percentage of lambda-search runs where reg+cls has a lower validation MSE "
                    "than the reg model trained on the same data, over C × λ × functions × seeds "
                    "(ties half). A diverged model loses on either side; a failed trial drops "
                    "its pair. Columns: class mode / scenario; 'paper' columns are the published "
                    "Table 1. The pairs are not independent (one reg per function and seed "
                    "serves every C and λ): the counts give the 95% interval over target "
                    "functions (n_clusters) and the sign-flip test of 50%; the bars' error bars "
                    "show it. The per-pair MSE differences are drawn in Figure 4's paired views."
                )
                + html_table(_rounded(tables["table1_vs_paper"], 2), table_id="table1")
                + figure_html(figures.plot_helps_table(df), "table1")
                + details("Counts per cell", _table(tables["table1_helps"])),
            ),
            (
                "Figure 4: effect of λ on validation",
                figure_html(figures.plot_lambda_curves(df, "imbalanced"), "figure4-imbalanced")
                + _paired_note("validation")
                + figure_html(
                    paired_figures.plot_lambda_pairs(df, "imbalanced"), "figure4-imbalanced-paired"
                )
                + figure_html(figures.plot_lambda_curves(df, "balanced"), "figure4-balanced")
                + figure_html(
                    paired_figures.plot_lambda_pairs(df, "balanced"), "figure4-balanced-paired"
                )
                + details("Figure 4 data", _table(tables["figure4_lambda_curves"]))
                + _paired_details("Figure 4", tables["figure4_paired"]),
            ),
            (
                "λ chosen on validation",
                note(
                    "Per scenario and class mode, the λ with the lowest mean validation MSE over "
                    "samplings × C × functions × seeds (finished models); test_lam is the λ the "
                    "test-stage rows used; at_grid_edge: the chosen λ is the grid's smallest or "
                    "largest."
                )
                + _table(tables["selected_lambdas"])
                + _edge_note(tables["selected_lambdas"], note),
            ),
            (
                "Figure 3: test MSE vs number of classes",
                figure_html(figures.plot_classes_curves(df), "figure3")
                + _paired_note("test")
                + figure_html(paired_figures.plot_classes_pairs(df), "figure3-paired")
                + _paired_details("Figure 3", tables["figure3_paired"])
                + note("Gap = mean over C of |mean MSE reg − mean MSE reg+cls(C)|.")
                + _table(tables["figure3_gaps"])
                + note(
                    "How often and by how much classification helps on test, at the λ chosen on "
                    "validation: % of reg+cls models with a lower test MSE than their paired reg "
                    "model (ties half), and gain_pct = 100 × (mean MSE reg − mean MSE reg+cls) / "
                    "mean MSE reg; 95% intervals over target functions (n_clusters; gain_ci in "
                    "MSE)."
                )
                + _table(_rounded(tables["figure3_helps"], 4))
                + details("Figure 3 data", _table(tables["figure3_classes_curves"])),
            ),
            (
                "Figure 5: effect of noisy targets",
                figure_html(figures.plot_noise_curves(df), "figure5")
                + _paired_note("test")
                + figure_html(paired_figures.plot_classes_pairs(df, "noise"), "figure5-paired")
                + _paired_details("Figure 5", tables["figure5_paired"])
                + _table(_rounded(tables["figure5_helps"], 4))
                + details("Figure 5 data", _table(tables["figure5_noise_curves"])),
            ),
            (
                "What helps: CE or scale?",
                note(
                    "Controls trained on the same data as each reg+cls model: reg-scaled (λ·MSE, "
                    "no class head, at the λ and lr of reg+cls), so reg+cls vs reg-scaled "
                    "isolates the CE term; reg-scaled vs reg shows what the loss scale alone "
                    "does (with Adam, λ·MSE trains like MSE with weight decay wd/λ). Test stage, "
                    "pooled over C. Every interval (95%) and test is over target functions, the "
                    "independent units (n_clusters; one reg per function and seed serves every "
                    "C): the sign-flip test over functions, inverted "
                    "(results/cluster_inference.py); none below 6 functions (—). p_holm: Holm "
                    "over the comparisons of one cell. share = (gain of reg+cls over reg − gain "
                    "of reg-scaled over reg) / gain of reg+cls over reg, the part the CE term "
                    "carries, with its joint interval over functions (null where the gain over "
                    "reg is not distinguishable from 0). An interval covering 0 is no evidence "
                    "of no effect: the verdict gives the bound the data still allow, and "
                    "'equivalent' only where TOST at ±10% of B's mean MSE rejects "
                    "(p_equivalence)."
                )
                + figure_html(
                    control_figures.plot_what_helps(df, tables["what_helps"]), "what-helps"
                )
                + _table(_rounded(tables["what_helps"], 4))
                + note("Does A add anything beyond a control? (gain_shares.csv)")
                + _table(_rounded(tables["gain_shares"], 4))
                + details(
                    "At every λ of the grid (validation, pooled over C: what_helps_by_lambda.csv)",
                    _table(_rounded(tables["what_helps_by_lambda"], 4)),
                )
                + details(
                    "Every paired comparison (helps_stats.csv: reg-tuned, cls-only, balanced "
                    "classes, per C, noise stage, per λ and weight decay of the lambda search, "
                    "Table 1 cells)",
                    _table(_rounded(tables["helps_stats"], 4)),
                ),
            ),
            (
                "Does the paper's explanation hold?",
                note(
                    "L_extra (Eq. 8) at the end of training on the test set: log p̃(y) − log ∫ "
                    "N(y'; ŷ, σ²) p̃(y') dy', p̃ the training-target histogram, σ² the model's "
                    "own training MSE. With that σ², Eq. 8 is mechanically tied to the MSE: a "
                    "model that fits better has a sharper Gaussian, which moves L_extra by "
                    "itself, so a change in L_extra that tracks the change in MSE is no evidence "
                    "for the paper's mechanism. Per scenario × sampling: the paired change in "
                    "L_extra (A − B) beside the paired change in test MSE (95% intervals over "
                    "functions), and their Spearman rank correlation: across all pairs (point "
                    "estimate) and within functions (mean over functions, with its interval). If "
                    "the CE term helps by shrinking L_extra, reg+cls should lower it where "
                    "reg-scaled does not."
                )
                + figure_html(control_figures.plot_l_extra(df), "l-extra")
                + _table(_rounded(tables["l_extra"], 4))
                + note(
                    "% of pairs where reg+cls beats reg per quartile of its classifier's test "
                    "accuracy, per scenario and C (quartiles within each C: accuracy falls with C, "
                    "so pooled quartiles would sort by C), pooled over samplings; 95% intervals "
                    "over functions."
                )
                + _table(_rounded(tables["helps_by_accuracy"], 4)),
            ),
        ]
    )
    return (
        sections
        + _optuna_section(df, tables, figure_html)
        + optuna_views_section(out_dir, figure_html)
    )


def _paired_note(split: str) -> str:
    return note(
        f"Paired view below the raw curves: each point is one reg+cls model's {split} MSE minus "
        "that of the reg model trained on the same data (same function, seed, sampling); the "
        "line is the mean over the pairs with its 95% interval over target functions, the "
        "independent units (the seeds of one function move together; sign-flip test over "
        "functions, inverted; no interval below 6 functions). Below 0: reg+cls better. An "
        "effect hidden under overlapping ±1 std bands shows here when the pairs move together."
    )


def _paired_details(figure: str, table: pl.DataFrame) -> str:
    return details(
        f"{figure} paired differences (mean reg+cls − reg, 95% interval over functions)",
        _table(_rounded(table, 6)),
    )


_GLANCE = "At a glance"


def _glance_section(tables: Mapping[str, pl.DataFrame]) -> list[tuple[str, str]]:
    """ "At a glance": the study's claims, one line each (`glance.glance_lines`)."""
    lines = glance_lines(tables)
    if not lines:
        return []
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return [
        (
            _GLANCE,
            note(
                "Each claim with its 95% interval and its number of independent units (target "
                "functions: models sharing a baseline or a function are not independent). "
                "Verdict words follow results/verdicts.py; '—' marks too few units for a 95% "
                "interval."
            )
            + f"<ul class='glance'>{items}</ul>",
        )
    ]


def _optuna_section(
    df: pl.DataFrame, tables: dict[str, pl.DataFrame], figure_html: _FigureWriter
) -> list[tuple[str, str]]:
    """Optuna vs grid, when the rows hold Optuna trials (a grid run has none: no section)."""
    if tables["optuna_trials"].height == 0 and tables["optuna_vs_grid"].height == 0:
        return []
    return [
        (
            "Optuna vs grid",
            figure_html(figures.plot_optuna_vs_grid(df), "optuna")
            + _table(tables["optuna_vs_grid"])
            + details("Optuna trials", _table(tables["optuna_trials"])),
        )
    ]


def _sensitivity_section(
    df: pl.DataFrame, effects: pl.DataFrame, figure_html: _FigureWriter
) -> list[tuple[str, str]]:
    """The sensitivity study's section, when the rows hold protocol flips (else none)."""
    if effects.height == 0:
        return []
    return [
        (
            "Which protocol choice moves the answer?",
            note(
                "The paper's defaults (flip none) against one choice at a time set to the "
                "authors' code (authors_code_choices.md), on the same slice, lambdas, functions "
                "and seeds. Each reg+cls model is paired with the reg model of its own flip and "
                "data. Per flip: the change (flip − defaults) in the % of pairs where reg+cls "
                "beats reg (d_pct_wins, percentage points) and in the mean paired gain "
                "mse_reg − mse_reg+cls (d_gain; positive gain: reg+cls better), pooled over C. "
                "Intervals: 95% over target functions, jointly for defaults and flip (the "
                "sign-flip test over functions, inverted; none below 6 functions). "
                "reg+cls-balanced rows show the flips that act on balanced classes (Eq. 12 "
                "rounding). Not available as a flip: the authors' own reg model per pair. The "
                "sections below show the rows of the paper's defaults only."
            )
            + figure_html(sensitivity_figures.plot_sensitivity(df, effects), "sensitivity")
            + _table(_rounded(effects, 4)),
        )
    ]


class _FigureWriter:
    """Turns figures into divs; only the first one inlines the plotly.js bundle."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, figure: go.Figure, name: str) -> str:
        self.count += 1
        return figure_div(figure, f"figure-{name}", include_plotlyjs=self.count == 1)


def _page(title: str, df: pl.DataFrame, sections: list[tuple[str, str]], provenance: str) -> str:
    # The report opens with "At a glance", before the provenance and the run summary.
    glance = "".join(
        f"<section id='at-a-glance'><h2>{html.escape(t)}</h2>{content}</section>\n"
        for t, content in sections
        if t == _GLANCE
    )
    sections = [(t, content) for t, content in sections if t != _GLANCE]
    anchors = [f"section-{i}" for i in range(len(sections))]
    nav = " ".join(
        f'<a href="#{a}">{html.escape(t)}</a>' for a, (t, _) in zip(anchors, sections, strict=True)
    )
    body = "\n".join(
        f'<section id="{a}"><h2>{html.escape(t)}</h2>\n{content}</section>'
        for a, (t, content) in zip(anchors, sections, strict=True)
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1><p class='note'>{len(df)} results rows; "
        f"report generated {generated}.</p>\n{glance}"
        f"<section id='provenance-block'><h2>Provenance</h2>{provenance}</section>\n"
        f"<nav>{nav}</nav>\n"
        f"<section id='summary'><h2>Run summary</h2>{_summary(df)}</section>\n{body}\n"
        "</body></html>\n"
    )


def _summary(df: pl.DataFrame) -> str:
    counts = analysis.row_counts(df)
    by_stage = (
        counts.pivot(on="status", index=["study", "stage"], values="n_rows").fill_null(0)
        if counts.height
        else counts
    )
    return (
        "<h3>Rows by stage and status</h3>"
        + _table(by_stage)
        + "<h3>Grid in the rows</h3>"
        + _table(_grid_summary(df))
        + "<h3>Run environment</h3>"
        + _table(_versions(df))
    )


def _grid_summary(df: pl.DataFrame) -> pl.DataFrame:
    """Per stage, the distinct values of the main config columns (the study config at a glance)."""
    listed = {
        "flip": "flips",
        "scenario": "scenarios",
        "sampling": "samplings",
        "noise_sigma": "noise σ",
        "num_classes": "C",
        "lam": "λ",
        "lr": "lr",
        "seed": "seeds",
        "epochs": "epochs",
        "total_samples": "samples",
    }
    out = []
    for (stage,), rows in df.group_by("stage", maintain_order=True):
        record = {"stage": stage, "models": str(rows.height)}
        record["functions"] = str(rows["function_id"].n_unique())
        for column, label in listed.items():
            values = sorted(rows[column].drop_nulls().unique().to_list(), key=_sort_key)
            record[label] = (
                f"{_short(values[0])} … {_short(values[-1])} ({len(values)} values)"
                if len(values) > 8
                else ", ".join(_short(v) for v in values)
            )
        out.append(record)
    return pl.DataFrame(out) if out else pl.DataFrame({"stage": []}, schema={"stage": pl.String})


def _versions(df: pl.DataFrame) -> pl.DataFrame:
    columns = [c for c in _VERSION_COLUMNS if c in df.columns]
    records = [
        {"field": c, "values": ", ".join(str(v) for v in sorted(df[c].drop_nulls().unique()))}
        for c in columns
    ]
    if "finished_at" in df.columns and df["finished_at"].drop_nulls().len():
        times = df["finished_at"].drop_nulls()
        records.append({"field": "finished_at", "values": f"{times.min()} … {times.max()}"})
    if "wall_time_s" in df.columns:
        total = df["wall_time_s"].drop_nulls().sum()
        records.append({"field": "training time (sum over models)", "values": f"{total:.0f} s"})
    return pl.DataFrame(records, schema={"field": pl.String, "values": pl.String})


def _table(frame: pl.DataFrame) -> str:
    """A table that scrolls inside its own box when wider than the page (all but Table 1, which
    is laid out to fit a 1400 px window)."""
    return f"<div class='wide'>{html_table(frame)}</div>"


def _rounded(frame: pl.DataFrame, digits: int) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Float64).round(digits))


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _sort_key(value: object) -> tuple:
    return (0, value, "") if isinstance(value, int | float) else (1, 0, str(value))


def _check_sections(extra: Sequence[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """extra_sections must be (title, html) string pairs."""
    if extra is None:
        return []
    checked = []
    for item in extra:
        if not (
            isinstance(item, tuple) and len(item) == 2 and all(isinstance(s, str) for s in item)
        ):
            raise ValueError("extra_sections: expected a list of (title, html) string pairs")
        checked.append(item)
    return checked
