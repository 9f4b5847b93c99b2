"""The classical image classifiers of Part I (book: Part I, *Soft labels and calibration* and
*Training a CNN on quantum-refined labels*; also the attacked model's classical twin in the tests).

- :class:`SmallCNN`: two 3x3 convolutions with max-pooling and a linear read-out, about 9k
  parameters, small enough to train a few thousand images in seconds on a laptop CPU.
- :class:`LeNet5`: the student of paper A as published (6 and 16 filters of 5x5, then 120, 84
  and K units), about 44k parameters.

Their weights and dropout masks come from explicit generators (:func:`init_like_torch`,
:class:`~qrobust_lite.training.Dropout`), never from torch's global one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .backend import device_of, place
from .training import Dropout
from .validation import COUNT, N_CLASSES, SEED, Instance, Real, validate_params


@validate_params(
    layer=Instance((nn.Conv2d, nn.Linear), "an nn.Conv2d or nn.Linear"),
    generator=Instance(torch.Generator, "a torch.Generator"),
)
def init_like_torch(layer: nn.Conv2d | nn.Linear, generator: torch.Generator) -> nn.Module:
    """PyTorch's default initialisation of ``layer``, drawn from ``generator``; returns ``layer``.

    A model seeded this way never touches torch's global generator, so models built at the
    same time in different threads (a sweep) stay reproducible; the same seed gives the same
    weights as ``torch.manual_seed(seed)`` before building the layers would.
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(layer.weight[0].numel())  # 1 / sqrt(fan_in)
    if layer.bias is not None:
        with torch.no_grad():
            layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


@validate_params(n_classes=N_CLASSES, in_channels=COUNT, dropout=Real(0, 1, high_open=True), seed=SEED)
class SmallCNN(nn.Module):
    """(N, C, 28, 28) images -> (N, K) logits. ``dropout`` before the read-out, in [0, 1)."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1, dropout: float = 0.2, seed: int = 0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(Dropout(dropout), nn.Linear(16 * 7 * 7, n_classes))
        generator = torch.Generator().manual_seed(seed)
        for layer in (self.features[0], self.features[3], self.head[1]):
            init_like_torch(layer, generator)
        place(self)  # on the GPU when torch sees one; forward() returns on the input's device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or tuple(images.shape[-2:]) != (28, 28):
            raise ValueError(f"images must have shape (N, C, 28, 28), got {tuple(images.shape)}")
        return self.head(self.features(images.to(device_of(self)))).to(images.device)


@validate_params(n_classes=N_CLASSES, seed=SEED)
class LeNet5(nn.Module):
    """Paper A's student: (N, 1, 28, 28) images -> (N, K) logits.

    conv 6@5x5, ReLU, 2x2 max-pool; conv 16@5x5, ReLU, 2x2 max-pool (28 -> 24 -> 12 -> 8 -> 4);
    fully connected 256 -> 120 -> 84 -> K with ReLU between. No padding and no dropout: the
    paper names none.

    >>> LeNet5(seed=0)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_classes: int = 10, seed: int = 0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_classes)
        )
        generator = torch.Generator().manual_seed(seed)
        for layer in (self.features[0], self.features[3], self.head[0], self.head[2], self.head[4]):
            init_like_torch(layer, generator)
        place(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise ValueError(f"images must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
        return self.head(self.features(images.to(device_of(self)))).to(images.device)
