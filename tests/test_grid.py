"""`scalesearch grid` end to end on a tiny baseline: outputs, resume, interrupt, workers, refusals, errors.

Every run uses a spec of a few thousand parameters, 1000 synthetic training images, two epochs
and a 4-candidate grid, so a whole search takes a few seconds on a CPU. Torch runs on one thread
here: results are then bit-for-bit repeatable, and two processes sharing two cores do not
slow each other down by orders of magnitude (as two-thread torch runs do).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import shlex
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

import scalesearch.search
from scalesearch.cli import main
from scalesearch.baselines import SpecBaseline
from scalesearch.cost import Cost, spec_cost
from scalesearch.data import load_dataset
from scalesearch.errors import UserError
from scalesearch.grid import Candidate, GridSpace, Scoring, candidate_grid, candidate_record, train_candidate
from scalesearch.scaling import Multipliers, compound, scale_resolution, scale_spec
from scalesearch.search import _claimed_elsewhere
from scalesearch.spec import NetworkSpec
from scalesearch.study import open_storage
from scalesearch.train import TrainConfig

TINY_SPEC = {
    "name": "tiny",
    "stem": {"channels": 8, "stride": 2},
    "stages": [
        {"op": "mbconv", "channels": 8, "stride": 1, "expand": 2, "se": 0.25},
        {"op": "mbconv", "channels": 16, "stride": 2, "expand": 2, "se": 0.25},
    ],
    "head": {"channels": 32},
    "resolution": 32,
}
# α in 1..2, β and γ in 1..1.2, step 0.2, |α·β²·γ² − 2| <= 0.1: four candidates
GRID = ["--alpha-range", "1,2", "--beta-range", "1,1.2", "--gamma-range", "1,1.2", "--step", "0.2", "--tol", "0.1"]
SPACE = GridSpace((1.0, 2.0), (1.0, 1.2), (1.0, 1.2), 0.2, 2.0, 0.1)
EXPECTED = {(1.0, 1.2, 1.2), (1.4, 1.0, 1.2), (1.4, 1.2, 1.0), (2.0, 1.0, 1.0)}
# Two epochs of 1000 images (40 steps): the tiny net learns well beyond chance (one epoch stays at 0.1).
# No pruning, so that every candidate completes.
TRAIN = ["--data", "synthetic", "--train-images", "1000", "--test-images", "100", "--epochs", "2",
         "--batch-size", "50", "--proxy-resolution", "16", "--prune", "none", "--device", "cpu", "--quiet"]
STUDY = "grid-tiny-phi1"  # the default name: grid-<spec file stem>-phi<φ>
CSV_COLUMNS = ["alpha", "beta", "gamma", "product", "resolution", "macs", "macs_ratio", "accuracy", "objective"]
USER_ATTRS = ["alpha", "beta", "gamma", "d", "w", "r", "resolution", "macs", "params", "accuracy", "objective",
              "wall_seconds", "seeds"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

FACTORY_MODULE = """
import math
from torch import nn

