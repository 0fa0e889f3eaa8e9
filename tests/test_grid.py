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
import shutil
import sqlite3
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

import scalesearch.cli.ranking_output
import scalesearch.runner
from scalesearch.cli import main
from scalesearch.cost import Cost, spec_cost
from scalesearch.errors import UserError
from scalesearch.noise import NoiseEstimate, spread_test
from scalesearch.grid import Candidate, GridSpace, candidate_grid, grid_study
from scalesearch.runner import default_workers, prepare, run as run_study, train_network
from scalesearch.scaling import compound, scale_resolution, scale_spec
from scalesearch.spec import NetworkSpec
from scalesearch.storage import open_storage
from scalesearch.study import CONFIG_KEY, stored_config, study_results
from scalesearch.study_config import DataConfig, Pruning, StudyConfig
from scalesearch.train import TrainConfig
from search_processes import TINY_SPEC

# α in 1..2, β and γ in 1..1.2, step 0.2, |α·β²·γ² − 2| <= 0.1: four candidates
GRID = ["--alpha-range", "1,2", "--beta-range", "1,1.2", "--gamma-range", "1,1.2", "--step", "0.2", "--tol", "0.1"]
SPACE = GridSpace((1.0, 2.0), (1.0, 1.2), (1.0, 1.2), 0.2, 2.0, 0.1)
EXPECTED = {(1.0, 1.2, 1.2), (1.4, 1.0, 1.2), (1.4, 1.2, 1.0), (2.0, 1.0, 1.0)}
# Two epochs of 1000 images (40 steps): the tiny net learns well beyond chance (one epoch stays at 0.1).
# No pruning, so that every candidate completes.
TRAIN = ["--data", "synthetic", "--train-images", "1000", "--test-images", "100", "--epochs", "2",
         "--batch-size", "50", "--proxy-resolution", "16", "--prune", "none", "--device", "cpu", "--quiet",
         "--noise-seeds", "2"]
PAPERLESS_PROBE = (1.0, 1.2, 1.2)  # the paper's point is not in the test grid: the first candidate is the probe
STUDY = "grid-tiny-phi1"  # the default name: grid-<spec file stem>-phi<φ>
CSV_COLUMNS = ["alpha", "beta", "gamma", "candidate", "resolution", "macs", "macs_ratio", "accuracy", "uncertainty",
               "seeds", "objective", "status", "tied_with_best"]
USER_ATTRS = ["network", "candidate", "points", "d", "w", "r", "resolution", "proxy_resolution", "macs", "params",
              "status", "accuracy", "accuracies", "accuracy_history", "objective", "wall_seconds", "seeds"]
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

def raises(depth_mult, width_mult, num_classes):
    raise ValueError("no such width")

def wrong_classes(depth_mult, width_mult, num_classes):
    return make(depth_mult, width_mult, 3)
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


def coefficients(attrs: dict) -> list[tuple[float, float, float]]:
    return [(p["alpha"], p["beta"], p["gamma"]) for p in attrs["points"]]


def trained_per_candidate(study: optuna.Study) -> Counter:
    """(α, β, γ) -> number of trials that finished a training of its network (carry an accuracy)."""
    return Counter(c for t in study.get_trials(deepcopy=False) if "accuracy" in t.user_attrs
                   for c in coefficients(t.user_attrs))


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


pytestmark = pytest.mark.usefixtures("one_thread")


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


