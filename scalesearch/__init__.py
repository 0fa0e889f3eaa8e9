"""scalesearch: model-scaling research for ConvNets (EfficientNet's compound scaling)."""

__version__ = "0.1.0"
