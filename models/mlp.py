"""A small MLP classifier: Linear -> ReLU -> Dropout, repeated, then a Linear to class scores."""
from __future__ import annotations

import tinygrad_drop as td
import tinygrad_drop.nn as nn


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden: list[int] | tuple[int, ...], num_classes: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: td.Tensor) -> td.Tensor:
        """x (B, in_features) -> class scores (logits) (B, num_classes)."""
        return self.net(x)
