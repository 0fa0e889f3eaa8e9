"""MnasNet's factorized hierarchical search space (Tan et al., 2019) over a skeleton spec.

The skeleton fixes the stem, the number of stages, their strides and activations, the head,
the resolution and stochastic depth. Each stage chooses on its own:

- operator: regular conv, depthwise-separable conv, or MBConv with expansion 1, 3 or 6;
- kernel 3 or 5;
- squeeze-and-excitation ratio 0 or 0.25 and skip (identity residual or none), MBConv only:
  the conv and dsconv blocks of `scalesearch.nn` have neither;
- output channels: the skeleton's × {0.75, 1, 1.25}, rounded to a multiple of 8 (×1 keeps them);
- repeats: the skeleton's + {−1, 0, +1}, at least 1.

Every list can be replaced from a TOML file (`SpaceLists.load`). A sample is a `Choices`, one
`StageChoice` a stage; `SearchSpace.to_spec` turns it into a `NetworkSpec` and
`SearchSpace.choices_of` finds the choices of a spec (membership).
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol

from scalesearch.errors import UserError
from scalesearch.scaling import make_divisible
from scalesearch.spec import MAX_CHANNELS, MAX_KERNEL, MAX_REPEATS, NetworkSpec, Stage, estimate_size

# The space's operators: the spec's operator and expansion ratio of each.
OPERATORS: dict[str, tuple[str, float]] = {"conv": ("conv", 1.0), "dsconv": ("dsconv", 1.0),
                                           "mbconv1": ("mbconv", 1), "mbconv3": ("mbconv", 3),
                                           "mbconv6": ("mbconv", 6)}
SKELETON_OPS = ("conv", "dsconv", "mbconv")
MAX_CHOICES = 16  # values in one list of the space
MULTIPLIER_RANGE = (0.125, 4.0)


class Suggester(Protocol):
    """What the space needs of an Optuna trial."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class SpaceLists:
    """The choice lists, shared by every stage; `channels` are multipliers, `repeats` offsets."""

    operators: tuple[str, ...] = tuple(OPERATORS)
    kernels: tuple[int, ...] = (3, 5)
    se: tuple[float, ...] = (0.0, 0.25)
    skip: tuple[bool, ...] = (True, False)
    channels: tuple[float, ...] = (0.75, 1.0, 1.25)
    repeats: tuple[int, ...] = (-1, 0, 1)

    def __post_init__(self) -> None:
        for item in fields(self):
            values = getattr(self, item.name)
            if not isinstance(values, tuple) or not values:
                raise UserError(f"the search space's {item.name!r} list is empty: give at least one value")
            if len(values) > MAX_CHOICES:
                raise UserError(f"the search space's {item.name!r} list has {len(values)} values, at most "
                                f"{MAX_CHOICES} allowed")
            if len(set(values)) != len(values):
                raise UserError(f"the search space's {item.name!r} list repeats a value: {list(values)}")
        _each(self.operators, "operators", lambda v: v in OPERATORS, f"one of {', '.join(OPERATORS)}")
        _each(self.kernels, "kernels", lambda v: _is_int(v) and 1 <= v <= MAX_KERNEL and v % 2 == 1,
              f"an odd integer in [1, {MAX_KERNEL}]")
        _each(self.se, "se", lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]")
        _each(self.skip, "skip", lambda v: isinstance(v, bool), "true (identity) or false (none)")
        low, high = MULTIPLIER_RANGE
        _each(self.channels, "channels", lambda v: _is_number(v) and low <= v <= high, f"a multiplier in "
              f"[{low:g}, {high:g}]")
        _each(self.repeats, "repeats", lambda v: _is_int(v) and abs(v) <= MAX_REPEATS, "an integer offset")

    @classmethod
    def load(cls, path: str | Path) -> SpaceLists:
        """The lists of a TOML file (keys: the field names; a missing key keeps the default list)."""
        try:
            with open(path, "rb") as file:
                table = tomllib.load(file)
        except OSError as exc:
            raise UserError(f"cannot read the search space {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"search space {path}: not valid TOML: {exc}") from None
        try:
            return cls.from_dict(table)
        except UserError as exc:
            raise UserError(f"search space {path}: {exc}") from None

    @classmethod
    def from_dict(cls, table: dict[str, Any]) -> SpaceLists:
        known = [item.name for item in fields(cls)]
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise UserError(f"unknown key(s) {', '.join(unknown)}; the keys are {', '.join(known)}")
        for key, values in table.items():
            if not isinstance(values, list):
                raise UserError(f"{key!r} must be an array, got {values!r}")
        return cls(**{key: tuple(values) for key, values in table.items()})

    def to_dict(self) -> dict[str, list[Any]]:
        return {key: list(values) for key, values in asdict(self).items()}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _each(values: tuple[Any, ...], name: str, ok: Callable[[Any], bool], expected: str) -> None:
    for value in values:
        if not ok(value):
            raise UserError(f"each value of the search space's {name!r} list must be {expected}, got {value!r}")


@dataclass(frozen=True)
class StageChoice:
    """One stage's sample: operator (a key of OPERATORS), kernel, SE ratio, skip, channels, repeats."""

    op: str
    kernel: int
    se: float
    skip: bool
    channels: int
    repeats: int

    def describe(self) -> str:
        """'mbconv6 k5 se0.25 id 40ch×2' ('noskip' without the residual; conv and dsconv have neither)."""
        extras = f" se{self.se:g} {'id' if self.skip else 'noskip'}" if self.op.startswith("mbconv") else ""
        return f"{self.op} k{self.kernel}{extras} {self.channels}ch×{self.repeats}"


Choices = tuple[StageChoice, ...]


def describe(choices: Choices) -> str:
    """Stage by stage, one readable line."""
    return " | ".join(choice.describe() for choice in choices)


class SearchSpace:
    """The space over `skeleton`: per-stage options, sampling, specs from choices and back, size."""

    def __init__(self, skeleton: NetworkSpec, lists: SpaceLists = SpaceLists()) -> None:
        unsupported = sorted({stage.op for stage in skeleton.stages} - set(SKELETON_OPS))
        if unsupported:
            raise UserError(f"skeleton {skeleton.name} has {', '.join(unsupported)} stages; the search space "
                            f"expresses MBConv-style skeletons only ({', '.join(SKELETON_OPS)} stages)")
        self.skeleton = skeleton
        self.lists = lists
        self.channels = tuple(self._channel_options(stage.channels) for stage in skeleton.stages)
        self.repeats = tuple(self._repeat_options(number, stage.repeats)
                             for number, stage in enumerate(skeleton.stages, 1))

    def _channel_options(self, channels: int) -> tuple[int, ...]:
        scaled = {channels if m == 1 else make_divisible(channels * m) for m in self.lists.channels}
        if max(scaled) > MAX_CHANNELS:
            raise UserError(f"the search space's channel multipliers give {max(scaled):,} channels, above the "
                            f"limit of {MAX_CHANNELS:,}")
        return tuple(sorted(scaled))

    def _repeat_options(self, number: int, repeats: int) -> tuple[int, ...]:
        options = tuple(sorted({repeats + offset for offset in self.lists.repeats if 1 <= repeats + offset}))
        if not options or max(options) > MAX_REPEATS:
            raise UserError(f"the search space has no valid repeats for stage {number}: the skeleton's "
                            f"{repeats} plus offsets {list(self.lists.repeats)} must give 1..{MAX_REPEATS}")
        return options

    @property
    def mbconv_ops(self) -> tuple[str, ...]:
        return tuple(op for op in self.lists.operators if OPERATORS[op][0] == "mbconv")

    def stage_size(self, index: int) -> int:
        """The distinct choices of stage `index` (0-based)."""
        blocks = len(self.lists.operators) - len(self.mbconv_ops) + \
            len(self.mbconv_ops) * len(self.lists.se) * len(self.lists.skip)
        return blocks * len(self.lists.kernels) * len(self.channels[index]) * len(self.repeats[index])

    @property
    def size(self) -> int:
        """How many distinct choice tuples the space holds (some build the same network)."""
        return math.prod(self.stage_size(index) for index in range(len(self.skeleton.stages)))

    # --- sampling --------------------------------------------------------------------------------

    def suggest(self, trial: Suggester) -> Choices:
        """One sample, each choice suggested by `trial`; SE and skip only for MBConv operators."""
        choices = []
        for index in range(len(self.skeleton.stages)):
            prefix = f"s{index + 1}_"
            op = trial.suggest_categorical(prefix + "op", self.lists.operators)
            kernel = trial.suggest_categorical(prefix + "kernel", self.lists.kernels)
            se, skip = 0.0, True
            if OPERATORS[op][0] == "mbconv":
                se = trial.suggest_categorical(prefix + "se", self.lists.se)
                skip = trial.suggest_categorical(prefix + "skip", self.lists.skip)
            channels = trial.suggest_categorical(prefix + "channels", self.channels[index])
            repeats = trial.suggest_categorical(prefix + "repeats", self.repeats[index])
            choices.append(StageChoice(op, kernel, se, skip, channels, repeats))
        return tuple(choices)

    def params(self, choices: Choices) -> dict[str, Any]:
        """The trial parameters `suggest` reads for `choices` (to enqueue a known architecture)."""
        params: dict[str, Any] = {}
        for number, choice in enumerate(choices, 1):
            prefix = f"s{number}_"
            params[prefix + "op"], params[prefix + "kernel"] = choice.op, choice.kernel
            if OPERATORS[choice.op][0] == "mbconv":
                params[prefix + "se"], params[prefix + "skip"] = choice.se, choice.skip
            params[prefix + "channels"], params[prefix + "repeats"] = choice.channels, choice.repeats
        return params

    # --- specs -----------------------------------------------------------------------------------

    def to_spec(self, choices: Choices, name: str | None = None) -> NetworkSpec:
        """The network of `choices`; named `name`, else after the skeleton and a hash of its architecture."""
        if len(choices) != len(self.skeleton.stages):
            raise UserError(f"{len(choices)} stage choices for a skeleton of {len(self.skeleton.stages)} stages")
        stages = []
        for skeleton, choice in zip(self.skeleton.stages, choices):
            op, expand = OPERATORS[choice.op]
            stages.append(Stage(op, choice.channels, choice.repeats, choice.kernel, skeleton.stride, expand,
                                choice.se, skeleton.act, choice.skip))
        spec = replace(self.skeleton, stages=tuple(stages))
        return replace(spec, name=name or f"{self.skeleton.name}-nas-{architecture_hash(spec)}")

    def choices_of(self, spec: NetworkSpec) -> Choices:
        """The choices that build `spec` exactly (its name aside); UserError naming the first stage that is
        not in the space."""
        if len(spec.stages) != len(self.skeleton.stages):
            raise UserError(f"{spec.name} has {len(spec.stages)} stages, the skeleton {len(self.skeleton.stages)}")
        choices = []
        for number, (stage, skeleton) in enumerate(zip(spec.stages, self.skeleton.stages), 1):
            op = next((name for name, (kind, expand) in OPERATORS.items()
                       if kind == stage.op and (kind != "mbconv" or expand == stage.expand)), None)
            choice = StageChoice(op or stage.op, stage.kernel, stage.se, stage.skip, stage.channels, stage.repeats)
            problem = self._stage_problem(number - 1, choice, stage, skeleton)
            if problem:
                raise UserError(f"{spec.name} is not in the search space: stage {number} {problem}")
            choices.append(choice)
        rebuilt = self.to_spec(tuple(choices), spec.name)
        if rebuilt != spec:
            raise UserError(f"{spec.name} is not in the search space: its stem, head or settings differ from "
                            f"the skeleton {self.skeleton.name}'s")
        return tuple(choices)

    def _stage_problem(self, index: int, choice: StageChoice, stage: Stage, skeleton: Stage) -> str | None:
        """Why `stage` is not a choice of stage `index`, or None."""
        checks = [(choice.op in self.lists.operators, f"operator {stage.op} (expand {stage.expand:g})"),
                  (choice.kernel in self.lists.kernels, f"kernel {stage.kernel}"),
                  (choice.channels in self.channels[index], f"channels {stage.channels}"),
                  (choice.repeats in self.repeats[index], f"repeats {stage.repeats}"),
                  (stage.stride == skeleton.stride, f"stride {stage.stride} (the skeleton's: {skeleton.stride})"),
                  (stage.act == skeleton.act, f"activation {stage.act} (the skeleton's: {skeleton.act})")]
        if choice.op.startswith("mbconv"):
            checks += [(choice.se in self.lists.se, f"SE ratio {stage.se:g}"),
                       (choice.skip in self.lists.skip, f"skip {stage.skip}")]
        else:
            checks += [(stage.se == 0 and stage.skip and stage.expand == 1, "SE, skip or expansion on a plain conv")]
        return next((f"has {what}, not a choice" for ok, what in checks if not ok), None)

    # --- cost bounds -----------------------------------------------------------------------------

    def extreme(self, largest: bool) -> NetworkSpec:
        """The spec of the fewest (or most) MACs: every count monotone in channels, repeats, kernel and SE,
        so the extremes take those at their ends, and the operator of each stage is chosen on its own."""
        pick = max if largest else min
        choices = []
        for index in range(len(self.skeleton.stages)):
            choices.append(StageChoice(self.lists.operators[0], pick(self.lists.kernels), pick(self.lists.se),
                                       True, pick(self.channels[index]), pick(self.repeats[index])))
        for index in range(len(choices)):
            def macs(op: str) -> int:
                trial = list(choices)
                se = choices[index].se if op.startswith("mbconv") else 0.0
                trial[index] = replace(choices[index], op=op, se=se)
                return estimate_size(self.to_spec(tuple(trial)))[1]

            choices[index] = replace(choices[index], op=pick(self.lists.operators, key=macs))
            if not choices[index].op.startswith("mbconv"):
                choices[index] = replace(choices[index], se=0.0)
        return self.to_spec(tuple(choices), f"{self.skeleton.name}-{'largest' if largest else 'smallest'}")


def canonical(spec: NetworkSpec) -> NetworkSpec:
    """`spec` with what cannot change the built network normalised: the name, and the skip of a stage none
    of whose blocks can have a residual (repeats 1 and a change of shape)."""
    stages, channels = [], spec.stem.channels
    for stage in spec.stages:
        residual = stage.op == "mbconv" and (stage.repeats > 1 or (stage.stride == 1 and channels == stage.channels))
        stages.append(stage if residual or stage.op != "mbconv" else replace(stage, skip=False))
        channels = stage.channels
    return replace(spec, name="architecture", stages=tuple(stages))


def architecture_key(spec: NetworkSpec) -> str:
    """Equal for two specs exactly when they build the same network."""
    return canonical(spec).to_json(indent=None)


def architecture_hash(spec: NetworkSpec) -> str:
    return hashlib.sha1(architecture_key(spec).encode()).hexdigest()[:8]
