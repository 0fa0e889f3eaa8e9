"""Bad input is clean: exit code 2, one line on stderr naming the problem, no traceback, nothing written.

One parametrized test per command (`models`, `flops`, `scale`, `paper`, `train`; `grid` and
`worker` have their own). Every case must fail before any training or counting, so the whole
file runs in seconds. Inputs (spec files, factories, image folders) are prepared in their own
folder; the command runs in an empty working directory with a private cache, and both must still
be empty afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image

from scalesearch.baselines import SpecBaseline, check_model, resolve_baseline
from scalesearch.errors import UserError
from scalesearch.cli import main
from scalesearch.scaling import Multipliers
from scalesearch.spec import Head, NetworkSpec, Stage, Stem
from scalesearch.zoo import get_spec

TINY = NetworkSpec("tiny", Stem(8, 3, 2, "silu"), (Stage("mbconv", 8, 1, 3, 1, 2, 0.25),), Head(16, "silu", 0.0),
                   resolution=32)

FACTORIES = """
from torch import nn

def tiny(depth_mult, width_mult, num_classes):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, num_classes))

def raises(depth_mult, width_mult, num_classes):
    raise RuntimeError("out of\\nideas")

def seven_outputs(depth_mult, width_mult, num_classes):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 7))

def no_pooling(depth_mult, width_mult, num_classes):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8, num_classes))

def not_a_model(depth_mult, width_mult, num_classes):
    return 42
"""


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def inputs(tmp_path: Path, importable_module) -> Callable[[str], str]:
    """`inputs(name)`: the path (or module:function) of a prepared input, outside the working directory."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    module = importable_module("bad_input_factories", FACTORIES)

    def spec(edit: Callable[[dict], None], base: dict | None = None) -> str:
        data = base or TINY.to_dict()
        edit(data)
        path = folder / f"spec{len(list(folder.iterdir()))}.json"
        path.write_text(json.dumps(data))
        return str(path)

    def stage(**changes) -> Callable[[dict], None]:
        return lambda data: data["stages"][0].update(changes)

    def one_class_folder() -> str:
        root = folder / "one-class"
        (root / "cat").mkdir(parents=True)
        for index in range(4):
            Image.new("RGB", (8, 8), (200, 30, 30)).save(root / "cat" / f"{index}.png")
        return str(root)

    def huge_network(data: dict) -> None:  # each field in bounds, the whole far too large to build
        data["stages"] = [{"op": "conv", "channels": 32_768, "repeats": 64, "kernel": 3}] * 64

    made = {
        "tiny": lambda: spec(lambda data: None),
        "channels 1e9": lambda: spec(stage(channels=10**9)),
        "repeats 1e9": lambda: spec(stage(repeats=10**9)),
        "kernel 1001": lambda: spec(stage(kernel=1001)),
        "10000 stages": lambda: spec(lambda data: data.update(stages=data["stages"] * 10_000)),
        "resolution 1e6": lambda: spec(lambda data: data.update(resolution=10**6)),
        "classes 1e9": lambda: spec(lambda data: data.update(num_classes=10**9)),
        "in_channels 1e6": lambda: spec(lambda data: data.update(in_channels=10**6)),
        "head channels 1e9": lambda: spec(lambda data: data["head"].update(channels=10**9)),
        "huge network": lambda: spec(huge_network),
        "one-class folder": lambda: f"imagefolder:{one_class_folder()}",
        **{name: (lambda n=name: f"{module}:{n}") for name in ("raises", "seven_outputs", "no_pooling",
                                                                "not_a_model")},
    }
    return lambda name: made[name]()


def _check_clean(argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
    cwd, cache = tmp_path / "cwd", tmp_path / "cache"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SCALESEARCH_CACHE", str(cache))
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"scalesearch {argv[0]}: error: "), err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert list(cwd.iterdir()) == [] and not cache.exists()


