"""A block as a chain of Kronecker layers, with its gradient written out (book: appendix
*Performance*, paragraph "A chain of Kronecker layers"), and the Born rule after it.

When every layer of a traced block (:mod:`~qrobust_lite.tracing`) is a layer of rotations (RX,
RY or Rot, at most one per wire) or a fixed map of basis states (CNOT, CZ or SWAP rings), its
transposed unitary is a product of R small matrices, one per rotation layer::

    U.T = T_1 T_2 ... T_R,    T_r = (g_r0 (x) g_r1 (x) ... (x) g_r(n-1)).T [:, perm_r] * phase_r

with identity on the wires a layer leaves alone, and the fixed layers after a rotation layer
folded into its columns (``perm_r``, ``phase_r``). At 4-6 qubits these are 16x16 to 64x64
matrices, whose arithmetic takes microseconds; what a training step spends its time on is the
number of operations and autograd's bookkeeping for each. So the chain is built, and its
gradient taken, by hand in NumPy, whose calls cost about a third of torch's on arrays this small:

- forward: the 2x2 matrices of all rotations of a class from one cosine of all their angles, the
  Kronecker products of all layers together (each as that of its two halves of wires), one
  gather for every permutation, the products;
- backward, for the gradient G of U.T: factor r's gradient is ``Pre_r^H G Suf_r^H``
  (``Pre_r = T_1 ... T_(r-1)``, ``Suf_r = T_(r+1) ... T_R``), carried conjugated so that no
  conjugate copy of a matrix is made; it is split between the two halves, each half's peeled
  back one wire at a time to its 2x2 matrices, and the chain rule takes those to the angles
  (what each of these saved: the book's appendix).

:func:`chain_unitary_transpose` is a torch autograd function from the weights to U.T.
:func:`chain_probabilities` goes on to the Born rule for real input states (angle encoding with
RY), ``|psi @ U.T|**2``, with its gradient for the weights and the states, in the same NumPy
function: a training step then has one autograd node for its circuit instead of a dozen. Matrix
products from the sizes at which NumPy's BLAS would split them between threads go to torch
(``_product``): the two libraries' thread pools compete for the cores otherwise.

:func:`~qrobust_lite.fastpath.block_unitary_transpose` and
:func:`~qrobust_lite.fastpath.born_probabilities` use the chain on the CPU, in double precision,
when the block qualifies (:func:`chain_plan`) and has at most :data:`MAX_CHAIN_QUBITS` qubits;
the tests check it against ``default.qubit`` (``test_fastpath.py``) and against the
layer-by-layer path. RZ layers are traced as diagonal phases
(:class:`~qrobust_lite.tracing.DiagonalLayer`), so blocks with them keep the layer path, as do
blocks with parametrised two-qubit gates. In single precision (the random patch circuits) the
layer-by-layer path stays: its products come in another order, and a difference of 1e-7 in the
patches changes the models trained on them beyond what any seed shows; the patch circuits'
unitary is built once and cached, so they would gain nothing.

>>> import pennylane as qml
>>> from qrobust_lite import fastpath
>>> block = fastpath.compile_block(qml.StronglyEntanglingLayers, (2, 3, 3), n_qubits=3)
>>> weights = torch.rand(2, 3, 3, dtype=torch.float64, requires_grad=True)
>>> u_t = chain_unitary_transpose(block.chain, weights)
>>> bool(torch.allclose(u_t, fastpath.apply_layers(block, weights, torch.eye(8, dtype=torch.complex128))))
True
>>> (u_t.abs() ** 2)[0].sum().backward()                  # gradients flow to the weights
>>> weights.grad.shape
torch.Size([2, 3, 3])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .tracing import BLOCK, Block, FixedLayer, ParamLayer
from .validation import TENSOR, Instance, validate_params

#: The chain is used up to this many qubits. Its products cost R (2**n)**3 multiplications,
#: beyond 6 qubits more than applying the layers chunk by chunk (measured on 2 cores).
MAX_CHAIN_QUBITS = 6


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: NumPy arrays are neither
class RotationGroup:
    """The gates of one rotation class: ``index`` (G, P) their angles' positions in the flat
    weights, ``slots`` (G,) their places in the (R * n) grid of 2x2 matrices, and the class's
    table (``a``, ``shift``, ``left``, ``right``, ``sign``, as in ``fastpath._ROTATIONS``), with
    ``left``/``right`` also as one-hot matrices (8, k) for the backward, and ``conj_sign``,
    ``sign`` with the imaginary parts' signs flipped (the backward's gradients are conjugated)."""

    index: np.ndarray
    slots: np.ndarray
    a: np.ndarray
    shift: np.ndarray
    left: np.ndarray
    right: np.ndarray
    sign: np.ndarray
    left_hot: np.ndarray
    right_hot: np.ndarray
    conj_sign: np.ndarray


@dataclass(frozen=True, eq=False)
class ChainPlan:
    """What a block's chain needs besides the weights, computed once when it is compiled:
    ``gather``/``scatter`` (R * d * d,) move the Kronecker products' columns to their permuted
    places and back, ``phase`` (R, d) or ``None`` multiplies them; ``identities`` (R * n, 2, 2)
    is the grid of 2x2 matrices before the rotations are written in."""

    n_qubits: int
    n_factors: int
    n_weights: int
    groups: tuple[RotationGroup, ...]
    gather: np.ndarray
    scatter: np.ndarray
    phase: np.ndarray | None
    identities: np.ndarray


CHAIN = Instance(ChainPlan, "a ChainPlan (a compiled block's .chain)")


@validate_params(block=BLOCK)
def chain_plan(block: Block) -> ChainPlan | None:
    """The chain of a traced block, or ``None`` when it has more than :data:`MAX_CHAIN_QUBITS`
    qubits (its index arrays take R 4**n entries), no rotation layer, or a layer that is neither
    a layer of single-wire rotations of a class in ``fastpath._ROTATIONS`` nor a fixed map after
    one (such blocks keep the layer-by-layer path)."""
    from .fastpath import _ROTATIONS  # the closed-form rotations; fastpath imports this module

    if block.n_qubits > MAX_CHAIN_QUBITS:
        return None
    n = block.n_qubits
    d = 2**n
    perms: list[np.ndarray] = []
    phases: list[np.ndarray] = []
    slots: dict[type, dict[int, int]] = {}  # class -> {row in its group: slot}
    for layer in block.layers:
        if isinstance(layer, ParamLayer) and layer.op_class in _ROTATIONS and all(len(w) == 1 for w in layer.wires):
            rows = slots.setdefault(layer.op_class, {})
            for k, (wire,) in enumerate(layer.wires):
                rows[layer.start + k] = len(perms) * n + wire
            perms.append(np.arange(d))
            phases.append(np.ones(d, dtype=np.complex128))
        elif isinstance(layer, FixedLayer) and perms:
            perm = layer.perm.numpy()  # new[:, i] = phase[i] * old[:, perm[i]]
            perms[-1] = perms[-1][perm]
            phases[-1] = phases[-1][perm] * (1 if layer.phase is None else layer.phase.numpy())
        else:
            return None
    if not perms:
        return None
    groups = []
    for cls, index in block.groups:
        rows = slots[cls]
        a, shift, left, right, sign = (t.numpy() for t in _ROTATIONS[cls])
        order = np.array([rows[g] for g in range(len(index))])
        hot = np.eye(a.shape[1])
        conj_sign = sign * np.tile([1.0, -1.0], 4)  # entries are re00 im00 re01 ...: each Im flips
        groups.append(
            RotationGroup(index.numpy(), order, a, shift, left, right, sign, hot[left], hot[right], conj_sign)
        )
    r = len(perms)
    gather = (
        np.arange(r)[:, None, None] * d * d + np.arange(d)[None, :, None] * d + np.stack(perms)[:, None, :]
    ).ravel()
    scatter = np.empty_like(gather)
    scatter[gather] = np.arange(gather.size)
    phase = np.stack(phases)
    weights = int(np.prod(block.weight_shape))
    identities = np.broadcast_to(np.eye(2, dtype=np.complex128), (r * n, 2, 2)).copy()
    return ChainPlan(n, r, weights, tuple(groups), gather, scatter, None if np.all(phase == 1) else phase, identities)


#: NumPy's BLAS (OpenBLAS) splits a matrix product between threads from 64**3 multiply-adds on,
#: and a matrix-vector product from 4096 matrix entries; its threads then wait for the cores
#: that torch's threads hold (a 6-qubit step took 20 ms instead of 1.5). Products from these
#: sizes on go to torch, whose threads are its own.
THREADED_PRODUCT = 64**3
THREADED_VECTOR = 4096


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (2-D, or 3-D stacks): NumPy's below the sizes it would split between threads,
    where its calls cost least; torch's from there (its BLAS was also 1.5-4x faster here on
    64x64 and batch-256 products). A product with a vector on either side is a matrix-vector
    product, whose limit is the matrix's size."""
    rows, inner, columns = a.shape[-2], a.shape[-1], b.shape[-1]
    vector = rows == 1 or columns == 1
    if rows * inner * columns < THREADED_PRODUCT and not (vector and inner * max(rows, columns) >= THREADED_VECTOR):
        return a @ b
    return (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()


class _Chain(torch.autograd.Function):
    """weights -> U.T, with :func:`_forward` and :func:`_backward` (NumPy, on the CPU)."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, plan: ChainPlan) -> torch.Tensor:
        flat = weights.to(torch.float64).numpy(force=True).reshape(-1)
        u_t, saved = _forward(plan, flat)
        ctx.plan, ctx.saved, ctx.weight_shape, ctx.weight_dtype = plan, saved, weights.shape, weights.dtype
        return torch.from_numpy(u_t)

    @staticmethod
    @torch.autograd.function.once_differentiable  # a second derivative is refused, not wrong
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        flat = _backward(ctx.plan, ctx.saved, grad.numpy(force=True))
        return _weights_like(flat, ctx), None


class _ChainProbabilities(torch.autograd.Function):
    """(weights, real states psi) -> ``|psi @ U.T|**2``: the chain, then the Born rule, in NumPy.

    U.T (d, d) complex128 read as float64 (d, 2d) holds Re and Im of each column side by side,
    so the amplitudes are one real product ``a = psi @ U.T`` (B, 2d) and the probabilities the
    sums of its squared pairs. Backward, for the probabilities' gradient g (B, d): ``ga = 2 a g``
    (each g for a pair); U.T's gradient is ``psi.T @ ga`` read back as complex (torch's dL/dRe +
    i dL/dIm), which :func:`_backward` takes to the weights; the states' is ``ga @ U.T.T``."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, states: torch.Tensor, plan: ChainPlan) -> torch.Tensor:
        flat = weights.to(torch.float64).numpy(force=True).reshape(-1)
        u_t, saved = _forward(plan, flat)
        u = u_t.view(np.float64)
        psi = states.numpy(force=True)
        amplitudes = _product(psi, u)
        squares = amplitudes * amplitudes
        ctx.save_for_backward(states)  # the states are read again: torch checks nothing changed them
        ctx.plan, ctx.saved, ctx.weight_shape, ctx.weight_dtype = plan, saved, weights.shape, weights.dtype
        ctx.u, ctx.amplitudes = u, amplitudes
        return torch.from_numpy(squares[:, 0::2] + squares[:, 1::2])

    @staticmethod
    @torch.autograd.function.once_differentiable  # a second derivative is refused, not wrong
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        pairs = ctx.amplitudes.view(np.complex128)  # (B, d): each (Re, Im) pair times its 2 g
        grad_amplitudes = (pairs * (2 * grad.numpy(force=True))).view(np.float64)
        grad_weights = grad_states = None
        if ctx.needs_input_grad[0]:
            (states,) = ctx.saved_tensors
            grad_u = _product(states.numpy(force=True).T, grad_amplitudes).view(np.complex128)
            flat = _backward(ctx.plan, ctx.saved, grad_u)
            grad_weights = _weights_like(flat, ctx)
        if ctx.needs_input_grad[1]:
            grad_states = torch.from_numpy(_product(grad_amplitudes, ctx.u.T))
        return grad_weights, grad_states, None


