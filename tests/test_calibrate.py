"""`scalesearch calibrate` on a tiny spec: the table from storage, a hand check, the recommendation, resume, refusals.

One calibration is trained for the whole module: three networks (φ = 0, φ = 1 and width-only
scaling at the MACs of φ = 1) at budgets of 1 and 2 epochs with 2 seeds, on 400 synthetic
images at 16 px in batches of 8 (so that every network learns within one epoch): twelve short
trainings. Torch runs on one thread.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from scipy.stats import t as t_distribution

from scalesearch import fidelity
from scalesearch.baselines import resolve_baseline
from scalesearch.calibrate import (analyse, analyse_study, calibrate_study, calibration_histories, calibration_runs,
                                   noise_mismatch, noise_settings, spread_details, spread_set, stored_noise)
from scalesearch.calibrate_report import recommendation_line
from scalesearch.cli import build_parser
from scalesearch.errors import UserError
from scalesearch.objective import Scoring
from scalesearch.record import NetworkPlan, NetworkResult
from scalesearch.scaling import Multipliers, compound
from scalesearch.screening import PROMOTED_KEY
from scalesearch.study import CONFIG_KEY, screen_results, stored_config, study_results
from scalesearch.study_config import DataConfig
from scalesearch.train import TrainConfig
from search_processes import TINY_SPEC, TWO_POINTS, run_cli as run

SPREAD = ["--phis", "0,1", "--single", "width"]
LADDER = ["--ladder", "1,2", "--seeds", "2"]
TRAIN = ["--data", "synthetic", "--train-images", "400", "--test-images", "100", "--batch-size", "8",
         "--proxy-resolution", "16", "--device", "cpu", "--quiet"]
STUDY = "calibrate-tiny"  # the default name: calibrate-<spec file stem>
NETWORKS = ["phi=0", "phi=1", "width-only"]


def calibrate_argv(spec: Path, runs: Path, *extra: str) -> list[str]:
    return ["calibrate", "--baseline", str(spec), *SPREAD, *LADDER, *TRAIN, "--runs-dir", str(runs), *extra]


def write_spec(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps(TINY_SPEC))
    return path


def load(runs: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{runs / STUDY / 'study.db'}")


def trainings(study: optuna.Study) -> int:
    return sum(1 for t in study.get_trials(deepcopy=False) if "status" in t.user_attrs)


def tau_b(x: list[float], y: list[float]) -> float:
    """Kendall's τ-b pair by pair: (concordant − discordant) / √((pairs − ties in x)·(pairs − ties in y))."""
    pairs = list(combinations(range(len(x)), 2))
    signs = [np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs]
    ties_x = sum(x[i] == x[j] for i, j in pairs)
    ties_y = sum(y[i] == y[j] for i, j in pairs)
    return float(sum(signs) / math.sqrt((len(pairs) - ties_x) * (len(pairs) - ties_y)))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One finished calibration, then the same command again and a worker on the finished study."""
    folder = tmp_path_factory.mktemp("calibrated")
    spec, runs = write_spec(folder), folder / "runs"
    first = run(calibrate_argv(spec, runs))
    done = trainings(load(runs))
    trials = len(load(runs).trials)
    again = run(calibrate_argv(spec, runs))
    worker = run(["worker", "--storage", f"sqlite:///{runs / STUDY / 'study.db'}", "--study", STUDY])
    return {"spec": spec, "runs": runs, "first": first, "again": again, "worker": worker, "trainings": done,
            "trials": trials}


# --- the command end to end --------------------------------------------------------------------


def test_calibrate_trains_every_network_at_every_budget_with_every_seed(calibrated) -> None:
    code, out, err = calibrated["first"]
    assert code == 0, err
    assert calibrated["trainings"] == 6  # 3 networks × 2 budgets, one trial each
    results = study_results(load(calibrated["runs"]))
    assert sorted((r.plan.points[0]["network"], r.plan.epochs) for r in results) == \
        sorted((name, budget) for name in NETWORKS for budget in (1.0, 2.0))
    assert all(r.seeds == (0, 1) and r.status == "ok" for r in results)
    assert all(len(history) == r.plan.epochs for r in results for history in r.histories)
    runs = calibration_runs(results)
    assert len(runs) == 12 and set(runs["network"]) == set(NETWORKS)
    # wall time of one training: the network's wall time over its seeds
    for result in results:
        rows = runs[(runs["network"] == result.plan.points[0]["network"]) & (runs["budget"] == result.plan.epochs)]
        assert rows["wall_seconds"].tolist() == [result.wall_seconds / 2] * 2
        assert rows["accuracy"].tolist() == list(result.accuracies)


def test_table_is_fidelity_table_of_the_stored_results(calibrated) -> None:
    code, out, _ = calibrated["first"]
    runs_dir = calibrated["runs"] / STUDY
    expected = fidelity.fidelity_table(calibration_runs(study_results(load(calibrated["runs"]))))
    written = pd.read_csv(runs_dir / "calibration.csv")
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, rtol=1e-12)
    assert list(expected["budget"]) == [1.0, 2.0] and list(expected["networks"]) == [3, 3]
    lines = out.splitlines()
    assert lines[0].split() == ["budget", "networks", "seeds", "Kendall", "τ", "τ", "p", "Spearman", "ρ", "σ",
                                "spread", "F-test", "p", "s/training"]
    for line, row in zip(lines[1:3], expected.itertuples()):
        shown = line.split()
        assert float(shown[0]) == row.budget and int(shown[1]) == row.networks == 3 and int(shown[2]) == 2
        values = (row.kendall_tau, row.tau_p, row.spearman_rho, row.sigma, row.spread, row.differ_p)
        for text, value in zip(shown[3:9], values):
            assert text == f"{value:.4g}" if not math.isnan(value) else text == "n/a"
    assert (runs_dir / "calibration_runs.csv").is_file()
    for suffix in ("png", "svg"):
        assert (runs_dir / "figures" / f"fidelity.{suffix}").stat().st_size > 1000


def test_tau_and_sigma_by_hand(calibrated) -> None:
    """τ of the 1-epoch means against the 2-epoch means, and σ, from the trials' own attributes."""
    study = load(calibrated["runs"])
    accuracy = {(t.user_attrs["points"][0]["network"], t.user_attrs["epochs"]): t.user_attrs["accuracies"]
                for t in study.trials if "status" in t.user_attrs}
    short = [float(np.mean(accuracy[name, 1.0])) for name in NETWORKS]
    long = [float(np.mean(accuracy[name, 2.0])) for name in NETWORKS]
    table = analyse_study(study).table.set_index("budget")
    expected_tau = tau_b(short, long) if len(set(short)) > 1 else math.nan
    assert table.loc[1.0, "kendall_tau"] == pytest.approx(expected_tau, nan_ok=True)
    # two seeds a network: each network's variance is (a − b)²/2 on one degree of freedom
    for budget in (1.0, 2.0):
        variances = [(a - b) ** 2 / 2 for a, b in (accuracy[name, budget] for name in NETWORKS)]
        assert table.loc[budget, "sigma"] == pytest.approx(math.sqrt(sum(variances) / 3))
        means = [float(np.mean(accuracy[name, budget])) for name in NETWORKS]
        assert table.loc[budget, "spread"] == pytest.approx(float(np.std(means, ddof=1)))
    assert table.loc[2.0, "kendall_tau"] == 1.0


