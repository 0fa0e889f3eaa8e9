"""`models`, `flops`, `scale` and `paper`: the zoo, what a network costs, and scaled families."""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

from scalesearch import paper
from scalesearch.baselines import SpecBaseline, resolve_baseline
from scalesearch.cli.numbers import (COEFFICIENT, MAX_PHI_VALUES, MULTIPLIER, PHI, RESOLUTION, bounded_float,
                                     bounded_int, in_range)
from scalesearch.cli.output import add_output_arguments, emit
from scalesearch.errors import UserError
from scalesearch.family import PAPER_COEFFICIENTS, cost_row, family_table
from scalesearch.scaling import Multipliers, check_coefficient, check_phi, compound
from scalesearch.zoo import ZOO

_COUNT_FORMATS = {"params": ",d", "MACs": ",d", "activations": ",d", "d": ".3f", "w": ".3f", "r": ".3f",
                  "MACs ratio": ".3f", "ideal ratio": ".3f", "phi": "g"}


def parse_phis(text: str) -> list[float]:
    """'0..7' (integers, inclusive), '0,0.5,1' or a single value; at most MAX_PHI_VALUES values, each in PHI."""
    malformed = UserError(f"phi must be a number, a list 0,0.5,1 or an integer range 0..7, got {text!r}")
    if ".." in text:
        try:
            first, last = (int(part) for part in text.split(".."))
        except ValueError:
            raise malformed from None
        if last < first:
            raise malformed
        for end in (first, last):  # before the range is ever listed
            check_phi(float(end) if abs(end) < 2**53 else math.inf if end > 0 else -math.inf)
        return [float(v) for v in range(first, last + 1)]
    parts = text.split(",")
    if len(parts) > MAX_PHI_VALUES:
        raise UserError(f"phi takes at most {MAX_PHI_VALUES} values, got {len(parts)}")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise malformed from None
    return [check_phi(v) for v in values]


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """MODEL (zoo name, spec .json or module:function) and --resolution."""
    parser.add_argument("model", metavar="MODEL",
                        help="a zoo name (see `scalesearch models`), a spec .json file, or module:function")
    parser.add_argument("--resolution", type=bounded_int(*RESOLUTION),
                        help=f"base input resolution in px, {in_range(RESOLUTION)} (default: the model's own; 224 "
                             f"for a factory)")


def _add_coefficient_arguments(parser: argparse.ArgumentParser) -> None:
    alpha, beta, gamma = PAPER_COEFFICIENTS
    number, bounds = bounded_float(*COEFFICIENT), in_range(COEFFICIENT)
    parser.add_argument("--alpha", type=number, default=alpha, help=f"depth coefficient α {bounds} (default {alpha})")
    parser.add_argument("--beta", type=number, default=beta, help=f"width coefficient β {bounds} (default {beta})")
    parser.add_argument("--gamma", type=number, default=gamma,
                        help=f"resolution coefficient γ {bounds} (default {gamma})")


def _coefficients(args: argparse.Namespace) -> tuple[float, float, float]:
    return (check_coefficient(args.alpha, "alpha"), check_coefficient(args.beta, "beta"),
            check_coefficient(args.gamma, "gamma"))


def _models(args: argparse.Namespace) -> int:
    rows = []
    for name, spec in ZOO.items():
        row = {"model": name, "resolution": spec.resolution, "stages": len(spec.stages),
               "blocks": spec.num_blocks, "stride": spec.total_stride}
        if args.cost:
            row.update({k: v for k, v in cost_row(SpecBaseline(spec), Multipliers()).items()
                        if k in ("params", "MACs")})
        rows.append(row)
    emit(pd.DataFrame(rows), args, formats=_COUNT_FORMATS)
    return 0


def add_scaling_arguments(parser: argparse.ArgumentParser) -> None:
    """--phi (with --alpha/--beta/--gamma) or --d/--w/--r."""
    parser.add_argument("--phi", type=bounded_float(*PHI),
                        help=f"compound coefficient φ {in_range(PHI)} (uses --alpha/--beta/--gamma)")
    multiplier, bounds = bounded_float(*MULTIPLIER, low_open=True), in_range(MULTIPLIER, low_open=True)
    parser.add_argument("--d", type=multiplier, help=f"depth multiplier {bounds} (default 1)")
    parser.add_argument("--w", type=multiplier, help=f"width multiplier {bounds} (default 1)")
    parser.add_argument("--r", type=multiplier, help=f"resolution multiplier {bounds} (default 1)")
    _add_coefficient_arguments(parser)