def test_search_prints_the_ranking_noise_best_and_scale_command(finished, capsys) -> None:
    spec_path, runs_dir, code, out, err = finished
    assert code == 0, err
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:2] == ["rank", "α"] and "objective" in header and "MACs/T" in header and "±" in header
    assert [int(line.split()[0]) for line in lines[1:5]] == [1, 2, 3, 4]
    assert "4 of 4 networks evaluated (4 candidates); seed noise: σ = " in out
    table = pd.read_csv(runs_dir / STUDY / "results.csv")
    sigma = float(re.search(r"σ = (\S+) top-1", out).group(1))
    probe = table[table["seeds"] == 2].iloc[0]
    assert (probe["alpha"], probe["beta"], probe["gamma"]) == PAPERLESS_PROBE
    assert sigma == pytest.approx(probe["accuracy_std"], abs=1e-4)  # one probe of 2 seeds: its own std
    assert probe["accuracy_min"] == pytest.approx(probe["accuracy"] - probe["accuracy_std"] / math.sqrt(2))
    single = table[table["seeds"] == 1]
    assert single["accuracy_min"].tolist() == single["accuracy"].tolist()
    assert table["uncertainty"].tolist() == pytest.approx([sigma / math.sqrt(n) for n in table["seeds"]], abs=1e-4)
    best = table.iloc[0]
    best_line = [line for line in lines if line.startswith("best:")]
    assert len(best_line) == 1
    assert best_line[0].startswith(f"best: α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g} "
                                   f"(accuracy {best['accuracy']:.4f} ± {best['uncertainty']:.4f}, objective "
                                   f"{best['objective']:.4f})")
    others = int(table["tied_with_best"].sum()) - 1
    assert ("no other network is within noise of it" in best_line[0]) == (others == 0)
    spread = spread_test(table["accuracy"], table["seeds"], NoiseEstimate(probe["accuracy_std"], 1, 1))
    assert [line for line in lines if line.startswith("between networks: ")] == [spread.line()]
    assert spread.line() in (runs_dir / STUDY / "report.md").read_text()
    scale = [line for line in lines if line.startswith("scale it: ")]
    command = shlex.split(scale[0].split("scalesearch ", 1)[1])
    assert command == ["scale", str(spec_path), "--alpha", f"{best['alpha']:g}", "--beta", f"{best['beta']:g}",
                       "--gamma", f"{best['gamma']:g}", "--phi", "0..7"]
    assert run(command, capsys)[0] == 0  # the suggested command works as printed
    assert err == ""


def test_results_csv_has_one_row_per_network_with_recomputed_objectives(finished) -> None:
    _, runs_dir, code, _, _ = finished
    assert code == 0
    table = pd.read_csv(runs_dir / STUDY / "results.csv")
    assert set(CSV_COLUMNS) <= set(table.columns)
    assert len(table) == 4
    assert set(zip(table["alpha"], table["beta"], table["gamma"])) == EXPECTED
    target = 2.0**1 * spec_cost(NetworkSpec.from_dict(TINY_SPEC)).macs
    for row in table.itertuples():
        resolution, cost = expected_cost(row.alpha, row.beta, row.gamma)
        assert (row.resolution, row.macs) == (resolution, cost.macs)
        assert row.macs_ratio == pytest.approx(cost.macs / target, rel=1e-12)
        assert 0.0 <= row.accuracy <= 1.0
        assert row.objective == pytest.approx(soft_reward(row.accuracy, cost.macs, target), rel=1e-12)
        assert row.status == "ok"
    assert table["objective"].tolist() == sorted(table["objective"], reverse=True)
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert bool(table["tied_with_best"].iloc[0])
    assert table["accuracy"].max() >= 0.3  # learned: chance is 0.1 on 10 classes


def test_study_has_one_result_trial_per_network_with_readable_attributes(finished) -> None:
    _, runs_dir, code, _, _ = finished
    assert code == 0
    study = load(runs_dir)
    results = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(results) == 4
    table = pd.read_csv(runs_dir / STUDY / "results.csv").set_index(["alpha", "beta", "gamma"])
    for trial in results:
        attrs = trial.user_attrs
        assert set(USER_ATTRS) <= set(attrs)
        (alpha, beta, gamma), = coefficients(attrs)
        assert attrs["candidate"] == f"α={alpha:g} β={beta:g} γ={gamma:g}"
        assert (attrs["d"], attrs["w"], attrs["r"]) == (alpha, beta, gamma)  # φ = 1
        assert attrs["seeds"] == ([0, 1] if (alpha, beta, gamma) == PAPERLESS_PROBE else [0])
        assert [len(h) for h in attrs["accuracy_history"]] == [1] * len(attrs["seeds"])  # no pruner: last epoch
        assert attrs["accuracies"] == [h[-1] for h in attrs["accuracy_history"]]
        resolution, cost = expected_cost(alpha, beta, gamma)
        assert (attrs["params"], attrs["resolution"]) == (cost.params, resolution)
        assert trial.value == attrs["objective"] and trial.params == {"network": attrs["network"]}
        row = table.loc[(alpha, beta, gamma)]
        assert (row["accuracy"], row["objective"]) == (attrs["accuracy"], attrs["objective"])
    assert trained_per_candidate(study) == Counter({c: 1 for c in EXPECTED})
    frame = study.trials_dataframe()
    for column in ("candidate", "d", "w", "r", "macs", "accuracy_history", "status", "accuracy"):
        assert f"user_attrs_{column}" in frame.columns
    assert frame["params_network"].notna().all()


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