def test_recommendation_follows_from_the_table(calibrated) -> None:
    _, out, _ = calibrated["first"]
    table = analyse_study(load(calibrated["runs"])).table
    if table.loc[0, "kendall_tau"] >= 0.7:
        assert "smallest budget with τ ≥ 0.7: 1 epoch (" in out
        assert "; as a screening run: scalesearch grid --epochs 2 --prune screen --prune-from 1" in out
        assert "rung agreement: 1 epoch has a single evaluation" in out
    else:
        assert "no shorter budget ranks like the largest: no budget below 2 epochs reaches τ ≥ 0.7" in out
        assert "rung agreement at 2 epochs" in out and "first reliable rung for pruning" in out


def test_recommendation_warns_when_the_largest_budget_cannot_tell_the_networks_apart(calibrated) -> None:
    _, out, _ = calibrated["first"]
    calibration = analyse_study(load(calibrated["runs"]))
    p = calibration.row(calibration.largest)["differ_p"]
    warning = "at 2 epochs the networks do not differ beyond seed noise (F-test p = "
    assert (warning in out) == (p >= 0.05)
    alike = replace(calibration, table=calibration.table.assign(differ_p=0.5))
    assert f"{warning}0.5), so τ against it ranks noise" in recommendation_line(alike)
    apart = replace(calibration, table=calibration.table.assign(differ_p=0.01))
    assert "differ beyond seed noise" not in recommendation_line(apart)


