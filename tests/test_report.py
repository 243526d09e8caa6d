"""results/ figures and report: every figure drawn from a small study of every stage, the
self-contained report.html (plotly.js inline once, every figure and table), checked by opening it
in headless Chromium; the CSV tables and the terminal rendering."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from results import (
    empty_rows,
    format_tables_for_terminal,
    plot_classes_curves,
    plot_helps_table,
    plot_lambda_curves,
    plot_noise_curves,
    plot_optuna_vs_grid,
    report_tables,
    write_report,
    write_tables_csv,
)
from results.cluster_inference import cluster_flip
from results.synthetic_1d.figures import VARIANT_COLORS
from results.synthetic_1d.paired_figures import (
    paired_table,
    plot_classes_pairs,
    plot_lambda_pairs,
)
from study.run_info import write_provenance

# Table 1 bars, Figure 4 (imbalanced, balanced), Figure 3, Figure 5, Optuna, what helps, L_extra,
# the paired views of Figure 4 (two), 3 and 5, and one of Optuna's own views
FIGURES = 13
PAIRED_VIEWS = (
    "figure4-imbalanced-paired",
    "figure4-balanced-paired",
    "figure3-paired",
    "figure5-paired",
)
COMMAND = ["run_study.py", "--study", "synthetic_1d", "--out", "runs/with space/" + "x" * 300]
MODES = {"reg": "none", "reg+cls": "imbalanced", "reg+cls-balanced": "balanced"}


def _row(stage, scenario, sampling, seed, variant, C=None, lam=None, **values) -> dict:
    return {
        "row_key": f"{stage}-{scenario}-{sampling}-{seed}-{variant}-{C}-{lam}-{values}",
        "study": "synthetic_1d",
        "stage": stage,
        "search": "optuna" if stage == "optuna" else "grid",
        "scenario": scenario,
        "sampling": sampling,
        "noise_sigma": values.pop("sigma", 0.1),
        "function_id": 0,
        "seed": seed,
        "variant": variant,
        "class_mode": MODES[variant],
        "num_classes": C,
        "lam": lam,
        "lr": values.pop("lr", 1e-3),
        "epochs": 80,
        "lambda_source": values.pop("source", "none" if variant == "reg" else "grid"),
        "status": values.pop("status", "ok"),
        "epochs_trained": 80,
        "torch_version": "2.5.1",
        "python_version": "3.11.7",
        **values,
    }


def _study_rows() -> pl.DataFrame:
    """Two scenarios x two samplings x two seeds, C in {4, 64}, lambda in {1, 100}: every stage."""
    rows = []
    for scenario in ("clean", "noisy"):
        for s, sampling in enumerate(("uniform", "severe")):
            for seed in (0, 1):
                base = 0.01 * (1 + 3 * s) * (1 + 0.1 * seed)
                reg = _row("lambda_search", scenario, sampling, seed, "reg", val_mse=base)
                rows.append(reg)
                pair = {"paired_reg_row_key": reg["row_key"], "paired_reg_val_mse": base}
                for variant in ("reg+cls", "reg+cls-balanced"):
                    for C in (4, 64):
                        for lam in (1.0, 100.0):
                            factor = (1.3 if lam == 1.0 else 0.9) * (1 + C / 640)
                            rows.append(
                                _row(
                                    "lambda_search",
                                    scenario,
                                    sampling,
                                    seed,
                                    variant,
                                    C,
                                    lam,
                                    val_mse=base * factor,
                                    **pair,
                                )
                            )
                rows.append(_row("test", scenario, sampling, seed, "reg", test_mse=base))
                for C in (4, 64):
                    rows.append(
                        _row(
                            "test",
                            scenario,
                            sampling,
                            seed,
                            "reg+cls",
                            C,
                            100.0,
                            test_mse=base * (0.8 + C / 640),
                            paired_reg_test_mse=base,
                            source="validation",
                        )
                    )
                for i, lam in enumerate((0.5, 50.0, 5000.0)):
                    status = "early_stopped" if i == 2 else "ok"
                    val = None if i == 2 else base * (1.2 - 0.3 * i)
                    rows.append(
                        _row(
                            "optuna",
                            scenario,
                            sampling,
                            seed,
                            "reg+cls",
                            64,
                            lam,
                            lr=10.0 ** -(i + 2),
                            val_mse=val,
                            status=status,
                            source="optuna",
                        )
                    )
    for sigma in (0.05, 0.5):
        for sampling in ("uniform", "severe"):
            for seed in (0, 1):
                noise = sigma**2 + 0.01 * (1 + seed)
                rows.append(
                    _row("noise", "noisy", sampling, seed, "reg", sigma=sigma, test_mse=noise)
                )
                for variant, factor in (("reg+cls", 0.9), ("reg+cls-balanced", 0.85)):
                    for C in (4, 64):
                        rows.append(
                            _row(
                                "noise",
                                "noisy",
                                sampling,
                                seed,
                                variant,
                                C,
                                100.0,
                                sigma=sigma,
                                test_mse=noise * factor,
                                paired_reg_test_mse=noise,
                                source="validation",
                            )
                        )
    return pl.DataFrame(rows, schema=empty_rows().schema)


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    return _study_rows()


def _optuna_history_json() -> str:
    """A real Optuna figure (optimisation history of a tiny study), as the study writes it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda trial: (trial.suggest_float("lam", 0.1, 10.0, log=True) - 1) ** 2, 6)
    figure = optuna.visualization.plot_optimization_history(study)
    figure.update_layout(width=2000)  # wider than the page: the report must fit it
    return figure.to_json()


