"""`scalesearch run FILE.toml`: experiment files give the settings of the command line they stand for,
and bad files are refused in one line. Nothing trains."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import pytest

from scalesearch.cli import build_parser, calibrate_command, grid_command, main
from scalesearch.cli.numbers import bounded_int
from scalesearch.errors import UserError
from scalesearch.experiment_file import command_parsers, parse_experiment, read_steps
from search_processes import TINY_SPEC

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
CONFIG_BUILDERS = {"grid": grid_command.grid_config_from_args}  # calibrate's: on a tiny spec below (MACs matching)
# the command lines of the shell scripts that the experiment files replaced
CONVERTED = {
    "grid_b0_demo.toml": "scalesearch grid --phi 1",
    "grid_b0_full.toml": "scalesearch grid --phi 1 --study grid-b0-full --alpha-range 1,2 --beta-range 1,1.5 "
                         "--gamma-range 1,1.5 --step 0.05 --tol 0.1 --data fashion-mnist --train-images 60000 "
                         "--test-images 10000 --epochs 10 --seeds 3 --prune sha",
    "calibrate_b0_demo.toml": "scalesearch calibrate --baseline efficientnet-b0 --single width --ladder 1,2,4 "
                              "--seeds 2 --study calibrate-b0-demo",
    "paper_tables.toml": "scalesearch paper --markdown",
    "efficientnet_family.toml": "scalesearch scale efficientnet-b0 --alpha 1.2 --beta 1.1 --gamma 1.15 --phi 0..7",
}


def _from_file(path: Path):  # noqa: ANN202 - (Experiment, Namespace)
    parsers = command_parsers(build_parser())
    experiment = read_steps(path, parsers)[0]
    return experiment, parse_experiment(experiment, parsers[experiment.command])


def _from_command_line(argv: list[str]):  # noqa: ANN202 - Namespace
    return build_parser().parse_args(argv)


def _settings(args) -> dict:  # noqa: ANN001
    return {key: value for key, value in vars(args).items() if key != "command_parser"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.toml"
    path.write_text(text)
    return path


def _refused(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line of `scalesearch run path`, after checking the exit code and that nothing else printed."""
    assert main(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("scalesearch run: error: ")
    return err


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda path: path.name)
def test_every_experiment_file_gives_the_settings_of_its_command_line(path: Path) -> None:
    experiment, args = _from_file(path)
    cli_args = _from_command_line(shlex.split(experiment.command_line())[1:])
    assert _settings(args) == _settings(cli_args)
    build = CONFIG_BUILDERS.get(experiment.command)
    if build is not None:
        assert build(args).identity() == build(cli_args).identity()


@pytest.mark.parametrize(("name", "command_line"), CONVERTED.items(), ids=list(CONVERTED))
def test_print_gives_the_command_line_of_the_converted_script(name: str, command_line: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXPERIMENTS / name), "--print"]) == 0
    assert capsys.readouterr() == (command_line + "\n", "")


def test_calibrate_file_and_command_line_give_the_same_study(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY_SPEC))
    path = _write(tmp_path, f'command = "calibrate"\nbaseline = "{spec}"\nphis = [-1, 0, 1]\nsingle = ["width"]\n'
                            f'ladder = [1, 2.5]\nseeds = 3\nproxy-resolution = 16\n')
    experiment, args = _from_file(path)
    cli_args = _from_command_line(["calibrate", "--baseline", str(spec), "--phis", "-1,0,1", "--single", "width",
                                   "--ladder", "1,2.5", "--seeds", "3", "--proxy-resolution", "16"])
    assert experiment.argv[2:4] == ("--phis=-1,0,1", "--single")
    build = calibrate_command.calibrate_config_from_args
    assert build(args).identity() == build(cli_args).identity()


def test_flags_and_lists_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'command = "grid"\nalpha_range = [1.0, 1.25]\nhard = true\nquiet = false\n'
                            'augment = false\ntarget_macs = 4e8\n')
    experiment, args = _from_file(path)
    assert (args.alpha_range, args.hard, args.quiet, args.augment, args.target_macs) == ((1.0, 1.25), True, False,
                                                                                        False, 4e8)
    assert main(["run", str(path), "--print"]) == 0
    printed = capsys.readouterr().out
    assert printed == "scalesearch grid --alpha-range 1,1.25 --hard --no-augment --target-macs 400000000\n"
    assert _settings(_from_command_line(shlex.split(printed)[1:])) == _settings(args)


