"""Bad input gets one line naming the field and the accepted values, and touches nothing."""

from __future__ import annotations

import json

import pytest

import run_study


def _run(capsys, *argv: str) -> tuple[int, list[str]]:
    code = run_study.main(list(argv))
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--study", "nope"], "valid studies: synthetic_1d"),
        (["--preset", "nope"], "valid presets: paper, quick"),
        (["--search", "nope"], "valid searches: grid, optuna"),
        (["--max-failures", "-1"], "--max-failures"),
        (["--gpu-fraction", "2"], "--gpu-fraction"),
    ],
)
def test_unknown_names_give_one_line(capsys, tmp_path, argv, expected):
    code, lines = _run(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2
    assert len(lines) == 1 and expected in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"lambdax": [1.0]}, "unknown field(s) lambdax"),
        ({"lambdas": []}, "lambdas: the grid is empty"),
        ({"lambdas": [0.0, 1.0]}, "lambdas: out-of-range"),
        ({"class_counts": [1, 4]}, "class_counts: out-of-range"),
        ({"samplings": ["skewed"]}, "accepted values: uniform, mild, moderate, severe"),
    ],
)
def test_bad_search_space_gives_one_line(capsys, tmp_path, space, expected):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(space))
    code, lines = _run(capsys, "--space", str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert len(lines) == 1 and expected in lines[0]


def test_folder_of_another_config_is_refused_and_left_byte_identical(capsys, tmp_path):
    out = tmp_path / "out"
    (out / "rows").mkdir(parents=True)
    (out / "study.json").write_text(json.dumps({"study": "synthetic_1d", "search": "grid"}))
    (out / "rows" / "lambda_search-abc.parquet").write_bytes(b"not really parquet")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, lines = _run(capsys, "--out", str(out), "--no-dashboard")
    assert code == 2
    assert len(lines) == 1 and "use another --out" in lines[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_report_only_without_rows_gives_one_line(capsys, tmp_path):
    code, lines = _run(capsys, "--report-only", "--out", str(tmp_path))
    assert code == 2 and len(lines) == 1 and "--report-only" in lines[0]


def test_list_names_studies_presets_and_model_counts(capsys):
    assert run_study.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert (
        "synthetic_1d" in out and "--preset quick" in out and "--preset paper: 55320 models" in out
    )


def test_search_optuna_is_offered_for_synthetic_1d_only(capsys, tmp_path):
    assert run_study.main(["--list"]) == 0
    assert "optuna (TPE + ASHA over lambda and lr; synthetic_1d only)" in capsys.readouterr().out
    argv = ["--study", "synthetic_1d_sensitivity", "--search", "optuna", "--dry-run"]
    code, lines = _run(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2 and len(lines) == 1 and "--search" in lines[0] and "grid" in lines[0]
