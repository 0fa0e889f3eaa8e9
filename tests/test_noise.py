"""Seed noise, the tie-with-best test and the seeds needed to separate, on hand-made tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import f_oneway

from scalesearch.noise import (
    NoiseEstimate,
    critical_value,
    describe_test,
    pooled_seed_std,
    seeds_to_separate,
    separation_advice,
    spread_test,
    standard_errors,
    tied_with_best,
    uncertainty,
)

Z95 = 1.959963984540054  # norm.ppf(0.975)
Q4 = 3.63316  # the studentized range q(0.95; 4 networks, ∞ degrees of freedom)


def test_pooled_seed_std_by_hand() -> None:
    # deviations from the means 0.81 and 0.72: ±0.01 twice and ±0.02 twice; 1 + 1 degrees of freedom
    estimate = pooled_seed_std([[0.8, 0.82], [0.7, 0.74]])
    assert estimate.sigma == pytest.approx(math.sqrt((0.01**2 * 2 + 0.02**2 * 2) / 2))
    assert (estimate.dof, estimate.n_groups) == (2, 2)
    assert estimate.known


def test_pooled_seed_std_unequal_groups_skips_singletons_and_nan() -> None:
    # group 1: mean 0.6, squares 0.01+0+0.01 = 0.02 over 2 dof; group 2: squares 0.02 over 1 dof
    estimate = pooled_seed_std([[0.5, 0.6, 0.7], [0.3, 0.5, math.nan], [0.9], []])
    assert estimate.sigma == pytest.approx(math.sqrt((0.02 + 0.02) / 3))
    assert (estimate.dof, estimate.n_groups) == (3, 2)


def test_pooled_seed_std_without_repeats_is_unknown() -> None:
    estimate = pooled_seed_std([[0.8], [0.7], [math.nan, 0.6]])
    assert math.isnan(estimate.sigma) and estimate.dof == 0 and estimate.n_groups == 0
    assert not estimate.known
    assert isinstance(estimate, NoiseEstimate)
    with pytest.raises(AttributeError):
        estimate.sigma = 1.0  # type: ignore[misc]


def test_spread_test_is_the_one_way_anova_when_sigma_is_pooled_within() -> None:
    groups = [[0.81, 0.83, 0.80], [0.84, 0.82], [0.79, 0.80, 0.78, 0.81]]
    means = [sum(g) / len(g) for g in groups]
    test = spread_test(means, [len(g) for g in groups], pooled_seed_std(groups))
    anova = f_oneway(*groups)
    assert test.statistic == pytest.approx(anova.statistic)
    assert test.p_value == pytest.approx(anova.pvalue)
    assert (test.dof_between, test.dof_within) == (2, 6)


def test_spread_test_on_constructed_tables() -> None:
    noise = NoiseEstimate(sigma=0.01, dof=12, n_groups=6)
    same = spread_test([0.8, 0.8, 0.8], [1, 3, 1], noise)
    assert (same.statistic, same.p_value) == (0.0, 1.0)
    assert same.line().startswith("between networks: accuracies spread no more than seed noise alone gives "
                                  "(F = 0.00 on 2 and 12 degrees of freedom, p = 1)")
    # 3 seeds each, means 0.70, 0.80, 0.90: Σ n(ā − 0.8)² = 3·(0.01 + 0 + 0.01) over 2, divided by σ² = 1e-4
    apart = spread_test([0.7, 0.8, 0.9], [3, 3, 3], noise)
    assert apart.statistic == pytest.approx(300.0)
    assert apart.p_value < 1e-9
    assert apart.line() == ("between networks: accuracies differ beyond seed noise "
                            f"(F = 300.00 on 2 and 12 degrees of freedom, p = {apart.p_value:.2g})")
    # the verdict follows the confidence: p ≈ 0.1 is a difference at 80 %, none at 95 %
    edge = spread_test([0.79, 0.81], [1, 1], NoiseEstimate(sigma=0.0085, dof=12, n_groups=6))
    assert 0.05 < edge.p_value < 0.2
    assert "differ beyond" in edge.line(confidence=0.8) and "no more than" in edge.line(confidence=0.95)


def test_spread_test_needs_two_networks_and_a_known_nonzero_noise() -> None:
    noise = NoiseEstimate(sigma=0.01, dof=4, n_groups=2)
    assert spread_test([0.8], [2], noise) is None
    assert spread_test([0.8, 0.7], [1, 1], NoiseEstimate(sigma=math.nan, dof=0, n_groups=0)) is None
    assert spread_test([0.8, 0.7], [1, 1], NoiseEstimate(sigma=0.0, dof=4, n_groups=2)) is None
    with pytest.raises(ValueError, match="2 accuracies but 1 seed counts"):
        spread_test([0.8, 0.7], [1], noise)
    with pytest.raises(ValueError, match="n_seeds ≥ 1"):
        spread_test([0.8, 0.7], [1, 0], noise)


def test_uncertainty_and_critical_value() -> None:
    assert uncertainty(0.06, 4) == pytest.approx(0.03)
    assert uncertainty(0.06, 1) == pytest.approx(0.06)
    with pytest.raises(ValueError):
        uncertainty(0.06, 0)
    assert critical_value(0.95) == pytest.approx(Z95)
    assert critical_value(0.99) == pytest.approx(2.5758293035489)
    with pytest.raises(ValueError):
        critical_value(1.0)
    # more than two networks at once: the studentized range table's q(0.95; k, dof) / √2
    assert critical_value(0.95, networks=4) == pytest.approx(Q4 / math.sqrt(2), abs=1e-4)
    assert critical_value(0.95, dof=4, networks=4) == pytest.approx(5.757 / math.sqrt(2), abs=1e-3)
    assert critical_value(0.95, dof=10, networks=3) == pytest.approx(3.877 / math.sqrt(2), abs=1e-3)
    with pytest.raises(ValueError, match="at least 2 networks"):
        critical_value(0.95, networks=1)


def test_describe_test() -> None:
    assert describe_test() == "difference ≤ 1.96 combined standard errors (two-sided 95 %)"
    assert describe_test(0.99) == "difference ≤ 2.58 combined standard errors (two-sided 99 %)"
    assert describe_test(0.95, dof=2) == ("difference ≤ 4.30 combined standard errors (two-sided 95 %, Student's t "
                                          "with the 2 degrees of freedom of σ)")
    assert critical_value(0.95, dof=2) == pytest.approx(4.302652729911275)  # the t table's value
    assert critical_value(0.95, dof=10**6) == pytest.approx(Z95, abs=1e-5)
    assert describe_test(0.95, dof=5, networks=6) == (
        "difference ≤ 4.27 combined standard errors (Tukey–Kramer, 95 % for all 6 networks at once, studentized "
        "range with the 5 degrees of freedom of σ)")
    assert describe_test(networks=4) == ("difference ≤ 2.57 combined standard errors (Tukey–Kramer, 95 % for all "
                                         "4 networks at once)")


def _tie_table() -> pd.DataFrame:
    """Best: accuracy 0.8, reward scale 0.9, 4 seeds, σ = 0.02 → se = 0.02·0.9/2 = 0.009.

    Four complete rows: the margin is q(0.95; 4, ∞)/√2 · √(0.009² + 0.019²) ≈ 0.05401. 'inside' and
    'outside' (scale 0.95, 1 seed → se 0.019) sit 1e-4 inside and outside it; 'far' (4 seeds, scale 0.9)
    is clearly outside; pruned and failed rows never count.
    """
    se_best = 0.02 * 0.9 / 2
    se_row = 0.02 * 0.95 / 1
    margin = Q4 / math.sqrt(2) * math.sqrt(se_best**2 + se_row**2)
    best = 0.8 * 0.9
    rows = {
        "far": (0.6 * 0.9, 0.6, 4, "complete"),
        "inside": (best - margin + 1e-4, (best - margin + 1e-4) / 0.95, 1, "complete"),
        "best": (best, 0.8, 4, "complete"),
        "pruned": (0.0, 0.79, 1, "pruned"),
        "outside": (best - margin - 1e-4, (best - margin - 1e-4) / 0.95, 1, "complete"),
        "failed": (math.nan, math.nan, 0, "fail"),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["objective", "accuracy", "n_seeds", "state"])


def test_standard_errors() -> None:
    errors = standard_errors(_tie_table(), 0.02)
    assert errors["best"] == pytest.approx(0.009)
    assert errors["inside"] == pytest.approx(0.019)
    assert math.isnan(errors["pruned"]) and math.isnan(errors["failed"])


def test_tied_with_best_on_a_constructed_table() -> None:
    table = _tie_table()
    tied = tied_with_best(table, 0.02)
    assert tied.dtype == bool and list(tied.index) == list(table.index)
    assert tied.to_dict() == {"far": False, "inside": True, "best": True, "pruned": False, "outside": False,
                              "failed": False}
    # a stricter test (99 %) has a wider margin: 'outside' joins, 'far' stays out
    assert tied_with_best(table, 0.02, confidence=0.99)["outside"]
    assert not tied_with_best(table, 0.02, confidence=0.99)["far"]
    # σ estimated with few degrees of freedom: Student's t widens the margin the same way
    assert tied_with_best(table, 0.02, dof=3)["outside"]
    assert tied_with_best(table, 0.02, dof=10**6).equals(tied)
    # compared with the best alone, 'inside' is beyond the two-sided margin 1.96·√(0.009² + 0.019²) ≈ 0.0412
    assert not tied_with_best(table.loc[["best", "inside"]], 0.02)["inside"]


def test_when_no_network_differs_all_are_tied_as_often_as_the_confidence_says() -> None:
    """Six networks with the same expected accuracy, one seed each: the best is the largest of six draws, so
    a pair-at-a-time test would rule some out in about a third of the draws; the all-at-once test in 5 %."""
    rng = np.random.default_rng(0)
    draws, sigma, dof = 1000, 0.01, 5
    all_tied_known = all_tied_estimated = all_tied_pairwise = 0
    for _ in range(draws):
        accuracy = 0.8 + sigma * rng.standard_normal(6)
        all_tied_pairwise += bool((accuracy.max() - accuracy <= Z95 * sigma * math.sqrt(2)).all())
        table = pd.DataFrame({"objective": accuracy, "accuracy": accuracy, "n_seeds": 1, "state": "complete"})
        all_tied_known += bool(tied_with_best(table, sigma).all())
        estimate = sigma * math.sqrt(rng.chisquare(dof) / dof)  # σ measured with 5 degrees of freedom
        all_tied_estimated += bool(tied_with_best(table, estimate, dof=dof).all())
    assert 0.925 <= all_tied_known / draws <= 0.975  # 0.95 ± 3.6 standard errors of a proportion of 1000
    assert 0.925 <= all_tied_estimated / draws <= 0.975
    assert 0.58 <= all_tied_pairwise / draws <= 0.70  # one pair at a time: about 1 in 3 rule one out


def test_tied_with_best_zero_noise_and_edge_cases() -> None:
    table = _tie_table()
    assert tied_with_best(table, 0.0).to_dict() == {"far": False, "inside": False, "best": True, "pruned": False,
                                                    "outside": False, "failed": False}
    only_pruned = table[table["state"] == "pruned"]
    assert not tied_with_best(only_pruned, 0.02).any()
    assert tied_with_best(table.iloc[0:0], 0.02).empty


def test_tied_with_best_refuses_unknown_noise_and_bad_tables() -> None:
    with pytest.raises(ValueError, match="sigma"):
        tied_with_best(_tie_table(), math.nan)
    with pytest.raises(ValueError, match="sigma"):
        tied_with_best(_tie_table(), -0.1)
    with pytest.raises(ValueError, match="n_seeds"):
        tied_with_best(_tie_table().drop(columns="n_seeds"), 0.02)
    zero_seeds = _tie_table()
    zero_seeds.loc["best", "n_seeds"] = 0
    with pytest.raises(ValueError, match="n_seeds"):
        tied_with_best(zero_seeds, 0.02)


def test_seeds_to_separate_by_hand() -> None:
    # gap = σ = 0.05: need 1.96·√(2/n) < 1, i.e. n > 2·1.96² = 7.68 → 8
    # (n = 7: 1.96·0.05·√(2/7) = 0.0524 > 0.05; n = 8: 1.96·0.05·0.5 = 0.0490 < 0.05)
    assert seeds_to_separate(0.05, 0.05) == 8
    assert seeds_to_separate(0.05, 0.05, max_seeds=7) is None
    assert seeds_to_separate(0.05, 0.05, max_seeds=8) == 8
    # gap = 0.04, σ = 0.02: n > 2·(1.96/2)² = 1.92 → 2
    assert seeds_to_separate(0.04, 0.02) == 2
    # a gap far above the noise: one seed each
    assert seeds_to_separate(0.5, 0.02) == 1
    assert seeds_to_separate(0.01, 0.0) == 1
    assert seeds_to_separate(0.0, 0.05) is None
    assert seeds_to_separate(-0.01, 0.05) is None
    assert seeds_to_separate(math.nan, 0.05) is None
    # among 4 networks: n > 2·(q(0.95; 4, ∞)/√2)² = 13.2 → 14
    assert seeds_to_separate(0.05, 0.05, networks=4) == 14
    with pytest.raises(ValueError):
        seeds_to_separate(0.05, math.nan)


def _advice_table(scale: float = 1.0) -> pd.DataFrame:
    """σ = 0.02, one seed, 4 complete rows: margin c·√2·0.02·scale ≈ 0.0727·scale, c = q(0.95; 4, ∞)/√2 ≈ 2.569.

    With scale 1: 0.76 (gap 0.04) and 0.75 (gap 0.05) are tied with 0.80, 0.70 (gap 0.10) is not.
    Separating 0.76 needs n > 2·(2.569·0.02/0.04)² = 3.30 → 4 seeds; 0.75 needs n > 2.11 → 3.
    """
    accuracy = [0.80, 0.76, 0.75, 0.70, 0.78]
    return pd.DataFrame({"objective": [a * scale for a in accuracy], "accuracy": accuracy,
                         "n_seeds": [1, 1, 1, 1, 1], "state": ["complete"] * 4 + ["pruned"]})


def test_separation_advice_by_hand() -> None:
    table = _advice_table()
    assert tied_with_best(table, 0.02).tolist() == [True, True, True, False, False]
    # (4 − 1) more seeds × 4 complete rows × 60 s = 12 min
    assert separation_advice(table, 0.02, seconds_per_training=60, current_seeds=1) == \
        "to separate them: --seeds 4 (about 12 min)"
    # the reward's constant cancels: the same table at half the reward needs the same seeds
    assert separation_advice(_advice_table(0.5), 0.02, 60, 1) == "to separate them: --seeds 4 (about 12 min)"
    # σ = 0.03: 0.76 needs n > 2·(2.569·0.03/0.04)² = 7.42 → 8; (8 − 1) × 4 × 600 s = 280 min
    assert separation_advice(table, 0.03, 600, 1) == "to separate them: --seeds 8 (about 4.7 h)"
    assert separation_advice(table, 0.03, 1, 1) == "to separate them: --seeds 8 (under 1 min)"


def test_separation_advice_asks_for_more_seeds_than_now() -> None:
    # two seeds each: se = 0.02/√2, margin 2.569·0.02 = 0.0514: 0.785 (gap 0.015) and 0.75 (gap 0.05) stay tied
    table = _advice_table().assign(n_seeds=2)
    table.loc[1, "objective"] = table.loc[1, "accuracy"] = 0.785
    assert tied_with_best(table, 0.02).tolist() == [True, True, True, False, False]
    # 0.785: n > 2·(2.569·0.02/0.015)² = 23.5 → 24; (24 − 2) × 4 × 30 s = 44 min
    assert separation_advice(table, 0.02, 30, 2) == "to separate them: --seeds 24 (about 44 min)"


def test_separation_advice_without_tie_or_beyond_reach() -> None:
    table = _advice_table()
    assert separation_advice(table, 0.001, 60, 1) is None  # nothing within noise
    assert separation_advice(table.iloc[[0, 4]], 0.02, 60, 1) is None  # one complete row
    near = table.copy()
    near.loc[1, ["objective", "accuracy"]] = 0.798
    assert separation_advice(near, 0.02, 60, 1) == "to separate them: more than 100 seeds would be needed"
    # gap 0.002: n > 2·(2.56903·0.02/0.002)² = 1319.98 → 1320; (1320 − 1) × 4 × 60 s = 87.9 h
    assert separation_advice(near, 0.02, 60, 1, max_seeds=2000) == "to separate them: --seeds 1320 (about 87.9 h)"
