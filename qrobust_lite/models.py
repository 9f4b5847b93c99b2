"""The book's image classifiers.

- :class:`SmallCNN` (Part I, *Soft labels and calibration*): two 3x3 convolutions with
  max-pooling and a linear read-out, about 9k parameters, small enough to train a few
  thousand images in seconds on a laptop CPU.
- :class:`QuantumImageClassifier` (Part II, *Attacking a quantum classifier*): the image,
  average-pooled, is amplitude-encoded into 8 qubits and classified by a variational circuit
  through its Born-rule class probabilities. Attacks differentiate through the circuit.
- :class:`QNN` and :class:`MLP` (Part III, *Label-flip poisoning*): the binary quantum and
  classical networks whose resilience to poisoning the book compares.
"""

from __future__ import annotations

import math

import pennylane as qml
import torch
import torch.nn.functional as F
from torch import nn

from . import fastpath
from .backend import DeviceChoice, device_of, place
from .circuits import VQC, qnn_layers, qnn_layers_shape
from .training import Dropout


def init_like_torch(layer: nn.Conv2d | nn.Linear, generator: torch.Generator) -> nn.Module:
    """PyTorch's default initialisation of ``layer``, drawn from ``generator``; returns ``layer``.

    A model seeded this way never touches torch's global generator, so models built at the
    same time in different threads (a sweep) stay reproducible; the same seed gives the same
    weights as ``torch.manual_seed(seed)`` before building the layers would.
    """
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1 / math.sqrt(layer.weight[0].numel())   # 1 / sqrt(fan_in)
    with torch.no_grad():
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


class SmallCNN(nn.Module):
    """(N, C, 28, 28) images -> (N, K) logits. ``dropout`` before the read-out, in [0, 1)."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1, dropout: float = 0.2,
                 seed: int = 0) -> None:
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Sequential(Dropout(dropout), nn.Linear(16 * 7 * 7, n_classes))
        generator = torch.Generator().manual_seed(seed)
        for layer in (self.features[0], self.features[3], self.head[1]):
            init_like_torch(layer, generator)
        place(self)   # on the GPU when torch sees one; forward() returns on the input's device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or tuple(images.shape[-2:]) != (28, 28):
            raise ValueError(f"images must have shape (N, C, 28, 28), got {tuple(images.shape)}")
        return self.head(self.features(images.to(device_of(self)))).to(images.device)


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


class QNN(nn.Module):
    """Binary quantum classifier: amplitude-encoded input,
    :func:`~qrobust_lite.circuits.qnn_layers`, then
    ``P(y = 1) = sigmoid(5 <Z>)`` on the last wire (Part III; Chen and Zhang 2025).

    Inputs (B, F), F <= 2**n: pixels or a quantum state's amplitudes, normalised inside.
    Weights start at N(0, 0.01^2), as in the paper's code. Simulated with the fast path
    (:mod:`~qrobust_lite.fastpath`); ``self.qnode`` is the same circuit in PennyLane.

    >>> qnn = QNN(n_qubits=3, depth=2)
    >>> p = qnn(torch.rand(5, 8))
    >>> p.shape, bool(((p > 0) & (p < 1)).all())
    (torch.Size([5]), True)
    """

    SCALE = 5.0

    def __init__(self, n_qubits: int, depth: int = 6, seed: int = 0) -> None:
        super().__init__()
        if isinstance(n_qubits, bool) or not isinstance(n_qubits, int) or not 2 <= n_qubits <= 12:
            raise ValueError(f"n_qubits must be an integer in 2..12, got {n_qubits!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, got {depth!r}")
        self.n_qubits = n_qubits
        shape = qnn_layers_shape(depth, n_qubits)
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(0.01 * torch.randn(shape, generator=gen, dtype=torch.float64))
        self.block = fastpath.compile_block(qnn_layers, shape, n_qubits)
        b = torch.arange(2 ** n_qubits)
        self.register_buffer("z_last", (1 - 2 * (b & 1)).double())   # <Z> of the last wire
        wires = list(range(n_qubits))

        @qml.qnode(qml.device("default.qubit", wires=n_qubits), interface="torch")
        def circuit(x, weights):
            qml.AmplitudeEmbedding(x, wires=wires, pad_with=0.0, normalize=True)
            qnn_layers(weights, wires)
            return qml.expval(qml.PauliZ(wires[-1]))

        self.qnode = circuit
        place(self)   # on the GPU when torch sees one; forward() returns on the input's device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (B, F) -> P(y = 1) (B,), float64.

        Simulated in single precision (complex64; errors about 1e-7, a test compares with the
        QNode): it halves the time of every training step.
        """
        if x.ndim != 2 or not 1 <= x.shape[1] <= 2 ** self.n_qubits:
            raise ValueError(f"x must have shape (B, F) with 1 <= F <= {2 ** self.n_qubits}, "
                             f"got {tuple(x.shape)}")
        encode = lambda part: fastpath.amplitude_state(part, self.n_qubits)  # noqa: E731
        probs = fastpath.born_probabilities(self.block, self.weights, x.to(self.weights.device).float(),
                                            encode)
        return torch.sigmoid(self.SCALE * probs.double() @ self.z_last).to(x.device)


class MLP(nn.Module):
    """The classical baseline of Part III: F -> 64 -> 16 -> 1, ReLU, ``P(y = 1)`` (B,), float64.

    >>> MLP(8)(torch.rand(5, 8)).shape
    torch.Size([5])
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (64, 16), seed: int = 0) -> None:
        super().__init__()
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        sizes = [n_features, *hidden, 1]
        generator = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [init_like_torch(nn.Linear(a, b, dtype=torch.float64), generator), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])
        place(self)   # on the GPU when torch sees one; forward() returns on the input's device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x.to(device_of(self), torch.float64))).squeeze(-1).to(x.device)
