"""Real-data (DIR) studies through the CLI: smoke presets run Ray Tune end to end into Parquet
rows (paired, finished, with metrics); a bad data root is one line, exit 2, nothing touched."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

import run_study
from regcls.data.datasets.fixtures import (
    write_breakfast_fixture,
    write_imdb_wiki_fixture,
    write_nyud2_fixture,
)
from results import read_dir_rows
from search_spaces import breakfast, imdb_wiki_dir, nyud2_dir, stsb_dir
from study.dir.plan import breakfast_specs, declared_models, image_specs, stsb_specs
from study.dir.spec import DirSpec
from study.dir.trainables import dir_fallback_rows

FIXTURES = {
    "imdb_wiki_dir": lambda root: write_imdb_wiki_fixture(root, counts=(48, 12, 12)),
    "nyud2_dir": lambda root: write_nyud2_fixture(root, scenes=5, frames_per_scene=2),
    "breakfast": lambda root: write_breakfast_fixture(root, tasks=("coffee",)),
}


def _declared(study: str, preset: str) -> int:
    if study == "breakfast":
        specs = breakfast_specs(breakfast.PRESETS[preset], "root")
    elif study == "stsb_dir":
        specs = stsb_specs(stsb_dir.PRESETS[preset], "root")
    else:
        presets = {"imdb_wiki_dir": imdb_wiki_dir, "nyud2_dir": nyud2_dir}[study].PRESETS
        specs = image_specs(study, presets[preset], "root")
    return sum(declared_models(specs).values())


def _main(capsys, *argv: str) -> tuple[int, list[str]]:
    code = run_study.main([*argv, "--no-dashboard"])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _check_rows(out, study: str, preset: str = "smoke"):
    rows = read_dir_rows(out)
    assert rows.height == _declared(study, preset)
    assert set(rows["status"]) == {"ok"}, rows.select("status", "error").to_dicts()
    assert set(rows["dataset"]) == {study}
    assert rows["test_mse_all"].is_not_null().all() and rows["val_mse_all"].is_not_null().all()
    assert (rows["test_mse_all"] >= 0).all()
    reg = {r["row_key"]: r for r in rows.filter(rows["variant"] == "reg").to_dicts()}
    others = rows.filter(rows["variant"] != "reg").to_dicts()
    assert others, "a smoke preset trains reg+cls models"
    for row in others:
        partner = reg[row["paired_reg_row_key"]]  # every reg+cls row is paired
        for field in ("stage", "seed", "data_split", "task", "target", "data_balance"):
            assert partner[field] == row[field]
        assert partner["test_mse_all"] == row["paired_reg_test_mse"]
        assert partner["test_mae_all"] == row["paired_reg_test_mae"]
        if row["variant"] in ("reg+cls", "reg+cls-balanced"):  # the controls lack C or lambda
            assert row["num_classes"] >= 2 and row["lam"] > 0
    return rows


@pytest.mark.parametrize("study", ["imdb_wiki_dir", "nyud2_dir", "breakfast"])
def test_smoke_preset_runs_through_tune_into_paired_rows(ray_local, tmp_path, capsys, study):
    root, out = tmp_path / "data", tmp_path / "out"
    FIXTURES[study](root)
    code, errors = _main(
        capsys, "--study", study, "--preset", "smoke", "--data-root", str(root), "--out", str(out)
    )
    assert code == 0, errors
    rows = _check_rows(out, study)
    if study == "breakfast":
        assert set(rows["target"]) == {"progress_pct", "frames"}
        assert set(rows["data_split"]) == {"S1"} and rows["hidden"].to_list()[0] == "40,20"
    else:
        # Table 4's control ran beside the natural-data models, paired within its stage.
        assert set(rows["data_balance"]) == {"natural", "rebalanced"}
        assert set(rows["variant"]) == {"reg", "reg+cls", "reg+cls-balanced"}
        assert rows["backbone"].to_list()[0] == "resnet18" and rows["img_size"][0] == 32
        assert rows["best_epoch"].is_not_null().all()
    if study == "nyud2_dir":
        assert rows["test_delta1_all"].is_between(0, 1).all()
        assert set(rows["grad_accumulation"]) == {2}
    assert (out / "report.html").is_file()
    assert (out / "tables" / f"dir_{study}_vs_published.csv").is_file()


def test_stsb_smoke_encodes_with_the_real_encoder_and_trains_packed(ray_local, tmp_path, capsys):
    out = tmp_path / "out"
    code, errors = _main(capsys, "--study", "stsb_dir", "--preset", "smoke", "--out", str(out))
    assert code == 0, errors
    rows = _check_rows(out, "stsb_dir")
    assert set(rows["encoder"]) == {"all-MiniLM-L6-v2"}
    # hca-d predicts with stage 2's heads (no best epoch); its one smoke stage-2 epoch may give
    # one class for every pair, a constant without a Pearson correlation.
    staged = rows.filter(pl.col("variant") != "hca-d")
    assert staged["test_pearson_all"].is_not_null().all()
    assert staged["best_epoch"].is_between(1, stsb_dir.PRESETS["smoke"].epochs).all()
    # One pair-feature file per split, [N, 4 x 384] from MiniLM.
    cached = sorted((out / "features").glob("*.npy"))
    assert len(cached) == 3
    assert {np.load(f).shape[1] for f in cached} == {4 * 384}
    # The controls train beside reg+cls and the report pairs them with it.
    assert {"reg-scaled", "cls-only"} <= set(rows["variant"])
    stats = pl.read_csv(out / "tables" / "dir_helps_stats.csv")
    assert {"reg+cls vs reg-scaled", "cls-only vs reg"} <= set(stats["comparison"])
    # Seeds are the units: every DIR table says how many, and the smoke preset's few seeds
    # give no interval ("—"), with the flag saying so.
    for name in ("dir_helps_stats", "dir_helps_summary"):
        table = pl.read_csv(out / "tables" / f"{name}.csv")
        for column in ("n_clusters", "n_diverged_a", "n_diverged_b", "n_dropped"):
            assert column in table.columns, (name, column)
        few = table.filter(pl.col("n_clusters") < 6)
        assert few["too_few_clusters"].all() and few["ci_low"].is_nan().all()
    assert "What helps: CE or scale?" in (out / "report.html").read_text(encoding="utf-8")
    # The method zoo: every variant trained, paired with reg (_check_rows), its hyperparameters
    # recorded as columns (Yang et al.'s STS-B settings), null where the variant does not use them.
    assert set(stsb_dir.ZOO_VARIANTS) <= set(rows["variant"])
    by = {v: rows.filter(pl.col("variant") == v) for v in stsb_dir.ZOO_VARIANTS + ("reg",)}
    assert by["hca-d"]["best_epoch"].is_null().all()
    lds, fds, focal = by["reg-lds"], by["reg-fds"], by["reg-focal"]
    assert set(lds["lds_inverse"]) == {"inverse"} and set(lds["lds_bins"]) == {50}
    assert lds["fds_bins"].is_null().all() and lds["focal_beta"].is_null().all()
    assert (set(fds["fds_bins"]), set(fds["fds_clip_min"]), set(fds["fds_clip_max"])) == (
        {50},
        {0.5},
        {2.0},
    )
    assert fds["lds_kernel"].is_null().all()
    # Yang et al.'s STS-B Focal-R: beta 20 on scores / 5 = 4 per score point (issue 20)
    assert set(focal["focal_beta"]) == {4.0} and set(focal["focal_activation"]) == {"sigmoid"}
    assert set(by["hca"]["hca_rule"]) == {"add"} and set(by["hca"]["num_classes"]) == {10}
    assert set(by["reg+hlgauss"]["hlgauss_sigma_ratio"]) == {0.75}
    assert set(by["reg+hlgauss"]["lam"]) == {1.0} and by["hca"]["lam"].is_null().all()
    assert by["reg"].select(pl.col("lds_kernel", "fds_bins", "hca_rule").is_null().all()).row(0)
    assert {"reg-lds vs reg", "hca-d vs reg"} <= set(stats["comparison"])
    gains = pl.read_csv(out / "tables" / "dir_stsb_dir_published_gains.csv")
    lds_all = gains.filter((pl.col("method") == "LDS") & (pl.col("shot") == "all"))
    assert lds_all["n"].to_list() == [2, 2] and lds_all["our_gain_pct"].is_not_null().all()
    assert "relative gains over each side's vanilla" in (out / "report.html").read_text()


def _break_imdb(root):
    write_imdb_wiki_fixture(root, counts=(6, 2, 2))
    (root / "imdb_wiki.csv").write_text("age,file,split\n30,a.jpg,train\n")


def _break_nyud2(root):
    write_nyud2_fixture(root, scenes=3, frames_per_scene=1, test_images=2)
    (root / "test_balanced_mask.npy").unlink()


def _break_breakfast(root):
    folder = root / "features" / "coffee"
    folder.mkdir(parents=True)
    (folder / "P03_cam01_P03_coffee.txt").write_text("1 2 3\n4 5 6\n")


@pytest.mark.parametrize(
    ("study", "damage", "expected"),
    [
        ("imdb_wiki_dir", None, "imdb_wiki_dir: expected <root>/imdb_wiki.csv"),
        ("imdb_wiki_dir", _break_imdb, "missing column(s) path"),
        ("nyud2_dir", None, "nyud2_dir: expected <root>/nyu2_train.csv"),
        ("nyud2_dir", _break_nyud2, "test_balanced_mask.npy"),
        ("breakfast", None, "breakfast: expected <root>/features/<task>"),
        ("breakfast", _break_breakfast, "expected [T>0, 64 or 65]"),
        ("stsb_dir", None, "stsb_dir: expected <root>/train_new.tsv"),
    ],
)
def test_bad_data_root_is_one_line_exit_2_and_touches_nothing(
    capsys, tmp_path, study, damage, expected
):
    root, out = tmp_path / "data", tmp_path / "out"
    if damage is not None:
        damage(root)
    argv = ["--study", study, "--preset", "smoke", "--data-root", str(root), "--out", str(out)]
    code, lines = _main(capsys, *argv)
    assert code == 2
    assert len(lines) == 1 and expected in lines[0], lines
    assert not out.exists()


def test_image_study_without_data_root_names_the_flag_and_layout(capsys, tmp_path):
    out = tmp_path / "out"
    code, lines = _main(capsys, "--study", "nyud2_dir", "--preset", "quick", "--out", str(out))
    assert code == 2 and len(lines) == 1
    assert "--data-root" in lines[0] and "nyu2_train.csv" in lines[0]
    assert "--preset smoke without --data-root" in lines[0]
    assert not out.exists()


def test_smoke_without_data_root_generates_its_dataset_and_runs_on_it(ray_local, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--study", "breakfast", "--preset", "smoke", "--out", str(out), "--no-dashboard"]
    assert run_study.main(argv) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "generated dataset" in line]
    data = (out / "smoke_data" / "breakfast").resolve()
    assert said == [
        f"breakfast: no --data-root given; wrote a tiny generated dataset (the tests' fixtures) "
        f"to {data} and running the smoke preset on it"
    ]
    assert sorted(p.name for p in (data / "features").iterdir()) == ["coffee"]  # the preset's
    assert json.loads((out / "study.json").read_text())["data_root"] == str(data)
    rows = _check_rows(out, "breakfast")
    assert set(rows["command_line"]) == {"run_study.main " + " ".join(argv)}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Provenance</h2>" in page and "run_study.main --study breakfast" in page
    assert 'id="figure-dir-breakfast-paired"' in page


def test_smoke_dry_run_without_data_root_writes_nothing(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["--study", "imdb_wiki_dir", "--preset", "smoke", "--out", str(out), "--dry-run"]
    assert run_study.main(argv) == 0
    assert "no --data-root: the run writes a tiny generated dataset to" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.parametrize("study", ["imdb_wiki_dir", "nyud2_dir", "breakfast", "stsb_dir"])
def test_search_optuna_of_a_study_without_an_optuna_stage_is_one_line(capsys, tmp_path, study):
    out = tmp_path / "out"
    argv = ["--study", study, "--preset", "smoke", "--search", "optuna", "--out", str(out)]
    code, lines = _main(capsys, *argv)
    assert code == 2 and len(lines) == 1 and not out.exists()
    assert lines[0].startswith(f"error: --search: {study} runs the paper's grid, no Optuna stage")
    assert "accepted values: grid" in lines[0]


def test_bad_preset_field_is_one_line(capsys, tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"class_lambdas": [[1, 0.1]]}))
    argv = ["--study", "stsb_dir", "--space", str(space), "--out", str(tmp_path / "out")]
    code, lines = _main(capsys, *argv)
    assert code == 2 and len(lines) == 1 and "unknown field(s) class_lambdas" in lines[0]


def test_paper_presets_declare_the_papers_grids():
    # Tables 2-4: 3 seeds x (reg + 2 class modes x C in {2, 10, 100}), + Table 4's reg and
    # reg+cls (100 classes) per seed.
    for study, lambdas in (
        ("imdb_wiki_dir", {2: 1.0, 10: 1.0, 100: 0.1}),
        ("nyud2_dir", {2: 0.1, 10: 0.1, 100: 1.0}),
    ):
        preset = {"imdb_wiki_dir": imdb_wiki_dir, "nyud2_dir": nyud2_dir}[study].PRESETS["paper"]
        specs = image_specs(study, preset, "root")
        assert declared_models(specs) == {"train": 21, "balanced_data": 6}
        natural = [s for s in specs if s.stage == "train" and s.variant != "reg"]
        assert {(s.num_classes, s.lam) for s in natural} == set(lambdas.items())
        control = [s for s in specs if s.stage == "balanced_data" and s.variant != "reg"]
        assert {s.num_classes for s in control} == {100}
        assert {s.lr for s in control} == {1e-4}
    # Table 5: 4 splits x 2 targets x 10 tasks x (reg + 2 class modes) x 3 seeds.
    specs = breakfast_specs(breakfast.PRESETS["paper"], "root")
    assert sum(declared_models(specs).values()) == 4 * 2 * 10 * 3 * 3
    assert {(s.target, s.lam) for s in specs if s.lam} == {
        ("progress_pct", 100.0),
        ("frames", 10.0),
    }


def test_spec_round_trips_through_its_tune_config_with_the_same_key():
    for spec in stsb_specs(stsb_dir.PRESETS["smoke"], "root") + breakfast_specs(
        breakfast.PRESETS["smoke"], "root"
    ):
        again = DirSpec.from_config(json.loads(json.dumps(spec.to_config())))
        assert again == spec and again.key == spec.key
    spec = stsb_specs(stsb_dir.PRESETS["smoke"], "root")[-1]
    files = dir_fallback_rows({"spec": [spec.to_config()]}, "failed", "boom")
    assert list(files) == [(spec.stage, spec.key)]
    (failed,) = files.values()
    assert [r["seed"] for r in failed] == list(spec.seeds)
    assert {r["status"] for r in failed} == {"failed"}


def test_breakfast_task_list_is_the_same_in_the_loader_and_the_search_space():
    # Two copies by the layering rules (search_spaces may not import numpy-heavy regcls).
    from regcls.data.datasets import breakfast as loader
    from search_spaces import breakfast as space

    assert space.TASKS == loader.TASKS
