"""The benchmark scripts refuse an out-of-range number in argparse's one line, before anything runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120  # one process imports torch once and parses every case: seconds, not minutes

# (script, flag, a value outside the flag's bounds): one flag a script
CASES = [
    ("latency", "--runs", "0"),
    ("nas_vs_random", "--trials", "0"),
    ("optimizer_choice", "--resolution", "7"),
    ("recipe_choice", "--test-images", "2001"),
    ("weight_averaging", "--threads", "0"),
    ("workers", "--workers", "1000000"),
    ("evaluation_cost", "--threads", "257"),
    ("train_throughput", "--threads", "0"),
    ("budget_choice", "--seeds", "1"),
    ("cpu_convolutions", "--repeats", "0"),
]

# Runs each case's script as __main__ in one process (torch is imported once) and prints, per case,
# the exit code (or the exception it raised), what went to stdout and stderr. A script that took the
# value and started its work would run past TIMEOUT_S.
DRIVER = """
import contextlib, io, json, runpy, sys
results = []
for script, arguments in json.loads(sys.argv[1]):
    sys.argv = [script, *arguments]
    out, err = io.StringIO(), io.StringIO()
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exit:
            code = exit.code
        except Exception as error:  # the script took the value and failed on it: that case fails
            code = repr(error)
    results.append((code, out.getvalue(), err.getvalue()))
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def outcomes() -> dict[str, tuple[int | str | None, str, str]]:
    """(exit code, stdout, stderr) of each case, by script name; a driver still running after TIMEOUT_S
    (some script took its value and started work) is killed with its children, and fails every case."""
    cases = [(str(ROOT / "benchmarks" / f"{script}.py"), [flag, value]) for script, flag, value in CASES]
    process = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(cases)], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"a benchmark script ran for {TIMEOUT_S} s instead of refusing its value")
    assert process.returncode == 0, err
    return {script: tuple(result) for (script, _, _), result in zip(CASES, json.loads(out))}


@pytest.mark.parametrize(("script", "flag", "value"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_out_of_range_number_is_refused_in_one_line(
        outcomes: dict[str, tuple[int | str | None, str, str]], script: str, flag: str, value: str) -> None:
    code, out, err = outcomes[script]
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    error = err.strip().splitlines()[-1]
    assert f"error: argument {flag}: must be in " in error and error.endswith(f"got {value}"), err
