"""Tracing: a PennyLane circuit block read once into a few layers the fast path can simulate
(book: appendix *Performance*, section *Why batching matters*).

The trainable block (e.g. ``qml.StronglyEntanglingLayers``) is decomposed by PennyLane into
gates once, with "tag" weights ``0, 1, 2, ...`` so that each gate's parameters read back as
indices into the weight tensor; every later call of the fast path only gathers
``weights.flatten()[indices]``. While reading the gates, neighbours are merged:

- trainable gates of one class on distinct wires form one :class:`ParamLayer`;
- consecutive fixed gates that permute basis states (a ring of CNOTs) form one
  :class:`FixedLayer`, an index permutation with a phase per basis state;
- consecutive Z rotations (a ring of IsingZZ) are diagonal and form one :class:`DiagonalLayer`;
- any other fixed gate (a Hadamard) is kept as a :class:`DenseGate`.

:func:`~qrobust_lite.fastpath.compile_block` traces with :func:`trace` and then checks the
result against ``default.qubit``.

>>> import pennylane as qml
>>> block = trace(qml.StronglyEntanglingLayers, (2, 3, 3), n_qubits=3)
>>> [type(layer).__name__ for layer in block.layers]
['ParamLayer', 'FixedLayer', 'ParamLayer', 'FixedLayer']
>>> block.layers[0].index[:2].tolist()      # the first two Rot gates read weights 0-2 and 3-5
[[0, 1, 2], [3, 4, 5]]
"""

from __future__ import annotations

import string
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pennylane as qml
import torch

from .validation import COUNT, SEED, Anything, Instance, Int, Sequence_, validate_params

if TYPE_CHECKING:
    from .kron_chain import ChainPlan


class NotCompilable(ValueError):
    """The block cannot be traced (its gate parameters are not plain entries of the weights)."""


@dataclass(frozen=True)
class ParamLayer:
    """Gates of one class (PennyLane's name for them: ``name``) on distinct wires;
    ``index[g, p]`` is gate g's p-th parameter's position in the flattened weights. Their
    matrices are rows ``start, start + 1, ...`` of the block's matrices of that class
    (:attr:`Block.groups`, computed once per call)."""

    op_class: type
    name: str
    wires: tuple[tuple[int, ...], ...]
    index: torch.Tensor
    expr: str
    start: int = 0


@dataclass(frozen=True)
class FixedLayer:
    """Fixed gates merged into one map of basis states: ``new[:, i] = phase[i] * old[:, perm[i]]``
    (``phase`` is ``None`` when every phase is 1, as for CNOTs)."""

    perm: torch.Tensor
    phase: torch.Tensor | None


@dataclass(frozen=True)
class DenseGate:
    """A fixed gate that is not a permutation (e.g. Hadamard): its small matrix and wires."""

    matrix: torch.Tensor
    wires: tuple[int, ...]
    expr: str


@dataclass(frozen=True)
class DiagonalLayer:
    """Consecutive Z rotations (RZ, IsingZZ, MultiRZ: exp(-i theta/2 Z...Z)), which commute, as
    one phase per basis state: ``state * exp(-i/2 signs @ theta[index])``."""

    index: torch.Tensor
    signs: torch.Tensor


@dataclass(frozen=True)
class Block:
    """A traced, input-independent circuit block on ``n_qubits`` wires. ``groups`` holds, per
    gate class, the weight indices of all its gates, so that one call computes every matrix;
    ``chain`` is its :class:`~qrobust_lite.kron_chain.ChainPlan` when it has one (set by
    :func:`~qrobust_lite.fastpath.compile_block`)."""

    n_qubits: int
    weight_shape: tuple[int, ...]
    layers: tuple
    groups: tuple[tuple[type, torch.Tensor], ...] = ()
    chain: ChainPlan | None = None


#: The most qubits the fast path simulates (a state of 2**20 amplitudes is 16 MB per sample).
MAX_QUBITS = 20
BLOCK = Instance(Block, "a Block made by compile_block")
TEMPLATE = Anything("a PennyLane template or function of (weights, wires); NotCompilable says when it cannot be traced")
Z_ROTATIONS = (qml.RZ, qml.IsingZZ, qml.MultiRZ)


def _gates(op: qml.operation.Operator):
    """Decompose until every gate has a matrix and acts on at most 2 wires."""
    if op.has_matrix and len(op.wires) <= 2 and op.num_params == len(op.parameters):
        yield op
        return
    for sub in op.decomposition():
        yield from _gates(sub)