def _resolve(argv: list[str], inputs: Callable[[str], str]) -> list[str]:
    """Replace the `@name` placeholders of `argv` by prepared inputs."""
    return [inputs(arg[1:]) if arg.startswith("@") else arg for arg in argv]


# --- models and paper: no numbers, only flags ----------------------------------------------

OTHER_CASES = [
    (["models", "--csv", "--json"], r"argument --json: not allowed with argument --csv"),
    (["models", "--cost", "7"], r"unrecognized arguments: 7"),
    (["paper", "--csv", "--json"], r"argument --json: not allowed with argument --csv"),
    (["paper", "--markdown", "--top", "3"], r"unrecognized arguments: --top 3"),
]


@pytest.mark.parametrize("argv, message", OTHER_CASES, ids=[" ".join(argv) for argv, _ in OTHER_CASES])
def test_models_and_paper(argv, message, tmp_path, monkeypatch, capsys) -> None:
    _check_clean(argv, message, tmp_path, monkeypatch, capsys)


# --- flops -------------------------------------------------------------------------------------

MULTIPLIER = r"must be in \(0, 16\], got "
FLOPS_CASES = [
    # zero never means "default", and every multiplier has an upper bound
    (["--w", "0"], "argument --w: " + MULTIPLIER + "0"),
    (["--d", "0"], "argument --d: " + MULTIPLIER + "0"),
    (["--r", "0"], "argument --r: " + MULTIPLIER + "0"),
    (["--w", "-1"], "argument --w: " + MULTIPLIER + "-1"),
    (["--w", "1e9"], "argument --w: " + MULTIPLIER + "1e9"),
    (["--r", "1e6"], "argument --r: " + MULTIPLIER + "1e6"),
    (["--d", "1e6"], "argument --d: " + MULTIPLIER + "1e6"),
    (["--w", "nan"], r"argument --w: expected a finite number, got 'nan'"),
    (["--d", "inf"], r"argument --d: expected a finite number, got 'inf'"),
    (["--r", "two"], r"argument --r: expected a number, got 'two'"),
    (["--phi", "nan"], r"argument --phi: expected a finite number"),
    (["--phi", "13"], r"argument --phi: must be in \[-8, 12\], got 13"),
    (["--phi", "1", "--alpha", "1e9"], r"argument --alpha: must be in \[1, 16\], got 1e9"),
    (["--phi", "12", "--alpha", "2"], r"depth multiplier must be a positive finite number <= 16, got 4096"),
    (["--phi", "1", "--w", "2"], r"give either --phi or --d/--w/--r, not both"),
    (["--resolution", "0"], r"argument --resolution: must be in \[8, 4096\], got 0"),
    (["--resolution", "100000"], r"argument --resolution: must be in \[8, 4096\], got 100000"),
    (["--resolution", "2**70"], r"argument --resolution: expected a whole number, got '2\*\*70'"),
    (["--resolution", "8"], r"resolution 8 is smaller than 16, half of efficientnet-b0's total stride"),
    (["--resolution", "4096", "--r", "2"], r"resolution 4096 scaled by r=2 is 8192 px, above the limit of 4096"),
    # within every flag's bounds, yet far too large to count: refused before building
    (["--model", "efficientnet-l2", "--w", "16"], r"efficientnet-l2 scaled by d=1, w=16, r=1 is out of bounds: "
                                                  r"head\.channels must be <= 32,768, got 88,064"),
    (["--model", "efficientnet-l2", "--w", "4", "--d", "4"], r"efficientnet-l2 scaled by d=4, w=4, r=1 is out of "
                                                            r"bounds: efficientnet-l2 is too large: about .* weights"),
    (["--model", "efficientnet-l2", "--resolution", "4096"], r"efficientnet-l2 is too large: about .* MACs"),
    # spec files
    (["--model", "@channels 1e9"], r"stages\[0\]\.channels must be <= 32,768, got 1,000,000,000"),
    (["--model", "@repeats 1e9"], r"stages\[0\]\.repeats must be <= 1,024, got 1,000,000,000"),
    (["--model", "@kernel 1001"], r"stages\[0\]\.kernel must be <= 31, got 1,001"),
    (["--model", "@10000 stages"], r"a spec may have at most 64 stages, got 10,000"),
    (["--model", "@resolution 1e6"], r"resolution must be <= 4,096, got 1,000,000"),
    (["--model", "@classes 1e9"], r"num_classes must be <= 100,000, got 1,000,000,000"),
    (["--model", "@in_channels 1e6"], r"in_channels must be <= 64, got 1,000,000"),
    (["--model", "@head channels 1e9"], r"head\.channels must be <= 32,768, got 1,000,000,000"),
    (["--model", "@huge network"], r"tiny is too large: about 3\.\d+e\+13 weights, the limit is 2e\+09"),
    # factories
    (["--model", "@raises"], r"factory \S+:raises failed for d=1, w=1, 1000 classes: RuntimeError: out of ideas$"),
    (["--model", "@not_a_model"], r"factory \S+:not_a_model returned int, not a torch\.nn\.Module"),
    (["--model", "@no_pooling", "--resolution", "8"], r"counting the model of factory \S+:no_pooling on a 8x8 "
                                                      r"image failed: RuntimeError: "),
]


