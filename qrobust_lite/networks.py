"""The binary networks whose resilience to poisoning Part III compares (book: Part III,
*Label-flip poisoning, classical vs quantum*; paper: Chen and Zhang 2025).

- :class:`QNN`: amplitude-encoded input, :func:`~qrobust_lite.circuits.qnn_layers`, then
  ``P(y = 1)`` from ``<Z>`` on the last wire;
- :class:`MLP`: the classical baseline, F -> 64 -> 16 -> 1.
"""

from __future__ import annotations

import pennylane as qml
import torch
from torch import nn

from . import circuits, fastpath, validation
from .backend import device_of, place
from .circuits import qnn_layers, qnn_layers_shape
from .cnn import init_like_torch
from .validation import COUNT, SEED, Int, Sequence_, validate_params


@validate_params(n_qubits=Int(2, 12), depth=COUNT, seed=SEED)
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
        self.n_qubits = n_qubits
        shape = qnn_layers_shape(depth, n_qubits)
        gen = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(0.01 * torch.randn(shape, generator=gen, dtype=torch.float64))
        self.block = fastpath.compile_block(qnn_layers, shape, n_qubits)
        b = torch.arange(2**n_qubits)
        self.register_buffer("z_last", (1 - 2 * (b & 1)).double())  # <Z> of the last wire
        wires = list(range(n_qubits))

        @qml.qnode(qml.device("default.qubit", wires=n_qubits), interface="torch")
        def circuit(x, weights):
            qml.AmplitudeEmbedding(x, wires=wires, pad_with=0.0, normalize=True)
            qnn_layers(weights, wires)
            return qml.expval(qml.PauliZ(wires[-1]))

        self.qnode = circuit
        place(self)  # on the GPU when torch sees one; forward() returns on the input's device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (B, F) -> P(y = 1) (B,), float64.

        Simulated in single precision (complex64; errors about 1e-7, a test compares with the
        QNode): it halves the time of every training step.
        """
        if x.ndim != 2 or not 1 <= x.shape[1] <= 2**self.n_qubits:
            raise ValueError(f"x must have shape (B, F) with 1 <= F <= {2**self.n_qubits}, got {tuple(x.shape)}")
        validation.finite_floats(x, "x")
        encode = lambda part: circuits.amplitude_state(part, self.n_qubits)  # noqa: E731
        probs = fastpath.born_probabilities(self.block, self.weights, x.to(self.weights.device).float(), encode)
        return torch.sigmoid(self.SCALE * probs.double() @ self.z_last).to(x.device)


@validate_params(n_features=COUNT, hidden=Sequence_(COUNT, min_len=0), seed=SEED)
class MLP(nn.Module):
    """The classical baseline of Part III: F -> 64 -> 16 -> 1, ReLU, ``P(y = 1)`` (B,), float64.

    >>> MLP(8)(torch.rand(5, 8)).shape
    torch.Size([5])
    """

    def __init__(self, n_features: int, hidden: tuple[int, ...] = (64, 16), seed: int = 0) -> None:
        super().__init__()
        sizes = [n_features, *hidden, 1]
        generator = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [init_like_torch(nn.Linear(a, b, dtype=torch.float64), generator), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])
        place(self)  # on the GPU when torch sees one; forward() returns on the input's device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x.to(device_of(self), torch.float64))).squeeze(-1).to(x.device)