def _weights_like(flat: np.ndarray, ctx: Any) -> torch.Tensor:
    """The weights' gradient from the flat float64 one, in the weights' shape and dtype."""
    grad = torch.from_numpy(flat.reshape(ctx.weight_shape))
    return grad if ctx.weight_dtype == torch.float64 else grad.to(ctx.weight_dtype)


def _kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kronecker products, r at once: (r, m, m) and (r, k, k) -> (r, m k, m k)."""
    size = a.shape[-1] * b.shape[-1]
    return (a[:, :, None, :, None] * b[:, None, :, None, :]).reshape(len(a), size, size)


def _krons(gates: np.ndarray) -> list[np.ndarray]:
    """The Kronecker products of the first 1, 2, ..., k of ``gates`` (r, k, 2, 2), each (r, m, m)."""
    krons = [gates[:, 0]]
    for q in range(1, gates.shape[1]):
        krons.append(_kron(krons[-1], gates[:, q]))
    return krons


def _forward(plan: ChainPlan, flat: np.ndarray) -> tuple[np.ndarray, tuple]:
    """U.T (d, d) complex128 and what the backward needs, from the flat weights (float64)."""
    n, r, d = plan.n_qubits, plan.n_factors, 2**plan.n_qubits
    grid = plan.identities.copy()  # identity on the wires a layer leaves alone
    trig = []
    for g in plan.groups:
        angles = flat[g.index] @ g.a + g.shift  # (G, k)
        t = np.cos(angles)
        tl, tr = t[:, g.left], t[:, g.right]
        entries = np.ascontiguousarray(tl * tr * g.sign)  # re00 im00 re01 ... (G, 8)
        grid[g.slots] = entries.view(np.complex128).reshape(-1, 2, 2)
        trig.append((angles, tl, tr))
    gates = grid.reshape(r, n, 2, 2).transpose(0, 1, 3, 2)  # transposed: the chain is of U.T
    # each layer's Kronecker product as that of its two halves, wires [0, half) and [half, n):
    # the last, largest product then runs over rows of 2**(n - half) entries, not of 2
    half = (n + 1) // 2
    high, low = _krons(gates[:, :half]), (_krons(gates[:, half:]) if half < n else [])
    kron = _kron(high[-1], low[-1]) if low else high[-1]
    factors = kron.reshape(-1)[plan.gather].reshape(r, d, d)
    if plan.phase is not None:
        factors = factors * plan.phase[:, None, :]
    prefix = [factors[0]]  # prefix[k] = T_1 ... T_(k+1)
    for k in range(1, r):
        prefix.append(_product(prefix[-1], factors[k]))
    return prefix[-1], (trig, gates, high, low, factors, prefix[:-1])


def _peel(grad: np.ndarray, krons: list[np.ndarray], gates: np.ndarray) -> np.ndarray:
    """From ``grad`` (r, m, m), the conjugate of the gradient of ``krons[-1]``, the conjugates of
    the gradients of ``gates`` (r, k, 2, 2): gate q is peeled off ``krons[q]`` = ``krons[q - 1]``
    (x) gate q, from the last back."""
    r, k = gates.shape[:2]
    out = np.empty((r, k, 2, 2), dtype=np.complex128)
    for q in range(k - 1, 0, -1):
        prev = krons[q - 1]
        m = prev.shape[-1]
        g5 = grad.reshape(r, m, 2, m, 2)  # rows (I, a), columns (J, b)
        by_gate = g5.transpose(0, 2, 4, 1, 3).reshape(r, 4, m * m)  # sum over I, J with prev
        out[:, q] = _product(by_gate, prev.reshape(r, m * m, 1)).reshape(r, 2, 2)
        by_prev = g5.transpose(0, 1, 3, 2, 4).reshape(r, m * m, 4)  # sum over a, b with gate q
        grad = _product(by_prev, gates[:, q].reshape(r, 4, 1)).reshape(r, m, m)
    out[:, 0] = grad
    return out


def _backward(plan: ChainPlan, saved: tuple, grad: np.ndarray) -> np.ndarray:
    """The flat weights' gradient (n_weights,) float64 from U.T's, ``grad`` (d, d) complex128
    (torch's convention: dL/dRe + i dL/dIm); ``saved`` is what :func:`_forward` returned.

    It carries the conjugates of the gradients: the conjugate of ``Pre^H G Suf^H`` is
    ``Pre^T conj(G) conj(Suf)^T``, a product of the forward's own matrices, so no conjugated
    copy of them is made."""
    trig, gates, high, low, factors, prefix = saved
    n, r, d = plan.n_qubits, plan.n_factors, 2**plan.n_qubits
    # factor k's gradient is Pre_k^H G Suf_k^H; from the last factor back, h = conj(G Suf_k^H)
    factor_grads = np.empty((r, d, d), dtype=np.complex128)
    h = np.conj(grad)
    for k in range(r - 1, 0, -1):
        factor_grads[k] = _product(prefix[k - 1].T, h)
        h = _product(h, factors[k].T)
    factor_grads[0] = h
    if plan.phase is not None:
        factor_grads = factor_grads * plan.phase[:, None, :]
    kron_grad = factor_grads.reshape(-1)[plan.scatter].reshape(r, d, d)
    if low:  # the two halves' gradients, then each half's gates
        a, b = high[-1], low[-1]
        da, db = a.shape[-1], b.shape[-1]
        by_half = kron_grad.reshape(r, da, db, da, db).transpose(0, 1, 3, 2, 4).reshape(r, da * da, db * db)
        grad_a = _product(by_half, b.reshape(r, db * db, 1)).reshape(r, da, da)
        grad_b = _product(by_half.transpose(0, 2, 1), a.reshape(r, da * da, 1)).reshape(r, db, db)
        half = len(high)
        gate_grads = np.concatenate([_peel(grad_a, high, gates[:, :half]), _peel(grad_b, low, gates[:, half:])], 1)
    else:
        gate_grads = _peel(kron_grad, high, gates)
    entries_grad = np.ascontiguousarray(gate_grads.transpose(0, 1, 3, 2)).reshape(r * n, 4).view(np.float64)
    out = np.zeros(plan.n_weights, dtype=np.float64)
    for g, (angles, tl, tr) in zip(plan.groups, trig):
        ge = entries_grad[g.slots] * g.conj_sign  # (G, 8): entry = sign * t[left] * t[right], Im conjugated
        t_grad = (ge * tr) @ g.left_hot + (ge * tl) @ g.right_hot  # (G, k)
        angle_grad = (-np.sin(angles) * t_grad) @ g.a.T  # (G, P)
        out += np.bincount(g.index.ravel(), weights=angle_grad.ravel(), minlength=plan.n_weights)
    return out


@validate_params(plan=CHAIN, weights=TENSOR)
def chain_unitary_transpose(plan: ChainPlan, weights: torch.Tensor) -> torch.Tensor:
    """U.T (2**n, 2**n) complex128 of a block from its chain and weights (a CPU tensor, read as
    float64 radians), differentiable in the weights."""
    _check_weights(plan, weights)
    return _Chain.apply(weights, plan)


def _check_weights(plan: ChainPlan, weights: torch.Tensor) -> None:
    """The chain's weights: a real floating-point CPU tensor of ``plan.n_weights`` entries."""
    if weights.device.type != "cpu":
        raise ValueError(f"weights must be on the CPU for the chain, got {weights.device}")
    if weights.is_complex() or not weights.is_floating_point():
        raise ValueError(f"weights must be a real floating-point tensor (radians), got {weights.dtype}")
    if weights.numel() != plan.n_weights:
        raise ValueError(f"weights must have {plan.n_weights} entries, got shape {tuple(weights.shape)}")


@validate_params(plan=CHAIN, weights=TENSOR, states=TENSOR)
def chain_probabilities(plan: ChainPlan, weights: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """Born probabilities ``|psi @ U.T|**2`` (B, 2**n) float64 of real states psi (B, 2**n)
    float64 after the chain, U from the weights (as in :func:`chain_unitary_transpose`): one
    autograd function, differentiable in the weights and the states.

    >>> import pennylane as qml
    >>> from qrobust_lite import circuits, fastpath
    >>> block = fastpath.compile_block(qml.StronglyEntanglingLayers, (2, 3, 3), n_qubits=3)
    >>> weights = torch.rand(2, 3, 3, dtype=torch.float64, requires_grad=True)
    >>> states = circuits.angle_state(torch.rand(5, 3, dtype=torch.float64), dtype=torch.float64)
    >>> probs = chain_probabilities(block.chain, weights, states)
    >>> u_t = chain_unitary_transpose(block.chain, weights)
    >>> bool(torch.allclose(probs, (states.to(torch.complex128) @ u_t).abs() ** 2))
    True
    """
    _check_weights(plan, weights)
    d = 2**plan.n_qubits
    if states.dtype != torch.float64 or states.device.type != "cpu" or states.ndim != 2 or states.shape[1] != d:
        raise ValueError(
            f"states must be a float64 CPU tensor of shape (B, {d}), got {states.dtype} {tuple(states.shape)} "
            f"on {states.device}"
        )
    return _ChainProbabilities.apply(weights, states.contiguous(), plan)