def _flops_argv(extra: list[str]) -> list[str]:
    if extra[:1] == ["--model"]:
        return ["flops", extra[1], *extra[2:]]
    return ["flops", "efficientnet-b0", *extra]


@pytest.mark.parametrize("extra, message", FLOPS_CASES, ids=[" ".join(extra) for extra, _ in FLOPS_CASES])
def test_flops(extra, message, inputs, tmp_path, monkeypatch, capsys) -> None:
    _check_clean(_resolve(_flops_argv(extra), inputs), message, tmp_path, monkeypatch, capsys)


# --- scale -------------------------------------------------------------------------------------

SCALE_CASES = [
    (["--phi", "0..1000000000"], r"phi must be in \[-8, 12\], got 1000000000\.0"),
    (["--phi=-1000000000..0"], r"phi must be in \[-8, 12\], got -1000000000\.0"),
    (["--phi", "0.." + "9" * 400], r"phi must be in \[-8, 12\]|phi must be a number"),
    (["--phi", ",".join(["1"] * 101)], r"phi takes at most 100 values, got 101"),
    (["--phi", "nan"], r"phi must be in \[-8, 12\], got nan"),
    (["--phi", "1e400"], r"phi must be in \[-8, 12\], got inf"),
    (["--phi", "3..1"], r"phi must be a number, a list 0,0\.5,1 or an integer range 0\.\.7, got '3\.\.1'"),
    (["--phi", "0..12", "--alpha", "2"], r"depth multiplier must be a positive finite number <= 16"),
    (["--alpha", "1e9"], r"argument --alpha: must be in \[1, 16\], got 1e9"),
    (["--beta", "0"], r"argument --beta: must be in \[1, 16\], got 0"),
    (["--gamma", "inf"], r"argument --gamma: expected a finite number, got 'inf'"),
    (["--resolution", "0"], r"argument --resolution: must be in \[8, 4096\], got 0"),
    (["--model", "@repeats 1e9"], r"stages\[0\]\.repeats must be <= 1,024"),
    (["--model", "@raises", "--phi", "0"], r"factory \S+:raises failed"),
]


@pytest.mark.parametrize("extra, message", SCALE_CASES, ids=[" ".join(extra)[:60] for extra, _ in SCALE_CASES])
def test_scale(extra, message, inputs, tmp_path, monkeypatch, capsys) -> None:
    argv = ["scale", extra[1], *extra[2:]] if extra[:1] == ["--model"] else ["scale", "efficientnet-b0", *extra]
    _check_clean(_resolve(argv, inputs), message, tmp_path, monkeypatch, capsys)


