"""`scalesearch ablate KIND`: the paper's comparisons (Figures 3, 4, 8 and Table 3) as a study of points."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from scalesearch.ablation import (CPU_DEPTHS, CPU_FIG4_WIDTHS, CPU_FIG8_PHIS, CPU_RESOLUTIONS, CPU_TABLE3_BASELINES,
                                  CPU_WIDTHS, KINDS, MAX_FACTORS, PAPER_DEPTHS, PAPER_FIG4_SETTINGS, PAPER_FIG8_PHIS,
                                  PAPER_RESOLUTIONS, PAPER_TABLE3_BASELINES, PAPER_WIDTHS, PHI_MAX, RULES,
                                  AnySweep, CompoundSweep, Fig3Sweep, Fig4Sweep, ablation_study)
from scalesearch.cli.data_options import add_data_arguments, data_config
from scalesearch.cli.grid_command import DEFAULT_EPOCHS, DEFAULT_PROXY_RESOLUTION, DEFAULT_TEST_IMAGES, \
    DEFAULT_TRAIN_IMAGES
from scalesearch.cli.noise_options import add_noise_from_argument, with_calibrated_noise
from scalesearch.cli.numbers import RESOLUTION, bounded_int, in_range, number_list
from scalesearch.cli.study_options import (add_proxy_resolution_argument, add_run_arguments, create_and_work,
                                          add_seed_arguments, seeds_from_args)
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.errors import UserError
from scalesearch.family import PAPER_COEFFICIENTS
from scalesearch.report import write_report
from scalesearch.runner import prepare
from scalesearch.scaling import COEFFICIENT_RANGE, MULTIPLIER_MAX
from scalesearch.study_config import StudyConfig
from scalesearch.sweep_analysis import observations
from scalesearch.sweep_report import analyse, sweep_view

FACTORS = (0.0, MULTIPLIER_MAX)  # below 1 is refused by the sweep itself, with the reason
# Which sweep options each kind takes; any other given is an error, not silently ignored.
_OPTIONS = {"fig3": ("widths", "depths", "resolutions"), "fig4": ("widths", "settings"),
            "fig8": ("phis", "coefficients", "rules"), "table3": ("phis", "coefficients", "rules", "baselines")}
_ALL_OPTIONS = ("widths", "depths", "resolutions", "settings", "phis", "coefficients", "rules", "baselines")


def _settings(text: str) -> tuple[tuple[float, float], ...]:
    """argparse type: '1:1,2:1,1:1.3' → ((1, 1), (2, 1), (1, 1.3))."""
    try:
        pairs = tuple(tuple(float(v) for v in part.split(":")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected D:R pairs separated by commas, got {text!r}") from None
    if any(len(pair) != 2 for pair in pairs) or len(pairs) > MAX_FACTORS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_FACTORS} D:R pairs separated by commas, got {text!r}")
    return pairs  # type: ignore[return-value]


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names) or len(names) > MAX_FACTORS:
        raise argparse.ArgumentTypeError(f"expected up to {MAX_FACTORS} names separated by commas, got {text!r}")
    return names


def sweep_from_args(args: argparse.Namespace) -> AnySweep:
    """The sweep the arguments describe: the CPU defaults, or the paper's with --paper; options of other kinds refused."""
    wrong = [name for name in _ALL_OPTIONS if getattr(args, name) is not None and name not in _OPTIONS[args.kind]]
    if wrong:
        raise UserError(f"--{wrong[0]} does not apply to {args.kind} (it takes "
                        f"{', '.join('--' + name for name in _OPTIONS[args.kind])})")
    paper = args.paper

    def pick(value, cpu, full):  # noqa: ANN001, ANN202
        return value if value is not None else full if paper else cpu

    if args.kind == "fig3":
        return Fig3Sweep(pick(args.widths, CPU_WIDTHS, PAPER_WIDTHS), pick(args.depths, CPU_DEPTHS, PAPER_DEPTHS),
                         pick(args.resolutions, CPU_RESOLUTIONS, PAPER_RESOLUTIONS))
    if args.kind == "fig4":
        return Fig4Sweep(pick(args.widths, CPU_FIG4_WIDTHS, PAPER_WIDTHS),
                         pick(args.settings, PAPER_FIG4_SETTINGS, PAPER_FIG4_SETTINGS))
    baselines = pick(args.baselines, CPU_TABLE3_BASELINES, PAPER_TABLE3_BASELINES) if args.kind == "table3" else ()
    return CompoundSweep(pick(args.phis, CPU_FIG8_PHIS, PAPER_FIG8_PHIS if args.kind == "fig8" else (2.0,)),
                         pick(args.coefficients, PAPER_COEFFICIENTS, PAPER_COEFFICIENTS),
                         pick(args.rules, RULES, RULES), baselines, kind=args.kind)


def ablate_config_from_args(args: argparse.Namespace, say: Callable[[str], None] = lambda line: None) -> StudyConfig:
    """The StudyConfig the arguments describe (everything validated, nothing written)."""
    if args.kind == "table3" and args.baseline is not None:
        raise UserError("table3 scales the models of --baselines; --baseline is for fig3, fig4 and fig8")
    config = ablation_study(sweep_from_args(args), args.baseline or "efficientnet-b0", data=data_config(args),
                            training=training_config(args), seeds=seeds_from_args(args),
                            proxy_resolution=args.proxy_resolution, resolution=args.resolution,
                            noise_seeds=args.noise_seeds)
    return config if args.noise_from is None else with_calibrated_noise(config, Path(args.noise_from), say)


