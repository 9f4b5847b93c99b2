"""Paper A's labeler as published: a hybrid network whose Born-rule probabilities become soft
labels (book: Part I, *A VQC that refines labels*, section *The paper's labeler*; paper: Qi,
Peng and Ding 2025, Secs. 3-4).

image (784 pixels) -> pre-network 784-128-128-n (ReLU) -> n angles in [0, pi] -> RY angle
encoding on n = 10 qubits -> L layers of rotations and a ring of CZ
(:func:`~qrobust_lite.circuits.rotation_cz_layers`) -> Born probabilities over the 2**n
outcomes -> post-network 2**n-128-K -> class distribution (softmax).

Where the text is ambiguous the course chooses, and the chapter measures the alternative:

- the post-network reads all 2**n outcome probabilities (the paper's "counts"),
  ``readout="outcomes"``; ``"marginals"`` reads the n single-qubit <Z> instead;
- RY rotations (the implementation section); ``rotation="Rot"`` is the method section's
  general rotation;
- trained on exact probabilities (the adjoint differentiation the paper names needs them);
  soft labels come from the exact probabilities or from ``shots`` measurements
  (:func:`soft_labels`);
- the angles are pi * sigmoid(pre-network output), one way to land in [0, pi].

The control: ``circuit="classical"`` puts a classical layer of the same shape in the circuit's
place (n -> 2**n, softmax), so the post-network reads a distribution over 2**n entries either
way and only the quantum circuit differs.

>>> labeler = HybridLabeler(n_qubits=4, n_layers=2, seed=0)
>>> labeler(torch.rand(3, 1, 28, 28)).shape                      # logits over 10 classes
torch.Size([3, 10])
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import circuits, fastpath, validation
from .circuits import rotation_cz_layers, rotation_cz_shape
from .cnn import init_like_torch
from .training import fit
from .validation import (
    COUNT,
    IMAGE_BATCH,
    LABELS,
    N_CLASSES,
    PROBABILITIES,
    SEED,
    SHARE,
    Bool,
    Instance,
    Int,
    Optional,
    Options,
    validate_params,
)

CIRCUITS = ("quantum", "classical")
READOUTS = ("outcomes", "marginals")
#: The labeler's Adam learning rate (the paper's).
LR = 1e-3
#: The epochs after which the labeler's learning rate is divided by 10 (the paper's).
LR_DROPS = (3,)
#: The labeler's batch size (the paper's).
BATCH_SIZE = 64


def _linear(n_in: int, n_out: int, generator: torch.Generator) -> nn.Linear:
    return init_like_torch(nn.Linear(n_in, n_out), generator)


@validate_params(
    n_classes=N_CLASSES,
    n_qubits=Int(1, 12),
    n_layers=COUNT,
    rotation=Options("Y", "Rot"),
    circuit=Options(*CIRCUITS),
    readout=Options(*READOUTS),
    hidden_units=COUNT,
    seed=SEED,
)
class HybridLabeler(nn.Module):
    """Pre-network, circuit (or its classical control) and post-network: images -> logits (N, K).

    Args:
        n_classes: K, >= 2.
        n_qubits: n, 1..12 (the paper: 10).
        n_layers: L rotation-and-CZ layers (the paper: 3 on MNIST, 2 on Fashion-MNIST).
        rotation: ``"Y"`` or ``"Rot"``.
        circuit: ``"quantum"`` or ``"classical"`` (the control, see the module docstring).
        readout: ``"outcomes"`` (2**n probabilities) or ``"marginals"`` (n values of <Z>).
        hidden_units: width of the pre- and post-networks' hidden layers (the paper: 128).
        seed: seeds every initial weight (circuit angles uniform in [0, 2 pi)).
    """

    z_signs: torch.Tensor  # a buffer: (2**n, n), <Z_i> = probabilities @ z_signs

    def __init__(
        self,
        n_classes: int = 10,
        n_qubits: int = 10,
        n_layers: int = 3,
        rotation: str = "Y",
        circuit: str = "quantum",
        readout: str = "outcomes",
        hidden_units: int = 128,
        seed: int = 0,
    ) -> None:
        super().__init__()
        shape = rotation_cz_shape(n_layers, n_qubits, rotation)
        self.circuit, self.readout = circuit, readout
        generator = torch.Generator().manual_seed(seed)
        self.n_qubits, self.n_classes = n_qubits, n_classes
        self.pre = nn.Sequential(
            nn.Flatten(),
            _linear(784, hidden_units, generator),
            nn.ReLU(),
            _linear(hidden_units, hidden_units, generator),
            nn.ReLU(),
            _linear(hidden_units, n_qubits, generator),
        )
        if circuit == "quantum":
            self.weights = nn.Parameter(2 * math.pi * torch.rand(shape, generator=generator))
            self.block = fastpath.compile_block(rotation_cz_layers, shape, n_qubits)
        else:
            self.mixer = _linear(n_qubits, 2**n_qubits, generator)
        width = 2**n_qubits if readout == "outcomes" else n_qubits
        self.post = nn.Sequential(
            _linear(width, hidden_units, generator), nn.ReLU(), _linear(hidden_units, n_classes, generator)
        )
        bits = (torch.arange(2**n_qubits)[:, None] >> torch.arange(n_qubits - 1, -1, -1)) & 1
        self.register_buffer("z_signs", 1.0 - 2.0 * bits.float())  # <Z_i> = probs @ z_signs

    def angles(self, images: torch.Tensor) -> torch.Tensor:
        """The pre-network's angles (N, n), radians in [0, pi]."""
        return math.pi * torch.sigmoid(self.pre(images))

    def outcome_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Born-rule probabilities (N, 2**n) of the encoded images after the circuit (the
        control: its softmax), in one batched call."""
        validation.images(images, ndim=4)
        angles = self.angles(images)
        if self.circuit == "classical":
            return torch.softmax(self.mixer(angles), dim=1)
        return fastpath.born_probabilities(
            self.block, self.weights.to(angles.dtype), angles, lambda a: circuits.angle_state(a, dtype=a.dtype)
        )

    def read(self, outcome_probs: torch.Tensor) -> torch.Tensor:
        """The post-network: outcome probabilities or frequencies (N, 2**n) -> logits (N, K)."""
        x = outcome_probs.float()
        return self.post(x if self.readout == "outcomes" else x @ self.z_signs)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) in [0, 1] -> class logits (N, K)."""
        return self.read(self.outcome_probabilities(images))


