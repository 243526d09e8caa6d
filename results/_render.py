"""Rendering pieces shared by the synthetic-1D (`results.synthetic_1d.report`) and DIR
(`results.dir.report`) outputs: figure divs and HTML tables of the report page, CSV tables, terminal
tables.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

_PLOT_CONFIG = {"displaylogo": False, "responsive": False}


def figure_div(figure: go.Figure, div_id: str, include_plotlyjs: bool) -> str:
    """A figure as a report div; only the page's first figure should inline plotly.js."""
    div = figure.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        div_id=div_id,
        config=_PLOT_CONFIG,
    )
    return f'<div class="figure">{div}</div>'


def html_table(frame: pl.DataFrame, table_id: str | None = None) -> str:
    """A frame as an HTML table (floats to 4 significant digits; null, NaN and "" as "—"),
    with the HTML id `table_id` when given."""
    if frame.height == 0:
        return "<p class='note'>(no rows)</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    text = {c for c, t in frame.schema.items() if t == pl.String}
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='text'>{_cell(v)}</td>" if c in text else f"<td>{_cell(v)}</td>"
            for c, v in zip(frame.columns, row, strict=True)
        )
        + "</tr>"
        for row in frame.iter_rows()
    )
    ident = f" id='{html.escape(table_id)}'" if table_id else ""
    return f"<table class='rows'{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def note(text: str) -> str:
    return f"<p class='note'>{html.escape(text)}</p>"


def details(summary: str, content: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{content}</details>"


def write_csv_tables(
    make_tables: Callable[[], Mapping[str, pl.DataFrame]], out_dir: str | Path
) -> list[Path]:
    """One CSV per table of `make_tables()` under `<out_dir>/tables/`, named by its key.

    The folder is made first, then the tables. An empty table writes no file (and removes the file
    of that name an earlier run left), so every CSV returned holds rows.
    """
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in make_tables().items():
        path = folder / f"{name}.csv"
        if table.height == 0:
            path.unlink(missing_ok=True)
            continue
        table.write_csv(path)
        paths.append(path)
    return paths


def terminal_blocks(blocks: Sequence[tuple[str, pl.DataFrame]]) -> list[str]:
    """Each (heading, frame) as text: the heading over the whole frame, or "(no rows)"."""
    parts = []
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=400,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=60,
    ):
        for heading, frame in blocks:
            parts.append(f"{heading}\n{frame if frame.height else '(no rows)'}")
    return parts


EMPTY_CELL = "—"


def _cell(value: object) -> str:
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return EMPTY_CELL
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))
