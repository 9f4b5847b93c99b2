"""The book's image classifiers.

- :class:`SmallCNN` (Part I, *Soft labels and calibration*): two 3x3 convolutions with
  max-pooling and a linear read-out, about 9k parameters, small enough to train a few
  thousand images in seconds on a laptop CPU.
- :class:`QuantumImageClassifier` (Part II, *Attacking a quantum classifier*): the image,
  average-pooled, is amplitude-encoded into 8 qubits and classified by a variational circuit
  through its Born-rule class probabilities. Attacks differentiate through the circuit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .circuits import VQC
from .backend import DeviceChoice


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


class QuantumImageClassifier(nn.Module):
    """Images (N, C, H, W) in [0, 1] -> class probabilities (N, K), through a VQC.

    ``pool`` x ``pool`` average pooling leaves C * H/pool * W/pool pixels (192 for CIFAR-10 at
    pool 4, 196 for MNIST at pool 2); they are amplitude-encoded into the fewest qubits that
    hold them (8 for both), after adding ``AMPLITUDE_OFFSET`` so an all-black image still has a
    direction to normalise. The circuit is :class:`~qrobust_lite.circuits.VQC`: ``n_layers``
    entangling layers, outcome b -> class b mod K. No classical trainable weights: every
    trainable parameter is a rotation angle.

    >>> model = QuantumImageClassifier((3, 32, 32), pool=4, n_layers=1, device="default.qubit")
    >>> model.n_qubits, tuple(model(torch.rand(2, 3, 32, 32)).shape)
    (8, (2, 10))
    """

    AMPLITUDE_OFFSET = 1e-6

    def __init__(self, image_shape: tuple[int, int, int], pool: int = 4, n_layers: int = 4,
                 n_classes: int = 10, seed: int = 0,
                 device: str | DeviceChoice | None = None) -> None:
        super().__init__()
        if (not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3
                or not all(isinstance(v, int) and v > 0 for v in image_shape)):
            raise ValueError(f"image_shape must be (C, H, W) of positive integers, got {image_shape!r}")
        c, h, w = image_shape
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1 or h % pool or w % pool:
            raise ValueError(f"pool must be a positive integer dividing the height {h} and width {w}, "
                             f"got {pool!r}")
        n_pixels = c * (h // pool) * (w // pool)
        n_qubits = max(1, math.ceil(math.log2(n_pixels)))
        if n_qubits > 12:
            raise ValueError(f"{n_pixels} pooled pixels need {n_qubits} qubits; use a larger pool "
                             "(at most 4096 pixels, 12 qubits)")
        self.image_shape, self.pool, self.n_qubits = tuple(image_shape), pool, n_qubits
        self.vqc = VQC(n_qubits, n_layers, n_classes, encoding="amplitude", device=device, seed=seed)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The circuit's input: pooled pixels plus the offset, (N, C * H/pool * W/pool)."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images must have shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(images.shape)}")
        return F.avg_pool2d(images, self.pool).flatten(1) + self.AMPLITUDE_OFFSET

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vqc(self.features(images))
