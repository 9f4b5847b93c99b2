"""The fast path: the same PennyLane circuits, simulated with a few large torch operations
(book: appendix *Performance*).

At the sizes this course runs (4-12 qubits, batches of hundreds to tens of thousands), a
simulator spends its time on per-gate Python overhead, not arithmetic. The fast path removes
that overhead without changing the circuit:

1. **Trace once.** :func:`compile_block` reads the trainable block into a few layers
   (:mod:`~qrobust_lite.tracing`) and checks them against ``default.qubit``.
2. **Few operations.** A small circuit's time goes into the number of torch operations (each
   costs microseconds of overhead, and as much again in autograd), so everything that does not
   depend on the input is computed first, in as few of them as possible: the 2x2 matrices of
   all rotations of one kind from one cosine of all their angles (closed forms, not PennyLane's
   ``compute_matrix``); consecutive layers of single-qubit gates multiplied wire by wire into
   one 2x2 matrix per wire; and the gates of each run of 4-6 neighbouring wires multiplied out
   into one Kronecker-product matrix, for every layer of the block at once. The state then
   costs one matrix product per chunk of wires, one index permutation per ring of CNOTs and
   one phase per basis state for a ring of Z rotations.
3. **Encode as a Kronecker product.** Angle encoding is a product state: n vectors of length 2,
   multiplied out (:func:`~qrobust_lite.circuits.angle_state`). Amplitude encoding is the
   normalised feature vector itself (:func:`~qrobust_lite.circuits.amplitude_state`).
4. **One unitary for the whole batch, when it pays.** The block does not depend on the input,
   so for large batches it is applied once to the 2**n basis states, giving its unitary U, and
   the batch is one matrix product ``psi @ U.T``. For small batches applying the layers to the
   batch directly is cheaper; :func:`choose_strategy` picks by size.
5. **Small blocks by hand.** On the CPU in double precision, a block of up to 6 qubits made of
   rotation layers and fixed rings is a chain of small matrices whose gradient is written out
   in NumPy, with the Born rule for real states in the same function
   (:mod:`~qrobust_lite.kron_chain`): there the count of torch operations, not arithmetic, is
   what a step costs.

Everything is differentiable by torch autograd and runs on whatever device the tensors are on.
The tests check probabilities and gradients against ``default.qubit`` to 1e-5.

>>> import pennylane as qml
>>> block = compile_block(qml.StronglyEntanglingLayers, (2, 3, 3), n_qubits=3)
>>> state = torch.zeros(5, 8, dtype=torch.complex128)
>>> state[:, 0] = 1                                       # five times |000>
>>> probs = apply_block(block, torch.rand(2, 3, 3), state).abs() ** 2
>>> probs.shape, bool(torch.allclose(probs.sum(1), torch.ones(5, dtype=torch.float64)))
(torch.Size([5, 8]), True)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Sequence

import numpy as np
import pennylane as qml
import torch
from torch.utils.weak import WeakIdKeyDictionary

from .kron_chain import chain_plan, chain_probabilities, chain_unitary_transpose
from .tracing import (
    BLOCK,
    MAX_QUBITS,
    QUEUE,
    TEMPLATE,
    Block,
    DenseGate,
    DiagonalLayer,
    FixedLayer,
    NotCompilable,
    ParamLayer,
    trace,
)
from .validation import (
    COUNT,
    TENSOR,
    Anything,
    Array,
    Int,
    Optional,
    Options,
    Sequence_,
    validate_params,
)

STRATEGIES = ("auto", "direct", "unitary")


@validate_params(
    template=TEMPLATE,
    weight_shape=Sequence_(COUNT),
    n_qubits=Int(1, MAX_QUBITS),
)
def compile_block(template: Callable, weight_shape: Sequence[int], n_qubits: int) -> Block:
    """Trace ``template(weights, wires=range(n_qubits))`` into layers
    (:func:`~qrobust_lite.tracing.trace`) and check them against ``default.qubit``.

    ``template`` is any PennyLane template or function of (weights, wires) whose gates take
    entries of ``weights`` as their parameters, e.g. ``qml.StronglyEntanglingLayers``.
    Raises :class:`~qrobust_lite.tracing.NotCompilable` otherwise; the caller then simulates
    with PennyLane.
    """
    with QUEUE:  # the check runs a QNode, which records its gates on the same queue
        block = trace(template, weight_shape, n_qubits)
        for cls, index in block.groups:
            try:  # the fast path builds the matrices from the angles alone
                _gate_matrices(cls, torch.zeros(1, index.shape[1], dtype=torch.float64))
            except Exception as err:
                layer = next(layer for layer in block.layers if getattr(layer, "op_class", None) is cls)
                raise NotCompilable(
                    f"{layer.name} on wires {list(layer.wires[0])} cannot build its matrix from its angles "
                    f"alone ({type(err).__name__}: {str(err) or 'no message'})"
                ) from err
        _verify(block, template)
    return dataclasses.replace(block, chain=chain_plan(block))


def _verify(block: Block, template: Callable) -> None:
    """Check the traced block against default.qubit on random weights and two random states.

    Tracing reads parameters back by value, so a template that transforms its weights
    (``2 * w``, ``abs(w)``, ``relu(w)``) could be misread; this check catches that. The weights
    are drawn from [-3 pi, 3 pi), negatives and values beyond 2 pi included, where such
    transforms differ from the identity.
    """
    n = block.n_qubits
    gen = torch.Generator().manual_seed(1234)
    weights = (torch.rand(block.weight_shape, generator=gen, dtype=torch.float64) - 0.5) * 6 * np.pi
    states = torch.randn(2, 2**n, 2, generator=gen, dtype=torch.float64)
    states = torch.view_as_complex(states)
    states = states / states.norm(dim=1, keepdim=True)

    @qml.qnode(qml.device("default.qubit", wires=n), interface="torch")
    def reference(state, w):
        qml.StatePrep(state, wires=range(n))
        template(w, wires=range(n))
        return qml.state()

    expected = reference(states, weights)  # both states in one broadcast call
    if not torch.allclose(apply_layers(block, weights, states), expected, atol=1e-8):
        raise NotCompilable(
            "the traced gates do not reproduce the template; its gates must take plain entries of the weights"
        )


def _trig_table(a: list, left: list, right: list, sign: list) -> tuple[torch.Tensor, ...]:
    """A rotation's matrix entries as sign * t[left] * t[right], t = cos(params @ a + shift):
    ``a`` gives each t's angle (coefficients of the parameters, then the shift)."""
    t = torch.tensor(a, dtype=torch.float64)
    return t[:-1], t[-1], torch.tensor(left), torch.tensor(right), torch.tensor(sign, dtype=torch.float64)