def test_positional_arguments_by_name_and_quoting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'command = "flops"\nphi = 0.5\nmodel = "my spec.json"\n')
    assert main(["run", str(path), "--print"]) == 0
    assert capsys.readouterr().out == "scalesearch flops 'my spec.json' --phi 0.5\n"


def test_several_values_for_arguments_that_take_several(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="scalesearch time")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--runs", type=bounded_int(1, 9), nargs="*")
    parsers = {"time": parser}
    both = read_steps(_write(tmp_path, 'command = "time"\nruns = [1, 2]\nmodels = ["a", "b c"]\n'), parsers)[0]
    assert both.command_line() == "scalesearch time a 'b c' --runs 1 2"
    assert parse_experiment(both, parser).runs == [1, 2]
    one = read_steps(_write(tmp_path, 'command = "time"\nmodels = "a"\n'), parsers)[0]
    assert one.argv == ("a",)
    with pytest.raises(UserError, match="each value of 'runs' must be an integer, not a string"):
        read_steps(_write(tmp_path, 'command = "time"\nmodels = "a"\nruns = [1, "2"]\n'), parsers)[0]


def test_run_prints_the_command_line_then_runs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--csv"]) == 0
    expected = capsys.readouterr().out
    assert main(["run", str(_write(tmp_path, 'command = "models"\ncsv = true\n'))]) == 0
    assert capsys.readouterr() == (expected, "scalesearch models --csv\n")


def test_unknown_key_names_it_the_file_and_the_closest_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'command = "grid"\nalpha_rnge = [1, 2]\n')
    err = _refused(path, capsys)
    assert str(path) in err and "unknown key 'alpha_rnge'" in err and "did you mean 'alpha_range'?" in err


@pytest.mark.parametrize(("setting", "message"), [
    ('phi = "one"', "'phi' must be a number, not a string"),
    ("phi = [1]", "'phi' must be a number, not an array"),
    ("seeds = 3.0", "'seeds' must be an integer, not a float"),
    ("hard = 1", "'hard' must be a boolean, not an integer"),
    ('prune = ["sha"]', "'prune' must be a string, not an array"),
    ("alpha_range = [1, true]", "each value of 'alpha_range' must be a string or a number, not a boolean"),
    ("[data]\nname = 'mnist'", "'data' must be a string or a number, not a table"),
])
def test_wrong_type_names_the_key_and_both_types(tmp_path: Path, setting: str, message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert message in _refused(_write(tmp_path, f'command = "grid"\n{setting}\n'), capsys)


@pytest.mark.parametrize(("setting", "message"), [
    ("phi = 100", "argument --phi: must be in (0, "),
    ("seed = -1", "argument --seed: must be in [0, "),
    ("alpha_range = [1, 2, 3]", "argument --alpha-range: expected LOW,HIGH, got '1,2,3'"),
    ('prune = "often"', "argument --prune: invalid choice: 'often'"),
])
def test_out_of_bounds_is_the_commands_own_error_naming_the_file(tmp_path: Path, setting: str, message: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, f'command = "grid"\n{setting}\n')
    assert f"{path}: {message}" in _refused(path, capsys)


@pytest.mark.parametrize(("text", "message"), [
    ('command = "grid"\nphi = \n', "not valid TOML: Invalid value (at line 2, column 7)"),
    ('command = "grid"\ncommand = "grid"\n', "not valid TOML"),
    ("phi = 1\n", "no 'command' key"),
    ('command = "gird"\n', "unknown command 'gird' (did you mean 'grid'?)"),
    ('command = "run"\n', "unknown command 'run'"),
    ('command = "worker"\n', "unknown command 'worker'"),
    ('command = "scale"\n', "the following arguments are required: MODEL"),
    ('command = "grid"\nalpha_range = [1, 2]\nalpha-range = [1, 2]\n', "'alpha_range' and 'alpha-range' are the same"),
])
def test_bad_file_is_one_line(tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, text)
    err = _refused(path, capsys)
    assert str(path) in err and message in err


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "cannot read" in _refused(tmp_path / "missing.toml", capsys)
