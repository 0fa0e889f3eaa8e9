"""Named baselines as specs, and EfficientNet's released coefficient table."""

from __future__ import annotations

from dataclasses import dataclass, replace

from scalesearch.errors import UserError
from scalesearch.scaling import Multipliers, scale_spec
from scalesearch.spec import Head, NetworkSpec, Stage, Stem


def _mbconv(expand: float, kernel: int, stride: int, channels: int, repeats: int, se: float = 0.0,
            act: str = "silu") -> Stage:
    return Stage("mbconv", channels, repeats, kernel, stride, expand, se, act)


EFFICIENTNET_B0 = NetworkSpec(
    name="efficientnet-b0",
    stem=Stem(32, 3, 2, "silu"),
    stages=(  # Table 1 of the paper
        _mbconv(1, 3, 1, 16, 1, 0.25),
        _mbconv(6, 3, 2, 24, 2, 0.25),
        _mbconv(6, 5, 2, 40, 2, 0.25),
        _mbconv(6, 3, 2, 80, 3, 0.25),
        _mbconv(6, 5, 1, 112, 3, 0.25),
        _mbconv(6, 5, 2, 192, 4, 0.25),
        _mbconv(6, 3, 1, 320, 1, 0.25),
    ),
    head=Head(1280, "silu", 0.2),
    resolution=224,
    drop_path=0.2,
)


@dataclass(frozen=True)
class EfficientNetRelease:
    """The released coefficients of one EfficientNet (width, depth, resolution, dropout)."""

    width: float
    depth: float
    resolution: int
    dropout: float


EFFICIENTNET_RELEASES: dict[str, EfficientNetRelease] = {
    "b0": EfficientNetRelease(1.0, 1.0, 224, 0.2),
    "b1": EfficientNetRelease(1.0, 1.1, 240, 0.2),
    "b2": EfficientNetRelease(1.1, 1.2, 260, 0.3),
    "b3": EfficientNetRelease(1.2, 1.4, 300, 0.3),
    "b4": EfficientNetRelease(1.4, 1.8, 380, 0.4),
    "b5": EfficientNetRelease(1.6, 2.2, 456, 0.4),
    "b6": EfficientNetRelease(1.8, 2.6, 528, 0.5),
    "b7": EfficientNetRelease(2.0, 3.1, 600, 0.5),
    "b8": EfficientNetRelease(2.2, 3.6, 672, 0.5),
    "l2": EfficientNetRelease(4.3, 5.3, 800, 0.5),
}


def efficientnet(variant: str) -> NetworkSpec:
    """EfficientNet-B0 scaled with the released coefficients of `variant` (b0 ... b8, l2)."""
    release = EFFICIENTNET_RELEASES[variant]
    scaled = scale_spec(EFFICIENTNET_B0, Multipliers(release.depth, release.width))
    return replace(scaled, name=f"efficientnet-{variant}", resolution=release.resolution,
                   head=replace(scaled.head, dropout=release.dropout))


MOBILENET_V1 = NetworkSpec(
    name="mobilenet-v1",
    stem=Stem(32, 3, 2, "relu"),
    stages=(
        Stage("dsconv", 64, 1, 3, 1, act="relu"),
        Stage("dsconv", 128, 2, 3, 2, act="relu"),
        Stage("dsconv", 256, 2, 3, 2, act="relu"),
        Stage("dsconv", 512, 6, 3, 2, act="relu"),
        Stage("dsconv", 1024, 2, 3, 2, act="relu"),
    ),
    head=Head(0, "relu", 0.0),
)

MOBILENET_V2 = NetworkSpec(
    name="mobilenet-v2",
    stem=Stem(32, 3, 2, "relu6"),
    stages=tuple(_mbconv(t, 3, s, c, n, act="relu6") for t, c, n, s in (
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))),
    head=Head(1280, "relu6", 0.2),
)

MNASNET_B1 = NetworkSpec(  # torchvision's mnasnet1_0
    name="mnasnet-b1",
    stem=Stem(32, 3, 2, "relu"),
    stages=(
        _mbconv(1, 3, 1, 16, 1, act="relu"),
        _mbconv(3, 3, 2, 24, 3, act="relu"),
        _mbconv(3, 5, 2, 40, 3, act="relu"),
        _mbconv(6, 5, 2, 80, 3, act="relu"),
        _mbconv(6, 3, 1, 96, 2, act="relu"),
        _mbconv(6, 5, 2, 192, 4, act="relu"),
        _mbconv(6, 3, 1, 320, 1, act="relu"),
    ),
    head=Head(1280, "relu", 0.2),
)

MNASNET_A1 = NetworkSpec(  # the MnasNet paper's searched model, with squeeze-and-excitation
    name="mnasnet-a1",
    stem=Stem(32, 3, 2, "relu"),
    stages=(
        _mbconv(1, 3, 1, 16, 1, act="relu"),
        _mbconv(6, 3, 2, 24, 2, act="relu"),
        _mbconv(3, 5, 2, 40, 3, 0.25, act="relu"),
        _mbconv(6, 3, 2, 80, 4, act="relu"),
        _mbconv(6, 3, 1, 112, 2, 0.25, act="relu"),
        _mbconv(6, 5, 2, 160, 3, 0.25, act="relu"),
        _mbconv(6, 3, 1, 320, 1, act="relu"),
    ),
    head=Head(1280, "relu", 0.2),
)


def resnet(depth: int) -> NetworkSpec:
    """ResNet-18/34 (basic blocks) and 50/101/152 (bottlenecks, stride on the 3x3 conv)."""
    layouts = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
    repeats = layouts[depth]
    if depth < 50:
        stages = tuple(Stage("basic", 64 * 2**i, n, 3, 1 if i == 0 else 2, act="relu") for i, n in enumerate(repeats))
    else:
        stages = tuple(Stage("bottleneck", 256 * 2**i, n, 3, 1 if i == 0 else 2, 0.25, act="relu")
                       for i, n in enumerate(repeats))
    return NetworkSpec(name=f"resnet-{depth}", stem=Stem(64, 7, 2, "relu", pool=True), stages=stages,
                       head=Head(0, "relu", 0.0))


def _zoo() -> dict[str, NetworkSpec]:
    models = {spec.name: spec for spec in (MOBILENET_V1, MOBILENET_V2, MNASNET_A1, MNASNET_B1)}
    models.update({f"resnet-{d}": resnet(d) for d in (18, 34, 50, 101, 152)})
    models.update({f"efficientnet-{v}": efficientnet(v) for v in EFFICIENTNET_RELEASES})
    return dict(sorted(models.items()))


ZOO: dict[str, NetworkSpec] = _zoo()
MODEL_NAMES: tuple[str, ...] = tuple(ZOO)


def get_spec(name: str) -> NetworkSpec:
    """The zoo's spec of `name`, or a UserError listing the known names."""
    try:
        return ZOO[name]
    except KeyError:
        raise UserError(f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}") from None
