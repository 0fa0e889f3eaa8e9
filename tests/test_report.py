"""`scalesearch report`: report.md from the storage alone, byte for byte what grid and calibrate wrote.

One tiny grid (two candidates and the noise probe, one epoch of 400 synthetic images) and one
tiny calibration (three networks at budgets of 1 and 2 epochs, two seeds, 200 images) are run
for the whole module; every report after that is written with training switched off.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
from pathlib import Path

import optuna
import pytest

import scalesearch.runner
import scalesearch.train
from scalesearch.report import write_report
from scalesearch.runner import prepare
from scalesearch.storage import default_storage_url
from scalesearch.study import CONFIG_KEY, create_or_resume, stored_config
from scalesearch.study_config import StudyConfig
from search_processes import TWO_POINTS, grid_argv, run_cli, write_spec

GRID_STUDY = "grid-tiny-phi1"
CALIBRATE_STUDY = "calibrate-tiny"
CALIBRATE = ["--phis", "0,1", "--single", "width", "--ladder", "1,2", "--seeds", "2", "--data", "synthetic",
             "--train-images", "200", "--test-images", "100", "--batch-size", "20", "--proxy-resolution", "16",
             "--device", "cpu", "--quiet"]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A finished tiny grid and a finished tiny calibration: their argv, output and report.md."""
    folder = tmp_path_factory.mktemp("report")
    spec, runs = write_spec(folder), folder / "runs"
    grid = grid_argv(spec, runs, TWO_POINTS)
    calibrate = ["calibrate", "--baseline", str(spec), *CALIBRATE, "--runs-dir", str(runs)]
    done = {}
    for argv, name in ((grid, GRID_STUDY), (calibrate, CALIBRATE_STUDY)):
        code, out, err = run_cli(argv)
        assert code == 0, err
        report = runs / name / "report.md"
        assert out.splitlines()[-1] == f"report: {report}"
        done[name] = {"argv": argv, "out": out, "dir": runs / name, "report": report.read_bytes()}
    return done


@pytest.fixture()
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a report must not train")

    monkeypatch.setattr(scalesearch.runner, "train_network", refuse)
    monkeypatch.setattr(scalesearch.train, "train_proxy", refuse)


def copy_run(run: dict, tmp_path: Path) -> Path:
    """A copy of a run folder without its report and figures."""
    copy = tmp_path / run["dir"].name
    shutil.copytree(run["dir"], copy, ignore=shutil.ignore_patterns("report.md", "figures"))
    return copy


def fails_cleanly(argv: list[str], *where: Path) -> str:
    """Exit code 2 and one line on stderr, and no report.md in `where`; the line."""
    code, out, err = run_cli(argv)
    assert (code, out) == (2, ""), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not [path for path in where if (path / "report.md").exists()]
    return err


@pytest.mark.parametrize("name", [GRID_STUDY, CALIBRATE_STUDY])
def test_report_from_a_run_folder_is_the_one_the_run_wrote(name, runs, tmp_path, no_training) -> None:
    run = runs[name]
    copy = copy_run(run, tmp_path)
    code, out, err = run_cli(["report", str(copy)])
    assert (code, err) == (0, "")
    assert out == f"{copy / 'report.md'}\n"
    assert (copy / "report.md").read_bytes() == run["report"]
    figures = ["accuracy_vs_macs.png", "objective_alpha_beta.png"] if name == GRID_STUDY else ["fidelity.png"]
    assert all((copy / "figures" / figure).stat().st_size > 1000 for figure in figures)
    assert not list(copy.glob(".report.md.*"))  # no temporary file left behind


def test_grid_report_has_the_ranking_table_and_the_noise_line(runs) -> None:
    run = runs[GRID_STUDY]
    text = run["report"].decode()
    printed = run["out"].splitlines()
    assert re.search(r"^\| rank +\| α β γ \(all that build it\) .*\| ± +\| seeds .*\| ≈best +\|$", text, re.M)
    assert len(re.findall(r"^\| [0-9]+ ", text, re.M)) == 2  # two candidates, one row each
    evaluated = next(line for line in printed if "networks evaluated" in line)
    best = next(line for line in printed if line.startswith("best: "))
    assert "seed noise: σ = " in evaluated and evaluated in text and best in text
    assert "](figures/accuracy_vs_macs.png)" in text and "](figures/objective_alpha_beta.png)" in text
    assert "- data: synthetic, 64 px images, 400 training and 100 test images" in text


