"""The paper's published numbers (Tables 2 and 3) next to the ones this package counts."""

from __future__ import annotations

import pandas as pd

from scalesearch.baselines import SpecBaseline
from scalesearch.scaling import Multipliers
from scalesearch.zoo import get_spec

# Table 2: (model, params in M, FLOPS in B) as printed.
TABLE2 = (
    ("efficientnet-b0", 5.3, 0.39), ("efficientnet-b1", 7.8, 0.70), ("efficientnet-b2", 9.2, 1.0),
    ("efficientnet-b3", 12, 1.8), ("efficientnet-b4", 19, 4.2), ("efficientnet-b5", 30, 9.9),
    ("efficientnet-b6", 43, 19), ("efficientnet-b7", 66, 37),
)

_RESNET_DEPTH_NOTE = ("ceil(4·L) repeats [12,16,24,12]: the stem and classifier are not repeated, so MACs grow "
                      "3.6x; the paper's 16.2B is about 4x the baseline's cost")
_RESNET_WIDTH_NOTE = ("we double every layer, stem included (3.9x); the paper does not say which layers its "
                      "width rule left unscaled")

# Table 3: (model, scaling, (d, w, r), FLOPS in B as printed, why ours may differ).
TABLE3 = (
    ("mobilenet-v1", "baseline", (1, 1, 1), 0.6, ""),
    ("mobilenet-v1", "width w=2", (1, 2, 1), 2.2, ""),
    ("mobilenet-v1", "resolution r=2", (1, 1, 2), 2.2, ""),
    ("mobilenet-v1", "compound d=1.4 w=1.2 r=1.3", (1.4, 1.2, 1.3), 2.3, ""),
    ("mobilenet-v2", "baseline", (1, 1, 1), 0.3, ""),
    ("mobilenet-v2", "depth d=4", (4, 1, 1), 1.2, ""),
    ("mobilenet-v2", "width w=2", (1, 2, 1), 1.1, ""),
    ("mobilenet-v2", "resolution r=2", (1, 1, 2), 1.2, ""),
    ("resnet-50", "baseline", (1, 1, 1), 4.1, ""),
    ("resnet-50", "depth d=4", (4, 1, 1), 16.2, _RESNET_DEPTH_NOTE),
    ("resnet-50", "width w=2", (1, 2, 1), 14.7, _RESNET_WIDTH_NOTE),
    ("resnet-50", "resolution r=2", (1, 1, 2), 16.4, ""),
)


def _difference(ours: float, paper: float) -> float:
    return round(100.0 * (ours - paper) / paper, 1)


def table2() -> pd.DataFrame:
    """EfficientNet-B0 ... B7 with the released coefficients: our params and MACs against Table 2."""
    rows = []
    for name, params_m, flops_b in TABLE2:
        cost = SpecBaseline(get_spec(name)).cost(Multipliers())
        rows.append({"model": name, "resolution": get_spec(name).resolution,
                     "params": cost.params, "params (paper)": f"{params_m}M",
                     "params diff %": _difference(cost.params / 1e6, params_m),
                     "MACs": cost.macs, "FLOPS (paper)": f"{flops_b}B",
                     "MACs diff %": _difference(cost.macs / 1e9, flops_b)})
    return pd.DataFrame(rows)


def table3() -> pd.DataFrame:
    """MobileNetV1/V2 and ResNet-50 scaled in one dimension or compound: our MACs against Table 3."""
    rows = []
    for name, scaling, (d, w, r), flops_b, note in TABLE3:
        baseline = SpecBaseline(get_spec(name))
        multipliers = Multipliers(d, w, r)
        macs = baseline.cost(multipliers).macs
        rows.append({"model": name, "scaling": scaling, "resolution": baseline.resolution_for(multipliers),
                     "MACs": macs, "FLOPS (paper)": f"{flops_b}B", "diff %": _difference(macs / 1e9, flops_b),
                     "why it differs": note})
    return pd.DataFrame(rows)

# Table 3's rows with their ImageNet top-1 (%): (model, rule) -> (FLOPS in B, top-1) as printed.
TABLE3_TOP1 = {
    ("mobilenet-v1", "baseline"): (0.6, 70.6), ("mobilenet-v1", "width"): (2.2, 74.2),
    ("mobilenet-v1", "resolution"): (2.2, 72.7), ("mobilenet-v1", "compound"): (2.3, 75.6),
    ("mobilenet-v2", "baseline"): (0.3, 72.0), ("mobilenet-v2", "depth"): (1.2, 76.8),
    ("mobilenet-v2", "width"): (1.1, 76.4), ("mobilenet-v2", "resolution"): (1.2, 74.8),
    ("mobilenet-v2", "compound"): (1.3, 77.4),
    ("resnet-50", "baseline"): (4.1, 76.0), ("resnet-50", "depth"): (16.2, 78.1), ("resnet-50", "width"): (14.7, 77.7),
    ("resnet-50", "resolution"): (16.4, 77.5), ("resnet-50", "compound"): (16.7, 78.8),
}