@pytest.fixture(scope="module")
def report(rows, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    write_provenance(out, COMMAND)  # as the study does when it starts
    views = out / "optuna" / "figures"
    views.mkdir(parents=True)
    (views / "optimization_history.json").write_text(_optuna_history_json(), encoding="utf-8")
    extra = [("Image study", "<p id='extra-marker'>image results go here</p>")]
    return write_report(rows, out, title="test <report>", extra_sections=extra)


def _traces(figure: go.Figure, name: str) -> list:
    return [t for t in figure.data if t.name == name]


def test_classes_figure_colours_facets_and_gap_annotation(rows):
    figure = plot_classes_curves(rows)
    assert isinstance(figure, go.Figure)
    assert {t.line.color for t in _traces(figure, "reg")} == {VARIANT_COLORS["reg"]}
    assert {t.line.color for t in _traces(figure, "reg+cls")} == {VARIANT_COLORS["reg+cls"]}
    assert len(_traces(figure, "reg+cls")) == 4  # 2 scenarios x 2 samplings
    assert sum(t.showlegend is True for t in figure.data) == 2  # one legend entry per variant
    # clean / uniform, seeds 0 and 1: reg mean 0.0105; reg+cls (0.8 + C/640) x that at C=4, 64
    gap = abs(0.0105 - 0.0105 * (0.8 + 4 / 640)) / 2 + abs(0.0105 - 0.0105 * 0.9) / 2
    texts = [a.text for a in figure.layout.annotations]
    assert f"gap reg+cls: {gap:.3g}" in texts
    assert figure.layout.xaxis.type == "log" and list(figure.layout.xaxis.tickvals) == [4, 64]
    assert "clean" in figure.layout.annotations[0].text  # facet titles: scenario x sampling


def test_lambda_and_noise_figures_have_log_axes_and_bands(rows):
    figure = plot_lambda_curves(rows, class_mode="balanced")
    assert figure.layout.xaxis.type == "log"
    assert {t.name for t in figure.data if t.showlegend} == {"reg", "C=4", "C=64"}
    assert any(t.fill == "tonexty" for t in figure.data)  # std bands
    noise = plot_noise_curves(rows)
    assert {t.name for t in noise.data if t.showlegend} == {"reg", "reg+cls", "reg+cls bal"}
    assert {t.line.color for t in _traces(noise, "reg+cls bal")} == {
        VARIANT_COLORS["reg+cls-balanced"]
    }


def test_helps_and_optuna_figures(rows):
    helps = plot_helps_table(rows)
    ours = _traces(helps, "imbalanced (ours)")
    assert list(ours[0].y) == [50.0, 50.0, 50.0]  # lambda 100 helps, lambda 1 does not
    assert list(_traces(helps, "imbalanced (paper)")[0].y) == [55.42, 36.83, 48.48]
    assert (helps.layout.uniformtext.mode, helps.layout.uniformtext.minsize) == ("hide", 10)
    optuna = plot_optuna_vs_grid(rows)
    points = _traces(optuna, "Optuna trial")
    assert [sorted(p.x) for p in points] == [[0.5, 50.0]] * 2  # stopped trials are not drawn
    assert "Optuna λ=50" in optuna.layout.annotations[0].text


@pytest.mark.parametrize(
    ("plot", "note"),
    [
        (plot_lambda_curves, "no lambda_search rows"),
        (plot_classes_curves, "no test-stage rows"),
        (plot_noise_curves, "no noise-stage rows"),
        (plot_helps_table, "no lambda_search reg+cls rows"),
        (plot_optuna_vs_grid, "no optuna-stage rows"),
    ],
)
def test_empty_input_gives_an_empty_figure_with_a_note(plot, note):
    for empty in (pl.DataFrame(), empty_rows()):
        figure = plot(empty)
        assert len(figure.data) == 0
        assert note in figure.layout.annotations[0].text


def test_plot_arguments_are_checked(rows):
    with pytest.raises(ValueError, match="class_mode"):
        plot_lambda_curves(rows, class_mode="none")
    with pytest.raises(ValueError, match="stage"):
        plot_classes_curves(rows, stage="lambda_search")
    with pytest.raises(ValueError, match="df"):
        plot_noise_curves(rows.to_dicts())


def test_report_is_self_contained_with_every_figure_and_table(report, rows):
    page = report.read_text(encoding="utf-8")
    assert report.name == "report.html"
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # the bundle, inlined once
    assert 'src="http' not in page and "src='http" not in page
    assert page.count('class="plotly-graph-div"') == FIGURES
    for name in (
        "table1",
        "figure4-imbalanced",
        "figure4-balanced",
        "figure3",
        "figure5",
        "what-helps",
        "l-extra",
    ):
        assert f'id="figure-{name}"' in page
    assert page.count("<table class='rows'>") >= 10
    assert "55.42" in page  # the paper's Table 1 beside ours
    assert "<h1>test &lt;report&gt;</h1>" in page  # titles are escaped
    assert "<p id='extra-marker'>" in page and "<h2>Image study</h2>" in page
    assert page.index("Optuna vs grid") < page.index("Image study")  # extras come last
    assert "torch_version" in page and "2.5.1" in page and "lambda_search" in page


def test_report_of_no_rows_still_renders(tmp_path):
    page = write_report(pl.DataFrame(), tmp_path).read_text(encoding="utf-8")
    # no Optuna rows and no Optuna figure files: neither Optuna section
    assert page.count('class="plotly-graph-div"') == FIGURES - 2
    assert "Optuna vs grid" not in page and "Optuna&#x27;s own views" not in page
    assert len(re.findall(r"plotly\.js v\d", page)) == 1


def test_report_rejects_bad_extra_sections(rows, tmp_path):
    with pytest.raises(ValueError, match="extra_sections"):
        write_report(rows, tmp_path, extra_sections=[("only a title",)])
    assert not (tmp_path / "report.html").exists()


@pytest.mark.slow
def test_report_figures_render_in_headless_chromium(report, render_in_chromium):
    dom = render_in_chromium(report)
    figures = dom.split('id="figure-')[1:]
    assert len(figures) == FIGURES
    for figure in figures:  # plotly drew each one: its div became a plot holding an svg
        name = figure.split('"', 1)[0]
        assert 'class="main-svg"' in figure.split('id="figure-', 1)[0], f"{name} not drawn"
    assert dom.count("js-plotly-plot") >= FIGURES
    # the paired views were drawn with their titles and legend entries
    for name, title in (
        ("figure3-paired", "Figure 3, paired"),
        ("figure4-balanced-paired", "Figure 4, paired (balanced classes)"),
    ):
        drawn = dom.split(f'id="figure-{name}"', 1)[1].split('id="figure-', 1)[0]
        assert re.search(r'class="gtitle"[^>]*data-unformatted="' + re.escape(title), drawn), name
    drawn = dom.split('id="figure-figure5-paired"', 1)[1].split('id="figure-', 1)[0]
    assert re.search(r'class="legendtext"[^>]*data-unformatted="reg\+cls bal: mean"', drawn)
    assert re.search(r'class="gtitle"[^>]*data-unformatted="Optimization History Plot', dom)


_MEASURE = """<script>window.addEventListener("load", () => {
  const out = document.createElement("p");
  const table1 = document.getElementById("table1").getBoundingClientRect();
  out.id = "measured";
  out.textContent = [document.documentElement.scrollWidth, document.documentElement.clientWidth,
    Math.ceil(table1.right)].join(",");
  document.body.appendChild(out);
});</script>"""


@pytest.mark.slow
def test_report_has_no_horizontal_scroll_at_1400_px(report, render_in_chromium, tmp_path):
    page = tmp_path / "measured.html"
    page.write_text(report.read_text("utf-8").replace("</body>", _MEASURE + "</body>"), "utf-8")
    dom = render_in_chromium(page, window_size="1400,900")
    measured = re.search(r'<p id="measured">(\d+),(\d+),(\d+)</p>', dom)
    assert measured, "the measuring script did not run"
    scroll_width, client_width, table1_right = map(int, measured.groups())
    assert 1300 < client_width <= 1400
    assert scroll_width <= client_width, "the page scrolls horizontally at 1400 px"
    assert table1_right <= client_width  # Table 1 fits without a scrolling box of its own
    assert "<div class='wide'><table class='rows' id='table1'>" not in report.read_text("utf-8")


@pytest.mark.slow
def test_table1_of_three_scenarios_fits_1400_px(rows, render_in_chromium, tmp_path):
    # The quick preset's Table 1 (clean, noisy and ood: 13 columns) once overflowed by 217 px.
    ood = rows.filter(pl.col("scenario") == "clean").with_columns(
        scenario=pl.lit("ood"), row_key=pl.col("row_key") + "-ood"
    )
    report = write_report(pl.concat([rows, ood]), tmp_path / "out", title="three scenarios")
    assert "imbalanced/ood" in report.read_text("utf-8")
    page = tmp_path / "measured.html"
    page.write_text(report.read_text("utf-8").replace("</body>", _MEASURE + "</body>"), "utf-8")
    dom = render_in_chromium(page, window_size="1400,900")
    measured = re.search(r'<p id="measured">(\d+),(\d+),(\d+)</p>', dom)
    assert measured, "the measuring script did not run"
    scroll_width, client_width, table1_right = map(int, measured.groups())
    assert scroll_width <= client_width and table1_right <= client_width


def test_tables_csv_one_file_per_non_empty_table(rows, tmp_path):
    paths = write_tables_csv(rows, tmp_path)
    tables = report_tables(rows)
    assert [p.stem for p in paths] == [name for name, t in tables.items() if t.height]
    assert "sensitivity" in tables and "sensitivity" not in {p.stem for p in paths}
    assert all(p.parent == tmp_path / "tables" for p in paths)
    assert all(pl.read_csv(p).height > 0 for p in paths)
    table1 = pl.read_csv(tmp_path / "tables" / "table1_helps.csv")
    assert table1.filter(pl.col("sampling") == "average")["pct_helps"].to_list() == [50.0] * 4


def test_tables_csv_of_no_rows_writes_no_header_only_files(rows, tmp_path):
    write_tables_csv(rows, tmp_path)  # an earlier run's files ...
    paths = write_tables_csv(empty_rows(), tmp_path)
    # only the paper's Table 1 beside our (empty) columns has rows without any results rows
    assert [p.stem for p in paths] == ["table1_vs_paper"]
    assert sorted((tmp_path / "tables").iterdir()) == paths  # ... are not left looking current
    assert report_tables(empty_rows())["table1_helps"].height == 0  # the tables themselves stay


def test_grid_run_has_no_optuna_section_or_files(rows, tmp_path):
    grid = rows.filter(pl.col("stage") != "optuna")
    page = write_report(grid, tmp_path).read_text(encoding="utf-8")
    assert "Optuna vs grid" not in page and 'id="figure-optuna"' not in page
    names = {p.stem for p in write_tables_csv(grid, tmp_path)}
    assert "optuna_trials" not in names and "optuna_vs_grid" not in names
    assert "table1_helps" in names


def test_report_tables_show_missing_values_as_a_dash(report):
    page = report.read_text(encoding="utf-8")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert cells and "—" in cells
    assert not {"", "null", "None", "nan", "NaN"} & set(cells)


def test_mse_axis_titles_say_which_targets(rows):
    for figure in (
        plot_classes_curves(rows),
        plot_noise_curves(rows),
        plot_lambda_curves(rows, "imbalanced"),
        plot_optuna_vs_grid(rows),
    ):
        titles = [
            axis["title"]["text"]
            for name, axis in figure.layout.to_plotly_json().items()
            if name.startswith("yaxis") and axis.get("title", {}).get("text")
        ]
        assert titles and all(t.endswith("MSE (noisy targets)") for t in titles), titles


def test_lambda_at_the_grid_edge_is_noted(rows, report):
    # every cell chose lambda 100, the larger of the grid's (1, 100)
    assert report_tables(rows)["selected_lambdas"]["at_grid_edge"].to_list() == [True] * 4
    assert "λ chosen at the edge of the grid (clean/imbalanced" in report.read_text("utf-8")
    assert "at_grid_edge" in format_tables_for_terminal(rows)
    assert "edge of the grid (clean/imbalanced" in format_tables_for_terminal(rows)
    worse = rows.filter((pl.col("stage") == "lambda_search") & (pl.col("lam") == 100.0))
    worse = worse.with_columns(lam=pl.lit(1e3), val_mse=pl.col("val_mse") * 2)
    assert "edge of the grid" not in format_tables_for_terminal(pl.concat([rows, worse]))


def test_terminal_tables(rows):
    text = format_tables_for_terminal(rows)
    assert "imbalanced/clean paper" in text and "55.42" in text
    assert "Lambda chosen on validation" in text and "100.0" in text
    assert "Figure 3 gaps" in text
    assert "Optuna vs grid" in text
    assert "(no rows)" in format_tables_for_terminal(pl.DataFrame())


# --- paired views, provenance, Optuna's own views -------------------------------------------


def test_report_has_a_paired_view_beside_every_reg_comparison(report):
    page = report.read_text(encoding="utf-8")
    for name in PAIRED_VIEWS:
        raw = name.removesuffix("-paired")
        assert page.index(f'id="figure-{raw}"') < page.index(f'id="figure-{name}"')
    for title in ("Figure 4, paired (imbalanced", "Figure 3, paired", "Figure 5, paired"):
        assert title in page
    assert "95% interval over target functions" in page  # the interval is named, in the notes
    assert "At a glance" in page
    assert "Figure 3 paired differences" in page  # the numbers drawn, as a table


def _hand_built_pairs() -> tuple[pl.DataFrame, list[float]]:
    """Nine test-stage pairs in one cell (one function each), plus a diverged reg+cls model and
    one without a reg partner, which are no pairs."""
    diffs = [0.03, -0.01, -0.02, -0.05, 0.01, -0.04, -0.03, 0.02, -0.06]
    rows = []
    for f, d in enumerate(diffs):
        reg = 1.0 + 0.5 * f  # raw means spread widely: their ±1 std bands overlap
        common = {"function_id": f}
        rows.append(_row("test", "clean", "uniform", 0, "reg", test_mse=reg, **common))
        rows.append(
            _row(
                "test",
                "clean",
                "uniform",
                0,
                "reg+cls",
                4,
                10.0,
                test_mse=reg + d,
                paired_reg_test_mse=reg,
                **common,
            )
        )
    rows.append(
        _row("test", "clean", "uniform", 0, "reg+cls", 4, 10.0, status="diverged",
             paired_reg_test_mse=1.0, function_id=20)
    )  # fmt: skip
    rows.append(_row("test", "clean", "uniform", 0, "reg+cls", 4, 10.0, test_mse=0.1))
    return pl.DataFrame(rows, schema=empty_rows().schema), diffs


def test_paired_view_draws_the_mean_and_its_interval_over_functions():
    frame, diffs = _hand_built_pairs()
    # Nine pairs, one per function: nine independent units; the interval is the sign-flip
    # inversion over them (results.cluster_inference), not over pairs.
    table = paired_table(frame, "figure3")
    assert table.select("n_pairs", "n_clusters", "n_below_zero").row(0) == (9, 9, 6)
    assert table["median_diff"][0] == pytest.approx(-0.02)
    expected = cluster_flip(np.array(diffs), np.ones(9))
    assert table["mean_diff"][0] == pytest.approx(sum(diffs) / 9)
    assert (table["ci_low"][0], table["ci_high"][0]) == pytest.approx(
        (expected.low[0], expected.high[0])
    )
    figure = plot_classes_pairs(frame)
    (mean,) = _traces(figure, "reg+cls: mean")
    assert list(mean.x) == [4] and list(mean.y) == pytest.approx([sum(diffs) / 9])
    assert list(mean.error_y.array) == pytest.approx([expected.high[0] - sum(diffs) / 9])
    assert "9 pairs, 9 independent units (function_id), reg+cls better in 6" in mean.text[0]
    (points,) = _traces(figure, "reg+cls: pairs")
    assert sorted(points.y) == pytest.approx(sorted(diffs))
    assert "over the independent units" in figure.layout.title.text


def test_paired_views_of_the_study_rows(rows):
    figure = plot_lambda_pairs(rows, "balanced")
    assert figure.layout.xaxis.type == "log"
    assert {t.name for t in figure.data if t.showlegend} == {"C=4: mean", "C=64: mean"}
    # clean / uniform, C=4, lambda=100: both seeds 0.9 (1 + 4/640) - 1 of their reg's MSE
    (c4,) = [t for t in _traces(figure, "C=4: mean") if t.xaxis == "x"]
    expected = [0.01 * (1 + 0.1 * s) * (0.9 * (1 + 4 / 640) - 1) for s in (0, 1)]
    assert c4.customdata[-1] == 100.0 and c4.y[-1] == pytest.approx(sum(expected) / 2)
    assert c4.error_y.array[-1] is None  # two pairs: no 95% interval claimed
    noise = plot_classes_pairs(rows, "noise")
    assert {t.name for t in noise.data if t.showlegend} == {
        "reg+cls: mean",
        "reg+cls bal: mean",
    }
    assert noise.layout.annotations[0].text.startswith("σ=")
    with pytest.raises(ValueError, match="figure"):
        paired_table(rows, "figure9")


def test_provenance_block_at_the_top_of_the_report(report):
    import json
    import subprocess

    page = report.read_text(encoding="utf-8")
    recorded = json.loads((report.parent / "provenance.json").read_text(encoding="utf-8"))
    head = page[: page.index("<nav>")]
    assert "<h2>Provenance</h2>" in head
    assert "run_study.py --study synthetic_1d --out &#x27;runs/with space/xxx" in head
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
        cwd=Path(__file__).parent,
    ).stdout.strip()  # fmt: skip
    assert recorded["git_commit"] == commit and commit in head
    for package in ("torch", "ray", "optuna", "polars", "plotly", "pyarrow", "numpy"):
        assert f"{package} {recorded['packages'][package]}" in head
    assert recorded["packages"]["polars"] == pl.__version__
    assert f"{recorded['machine']['cores']} cores" in head and " GB RAM" in head
    assert recorded["regcls_version"] in head