def make(depth_mult, width_mult, num_classes):
    channels = 8 * max(1, round(width_mult * 2))
    layers = [nn.Conv2d(3, channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
    for _ in range(math.ceil(depth_mult)):
        layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

def not_a_model(depth_mult, width_mult, num_classes):
    return "a string"
"""


# --- helpers -----------------------------------------------------------------------------


def run(argv: list[str], capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `scalesearch argv` run in this process.

    With `capsys` the output is what pytest captured; without (module fixtures) it is redirected here.
    """
    if capsys is not None:
        capsys.readouterr()
        code = _main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _main(argv)
    return code, out.getvalue(), err.getvalue()


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors exit
        return exc.code


def grid_argv(spec: Path, runs: Path, *extra: str) -> list[str]:
    return ["grid", "--baseline", str(spec), *GRID, *TRAIN, "--runs-dir", str(runs), *extra]


def write_spec(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps(TINY_SPEC))
    return path


def load(runs: Path, study: str = STUDY) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=f"sqlite:///{runs / study / 'study.db'}")


def accuracies(runs: Path, study: str = STUDY) -> dict[tuple[float, float, float], float]:
    table = pd.read_csv(runs / study / "results.csv")
    return {(r.alpha, r.beta, r.gamma): r.accuracy for r in table.itertuples()}


def trained_per_candidate(study: optuna.Study) -> Counter:
    """(α, β, γ) -> number of trials that finished a training of it (carry an accuracy)."""
    return Counter((t.user_attrs["alpha"], t.user_attrs["beta"], t.user_attrs["gamma"])
                   for t in study.get_trials(deepcopy=False) if "accuracy" in t.user_attrs)


def expected_cost(alpha: float, beta: float, gamma: float, phi: float = 1.0) -> tuple[int, Cost]:
    """(resolution, cost) of the scaled tiny spec, counted here from the spec itself.

    Like T, at the spec's own 1000-class head: MACs are those of the nominal network.
    """
    multipliers = compound(alpha, beta, gamma, phi)
    spec = NetworkSpec.from_dict(TINY_SPEC)
    resolution = scale_resolution(spec.resolution, multipliers.resolution)
    return resolution, spec_cost(scale_spec(spec, multipliers), resolution)


def soft_reward(accuracy: float, macs: float, target: float, w: float = -0.07) -> float:
    return accuracy * (macs / target) ** w


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path)


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def finished(one_thread, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, str, str]:
    """One complete search, shared by the tests that only read its outputs."""
    folder = tmp_path_factory.mktemp("finished")
    spec_path, runs_dir = write_spec(folder), folder / "runs"
    code, out, err = run(grid_argv(spec_path, runs_dir))
    return spec_path, runs_dir, code, out, err


# --- the grid itself -----------------------------------------------------------------------


def test_the_test_grid_has_four_candidates() -> None:
    candidates, total = candidate_grid(SPACE)
    assert total == 6 * 2 * 2
    assert {(c.alpha, c.beta, c.gamma) for c in candidates} == EXPECTED


def test_default_grid_contains_the_papers_coefficients() -> None:
    space = GridSpace()
    candidates, total = candidate_grid(space)
    assert total == 21 * 11 * 11
    assert len(candidates) == 109
    assert Candidate(1.2, 1.1, 1.15) in candidates
    for c in candidates:
        assert abs(c.alpha * c.beta**2 * c.gamma**2 - 2.0) <= 0.1 + 1e-9
        assert min(c.alpha, c.beta, c.gamma) >= 1.0
        assert c.alpha <= 2.0 and c.beta <= 1.5 and c.gamma <= 1.5
    assert len(set(candidates)) == len(candidates)
    # every point of the band is kept: count it independently on an integer grid (hundredths)
    inside = sum(1 for a in range(100, 201, 5) for b in range(100, 151, 5) for g in range(100, 151, 5)
                 if abs(a * b * b * g * g - 2 * 100**5) <= 0.1 * 100**5)
    assert inside == len(candidates)


def test_empty_band_suggests_a_tolerance_that_works() -> None:
    space = GridSpace(step=0.3, tol=0.0)
    with pytest.raises(UserError, match=r"within 2 ± 0 .*try --tol (\S+)") as info:
        candidate_grid(space)
    suggested = float(re.search(r"try --tol (\S+)", str(info.value)).group(1))
    nearest = min(abs(a * b * b * g * g - 2.0) for a in space.axis("alpha") for b in space.axis("beta")
                  for g in space.axis("gamma"))
    assert nearest == pytest.approx(0.1)
    assert suggested == pytest.approx(0.1)  # the smallest two-decimal tolerance that keeps a point
    kept, _ = candidate_grid(GridSpace(step=0.3, tol=suggested))
    assert kept


# --- end to end ------------------------------------------------------------------------------


