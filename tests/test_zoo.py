"""The zoo against torchvision (parameters, weights, logits) and against the papers' counts."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from scalesearch.cost import spec_cost
from scalesearch.nn import DropPath, build
from scalesearch.torchvision_compat import TORCHVISION_EQUIVALENTS, load_torchvision_state_dict
from scalesearch.zoo import ZOO, get_spec


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _torchvision(name: str) -> nn.Module:
    return getattr(torchvision.models, TORCHVISION_EQUIVALENTS[name])(weights=None)


def test_torchvision_equivalents_cover_the_expected_models() -> None:
    assert TORCHVISION_EQUIVALENTS == {
        "efficientnet-b0": "efficientnet_b0", "efficientnet-b1": "efficientnet_b1",
        "efficientnet-b2": "efficientnet_b2", "efficientnet-b3": "efficientnet_b3",
        "efficientnet-b4": "efficientnet_b4", "efficientnet-b5": "efficientnet_b5",
        "efficientnet-b6": "efficientnet_b6", "efficientnet-b7": "efficientnet_b7",
        "mobilenet-v2": "mobilenet_v2", "resnet-18": "resnet18", "resnet-34": "resnet34", "resnet-50": "resnet50",
        "resnet-101": "resnet101", "resnet-152": "resnet152", "mnasnet-b1": "mnasnet1_0",
    }
    assert set(TORCHVISION_EQUIVALENTS) <= set(ZOO)


@pytest.mark.parametrize("name", TORCHVISION_EQUIVALENTS)
def test_parameter_count_equals_torchvision(name: str) -> None:
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        ours, theirs = build(get_spec(name)), _torchvision(name)
    assert _params(ours) == _params(theirs)
    assert [tuple(t.shape) for t in ours.state_dict().values()] == \
        [tuple(t.shape) for t in theirs.state_dict().values()]


@torch.no_grad()
def _randomize_batchnorm(model: nn.Module, generator: torch.Generator) -> None:
    """Random running statistics and affine parameters, so that a misplaced BatchNorm shows."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.2)
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.bias.copy_(torch.randn(shape, generator=generator) * 0.2)


@pytest.mark.parametrize("name", ["efficientnet-b0", "mobilenet-v2", "resnet-18", "resnet-50", "mnasnet-b1"])
def test_torchvision_weights_give_the_same_logits(name: str) -> None:
    generator = torch.Generator().manual_seed(0)
    theirs = _torchvision(name).eval()
    _randomize_batchnorm(theirs, generator)
    ours = build(get_spec(name)).eval()
    image = torch.randn(2, 3, 64, 64, generator=generator)
    with torch.no_grad():
        before = ours(image)
        load_torchvision_state_dict(ours, theirs.state_dict())
        expected, actual = theirs(image), ours(image)
    assert actual.shape == (2, 1000)
    assert not torch.allclose(before, expected, atol=1e-3)  # the weights did change the logits
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)


def test_loading_refuses_a_shape_mismatch_naming_both_keys() -> None:
    ours = build(get_spec("mnasnet-b1"))
    theirs = torchvision.models.mobilenet_v2(weights=None)  # same number of entries, other shapes
    assert len(ours.state_dict()) == len(theirs.state_dict())
    with pytest.raises(ValueError, match=r"torchvision features\.2\.conv\.0\.0\.weight has shape \(96, 16, 1, 1\) "
                                         r"but stages\.1\.0\.body\.0\.0\.weight has shape \(48, 16, 1, 1\)"):
        load_torchvision_state_dict(ours, theirs.state_dict())


def test_loading_refuses_a_different_entry_count() -> None:
    ours = build(get_spec("resnet-34"))
    before = ours.stem[0][0].weight.clone()
    with pytest.raises(ValueError, match=r"state_dict has 122 entries, the model has 218"):
        load_torchvision_state_dict(ours, torchvision.models.resnet18(weights=None).state_dict())
    assert torch.equal(ours.stem[0][0].weight, before)  # nothing was loaded


def test_mnasnet_a1_matches_the_paper() -> None:
    cost = spec_cost(get_spec("mnasnet-a1"))
    assert 3.85e6 <= cost.params <= 3.95e6
    assert cost.macs == pytest.approx(312e6, rel=0.02)


def test_mobilenet_v1_matches_the_paper() -> None:
    cost = spec_cost(get_spec("mobilenet-v1"))
    assert cost.params == pytest.approx(4.2e6, rel=0.01)
    assert cost.macs == pytest.approx(569e6, rel=0.005)


def test_stochastic_depth_grows_linearly_to_drop_path_at_the_last_block() -> None:
    spec = get_spec("efficientnet-b0")
    model = build(spec)
    rates = [module.rate for module in model.stages.modules() if isinstance(module, DropPath)]
    assert len(rates) == spec.num_blocks == 16
    assert rates[0] == 0.0
    assert rates[-1] == spec.drop_path == 0.2
    assert rates == pytest.approx([0.2 * i / 15 for i in range(16)], abs=1e-12)


def test_drop_path_drops_whole_samples_in_training_only() -> None:
    layer = DropPath(0.5)
    x = torch.ones(256, 3, 2, 2)
    assert torch.equal(layer.eval()(x), x)
    out = layer.train()(x)
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert torch.all(per_sample == per_sample[:, :1])  # a sample is kept or dropped as a whole


@pytest.mark.parametrize("name, rate", [("efficientnet-b0", 0.2), ("efficientnet-b7", 0.5), ("mobilenet-v2", 0.2),
                                        ("resnet-50", 0.0)])
def test_dropout_comes_right_before_the_classifier(name: str, rate: float) -> None:
    with torch.device("meta"):
        model = build(get_spec(name))
    dropout, linear = model.classifier
    assert isinstance(dropout, nn.Dropout) and dropout.p == rate
    assert isinstance(linear, nn.Linear) and linear.out_features == 1000

