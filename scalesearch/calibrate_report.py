"""What a calibration says, in words, tables and a figure: shared by calibrate's printed output and report.md."""

from __future__ import annotations

import math
from pathlib import Path

import optuna

from scalesearch.baselines import baseline_name
from scalesearch.calibrate import Calibration, analyse_study, trained_networks
from scalesearch.fidelity import fidelity_figure
from scalesearch.noise import DEFAULT_CONFIDENCE
from scalesearch.report import ReportSection, markdown_table
from scalesearch.study_config import StudyConfig

FIDELITY_HEADERS = {"budget": "budget", "networks": "networks", "seeds": "seeds", "kendall_tau": "Kendall τ",
                    "tau_p": "τ p", "spearman_rho": "Spearman ρ", "sigma": "σ", "spread": "spread",
                    "differ_p": "F-test p", "wall_seconds": "s/training"}
AGREEMENT_HEADERS = {"epoch": "epoch", "networks": "networks", "kendall_tau": "Kendall τ",
                     "spearman_rho": "Spearman ρ"}
FIGURES = (Path("figures") / "fidelity.png", Path("figures") / "fidelity.svg")
NO_RESULTS = "no network trained yet: nothing to calibrate"


def trained_line(study: optuna.Study, config: StudyConfig) -> str:
    """How complete the calibration is, and what the table's columns mean."""
    done, total = trained_networks(study)
    return (f"{done} of {total} (network, budget) pairs trained, {len(config.seeds)} seeds each; τ and ρ: "
            f"per-network mean accuracy against the largest budget; τ p: how often unrelated rankings of these "
            f"networks agree (or disagree) that well; σ: pooled seed noise of one training; spread: "
            f"std of the network means; F-test p: how often networks of equal accuracy would spread this much "
            f"(below {1 - DEFAULT_CONFIDENCE:g}, they differ beyond seed noise)")


def recommendation_line(calibration: Calibration) -> str:
    """'smallest budget with τ ≥ 0.7: N epochs (...)', or that no shorter budget ranks like the largest; with a
    warning when the largest budget's networks do not differ beyond seed noise."""
    return _recommendation(calibration) + _alike_warning(calibration)


def _alike_warning(calibration: Calibration) -> str:
    largest = calibration.largest
    p = calibration.row(largest)["differ_p"]
    if not p >= 1 - DEFAULT_CONFIDENCE:
        return ""
    return (f"; at {_epochs(largest)} the networks do not differ beyond seed noise (F-test p = {p:.2g}), so τ "
            f"against it ranks noise: add seeds or extend the ladder")


def _recommendation(calibration: Calibration) -> str:
    largest = calibration.largest
    if calibration.ranks_like_largest:
        row = calibration.row(calibration.recommended)
        return (f"smallest budget with τ ≥ {calibration.min_tau:g}: {_epochs(calibration.recommended)} "
                f"(τ = {row['kendall_tau']:.3f} against {_epochs(largest)}{_tau_p(row['tau_p'])}; "
                f"σ = {row['sigma']:.4f}, spread = {row['spread']:.4f}, {row['wall_seconds']:.3g} s per training)"
                f"{_screen_hint(calibration)}")
    return (f"no shorter budget ranks like the largest: no budget below {_epochs(largest)} reaches τ ≥ "
            f"{calibration.min_tau:g}; extend the ladder upwards (e.g. --ladder ...,{largest:g},{2 * largest:g}) "
            f"to learn whether {_epochs(largest)} is itself long enough")


def _tau_p(p: float) -> str:
    """', p = …' for a τ against a shorter budget (nothing on the largest budget's own row)."""
    return "" if math.isnan(p) else f", p = {p:.2g}"


def _screen_hint(calibration: Calibration) -> str:
    """A grid command that screens with runs of the recommended budget, when it is a whole number of epochs
    below the largest."""
    budget = calibration.recommended
    if not (budget.is_integer() and budget < calibration.largest):
        return ""
    return (f"; as a screening run: scalesearch grid --epochs {calibration.largest:g} --prune screen "
            f"--prune-from {budget:g}")


def single_evaluation_line(calibration: Calibration) -> str | None:
    """Why there is no rung agreement, when the recommended budget has a single evaluation."""
    if calibration.first_rung is not None:
        return None
    return (f"rung agreement: {_epochs(calibration.recommended)} has a single evaluation, so there is no earlier "
            f"rung to prune at")


def agreement_title(calibration: Calibration) -> str:
    return f"rung agreement at {_epochs(calibration.recommended)} (each epoch's accuracy against the last)"


def first_rung_line(calibration: Calibration) -> str:
    """The first reliable pruning rung and a grid command that prunes from it."""
    return (f"first reliable rung for pruning (τ ≥ {calibration.rung_tau:g} from there on): epoch "
            f"{calibration.first_rung}; e.g. scalesearch grid --epochs {calibration.recommended:g} --prune sha "
            f"--prune-from {calibration.first_rung}")


def draw_figure(calibration: Calibration, config: StudyConfig, run_dir: Path) -> tuple[Path, Path]:
    """The fidelity figure under run_dir/figures: its (PNG, SVG) paths relative to run_dir."""
    title = f"{baseline_name(config.baseline)} on {config.data.name}, {len(config.seeds)} seeds"
    fidelity_figure(calibration.table, run_dir / FIGURES[0].with_suffix(""), title, calibration.min_tau)
    return FIGURES


def calibrate_sections(study: optuna.Study, config: StudyConfig, run_dir: Path) -> list[ReportSection]:
    """The fidelity table and recommendation, the rung agreement, and the fidelity figure (drawn here)."""
    calibration = analyse_study(study)
    if calibration.table.empty:
        return [ReportSection("Calibration", NO_RESULTS)]
    table = "\n\n".join([markdown_table(calibration.table.rename(columns=FIDELITY_HEADERS)),
                         trained_line(study, config), recommendation_line(calibration)])
    rungs = single_evaluation_line(calibration) or "\n\n".join(
        [f"{agreement_title(calibration)}:", markdown_table(calibration.agreement.rename(columns=AGREEMENT_HEADERS)),
         first_rung_line(calibration)])
    png, _ = draw_figure(calibration, config, run_dir)
    return [ReportSection("Calibration", table), ReportSection("Rung agreement", rungs),
            ReportSection("Figure", "The fidelity curve (also as SVG beside it).", (png,))]


def _epochs(budget: float) -> str:
    return f"{budget:g} epoch{'' if budget == 1 else 's'}"