def test_calibrate_report_has_the_table_and_the_recommendation(runs) -> None:
    run = runs[CALIBRATE_STUDY]
    text = run["report"].decode()
    printed = run["out"].splitlines()
    assert re.search(r"^\| budget +\| networks +\| seeds +\| Kendall τ +\| τ p +\| Spearman ρ +\| σ ", text, re.M)
    recommendation = next(line for line in printed if "budget" in line and "τ ≥" in line)
    assert recommendation in text
    assert "## Rung agreement" in text and "](figures/fidelity.png)" in text
    assert "- training budget: 1, 2 epochs, by point" in text


def test_study_and_storage_form(runs, tmp_path, monkeypatch, no_training) -> None:
    run = runs[GRID_STUDY]
    url = default_storage_url(copy_run(run, tmp_path / "copy"))
    out = tmp_path / "elsewhere" / "report"
    code, printed, err = run_cli(["report", "--study", GRID_STUDY, "--storage", url, "--out", str(out)])
    assert (code, err, printed) == (0, "", f"{out / 'report.md'}\n")
    assert (out / "report.md").read_bytes() == run["report"]
    monkeypatch.chdir(tmp_path)  # without --out: runs/STUDY
    code, printed, err = run_cli(["report", "--study", GRID_STUDY, "--storage", url])
    assert (code, err) == (0, "")
    assert (tmp_path / "runs" / GRID_STUDY / "report.md").read_bytes() == run["report"]


def test_reproduce_is_the_command_that_created_the_study(runs) -> None:
    for run in runs.values():
        command = shlex.join(["scalesearch", *run["argv"]])
        assert f"## Reproduce\n\nThe command that created this study (rerun it to resume or repeat the run):\n\n" \
               f"```sh\n{command}\n```\n" in run["report"].decode()


def test_a_study_made_from_python_shows_the_python_call(runs, tmp_path, no_training) -> None:
    config = stored_config(optuna.load_study(study_name=GRID_STUDY,
                                             storage=default_storage_url(runs[GRID_STUDY]["dir"])))
    url = default_storage_url(tmp_path)
    study = create_or_resume(config, prepare(config).plans, url, "from-python")
    path = write_report(study, tmp_path)
    text = path.read_text()
    assert "no network evaluated yet" in text and "```sh" not in text
    assert 'runner.run(config, "sqlite:///runs/from-python/study.db", "from-python")' in text
    stored = re.search(r"```json\n(.*?)\n```", text, re.S).group(1)
    assert StudyConfig.from_dict(json.loads(stored)) == config
    assert write_report(study, tmp_path).read_bytes() == text.encode()  # the same storage, the same bytes


def test_bad_sources_are_one_line_with_exit_code_2_and_write_nothing(runs, tmp_path, no_training) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no study in" in fails_cleanly(["report", str(empty)], empty)
    assert "does not exist" in fails_cleanly(["report", str(tmp_path / "missing")])
    assert not (tmp_path / "missing").exists()
    sqlite3.connect(empty / "study.db").close()  # an empty file: not a study storage
    assert "no study in" in fails_cleanly(["report", str(empty)], empty)
    copy = copy_run(runs[GRID_STUDY], tmp_path)
    url = default_storage_url(copy)
    out = tmp_path / "out"
    err = fails_cleanly(["report", "--study", "nosuch", "--storage", url, "--out", str(out)], copy, out)
    assert "no study 'nosuch'" in err and GRID_STUDY in err
    assert not out.exists()
    assert "neither" in fails_cleanly(["report"])
    assert "both" in fails_cleanly(["report", str(copy), "--storage", url])


def test_several_studies_need_study_and_unknown_kinds_have_no_report(runs, tmp_path, no_training) -> None:
    copy = copy_run(runs[GRID_STUDY], tmp_path)
    url = default_storage_url(copy)
    other = optuna.create_study(study_name="mystery", storage=url)
    err = fails_cleanly(["report", str(copy)], copy)
    assert "pick one with --study" in err and "mystery" in err and GRID_STUDY in err
    assert "not created by scalesearch" in fails_cleanly(["report", str(copy), "--study", "mystery"], copy)
    stored = stored_config(optuna.load_study(study_name=GRID_STUDY, storage=url)).to_dict()
    other.set_user_attr(CONFIG_KEY, {**stored, "kind": "mystery"})
    assert "no report for studies of kind 'mystery'" in fails_cleanly(["report", str(copy), "--study", "mystery"],
                                                                      copy)
    code, _, err = run_cli(["report", str(copy), "--study", GRID_STUDY])
    assert (code, err) == (0, "")
    assert (copy / "report.md").read_bytes() == runs[GRID_STUDY]["report"]
