"""The proxy trainer: learning, determinism, budgets, pruning, divergence, presets, batches, CLI options,
and the short-run recipe's mechanisms (regularisation off, BN re-estimation, zero-initialised residuals)."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import scalesearch.train
from scalesearch.baselines import SpecBaseline
from scalesearch.cli.train_options import add_training_arguments, training_config
from scalesearch.data import ImageDataset, load_dataset
from scalesearch.data.dataset import make_dataset
from scalesearch.errors import UserError
from scalesearch.nn import ConvBNAct, DropPath, ResidualBlock, zero_init_residual
from scalesearch.scaling import Multipliers
from scalesearch.train import (
    TrainConfig, TrainResult, disable_dropout, out_of_place_activations, resolve_preset_defaults, train_proxy,
)
from scalesearch.training.batches import DeviceBatches, balanced_order
from scalesearch.training.config import check_config, plan_budget
from scalesearch.training.evaluate import recalibrate_batchnorm
from scalesearch.zoo import get_spec
from scalesearch.training.optimizers import PRESETS, build_optimizer

RESOLUTION = 16
QUICK = TrainConfig(epochs=3, batch_size=32, lr=0.1, device="cpu", progress=False)


def tiny_net(num_classes: int = 10, seed: int = 0) -> nn.Module:
    """Three conv blocks, about 15k parameters."""
    torch.manual_seed(seed)

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2), *block(32, 32),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes),
    )


def residual_net(seed: int = 0) -> nn.Module:
    """A stem, a residual block with a shortcut, one without, dropout 0.3 before the classifier."""
    torch.manual_seed(seed)

    def branch() -> nn.Sequential:
        return nn.Sequential(ConvBNAct(16, 16, 3, act="relu"), ConvBNAct(16, 16, 3))

    return nn.Sequential(
        ConvBNAct(3, 16, 3, 2, act="relu"),
        ResidualBlock(branch(), None, True, 0.2),
        ResidualBlock(branch(), None, False, 0.2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(16, 10),
    )


def rates(model: nn.Module) -> list[float]:
    """Every dropout and drop-path rate of `model`, in module order."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Dropout, DropPath))]
    return [m.p if isinstance(m, nn.Dropout) else m.rate for m in layers]


