"""A small CNN for 28x28 images (book: Part I, *Soft labels and calibration*).

Two 3x3 convolutions with max-pooling and a linear read-out: about 9k parameters, small
enough to train a few thousand images in seconds on a laptop CPU.
"""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """(N, C, 28, 28) images -> (N, K) logits. ``dropout`` before the read-out, in [0, 1)."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1, dropout: float = 0.2,
                 seed: int = 0) -> None:
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(16 * 7 * 7, n_classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or tuple(images.shape[-2:]) != (28, 28):
            raise ValueError(f"images must have shape (N, C, 28, 28), got {tuple(images.shape)}")
        return self.head(self.features(images))