def test_search_prints_the_ranking_best_and_scale_command(finished, capsys) -> None:
    spec_path, runs_dir, code, out, err = finished
    assert code == 0, err
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:4] == ["rank", "α", "β", "γ"] and "objective" in header and "MACs/T" in header
    rows = [line.split() for line in lines[1:5]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    assert f"4 of 4 candidates evaluated; results: {runs_dir / STUDY / 'results.csv'}" in out
    table = pd.read_csv(runs_dir / STUDY / "results.csv")
    assert [tuple(map(float, r[1:4])) for r in rows] == list(zip(table["alpha"], table["beta"], table["gamma"]))
    best = table.iloc[0]
    best_line = [line for line in lines if line.startswith("best:")]
    assert best_line == [f"best: α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g} "
                         f"(accuracy {best['accuracy']:.4f}, objective {best['objective']:.4f})"]
    scale = [line for line in lines if "scalesearch scale " in line]
    assert len(scale) == 1
    command = shlex.split(scale[0].split("scalesearch ", 1)[1])
    assert command == ["scale", str(spec_path), "--alpha", f"{best['alpha']:g}", "--beta", f"{best['beta']:g}",
                       "--gamma", f"{best['gamma']:g}", "--phi", "0..7"]
    assert run(command, capsys)[0] == 0  # the suggested command works as printed


def test_results_csv_has_one_row_per_candidate_with_recomputed_objectives(finished) -> None:
    _, runs_dir, code, _, _ = finished
    assert code == 0
    table = pd.read_csv(runs_dir / STUDY / "results.csv")
    assert set(CSV_COLUMNS) <= set(table.columns)
    assert len(table) == 4
    assert set(zip(table["alpha"], table["beta"], table["gamma"])) == EXPECTED
    baseline_macs = spec_cost(NetworkSpec.from_dict(TINY_SPEC)).macs
    target = 2.0**1 * baseline_macs
    for row in table.itertuples():
        resolution, cost = expected_cost(row.alpha, row.beta, row.gamma)
        macs = cost.macs
        assert row.product == pytest.approx(row.alpha * row.beta**2 * row.gamma**2, rel=1e-12)
        assert (row.resolution, row.macs) == (resolution, macs)
        assert row.macs_ratio == pytest.approx(macs / target, rel=1e-12)
        assert 0.0 <= row.accuracy <= 1.0
        assert row.objective == pytest.approx(soft_reward(row.accuracy, macs, target), rel=1e-12)
        assert row.state == "complete"
    assert table["objective"].tolist() == sorted(table["objective"], reverse=True)
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["accuracy"].max() >= 0.3  # learned: chance is 0.1 on 10 classes
    assert table["accuracy"].mean() > 0.15


def test_study_database_has_one_result_trial_per_candidate(finished) -> None:
    _, runs_dir, code, _, _ = finished
    assert code == 0
    study = load(runs_dir)
    results = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(results) == 4
    assert {(t.user_attrs["alpha"], t.user_attrs["beta"], t.user_attrs["gamma"]) for t in results} == EXPECTED
    table = pd.read_csv(runs_dir / STUDY / "results.csv").set_index(["alpha", "beta", "gamma"])
    for trial in results:
        attrs = trial.user_attrs
        assert set(USER_ATTRS) <= set(attrs)
        m = compound(attrs["alpha"], attrs["beta"], attrs["gamma"], 1.0)
        assert (attrs["d"], attrs["w"], attrs["r"]) == pytest.approx((m.depth, m.width, m.resolution))
        assert (m.depth, m.width, m.resolution) == (attrs["alpha"], attrs["beta"], attrs["gamma"])  # φ = 1
        assert attrs["seeds"] == [0]
        assert attrs["wall_seconds"] > 0
        assert attrs["params"] == expected_cost(attrs["alpha"], attrs["beta"], attrs["gamma"])[1].params
        assert attrs["resolution"] == expected_cost(attrs["alpha"], attrs["beta"], attrs["gamma"])[0]
        assert trial.value == attrs["objective"]
        row = table.loc[(attrs["alpha"], attrs["beta"], attrs["gamma"])]
        assert (row["accuracy"], row["objective"], row["macs"]) == (attrs["accuracy"], attrs["objective"],
                                                                    attrs["macs"])
    assert trained_per_candidate(study) == Counter({c: 1 for c in EXPECTED})


def test_figures_are_png_files(finished) -> None:
    _, runs_dir, code, _, _ = finished
    assert code == 0
    for name in ("accuracy_vs_macs.png", "objective_alpha_beta.png"):
        data = (runs_dir / STUDY / "figures" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_rerun_of_a_finished_search_trains_nothing(finished, capsys) -> None:
    spec_path, runs_dir, code, out, _ = finished
    assert code == 0
    before = len(load(runs_dir).get_trials())
    code, again, err = run(grid_argv(spec_path, runs_dir), capsys)
    assert (code, err) == (0, "")
    assert len(load(runs_dir).get_trials()) == before
    assert again == out


# --- resume, interrupt, workers --------------------------------------------------------------


def test_max_trials_then_resume_trains_each_candidate_once(finished, spec, runs, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, "--max-trials", "2"), capsys)
    assert (code, err) == (0, "")
    assert sum(trained_per_candidate(load(runs)).values()) == 2
    assert "2 of 4 candidates evaluated" in out
    assert len(pd.read_csv(runs / STUDY / "results.csv")) == 2

    first = set(trained_per_candidate(load(runs)))

    code, out, err = run(grid_argv(spec, runs), capsys)
    assert (code, err) == (0, "")
    study = load(runs)
    assert trained_per_candidate(study) == Counter({c: 1 for c in EXPECTED})
    assert len(study.get_trials()) == 4  # the rerun enqueued exactly the two missing candidates
    assert {(t.user_attrs["alpha"], t.user_attrs["beta"], t.user_attrs["gamma"])
            for t in study.get_trials() if t.number >= 2} == EXPECTED - first
    assert "4 of 4 candidates evaluated" in out
    assert len(pd.read_csv(runs / STUDY / "results.csv")) == 4
    assert accuracies(runs) == accuracies(finished[1])  # staged or not, the same numbers


def test_interrupt_exits_130_and_the_rerun_retries_the_interrupted_candidate(finished, spec, runs, monkeypatch,
                                                                            capsys) -> None:
    real = scalesearch.search.train_candidate
    calls: list[tuple[float, float, float]] = []

    def interrupted_on_third(baseline, record, *args, **kwargs):
        calls.append((record["alpha"], record["beta"], record["gamma"]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(baseline, record, *args, **kwargs)

    monkeypatch.setattr(scalesearch.search, "train_candidate", interrupted_on_third)
    code, out, err = run(grid_argv(spec, runs), capsys)
    assert code == 130
    assert err.strip().splitlines()[-1] == "scalesearch: interrupted"
    assert out == ""
    interrupted = calls[2]
    study = load(runs)
    assert trained_per_candidate(study) == Counter({calls[0]: 1, calls[1]: 1})
    states = [t.state.name for t in study.get_trials()]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "WAITING"]  # the retry is queued at once
    assert not (runs / STUDY / "results.csv").exists()

    monkeypatch.setattr(scalesearch.search, "train_candidate", real)
    code, out, err = run(grid_argv(spec, runs), capsys)
    assert (code, err) == (0, ""), err
    study = load(runs)
    assert trained_per_candidate(study) == Counter({c: 1 for c in EXPECTED})
    retried = [t for t in study.get_trials() if "retry_of" in t.user_attrs]
    assert len(retried) == 1
    assert (retried[0].user_attrs["alpha"], retried[0].user_attrs["beta"], retried[0].user_attrs["gamma"]) == \
        interrupted
    assert retried[0].state == optuna.trial.TrialState.COMPLETE
    assert retried[0].user_attrs["retry_of"] == 2
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert "4 of 4 candidates evaluated" in out
    assert len(pd.read_csv(runs / STUDY / "results.csv")) == 4
    assert accuracies(runs) == accuracies(finished[1])


def test_two_workers_share_one_sqlite_study(spec, runs, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, "--workers", "2"), capsys)
    assert (code, err) == (0, ""), err
    assert trained_per_candidate(load(runs)) == Counter({c: 1 for c in EXPECTED})
    assert len(pd.read_csv(runs / STUDY / "results.csv")) == 4
    assert "4 of 4 candidates evaluated" in out


# --- settings and seeds ----------------------------------------------------------------------


@pytest.mark.parametrize(("change", "difference"), [
    (["--epochs", "3"], "'epochs': 2.0, "),
    (["--seeds", "2"], "seeds: 1 there, 2 now"),
])
def test_rerun_with_other_settings_is_refused(finished, change, difference, capsys) -> None:
    spec_path, runs_dir, code, _, _ = finished
    assert code == 0
    before = [(t.number, t.state, t.value, t.user_attrs) for t in load(runs_dir).get_trials()]
    results = (runs_dir / STUDY / "results.csv").read_bytes()
    code, out, err = run(grid_argv(spec_path, runs_dir, *change), capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"study '{STUDY}'" in err and "other settings" in err
    assert difference in err
    assert [(t.number, t.state, t.value, t.user_attrs) for t in load(runs_dir).get_trials()] == before
    assert (runs_dir / STUDY / "results.csv").read_bytes() == results


def test_two_seeds_give_a_spread_and_a_tie_with_the_best(spec, runs, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, "--seeds", "2"), capsys)
    assert (code, err) == (0, ""), err
    table = pd.read_csv(runs / STUDY / "results.csv")
    assert len(table) == 4
    assert "tied_with_best" in table.columns
    assert table["accuracy_std"].map(math.isfinite).all()
    assert (table["accuracy_std"] > 0).any()  # the two seeds really train differently
    assert bool(table["tied_with_best"].iloc[0]) is True
    # tied: within two combined standard errors of the best objective (seeds = 2)
    best = table.iloc[0]
    def standard_error(row: pd.Series) -> float:
        return row["accuracy_std"] * row["objective"] / row["accuracy"] / math.sqrt(2)
    for _, row in table.iterrows():
        margin = 2 * math.hypot(standard_error(row), standard_error(best))
        assert bool(row["tied_with_best"]) == (best["objective"] - row["objective"] <= margin)
    for trial in load(runs).get_trials():
        attrs = trial.user_attrs
        assert attrs["seeds"] == [0, 1]
        assert attrs["accuracy"] == pytest.approx(sum(attrs["accuracies"]) / 2)
        spread = abs(attrs["accuracies"][0] - attrs["accuracies"][1]) / math.sqrt(2)  # std, ddof=1
        assert attrs["accuracy_std"] == pytest.approx(spread)


def test_hard_constraint_and_w_change_the_objective(spec, runs, capsys) -> None:
    target = 2.0 * spec_cost(NetworkSpec.from_dict(TINY_SPEC)).macs
    for extra, study, score in [
        (["--hard"], "hard", lambda acc, macs: acc * (1.0 if macs <= target else target / macs)),
        (["--w", "0"], "w0", lambda acc, macs: acc),
    ]:
        code, _, err = run(grid_argv(spec, runs, "--study", study, "--max-trials", "2", *extra), capsys)
        assert (code, err) == (0, ""), err
        table = pd.read_csv(runs / study / "results.csv")
        assert len(table) == 2
        assert sorted(table["macs_ratio"] > 1) == [False, True]  # one within T, one beyond
        for row in table.itertuples():
            assert row.objective == pytest.approx(score(row.accuracy, row.macs), rel=1e-12)
        if extra == ["--w", "0"]:
            assert (table["objective"] == table["accuracy"]).all()


# --- a factory baseline ----------------------------------------------------------------------


@pytest.fixture()
def factory_module(importable_module) -> str:
    """A fresh importable module holding the factories of FACTORY_MODULE; its name is returned."""
    return importable_module("grid_factory", FACTORY_MODULE)


def test_factory_baseline_runs_end_to_end(factory_module, runs, capsys) -> None:
    baseline = f"{factory_module}:make"
    argv = ["grid", "--baseline", baseline, "--resolution", "32", *GRID, *TRAIN, "--runs-dir", str(runs)]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, ""), err
    study = f"grid-{factory_module}-make-phi1"
    table = pd.read_csv(runs / study / "results.csv")
    assert set(zip(table["alpha"], table["beta"], table["gamma"])) == EXPECTED
    assert table["resolution"].tolist() == [scale_resolution(32, g) for g in table["gamma"]]
    assert f"scalesearch scale {baseline} --alpha" in out
    assert (table["macs_ratio"] > 0).all() and table["macs"].nunique() > 1
    assert trained_per_candidate(load(runs, study)) == Counter({c: 1 for c in EXPECTED})