def multipliers_from_args(args: argparse.Namespace) -> Multipliers:
    """The (d, w, r) that the scaling arguments describe."""
    if args.phi is not None:
        if any(v is not None for v in (args.d, args.w, args.r)):
            raise UserError("give either --phi or --d/--w/--r, not both")
        return compound(*_coefficients(args), check_phi(args.phi))
    return Multipliers(*(1.0 if value is None else value for value in (args.d, args.w, args.r)))


def _flops(args: argparse.Namespace) -> int:
    baseline = resolve_baseline(args.model, args.resolution)
    multipliers = multipliers_from_args(args)
    row = {"model": baseline.name, **cost_row(baseline, multipliers, args.include_elementwise)}
    emit(pd.DataFrame([row]), args, formats=_COUNT_FORMATS)
    return 0


def _scale(args: argparse.Namespace) -> int:
    baseline = resolve_baseline(args.model, args.resolution)
    coefficients = _coefficients(args)
    table = family_table(baseline, parse_phis(args.phi), coefficients)
    if not (args.csv or args.json):
        alpha, beta, gamma = coefficients
        print(f"{baseline.name} scaled with α={alpha:g}, β={beta:g}, γ={gamma:g} "
              f"(α·β²·γ² = {alpha * beta**2 * gamma**2:.3f}); MACs at the scaled resolution")
    emit(table, args, formats=_COUNT_FORMATS)
    return 0


def _paper(args: argparse.Namespace) -> int:
    tables = {"Table 2 (EfficientNet-B0 ... B7, released coefficients)": paper.table2(),
              "Table 3 (scaling MobileNets and ResNet-50)": paper.table3()}
    for title, table in tables.items():
        if args.markdown:
            sys.stdout.write(f"**{title}**\n\n{table.to_markdown(index=False, floatfmt='g', intfmt=',')}\n\n")
        else:
            print(title)
            emit(table, args, formats=_COUNT_FORMATS)
            print()
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the model commands to the `scalesearch` parser."""
    models = commands.add_parser("models", help="list the model zoo", description="List the model zoo.")
    models.add_argument("--cost", action="store_true", help="also count params and MACs (slow for b8, l2)")
    add_output_arguments(models)
    models.set_defaults(func=_models)

    flops = commands.add_parser("flops", help="params, MACs and activations of a (scaled) model",
                                description="Count params, MACs (the paper's FLOPS: conv and linear "
                                            "multiply-adds) and conv activations of a model, optionally scaled.")
    add_model_argument(flops)
    add_scaling_arguments(flops)
    flops.add_argument("--include-elementwise", action="store_true",
                       help="count BatchNorm, pooling and element-wise ops too (one op per output element)")
    add_output_arguments(flops)
    flops.set_defaults(func=_flops)

    scale = commands.add_parser("scale", help="the compound-scaled family of a model",
                                description="Scale a model with d=α^φ, w=β^φ, r=γ^φ for each φ and print "
                                            "params, MACs and the MACs ratio next to the ideal (α·β²·γ²)^φ.")
    add_model_argument(scale)
    _add_coefficient_arguments(scale)
    scale.add_argument("--phi", default="0..7", help=f"φ values: 0..7, 0,0.5,1 or one number, each {in_range(PHI)}, at most "
                                            f"{MAX_PHI_VALUES} (default 0..7)")
    add_output_arguments(scale)
    scale.set_defaults(func=_scale)

    paper_cmd = commands.add_parser("paper", help="our counts next to the paper's Tables 2 and 3",
                                    description="Params and MACs of the paper's Table 2 and Table 3 models, "
                                                "counted here, next to the published numbers.")
    paper_cmd.add_argument("--markdown", action="store_true", help="print Markdown tables (for the README)")
    add_output_arguments(paper_cmd)
    paper_cmd.set_defaults(func=_paper)
