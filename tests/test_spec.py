"""NetworkSpec: JSON round-trip, hashing and immutability, validation messages, total stride."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scalesearch.spec import NetworkSpec, SpecError, Stage
from scalesearch.zoo import MODEL_NAMES, ZOO, get_spec


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_json_round_trip_gives_an_equal_spec(name: str, tmp_path: Path) -> None:
    spec = get_spec(name)
    assert NetworkSpec.from_json(spec.to_json()) == spec
    assert NetworkSpec.from_json(spec.to_json(indent=None)) == spec
    path = tmp_path / f"{name}.json"
    spec.save(path)
    assert NetworkSpec.load(path) == spec


def test_specs_are_hashable_values() -> None:
    specs = list(ZOO.values())
    assert len(set(specs)) == len(specs)
    copy = NetworkSpec.from_json(get_spec("resnet-50").to_json())
    assert copy is not get_spec("resnet-50")
    assert hash(copy) == hash(get_spec("resnet-50"))
    assert {copy: 1}[get_spec("resnet-50")] == 1


def test_specs_are_immutable() -> None:
    spec = get_spec("efficientnet-b0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.resolution = 300  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.stages[0].channels = 64  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.stem.channels = 64  # type: ignore[misc]
    assert isinstance(spec.stages, tuple)
    assert spec.resolution == 224 and spec.stages[0].channels == 16 and spec.stem.channels == 32


def _b0() -> dict[str, Any]:
    return get_spec("efficientnet-b0").to_dict()


def _without(*path: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]
    return edit


def _setting(value: Any, *path: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value
    return edit


INVALID = {
    "stage without channels": (_without("stages", 0, "channels"), r"^stages\[0\] is missing key\(s\): channels$"),
    "spec without stem": (_without("stem"), r"^spec is missing key\(s\): stem$"),
    "spec without stages": (_without("stages"), r"^spec is missing key\(s\): stages$"),
    "spec without name": (_without("name"), r"^spec is missing key\(s\): name$"),
    "stem without channels": (_without("stem", "channels"), r"^stem is missing key\(s\): channels$"),
    "unknown stage key": (_setting(16, "stages", 2, "chanels"), r"^stages\[2\] has unknown key\(s\): chanels$"),
    "unknown spec key": (_setting(1, "width"), r"^spec has unknown key\(s\): width$"),
    "unknown head key": (_setting(0.1, "head", "drop"), r"^head has unknown key\(s\): drop$"),
    "string channels": (_setting("16", "stages", 0, "channels"), r"stages\[0\]\.channels must be an integer, got '16'"),
    "bool as int": (_setting(True, "stem", "channels"), r"stem\.channels must be an integer, got True"),
    "float repeats": (_setting(2.0, "stages", 1, "repeats"), r"stages\[1\]\.repeats must be an integer, got 2\.0"),
    "zero channels": (_setting(0, "stages", 3, "channels"), r"stages\[3\]\.channels must be >= 1, got 0"),
    "negative channels": (_setting(-8, "stem", "channels"), r"stem\.channels must be >= 1, got -8"),
    "negative head channels": (_setting(-1, "head", "channels"), r"head\.channels must be >= 0, got -1"),
    "stage stride 3": (_setting(3, "stages", 1, "stride"), r"stages\[1\]\.stride must be 1 or 2, got 3"),
    "stem stride 3": (_setting(3, "stem", "stride"), r"stem\.stride must be 1 or 2, got 3"),
    "even kernel": (_setting(4, "stages", 2, "kernel"), r"stages\[2\]\.kernel must be odd, got 4"),
    "unknown op": (_setting("attention", "stages", 0, "op"), r"stages\[0\]\.op must be one of .*got 'attention'"),
    "unknown act": (_setting("gelu", "stem", "act"), r"stem\.act must be one of relu, relu6, silu, hardswish, "
                                                       r"got 'gelu'"),
    "resolution below 8": (_setting(7, "resolution"), r"resolution must be >= 8, got 7"),
    "stages not a list": (_setting({"op": "conv"}, "stages"), r"spec key 'stages' must be a list"),
    "stage not an object": (_setting(16, "stages", 0), r"stages\[0\] must be a JSON object"),
    "dropout of 1": (_setting(1.0, "head", "dropout"), r"head\.dropout must be in \[0\.0, 1\.0\), got 1\.0"),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_specs_raise_a_spec_error_naming_the_problem(case: str) -> None:
    edit, message = INVALID[case]
    data = _b0()
    edit(data)
    with pytest.raises(SpecError, match=message):
        NetworkSpec.from_dict(data)


def test_a_stage_may_leave_out_keys_that_have_defaults() -> None:
    data = _b0()
    data["stages"][0] = {"op": "mbconv", "channels": 16}
    assert NetworkSpec.from_dict(data).stages[0] == Stage("mbconv", 16)


@pytest.mark.parametrize("text", ["{not json", "", '{"name": "x",}'])
def test_malformed_json_text_is_a_spec_error(text: str) -> None:
    with pytest.raises(SpecError, match=r"^spec is not valid JSON: "):
        NetworkSpec.from_json(text)


def test_json_that_is_not_an_object_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"^spec must be a JSON object$"):
        NetworkSpec.from_json("[1, 2]")


def test_a_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"cannot read spec .*absent\.json"):
        NetworkSpec.load(tmp_path / "absent.json")


@pytest.mark.parametrize("name", ["efficientnet-b0", "resnet-50", "mobilenet-v2"])
def test_total_stride_is_32(name: str) -> None:
    assert get_spec(name).total_stride == 32


def test_total_stride_counts_stem_pool_and_stage_strides() -> None:
    spec = get_spec("resnet-50")
    assert dataclasses.replace(spec, stem=dataclasses.replace(spec.stem, pool=False)).total_stride == 16
    assert dataclasses.replace(spec, stages=spec.stages[:2]).total_stride == 8