# --- bad input ---------------------------------------------------------------------------------


# Checked before anything is written: not even the runs folder appears.
@pytest.mark.parametrize(("extra", "message"), [
    (["--phi", "0"], r"phi must be > 0 .*got 0$"),
    (["--phi", "-1"], r"phi must be > 0 .*got -1$"),
    (["--step", "0.3", "--tol", "0"], r"no grid point .* within 2 ± 0 .*try --tol 0\.1 or a finer --step$"),
    (["--seeds", "0"], r"--seeds must be >= 1, got 0$"),
    (["--workers", "0"], r"--workers must be >= 1, got 0$"),
])
def test_bad_input_is_one_line_and_writes_nothing(spec, runs, extra, message, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, *extra), capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("scalesearch grid: error: ")
    assert re.search(message, err.rstrip("\n")), err
    assert not runs.exists()


# Found when the storage is opened: the study folder made for it is removed again.
@pytest.mark.parametrize(("storage", "message"), [
    ("redis://x", r"unknown storage scheme 'redis' in 'redis://x'"),
    ("postgresql://u:secret@127.0.0.1:9/db", r"cannot open storage postgresql://u:\*\*\*@127\.0\.0\.1:9/db: \S"),
    ("sqlite:////nonexistent-folder/study.db", r"storage folder /nonexistent-folder does not exist"),
])
def test_bad_storage_is_one_line_and_leaves_no_study_folder(spec, runs, storage, message, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, "--storage", storage), capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("scalesearch grid: error: ")
    assert re.search(message, err), err
    assert "secret" not in err  # the password is not echoed
    assert not (runs / STUDY).exists()