_H = math.pi / 2
# t = (cos h, sin h, 1) with h = theta / 2; entries in the order re00, im00, re01, im01, re10, ...
_ONE_ANGLE = [[0.5, 0.5, 0.0], [0.0, -_H, 0.0]]
_ROTATIONS = {
    qml.RX: _trig_table(_ONE_ANGLE, [0, 0, 0, 1, 0, 1, 0, 0], [2] * 8, [1, 0, 0, -1, 0, -1, 1, 0]),
    qml.RY: _trig_table(_ONE_ANGLE, [0, 0, 1, 0, 1, 0, 0, 0], [2] * 8, [1, 0, -1, 0, 1, 0, 1, 0]),
    qml.RZ: _trig_table(_ONE_ANGLE, [0, 1, 0, 0, 0, 0, 0, 1], [2] * 8, [1, -1, 0, 0, 0, 0, 1, 1]),
    # Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi): t = (cos a, sin a, cos b, sin b,
    # cos h, sin h) with a = (phi + omega) / 2, b = (phi - omega) / 2, h = theta / 2
    qml.Rot: _trig_table(
        [
            [0.5, 0.5, 0.5, 0.5, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.5, 0.5],
            [0.5, 0.5, -0.5, -0.5, 0.0, 0.0],
            [0.0, -_H, 0.0, -_H, 0.0, -_H],
        ],
        [0, 1, 2, 3, 2, 3, 0, 1],
        [4, 4, 5, 5, 5, 5, 4, 4],
        [1, -1, -1, -1, 1, -1, 1, 1],
    ),
}


