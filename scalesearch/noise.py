"""How much a proxy ranking can tell apart: seed noise, the tie-with-best test, seeds needed to separate,
and whether the networks' accuracies differ at all.

The tie test compares every network with the best at once (Tukey–Kramer): the best is the largest of k
noisy objectives, so a test of one pair at a time would rule out networks that do not differ far more
often than its confidence says. With two networks it is the ordinary two-sided test.

All accuracies are fractions (0.82, not 82 %). A candidate's reward is its mean accuracy times a
known positive constant (the MACs factor of ACC·(MACs/T)^w), so its standard error in reward units
is σ·(objective/accuracy)/√n for n seeds, σ being the seed noise of one training's accuracy.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import f, studentized_range

DEFAULT_CONFIDENCE = 0.95
DEFAULT_MAX_SEEDS = 100

# The wording of every statement this module makes, kept in one place.
TEST_WORDING = "difference ≤ {z:.2f} combined standard errors ({how}{basis})"
PAIR_WORDING = "two-sided {percent} %"
FAMILY_WORDING = "Tukey–Kramer, {percent} % for all {networks} networks at once"
BASIS_WORDINGS = (", Student's t with the {dof} degrees of freedom of σ",
                  ", studentized range with the {dof} degrees of freedom of σ")
SEPARATE_WORDING = "to separate them: --seeds {seeds} ({duration})"
CANNOT_SEPARATE_WORDING = "to separate them: more than {max_seeds} seeds would be needed"
SPREAD_TEST_WORDING = "F = {statistic:.2f} on {between} and {within} degrees of freedom, p = {p:.2g}"
SPREAD_WORDINGS = ("between networks: accuracies differ beyond seed noise ({test})",
                   "between networks: accuracies spread no more than seed noise alone gives ({test}); "
                   "no network is shown to be more accurate than another")

TIE_COLUMNS = ("objective", "accuracy", "n_seeds", "state")


@dataclass(frozen=True)
class NoiseEstimate:
    """Pooled seed noise: `sigma` (std of one training's accuracy), its degrees of freedom, groups used."""

    sigma: float
    dof: int
    n_groups: int

    @property
    def known(self) -> bool:
        """True when at least one group had two values, i.e. sigma is a number."""
        return self.dof > 0


def pooled_seed_std(groups: Iterable[Sequence[float]]) -> NoiseEstimate:
    """Pooled within-group standard deviation: Σ squared deviations from each group's mean / Σ (nᵢ − 1).

    Only groups with at least two (non-NaN) values count; NaN values are dropped first.
    With no such group the estimate is NaN with 0 degrees of freedom.
    """
    squares = 0.0
    dof = 0
    used = 0
    for group in groups:
        values = np.asarray(group, dtype=float)
        values = values[~np.isnan(values)]
        if values.size < 2:
            continue
        squares += float(((values - values.mean()) ** 2).sum())
        dof += values.size - 1
        used += 1
    if dof == 0:
        return NoiseEstimate(sigma=math.nan, dof=0, n_groups=0)
    return NoiseEstimate(sigma=math.sqrt(squares / dof), dof=dof, n_groups=used)


def critical_value(confidence: float = DEFAULT_CONFIDENCE, dof: int | None = None, networks: int = 2) -> float:
    """How many combined standard errors two of `networks` means may differ by at `confidence`, all pairs at once.

    The studentized range's quantile q(confidence; networks, dof)/√2 (Tukey–Kramer; dof None: σ known, dof = ∞).
    With two networks it is the two-sided test's: the normal's 1.96 for 0.95, Student's t (4.30 for 2 dof).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    if networks < 2:
        raise ValueError(f"a comparison needs at least 2 networks, not {networks}")
    return _studentized_range_quantile(confidence, math.inf if dof is None else dof, networks) / math.sqrt(2.0)


@functools.lru_cache(maxsize=256)
def _studentized_range_quantile(confidence: float, dof: float, networks: int) -> float:
    return float(studentized_range.ppf(confidence, networks, dof))


def describe_test(confidence: float = DEFAULT_CONFIDENCE, dof: int | None = None, networks: int = 2) -> str:
    """One line naming the tie test, e.g. 'difference ≤ 1.96 combined standard errors (two-sided 95 %)', or
    with more than two networks '… (Tukey–Kramer, 95 % for all 6 networks at once, …)'."""
    family = networks > 2
    how = (FAMILY_WORDING if family else PAIR_WORDING).format(percent=f"{confidence * 100:g}", networks=networks)
    basis = "" if dof is None else BASIS_WORDINGS[family].format(dof=dof)
    return TEST_WORDING.format(z=critical_value(confidence, dof, networks), how=how, basis=basis)


def noise_line(estimate: NoiseEstimate, source: str | None, confidence: float = DEFAULT_CONFIDENCE,
               test: str = "tie test", networks: int = 2) -> str:
    """'seed noise: σ = … top-1 (where it comes from, N degrees of freedom); tie test: …', or that it is unknown.

    `networks`: how many networks the test compares at once (`describe_test`)."""
    if not estimate.known:
        return "seed noise: unknown (no network was trained with 2 or more seeds to the end)"
    where = source or f"pooled over {estimate.n_groups} network(s)"
    return (f"seed noise: σ = {estimate.sigma:.4f} top-1 ({where}, {estimate.dof} degrees of freedom); "
            f"{test}: {describe_test(confidence, estimate.dof, networks)}")


@dataclass(frozen=True)
class SpreadTest:
    """One-way analysis of variance of networks' mean accuracies against the seed noise."""

    statistic: float
    dof_between: int
    dof_within: int
    p_value: float

    def line(self, confidence: float = DEFAULT_CONFIDENCE) -> str:
        """'between networks: accuracies differ beyond seed noise (F = …, p = …)', or that they do not
        (p ≥ 1 − confidence)."""
        test = SPREAD_TEST_WORDING.format(statistic=self.statistic, between=self.dof_between, within=self.dof_within,
                                          p=self.p_value)
        return SPREAD_WORDINGS[self.p_value >= 1.0 - confidence].format(test=test)


def spread_test(accuracies: Sequence[float], n_seeds: Sequence[int], estimate: NoiseEstimate) -> SpreadTest | None:
    """Do k networks' mean accuracies spread more than the seed noise σ predicts?

    F = Σ nᵢ (āᵢ − ā)² / (k − 1) / σ², ā the seed-weighted mean of the means āᵢ of nᵢ seeds. When every
    network has the same expected accuracy, F follows F(k − 1, dof of σ); with σ pooled within these
    networks this is the one-way ANOVA (scipy.stats.f_oneway). None with fewer than two networks, or
    σ unknown or 0.
    """
    means = np.asarray(accuracies, dtype=float)
    counts = np.asarray(n_seeds, dtype=float)
    if means.shape != counts.shape:
        raise ValueError(f"{means.size} accuracies but {counts.size} seed counts")
    if (counts < 1).any() or np.isnan(means).any():
        raise ValueError("every network needs a mean accuracy and n_seeds ≥ 1")
    if means.size < 2 or not estimate.known or not estimate.sigma > 0:
        return None
    grand = float((counts * means).sum() / counts.sum())
    between = means.size - 1
    statistic = float((counts * (means - grand) ** 2).sum()) / between / estimate.sigma**2
    return SpreadTest(statistic, between, estimate.dof, float(f.sf(statistic, between, estimate.dof)))


def uncertainty(sigma: float, n_seeds: int) -> float:
    """Standard error of the mean accuracy of `n_seeds` seeds: σ/√n."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, not {n_seeds}")
    return sigma / math.sqrt(n_seeds)


def _check_sigma(sigma: float) -> None:
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"the seed noise sigma must be a finite number ≥ 0, not {sigma}")


def _reward_scale(table: pd.DataFrame) -> pd.Series:
    """objective/accuracy of each row (the reward's constant); NaN where accuracy is not positive."""
    accuracy = table["accuracy"].astype(float)
    return table["objective"].astype(float) / accuracy.where(accuracy > 0)


def standard_errors(table: pd.DataFrame, sigma: float) -> pd.Series:
    """Standard error of each row's objective: σ·(objective/accuracy)/√n_seeds (NaN for non-complete rows)."""
    _check_sigma(sigma)
    missing = [column for column in TIE_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"the table lacks the column(s) {', '.join(missing)}")
    if not table.index.is_unique:
        raise ValueError("the table's index must be unique")
    complete = table["state"] == "complete"
    counts = table["n_seeds"].astype(float)
    if (complete & ~(counts >= 1)).any():
        raise ValueError("every complete row needs n_seeds ≥ 1")
    error = sigma * _reward_scale(table) / np.sqrt(counts.where(counts >= 1))
    return error.where(complete)


def _best_label(table: pd.DataFrame) -> object | None:
    complete = table[(table["state"] == "complete") & table["objective"].notna()]
    if complete.empty:
        return None
    return complete["objective"].astype(float).idxmax()


def family_size(table: pd.DataFrame) -> int:
    """How many networks the tie test compares at once: the complete rows with an objective (at least 2)."""
    return max(int(((table["state"] == "complete") & table["objective"].notna()).sum()), 2)


def tied_with_best(table: pd.DataFrame, sigma: float, confidence: float = DEFAULT_CONFIDENCE,
                   dof: int | None = None) -> pd.Series:
    """Boolean Series (the table's index): which complete rows the test cannot tell from the best.

    `table` has the columns objective, accuracy, n_seeds and state, in any order of rows. The best is
    the complete row with the largest objective; a complete row is tied with it when
    best − objective ≤ c·√(se_best² + se_row²), se as in `standard_errors` and c = `critical_value` for
    the k complete rows (Tukey–Kramer: when no row differs, all k are tied with probability `confidence`;
    `dof`, the degrees of freedom of sigma, or None for σ known). The best is tied with
    itself; rows whose state is not "complete" are False. Raises ValueError when sigma is NaN
    (unknown noise: estimate it first) or negative. A row whose accuracy is 0 has no known reward
    scale and is False unless it is the best.
    """
    error = standard_errors(table, sigma)
    tied = pd.Series(False, index=table.index, dtype=bool)
    best = _best_label(table)
    if best is None:
        return tied
    objective = table["objective"].astype(float)
    critical = critical_value(confidence, dof, family_size(table))
    margin = critical * np.sqrt(error**2 + error.loc[best] ** 2)
    tied[:] = ((objective.loc[best] - objective) <= margin).fillna(False).to_numpy(dtype=bool)
    tied &= (table["state"] == "complete").to_numpy()
    tied.loc[best] = True
    return tied


def seeds_to_separate(gap: float, sigma: float, confidence: float = DEFAULT_CONFIDENCE,
                      max_seeds: int = DEFAULT_MAX_SEEDS, networks: int = 2) -> int | None:
    """Smallest n such that two of `networks` means of n seeds each, `gap` apart, differ by more than
    c·σ·√(2/n), c = `critical_value` for `networks` with σ known.

    None when gap ≤ 0 (or NaN) or n would exceed `max_seeds`. σ = 0 gives 1.
    """
    _check_sigma(sigma)
    if not gap > 0:
        return None
    z = critical_value(confidence, networks=networks)
    n = max(1, math.floor(2.0 * (z * sigma / gap) ** 2) + 1)
    while n > 1 and z * sigma * math.sqrt(2.0 / (n - 1)) < gap:  # guard against rounding
        n -= 1
    while not z * sigma * math.sqrt(2.0 / n) < gap:
        n += 1
    return n if n <= max_seeds else None


def _duration(seconds: float) -> str:
    minutes = seconds / 60.0
    if minutes < 1:
        return "under 1 min"
    if minutes < 90:
        return f"about {round(minutes)} min"
    return f"about {minutes / 60:.1f} h"


def separation_advice(table: pd.DataFrame, sigma: float, seconds_per_training: float, current_seeds: int,
                      confidence: float = DEFAULT_CONFIDENCE, max_seeds: int = DEFAULT_MAX_SEEDS,
                      dof: int | None = None) -> str | None:
    """'to separate them: --seeds N (about M min)' for the set tied with the best; None when nothing is tied.

    N is the smallest seed count (above `current_seeds`) at which the best differs significantly from
    every other tied row, all rows having N seeds: for each tied row, `seeds_to_separate` with the
    gap in objective units and an effective σ = sigma·√((s_best² + s_row²)/2), s = objective/accuracy
    (the gap converted to accuracy units); N is the largest of these (usually the runner-up's).
    M = (N − current_seeds) × (number of complete rows) × seconds_per_training / 60, since a rerun
    with more seeds retrains every candidate. Beyond `max_seeds`: 'more than … seeds would be needed'.
    The tied set is `tied_with_best`'s with `dof`; the seeds needed assume σ then known, with the same
    all-at-once critical value for the table's complete rows.
    """
    tied = tied_with_best(table, sigma, confidence, dof)
    if tied.sum() < 2:
        return None
    best = _best_label(table)
    objective = table["objective"].astype(float)
    scale = _reward_scale(table)
    networks = family_size(table)
    needed = current_seeds + 1
    for label in tied.index[tied.to_numpy()]:
        if label == best:
            continue
        effective = sigma * math.sqrt((scale.loc[best] ** 2 + scale.loc[label] ** 2) / 2.0)
        if not math.isfinite(effective):
            return CANNOT_SEPARATE_WORDING.format(max_seeds=max_seeds)
        n = seeds_to_separate(objective.loc[best] - objective.loc[label], effective, confidence, max_seeds, networks)
        if n is None:
            return CANNOT_SEPARATE_WORDING.format(max_seeds=max_seeds)
        needed = max(needed, n)
    if needed > max_seeds:
        return CANNOT_SEPARATE_WORDING.format(max_seeds=max_seeds)
    rows = int((table["state"] == "complete").sum())
    seconds = (needed - current_seeds) * rows * seconds_per_training
    return SEPARATE_WORDING.format(seeds=needed, duration=_duration(seconds))
