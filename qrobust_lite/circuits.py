"""The circuit kit: every circuit block of the book, and Born-rule class probabilities
(book: *Primer*, sections *A variational quantum classifier* and *Why batching matters*).

- encodings: :func:`angle_encoding`, :func:`amplitude_encoding`, and the states they prepare
  as torch tensors, for the fast path: :func:`angle_state`, :func:`amplitude_state`;
- trainable blocks, each with a ``*_shape`` helper: :func:`entangling_ansatz` (the VQC of
  Parts I and II), :func:`rotation_cz_layers` (the labeler of paper A as published),
  :func:`qnn_layers` (the QNN of Part III);
- the fixed block of Part II's quantum patches: :func:`random_circuit`.

A model builds its PennyLane QNode and its fast-path simulation
(:func:`~qrobust_lite.fastpath.compile_block`) from the same block function, so the two cannot
drift apart.

Every piece is a plain PennyLane operation sequence, so it can be drawn and run on any
PennyLane device. A leading batch dimension on the features is carried through the whole
circuit by parameter broadcasting: one call evaluates the whole batch, with no Python loop.

>>> import pennylane as qml
>>> dev = qml.device("default.qubit", wires=2)
>>> @qml.qnode(dev)
... def circuit(x, w):
...     angle_encoding(x, wires=[0, 1])
...     entangling_ansatz(w, wires=[0, 1])
...     return qml.probs(wires=[0, 1])
>>> circuit(torch.zeros(5, 2), torch.zeros(ansatz_shape(1, 2))).shape  # 5 samples at once
torch.Size([5, 4])
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import pennylane as qml
import torch
from torch import nn

from . import fastpath, validation
from .backend import DEVICES, DIFF_METHOD, DeviceChoice, choose_device, make_device, place, torch_device_reason
from .tracing import MAX_QUBITS
from .validation import (
    COUNT,
    FEATURES,
    N_CLASSES,
    SEED,
    TENSOR,
    Anything,
    Array,
    Bool,
    Either,
    Instance,
    Int,
    Optional,
    Options,
    validate_params,
)

ENCODINGS = ("angle", "amplitude")
ROTATIONS = ("X", "Y", "Z")
WEIGHTS = Anything("a block's weights: their shape is checked by the block (they may be traced in a QNode)")


@validate_params(
    features=Anything("inside a QNode: the model that calls it checks its inputs"),
    wires=Anything("wires of a QNode"),
    rotation=Options(*ROTATIONS),
)
def angle_encoding(features: torch.Tensor, wires: Sequence[int], rotation: str = "Y") -> None:
    """One rotation per wire: features (n,) or (B, n), in radians, n <= len(wires)."""
    qml.AngleEmbedding(features, wires=wires, rotation=rotation)


@validate_params(
    features=Anything("inside a QNode: the model that calls it checks its inputs"), wires=Anything("wires of a QNode")
)
def amplitude_encoding(features: torch.Tensor, wires: Sequence[int]) -> None:
    """Features (F,) or (B, F), F <= 2**len(wires), zero-padded and L2-normalised into amplitudes."""
    qml.AmplitudeEmbedding(features, wires=wires, normalize=True, pad_with=0.0)


#: The most memory one batch of encoded states may take.
MAX_STATE_BYTES = 2 * 2**30


@validate_params(
    angles=Array("features", ndim=2, max_width=MAX_QUBITS),
    rotation=Options(*ROTATIONS),
    dtype=Options(torch.complex64, torch.complex128, torch.float32, torch.float64),
)
def angle_state(angles: torch.Tensor, rotation: str = "Y", dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """The product state of ``qml.AngleEmbedding``: angles (B, n) radians -> (B, 2**n) complex.

    Each wire holds R(angle)|0>: RY gives (cos a/2, sin a/2), RX (cos a/2, -i sin a/2),
    RZ (e^{-i a/2}, 0); the Kronecker product over wires (wire 0 most significant) is the state.
    RY states are real, so a real ``dtype`` is allowed for them (half the arithmetic).
    """
    if not dtype.is_complex and rotation != "Y":
        raise ValueError(f"dtype must be complex for rotation {rotation!r}; only RY states are real")
    size = len(angles) * 2 ** angles.shape[1] * dtype.itemsize
    if size > MAX_STATE_BYTES:
        raise ValueError(
            f"angles of shape {tuple(angles.shape)} make states of {size / 2**30:.1f} GiB (B x 2**n "
            f"amplitudes); at most {MAX_STATE_BYTES / 2**30:g} GiB at once: pass fewer rows at a time"
        )
    half = angles.to(dtype.to_real() if dtype.is_complex else dtype) / 2
    c, s = torch.cos(half), torch.sin(half)
    if rotation == "Y":
        zero, one = c.to(dtype), s.to(dtype)  # each wire's amplitudes of |0> and |1>, (B, n)
    elif rotation == "X":
        zero, one = c.to(dtype), -1j * s.to(dtype)
    else:
        zero, one = torch.exp(-1j * half.to(dtype)), torch.zeros_like(half, dtype=dtype)
    n = angles.shape[1]
    small = len(angles) * n * 2**n * dtype.itemsize <= SELECT_BYTES
    if small and rotation != "Z" and not (torch.is_grad_enabled() and zero.requires_grad):
        return _selected_product(zero, one)
    wire = torch.stack([zero, one], dim=-1)
    state = wire[:, 0]
    for i in range(1, n):
        state = (state[:, :, None] * wire[:, i, None, :]).reshape(len(angles), 2 ** (i + 1))
    return state


#: Up to this many bytes of (B, n, 2**n) factors, :func:`angle_state` selects them (1 MiB, about a
#: core's cache: at 60,000 samples of 8 qubits the selection made the soft-label pass 2x slower).
SELECT_BYTES = 2**20


@functools.lru_cache(maxsize=64)
def _basis_bits(n: int, device: torch.device) -> torch.Tensor:
    """(n, 2**n) bool: entry (q, j) is bit q of basis state j, wire 0 the most significant."""
    return ((torch.arange(2**n, device=device) >> torch.arange(n - 1, -1, -1, device=device)[:, None]) & 1).bool()


def _selected_product(zero: torch.Tensor, one: torch.Tensor) -> torch.Tensor:
    """The Kronecker product over wires of (zero, one) (B, n) each, as one selection and one
    product: amplitude j multiplies, for each wire q, ``one`` where bit q of j is set, ``zero``
    where it is not.

    Two operations instead of about 2n, for small batches, where the count of operations is the
    cost (:data:`SELECT_BYTES`). The products come in the wire-by-wire loop's order, so for RY
    and RX states the result is bitwise the loop's; RZ (fully complex factors) and anything that
    needs a gradient keep the loop, whose backward multiplies where ``prod``'s divides."""
    bits = _basis_bits(zero.shape[1], zero.device)
    return torch.where(bits, one[:, :, None], zero[:, :, None]).prod(1)


