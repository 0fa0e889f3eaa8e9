"""Fidelity of short budgets and of pruning rungs, on hand-made run tables with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import f_oneway

from scalesearch.fidelity import (
    AGREEMENT_COLUMNS,
    FIDELITY_COLUMNS,
    fidelity_figure,
    fidelity_table,
    first_reliable_rung,
    rank_agreement,
    recommend_budget,
    rung_agreement,
)

# Per-network mean accuracy at each budget (epochs). At 16 the order is a > b > c > d;
# at 8 it is the same (τ = ρ = 1); at 2 b and c swap (5 concordant, 1 discordant pair of 6:
# τ = 4/6, ρ = 1 − 6·(1 + 1)/(4·15) = 0.8); at 1 the order is reversed (τ = ρ = −1).
MEANS = {
    1: {"a": 0.20, "b": 0.25, "c": 0.30, "d": 0.35},
    2: {"a": 0.60, "b": 0.50, "c": 0.55, "d": 0.40},
    8: {"a": 0.85, "b": 0.80, "c": 0.70, "d": 0.65},
    16: {"a": 0.90, "b": 0.85, "c": 0.80, "d": 0.70},
}
# Two seeds per network at mean ± HALF[budget][network]: each network's sample variance is 2·half²
# over 1 degree of freedom, so the pooled σ² is the mean of 2·half² over networks.
HALF = {
    1: {"a": 0.01, "b": 0.01, "c": 0.01, "d": 0.01},
    2: {"a": 0.01, "b": 0.02, "c": 0.03, "d": 0.04},
    8: {"a": 0.0, "b": 0.0, "c": 0.02, "d": 0.0},
    16: {"a": 0.005, "b": 0.005, "c": 0.005, "d": 0.005},
}
SECONDS = {1: 10.0, 2: 20.0, 8: 80.0, 16: 160.0}


def _runs() -> pd.DataFrame:
    rows = []
    for budget, means in MEANS.items():
        for network, mean in means.items():
            half = HALF[budget][network]
            for seed, sign in enumerate((-1, 1)):
                rows.append({"network": network, "budget": float(budget), "seed": seed, "accuracy": mean + sign * half,
                             "wall_seconds": SECONDS[budget] + seed})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


def test_rank_agreement_known_values() -> None:
    final = pd.Series(MEANS[16])
    assert rank_agreement(pd.Series(MEANS[8]), final) == pytest.approx((1.0, 1.0))
    assert rank_agreement(pd.Series(MEANS[2]), final) == pytest.approx((4 / 6, 0.8))
    assert rank_agreement(pd.Series(MEANS[1]), final) == pytest.approx((-1.0, -1.0))
    # only shared labels count; fewer than 2 or a constant side gives NaN
    assert rank_agreement(pd.Series({"a": 1.0, "x": 2.0, "b": 0.5}), final) == pytest.approx((1.0, 1.0))
    assert all(math.isnan(v) for v in rank_agreement(pd.Series({"a": 1.0}), final))
    assert all(math.isnan(v) for v in rank_agreement(pd.Series({"a": 0.5, "b": 0.5}), final))


def test_fidelity_table_by_hand() -> None:
    table = fidelity_table(_runs())
    assert list(table.columns) == FIDELITY_COLUMNS
    assert table["budget"].tolist() == [1.0, 2.0, 8.0, 16.0]
    assert table["networks"].tolist() == [4, 4, 4, 4]
    assert table["seeds"].tolist() == [2, 2, 2, 2]
    assert table["kendall_tau"].tolist() == pytest.approx([-1.0, 4 / 6, 1.0, 1.0])
    # τ's two-sided p by counting: of the 24 orders of 4 networks, 1 has no discordant pair and 3 have one, so
    # |τ| = 1 has p = 2·1/24 and τ = 4/6 (one discordant pair) p = 2·4/24; none on the largest budget's row
    assert table["tau_p"].tolist()[:3] == pytest.approx([2 / 24, 8 / 24, 2 / 24])
    assert math.isnan(table["tau_p"].iloc[3])
    assert table["spearman_rho"].tolist() == pytest.approx([-1.0, 0.8, 1.0, 1.0])
    expected_sigma = [math.sqrt(sum(2 * h**2 for h in HALF[b].values()) / 4) for b in MEANS]
    assert table["sigma"].tolist() == pytest.approx(expected_sigma)
    assert table["sigma"][0] == pytest.approx(0.01 * math.sqrt(2))
    assert table["sigma"][2] == pytest.approx(math.sqrt(2 * 0.02**2 / 4))  # one noisy network of four
    expected_spread = [pd.Series(MEANS[b]).std(ddof=1) for b in MEANS]
    assert table["spread"].tolist() == pytest.approx(expected_spread)
    # spread at 16 by hand: mean 0.8125, squares 0.0076+0.0014+0.0002+0.0127 = 0.021875 / 3
    assert table["spread"][3] == pytest.approx(math.sqrt(0.021875 / 3))
    assert table["wall_seconds"].tolist() == pytest.approx([10.5, 20.5, 80.5, 160.5])
    # differ_p is the one-way analysis of variance of each budget's runs, network by network
    runs = _runs()
    expected_p = [f_oneway(*(g["accuracy"] for _, g in runs[runs["budget"] == b].groupby("network"))).pvalue
                  for b in MEANS]
    assert table["differ_p"].tolist() == pytest.approx(expected_p)
    assert table["differ_p"].max() < 0.05  # the hand-made networks differ far beyond their seed noise


def test_fidelity_table_uneven_networks_and_seeds() -> None:
    runs = _runs()
    extra = pd.DataFrame([
        # a third seed of a at budget 2 (the pooled σ gains one dof, seeds stays the minimum, 2)
        {"network": "a", "budget": 2.0, "seed": 2, "accuracy": 0.60, "wall_seconds": 20.0},
        # e is trained only at budget 1, once: counted there, but not compared and not in σ
        {"network": "e", "budget": 1.0, "seed": 0, "accuracy": 0.99, "wall_seconds": 10.0},
        # a failed training: no accuracy, but its wall time counts
        {"network": "d", "budget": 8.0, "seed": 2, "accuracy": math.nan, "wall_seconds": 0.0},
    ])
    table = fidelity_table(pd.concat([runs, extra], ignore_index=True)).set_index("budget")
    assert table.loc[1.0, "networks"] == 5 and table.loc[1.0, "seeds"] == 1
    assert table.loc[1.0, "kendall_tau"] == pytest.approx(-1.0)  # e has no accuracy at 16
    assert table.loc[1.0, "sigma"] == pytest.approx(0.01 * math.sqrt(2))
    assert table.loc[2.0, "seeds"] == 2
    # a: 0.59, 0.61, 0.60 → squares 0.0002 over 2 dof; b, c, d: 2·half² over 1 dof each
    squares = 0.0002 + 2 * (0.02**2 + 0.03**2 + 0.04**2)
    assert table.loc[2.0, "sigma"] == pytest.approx(math.sqrt(squares / 5))
    assert table.loc[8.0, "wall_seconds"] == pytest.approx((80 + 81) * 4 / 9)  # the failed run took 0 s


def test_fidelity_table_refuses_bad_runs() -> None:
    with pytest.raises(ValueError, match="wall_seconds"):
        fidelity_table(_runs().drop(columns="wall_seconds"))
    assert fidelity_table(_runs().iloc[0:0]).empty


def test_recommend_budget() -> None:
    table = fidelity_table(_runs())
    assert recommend_budget(table) == 8.0  # 2 epochs: τ = 0.67 < 0.7
    assert recommend_budget(table, min_tau=0.6) == 2.0
    assert recommend_budget(table, min_tau=-1.0) == 1.0
    # only the largest qualifies: no shorter budget ranks like it
    only_top = table.assign(kendall_tau=[0.1, 0.2, math.nan, 1.0])
    assert recommend_budget(only_top) == 16.0
    with pytest.raises(ValueError):
        recommend_budget(table.iloc[0:0])


def _histories(order_by_epoch: dict[int, list[str]]) -> pd.DataFrame:
    """Two seeds per network per epoch, mean accuracy by rank in the given order (first = best), ±0.01."""
    rows = []
    for epoch, order in order_by_epoch.items():
        for rank, network in enumerate(order):
            mean = 0.1 * epoch + 0.05 * (len(order) - rank)
            for seed, sign in enumerate((-1, 1)):
                rows.append({"network": network, "seed": seed, "epoch": epoch, "accuracy": mean + sign * 0.01})
    return pd.DataFrame(rows)


def test_rung_agreement_and_first_reliable_rung() -> None:
    # final order x > y > z; epoch 1 reversed (τ = −1), epoch 2 one adjacent swap (τ = (2 − 1)/3),
    # epoch 3 already right
    histories = _histories({1: ["z", "y", "x"], 2: ["y", "x", "z"], 3: ["x", "y", "z"], 4: ["x", "y", "z"]})
    agreement = rung_agreement(histories.sample(frac=1.0, random_state=1))
    assert list(agreement.columns) == AGREEMENT_COLUMNS
    assert agreement["epoch"].tolist() == [1, 2, 3, 4]
    assert agreement["networks"].tolist() == [3, 3, 3, 3]
    assert agreement["kendall_tau"].tolist() == pytest.approx([-1.0, 1 / 3, 1.0, 1.0])
    assert agreement["spearman_rho"].tolist() == pytest.approx([-1.0, 0.5, 1.0, 1.0])
    assert first_reliable_rung(agreement) == 3  # τ ≥ 0.5 from epoch 3 on
    assert first_reliable_rung(agreement, min_tau=0.3) == 2
    assert first_reliable_rung(agreement, min_tau=-1.0) == 1


def test_first_reliable_rung_needs_every_later_epoch() -> None:
    # right at epoch 1, wrong at 2, right again from 3: the rung is 3, not 1
    histories = _histories({1: ["x", "y", "z"], 2: ["z", "y", "x"], 3: ["x", "y", "z"], 4: ["x", "y", "z"]})
    agreement = rung_agreement(histories)
    assert agreement["kendall_tau"].tolist() == pytest.approx([1.0, -1.0, 1.0, 1.0])
    assert first_reliable_rung(agreement) == 3
    # the last epoch always qualifies; NaN fails
    table = pd.DataFrame({"epoch": [3, 1, 2], "kendall_tau": [1.0, 0.9, math.nan]})
    assert first_reliable_rung(table) == 3
    with pytest.raises(ValueError):
        first_reliable_rung(table.iloc[0:0])


def test_rung_agreement_leaves_out_networks_without_the_last_epoch() -> None:
    histories = _histories({1: ["x", "y", "z", "w"], 2: ["x", "y", "z"]})  # w pruned after epoch 1
    agreement = rung_agreement(histories)
    assert agreement["networks"].tolist() == [3, 3]
    assert agreement["kendall_tau"].tolist() == pytest.approx([1.0, 1.0])


def test_fidelity_figure_writes_png_and_svg(tmp_path: Path) -> None:
    png, svg = fidelity_figure(fidelity_table(_runs()), tmp_path / "figures" / "fidelity.demo", title="demo")
    assert (png.name, svg.name) == ("fidelity.demo.png", "fidelity.demo.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