def test_sigma_per_budget_is_stored_in_the_study(calibrated) -> None:
    study = load(calibrated["runs"])
    record = study.user_attrs["calibration"]
    table = analyse_study(study).table
    assert record["budgets"] == [1.0, 2.0]
    assert record["sigma"] == pytest.approx(table["sigma"].tolist())
    assert record["seeds"] == [2, 2] and record["min_tau"] == 0.7
    # a grid with the same data and recipe at one of the budgets can reuse it; other settings cannot
    config = calibrate_study(str(calibrated["spec"]), phis=(0, 1), single=("width",), ladder=(1, 2),
                             data=DataConfig("synthetic", train_images=400, test_images=100),
                             training=TrainConfig(batch_size=8, device="cpu", progress=False),
                             proxy_resolution=16)
    assert record["settings"] == noise_settings(config)
    at_one = replace(config, training=replace(config.training, epochs=1.0))
    known = stored_noise(record, at_one, "calibrate")
    assert known.sigma == pytest.approx(table["sigma"].iloc[0])
    assert known.dof == 3 * (2 - 1) and known.source == "calibrate at 1 epochs"
    assert stored_noise(record, replace(config, training=replace(config.training, epochs=3.0)), "c") is None
    assert stored_noise(record, replace(at_one, proxy_resolution=32), "c") is None
    assert stored_noise(None, at_one, "c") is None
    # a calibration stored before balanced batches trained with a plain shuffle: its noise is for that only
    before = {**record, "settings": {**record["settings"], "training": dict(record["settings"]["training"])}}
    del before["settings"]["training"]["balanced_batches"]
    assert stored_noise(before, at_one, "c") is None
    plain = replace(at_one, training=replace(at_one.training, balanced_batches=False))
    assert stored_noise(before, plain, "c").sigma == pytest.approx(table["sigma"].iloc[0])
    assert "training.balanced_batches: False there, None now" in noise_mismatch(before, at_one)


def grid_with_noise_from(calibrated, runs: Path, epochs: str) -> tuple[int, str, str, optuna.Study]:
    """A two-candidate grid of the calibrated spec, same data and recipe, --noise-from the calibration."""
    code, out, err = run(["grid", "--baseline", str(calibrated["spec"]), *TWO_POINTS, *TRAIN, "--epochs", epochs,
                          "--runs-dir", str(runs), "--study", "g", "--noise-from",
                          str(calibrated["runs"] / STUDY)])
    study = optuna.load_study(study_name="g", storage=f"sqlite:///{runs / 'g' / 'study.db'}") if code == 0 else None
    return code, out, err, study


def test_grid_uses_the_noise_a_calibration_measured_for_its_settings(calibrated, tmp_path) -> None:
    code, out, err, study = grid_with_noise_from(calibrated, tmp_path, "1")
    assert code == 0, err
    record = load(calibrated["runs"]).user_attrs["calibration"]
    assert all(result.seeds == (0,) for result in study_results(study))  # no noise probe seeds
    assert (f"seed noise: σ = {record['sigma'][0]:.4f} top-1 (measured by calibrate study {STUDY} at 1 epochs, "
            f"3 degrees of freedom)") in out
    assert "report:" in out and "measured by calibrate study" in (tmp_path / "g" / "report.md").read_text()