@validate_params(
    images=IMAGE_BATCH,
    labels=LABELS,
    n_classes=N_CLASSES,
    n_layers=COUNT,
    epochs=COUNT,
    circuit=Options(*CIRCUITS),
    rotation=Options("Y", "Rot"),
    readout=Options(*READOUTS),
    n_qubits=Int(1, 12),
    seed=SEED,
    progress=Bool(),
)
def fit_labeler(
    images: torch.Tensor,
    labels: torch.Tensor,
    n_classes: int = 10,
    n_layers: int = 3,
    epochs: int = 5,
    circuit: str = "quantum",
    rotation: str = "Y",
    readout: str = "outcomes",
    n_qubits: int = 10,
    seed: int = 0,
    progress: bool = True,
) -> HybridLabeler:
    """Train a :class:`HybridLabeler` on one-hot labels with the paper's schedule (cross-entropy,
    Adam 1e-3 divided by 10 after epoch 3 when there are more than 3 epochs, batch 64).

    ``images`` (N, 1, 28, 28) in [0, 1], ``labels`` (N,) integer classes below ``n_classes``.
    The training loss of each epoch is kept in ``labeler.history``.
    """
    validation.non_empty(images, "images")
    validation.below(labels, n_classes)
    validation.same_length("images", images, "labels", labels)
    labeler = HybridLabeler(n_classes, n_qubits, n_layers, rotation, circuit, readout, seed=seed)
    drops = tuple(e for e in LR_DROPS if e < epochs)
    labeler.history = fit(
        labeler,
        images,
        labels,
        F.cross_entropy,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        lr=LR,
        lr_drops=drops,
        generator=torch.Generator().manual_seed(seed),
        progress=progress,
        desc=f"{circuit} labeler (seed {seed})",
    )
    return labeler


@torch.no_grad()
@validate_params(
    labeler=Instance(HybridLabeler, "a HybridLabeler"),
    images=IMAGE_BATCH,
    shots=Optional(COUNT),
    seed=SEED,
    chunk=COUNT,
)
def soft_labels(
    labeler: HybridLabeler, images: torch.Tensor, shots: int | None = None, seed: int = 0, chunk: int = 4096
) -> torch.Tensor:
    """The labeler's class distributions (N, K), float64, rows summing to 1: the soft labels.

    ``shots=None``: from the exact outcome probabilities. ``shots=M``: from M measurements per
    image, drawn from those probabilities with a generator seeded by ``seed`` (NumPy's batched
    multinomial), their frequencies read by the post-network, as the paper's 1,000-shot runs
    did. Evaluated in batches of ``chunk`` images.
    """
    if not len(images):
        return torch.zeros(0, labeler.n_classes, dtype=torch.float64)
    rng = np.random.default_rng(seed)
    labeler.eval()
    out = []
    for part in images.split(chunk):
        probs = labeler.outcome_probabilities(part).double()
        if shots is not None:
            p = probs.clamp_min(0).cpu().numpy()  # round-off can leave -1e-17
            counts = rng.multinomial(shots, p / p.sum(axis=1, keepdims=True))
            probs = torch.from_numpy(counts / shots).to(probs.device)
        out.append(torch.softmax(labeler.read(probs).double(), dim=1))
    return torch.cat(out)


@validate_params(soft=PROBABILITIES, threshold=SHARE)
def confident(soft: torch.Tensor, threshold: float = 0.9) -> torch.Tensor:
    """Which rows of soft labels (N, K) put at least ``threshold`` on one class: a bool mask (N,)
    (paper A's method M4 keeps those images).

    >>> confident(torch.tensor([[0.95, 0.05], [0.6, 0.4]])).tolist()
    [True, False]
    """
    return soft.max(dim=1).values >= threshold
