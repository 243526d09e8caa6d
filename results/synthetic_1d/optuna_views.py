"""Optuna's own views in the report: the Plotly figures the study wrote from its Optuna storage
(optimisation history, parameter importances, slice plots) as `<out>/optuna/figures/*.json`
(`fig.to_json()`), embedded as they are. No such files (a grid run): no section.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from results._plotting import WIDTH

FIGURES_FOLDER = Path("optuna") / "figures"
SECTION_TITLE = "Optuna's own views"


def optuna_figures(out_dir: str | Path) -> list[tuple[str, go.Figure | str]]:
    """(file stem, figure) per `<out_dir>/optuna/figures/*.json`, sorted by name; a file that
    is not a Plotly figure gives (stem, its one-line error) instead."""
    folder = Path(out_dir) / FIGURES_FOLDER
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            figure = pio.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            found.append((path.stem, f"{path.name}: not a Plotly figure ({error})"))
            continue
        # Optuna sizes its figures for a notebook cell; keep them within the page.
        if figure.layout.width is None or figure.layout.width > WIDTH:
            figure.update_layout(width=WIDTH)
        found.append((path.stem, figure))
    return found


def optuna_views_section(
    out_dir: str | Path, figure_html: Callable[[go.Figure, str], str]
) -> list[tuple[str, str]]:
    """The section (title, HTML) embedding every Optuna figure file, or [] when there is none.

    `figure_html(figure, name)` turns a figure into the page's div (plotly.js inlined once).
    """
    figures = optuna_figures(out_dir)
    if not figures:
        return []
    parts = [
        "<p class='note'>Drawn by Optuna (optuna.visualization) from the study's Optuna storage: "
        "the optimisation history, the parameter importances and slices over the searched "
        "parameters; one file per view under optuna/figures.</p>"
    ]
    for stem, figure in figures:
        if isinstance(figure, str):
            parts.append(f"<p class='note'>{html.escape(figure)}</p>")
        else:
            parts.append(figure_html(figure, f"optuna-view-{_slug(stem)}"))
    return [(SECTION_TITLE, "".join(parts))]


def _slug(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)