def _traced_gates(tape):
    """Every gate of ``tape``, decomposed by :func:`_gates`; a failure names its operation."""
    for op in tape.operations:
        try:
            gates = list(_gates(op))
        except Exception as err:
            raise NotCompilable(
                f"{op.name} on wires {list(op.wires)} cannot be decomposed into gates "
                f"with matrices ({type(err).__name__}: {str(err) or 'no message'})"
            ) from err
        yield from gates


def _z_string_signs(wires: Sequence[int], n_qubits: int) -> np.ndarray:
    """(2**n,) eigenvalues +-1 of Z on every wire in ``wires``, for each basis state."""
    idx = np.arange(2**n_qubits)
    parity = ((idx[:, None] >> (n_qubits - 1 - np.asarray(wires, dtype=np.int64))) & 1).sum(axis=1)
    return (1 - 2 * (parity % 2)).astype(np.float64)


def _monomial(matrix: np.ndarray) -> bool:
    return bool(((np.abs(matrix) > 1e-12).sum(axis=1) == 1).all())


def _fixed_map(matrix: np.ndarray, wires: Sequence[int], n_qubits: int) -> tuple[np.ndarray, np.ndarray]:
    """The (perm, phase) of a monomial gate acting on ``wires`` of an n-qubit register."""
    k = len(wires)
    idx = np.arange(2**n_qubits)
    bits = (idx[:, None] >> (n_qubits - 1 - np.asarray(wires))[None, :]) & 1  # (2**n, k)
    sub = bits @ (1 << np.arange(k - 1, -1, -1))  # row of the small matrix
    src_sub = np.abs(matrix).argmax(axis=1)[sub]  # column it reads
    src_bits = (src_sub[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1
    clear = idx & ~np.bitwise_or.reduce(1 << (n_qubits - 1 - np.asarray(wires)))
    perm = clear | (src_bits << (n_qubits - 1 - np.asarray(wires))[None, :]).sum(axis=1)
    phase = matrix[sub, src_sub]
    return perm, phase


@validate_params(wires=Sequence_(Sequence_(SEED)), n_qubits=Int(1, MAX_QUBITS))
def einsum_expression(wires: Sequence[tuple[int, ...]], n_qubits: int) -> str:
    """The einsum applying gates on ``wires`` to states of shape (M, 2, ..., 2).

    The state comes first, so torch contracts one gate at a time into it (B x 2**n work per
    gate) rather than first multiplying the gates out into a 2**n x 2**n matrix.

    >>> einsum_expression([(0,), (1,)], n_qubits=2)
    'cab,da,eb->cde'
    """
    if max(max(w) for w in wires) >= n_qubits:
        raise ValueError(f"wires must be wire indices below n_qubits ({n_qubits}), got {list(wires)}")
    letters = iter(string.ascii_letters)
    axis = [next(letters) for _ in range(n_qubits)]
    batch = next(letters)
    current = list(axis)
    subscripts = []
    for ws in wires:
        new = [next(letters) for _ in ws]
        subscripts.append("".join(new) + "".join(current[w] for w in ws))
        for w, letter in zip(ws, new):
            current[w] = letter
    return ",".join([batch + "".join(axis)] + subscripts) + "->" + batch + "".join(current)


@dataclass
class _Builder:
    """The layers of a block, built gate by gate. Its state: the finished ``layers``; the layer
    being filled (``pending``: trainable gates of one class, or Z rotations); the fixed gates
    merged so far (``fixed``: a permutation and phases); and every trainable gate's weight
    indices per class (``groups``)."""

    n_qubits: int
    layers: list = field(default_factory=list)
    pending_class: type | None = None
    pending_name: str = ""
    pending_wires: list = field(default_factory=list)
    pending_index: list = field(default_factory=list)
    fixed: tuple[np.ndarray, np.ndarray] | None = None
    groups: dict = field(default_factory=dict)

    def add_fixed(self, matrix: np.ndarray, wires: tuple[int, ...]) -> None:
        """A gate without parameters: merged into the fixed map when it permutes basis states."""
        if not _monomial(matrix):
            self.flush()
            self.layers.append(DenseGate(torch.from_numpy(matrix), wires, einsum_expression([wires], self.n_qubits)))
            return
        self.flush_pending()
        perm, phase = _fixed_map(matrix, wires, self.n_qubits)
        # Merge with the previous fixed gates: apply the earlier map, then this one.
        self.fixed = (perm, phase) if self.fixed is None else (self.fixed[0][perm], self.fixed[1][perm] * phase)

    def add_trainable(self, op_class: type, name: str, wires: tuple[int, ...], index: list[int]) -> None:
        """A gate reading weights ``index``: joins the pending layer when it can."""
        self.flush_fixed()
        layer_class = DiagonalLayer if op_class in Z_ROTATIONS else op_class  # Z rotations commute
        taken = {w for ws in self.pending_wires for w in ws}
        if self.pending_class is not layer_class or (layer_class is not DiagonalLayer and set(wires) & taken):
            self.flush_pending()
            self.pending_class, self.pending_name = layer_class, name
        self.pending_wires.append(wires)
        self.pending_index.append(index)

    def flush_pending(self) -> None:
        cls, wires, index = self.pending_class, tuple(self.pending_wires), self.pending_index
        if cls is DiagonalLayer:
            signs = np.stack([_z_string_signs(ws, self.n_qubits) for ws in wires], axis=1)
            self.layers.append(
                DiagonalLayer(torch.tensor([i[0] for i in index], dtype=torch.long), torch.from_numpy(signs))
            )
        elif cls is not None:
            group = self.groups.setdefault(cls, [])
            expr = einsum_expression(wires, self.n_qubits)
            index_tensor = torch.tensor(index, dtype=torch.long)
            self.layers.append(ParamLayer(cls, self.pending_name, wires, index_tensor, expr, start=len(group)))
            group += index
        self.pending_class, self.pending_wires, self.pending_index = None, [], []

    def flush_fixed(self) -> None:
        if self.fixed is not None:
            perm, phase = self.fixed
            self.layers.append(
                FixedLayer(torch.from_numpy(perm), None if np.allclose(phase, 1) else torch.from_numpy(phase))
            )
            self.fixed = None

    def flush(self) -> None:
        self.flush_pending()
        self.flush_fixed()

    def block(self, weight_shape: tuple[int, ...]) -> Block:
        self.flush()
        groups = tuple((cls, torch.tensor(index, dtype=torch.long)) for cls, index in self.groups.items())
        return Block(self.n_qubits, weight_shape, tuple(self.layers), groups)


#: The lock around PennyLane's queue of recorded operations, which the whole process shares
#: (two threads tracing at once, as models built in a threaded sweep do, would mix their gates).
QUEUE = threading.RLock()


@validate_params(
    template=TEMPLATE,
    weight_shape=Sequence_(COUNT),
    n_qubits=Int(1, MAX_QUBITS),
)
def trace(template: Callable, weight_shape: Sequence[int], n_qubits: int) -> Block:
    """The layers of ``template(weights, wires=range(n_qubits))`` (see the module doc).

    Raises :class:`NotCompilable` when a gate's parameters are not plain entries of the
    weights, or a gate cannot be decomposed into gates with matrices.
    """
    shape = tuple(weight_shape)
    tags = torch.arange(int(np.prod(shape)), dtype=torch.float64).reshape(shape)
    with QUEUE:
        try:
            tape = qml.tape.make_qscript(template)(tags, wires=range(n_qubits))
            gates = list(_traced_gates(tape))
        except NotCompilable:
            raise
        except Exception as err:  # a gate PennyLane cannot decompose or give a matrix for
            raise NotCompilable(
                f"{getattr(template, '__name__', template)!s} cannot be traced: "
                f"{type(err).__name__}: {str(err) or 'no message'}"
            ) from err
    builder = _Builder(n_qubits)
    for gate in gates:
        wires = tuple(int(w) for w in gate.wires)
        if gate.num_params == 0:
            try:
                matrix = np.asarray(gate.matrix(), dtype=np.complex128)
            except Exception as err:
                raise NotCompilable(f"{gate.name} on wires {list(wires)} has no matrix: {err}") from err
            builder.add_fixed(matrix, wires)
            continue
        if any(np.ndim(p) != 0 for p in gate.parameters):
            raise NotCompilable(f"{gate.name} on wires {list(wires)} takes a matrix, not plain weight entries")
        values = [float(p) for p in gate.parameters]
        if any(v != int(v) or not 0 <= v < tags.numel() for v in values):
            raise NotCompilable(f"{gate.name} on wires {wires} does not take plain weight entries")
        builder.add_trainable(type(gate), gate.name, wires, [int(v) for v in values])
    return builder.block(shape)