def test_the_library_runs_the_same_study_as_the_command(finished, tmp_path) -> None:
    spec_path, runs_dir, code, _, _ = finished
    assert code == 0
    config = grid_study(str(spec_path), space=SPACE, data=DataConfig("synthetic", train_images=1000, test_images=100),
                        training=TrainConfig(epochs=2, batch_size=50, device="cpu", progress=False),
                        proxy_resolution=16, pruning=Pruning("none"), noise_seeds=2)
    study = run_study(config, f"sqlite:///{tmp_path / 'lib.db'}", "lib", progress=False)
    mine = {r.plan.points[0]["alpha"]: r.accuracies for r in study_results(study)}
    theirs = {r.plan.points[0]["alpha"]: r.accuracies for r in study_results(load(runs_dir))}
    assert mine == theirs


# --- identical networks are trained once ---------------------------------------------------------


def test_candidates_that_build_one_network_share_one_training(spec, runs, capsys) -> None:
    # α = 1.2 and 1.3 both give ceil(1·α) = 2 blocks per stage: the same network at φ = 1
    grid = ["--alpha-range", "1.2,1.3", "--beta-range", "1,1", "--gamma-range", "1.2,1.2", "--step", "0.1",
            "--product", "1.8", "--tol", "0.1"]
    code, out, err = run(["grid", "--baseline", str(spec), *grid, *TRAIN, "--runs-dir", str(runs), "--study", "dup"],
                         capsys)
    assert code == 0, err
    study = load(runs, "dup")
    assert len(study.get_trials()) == 1
    (trial,) = study.get_trials()
    assert coefficients(trial.user_attrs) == [(1.2, 1.0, 1.2), (1.3, 1.0, 1.2)]
    assert "α=1.2 β=1 γ=1.2 | α=1.3 β=1 γ=1.2" in out
    assert "1 of 1 networks evaluated (2 candidates)" in out
    table = pd.read_csv(runs / "dup" / "results.csv")
    assert len(table) == 1 and table["points"].iloc[0] == 2


# --- resume, interrupt, workers --------------------------------------------------------------


def test_interrupt_exits_130_and_the_rerun_trains_only_what_is_missing(finished, spec, runs, monkeypatch,
                                                                       capsys) -> None:
    real = scalesearch.runner.train_network
    calls: list[list] = []

    def interrupted_on_third(plan, *args, **kwargs):
        calls.append(plan.points)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(scalesearch.runner, "train_network", interrupted_on_third)
    code, out, err = run(grid_argv(spec, runs), capsys)
    assert code == 130
    assert err.strip().splitlines() == ["scalesearch: interrupted"]
    assert out == ""
    study = load(runs)
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "COMPLETE", "FAIL", "WAITING"]
    assert not (runs / STUDY / "results.csv").exists()

    monkeypatch.setattr(scalesearch.runner, "train_network", real)
    code, out, err = run(grid_argv(spec, runs), capsys)
    assert (code, err) == (0, ""), err
    study = load(runs)
    assert trained_per_candidate(study) == Counter({c: 1 for c in EXPECTED})
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert coefficients(study.get_trials()[4].user_attrs) == [tuple(calls[2][0].values())]
    assert accuracies(runs) == accuracies(finished[1])  # interrupted or not, the same numbers


def test_two_workers_share_one_sqlite_study(finished, spec, runs, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, "--workers", "2"), capsys)
    assert (code, err) == (0, ""), err
    assert trained_per_candidate(load(runs)) == Counter({c: 1 for c in EXPECTED})
    assert "4 of 4 networks evaluated" in out
    assert accuracies(runs) == accuracies(finished[1])


def test_evaluate_every_epoch_keeps_each_epochs_accuracy(spec, runs, capsys) -> None:
    code, _, err = run(grid_argv(spec, runs, "--evaluate-every-epoch"), capsys)
    assert code == 0, err
    trials = [t for t in load(runs).get_trials() if "accuracy_history" in t.user_attrs]
    assert len(trials) == 4
    assert {len(h) for t in trials for h in t.user_attrs["accuracy_history"]} == {2}  # --epochs 2