def _study_name(args: argparse.Namespace, config: StudyConfig) -> str:
    stem = Path(config.baseline).stem if config.baseline.endswith(".json") else config.baseline
    stem = "models" if args.kind == "table3" else stem if not stem.lstrip().startswith("{") else "spec"
    return args.study or f"ablate-{args.kind}-{re.sub(r'[^A-Za-z0-9._-]', '-', stem)}"[:100]


def _ablate(args: argparse.Namespace) -> int:
    config = ablate_config_from_args(args, partial(print, file=sys.stderr))
    name = _study_name(args, config)
    prepared = prepare(config)
    say = (lambda *a: None) if args.quiet else partial(print, file=sys.stderr)
    trainings = len(prepared.plans) * len(config.seeds) + len(config.probe_seeds) - len(config.seeds)
    say(f"ablate {args.kind}: {len(config.points)} points, {len(prepared.plans)} distinct networks, {trainings} "
        f"proxy trainings ({len(config.probe_seeds)} seeds of the noise probe, the baseline)")
    done = create_and_work(args, name, prepared, say)
    if done is None:
        return 0
    sweep = analyse(done.study, config)
    print(sweep_view(sweep).to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="n/a"))
    print(f"\n{sweep.noise_line()}")
    for line in observations(sweep):
        print(line)
    report = write_report(done.study, done.run_dir)
    print(f"report: {report}; all points: {done.run_dir / 'sweep.csv'}; figures: {done.run_dir / 'figures'}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `ablate` to the `scalesearch` parser."""
    parser = commands.add_parser(
        "ablate", help="reproduce Figures 3, 4, 8 or Table 3: single-dimension against compound scaling",
        description="Proxy-train a sweep of scaled networks and compare scaling rules at their counted MACs: fig3 "
                    "(width, depth or resolution alone), fig4 (width under several d, r), fig8 (compound against "
                    "depth-, width-, resolution-only and Dollár et al.'s dWr at matched MACs, with activations), "
                    "table3 (the same for MobileNets and ResNets). The defaults are CPU-sized subsets; --paper takes "
                    "the paper's sweeps. Resumable, with --workers and --storage as for grid; writes sweep.csv, "
                    "figures/ and report.md.")
    parser.add_argument("kind", choices=KINDS, help="which comparison")
    parser.add_argument("--baseline", help="zoo name, spec .json, or module:function factory (default "
                                           "efficientnet-b0; table3 takes --baselines)")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION),
                        help=f"nominal base resolution {in_range(RESOLUTION)} (default: the baseline's)")
    sweep = parser.add_argument_group("sweep (each list increasing, factors >= 1)")
    sweep.add_argument("--paper", action="store_true", help="the paper's full sweeps instead of the CPU subsets")
    for name, cpu, full in (("widths", CPU_WIDTHS, PAPER_WIDTHS), ("depths", CPU_DEPTHS, PAPER_DEPTHS),
                            ("resolutions", CPU_RESOLUTIONS, PAPER_RESOLUTIONS)):
        sweep.add_argument(f"--{name}", type=number_list(FACTORS, MAX_FACTORS), metavar="F,...",
                           help=f"fig3{', fig4' if name == 'widths' else ''}: {name[:-1]} factors (default "
                                f"{','.join(f'{v:g}' for v in cpu)}; paper {','.join(f'{v:g}' for v in full)})")
    sweep.add_argument("--settings", type=_settings, metavar="D:R,...",
                       help="fig4: the (d, r) of each width sweep (default 1:1,2:1,1:1.3,2:1.3, as the paper)")
    sweep.add_argument("--phis", type=number_list((0.0, PHI_MAX), MAX_FACTORS, low_open=True), metavar="PHI,...",
                       help=f"fig8, table3: compound φ values, in (0, {PHI_MAX:g}] (fig8 default "
                            f"{','.join(f'{v:g}' for v in CPU_FIG8_PHIS)}, paper "
                            f"{','.join(f'{v:g}' for v in PAPER_FIG8_PHIS)}; table3 default 1, paper 2: 4× MACs)")
    sweep.add_argument("--coefficients", type=number_list(COEFFICIENT_RANGE, 3), metavar="A,B,G",
                       help="fig8, table3: α,β,γ of compound scaling (default the paper's 1.2,1.1,1.15; e.g. the "
                            "grid's best)")
    sweep.add_argument("--rules", type=_names, metavar="RULE,...",
                       help=f"fig8, table3: rules matched to compound's MACs (default {','.join(RULES)})")
    sweep.add_argument("--baselines", type=_names, metavar="MODEL,...",
                       help=f"table3: baselines (default {','.join(CPU_TABLE3_BASELINES)}; paper "
                            f"{','.join(PAPER_TABLE3_BASELINES)})")
    noise = parser.add_argument_group("noise")
    add_seed_arguments(noise, probe="the baseline network")
    add_noise_from_argument(noise)
    add_proxy_resolution_argument(noise, DEFAULT_PROXY_RESOLUTION)
    add_run_arguments(parser, default_study="ablate-KIND-BASELINE", top=False)
    add_data_arguments(parser)
    add_training_arguments(parser, default_epochs=DEFAULT_EPOCHS)
    parser.set_defaults(func=_ablate, train_images=DEFAULT_TRAIN_IMAGES, test_images=DEFAULT_TEST_IMAGES)