def test_unimportable_factory_is_refused(runs, capsys) -> None:
    argv = ["grid", "--baseline", "nosuchmodule:make", *GRID, *TRAIN, "--runs-dir", str(runs)]
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert "cannot import factory module 'nosuchmodule'" in err
    assert not runs.exists()


def test_factory_returning_no_module_is_refused(factory_module, runs, capsys) -> None:
    baseline = f"{factory_module}:not_a_model"
    code, out, err = run(["grid", "--baseline", baseline, *GRID, *TRAIN, "--runs-dir", str(runs)], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert f"factory {baseline} returned str, not a torch.nn.Module" in err
    assert not runs.exists()


# --- storage and the duplicate guard, directly -----------------------------------------------


def test_sqlite_transactions_take_the_write_lock_when_they_begin(tmp_path) -> None:
    """Two workers must not both pop one waiting trial: a read in a transaction already locks."""
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    other = sqlite3.connect(tmp_path / "study.db", timeout=0, isolation_level=None)
    with storage.engine.connect() as connection:
        connection.exec_driver_sql("SELECT count(*) FROM trials").scalar()  # a read only
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # free again once the transaction ended
    other.execute("ROLLBACK")
    other.close()


def test_opening_a_storage_warns_nothing(tmp_path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    assert [str(w.message) for w in caught] == []


def test_only_the_earlier_of_two_running_claims_trains() -> None:
    study = optuna.create_study()
    trials = []
    for _ in range(2):
        study.enqueue_trial({"candidate": 1})
        trial = study.ask()
        trial.suggest_categorical("candidate", [0, 1, 2])
        trials.append(trial)
    first, second = trials
    assert _claimed_elsewhere(study, first.number, 1) is None
    assert _claimed_elsewhere(study, second.number, 1) == first.number
    assert _claimed_elsewhere(study, second.number, 0) is None
    study.tell(second, 0.5)  # a result wins over any running claim
    assert _claimed_elsewhere(study, first.number, 1) == second.number


def test_a_candidate_trains_the_same_whatever_ran_before() -> None:
    """The seed alone decides a training, initial weights included (resumed searches repeat)."""
    baseline = SpecBaseline(NetworkSpec.from_dict(TINY_SPEC))
    space_target = 2.0 * baseline.cost(Multipliers()).macs
    scoring = Scoring(1.0, space_target, -0.07, False)
    record = candidate_record(baseline, Candidate(1.4, 1.0, 1.2), scoring, 16)
    data = load_dataset("synthetic").subset(train=200, test=100)
    config = TrainConfig(epochs=1, batch_size=50, device="cpu", progress=False)
    first = train_candidate(baseline, record, scoring, data, config, [3])
    torch.rand(1000)  # whatever else used the global generator in between
    again = train_candidate(baseline, record, scoring, data, config, [3])
    assert again["accuracies"] == first["accuracies"]
    assert again["objective"] == first["objective"]
