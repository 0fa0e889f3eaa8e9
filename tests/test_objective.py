"""The MnasNet reward ACC·(MACs/T)^w: soft form, hard form within and beyond T, and w = 0."""

from __future__ import annotations

import pytest

from scalesearch.objective import SOFT_EXPONENT, reward


def test_soft_exponent_is_mnasnets() -> None:
    assert SOFT_EXPONENT == -0.07


def test_soft_reward_follows_the_formula() -> None:
    # twice the target: 0.8 * 2^-0.07
    assert reward(0.8, 2e6, 1e6) == pytest.approx(0.8 * 2**-0.07, rel=1e-12)
    assert reward(0.8, 2e6, 1e6) == pytest.approx(0.762110, abs=1e-6)
    # half the target is rewarded: 0.8 * 0.5^-0.07 > 0.8
    assert reward(0.8, 5e5, 1e6) == pytest.approx(0.8 * 0.5**-0.07, rel=1e-12)
    assert reward(0.8, 5e5, 1e6) > 0.8
    # at the target the reward is the accuracy
    assert reward(0.8, 1e6, 1e6) == pytest.approx(0.8, rel=1e-12)


def test_soft_reward_with_another_exponent() -> None:
    assert reward(0.5, 3e6, 1e6, w=-0.15) == pytest.approx(0.5 * 3**-0.15, rel=1e-12)
    assert reward(0.5, 3e6, 1e6, w=-0.15) < reward(0.5, 3e6, 1e6)  # steeper penalty


def test_w_zero_is_plain_accuracy() -> None:
    for macs in (1e5, 1e6, 7e6):
        assert reward(0.63, macs, 1e6, w=0.0) == 0.63


def test_hard_reward_within_the_target_is_the_accuracy() -> None:
    assert reward(0.7, 9e5, 1e6, hard=True) == 0.7
    assert reward(0.7, 1e6, 1e6, hard=True) == 0.7  # exactly at T still counts as within
    assert reward(0.7, 9e5, 1e6, w=-0.5, hard=True) == 0.7  # hard ignores w


def test_hard_reward_beyond_the_target_divides_by_the_overshoot() -> None:
    assert reward(0.7, 2e6, 1e6, hard=True) == pytest.approx(0.35, rel=1e-12)
    assert reward(0.7, 4e6, 1e6, w=-0.07, hard=True) == pytest.approx(0.175, rel=1e-12)
    # just beyond T drops below the accuracy, unlike the soft form's smooth penalty
    assert reward(0.7, 1e6 + 1, 1e6, hard=True) < 0.7


@pytest.mark.parametrize(("macs", "target"), [(0.0, 1e6), (-1.0, 1e6), (1e6, 0.0), (1e6, -5.0)])
def test_non_positive_macs_or_target_are_refused(macs: float, target: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        reward(0.5, macs, target)


def test_zero_accuracy_scores_zero() -> None:
    assert reward(0.0, 2e6, 1e6) == 0.0
    assert reward(0.0, 2e6, 1e6, hard=True) == 0.0