def test_default_workers_one_per_core_or_gpu_and_no_more_than_waiting_networks(monkeypatch) -> None:
    monkeypatch.setattr(scalesearch.runner.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert [default_workers("auto", 64), default_workers("cpu", 3), default_workers("cpu", 0)] == [8, 3, 1]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert [default_workers("auto", 10), default_workers("cuda", 2), default_workers("cuda:1", 10)] == [4, 2, 1]
    assert default_workers("cpu", 10) == 8


def test_without_workers_the_default_sees_the_waiting_networks(spec, runs, monkeypatch, capsys) -> None:
    asked = []
    monkeypatch.setattr("scalesearch.cli.study_options.default_workers",
                        lambda device, waiting: asked.append((device, waiting)) or 1)
    code, _, err = run(grid_argv(spec, runs), capsys)
    assert (code, asked) == (0, [("cpu", 4)]), err


# --- settings and seeds ----------------------------------------------------------------------


@pytest.mark.parametrize(("change", "difference"), [
    (["--epochs", "3"], "training.epochs: 2.0 there, 3.0 now"),
    (["--seeds", "2"], "seeds: [0] there, [0, 1] now"),
])
def test_rerun_with_other_settings_is_refused(finished, change, difference, capsys) -> None:
    spec_path, runs_dir, code, _, _ = finished
    assert code == 0
    before = [(t.number, t.state, t.value, t.user_attrs) for t in load(runs_dir).get_trials()]
    results = (runs_dir / STUDY / "results.csv").read_bytes()
    code, out, err = run(grid_argv(spec_path, runs_dir, *change), capsys)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert f"study '{STUDY}' was created with other settings" in err
    assert difference in err
    assert [(t.number, t.state, t.value, t.user_attrs) for t in load(runs_dir).get_trials()] == before
    assert (runs_dir / STUDY / "results.csv").read_bytes() == results


def test_a_study_stored_before_balanced_batches_resumes_with_a_plain_shuffle_only(finished, tmp_path,
                                                                                  capsys) -> None:
    spec_path, finished_runs, code, _, _ = finished
    runs_dir = tmp_path / "runs"
    shutil.copytree(finished_runs, runs_dir)
    study = load(runs_dir)
    stored = json.loads(json.dumps(stored_config(study).to_dict()))
    del stored["training"]["balanced_batches"]  # as every study written before the option existed
    assert StudyConfig.from_dict(stored).training.balanced_batches is False
    study.set_user_attr(CONFIG_KEY, stored)
    code, out, err = run(grid_argv(spec_path, runs_dir), capsys)
    assert (code, out) == (2, "")
    assert "training.balanced_batches: False there, None now" in err
    code, _, err = run(grid_argv(spec_path, runs_dir, "--no-balanced-batches"), capsys)
    assert code == 0, err


def test_run_only_settings_may_differ_on_a_rerun(finished, capsys) -> None:
    spec_path, runs_dir, code, out, _ = finished
    assert code == 0
    code, again, err = run(grid_argv(spec_path, runs_dir, "--workers", "2", "--heartbeat", "5"), capsys)
    assert (code, err) == (0, "")
    assert again == out


def test_two_seeds_pool_the_noise_of_every_network(spec, runs, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, "--seeds", "2"), capsys)
    assert (code, err) == (0, ""), err
    results = study_results(load(runs))
    assert [r.seeds for r in results] == [(0, 1)] * 4  # the probe needs no extra seeds
    deviations = [a - sum(r.accuracies) / 2 for r in results for a in r.accuracies]
    pooled = math.sqrt(sum(d * d for d in deviations) / 4)  # 4 networks, one degree of freedom each
    sigma = float(re.search(r"σ = (\S+) top-1 \(pooled over 4 network\(s\), 4 degrees of freedom\)", out).group(1))
    assert sigma == pytest.approx(pooled, abs=1e-4)
    table = pd.read_csv(runs / STUDY / "results.csv")
    best = table.iloc[0]
    assert "Tukey–Kramer, 95 % for all 4 networks at once, studentized range with the 4 degrees of freedom of σ" in out
    for _, row in table.iterrows():  # the tie test, recomputed: q(0.95; 4, 4 dof)/√2 = 5.757/√2 standard errors
        error = lambda r: pooled * r["objective"] / r["accuracy"] / math.sqrt(2)  # noqa: E731
        margin = 5.757 / math.sqrt(2) * math.hypot(error(row), error(best))
        assert bool(row["tied_with_best"]) == (best["objective"] - row["objective"] <= margin)


