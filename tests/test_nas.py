"""The architecture search: the space (membership, size, costs), the searches, best.json, pruning, duplicates,
and bad input. Every search is a 3-stage skeleton of a few thousand parameters on a few hundred images."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from scalesearch import runner
from scalesearch.cost import count_cost, spec_cost
from scalesearch.nas import search_results
from scalesearch.nas_report import outcome
from scalesearch.study import stored_config
from scalesearch.nas_space import SearchSpace, SpaceLists, StageChoice, architecture_key
from scalesearch.nn import build
from scalesearch.spec import NetworkSpec
from scalesearch.zoo import EFFICIENTNET_B0, MNASNET_A1
from search_processes import run_cli

SKELETON = {
    "name": "tiny3", "stem": {"channels": 8, "stride": 2},
    "stages": [{"op": "mbconv", "channels": 8, "stride": 1, "expand": 1, "se": 0.25},
               {"op": "mbconv", "channels": 16, "stride": 2, "expand": 6, "se": 0.25, "repeats": 2},
               {"op": "mbconv", "channels": 24, "stride": 2, "expand": 6, "kernel": 5}],
    "head": {"channels": 32}, "resolution": 32,
}
TARGET = ["--target-macs", "400000"]  # within the tiny space's 0.2M..5M MACs
TRAIN = ["--data", "synthetic", "--train-images", "400", "--test-images", "100", "--epochs", "1", "--batch-size",
         "50", "--proxy-resolution", "16", "--noise-seeds", "2", "--device", "cpu", "--quiet"]


@pytest.fixture
def skeleton(tmp_path: Path) -> Path:
    path = tmp_path / "tiny3.json"
    path.write_text(json.dumps(SKELETON))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def nas_argv(skeleton: Path, runs: Path, trials: int, *extra: str) -> list[str]:
    return ["nas", "--trials", str(trials), "--skeleton", str(skeleton), *TARGET, *TRAIN, "--runs-dir", str(runs),
            "--study", "s", *extra]


def load(runs: Path) -> optuna.Study:
    return optuna.load_study(study_name="s", storage=f"sqlite:///{runs / 's' / 'study.db'}")


# --- the space ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [EFFICIENTNET_B0, MNASNET_A1])
def test_zoo_models_are_members_and_rebuilt_exactly_from_their_choices(model: NetworkSpec) -> None:
    space = SearchSpace(model)
    choices = space.choices_of(model)
    assert space.to_spec(choices, model.name) == model
    assert space.to_spec(choices, model.name).to_json() == model.to_json()


def test_mnasnet_a1_is_outside_b0s_skeleton_for_what_the_skeleton_fixes() -> None:
    """A1 uses ReLU and 160 channels in stage 6 (0.83 × B0's 192): not a choice over B0's skeleton."""
    with pytest.raises(ValueError, match="not in the search space: stage 1 has activation relu"):
        SearchSpace(EFFICIENTNET_B0).choices_of(MNASNET_A1)
    a1 = SearchSpace(MNASNET_A1).choices_of(MNASNET_A1)
    b0 = SearchSpace(EFFICIENTNET_B0)
    relative = [choice.repeats - stage.repeats for choice, stage in zip(a1, EFFICIENTNET_B0.stages)]
    assert relative == [0, 0, 1, 1, -1, -1, 0] and all(c.op in b0.lists.operators for c in a1)


def test_the_default_space_over_b0_has_the_stated_size() -> None:
    space = SearchSpace(EFFICIENTNET_B0)
    # (2 plain + 3 MBConv × 2 SE × 2 skip) operators × 2 kernels × distinct channels × valid repeats
    assert [space.stage_size(i) for i in range(7)] == [112, 168, 252, 252, 252, 252, 168]
    assert space.size == 12_747_902_971_281_408
    assert space.channels[0] == (16, 24) and space.repeats[0] == (1, 2)  # 0.75 × 16 rounds up to 16


def test_a_sampled_spec_costs_what_the_same_spec_built_directly_costs() -> None:
    space = SearchSpace(EFFICIENTNET_B0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(3):
        trial = study.ask()
        choices = space.suggest(trial)
        sampled = space.to_spec(choices)
        direct = NetworkSpec.from_dict(json.loads(sampled.to_json()))
        assert space.choices_of(sampled) == choices
        assert spec_cost(sampled).macs == count_cost(build(direct), 224).macs
        study.tell(trial, 0.0)


def test_skip_that_no_block_can_use_does_not_make_another_network() -> None:
    space = SearchSpace(NetworkSpec.from_dict(SKELETON))
    base = space.choices_of(space.skeleton)
    changed = (base[0], base[1], StageChoice("mbconv6", 5, 0.0, False, 24, 1))  # stride 2, one block: no residual
    assert space.to_spec(changed) != space.to_spec(base)
    assert architecture_key(space.to_spec(changed)) == architecture_key(space.to_spec(base))


# --- searches ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "random"])
def test_a_tiny_search_runs_with_each_sampler_and_writes_a_valid_best_json(sampler, skeleton, runs, one_thread
                                                                           ) -> None:
    code, out, err = run_cli(nas_argv(skeleton, runs, 3, "--sampler", sampler))
    assert code == 0, err
    study = load(runs)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert len(study.directions) == (2 if sampler == "nsga2" else 1)
    best = NetworkSpec.load(runs / "s" / "best.json")
    assert SearchSpace(NetworkSpec.from_dict(SKELETON)).choices_of(best)
    [best_line] = [line for line in out.splitlines() if line.startswith("best: trial")]
    assert re.match(r"best: trial \d+ \(accuracy \d\.\d{4} ± \d\.\d{4}\)", best_line), best_line
    assert ("the Pareto point nearest T" if sampler == "nsga2" else "within noise of it") in best_line
    if sampler != "nsga2":  # NSGA-II prints its Pareto front, which need not hold the skeleton
        assert "trial 0: mbconv1 k3 se0.25 id 8ch×1 | mbconv6 k3 se0.25 id 16ch×2 | mbconv6 k5 se0 id 24ch×1" in out
    assert (runs / "s" / "report.md").read_text().count("nas_accuracy_vs_macs.png") == 1
    for result in search_results(study):
        assert result.plan.macs == spec_cost(NetworkSpec.from_json(result.plan.baseline)).macs
    code, _, err = run_cli(nas_argv(skeleton, runs, 3, "--sampler", sampler))  # a rerun resumes: nothing to do
    assert code == 0, err
    assert len(load(runs).trials) == 3


def test_the_search_says_whether_its_networks_differ_beyond_seed_noise(skeleton, runs, one_thread) -> None:
    code, out, err = run_cli(nas_argv(skeleton, runs, 3, "--sampler", "random", "--batch-size", "8"))  # they learn
    assert code == 0, err
    study = load(runs)
    ranking = outcome(study, stored_config(study)).ranking  # read back from storage
    assert ranking.noise.sigma > 0 and (ranking.table["status"] == "ok").sum() == 3
    spread = ranking.spread_line()
    assert spread.startswith("between networks: accuracies ") and "on 2 and 1 degrees of freedom" in spread
    assert spread in out.splitlines() and spread in (runs / "s" / "report.md").read_text()


def test_best_json_builds_counts_and_scales_through_grid(skeleton, runs, one_thread) -> None:
    assert run_cli(nas_argv(skeleton, runs, 2))[0] == 0
    best = str(runs / "s" / "best.json")
    code, out, err = run_cli(["flops", best])
    assert code == 0 and NetworkSpec.load(best).name in out, err
    code, out, err = run_cli(["grid", "--baseline", best, "--alpha-range", "2,2", "--beta-range", "1,1",
                              "--gamma-range", "1,1", "--step", "0.2", *TRAIN, "--prune", "none",
                              "--runs-dir", str(runs), "--study", "g"])
    assert code == 0, err
    assert "best: α=2 β=1 γ=1" in out


def test_pruning_stops_weak_samples_early(skeleton, runs, one_thread) -> None:
    """Embedded data, 3 epochs, first rung at epoch 2: trials 4 and 5 trail the best at epoch 2."""
    argv = nas_argv(skeleton, runs, 6, "--sampler", "random", "--prune", "sha", "--prune-from", "2")
    argv[argv.index("synthetic")] = "fashion-mnist-mini"
    argv[argv.index("--epochs") + 1] = "3"
    code, _, err = run_cli(argv)
    assert code == 0, err
    pruned = load(runs).get_trials(states=(TrialState.PRUNED,))
    assert pruned and all(t.user_attrs["epochs_trained"] < 3 for t in pruned)


def test_samples_of_one_network_are_trained_once(skeleton, runs, tmp_path, one_thread, monkeypatch) -> None:
    space = tmp_path / "one.toml"
    space.write_text('operators = ["mbconv6"]\nkernels = [3]\nse = [0.0]\nskip = [true]\nchannels = [1.0]\n'
                     'repeats = [0]\n')
    trained = []
    train = runner.train_network
    monkeypatch.setattr(runner, "train_network", lambda plan, *a, **k: trained.append(plan.index) or
                        train(plan, *a, **k))
    only = SearchSpace(NetworkSpec.from_dict(SKELETON), SpaceLists.load(space)).extreme(largest=False)
    target = ["--target-macs", str(spec_cost(only).macs)]  # the space's one network: T must be its MACs
    code, out, err = run_cli(nas_argv(skeleton, runs, 3, "--space", str(space), "--sampler", "random", *target))
    assert code == 0, err
    trials = load(runs).get_trials(states=(TrialState.COMPLETE,))
    assert trained == [0]
    assert [t.user_attrs.get("duplicate_of") for t in trials] == [None, 0, 0]
    assert len({t.value for t in trials}) == 1


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("toml, message", [
    ("kernels = []", "the search space's 'kernels' list is empty"),
    ("repeats = [-1]", "no valid repeats for stage 1: the skeleton's 1 plus offsets [-1] must give 1..1024"),
    ("operators = ['mbconv4']", "each value of the search space's 'operators' list must be one of conv, dsconv"),
    ("kernels = [4]", "'kernels' list must be an odd integer"),
    ("width = [1]", "unknown key(s) width"),
    ("kernels = 3", "'kernels' must be an array"),
    ("kernels = [3", "not valid TOML"),
])
def test_a_bad_space_is_one_line_and_writes_nothing(toml, message, skeleton, runs, tmp_path, capsys) -> None:
    space = tmp_path / "space.toml"
    space.write_text(toml + "\n")
    _refused(nas_argv(skeleton, runs, 2, "--space", str(space)), message, runs)


@pytest.mark.parametrize("extra, message", [
    (["--skeleton", "resnet-18"], "skeleton resnet-18 has basic stages; the search space expresses MBConv-style"),
    (["--target-macs", "1000"], "no network of the search space meets T = 1,000 MACs: they range from"),
    (["--target-macs", "1e12"], "no network of the search space meets T = 1,000,000,000,000 MACs"),
    (["--trials", "0"], r"argument --trials: must be in [1, 10000], got 0"),
    (["--sampler", "nsga2", "--prune", "sha"], "NSGA-II searches two objectives, which Optuna cannot prune"),
    (["--no-work"], "a search samples its trials as it goes: there is nothing to queue with --no-work"),
])
def test_bad_arguments_are_one_line_and_write_nothing(extra, message, skeleton, runs) -> None:
    _refused(nas_argv(skeleton, runs, 2) + extra, message, runs)


def test_a_best_json_that_fails_validation_is_one_line(tmp_path, runs) -> None:
    bad = tmp_path / "best.json"
    bad.write_text(json.dumps({**SKELETON, "stages": [{**SKELETON["stages"][0], "kernel": 4}]}))
    _refused(["grid", "--baseline", str(bad), *TRAIN, "--runs-dir", str(runs)], "stages[0].kernel must be odd", runs)
    _refused(["nas", "--trials", "2", "--skeleton", str(bad), *TRAIN, "--runs-dir", str(runs)],
             "stages[0].kernel must be odd", runs)


def _refused(argv: list[str], message: str, runs: Path) -> None:
    code, out, err = run_cli(argv)
    assert code == 2, err
    assert message in err and err.count("\n") == 1, err
    assert not runs.exists()


def test_space_lists_round_trip_and_defaults() -> None:
    assert SpaceLists.from_dict(SpaceLists().to_dict()) == SpaceLists()
    assert SpaceLists.from_dict({"kernels": [3]}).kernels == (3,)


# --- the chain NAS → grid → family -------------------------------------------------------------------

def _chain(skeleton: Path, runs: Path) -> str:
    train = "\n".join(f"{key} = {value}" for key, value in (
        ("data", '"synthetic"'), ("train_images", 400), ("test_images", 100), ("epochs", 1), ("batch_size", 50),
        ("proxy_resolution", 16), ("noise_seeds", 2), ("device", '"cpu"'), ("quiet", "true"),
        ("runs_dir", f'"{runs}"')))
    return (f'[[step]]\ncommand = "nas"\nstudy = "n"\ntrials = 2\nskeleton = "{skeleton}"\ntarget_macs = 400000\n'
            f'{train}\n\n[[step]]\ncommand = "grid"\nstudy = "g"\nbaseline = "{runs}/n/best.json"\n'
            f'alpha_range = [1, 2]\nbeta_range = [1, 1.2]\ngamma_range = [1, 1]\nstep = 0.2\nprune = "none"\n'
            f'{train}\n\n[[step]]\ncommand = "scale"\nmodel = "{runs}/n/best.json"\n'
            f'coefficients_from = "{runs}/g"\nphi = "0..3"\n')


def test_the_chain_searches_grids_and_scales_the_found_baseline(skeleton, runs, tmp_path, one_thread) -> None:
    chain = tmp_path / "chain.toml"
    chain.write_text(_chain(skeleton, runs))
    code, printed, err = run_cli(["run", str(chain), "--print"])
    assert code == 0 and printed.count("\n") == 3 and f"# α, β, γ: the best of {runs}/g" in printed, err
    code, out, err = run_cli(["run", str(chain)])
    assert code == 0, err
    best = NetworkSpec.load(runs / "n" / "best.json")
    assert f"{best.name} scaled with α=" in out and "(α·β²·γ² = 2." in out
    assert [line.split()[0] for line in out.splitlines()[-4:]] == ["0", "1", "2", "3"]
    assert "scalesearch scale" in err.splitlines()[-1] and "--alpha" in err.splitlines()[-1]
    ranking = pd.read_csv(runs / "g" / "results.csv")
    first = ranking.iloc[0]
    tied = int(ranking["tied_with_best"].iloc[1:].sum())
    assert f"α={first['alpha']:g} β={first['beta']:g} γ={first['gamma']:g}: the best of {runs}/g; " in err
    assert ("no other network is within noise of it" if tied == 0 else f"{tied} other network") in err


@pytest.mark.parametrize("toml, message", [
    ('[[step]]\ncommand = "nas"\ntrials = 2\ncoefficients_from = "runs/g"\n',
     "step 1: 'coefficients_from' must be a grid's run folder (a string), for a command with --alpha"),
    ('[[step]]\ncommand = "models"\n\n[[step]]\nphi = 1\n', "step 2: no 'command' key"),
    ('phi = 1\n[[step]]\ncommand = "models"\n', "a file with [[step]] tables has nothing else (found phi)"),
])
def test_a_bad_chain_is_one_line_before_any_step_runs(toml, message, tmp_path, capsys) -> None:
    chain = tmp_path / "chain.toml"
    chain.write_text(toml)
    code, out, err = run_cli(["run", str(chain)])
    assert code == 2 and message in err and err.count("\n") == 1 and out == "", err


def test_scaling_from_a_grid_without_results_is_one_line(tmp_path) -> None:
    chain = tmp_path / "chain.toml"
    chain.write_text(f'[[step]]\ncommand = "scale"\nmodel = "efficientnet-b0"\ncoefficients_from = "{tmp_path}/g"\n')
    code, out, err = run_cli(["run", str(chain)])
    assert code == 2 and f"cannot read the grid's results {tmp_path}/g/results.csv" in err, err


def test_two_worker_processes_share_one_search(skeleton, runs, one_thread) -> None:
    code, _, err = run_cli(nas_argv(skeleton, runs, 4, "--sampler", "random", "--workers", "2"))
    assert code == 0, err
    finished = load(runs).get_trials(states=(TrialState.COMPLETE,))
    assert len(finished) >= 4 and finished[0].user_attrs["probe"]


def test_a_worker_joins_a_search_and_samples_up_to_its_trials(skeleton, runs, one_thread) -> None:
    code, _, err = run_cli(nas_argv(skeleton, runs, 2, "--sampler", "random"))
    assert code == 0, err
    load(runs).set_user_attr("networks", 3)  # what `nas --trials 3` on the same storage asks for
    code, _, err = run_cli(["worker", "--storage", f"sqlite:///{runs / 's' / 'study.db'}", "--study", "s",
                            "--device", "cpu"])
    assert code == 0, err
    study = load(runs)
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 3
    assert not study.get_trials(states=(TrialState.FAIL,))
