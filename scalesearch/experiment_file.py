"""Experiment files: a TOML file naming one `scalesearch` sub-command and its options.

    command = "grid"
    phi = 1
    alpha_range = [1, 2]
    hard = true

Every key but `command` is an option of that command, spelled like its long option without the
dashes (`alpha_range` or `alpha-range`), or a positional argument by its name (`model`). The file
becomes an argument list for the command's own parser, so a file and the command line it stands for
give the same settings by construction.

A chain of commands is an array of `[[step]]` tables, each one command as above, run in order. A
step of a command with --alpha, --beta and --gamma may take them from a grid run before it with
`coefficients_from = "runs/STUDY"` (the best network of that grid's results.csv).
"""

from __future__ import annotations

import argparse
import copy
import difflib
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from scalesearch.chain import best_coefficients
from scalesearch.errors import UserError

NOT_RUNNABLE = ("run", "worker")  # `run` would recurse; a worker joins a study that a command created
_TOML_TYPES = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
               (list, "an array"), (dict, "a table"))
_SCALARS = ("a string", "an integer", "a float")
COEFFICIENTS_KEY = "coefficients_from"
_COEFFICIENT_OPTIONS = ("--alpha", "--beta", "--gamma")


@dataclass(frozen=True)
class Experiment:
    """An experiment file read: the sub-command it names and the argument list it stands for."""

    path: Path
    command: str
    argv: tuple[str, ...]
    coefficients_from: str | None = None

    def command_line(self) -> str:
        """The equivalent command line, shell-quoted (coefficients still to be read named in a comment)."""
        line = shlex.join(["scalesearch", self.command, *self.argv])
        return line if self.coefficients_from is None else f"{line}  # α, β, γ: the best of {self.coefficients_from}"

    def resolved(self, say: Callable[[str], None] = lambda line: None) -> Experiment:
        """The step with --alpha, --beta and --gamma read from its `coefficients_from` grid (when it has one);
        `say` hears which they are and how many networks the grid could not tell from the best."""
        if self.coefficients_from is None:
            return self
        best = best_coefficients(self.coefficients_from)
        say(best.line())
        words = [word for option, value in zip(_COEFFICIENT_OPTIONS, best.values) for word in (option, f"{value:g}")]
        return Experiment(self.path, self.command, (*self.argv, *words))


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of the `scalesearch` parser that an experiment file may name."""
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return {name: sub for name, sub in commands.choices.items() if name not in NOT_RUNNABLE}


def read_steps(path: Path, parsers: Mapping[str, argparse.ArgumentParser]) -> tuple[Experiment, ...]:
    """The commands of `path`, in order: its `[[step]]` tables, or the one command of a plain file (where
    `step` is an option, grid's --step)."""
    table = _load(path)
    if "command" in table or "step" not in table:
        return (_experiment(path, parsers, table),)
    steps = table.pop("step")
    if table or not isinstance(steps, list) or not steps or not all(isinstance(step, dict) for step in steps):
        raise UserError(f"{path}: a file with [[step]] tables has nothing else (found "
                        f"{', '.join(table) or 'step as ' + _type_name(steps)})")
    return tuple(_step(path, parsers, dict(step), number) for number, step in enumerate(steps, 1))


def _step(path: Path, parsers: Mapping[str, argparse.ArgumentParser], table: dict[str, Any],
          number: int) -> Experiment:
    source = table.pop(COEFFICIENTS_KEY, None)
    try:
        experiment = _experiment(path, parsers, table)
    except UserError as exc:
        raise UserError(str(exc).replace(f"{path}: ", f"{path}, step {number}: ", 1)) from None
    if source is None:
        return experiment
    options = {option for action in parsers[experiment.command]._actions for option in action.option_strings}
    if not isinstance(source, str) or not set(_COEFFICIENT_OPTIONS) <= options:
        raise UserError(f"{path}, step {number}: {COEFFICIENTS_KEY!r} must be a grid's run folder (a string), for a "
                        f"command with --alpha, --beta and --gamma")
    return replace(experiment, coefficients_from=source)


def _experiment(path: Path, parsers: Mapping[str, argparse.ArgumentParser], table: dict[str, Any]) -> Experiment:
    """The command `table` (read from `path`) names, as an argument list."""
    if "command" not in table:
        raise UserError(f"{path}: no 'command' key: name the sub-command to run, one of {', '.join(parsers)}")
    command = table.pop("command")
    if command not in parsers:
        raise UserError(f"{path}: unknown command {command!r}{_closest(str(command), parsers)}; one of "
                        f"{', '.join(parsers)}")
    return Experiment(path, command, tuple(_arguments(parsers[command], command, table, path)))


def parse_experiment(experiment: Experiment, parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The experiment's arguments parsed by its command's `parser`; a usage error is a UserError naming the file."""

    def refuse(message: str) -> NoReturn:
        raise UserError(f"{experiment.path}: {message}")

    checked = copy.copy(parser)
    checked.error = refuse  # type: ignore[method-assign]
    return checked.parse_args(experiment.argv, argparse.Namespace(command=experiment.command))


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None


def _closest(name: str, names: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _keys(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.Action, str | None]]:
    """Each key a file may use, with its action and option string (None for a positional)."""
    keys: dict[str, tuple[argparse.Action, str | None]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            keys[action.dest] = (action, None)
        for option in action.option_strings:
            if option.startswith("--"):
                keys[option[2:].replace("-", "_")] = (action, option)
    return keys


def _arguments(parser: argparse.ArgumentParser, command: str, table: dict[str, Any], path: Path) -> list[str]:
    """The argument list: positionals first, in the parser's order, then the options in the file's order."""
    keys = _keys(parser)
    given: dict[str, tuple[str, Any]] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in keys:
            raise UserError(f"{path}: unknown key {key!r} for {command}{_closest(name, keys)}")
        if name in given:
            raise UserError(f"{path}: {given[name][0]!r} and {key!r} are the same option; give it once")
        given[name] = (key, value)
    positionals = [name for name, (_, option) in keys.items() if option is None and name in given]
    argv: list[str] = []
    for name in (*positionals, *(name for name in given if name not in positionals)):
        key, value = given[name]
        action, option = keys[name]
        argv += _words(parser, action, option, key, value, path)
    return argv


def _words(parser: argparse.ArgumentParser, action: argparse.Action, option: str | None, key: str, value: Any,
           path: Path) -> list[str]:
    """The command-line words for one key."""
    if action.nargs == 0:  # a flag: true gives it, false its opposite if the command has one
        _check(isinstance(value, bool), key, "a boolean", value, path)
        flag = option if value else _opposite(parser, action)
        return [flag] if flag else []
    element, accepted = _element(action)
    several = action.nargs not in (None, "?")
    if isinstance(value, list) and (several or _parses_lists(action)):
        words = [_word(v, key, element, accepted, path) for v in value]
    else:
        expected = f"{element} or an array of them" if several or _parses_lists(action) else element
        _check(_type_name(value) in accepted, key, expected, value, path)
        words = [_format(value)]
    if several:
        return [option, *words] if option else words
    word = ",".join(words)
    if option is None:
        return [word]
    return [f"{option}={word}"] if word.startswith("-") else [option, word]


def _element(action: argparse.Action) -> tuple[str, tuple[str, ...]]:
    """What one value of `action` must be in a file: its description and the TOML types it may have."""
    value_type = getattr(action.type, "value_type", None)
    if value_type is int:
        return "an integer", ("an integer",)
    if value_type is float:
        return "a number", ("an integer", "a float")
    if action.choices is not None:
        return "a string", ("a string",)
    return "a string or a number", _SCALARS


def _parses_lists(action: argparse.Action) -> bool:
    """Whether an array may stand for the option's value, comma-joined: the option has a type of its own (a range,
    a list of numbers or names), not a plain string, a bounded number or a choice."""
    return action.type is not None and not hasattr(action.type, "value_type") and action.choices is None


def _opposite(parser: argparse.ArgumentParser, flag: argparse.Action) -> str | None:
    """The flag that stores the other value in the same place (--no-augment for --augment), if any."""
    for action in parser._actions:
        if action.dest == flag.dest and action.nargs == 0 and action.const != flag.const:
            return action.option_strings[0]
    return None


def _word(value: Any, key: str, element: str, accepted: tuple[str, ...], path: Path) -> str:
    """One value of an array, checked and formatted."""
    if _type_name(value) not in accepted:
        raise UserError(f"{path}: each value of {key!r} must be {element}, not {_type_name(value)}")
    return _format(value)


def _format(value: str | int | float) -> str:
    """A value as a command line gives it: 1.0 as '1'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check(ok: bool, key: str, expected: str, value: Any, path: Path) -> None:
    if not ok:
        raise UserError(f"{path}: {key!r} must be {expected}, not {_type_name(value)}")


def _type_name(value: Any) -> str:
    return next((name for kind, name in _TOML_TYPES if isinstance(value, kind)), "a date or time")
