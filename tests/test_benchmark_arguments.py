"""The benchmark scripts refuse an out-of-range number in argparse's one line, before anything runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 60  # each script imports torch first: seconds, not minutes

# (script, flag, a value outside the flag's bounds, whether it takes --runs-dir): one flag a script, as each
# run imports torch; --runs-dir keeps a script that wrongly ran from writing into the repository's runs/
CASES = [
    ("latency", "--runs", "0", False),
    ("nas_vs_random", "--trials", "0", True),
    ("optimizer_choice", "--resolution", "7", False),
    ("recipe_choice", "--test-images", "2001", False),
    ("weight_averaging", "--threads", "0", False),
    ("workers", "--workers", "1000000", False),
    ("evaluation_cost", "--threads", "257", False),
    ("train_throughput", "--threads", "0", False),
    ("budget_choice", "--seeds", "1", True),
    ("cpu_convolutions", "--repeats", "0", False),
]


def run_script(script: str, arguments: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of benchmarks/`script`.py run from the repository root; a script still
    running after TIMEOUT_S (it took the value and started work) is killed with its children, and fails."""
    process = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), *arguments], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{script}.py {' '.join(arguments)} ran for {TIMEOUT_S} s instead of refusing the value")
    return process.returncode, out, err


@pytest.mark.parametrize(("script", "flag", "value", "runs_dir"), CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_out_of_range_number_is_refused_in_one_line(
        script: str, flag: str, value: str, runs_dir: bool, tmp_path: Path) -> None:
    code, out, err = run_script(script, [flag, value, *(["--runs-dir", str(tmp_path)] if runs_dir else [])])
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    error = err.strip().splitlines()[-1]
    assert f"error: argument {flag}: must be in " in error and error.endswith(f"got {value}"), err