def test_grid_measures_the_noise_itself_when_the_calibration_had_another_budget(calibrated, tmp_path) -> None:
    code, out, err, study = grid_with_noise_from(calibrated, tmp_path, "3")
    assert code == 0, err
    assert "measured its noise for budgets of 1, 2 epochs (2 seeds or more), not 3: not used" in err
    assert sorted(len(result.seeds) for result in study_results(study)) == [1, 3]  # the probe's 3 seeds


def test_a_screened_grid_tests_what_its_screen_left_out_with_the_calibrations_noise_at_the_screens_budget(
        calibrated, tmp_path) -> None:
    runs = tmp_path / "runs"
    argv = ["grid", "--baseline", str(calibrated["spec"]), *TWO_POINTS, *TRAIN, "--epochs", "2", "--prune", "screen",
            "--prune-from", "1", "--runs-dir", str(runs), "--study", "g", "--noise-from", str(calibrated["runs"] / STUDY)]
    code, out, err = run(argv)
    assert code == 0, err
    record = load(calibrated["runs"]).user_attrs["calibration"]
    sigma = record["sigma"][0]  # at 1 epoch, the screen's budget; the ranking's σ is the one at 2 epochs
    assert f"the 1-epoch screen's seed noise σ = {sigma:.4f} from calibration {STUDY!r} (3 degrees of freedom)" in err
    study = optuna.load_study(study_name="g", storage=f"sqlite:///{runs / 'g' / 'study.db'}")
    screens = screen_results(study)
    best = max(screens, key=lambda r: r.objective)
    (left,) = [r for r in screens if r.plan.index not in study.user_attrs[PROMOTED_KEY]]  # ceil(2 / 3) = 1 promoted
    scale = [r.objective / r.accuracy for r in (best, left)]
    margin = t_distribution.ppf(0.975, 3) * sigma * math.hypot(*scale)  # one seed each
    within = best.objective - left.objective <= margin
    expected = ("screen (1 epoch): of the 1 network it left out, "
                + (f"1 was within noise of its best (σ = {sigma:.4f} measured by calibrate study {STUDY} at 1 epochs, "
                   f"3 degrees of freedom;" if within else "each was worse than its best beyond seed noise"))
    assert expected in out and expected in (runs / "g" / "report.md").read_text()
    assert stored_config(study).screen_noise.sigma == sigma
    # a study stored without the screen's noise (made before it was kept) resumes with it and trains nothing
    study.set_user_attr(CONFIG_KEY, replace(stored_config(study), screen_noise=None).to_dict())
    trials = len(study.trials)
    rerun, report = run(argv), runs / "g" / "report.md"
    report_before = report.read_text()
    assert rerun[0] == 0, rerun[2]
    assert len(study.trials) == trials and stored_config(study).screen_noise.sigma == sigma
    assert expected in rerun[1] and report.read_text() == report_before


def test_noise_from_a_folder_without_a_calibration_is_refused(calibrated, tmp_path) -> None:
    code, out, err = run(["grid", "--baseline", str(calibrated["spec"]), *TWO_POINTS, *TRAIN, "--runs-dir",
                          str(tmp_path / "runs"), "--noise-from", str(tmp_path)])
    assert code == 2 and out == "" and err.count("\n") == 1 and "(it has no study.db)" in err
    assert not (tmp_path / "runs").exists()


def test_rerun_trains_nothing_and_a_worker_finds_nothing_to_do(calibrated) -> None:
    code, out, err = calibrated["again"]
    assert code == 0, err
    study = load(calibrated["runs"])
    assert trainings(study) == calibrated["trainings"] and len(study.trials) == calibrated["trials"]
    assert out == calibrated["first"][1]
    code, _, err = calibrated["worker"]
    assert code == 0, err
    assert len(load(calibrated["runs"]).trials) == calibrated["trials"]