# --- train -------------------------------------------------------------------------------------

def _cuda_case() -> list:
    if torch.cuda.is_available():
        return []
    return [(["--device", "cuda"], r"device 'cuda' requested but CUDA is not available")]


TRAIN_CASES = [
    (["--epochs", "nan"], r"argument --epochs: expected a finite number, got 'nan'"),
    (["--epochs", "inf"], r"argument --epochs: expected a finite number, got 'inf'"),
    (["--epochs", "0"], r"argument --epochs: must be in \(0, 1000\], got 0"),
    (["--epochs", "-1"], r"argument --epochs: must be in \(0, 1000\], got -1"),
    (["--epochs", "1e12"], r"argument --epochs: must be in \(0, 1000\], got 1e12"),
    (["--images", "0"], r"argument --images: must be in \[1, 1000000000\], got 0"),
    (["--images", str(10**12)], r"argument --images: must be in \[1, 1000000000\]"),
    (["--seed", "2**70"], r"argument --seed: expected a whole number, got '2\*\*70'"),
    (["--seed", str(2**70)], r"argument --seed: must be in \[0, 4294967295\], got 1180591620717411303424"),
    (["--seed", "-1"], r"argument --seed: must be in \[0, 4294967295\], got -1"),
    (["--seed", "1.5"], r"argument --seed: expected a whole number, got '1\.5'"),
    (["--batch-size", "0"], r"argument --batch-size: must be in \[1, 65536\], got 0"),
    (["--batch-size", "5000"], r"batch size 5000 is larger than the 1000 training images"),
    (["--lr", "-1"], r"argument --lr: must be in \(0, 10\], got -1"),
    (["--lr", "0"], r"argument --lr: must be in \(0, 10\], got 0"),
    (["--lr", "nan"], r"argument --lr: expected a finite number"),
    (["--lr", "1e9"], r"argument --lr: must be in \(0, 10\], got 1e9"),
    (["--weight-decay", "-1"], r"argument --weight-decay: must be in \[0, 1\], got -1"),
    (["--label-smoothing", "1"], r"argument --label-smoothing: must be in \[0, 1\), got 1"),
    (["--label-smoothing", "2"], r"argument --label-smoothing: must be in \[0, 1\), got 2"),
    (["--label-smoothing", "-0.1"], r"argument --label-smoothing: must be in \[0, 1\), got -0\.1"),
    (["--optimizer", "adam"], r"argument --optimizer: invalid choice: 'adam'"),
    (["--device", "tpu:3"], r"unknown device 'tpu:3'; use auto, cpu or cuda\[:N\]"),
    *_cuda_case(),
    (["--w", "0"], "argument --w: " + MULTIPLIER + "0"),
    (["--w", "1e9"], "argument --w: " + MULTIPLIER + "1e9"),
    (["--d", "1e6"], "argument --d: " + MULTIPLIER + "1e6"),
    (["--r", "1e6"], "argument --r: " + MULTIPLIER + "1e6"),
    (["--phi", "1", "--d", "2"], r"give either --phi or --d/--w/--r, not both"),
    (["--proxy-resolution", "0"], r"argument --proxy-resolution: must be in \[1, 4096\], got 0"),
    (["--proxy-resolution", "100000"], r"argument --proxy-resolution: must be in \[1, 4096\], got 100000"),
    (["--proxy-resolution", "4096", "--r", "2"], r"resolution 4096 scaled by r=2 is 8192 px, above the limit"),
    (["--train-images", "0"], r"argument --train-images: must be in \[1, 100000000\], got 0"),
    (["--test-images", str(10**12)], r"argument --test-images: must be in \[1, 100000000\]"),
    (["--train-images", "20000"], r"subset of 20000 synthetic training images is larger than the 1000 available"),
    (["--train-images", "1", "--batch-size", "1"], r"the 1 training image\(s\) of synthetic cover 1 class; a "
                                                   r"classifier needs at least 2"),
    (["--data", "@one-class folder"], r"imagefolder .*one-class has 1 class; a classifier needs at least 2"),
    (["--data", "nosuchdata"], r"unknown dataset 'nosuchdata'"),
    (["--image-size", "0"], r"argument --image-size: must be in \[8, 1024\], got 0"),
    (["--model", "@raises"], r"factory \S+:raises failed for d=1, w=1, 10 classes: RuntimeError: out of ideas$"),
    (["--model", "@seven_outputs"], r"the model of factory \S+:seven_outputs gave shape \(2, 7\) for 2 images of "
                                    r"16x16 px; expected \(2, 10\)"),
    (["--model", "@no_pooling"], r"the model of factory \S+:no_pooling failed on 2 images of 16x16 px: "
                                 r"RuntimeError: "),
    (["--model", "@not_a_model"], r"factory \S+:not_a_model returned int"),
    (["--model", "@channels 1e9"], r"stages\[0\]\.channels must be <= 32,768"),
]


