"""Side-by-side speed measurements of ways to simulate the course's circuits (book: appendix
*Performance*; the full table: ``python benchmarks/fast_path.py``).

Each workload is built once per method and returns a closure that does one unit of work;
:func:`samples_per_second` times it. All methods run the same circuit: ``AngleEmbedding``
(RY) followed by ``n_layers`` of :func:`~qrobust_lite.circuits.entangling_ansatz`.

Methods:

- ``qrobust_lite``: :mod:`qrobust_lite.fastpath` (add ``" (cuda)"`` to run it on a GPU);
- ``default.qubit``: PennyLane with backprop and parameter broadcasting (one call per batch);
- ``lightning.qubit`` / ``lightning.gpu``: adjoint gradients through ``qml.qnn.TorchLayer``
  (these devices run a broadcast batch one sample at a time);
- ``per-sample loop``: one ``default.qubit`` QNode call per sample.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import pennylane as qml
import torch

from .. import backend, circuits, fastpath, quantum_patches, tracing
from ..validation import CALLABLE, COUNT, FEATURES, IMAGE_BATCH, NON_NEGATIVE, SEED, Int, Options, validate_params

METHODS = ("qrobust_lite", "default.qubit", "lightning.qubit", "per-sample loop")
GPU_METHODS = ("lightning.gpu", "qrobust_lite (cuda)")


QUBITS = Int(1, tracing.MAX_QUBITS)
ALL_METHODS = Options(*METHODS, *GPU_METHODS)


@validate_params(work=CALLABLE, n_samples=COUNT, min_time=NON_NEGATIVE, max_repeats=COUNT)
def samples_per_second(work: Callable[[], None], n_samples: int, min_time: float = 0.5, max_repeats: int = 20) -> float:
    """Samples per second of ``work`` (which handles ``n_samples``), after one warm-up call."""
    work()
    repeats, start = 0, time.perf_counter()
    while repeats < max_repeats and (repeats == 0 or time.perf_counter() - start < min_time):
        work()
        repeats += 1
    return n_samples * repeats / (time.perf_counter() - start)


@validate_params(work=CALLABLE, baseline=CALLABLE, n_samples=COUNT, pairs=Int(3, 101), min_time=NON_NEGATIVE)
def paired_ratio(
    work: Callable[[], object], baseline: Callable[[], object], n_samples: int, pairs: int = 5, min_time: float = 0.2
) -> dict:
    """How many times faster ``work`` is than ``baseline`` (both handle ``n_samples``), measured so
    that other work on the machine cancels out as far as it can: the two are timed in turn,
    ``pairs`` times, and the ratio is the median of the pairs' ratios (a slow spell hits both
    members of a pair alike). Returns ``{"ratio", "low", "high"}`` (the median, and the smallest
    and largest pair), ``{"work", "baseline"}`` (median samples/s) and ``"others"``: how many
    cores other processes kept busy on average while it timed (from ``/proc/stat``, less this
    process's own CPU time; NaN where that file is missing). Above about 0.25 they competed.

    >>> r = paired_ratio(lambda: sum(range(100)), lambda: sum(range(1000)), 1, pairs=3, min_time=0.01)
    >>> r["ratio"] > 1 and r["low"] <= r["ratio"] <= r["high"]
    True
    """
    start = backend.cpu_seconds()
    rates = [
        (samples_per_second(work, n_samples, min_time), samples_per_second(baseline, n_samples, min_time))
        for _ in range(pairs)
    ]
    others = backend.others_busy(start, backend.cpu_seconds())
    ratios = sorted(a / b for a, b in rates)
    return {
        "ratio": statistics.median(ratios),
        "low": ratios[0],
        "high": ratios[-1],
        "work": statistics.median(a for a, _ in rates),
        "baseline": statistics.median(b for _, b in rates),
        "others": others,
    }


@validate_params(x=FEATURES)
def encode_ry(x: torch.Tensor) -> torch.Tensor:
    """``qml.AngleEmbedding(rotation="Y")`` as a real product state, in x's precision."""
    return circuits.angle_state(x, dtype=x.dtype)


def _qnode(device: str, n_qubits: int, diff_method: str | None, measure: str):
    wires = list(range(n_qubits))

    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=wires, rotation="Y")
        circuits.entangling_ansatz(weights, wires=wires)
        if measure == "probs":
            return qml.probs(wires=wires)
        return [qml.expval(qml.PauliZ(w)) for w in wires]  # a list: see TorchLayer's tuple issue

    return qml.QNode(circuit, qml.device(device, wires=n_qubits), interface="torch", diff_method=diff_method)