def test_rung_agreement_at_two_epochs_by_hand(calibrated) -> None:
    """With a τ threshold no shorter budget meets, the rung agreement is that of the 2-epoch trainings."""
    results = study_results(load(calibrated["runs"]))
    calibration = analyse(results, min_tau=1.5)
    assert calibration.recommended == 2.0 and not calibration.ranks_like_largest
    histories = calibration_histories(results, 2.0)
    assert len(histories) == 3 * 2 * 2 and set(histories["epoch"]) == {1, 2}
    means = histories.groupby(["epoch", "network"])["accuracy"].mean()
    first, last = means.loc[1].loc[NETWORKS].tolist(), means.loc[2].loc[NETWORKS].tolist()
    agreement = calibration.agreement.set_index("epoch")
    expected = tau_b(first, last) if len(set(first)) > 1 and len(set(last)) > 1 else math.nan
    assert agreement.loc[1, "kendall_tau"] == pytest.approx(expected, nan_ok=True)
    assert agreement.loc[2, "kendall_tau"] == 1.0
    assert calibration.first_rung == (1 if expected >= 0.5 else 2)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra, message", [
    (["--phis", "0,1", "--single", "none"], "the spread set has 2 distinct network(s)"),
    (["--ladder", "2,1"], "the ladder must be strictly increasing, got 2,1"),
    (["--ladder", "1,1"], "the ladder must be strictly increasing, got 1,1"),
    (["--ladder", "1"], "the ladder needs 2 to 12 budgets"),
    (["--ladder", "0,1"], "argument --ladder: each value must be in (0, 1000]"),
    (["--seeds", "1"], "calibrate needs at least 2 seeds per network"),
    (["--phis", "0,0,1"], "the values of phi repeat"),
    (["--single", "height"], "argument --single"),
    (["--epochs", "3"], "calibrate trains at the budgets of --ladder"),
    (["--top", "3"], "--top is for the grid's ranking"),
    (["--phis", "-8,0,1", "--proxy-resolution", "4"], "φ = -8 would train at 1 px, below 2 px, half of tiny's total "
                                                       "stride: use --proxy-resolution 5 or more, or leave out φ = -8"),
])
def test_bad_input_is_one_line_with_exit_code_2_and_leaves_nothing(tmp_path: Path, extra: list[str],
                                                                   message: str) -> None:
    spec, runs = write_spec(tmp_path), tmp_path / "runs"
    code, out, err = run(calibrate_argv(spec, runs, *extra))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err and err.startswith("scalesearch calibrate: error:")
    assert out == "" and not runs.exists()


def test_negative_phis_parse_without_an_equals_sign() -> None:
    args = build_parser().parse_args(["calibrate", "--phis", "-2,-1,0,1"])
    assert args.phis == (-2.0, -1.0, 0.0, 1.0) and args.seeds == 2 and args.ladder == (1, 2, 4, 8, 16)
    assert build_parser().parse_args(["calibrate", "--phis", "-1.5"]).phis == (-1.5,)


# --- the library ----------------------------------------------------------------------------------