def test_report_without_provenance_says_so(rows, tmp_path):
    page = write_report(rows, tmp_path).read_text(encoding="utf-8")
    assert "provenance not recorded" in page[: page.index("<nav>")]
    (tmp_path / "provenance.json").write_text("{not json", encoding="utf-8")
    assert "provenance not recorded" in write_report(rows, tmp_path).read_text("utf-8")


def test_report_embeds_optunas_own_views(report, tmp_path, rows):
    from results._plotting import WIDTH
    from results.synthetic_1d.optuna_views import optuna_figures

    page = report.read_text(encoding="utf-8")
    assert "<h2>Optuna&#x27;s own views</h2>" in page
    assert 'id="figure-optuna-view-optimization_history"' in page
    (stem, figure), *_ = optuna_figures(report.parent)
    assert stem == "optimization_history" and figure.layout.width == WIDTH
    assert "Optimization History Plot" in figure.layout.title.text
    # a file that is not a figure is named, not fatal; no file at all: no section
    broken = tmp_path / "optuna" / "figures"
    broken.mkdir(parents=True)
    (broken / "slice.json").write_text("[1, 2]", encoding="utf-8")
    page = write_report(rows, tmp_path).read_text(encoding="utf-8")
    assert "slice.json: not a Plotly figure" in page
    (broken / "slice.json").unlink()
    assert "own views" not in write_report(rows, tmp_path).read_text(encoding="utf-8")