@validate_params(features=FEATURES, n_qubits=Int(1, MAX_QUBITS))
def amplitude_state(features: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """The state of ``qml.AmplitudeEmbedding(normalize=True, pad_with=0)``: (B, F) -> (B, 2**n).

    Real features give a real state, in the features' precision.
    """
    from .preprocessing import amplitude_normalise  # imports scikit-learn: only when needed

    return amplitude_normalise(features, n_qubits)


def _check_weights(block: str, weights, wires: Sequence[int], per_wire: int) -> None:
    """Weights of a layered block must be (L, len(wires), per_wire)."""
    shape = tuple(getattr(weights, "shape", ()))
    if len(shape) != 3 or shape[1:] != (len(wires), per_wire) or shape[0] < 1:
        raise ValueError(
            f"{block}: weights must have shape (n_layers, {len(wires)}, {per_wire}) for {len(wires)} wires, got {shape}"
        )


@validate_params(weights=WEIGHTS, wires=Anything("wires of a QNode"))
def entangling_ansatz(weights: torch.Tensor, wires: Sequence[int]) -> None:
    """Trainable layers of general single-qubit rotations and CNOT rings (the VQC's block,
    ``qml.StronglyEntanglingLayers``).

    ``weights``: shape :func:`ansatz_shape` ``(n_layers, n_qubits)`` = (L, n, 3), radians.

    >>> tape = qml.tape.make_qscript(entangling_ansatz)(torch.zeros(ansatz_shape(1, 2)), wires=[0, 1])
    >>> [op.name for op in tape.operations[0].decomposition()]   # one layer on two wires
    ['Rot', 'Rot', 'CNOT', 'CNOT']
    """
    _check_weights("entangling_ansatz", weights, wires, 3)
    qml.StronglyEntanglingLayers(weights, wires=wires)


@validate_params(n_layers=COUNT, n_qubits=COUNT)
def ansatz_shape(n_layers: int, n_qubits: int) -> tuple[int, int, int]:
    """Shape of the weights of :func:`entangling_ansatz`: (n_layers, n_qubits, 3)."""
    return (n_layers, n_qubits, 3)


@validate_params(weights=WEIGHTS, wires=Anything("wires of a QNode"))
def rotation_cz_layers(weights: torch.Tensor, wires: Sequence[int]) -> None:
    """Paper A's trainable block (Qi, Peng and Ding 2025, Sec. 3): per layer, one rotation on
    every wire, then a ring of controlled-Z gates (wire i to i+1, mod n).

    ``weights``: shape :func:`rotation_cz_shape` = (L, n, 1) for RY rotations (the paper's
    implementation section) or (L, n, 3) for general ``qml.Rot`` (its method section), radians.

    >>> tape = qml.tape.make_qscript(rotation_cz_layers)(torch.zeros(rotation_cz_shape(1, 3)), wires=[0, 1, 2])
    >>> [op.name for op in tape.operations]   # one layer on three wires
    ['RY', 'RY', 'RY', 'CZ', 'CZ', 'CZ']
    """
    shape = tuple(getattr(weights, "shape", ()))
    per_wire = shape[2] if len(shape) == 3 and shape[2] in (1, 3) else 1
    _check_weights("rotation_cz_layers", weights, wires, per_wire)
    wires = list(wires)
    n = len(wires)
    for layer in weights:
        for i, w in enumerate(wires):
            if per_wire == 1:
                qml.RY(layer[i, 0], wires=w)
            else:
                qml.Rot(layer[i, 0], layer[i, 1], layer[i, 2], wires=w)
        for i in range(n if n > 2 else n - 1):
            qml.CZ(wires=[wires[i], wires[(i + 1) % n]])


@validate_params(n_layers=COUNT, n_qubits=COUNT, rotation=Options("Y", "Rot"))
def rotation_cz_shape(n_layers: int, n_qubits: int, rotation: str = "Y") -> tuple[int, int, int]:
    """Shape of the weights of :func:`rotation_cz_layers`: (n_layers, n_qubits, 1) for
    ``rotation="Y"``, (n_layers, n_qubits, 3) for ``"Rot"``."""
    return (n_layers, n_qubits, 1 if rotation == "Y" else 3)


@validate_params(weights=WEIGHTS, wires=Anything("wires of a QNode"))
def qnn_layers(weights: torch.Tensor, wires: Sequence[int]) -> None:
    """The QNN's trainable block (Part III): per layer, RX RY RX on every wire, then an IsingZZ
    ring. The layer of Chen and Zhang's public code.

    ``weights``: shape :func:`qnn_layers_shape` = (depth, n, 4), radians: three rotation angles
    per wire and the ZZ angle of the edge from wire i to wire i+1 (mod n).

    >>> tape = qml.tape.make_qscript(qnn_layers)(torch.zeros(qnn_layers_shape(1, 2)), wires=[0, 1])
    >>> [op.name for op in tape.operations]   # one layer on two wires
    ['RX', 'RX', 'RY', 'RY', 'RX', 'RX', 'IsingZZ']
    """
    _check_weights("qnn_layers", weights, wires, 4)
    wires = list(wires)
    n = len(wires)
    for layer in weights:
        # RX RY RX on each wire, written rotation by rotation: gates on different wires
        # commute, and whole layers of one gate are what the fast path merges.
        for k, rotation in enumerate((qml.RX, qml.RY, qml.RX)):
            for i, w in enumerate(wires):
                rotation(layer[i, k], wires=w)
        for i in range(n if n > 2 else n - 1):
            qml.IsingZZ(layer[i, 3], wires=[wires[i], wires[(i + 1) % n]])


@validate_params(depth=COUNT, n_qubits=COUNT)
def qnn_layers_shape(depth: int, n_qubits: int) -> tuple[int, int, int]:
    """Shape of the weights of :func:`qnn_layers`: (depth, n_qubits, 4)."""
    return (depth, n_qubits, 4)


@validate_params(weights=WEIGHTS, wires=Anything("wires of a QNode"), seed=SEED)
def random_circuit(weights: torch.Tensor, wires: Sequence[int], seed: int) -> None:
    """The fixed random block of the quantum patches (Part II): ``qml.RandomLayers`` with its
    gate choice (RX, RY or RZ, and where the CNOTs go) seeded by ``seed``.

    ``weights``: shape :func:`random_circuit_shape` = (n_layers, n_rotations), radians; fix
    them with :func:`random_circuit_weights`. A seed and weights define one circuit.

    >>> weights = random_circuit_weights(1, 4, seed=0)   # 1 layer, 4 rotations
    >>> tape = qml.tape.make_qscript(random_circuit)(weights, wires=range(4), seed=100)
    >>> [op.name for op in tape.operations[0].decomposition()]
    ['RX', 'CNOT', 'RZ', 'RZ', 'CNOT', 'CNOT', 'RY']
    """
    shape = tuple(getattr(weights, "shape", ()))
    if len(shape) != 2 or min(shape, default=0) < 1:
        raise ValueError(f"random_circuit: weights must have shape (n_layers, n_rotations), got {shape}")
    qml.RandomLayers(weights, wires=wires, seed=seed)


@validate_params(n_layers=COUNT, n_rotations=COUNT)
def random_circuit_shape(n_layers: int, n_rotations: int) -> tuple[int, int]:
    """Shape of the weights of :func:`random_circuit`: (n_layers, n_rotations)."""
    return (n_layers, n_rotations)


@validate_params(n_layers=COUNT, n_rotations=COUNT, seed=SEED)
def random_circuit_weights(n_layers: int, n_rotations: int, seed: int) -> torch.Tensor:
    """Angles (n_layers, n_rotations), float64, uniform in [0, 2 pi), from ``seed``."""
    shape = random_circuit_shape(n_layers, n_rotations)
    gen = torch.Generator().manual_seed(seed)
    return 2 * math.pi * torch.rand(shape, generator=gen, dtype=torch.float64)


@validate_params(n_qubits=Int(1, 24), n_classes=N_CLASSES)
def outcome_to_class(n_qubits: int, n_classes: int) -> torch.Tensor:
    """The map from the 2**n measurement outcomes to K classes, as a 0/1 matrix (2**n, K).

    Outcome b (the bit string read as an integer) counts for class ``b mod K``. Every outcome
    is used, so class probabilities sum to one without renormalising, and with many outcomes
    per class (256 outcomes for 10 classes at 8 qubits) every class gets nearly the same share.

    >>> outcome_to_class(2, 3)
    tensor([[1., 0., 0.],
            [0., 1., 0.],
            [0., 0., 1.],
            [1., 0., 0.]], dtype=torch.float64)
    """
    if n_classes > 2**n_qubits:
        raise ValueError(f"n_classes must be an integer in 2..{2**n_qubits} (2**n_qubits), got {n_classes!r}")
    outcomes = torch.arange(2**n_qubits)
    return nn.functional.one_hot(outcomes % n_classes, n_classes).double()


@validate_params(outcome_probs=TENSOR, n_classes=N_CLASSES)
def class_probabilities(outcome_probs: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Born-rule outcome probabilities (B, 2**n) -> class probabilities (B, K), rows sum to 1."""
    if outcome_probs.ndim not in (1, 2):
        raise ValueError("outcome_probs must be a tensor of shape (2**n,) or (B, 2**n)")
    dim = outcome_probs.shape[-1]
    n_qubits = int(math.log2(dim)) if dim > 0 else 0
    if dim < 2 or 2**n_qubits != dim:
        raise ValueError(f"outcome_probs must have 2**n columns, got {dim}")
    validation.probabilities(outcome_probs.reshape(-1, dim), "outcome_probs")
    return outcome_probs @ outcome_to_class(n_qubits, n_classes).to(outcome_probs.device, outcome_probs.dtype)


@validate_params(
    n_qubits=Int(1, 16),
    n_layers=COUNT,
    n_classes=N_CLASSES,
    encoding=Options(*ENCODINGS),
    device=Optional(Either(Instance(DeviceChoice, "a DeviceChoice"), Options(*DEVICES))),
    seed=SEED,
    fast=Optional(Bool()),
)
class VQC(nn.Module):
    """Variational quantum classifier: encoding, entangling ansatz, Born-rule class probabilities.

    Args:
        n_qubits: wires, 1..16.
        n_layers: ansatz layers, >= 1.
        n_classes: K, 2..2**n_qubits.
        encoding: ``"angle"`` (n_qubits features, radians) or ``"amplitude"`` (up to 2**n_qubits
            features, normalised inside the circuit).
        device: a PennyLane device name or :class:`~qrobust_lite.backend.DeviceChoice`;
            ``None`` picks one with :func:`~qrobust_lite.backend.choose_device`.
        seed: seeds the initial weights, uniform in [0, 2 pi).
        fast: evaluate with :mod:`~qrobust_lite.fastpath` (the same circuit, simulated with a
            few large torch operations). ``None``: on whenever the device is ``default.qubit``.

    ``forward(x)`` maps features (B, F) to class probabilities (B, K) in one batched call.
    ``self.qnode`` is the same circuit as a PennyLane QNode on the chosen device, for drawing
    or running elsewhere.

    >>> model = VQC(n_qubits=3, n_layers=2, n_classes=2, device="default.qubit")
    >>> model(torch.rand(8, 3)).shape
    torch.Size([8, 2])
    """

    def __init__(
        self,
        n_qubits: int,
        n_layers: int,
        n_classes: int,
        encoding: str = "angle",
        device: str | DeviceChoice | None = None,
        seed: int = 0,
        fast: bool | None = None,
    ) -> None:
        super().__init__()
        shape = ansatz_shape(n_layers, n_qubits)
        class_map = outcome_to_class(n_qubits, n_classes)
        self.register_buffer("class_map", class_map)
        self.n_qubits, self.n_classes, self.encoding = n_qubits, n_classes, encoding
        self.n_features = n_qubits if encoding == "angle" else 2**n_qubits
        generator = torch.Generator().manual_seed(seed)
        self.weights = nn.Parameter(2 * math.pi * torch.rand(shape, generator=generator))
        self.device_choice = (
            device
            if isinstance(device, DeviceChoice)
            else (
                choose_device(n_qubits)
                if device is None
                else DeviceChoice(device, DIFF_METHOD.get(device, "best"), "chosen by the caller")
            )
        )
        wires = list(range(n_qubits))
        encode = angle_encoding if encoding == "angle" else amplitude_encoding

        # Adjoint gradients (lightning devices) need expectation values, so there the class
        # probabilities are measured directly as <P_k>, P_k the projector onto class k's outcomes.
        self.measures_classes = self.device_choice.diff_method == "adjoint"
        projectors = (
            [qml.Hermitian(torch.diag(class_map[:, k]).numpy(), wires=wires) for k in range(n_classes)]
            if self.measures_classes
            else []
        )

        def circuit(x, weights):
            encode(x, wires=wires)
            entangling_ansatz(weights, wires=wires)
            if self.measures_classes:
                return [qml.expval(p) for p in projectors]
            return qml.probs(wires=wires)

        self.qnode = qml.QNode(
            circuit,
            make_device(n_qubits, self.device_choice),
            interface="torch",
            diff_method=self.device_choice.diff_method,
        )
        if fast is None:
            fast = self.device_choice.name == "default.qubit"
        self.block = fastpath.compile_block(entangling_ansatz, shape, n_qubits) if fast else None
        if self.block is not None:
            place(self)  # the fast path computes on the GPU when torch sees one

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoded states (B, 2**n) of features x, in x's precision (real for RY)."""
        if self.encoding == "angle":
            return angle_state(x, dtype=x.dtype if x.dtype == torch.float32 else torch.float64)
        return amplitude_state(x, self.n_qubits)

    def describe(self) -> str:
        """How forward() evaluates the circuit, for the learner."""
        if self.block is not None:
            return (
                f"{self.n_qubits}-qubit circuit on qrobust_lite's fast path (torch, exact, "
                f"equal to default.qubit), {torch_device_reason()}; device choice: "
                f"{self.device_choice}"
            )
        return f"{self.n_qubits}-qubit circuit on PennyLane {self.device_choice}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, F) -> class probabilities (B, K)."""
        if not isinstance(x, torch.Tensor) or x.ndim != 2:
            raise ValueError(f"x must be a tensor of shape (B, F), got {getattr(x, 'shape', type(x).__name__)}")
        validation.finite_floats(x, "x")
        if self.encoding == "angle" and x.shape[1] != self.n_qubits:
            raise ValueError(f"x must have {self.n_qubits} columns (one angle per qubit), got {x.shape[1]}")
        if self.encoding == "amplitude" and not 1 <= x.shape[1] <= self.n_features:
            raise ValueError(f"x must have 1..{self.n_features} columns for amplitude encoding, got {x.shape[1]}")
        if self.block is not None:  # computed on the module's device, returned on x's
            probs = fastpath.born_probabilities(self.block, self.weights, x.to(self.weights.device), self._encode)
            return (probs @ self.class_map.to(probs.dtype)).to(x.device, x.dtype)
        out = self.qnode(x, self.weights)
        if self.measures_classes:
            return torch.stack(out, dim=-1).to(x.dtype)
        return (out @ self.class_map.to(out.dtype)).to(x.dtype)

    def draw(self, expand: bool = True) -> str:
        """The circuit as text on one example input; ``expand`` shows the templates' gates."""
        example = torch.full((self.n_features,), 0.5)
        level = "device" if expand else "top"
        return qml.draw(self.qnode, decimals=None, level=level)(example, self.weights.detach())