def test_spread_set_and_study_config(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    baseline = resolve_baseline(str(spec))
    details = spread_details(baseline, phis=(-1, 0, 1))
    names = [name for name, _, _ in details]
    assert names == ["phi=-1", "phi=0", "phi=1", "depth-only", "width-only", "resolution-only"]
    assert spread_set(baseline, phis=(-1, 0, 1)) == [(name, m) for name, m, _ in details]
    multipliers = dict(spread_set(baseline, phis=(-1, 0, 1)))
    assert multipliers["phi=-1"] == compound(1.2, 1.1, 1.15, -1)
    target = baseline.cost(compound(1.2, 1.1, 1.15, 1)).macs
    for name, moved in (("depth-only", "depth"), ("width-only", "width"), ("resolution-only", "resolution")):
        kept = {"depth", "width", "resolution"} - {moved}
        assert all(getattr(multipliers[name], k) == 1.0 for k in kept)
        mismatch = dict((n, e) for n, _, e in details)[name]
        assert baseline.cost(multipliers[name]).macs == pytest.approx(target * (1 + mismatch))

    config = calibrate_study(str(spec), phis=(0, 1), single=("width",), ladder=(1, 2, 4), seeds=(3, 4),
                             training=TrainConfig(epochs=7.0, images=999))
    assert config.kind == "calibrate" and config.seeds == (3, 4) and config.pruning.method == "none"
    assert [(p.labels["network"], p.labels["budget"], p.epochs) for p in config.points] == \
        [(name, budget, budget) for budget in (1.0, 2.0, 4.0) for name in NETWORKS]
    assert config.scoring == Scoring(float(baseline.cost(Multipliers()).macs), 0.0, False)
    assert config.training.epochs == 4.0 and config.training.images is None
    assert dict(config.settings)["ladder"] == [1.0, 2.0, 4.0]


def test_default_phis_leave_out_networks_below_half_the_total_stride(tmp_path: Path) -> None:
    """EfficientNet-B0's total stride is 32: at a proxy resolution of 18 px, φ = −2 would train at 14 px, below 16
    (φ = −1 at 16 px)."""
    heard: list[str] = []
    config = calibrate_study("efficientnet-b0", single=(), ladder=(1, 2), proxy_resolution=18, say=heard.append)
    settings = dict(config.settings)
    assert settings["phis"] == [-1.0, 0.0, 1.0] and settings["left_out"] == [-2.0]
    assert [p.labels["network"] for p in config.points[:3]] == ["phi=-1", "phi=0", "phi=1"]
    assert heard[0].startswith("φ = -2 left out of the default spread set") and "below 16 px" in heard[0]
    # at 16 px every default φ trains
    config = calibrate_study(str(write_spec(tmp_path)), single=(), ladder=(1, 2), proxy_resolution=16)
    assert dict(config.settings)["phis"] == [-2.0, -1.0, 0.0, 1.0] and dict(config.settings)["left_out"] == []


@pytest.mark.parametrize("kwargs, message", [
    ({"seeds": (0,)}, "at least 2 seeds"),
    ({"ladder": (1, 4, 2)}, "strictly increasing"),
    ({"ladder": (1, 1001)}, r"ladder budgets must be in \(0, 1000\]"),
    ({"ladder": (0.0, 1)}, r"ladder budgets must be in \(0, 1000\]"),
    ({"phis": (0, 1), "single": ()}, "2 distinct network"),
    ({"single": ("depth", "d")}, "single-dimension networks repeat"),
])
def test_calibrate_study_refuses(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        calibrate_study(str(write_spec(tmp_path)), **kwargs)


def test_merged_and_pruned_networks_in_the_runs_table() -> None:
    """Two spread networks that build one network are one row per seed; a pruned seed has no accuracy."""
    plan = NetworkPlan(index=0, points=({"network": "phi=0", "budget": 2.0}, {"network": "width-only", "budget": 2.0}),
                       multipliers=Multipliers(), resolution=32, proxy_resolution=16, epochs=2.0, macs=100, params=10,
                       activations=5)
    merged = NetworkResult(plan, "ok", (0, 1), (0.5, 0.7), ((0.3, 0.5), (0.4, 0.7)), 4.0, 10.0, 0.6)
    pruned = NetworkResult(replace(plan, index=1, points=({"network": "phi=1", "budget": 2.0},), macs=200), "pruned",
                           (0,), (0.2,), ((0.2,),), 1.0, 3.0, 0.2)
    runs = calibration_runs([merged, pruned])
    assert runs["network"].tolist() == ["phi=0 | width-only"] * 2 + ["phi=1"]
    assert runs["wall_seconds"].tolist() == [5.0, 5.0, 3.0]
    assert runs["accuracy"].iloc[:2].tolist() == [0.5, 0.7] and math.isnan(runs["accuracy"].iloc[2])
    histories = calibration_histories([merged, pruned], 2.0)
    assert histories[histories["network"] == "phi=0 | width-only"]["accuracy"].tolist() == [0.3, 0.5, 0.4, 0.7]
    assert calibration_histories([merged], 1.0).empty