class NaNNet(nn.Module):
    """Logits that are NaN from the first step."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(images.mean(dim=(2, 3))) * math.nan


@pytest.fixture(scope="module")
def data() -> ImageDataset:
    return load_dataset("fashion-mnist-mini").subset(train=1000, test=500)


@pytest.fixture(scope="module")
def small() -> ImageDataset:
    return load_dataset("fashion-mnist-mini").subset(train=256, test=128)


@pytest.fixture(scope="module")
def trained(data: ImageDataset) -> tuple[TrainResult, nn.Module]:
    model = tiny_net()
    return train_proxy(model, data, RESOLUTION, QUICK), model


def test_tiny_net_learns_well_above_chance(trained: tuple[TrainResult, nn.Module]) -> None:
    result, _ = trained
    assert result.status == "ok" and result.message == ""
    assert result.top1 >= 0.6  # chance is 0.1; measured 0.71-0.72 over seeds 0-2
    assert result.top5 is not None and result.top5 >= max(result.top1, 0.9)
    assert len(result.history) == 3 and result.history[-1] == result.top1
    assert result.epochs_completed == 3.0
    assert result.images_per_second > 0 and result.wall_seconds > 0


def test_same_seed_repeats_exactly_and_another_seed_differs(
    data: ImageDataset, trained: tuple[TrainResult, nn.Module]
) -> None:
    first, first_model = trained
    again_model = tiny_net()
    again = train_proxy(again_model, data, RESOLUTION, QUICK)
    assert again.history == first.history and again.top1 == first.top1
    assert all(torch.equal(a, b) for a, b in zip(first_model.state_dict().values(), again_model.state_dict().values()))
    other_model = tiny_net()
    other = train_proxy(other_model, data, RESOLUTION, replace(QUICK, seed=1))
    assert other.status == "ok"
    assert not torch.equal(first_model[0].weight, other_model[0].weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_with_bf16_autocast_learns(data: ImageDataset) -> None:
    model = tiny_net()
    result = train_proxy(model, data, RESOLUTION, replace(QUICK, device="cuda"))
    assert result.status == "ok" and result.top1 >= 0.6
    assert next(model.parameters()).is_cuda


def test_on_epoch_sees_each_epoch_and_true_prunes(small: ImageDataset) -> None:
    calls: list[tuple[int, float]] = []

    def report(epoch: int, top1: float) -> bool:
        calls.append((epoch, top1))
        return epoch == 1

    result = train_proxy(tiny_net(), small, RESOLUTION, QUICK, on_epoch=report)
    assert result.status == "pruned" and "epoch 1" in result.message
    assert result.epochs_completed == 2.0 < QUICK.epochs
    assert calls == list(enumerate(result.history)) and len(calls) == 2
    assert result.top1 == result.history[-1]


def test_without_evaluate_every_epoch_only_the_last_epoch_is_scored(small: ImageDataset, monkeypatch) -> None:
    scored = []
    real = scalesearch.train.evaluate
    monkeypatch.setattr(scalesearch.train, "evaluate", lambda *args: scored.append(1) or real(*args))
    calls: list[tuple[int, float]] = []
    every = train_proxy(tiny_net(), small, RESOLUTION, QUICK)
    last = train_proxy(tiny_net(), small, RESOLUTION, replace(QUICK, evaluate_every_epoch=False),
                       on_epoch=lambda epoch, top1: calls.append((epoch, top1)) or False)
    assert len(scored) == 3 + 1 and len(every.history) == 3
    assert last.history == (last.top1,) == (every.top1,) and calls == [(2, every.top1)]
    assert last.epochs_completed == every.epochs_completed == 3.0


def test_nan_loss_ends_as_diverged_without_raising(data: ImageDataset) -> None:
    result = train_proxy(NaNNet(), data, RESOLUTION, QUICK)
    assert result.status == "diverged" and "nan" in result.message
    assert result.top1 == 0.0 and result.top5 == 0.0
    # the loss is read every 10 steps: the run stops there, a third into its first epoch of 31 steps
    assert result.history == () and result.epochs_completed == 10 / 31


def test_a_non_finite_loss_ends_the_run_as_diverged(small: ImageDataset) -> None:
    model = tiny_net()
    classifier = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        classifier.weight.fill_(3e38)  # logits overflow to inf: the loss is not finite at the first step
    result = train_proxy(model, small, RESOLUTION, QUICK)
    assert result.status == "diverged" and result.top1 == 0.0 and "loss became" in result.message


def test_top5_only_with_ten_classes(small: ImageDataset) -> None:
    keep_train, keep_test = small.train_labels < 4, small.test_labels < 4
    four = make_dataset(
        "four-classes", small.train_images[keep_train], small.train_labels[keep_train],
        small.test_images[keep_test], small.test_labels[keep_test], small.classes[:4], True,
    )
    result = train_proxy(tiny_net(num_classes=4), four, RESOLUTION, TrainConfig(epochs=1, batch_size=32, progress=False))
    assert result.status == "ok" and result.top5 is None and 0.0 <= result.top1 <= 1.0


def test_fractional_epochs_end_with_a_partial_evaluated_epoch(small: ImageDataset) -> None:
    # 256 images / batch 32 = 8 steps an epoch; 1.5 epochs = 12 steps
    result = train_proxy(tiny_net(), small, RESOLUTION, TrainConfig(epochs=1.5, batch_size=32, progress=False))
    assert result.epochs_completed == 1.5 and len(result.history) == 2


def test_image_budget_overrides_epochs(small: ImageDataset) -> None:
    config = TrainConfig(epochs=5, images=64, batch_size=32, progress=False)
    result = train_proxy(tiny_net(), small, RESOLUTION, config)
    assert result.epochs_completed == 0.25 and len(result.history) == 1


def test_budget_plan() -> None:
    budget = plan_budget(TrainConfig(epochs=2.5, batch_size=100, warmup_epochs=0.5), 1050)
    assert (budget.steps_per_epoch, budget.total_steps, budget.warmup_steps) == (10, 25, 5)
    assert budget.epoch_lengths() == [10, 10, 5]
    assert plan_budget(TrainConfig(epochs=0.01, batch_size=100, warmup_epochs=3), 1000).total_steps == 1
    assert plan_budget(TrainConfig(epochs=1, batch_size=100, warmup_epochs=3), 1000).warmup_steps == 5


@pytest.mark.parametrize(
    ("resolution", "config", "complaint"),
    [
        (16, TrainConfig(batch_size=257), "larger than"),
        (16, TrainConfig(batch_size=0), "batch size"),
        (0, TrainConfig(), "resolution"),
        (16, TrainConfig(optimizer="adamw"), "unknown optimizer"),
        (16, TrainConfig(epochs=0), "epoch budget"),
        (16, TrainConfig(epochs=-1.0), "epoch budget"),
        (16, TrainConfig(epochs=math.nan), "epoch budget"),
        (16, TrainConfig(images=0), "image budget"),
        (16, TrainConfig(lr=-0.1), "learning rate"),
        (16, TrainConfig(weight_decay=-1e-4), "weight decay"),
        (16, TrainConfig(label_smoothing=1.0), "label smoothing"),
        (16, TrainConfig(device="gpu"), "device"),
    ],
)
def test_bad_input_raises_user_error(small: ImageDataset, resolution: int, config: TrainConfig, complaint: str) -> None:
    with pytest.raises(UserError, match=complaint):
        train_proxy(tiny_net(), small, resolution, replace(config, progress=False))


def test_paper_preset_is_rmsprop_with_the_papers_settings() -> None:
    model = tiny_net()
    config = TrainConfig(optimizer="paper", batch_size=512, epochs=2, warmup_epochs=0.5)
    budget = plan_budget(config, 512 * 10)
    optimizer, scheduler = build_optimizer(model, PRESETS["paper"], config, budget)
    assert isinstance(optimizer, torch.optim.RMSprop)
    decayed, plain = optimizer.param_groups
    for group in (decayed, plain):
        assert (group["alpha"], group["momentum"], group["eps"]) == (0.9, 0.9, 1e-3)
        assert group["initial_lr"] == pytest.approx(0.016 * 512 / 256)
    assert decayed["weight_decay"] == 1e-5 and plain["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"]) and all(p.ndim == 1 for p in plain["params"])
    assert {m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {0.01}
    factors = [scheduler.lr_lambdas[0](step) for step in range(budget.total_steps)]
    assert factors[0] < factors[4] == 5 / 6  # 5 warmup steps
    assert factors[5] == 1.0
    # the paper's 350 epochs of decay 0.97 each 2.4 epochs, compressed into the short run
    assert factors[-1] == pytest.approx(0.97 ** (350 / 2.4 * 14 / 15))


def test_short_preset_sets_bn_momentum_and_ends_near_zero() -> None:
    model = tiny_net()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.01
    config = TrainConfig(batch_size=64)
    budget = plan_budget(config, 64 * 20)
    optimizer, scheduler = build_optimizer(model, PRESETS["short"], config, budget)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["nesterov"] and optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.param_groups[0]["initial_lr"] == pytest.approx(0.1 * 64 / 256)
    assert budget.warmup_steps == 20  # one epoch (benchmarks/recipe_choice.md)
    assert {m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)} == {0.1}
    assert scheduler.lr_lambdas[0](budget.total_steps - 1) < 0.01


def test_batches_are_resized_normalised_and_augmented_by_shift_or_mirror(small: ImageDataset) -> None:
    generator = torch.Generator().manual_seed(0)
    batches = DeviceBatches(small, 20, torch.device("cpu"), generator)
    images, labels = next(batches.train_batches(1, 64))
    assert images.shape == (64, 3, 20, 20) and labels.shape == (64,)
    assert images.is_contiguous(memory_format=torch.channels_last)
    test_images, _ = next(batches.test_batches(500))
    assert test_images.shape == (128, 3, 20, 20)
    assert abs(test_images.mean().item()) < 0.2 and abs(test_images.std().item() - 1) < 0.2

    pixels = small.train_images[:32].float()
    moved = batches._shift_and_flip(F.interpolate(pixels, size=(20, 20), mode="bilinear"))
    padded = F.pad(F.interpolate(pixels, size=(20, 20), mode="bilinear"), (2, 2, 2, 2))
    windows = padded.unfold(2, 20, 1).unfold(3, 20, 1).permute(0, 2, 3, 1, 4, 5)  # (N, 5, 5, C, 20, 20)
    mirrored = 0
    for index, image in enumerate(moved):
        candidates = windows[index].reshape(-1, 3, 20, 20)
        plain = [torch.equal(image, c) for c in candidates]
        flipped = [torch.equal(image, c.flip(-1)) for c in candidates]
        assert any(plain) or any(flipped)
        mirrored += any(flipped) and not any(plain)
    assert 0 < mirrored < 32


def test_training_config_maps_cli_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_training_arguments(parser, default_epochs=0.5)
    assert training_config(parser.parse_args([])) == TrainConfig(epochs=0.5)
    args = parser.parse_args([
        "--epochs", "3", "--images", "5000", "--batch-size", "64", "--optimizer", "paper", "--lr", "0.01",
        "--weight-decay", "0.001", "--label-smoothing", "0", "--seed", "7", "--device", "cpu",
        "--compile", "--no-augment", "--no-balanced-batches", "--quiet",
    ])
    assert training_config(args) == TrainConfig(
        epochs=3.0, images=5000, batch_size=64, optimizer="paper", lr=0.01, weight_decay=0.001,
        label_smoothing=0.0, seed=7, device="cpu", compile=True, augment=False, balanced_batches=False,
        progress=False,
    )
    assert training_config(parser.parse_args(["--balanced-batches"])).balanced_batches is True
    plain = argparse.ArgumentParser()
    add_training_arguments(plain)
    assert plain.parse_args([]).epochs == TrainConfig().epochs
    with pytest.raises(SystemExit):
        plain.parse_args(["--optimizer", "adam"])


def test_short_preset_turns_regularisation_off_and_paper_keeps_it() -> None:
    short, paper = PRESETS["short"], PRESETS["paper"]
    off = resolve_preset_defaults(TrainConfig(), short)
    assert (off.label_smoothing, off.augment, off.model_dropout, off.zero_init_residual, off.balanced_batches) == (
        0.0, False, False, True, True)
    on = resolve_preset_defaults(TrainConfig(optimizer="paper"), paper)
    assert (on.label_smoothing, on.augment, on.model_dropout, on.zero_init_residual, on.balanced_batches) == (
        0.1, True, True, False, False)
    asked = resolve_preset_defaults(TrainConfig(label_smoothing=0.05, augment=True, model_dropout=True,
                                                zero_init_residual=False, balanced_batches=False), short)
    assert (asked.label_smoothing, asked.augment, asked.model_dropout, asked.zero_init_residual,
            asked.balanced_batches) == (0.05, True, True, False, False)


def test_balanced_order_spreads_every_class_over_the_batches_and_is_seeded() -> None:
    labels = torch.arange(10).repeat_interleave(30)  # 10 classes of 30, sorted by class
    order = balanced_order(labels, torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(300))
    for batch in order.view(15, 20):  # each batch of 20 holds every class 2 times, give or take one
        counts = torch.bincount(labels[batch], minlength=10)
        assert counts.min() >= 1 and counts.max() <= 3
    shuffled = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    worst = max(torch.bincount(labels[batch], minlength=10).max().item() for batch in shuffled.view(15, 20))
    assert worst > 3  # a plain shuffle does not balance the batches
    within = order[labels[order] == 0].tolist()
    assert within != sorted(within)  # each class is shuffled
    assert torch.equal(order, balanced_order(labels, torch.Generator().manual_seed(0)))
    assert not torch.equal(order, balanced_order(labels, torch.Generator().manual_seed(1)))


def test_balanced_order_keeps_unequal_classes_in_proportion() -> None:
    labels = torch.cat([torch.zeros(200, dtype=torch.long), torch.ones(50, dtype=torch.long),
                        torch.full((10,), 2, dtype=torch.long)])
    order = balanced_order(labels, torch.Generator().manual_seed(3))
    for label, size in ((0, 200), (1, 50), (2, 10)):
        places = (labels[order] == label).nonzero().squeeze(1).float()
        expected = (torch.arange(size) + 0.5) * len(labels) / size  # the k-th member near k / size of the way
        assert (places - expected).abs().max() <= len(labels) / size + 3  # its own offset, ±1 per other class
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(3))]
    places = (shuffled == 0).nonzero().squeeze(1).float()
    assert (places - (torch.arange(200) + 0.5) * len(labels) / 200).abs().max() > len(labels) / 200 + 3


def test_balanced_batches_reach_the_trainer_and_no_balanced_batches_shuffles(small: ImageDataset) -> None:
    generator = torch.Generator().manual_seed(0)
    balanced = DeviceBatches(small, RESOLUTION, torch.device("cpu"), generator, False, balanced=True)
    spreads = [torch.bincount(labels, minlength=10).max().item()
               for _, labels in balanced.train_batches(8, 32)]
    assert max(spreads) <= 4  # 32 images of 10 classes: 3 or 4 of each
    plain = DeviceBatches(small, RESOLUTION, torch.device("cpu"), torch.Generator().manual_seed(0), False)
    assert max(torch.bincount(labels, minlength=10).max().item() for _, labels in plain.train_batches(8, 32)) > 4
    on = train_proxy(tiny_net(), small, RESOLUTION, replace(QUICK, epochs=1))
    off = train_proxy(tiny_net(), small, RESOLUTION, replace(QUICK, epochs=1, balanced_batches=False))
    assert on.top1 != off.top1  # the same initial weights, another data order


def test_regularisation_off_zeroes_dropout_and_drop_path_of_the_trained_model(small: ImageDataset) -> None:
    config = replace(QUICK, epochs=1)
    model = residual_net()
    assert rates(model) == [0.2, 0.2, 0.3]
    train_proxy(model, small, RESOLUTION, config)
    assert rates(model) == [0.0, 0.0, 0.0]
    for kept in (replace(config, model_dropout=True), replace(config, optimizer="paper", lr=1e-3)):
        model = residual_net()
        train_proxy(model, small, RESOLUTION, kept)
        assert rates(model) == [0.2, 0.2, 0.3]
    torchvision = pytest.importorskip("torchvision")
    depth = torchvision.ops.StochasticDepth(0.2, "row")
    assert disable_dropout(nn.Sequential(depth, nn.Dropout2d(0.1))) == 2 and depth.p == 0.0


def test_activations_run_out_of_place_with_the_same_gradients(small: ImageDataset) -> None:
    def net() -> nn.Sequential:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.SiLU(inplace=True), nn.Hardswish(inplace=True),
                             nn.Mish(inplace=True), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(8, 10))

    in_place, out_of_place = net(), net()
    assert out_of_place_activations(out_of_place) == 3
    assert [getattr(m, "inplace", None) for m in out_of_place] == [None, None, False, False, False, True, None, None, None]
    images = torch.randn(4, 3, 12, 12)
    for model in (in_place, out_of_place):
        model(images).square().sum().backward()
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(in_place.parameters(), out_of_place.parameters()))
    trained = net()
    train_proxy(trained, small, RESOLUTION, replace(QUICK, epochs=1))
    assert not any(getattr(m, "inplace", False) for m in trained if not isinstance(m, nn.ReLU))


def test_zero_init_zeroes_the_last_bn_of_residual_branches_only() -> None:
    model = SpecBaseline(get_spec("efficientnet-b0")).build(Multipliers(), 10)
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    with_shortcut = [b for b in blocks if b.residual]
    assert 0 < len(with_shortcut) < len(blocks)
    assert zero_init_residual(model) == len(with_shortcut)
    for block in blocks:
        norms = [m for m in block.body.modules() if isinstance(m, nn.BatchNorm2d)]
        assert torch.all(norms[-1].weight == 0) == block.residual
        assert all(torch.all(n.weight == 1) for n in norms[:-1])


def test_short_preset_zero_inits_residual_branches_and_false_does_not(small: ImageDataset) -> None:
    for asked, zeroed in ((None, True), (False, False)):
        model = residual_net()
        train_proxy(model, small, RESOLUTION, replace(QUICK, epochs=1, lr=1e-12, zero_init_residual=asked))
        shortcut, plain = (block.body[-1][1].weight for block in (model[1], model[2]))
        assert (shortcut.abs().max() < 1e-6) == zeroed
        assert torch.allclose(plain, torch.ones_like(plain))


def test_bn_recalibration_averages_fresh_training_batches_and_is_seeded(small: ImageDataset) -> None:
    batches = DeviceBatches(small, RESOLUTION, torch.device("cpu"), torch.Generator().manual_seed(0))
    models = [tiny_net(), tiny_net(), tiny_net()]
    for model, seed in zip(models, (1, 1, 2)):
        for norm in model.modules():
            if isinstance(norm, nn.BatchNorm2d):
                norm.running_mean.fill_(5.0)
        recalibrate_batchnorm(model, batches, 2, 32, torch.Generator().manual_seed(seed))
        assert not model.training
    first = [[m for m in model.modules() if isinstance(m, nn.BatchNorm2d)][0] for model in models]
    assert first[0].momentum == 0.1 and first[0].num_batches_tracked.item() == 2
    assert torch.equal(first[0].running_mean, first[1].running_mean)
    assert not torch.equal(first[0].running_mean, first[2].running_mean)
    images = torch.cat(list(batches.calibration_batches(2, 32, torch.Generator().manual_seed(1))))
    with torch.no_grad():
        expected = models[0][0](images).mean(dim=(0, 2, 3))
    assert torch.allclose(first[0].running_mean, expected, atol=1e-5)


def test_bn_recalibration_changes_running_stats_but_not_training(small: ImageDataset) -> None:
    def run(recalibration: int) -> tuple[TrainResult, nn.Module]:
        model = tiny_net()
        config = replace(QUICK, epochs=1, bn_recalibration_batches=recalibration)
        return train_proxy(model, small, RESOLUTION, config), model

    (_, plain_model), (first, model), (again, _) = run(0), run(3), run(3)
    assert first == replace(again, wall_seconds=first.wall_seconds, images_per_second=first.images_per_second)
    assert torch.equal(plain_model[0].weight, model[0].weight)  # same training steps
    assert not torch.equal(plain_model[1].running_mean, model[1].running_mean)
    with pytest.raises(UserError, match="BN recalibration"):
        train_proxy(tiny_net(), small, RESOLUTION, replace(QUICK, bn_recalibration_batches=-1))


@pytest.mark.parametrize(("fields", "message"), [
    ({"epochs": 1e12}, r"epoch budget must be in \(0, 1000\]"),
    ({"epochs": float("nan")}, r"epoch budget must be in"),
    ({"images": 10**12}, r"image budget must be in \[1, "),
    ({"batch_size": 10**6}, r"batch size must be in \[1, 65536\]"),
    ({"seed": 2**70}, r"seed must be in \[0, 4294967295\]"),
    ({"lr": 1e9}, r"learning rate must be at most 10"),
    ({"weight_decay": 5.0}, r"weight decay must be at most 1"),
])
def test_the_python_api_bounds_every_number_as_the_cli_does(fields, message) -> None:
    with pytest.raises(UserError, match=message):
        check_config(TrainConfig(**fields), 32, 1000)
