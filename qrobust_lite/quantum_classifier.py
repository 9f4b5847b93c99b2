"""The quantum image classifiers that Part II attacks and defends (book: Part II, *Attacking a
quantum classifier* and *Defending with quantum patches*).

:class:`QuantumImageClassifier`: the image, average-pooled, is amplitude-encoded into 8 qubits
and classified by a :class:`~qrobust_lite.circuits.VQC` through its Born-rule class
probabilities. :class:`HybridImageClassifier`: a small CNN front end turns the image into 8
angles for the same kind of circuit (an option of :data:`~qrobust_lite.defences.MODELS`, for
asking whether a defence's effect depends on how much the circuit classifier learns).
:class:`QuanvolutionClassifier`: the closest public design to the quantum-patches paper's
model, a fixed random quanvolution (4 qubits per 2x2 patch) feeding a small CNN. Attacks
differentiate through the circuit (and front end).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .backend import DEVICES, DeviceChoice
from .circuits import VQC
from .quantum_patches import ENCODINGS, rqc_patch_channels
from .training import Dropout
from .validation import COUNT, N_CLASSES, SEED, Either, Instance, Int, Optional, Options, Sequence_, validate_params

#: An image's shape (C, H, W), three positive integers.
IMAGE_SHAPE = Sequence_(COUNT, min_len=3, max_len=3)
DEVICE = Optional(Either(Instance(DeviceChoice, "a DeviceChoice"), Options(*DEVICES)))


def _check_images(images: torch.Tensor, image_shape: tuple[int, ...]) -> None:
    if images.ndim != 4 or tuple(images.shape[1:]) != image_shape:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, image_shape))}), got {tuple(images.shape)}")


@validate_params(image_shape=IMAGE_SHAPE, pool=COUNT, n_layers=COUNT, n_classes=N_CLASSES, seed=SEED, device=DEVICE)
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

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        pool: int = 4,
        n_layers: int = 4,
        n_classes: int = 10,
        seed: int = 0,
        device: str | DeviceChoice | None = None,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if h % pool or w % pool:
            raise ValueError(f"pool must be a positive integer dividing the height {h} and width {w}, got {pool!r}")
        n_pixels = c * (h // pool) * (w // pool)
        n_qubits = max(1, math.ceil(math.log2(n_pixels)))
        if n_qubits > 12:
            raise ValueError(
                f"{n_pixels} pooled pixels need {n_qubits} qubits; use a larger pool (at most 4096 pixels, 12 qubits)"
            )
        self.image_shape, self.pool, self.n_qubits = tuple(image_shape), pool, n_qubits
        self.vqc = VQC(n_qubits, n_layers, n_classes, encoding="amplitude", device=device, seed=seed)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The circuit's input: pooled pixels plus the offset, (N, C * H/pool * W/pool)."""
        _check_images(images, self.image_shape)
        return F.avg_pool2d(images, self.pool).flatten(1) + self.AMPLITUDE_OFFSET

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vqc(self.features(images))


@validate_params(
    image_shape=IMAGE_SHAPE, n_qubits=Int(1, 16), n_layers=COUNT, n_classes=N_CLASSES, seed=SEED, device=DEVICE
)
class HybridImageClassifier(nn.Module):
    """Images (N, C, H, W) in [0, 1] -> class probabilities (N, K): a small CNN front end, then
    a VQC.

    The front end (about 9,000 weights) is two 3 x 3 convolutions of stride 2 (16 and 32
    channels, ReLU after each), average pooling to 4 x 4 and a linear map to ``n_qubits``
    values, standardised per image (zero mean, unit variance: angles of about +-2 rad, never
    saturating). They are angle-encoded into a :class:`~qrobust_lite.circuits.VQC` of
    ``n_layers`` layers, read out like :class:`QuantumImageClassifier`'s. The classical part
    chooses what the circuit sees; the circuit still makes the decision.

    >>> model = HybridImageClassifier((3, 32, 32), n_layers=1, device="default.qubit")
    >>> tuple(model(torch.rand(2, 3, 32, 32)).shape), model.n_qubits
    ((2, 10), 8)
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        n_qubits: int = 8,
        n_layers: int = 4,
        n_classes: int = 10,
        seed: int = 0,
        device: str | DeviceChoice | None = None,
    ) -> None:
        super().__init__()
        c, _, _ = image_shape
        self.image_shape, self.n_qubits = tuple(image_shape), n_qubits
        self.vqc = VQC(n_qubits, n_layers, n_classes, encoding="angle", device=device, seed=seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.front = nn.Sequential(
                nn.Conv2d(c, 16, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(16, 32, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(4),
                nn.Flatten(),
                nn.Linear(32 * 16, n_qubits),
                nn.LayerNorm(n_qubits, elementwise_affine=False),
            )

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The circuit's input: the front end's angles, (N, n_qubits), in radians."""
        _check_images(images, self.image_shape)
        return self.front(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vqc(self.features(images))


@validate_params(
    image_shape=IMAGE_SHAPE,
    n_classes=N_CLASSES,
    width=COUNT,
    encoding=Options(*ENCODINGS),
    circuit_seed=SEED,
    seed=SEED,
)
class QuanvolutionClassifier(nn.Module):
    """Images (N, C, H, W) in [0, 1] -> class probabilities (N, K): a quanvolution front end,
    then a small CNN (Part II's closest public design {Henderson et al. 2020}).

    Every 2x2 patch of every colour channel (stride 2) is loaded on 4 qubits (``encoding``,
    RX(pi x) then RY(pi x) by default), one fixed random layer acts on them
    (:func:`~qrobust_lite.circuits.random_circuit`, seeded by ``circuit_seed``) and ``<Z>`` on
    each wire gives 4 channels at half resolution: 4C channels in [-1, 1], computed batched by
    :func:`~qrobust_lite.quantum_patches.rqc_patch_channels` and differentiable in the image.
    The circuit has no trainable angle (as in the design); the CNN (``width`` and 2 ``width``
    filters of 3 x 3, two max-pools, dropout 0.3, a linear layer) learns from its channels.

    >>> model = QuanvolutionClassifier((3, 32, 32), width=8)
    >>> tuple(model(torch.rand(2, 3, 32, 32)).shape)
    (2, 10)
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        n_classes: int = 10,
        width: int = 48,
        encoding: str = "RXRY",
        circuit_seed: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(
                f"image_shape's height and width must be multiples of 4 (2x2 patches, then two 2x2 pools), got {h}x{w}"
            )
        self.image_shape = tuple(image_shape)
        self.encoding, self.circuit_seed = encoding, circuit_seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.cnn = nn.Sequential(
                nn.Conv2d(4 * c, width, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(width, 2 * width, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                Dropout(0.3),  # masks from fit's generator, not torch's global one
                nn.Linear(2 * width * (h // 8) * (w // 8), n_classes),
            )

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The quanvolution's channels (N, 4C, H/2, W/2) in [-1, 1]."""
        _check_images(images, self.image_shape)
        return rqc_patch_channels(images, seed=self.circuit_seed, encoding=self.encoding)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.cnn(self.features(images)), dim=1)