@validate_params(n_qubits=QUBITS, batch_size=COUNT, n_layers=COUNT, seed=SEED)
def training_inputs(
    n_qubits: int, batch_size: int = 256, n_layers: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training step's data, the same for every method: angles x (B, n) in [0, pi),
    weights (n_layers, n, 3) in [0, 1) and the loss coefficients c (2**n,), float64. The
    weights are drawn first, so a smaller batch gets the same weights and the first rows of x."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.rand((n_layers, n_qubits, 3), generator=gen, dtype=torch.float64)
    x = math.pi * torch.rand(batch_size, n_qubits, generator=gen, dtype=torch.float64)
    return x, w, torch.linspace(-1, 1, 2**n_qubits, dtype=torch.float64)


@validate_params(method=ALL_METHODS, n_qubits=QUBITS, batch_size=COUNT, n_layers=COUNT, seed=SEED)
def training_step(
    method: str, n_qubits: int, batch_size: int = 256, n_layers: int = 4, seed: int = 0
) -> Callable[[], tuple[float, torch.Tensor | None]]:
    """One forward and backward pass of a batch: returns the closure that does it. The closure
    returns the loss, ``sum(probabilities @ c)`` over the batch, and its gradient w.r.t. the
    weights (n_layers, n, 3); the lightning methods use the sum of ``<Z_i>`` instead (adjoint
    gradients need expectation values)."""
    x, w, coeff = training_inputs(n_qubits, batch_size, n_layers, seed)
    w.requires_grad_()
    shape = tuple(w.shape)

    def backward(loss: torch.Tensor, weights: torch.Tensor) -> tuple[float, torch.Tensor | None]:
        weights.grad = None
        loss.backward()
        return loss.item(), weights.grad

    if method.startswith("qrobust_lite"):
        device = "cuda" if method.endswith("(cuda)") else "cpu"
        x, w, coeff = x.to(device), w.detach().to(device).requires_grad_(), coeff.to(device)
        block = fastpath.compile_block(circuits.entangling_ansatz, shape, n_qubits)
        return lambda: backward((fastpath.born_probabilities(block, w, x, encode_ry) @ coeff).sum(), w)
    if method == "default.qubit":
        qnode = _qnode("default.qubit", n_qubits, "backprop", "probs")
        return lambda: backward((qnode(x, w) @ coeff).sum(), w)
    if method == "per-sample loop":
        qnode = _qnode("default.qubit", n_qubits, "backprop", "probs")
        # deliberately the slow way, for comparison: one circuit call per sample
        return lambda: backward(sum(qnode(x[i], w) @ coeff for i in range(batch_size)), w)
    qnode = _qnode(method, n_qubits, "adjoint", "expval")  # lightning.qubit or lightning.gpu
    layer = qml.qnn.TorchLayer(qnode, {"weights": shape})
    layer.weights.data = w.detach().clone()
    return lambda: backward(layer(x).sum(), layer.weights)  # sum of <Z_i>


@validate_params(method=ALL_METHODS, n_qubits=QUBITS, n_samples=COUNT, n_layers=COUNT, chunk=COUNT, seed=SEED)
def label_forward(
    method: str, n_qubits: int, n_samples: int, n_layers: int = 4, chunk: int = 4_096, seed: int = 0
) -> Callable[[], torch.Tensor]:
    """Born-rule probabilities (n_samples, 2**n) without gradients (refining a dataset's
    labels), of the angles and weights of :func:`training_inputs` (batch ``n_samples``)."""
    x, w, _ = training_inputs(n_qubits, n_samples, n_layers, seed)
    shape = tuple(w.shape)
    if method.startswith("qrobust_lite"):
        device = "cuda" if method.endswith("(cuda)") else "cpu"
        x, w = x.to(device), w.to(device)
        block = fastpath.compile_block(circuits.entangling_ansatz, shape, n_qubits)

        def forward():
            with torch.no_grad():
                return fastpath.born_probabilities(block, w, x, encode_ry, chunk=chunk)

        return forward
    if method == "per-sample loop":
        qnode = _qnode("default.qubit", n_qubits, None, "probs")

        def loop():
            return torch.stack([qnode(x[i], w) for i in range(n_samples)])  # the slow way

        return loop
    qnode = _qnode(method, n_qubits, None, "probs")

    def batched():
        with torch.no_grad():
            return torch.cat([qnode(part, w) for part in x.split(chunk)])

    return batched


@validate_params(n_images=COUNT, seed=SEED)
def patch_inputs(n_images: int, seed: int = 0) -> torch.Tensor:
    """Random 3x32x32 images (N, 3, 32, 32), float32 in [0, 1), the same for every method."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n_images, 3, 32, 32, generator=gen)


@validate_params(images=IMAGE_BATCH)
def patch_angles(images: torch.Tensor) -> torch.Tensor:
    """The encoding angles of every patch, (N * C * H/2 * W/2, 4) float64: pi times its pixels,
    patch by patch in :func:`~qrobust_lite.quantum_patches.extract_patches`' order."""
    return math.pi * quantum_patches.extract_patches(images).reshape(-1, 4).double()


@validate_params(method=Options(*METHODS), n_images=COUNT, seed=SEED)
def patch_forward(method: str, n_images: int, seed: int = 0) -> Callable[[], object]:
    """Random-circuit patch channels of ``n_images`` 3x32x32 images (768 circuits each) of
    :func:`patch_inputs`: (N, 12, 16, 16) for the fast path, the four lists of ``<Z_i>`` of
    every patch for PennyLane's devices."""
    images = patch_inputs(n_images, seed)
    if method == "qrobust_lite":
        return lambda: quantum_patches.rqc_patch_channels(images, seed=seed)
    weights = circuits.random_circuit_weights(1, 4, seed)
    patches = patch_angles(images)
    device = "default.qubit" if method == "per-sample loop" else method

    @qml.qnode(qml.device(device, wires=4), interface="torch", diff_method=None)
    def circuit(x):
        qml.AngleEmbedding(x, wires=range(4), rotation="Y")
        circuits.random_circuit(weights, range(4), seed)
        return [qml.expval(qml.PauliZ(i)) for i in range(4)]

    if method == "per-sample loop":
        return lambda: [circuit(p) for p in patches]  # deliberately the slow way
    return lambda: circuit(patches)


def cuda_methods() -> tuple[str, ...]:
    """The GPU methods usable here: none without a CUDA device."""
    from ..backend import probe_lightning_gpu

    found = []
    if probe_lightning_gpu() is None:
        found.append("lightning.gpu")
    if torch.cuda.is_available():
        found.append("qrobust_lite (cuda)")
    return tuple(found)
