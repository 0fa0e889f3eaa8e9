"""`--prune screen`: a short run of its own for every network, then the best third to the full budget.

The promotion rule on constructed results, where the answer is known; then the tiny grid of
test_grid.py end to end (4 networks, 1-epoch screens, 2-epoch budget, a noise probe of 2 seeds): what is trained, what
the ranking shows, resume, a duplicate queued by two workers at once, and bad input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pandas as pd
import pytest

import scalesearch.runner
from scalesearch.cli import build_parser
from scalesearch.cli.grid_command import grid_config_from_args
from scalesearch.record import NetworkPlan, NetworkResult
from scalesearch.scaling import Multipliers
from scalesearch.screening import PROMOTED_KEY, SCREEN_ATTR, check_left_out, merge, promote
from scalesearch.study import epochs_trained, screen_check, stored_config, study_results
from scalesearch.study_config import KnownNoise
from test_grid import STUDY, accuracies, grid_argv, load, run, write_spec

pytestmark = pytest.mark.usefixtures("one_thread")
SCREEN = ["--prune", "screen", "--prune-from", "1"]  # after TRAIN's "--prune none": the last one counts


def result(index: int, objective: float, status: str = "ok", probe: bool = False) -> NetworkResult:
    plan = NetworkPlan(index=index, points=({"alpha": 1.0 + index / 10},), multipliers=Multipliers(),
                       resolution=32, proxy_resolution=16, epochs=None, macs=1000, params=10, activations=10,
                       probe=probe)
    return NetworkResult(plan=plan, status=status, seeds=(0,), accuracies=(objective,), histories=((objective,),),
                         epochs_trained=1.0, wall_seconds=1.0, objective=objective)


# --- the rule --------------------------------------------------------------------------------


def test_the_best_third_is_promoted_ties_in_network_order_diverged_never() -> None:
    screens = [result(0, 0.5), result(1, 0.9), result(2, 0.7), result(3, 0.7), result(4, 0.95, "diverged"),
               result(5, 0.1), result(6, 0.2)]
    assert promote(screens, probe_measures_noise=False) == (1, 2, 3)  # ceil(7 / 3) = 3; 2 before 3 at 0.7


def test_the_noise_probe_is_promoted_only_when_it_measures_the_noise() -> None:
    screens = [result(0, 0.1, probe=True), result(1, 0.9), result(2, 0.8), result(3, 0.7)]
    assert promote(screens, probe_measures_noise=True) == (0, 1, 2)
    assert promote(screens, probe_measures_noise=False) == (1, 2)


def test_merge_keeps_promoted_full_trainings_and_prunes_the_rest() -> None:
    screens = {i: result(i, 0.5 + i / 10) for i in range(3)} | {3: result(3, 0.0, "diverged")}
    finals = {2: replace(result(2, 0.9), epochs_trained=2.0)}
    assert merge(finals, screens, None) == {}  # nothing decided before every network is screened
    merged = merge(finals, screens, [2])
    assert {i: r.status for i, r in merged.items()} == {0: "pruned", 1: "pruned", 2: "ok", 3: "diverged"}
    assert merged[2] is finals[2] and merged[0].accuracies == screens[0].accuracies


# --- what the screen left out, against its noise ------------------------------------------------


def test_left_out_networks_within_noise_of_the_screens_best_are_named() -> None:
    screens = [result(0, 0.80), result(1, 0.79), result(2, 0.70), result(3, 0.85, "diverged")]
    known = KnownNoise(0.01, 10, "a calibration")  # 3 complete: margin q(0.95; 3, 10)/√2 · 0.01 · √2 = 0.0388
    check = check_left_out(screens, [0], known, epochs=2)
    assert check.left_out == (screens[1].plan.name, screens[2].plan.name, screens[3].plan.name)
    assert check.within_noise == (screens[1].plan.name,)  # 0.79 is 0.01 below; 0.70 and the diverged run are not
    assert check.line().startswith("screen (2 epochs): of the 3 networks it left out, 1 was within noise of its best "
                                   "(σ = 0.0100 measured by a calibration, 10 degrees of freedom; difference ≤ 2.74 "
                                   "combined standard errors (Tukey–Kramer, 95 % for all 3 networks at once")
    assert check.line().endswith("this search cannot rule it out")
    wide = check_left_out(screens, [0], KnownNoise(0.1, 10, "c"), epochs=2)
    assert wide.within_noise == (screens[1].plan.name, screens[2].plan.name)
    assert "2 were within noise of its best" in wide.line() and wide.line().endswith("cannot rule them out")
    narrow = check_left_out(screens, [0], KnownNoise(0.001, 10, "c"), epochs=2)
    assert narrow.within_noise == () and "each was worse than its best beyond seed noise" in narrow.line()


def test_a_screen_without_its_noise_or_without_networks_left_out() -> None:
    screens = [result(0, 0.80), result(1, 0.79)]
    unknown = check_left_out(screens, [0], None, epochs=3)
    assert unknown.within_noise == () and unknown.noise is None
    assert unknown.line() == ("screen (3 epochs): of the 1 network it left out, none is tested against its best: its "
                              "seed noise is unknown (pass --noise-from a calibration whose --ladder includes 3)")
    assert check_left_out(screens, [0, 1], KnownNoise(0.01, 10, "c"), epochs=3) is None


# --- end to end on the tiny grid -------------------------------------------------------------------


@pytest.fixture(scope="module")
def screened(one_thread, tmp_path_factory):
    folder = tmp_path_factory.mktemp("screened")
    spec, runs = write_spec(folder), folder / "runs"
    code, out, err = run(grid_argv(spec, runs, *SCREEN))
    return spec, runs, code, out, err


def test_every_network_is_screened_then_only_the_promoted_train_the_budget(screened) -> None:
    _, runs, code, out, err = screened
    assert code == 0, err
    study = load(runs)
    trials = study.get_trials()
    screens = [t for t in trials if t.user_attrs.get(SCREEN_ATTR)]
    # a spare trial (two workers raced for the last queued one) trains nothing
    finals = [t for t in trials if not t.user_attrs.get(SCREEN_ATTR) and not t.user_attrs.get("spare")]
    assert [t.number for t in screens] == [0, 1, 2, 3]  # every screening run comes first
    assert {len(h) for t in screens for h in t.user_attrs["accuracy_history"]} == {1}  # 1 epoch, seed 0 only
    assert all(t.user_attrs["seeds"] == [0] for t in screens)
    by_objective = sorted(screens, key=lambda t: (-t.user_attrs["objective"], t.user_attrs["network"]))
    best, probe = {t.user_attrs["network"] for t in by_objective[:2]}, 0  # ceil(4 / 3) = 2; the probe: the noise
    assert sorted(study.user_attrs[PROMOTED_KEY]) == sorted(best | {probe})
    assert sorted(t.user_attrs["network"] for t in finals) == sorted(best | {probe})
    assert all(t.user_attrs["epochs_trained"] == 2 * len(t.user_attrs["seeds"]) for t in finals)
    assert [t.user_attrs["seeds"] for t in finals if t.user_attrs["network"] == probe] == [[0, 1]]
    # 4 screening runs of 1 epoch, the probe's 2 seeds (--noise-seeds 2) and the other best networks' 1 seed
    assert epochs_trained(study) == 4 + 2 * 2 + 2 * len(best - {probe})


def test_the_ranking_shows_the_screened_out_networks_as_pruned(screened) -> None:
    _, runs, _, out, err = screened
    study = load(runs)
    results = {r.plan.index: r for r in study_results(study)}
    promoted = set(study.user_attrs[PROMOTED_KEY])
    assert Counter(r.status for r in results.values()) == Counter(ok=len(promoted), pruned=4 - len(promoted))
    table = pd.read_csv(runs / STUDY / "results.csv")
    assert Counter(table["status"]) == Counter(ok=len(promoted), pruned=4 - len(promoted))
    assert "4 of 4 networks evaluated" in out
    left_out = screen_check(study, stored_config(study))  # no --noise-from: the screen's noise is unknown
    assert left_out.noise is None and len(left_out.left_out) == 4 - len(promoted)
    assert left_out.line() in out and left_out.line() in (runs / STUDY / "report.md").read_text()


def test_a_rerun_trains_nothing_and_an_interrupted_screen_resumes_to_the_same_numbers(screened, tmp_path,
                                                                                     monkeypatch, capsys) -> None:
    spec, runs, _, _, _ = screened
    before = len(load(runs).get_trials())
    code, _, err = run(grid_argv(spec, runs, *SCREEN), capsys)
    assert (code, len(load(runs).get_trials())) == (0, before), err

    real, calls = scalesearch.runner.train_network, []

    def interrupted_on_fifth(plan, *args, **kwargs):  # the first full training, after the 4 screens
        calls.append(plan.index)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(plan, *args, **kwargs)

    fresh = tmp_path / "runs"
    monkeypatch.setattr(scalesearch.runner, "train_network", interrupted_on_fifth)
    code, _, _ = run(grid_argv(spec, fresh, *SCREEN), capsys)
    assert code == 130
    monkeypatch.setattr(scalesearch.runner, "train_network", real)
    code, _, err = run(grid_argv(spec, fresh, *SCREEN), capsys)
    assert code == 0, err
    assert accuracies(fresh) == accuracies(runs)
    assert epochs_trained(load(fresh)) == epochs_trained(load(runs))


def test_a_promoted_network_queued_twice_is_trained_once(screened, tmp_path, capsys) -> None:
    spec, runs, _, _, _ = screened
    fresh = tmp_path / "runs"
    code, _, err = run([arg for arg in grid_argv(spec, fresh, *SCREEN, "--no-work") if arg != "--quiet"], capsys)
    assert code == 0, err
    assert "4 screening runs of 1 epoch(s), then the best 2 and the noise probe to 2 epochs" in err
    study = load(fresh)
    first = study.get_trials()[0]
    study.enqueue_trial({"network": 0}, user_attrs={k: v for k, v in first.user_attrs.items() if k != SCREEN_ATTR})
    study.enqueue_trial({"network": 0}, user_attrs={k: v for k, v in first.user_attrs.items() if k != SCREEN_ATTR})
    code, _, err = run(grid_argv(spec, fresh, *SCREEN), capsys)
    assert code == 0, err
    finals = [t for t in load(fresh).get_trials() if not t.user_attrs.get(SCREEN_ATTR)]
    trained = Counter(t.user_attrs["network"] for t in finals if "accuracy" in t.user_attrs)
    assert set(trained.values()) == {1}
    assert [t.user_attrs.get("spare") for t in finals].count(True) == 1
    assert accuracies(fresh) == accuracies(runs)


@pytest.mark.parametrize(("extra", "message"), [
    (["--prune-from", "2"], "a screening run of 2 epochs (--prune-from) must be shorter than the budget of 2 epochs"),
    ([], "a screening run of 2 epochs (--prune-from) must be shorter than the budget of 2 epochs"),  # the default
])
def test_a_screen_as_long_as_the_budget_is_refused(screened, tmp_path, extra, message, capsys) -> None:
    spec = screened[0]
    code, out, err = run(grid_argv(spec, tmp_path / "runs", "--prune", "screen", *extra), capsys)
    assert (code, out) == (2, "")
    assert err.strip().splitlines()[-1].endswith(message)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("prune", "first"), [("screen", 2), ("sha", 3), ("hyperband", 3)])
def test_the_first_rung_defaults_to_what_the_calibration_measured_for_each_pruner(prune, first) -> None:
    args = build_parser().parse_args(["grid", "--prune", prune])
    assert grid_config_from_args(args).pruning.min_epoch == first
    explicit = build_parser().parse_args(["grid", "--prune", prune, "--prune-from", "1"])
    assert grid_config_from_args(explicit).pruning.min_epoch == 1


def test_two_workers_screen_and_promote_each_network_once(screened, tmp_path, capsys) -> None:
    spec, runs, _, _, _ = screened
    fresh = tmp_path / "runs"
    code, _, err = run(grid_argv(spec, fresh, *SCREEN, "--workers", "2"), capsys)
    assert code == 0, err
    trained = Counter((t.user_attrs["network"], bool(t.user_attrs.get(SCREEN_ATTR)))
                      for t in load(fresh).get_trials() if "accuracy" in t.user_attrs)
    assert set(trained.values()) == {1} and len(trained) == 4 + len(load(runs).user_attrs[PROMOTED_KEY])
    assert accuracies(fresh) == accuracies(runs)