def test_hard_constraint_and_w_change_the_objective(spec, runs, capsys) -> None:
    target = 2.0 * spec_cost(NetworkSpec.from_dict(TINY_SPEC)).macs
    grid = ["--alpha-range", "1,2", "--beta-range", "1,1", "--gamma-range", "1,1.2", "--step", "0.2"]  # 2 networks
    for extra, study, score in [
        (["--hard"], "hard", lambda acc, macs: acc * (1.0 if macs <= target else target / macs)),
        (["--w", "0"], "w0", lambda acc, macs: acc),
    ]:
        code, _, err = run(["grid", "--baseline", str(spec), *grid, *TRAIN, "--runs-dir", str(runs), "--study", study,
                            *extra], capsys)
        assert (code, err) == (0, ""), err
        table = pd.read_csv(runs / study / "results.csv")
        assert sorted(table["macs_ratio"] > 1) == [False, True]  # one within T, one beyond
        for row in table.itertuples():
            assert row.objective == pytest.approx(score(row.accuracy, row.macs), rel=1e-12)


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
    assert trained_per_candidate(load(runs, study)) == Counter({c: 1 for c in EXPECTED})


# --- bad input: one line, exit 2, nothing written ----------------------------------------------------


BAD_GRID_INPUT = [
    (["--phi", "0"], r"--phi: must be in \(0, "),
    (["--phi", "-1"], r"--phi: must be in \(0, "),
    (["--step", "0.3", "--tol", "0"], r"no grid point .* within 2 ± 0 .*try --tol 0\.1 or a finer --step$"),
    (["--step", "1e-9"], r"--step: must be in \[0\.005, 1\]"),
    (["--alpha-range", "1,1e9"], r"alpha range must satisfy 1 <= low <= high <= 4"),
    (["--seeds", "0"], r"--seeds: must be in \[1, 20\], got 0$"),
    (["--seed", "4294967295"], r"the noise probe's seeds 4294967295\.\.429496729[67] go past the largest seed"),
    (["--workers", "0"], r"--workers: must be in \[1, 64\], got 0$"),
    (["--target-macs", "0"], r"--target-macs: must be in \[1, 1e\+15\], got 0$"),
    (["--w", "1e6"], r"--w: must be in \[-1, 1\], got 1e6$"),
    (["--top", "0"], r"--top: must be in \[1, 10000\], got 0$"),
    (["--study", "../escape"], r"--study: expected letters, digits"),
    (["--lr", "-1"], r"--lr: must be in \(0, 10\]"),
    (["--epochs", "0"], r"--epochs: must be in \(0, 1000\]"),
    (["--epochs", "nan"], r"--epochs: expected a finite number"),
    (["--images", "-5"], r"--images: must be in \[1, "),
    (["--label-smoothing", "2"], r"--label-smoothing: must be in \[0, 1\)"),
    (["--seed", str(2**70)], r"--seed: must be in \[0, 4294967295\]"),
    (["--device", "cuda"], r"CUDA is not available"),
    (["--batch-size", "2000"], r"batch size 2000 is larger than the 1000 training images"),
    (["--proxy-resolution", "1"], r"resolution 1 is smaller than 2, half of tiny's total stride"),
    (["--heartbeat", "0"], r"--heartbeat: must be in \[1, 600\]"),
    (["--noise-seeds", "1"], r"--noise-seeds: must be in \[2, 20\], got 1$"),
    (["--prune-from", "0"], r"--prune-from: must be in \[1, 1000\], got 0$"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_GRID_INPUT)
def test_bad_input_is_one_line_and_writes_nothing(spec, runs, extra, message, capsys) -> None:
    code, out, err = run(grid_argv(spec, runs, *extra), capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("scalesearch grid: error: ")
    assert re.search(message, err.rstrip("\n")), err
    assert not runs.exists()


# Found when the storage is opened: the study folder made for it is removed again.
@pytest.mark.parametrize(("storage", "message"), [
    ("redis://x", r"unknown storage URL 'redis://x'"),
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
    assert not runs.exists()


def test_runs_dir_under_a_file_is_one_line(spec, tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(grid_argv(spec, blocker / "runs"), capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "cannot create the run folder" in err, err
    assert blocker.read_text() == ""


@pytest.mark.parametrize(("factory", "message"), [
    ("not_a_model", r"factory {name}:not_a_model returned str, not a torch.nn.Module"),
    ("raises", r"factory {name}:raises failed.*: ValueError: no such width$"),
    ("wrong_classes", r"factory {name}:wrong_classes gave shape \(2, 3\) .*; expected \(2, 10\)"),
])
def test_factory_errors_are_refused_before_any_study(factory_module, runs, factory, message, capsys) -> None:
    baseline = f"{factory_module}:{factory}"
    code, out, err = run(["grid", "--baseline", baseline, *GRID, *TRAIN, "--runs-dir", str(runs)], capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert re.search(message.format(name=re.escape(factory_module)), err), err
    assert not runs.exists()


def test_unimportable_factory_is_refused(runs, capsys) -> None:
    argv = ["grid", "--baseline", "nosuchmodule:make", *GRID, *TRAIN, "--runs-dir", str(runs)]
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1
    assert "cannot import factory module 'nosuchmodule'" in err
    assert not runs.exists()


# --- storage and seeding, directly -------------------------------------------------------------


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


def test_a_network_trains_the_same_whatever_ran_before(spec) -> None:
    """The seed alone decides a training, initial weights included (resumed searches repeat)."""
    config = grid_study(str(spec), space=SPACE, data=DataConfig("synthetic", train_images=200, test_images=100),
                        training=TrainConfig(epochs=1, batch_size=50, device="cpu", progress=False),
                        proxy_resolution=16, seeds=(3,))
    prepared = prepare(config)
    plan = prepared.plans[1]
    first = train_network(plan, prepared)
    torch.rand(1000)  # whatever else used the global generator in between
    again = train_network(plan, prepared)
    assert again.accuracies == first.accuracies and again.objective == first.objective


def test_no_code_reads_optunas_private_attributes() -> None:
    package = Path(scalesearch.runner.__file__).parent
    offenders = [f"{path.name}:{number}" for path in package.rglob("*.py")
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"\._storage|\._trial_id|system_attrs|optuna\.\w+\._", line)]
    assert offenders == []


def test_the_study_stores_the_spec_so_a_worker_needs_no_copy_of_the_file(spec, runs, capsys) -> None:
    url = f"sqlite:///{runs}/shared.db"
    runs.mkdir()
    code, _, err = run(grid_argv(spec, runs, "--storage", url, "--study", "moved", "--no-work"), capsys)
    assert code == 0, err
    spec.unlink()  # another machine: the spec file is not there
    code, _, err = run(["worker", "--storage", url, "--study", "moved"], capsys)
    assert (code, err) == (0, "")
    results = study_results(optuna.load_study(study_name="moved", storage=url))
    assert len(results) == 4 and all(r.status == "ok" for r in results)


def test_a_study_where_every_network_diverged_recommends_nothing(finished, capsys, monkeypatch) -> None:
    spec_path, runs_dir, code, _, _ = finished
    assert code == 0
    study = load(runs_dir)
    diverged = [replace(r, status="diverged", accuracies=(0.0,) * len(r.seeds), objective=0.0)
                for r in study_results(study)]
    monkeypatch.setattr(scalesearch.cli.ranking_output, "study_results", lambda _study: diverged)
    code, out, err = run(grid_argv(spec_path, runs_dir), capsys)
    assert (code, err) == (0, "")
    assert "no network trained to the end (all pruned or diverged): no best to recommend" in out
    assert "best:" not in out and "scale it:" not in out


def test_each_worker_gets_its_own_gpu_when_there_are_several(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert scalesearch.runner.worker_devices("auto", 3) == ["cuda:0", "cuda:1", "cuda:0"]
    assert scalesearch.runner.worker_devices("cuda", 2) == ["cuda:0", "cuda:1"]
    assert scalesearch.runner.worker_devices("cuda:1", 2) == ["cuda:1", "cuda:1"]  # a device the user chose
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert scalesearch.runner.worker_devices("auto", 2) == ["auto", "auto"]