@pytest.mark.parametrize("extra, message", TRAIN_CASES, ids=[" ".join(extra)[:60] for extra, _ in TRAIN_CASES])
def test_train(extra, message, inputs, tmp_path, monkeypatch, capsys) -> None:
    model = "@tiny"
    if extra[:1] == ["--model"]:
        model, extra = extra[1], extra[2:]
    argv = ["train", model, "--data", "synthetic", "--train-images", "1000", "--test-images", "100",
            "--batch-size", "50", "--proxy-resolution", "16", "--epochs", "1", "--quiet", *extra]
    _check_clean(_resolve(argv, inputs), message, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("edit", [
    lambda data: data.update(resolution=4096),
    lambda data: data.update(num_classes=100_000, in_channels=64),
    lambda data: (data["stem"].update(channels=32_768), data["stages"][0].update(expand=1.0)),
    lambda data: data["head"].update(channels=32_768),
    lambda data: data["stages"][0].update(kernel=31, repeats=1024),
    lambda data: data.update(stages=data["stages"] * 64),
], ids=["resolution", "classes and in_channels", "stem channels", "head channels", "kernel and repeats",
        "stages"])
def test_a_spec_at_a_limit_is_accepted(edit) -> None:
    """The limits refuse what is absurd, not what is large."""
    data = TINY.to_dict()
    edit(data)
    NetworkSpec.from_dict(data)


def test_the_largest_zoo_model_validates_and_scales() -> None:
    spec = get_spec("efficientnet-l2")
    assert NetworkSpec.from_json(spec.to_json()) == spec
    assert SpecBaseline(spec).scaled(Multipliers(2.0, 1.5, 1.0)).num_blocks > spec.num_blocks


def test_check_model_builds_and_checks_the_output_shape(importable_module) -> None:
    module = importable_module("check_model_factories", FACTORIES)
    check_model(SpecBaseline(TINY), Multipliers(2.0, 2.0), 10, 16)
    check_model(resolve_baseline(f"{module}:tiny"), Multipliers(), 3, 8)
    with pytest.raises(UserError, match=r"^the model of factory \S+:seven_outputs gave shape \(2, 7\) for 2 "
                                        r"images of 8x8 px; expected \(2, 3\): one logit per class$"):
        check_model(resolve_baseline(f"{module}:seven_outputs"), Multipliers(), 3, 8)
    with pytest.raises(UserError, match=r"^factory \S+:raises failed for d=1, w=1, 3 classes: RuntimeError: "
                                        r"out of ideas$"):
        check_model(resolve_baseline(f"{module}:raises"), Multipliers(), 3, 8)
    with pytest.raises(UserError, match=r"^resolution 0 is smaller than 1, half of tiny's total stride"):
        SpecBaseline(TINY).resolution_for(Multipliers(), 0)