def _rotation_matrices(op_class: type, params: torch.Tensor) -> torch.Tensor | None:
    """(G, 2, 2) complex matrices of G rotations RX, RY, RZ or Rot from ``params`` (G, P)
    radians, or ``None`` for other gates: every entry from one cosine of all the angles
    (:data:`_ROTATIONS`). PennyLane's ``compute_matrix`` goes through its dispatch layer and
    costs several times more torch operations (what a small circuit's time is spent on)."""
    if op_class not in _ROTATIONS:
        return None
    a, shift, left, right, sign = _rotation_table(op_class, params.dtype, params.device)
    t = torch.cos(torch.addmm(shift, params, a))
    entries = t[:, left] * t[:, right] * sign
    return torch.view_as_complex(entries.view(-1, 4, 2)).view(-1, 2, 2)


@functools.lru_cache(maxsize=64)
def _rotation_table(op_class: type, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """:data:`_ROTATIONS`' table of ``op_class`` in ``dtype`` on ``device`` (made once)."""
    a, shift, left, right, sign = _ROTATIONS[op_class]
    return (a.to(device, dtype), shift.to(device, dtype), left.to(device), right.to(device), sign.to(device, dtype))


#: Copies of a block's constant tensors on other devices, made once (see :func:`_on`).
_DEVICE_COPIES: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _on(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A block's constant ``tensor`` (an index, permutation, phase or sign table, made on the CPU
    when the block was traced) on ``device``: itself there, else a copy made once and kept while
    the tensor lives. A copy from the host to a GPU makes the host wait for the GPU, so copying on
    every call would stall each step several times."""
    if tensor.device == device:
        return tensor
    copies = _DEVICE_COPIES.setdefault(tensor, {})
    if device not in copies:
        copies[device] = tensor.to(device)
    return copies[device]


def _gate_matrices(op_class: type, params: torch.Tensor) -> torch.Tensor:
    """Matrices (G, d, d) of G gates of ``op_class`` from their parameters (G, P), radians."""
    mats = _rotation_matrices(op_class, params)
    return op_class.compute_matrix(*params.T) if mats is None else mats  # type: ignore[attr-defined]


def _apply_matrices(
    state: torch.Tensor, mats: torch.Tensor, wires: Sequence[tuple[int, ...]], n_qubits: int, expr: str
) -> torch.Tensor:
    """Apply gates ``mats[g]`` (2**k, 2**k) on ``wires[g]`` to states (M, 2**n) in one einsum."""
    m = state.shape[0]
    operands = [mats[g].reshape((2,) * (2 * len(ws))) for g, ws in enumerate(wires)]
    out = torch.einsum(expr, state.reshape((m,) + (2,) * n_qubits), *operands)
    return out.reshape(m, 2**n_qubits)


@validate_params(n_qubits=Int(1, MAX_QUBITS))
def chunk_size(n_qubits: int) -> int:
    """Wires per Kronecker chunk: measured fastest on 2 CPU cores for 4-12 qubits."""
    return min(n_qubits, max(4, -(-n_qubits // 2)))


def _chunks(n_qubits: int) -> list[tuple[int, int]]:
    """(start, stop) of each run of :func:`chunk_size` neighbouring wires."""
    c = chunk_size(n_qubits)
    return [(start, min(n_qubits, start + c)) for start in range(0, n_qubits, c)]


def _chunk_krons(runs: torch.Tensor, n_qubits: int) -> list[tuple[torch.Tensor, ...]]:
    """Per chunk of wires, the Kronecker product of every run's gates on those wires:
    ``runs`` (S, n, 2, 2) -> for each chunk a tuple of S matrices (2**k, 2**k).

    The products of all S runs are formed together, one broadcast product per wire: what
    costs a small circuit its time is the number of torch operations, not their size.
    """
    out = []
    for start, stop in _chunks(n_qubits):
        kron = runs[:, start]
        for w in range(start + 1, stop):
            d = 2 * kron.shape[-1]
            kron = (kron[:, :, None, :, None] * runs[:, w, None, :, None, :]).reshape(-1, d, d)
        out.append(kron.unbind(0))
    return out


def _apply_chunk(state: torch.Tensor, kron: torch.Tensor, start: int, stop: int, n_qubits: int) -> torch.Tensor:
    """Apply ``kron`` (2**k, 2**k) on wires start..stop-1 to states (M, 2**n)."""
    m = state.shape[0]
    if stop == n_qubits:  # the chunk's wires are the last axis: one matrix product
        return (state.reshape(-1, 2 ** (stop - start)) @ kron.T).reshape(m, 2**n_qubits)
    view = state.reshape(m * 2**start, 2 ** (stop - start), 2 ** (n_qubits - stop))
    return torch.einsum("ajb,ij->aib", view, kron).reshape(m, 2**n_qubits)


@validate_params(block=BLOCK, weights=TENSOR, state=TENSOR)
def apply_layers(block: Block, weights: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Apply the block to states (M, 2**n) complex, layer by layer; returns (M, 2**n).

    Everything that does not depend on the state is computed first, in as few operations as
    possible: the matrices of all gates of one class in one call; each run of consecutive
    single-qubit layers (RX then RY then RX on every wire) multiplied wire by wire into one
    2x2 matrix per wire; and the Kronecker products of every run's gates on each chunk of
    :func:`chunk_size` wires, all runs at once. Each run then costs the state one matrix
    product per chunk it touches.
    """
    n = block.n_qubits
    flat = weights.reshape(-1).to(state.real.dtype)
    mats = {cls: _gate_matrices(cls, flat[_on(index, flat.device)]).to(state.dtype) for cls, index in block.groups}
    all_wires = tuple((w,) for w in range(n))
    runs: list[torch.Tensor] = []  # (n, 2, 2) per run of single-qubit layers
    program: list = []  # layers, and (run number, wires it touches)
    for layer in block.layers:
        if isinstance(layer, ParamLayer) and all(len(ws) == 1 for ws in layer.wires):
            gates = mats[layer.op_class][layer.start : layer.start + len(layer.wires)]
            if layer.wires != all_wires:  # identity on the wires without a gate
                eye = torch.eye(2, dtype=state.dtype, device=state.device).expand(n, 2, 2)
                wires = torch.tensor([w for (w,) in layer.wires], device=state.device)
                gates = eye.index_copy(0, wires, gates)
            touched = {w for (w,) in layer.wires}
            if program and isinstance(program[-1], tuple):  # join the run before it
                number, before = program[-1]
                runs[number] = gates @ runs[number]
                program[-1] = (number, before | touched)
            else:
                program.append((len(runs), touched))
                runs.append(gates)
        else:
            program.append(layer)
    krons = _chunk_krons(torch.stack(runs), n) if runs else []
    for step in program:
        if isinstance(step, tuple):
            number, touched = step
            for (start, stop), chunk in zip(_chunks(n), krons):
                if any(start <= w < stop for w in touched):
                    state = _apply_chunk(state, chunk[number], start, stop, n)
        elif isinstance(step, FixedLayer):
            state = state.index_select(1, _on(step.perm, state.device))
            if step.phase is not None:
                state = state * _on(step.phase, state.device).to(state.dtype)
        elif isinstance(step, DiagonalLayer):
            angles = _on(step.signs, flat.device).to(flat.dtype) @ flat[_on(step.index, flat.device)]  # (2**n,)
            state = state * torch.polar(torch.ones_like(angles), -0.5 * angles)
        elif isinstance(step, DenseGate):
            gate = _on(step.matrix, state.device).to(state.dtype)[None]
            state = _apply_matrices(state, gate, [step.wires], n, step.expr)
        else:
            gates = mats[step.op_class][step.start : step.start + len(step.wires)]
            state = _apply_matrices(state, gates, step.wires, n, step.expr)
    return state


@validate_params(block=BLOCK, weights=TENSOR, dtype=Options(torch.complex64, torch.complex128))
def block_unitary_transpose(block: Block, weights: torch.Tensor, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """U.T (2**n, 2**n) of the block: row j is U applied to basis state j.

    On the CPU in double precision, a block of rotation layers and fixed maps of up to
    :data:`~qrobust_lite.kron_chain.MAX_CHAIN_QUBITS` qubits is a chain of Kronecker layers with
    a written-out gradient (:mod:`~qrobust_lite.kron_chain`); otherwise the layers are applied to
    the 2**n basis states."""
    if _uses_chain(block, weights, dtype):
        return chain_unitary_transpose(block.chain, weights)
    eye = torch.eye(2**block.n_qubits, dtype=dtype, device=weights.device)
    return apply_layers(block, weights, eye)


def _uses_chain(block: Block, weights: torch.Tensor, dtype: torch.dtype) -> bool:
    """Whether the block's unitary is built as a chain of Kronecker layers: it has one, and the
    work is on the CPU, in double precision (``dtype`` complex128), from real weights."""
    on_cpu = weights.device.type == "cpu"
    return block.chain is not None and dtype == torch.complex128 and weights.is_floating_point() and on_cpu


@validate_params(n_qubits=Int(1, MAX_QUBITS), batch_size=COUNT)
def choose_strategy(n_qubits: int, batch_size: int) -> str:
    """``"unitary"`` when building U once costs less than applying the layers to the batch.

    Building U applies every layer to 2**n basis states and adds one (B, 2**n) x (2**n, 2**n)
    product, which runs at matrix-multiply speed; applying the layers directly touches
    B x 2**n amplitudes per layer. Measured here, U pays off once the batch is about four
    times the dimension 2**n (see ``benchmarks/fast_path.py``).
    """
    return "unitary" if batch_size >= 4 * 2**n_qubits else "direct"


@validate_params(block=BLOCK, weights=TENSOR, state=TENSOR, strategy=Options(*STRATEGIES))
def apply_block(block: Block, weights: torch.Tensor, state: torch.Tensor, strategy: str = "auto") -> torch.Tensor:
    """Output states (B, 2**n) of the block on input states (B, 2**n), real or complex."""
    if state.ndim != 2 or state.shape[1] != 2**block.n_qubits:
        raise ValueError(f"state must have shape (B, {2**block.n_qubits}), got {tuple(state.shape)}")
    if tuple(weights.shape) != block.weight_shape:
        raise ValueError(f"weights must have shape {block.weight_shape}, got {tuple(weights.shape)}")
    if not state.is_complex():
        state = state.to(torch.complex64 if state.dtype == torch.float32 else torch.complex128)
    if strategy == "auto":
        strategy = choose_strategy(block.n_qubits, state.shape[0])
    if strategy == "unitary":
        return state @ block_unitary_transpose(block, weights, state.dtype)
    return apply_layers(block, weights, state)


@validate_params(states=TENSOR, u_t=TENSOR, readout=Optional(TENSOR))
def real_state_probabilities(
    states: torch.Tensor, u_t: torch.Tensor, readout: torch.Tensor | None = None
) -> torch.Tensor:
    """Born probabilities ``|psi @ U.T|**2`` (B, 2**n) for real states psi (B, 2**n).

    For real psi, psi @ U.T = psi @ Re(U.T) + i psi @ Im(U.T): one real matrix product with
    [Re | Im] (half the arithmetic of a complex one), then the squares, in ``states``' precision.
    With ``readout`` (2**n, m), returns ``probabilities @ readout`` (e.g. <Z_i> with a sign
    matrix), folding the sum of the two squared halves into that product.
    """
    d = u_t.shape[0]
    parts = torch.view_as_real(u_t.resolve_conj()).permute(0, 2, 1).reshape(d, 2 * d)  # [Re | Im]
    squares = (states @ parts.to(states.dtype)).square()
    if readout is None:
        return squares.view(-1, 2, d).sum(dim=1)
    return squares @ torch.cat([readout, readout]).to(states.dtype)


@validate_params(
    block=BLOCK,
    weights=TENSOR,
    features=Array("features", ndim=2),
    encode=Anything("a function: a (b, F) slice of features -> states (b, 2**n)"),
    strategy=Options(*STRATEGIES),
    chunk=Optional(COUNT),
)
def born_probabilities(
    block: Block,
    weights: torch.Tensor,
    features: torch.Tensor,
    encode: Callable[[torch.Tensor], torch.Tensor],
    strategy: str = "auto",
    chunk: int | None = None,
) -> torch.Tensor:
    """Born-rule outcome probabilities (B, 2**n) of ``encode(features)`` followed by the block.

    ``encode`` maps a (b, F) slice of ``features`` to states (b, 2**n), real or complex
    (e.g. :func:`~qrobust_lite.circuits.angle_state`). With the ``"unitary"`` strategy U is built once and each
    slice of ``chunk`` rows (all rows when ``None``) costs one matrix product; a real state
    needs only a real product with [Re U.T | Im U.T]. Precision follows ``features``:
    float64 gives complex128 arithmetic, float32 complex64. With the ``"unitary"`` strategy, real
    double-precision states (RY angle or amplitude encoding) on the CPU in one slice, after a
    block that is a chain, take the chain and the Born rule as one NumPy function
    (:func:`~qrobust_lite.kron_chain.chain_probabilities`).
    """
    if tuple(weights.shape) != block.weight_shape:
        raise ValueError(f"weights must have shape {block.weight_shape}, got {tuple(weights.shape)}")
    complex_dtype = torch.complex64 if features.dtype == torch.float32 else torch.complex128
    parts = features.split(chunk) if chunk is not None and len(features) else (features,)
    first = encode(parts[0])  # every part is encoded once; the first also shows the width
    width = first.shape[-1]
    if width != 2**block.n_qubits:
        raise ValueError(
            f"features of shape {tuple(features.shape)} encode to states of {width} amplitudes; the block "
            f"acts on {block.n_qubits} qubits, 2**{block.n_qubits} = {2**block.n_qubits} amplitudes"
        )
    if not len(features):
        return torch.zeros(0, width, dtype=complex_dtype.to_real(), device=features.device)
    if strategy == "auto":
        strategy = choose_strategy(block.n_qubits, len(parts[0]))
    if strategy == "unitary" and len(parts) == 1 and first.dtype == torch.float64 and first.device.type == "cpu":
        if _uses_chain(block, weights, complex_dtype):  # the chain and the Born rule in one NumPy function
            return chain_probabilities(block.chain, weights, first)
    u_t = block_unitary_transpose(block, weights, complex_dtype) if strategy == "unitary" else None
    out = []
    for i, part in enumerate(parts):
        state = first if i == 0 else encode(part)
        if u_t is None:
            out.append(apply_layers(block, weights, state.to(complex_dtype)).abs() ** 2)
        elif state.is_complex():
            out.append((state.to(complex_dtype) @ u_t).abs() ** 2)
        else:
            out.append(real_state_probabilities(state.to(u_t.real.dtype), u_t))
    return out[0] if len(out) == 1 else torch.cat(out)
