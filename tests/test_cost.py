"""Cost counting: exact MACs of EfficientNet-B0, activations, caching, and the paper's Tables 2 and 3."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scalesearch import paper
from scalesearch.cost import count_cost, spec_cost
from scalesearch.nn import build
from scalesearch.spec import Head, NetworkSpec, Stage, Stem
from scalesearch.zoo import get_spec

# One stage of every operator, with squeeze-and-excitation, projections and a head conv.
SMALL = NetworkSpec(
    name="small",
    stem=Stem(8, 3, 2, "relu", pool=True),
    stages=(
        Stage("conv", 8, 1, 3, 1, act="relu"),
        Stage("dsconv", 16, 1, 3, 2, act="relu6"),
        Stage("mbconv", 16, 2, 5, 1, expand=4, se=0.25),
        Stage("basic", 24, 2, 3, 2, act="relu"),
        Stage("bottleneck", 32, 2, 3, 1, expand=0.25, act="hardswish"),
    ),
    head=Head(40, "silu", 0.1),
    resolution=32,
    num_classes=7,
)


def test_efficientnet_b0_macs_are_exact() -> None:
    cost = spec_cost(get_spec("efficientnet-b0"))
    assert cost.macs == 385_825_092
    assert cost.params == 5_288_548


def test_elementwise_ops_add_to_the_count() -> None:
    spec = get_spec("efficientnet-b0")
    assert spec_cost(spec, 64, include_elementwise=True).macs > spec_cost(spec, 64).macs


def test_macs_of_a_single_conv_and_linear() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
    conv = 3 * 9 * 4 * 16 * 16 + 4 * 16 * 16  # multiply-adds plus one bias add per output element
    assert count_cost(model, 16).macs == conv + 4 * 5 + 5
    assert count_cost(model, 16).params == 3 * 9 * 4 + 4 + 4 * 5 + 5


def _conv_output_elements(model: nn.Module, resolution: int) -> int:
    sizes: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel()))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, resolution, resolution))
    for hook in hooks:
        hook.remove()
    return sum(sizes)


def test_activations_are_the_conv_output_elements() -> None:
    model = build(SMALL)
    expected = _conv_output_elements(model, SMALL.resolution)
    assert expected > 0
    assert count_cost(model, SMALL.resolution).activations == expected
    assert spec_cost(SMALL).activations == expected


def test_counting_leaves_the_training_mode_alone() -> None:
    model = build(SMALL).train()
    count_cost(model, 32)
    assert model.training


def test_spec_cost_is_cached() -> None:
    spec = SMALL.with_classes(3)
    hits = spec_cost.cache_info().hits
    first = spec_cost(spec, 40)
    assert spec_cost.cache_info().hits == hits
    assert spec_cost(spec, 40) is first
    assert spec_cost(NetworkSpec.from_json(spec.to_json()), 40) is first  # equal specs share the entry
    assert spec_cost.cache_info().hits == hits + 2
    assert spec_cost(spec, 48) != first


def test_table2_is_within_8_percent_of_the_paper() -> None:
    table = paper.table2()
    assert list(table["model"]) == [f"efficientnet-b{i}" for i in range(8)]
    for row in table.to_dict("records"):
        params_m, flops_b = float(row["params (paper)"].rstrip("M")), float(row["FLOPS (paper)"].rstrip("B"))
        assert row["params"] / 1e6 == pytest.approx(params_m, rel=0.08), row["model"]
        assert row["MACs"] / 1e9 == pytest.approx(flops_b, rel=0.08), row["model"]
        assert row["resolution"] == get_spec(row["model"]).resolution


def test_table3_is_within_10_percent_unless_a_note_says_why() -> None:
    table = paper.table3()
    assert len(table) == len(paper.TABLE3)
    for row in table.to_dict("records"):
        flops_b = float(row["FLOPS (paper)"].rstrip("B"))
        diff = row["MACs"] / 1e9 / flops_b - 1
        assert row["diff %"] == pytest.approx(100 * diff, abs=0.05)
        if abs(diff) > 0.10:
            assert row["why it differs"], f"{row['model']} {row['scaling']} differs by {diff:.1%} without a note"
        if not row["why it differs"]:
            assert abs(diff) <= 0.10, f"{row['model']} {row['scaling']}"
    depth = table[(table["model"] == "resnet-50") & (table["scaling"] == "depth d=4")]
    assert len(depth) == 1 and depth["why it differs"].iloc[0].strip()
