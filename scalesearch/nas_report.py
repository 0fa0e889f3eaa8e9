"""What an architecture search found: the best architectures as lines, best.json, the figure, report.md."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402

from scalesearch.errors import UserError  # noqa: E402
from scalesearch.nas import best_result, pareto_front, search_results, space_of  # noqa: E402
from scalesearch.nas_space import describe  # noqa: E402
from scalesearch.record import NetworkResult  # noqa: E402
from scalesearch.report import ReportSection  # noqa: E402
from scalesearch.results import NO_RESULTS, Ranking, rank  # noqa: E402
from scalesearch.spec import NetworkSpec  # noqa: E402
from scalesearch.study_config import StudyConfig  # noqa: E402

FIGURE = Path("figures") / "nas_accuracy_vs_macs.png"
BEST_NAME = "best.json"


@dataclass(frozen=True)
class SearchOutcome:
    """A search's trained networks, ranked with their noise, its best and its Pareto front."""

    results: tuple[NetworkResult, ...]
    ranking: Ranking
    best: NetworkResult | None
    front: tuple[NetworkResult, ...]


def outcome(study: optuna.Study, config: StudyConfig) -> SearchOutcome:
    results = tuple(search_results(study))
    return SearchOutcome(results, rank(results, config.scoring), best_result(results, config),
                         tuple(pareto_front(results)))


def uncertainty(found: SearchOutcome, result: NetworkResult) -> float:
    """The standard error of `result`'s accuracy (NaN while the noise is unknown)."""
    table = found.ranking.table
    return float(table.loc[table["network"] == result.plan.index, "uncertainty"].iloc[0])


def architecture_line(found: SearchOutcome, result: NetworkResult, config: StudyConfig) -> str:
    """'trial 7: mbconv6 k3 se0.25 id 16ch×1 | ... — 312.4M MACs, 4.10M params, accuracy 0.6120 ± 0.0100, reward
    0.6050': the architecture stage by stage, its cost, accuracy ± standard error, and reward."""
    spec = NetworkSpec.from_json(result.plan.baseline or "")
    error = uncertainty(found, result)
    noise = f" ± {error:.4f}" if math.isfinite(error) else " ± ? (noise unknown)"
    return (f"trial {result.plan.index}: {describe(space_of(config).choices_of(spec))} — "
            f"{result.plan.macs / 1e6:.1f}M MACs, {result.plan.params / 1e6:.2f}M params, accuracy "
            f"{result.accuracy:.4f}{noise}, reward {result.objective:.4f}")


def best_noise(found: SearchOutcome, config: StudyConfig) -> str:
    """'trial 4 (accuracy 0.7320 ± 0.0103); 5 other networks are within noise of it' for the best (by reward;
    for NSGA-II the Pareto point nearest T, whose noise is its own standard error)."""
    best = found.best
    error = uncertainty(found, best)
    noise = f" ± {error:.4f}" if math.isfinite(error) else ", noise unknown"
    line = f"trial {best.plan.index} (accuracy {best.accuracy:.4f}{noise})"
    if dict(config.settings)["sampler"] == "nsga2":
        return f"{line}, the Pareto point nearest T"
    verdict = found.ranking.verdict(len(config.seeds))
    return f"{line}; {verdict}" if verdict else line


def shown(found: SearchOutcome, config: StudyConfig, top: int) -> list[NetworkResult]:
    """The architectures to print: the Pareto front for NSGA-II, else the best `top` by reward."""
    if dict(config.settings)["sampler"] == "nsga2":
        return list(found.front)
    finished = sorted((r for r in found.results if r.status == "ok"), key=lambda r: -r.objective)
    return finished[:top]


def write_best(found: SearchOutcome, run_dir: Path) -> Path | None:
    """run_dir/best.json, the best architecture's spec (None when no network trained to the end)."""
    if found.best is None:
        return None
    path = run_dir / BEST_NAME
    try:
        NetworkSpec.from_json(found.best.plan.baseline or "").save(path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def draw_figure(found: SearchOutcome, config: StudyConfig, path: Path) -> None:
    """Accuracy against MACs of every trained network (pruned faded), the Pareto front, T, iso-reward lines."""
    scoring = config.scoring
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    for status, alpha, label in (("ok", 0.9, "trained"), ("pruned", 0.25, "pruned"), ("diverged", 0.25, "diverged")):
        rows = [r for r in found.results if r.status == status]
        if rows:
            ax.scatter([r.plan.macs / 1e6 for r in rows], [r.accuracy * 100 for r in rows], alpha=alpha, s=22,
                       label=label)
    if found.front:
        ax.step([r.plan.macs / 1e6 for r in found.front], [r.accuracy * 100 for r in found.front], where="post",
                color="black", linewidth=1, label="Pareto front")
    ax.axvline(scoring.target_macs / 1e6, color="red", linestyle="--", linewidth=1, label="T")
    macs = [r.plan.macs for r in found.results]
    if macs and not scoring.hard:
        grid = np.geomspace(min(macs + [scoring.target_macs]) * 0.8, max(macs + [scoring.target_macs]) * 1.25, 100)
        finished = [r.objective for r in found.results if r.status == "ok"]
        for level in np.linspace(min(finished), max(finished), 3) if finished else ():
            ax.plot(grid / 1e6, [level / scoring.factor(m) * 100 for m in grid], color="grey", linewidth=0.6,
                    linestyle=":")
        ax.plot([], [], color="grey", linewidth=0.6, linestyle=":", label=f"ACC·(MACs/T)^{scoring.w:g} = const")
    if found.best is not None:
        ax.scatter([found.best.plan.macs / 1e6], [found.best.accuracy * 100], s=140, facecolors="none",
                   edgecolors="red", label="best.json")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("MACs (M, nominal resolution)")
    ax.set_ylabel("proxy top-1 accuracy (%)")
    ax.set_title(f"architecture search ({dict(config.settings)['sampler']}), {len(found.results)} networks")
    ax.legend(fontsize=7)
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def nas_sections(study: optuna.Study, config: StudyConfig, run_dir: Path) -> list[ReportSection]:
    """The space, the best architectures with their noise, and the figure (drawn here)."""
    found = outcome(study, config)
    settings = dict(config.settings)
    space = f"the space: {settings['space_size']:.3g} choice tuples over {len(space_of(config).skeleton.stages)} stages"
    if not found.results:
        return [ReportSection("Search", f"{space}\n\n{NO_RESULTS}")]
    spread = found.ranking.spread_line()
    head = [space, f"{len(found.results)} distinct networks trained "
                   f"({len(study.get_trials(deepcopy=False))} trials); {found.ranking.noise_line()}",
            *([spread] if spread else [])]
    items = [f"- {architecture_line(found, r, config)}" for r in shown(found, config, 10)]
    draw_figure(found, config, run_dir / FIGURE)
    return [ReportSection("Search", "\n\n".join(head) + "\n\n" + "\n".join(items)),
            ReportSection("Figure", "", (FIGURE,))]
