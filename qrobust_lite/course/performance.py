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
import time
from typing import Callable

import pennylane as qml
import torch

from .. import circuits, fastpath, quantum_patches

METHODS = ("qrobust_lite", "default.qubit", "lightning.qubit", "per-sample loop")
GPU_METHODS = ("lightning.gpu", "qrobust_lite (cuda)")


def samples_per_second(work: Callable[[], None], n_samples: int, min_time: float = 0.5,
                       max_repeats: int = 20) -> float:
    """Samples per second of ``work`` (which handles ``n_samples``), after one warm-up call."""
    work()
    repeats, start = 0, time.perf_counter()
    while repeats < max_repeats and (repeats == 0 or time.perf_counter() - start < min_time):
        work()
        repeats += 1
    return n_samples * repeats / (time.perf_counter() - start)


def encode_ry(x: torch.Tensor) -> torch.Tensor:
    """``qml.AngleEmbedding(rotation="Y")`` as a real product state, in x's precision."""
    return fastpath.angle_state(x, dtype=x.dtype)


def _qnode(device: str, n_qubits: int, diff_method: str | None, measure: str):
    wires = list(range(n_qubits))

    def circuit(inputs, weights):
        qml.AngleEmbedding(inputs, wires=wires, rotation="Y")
        circuits.entangling_ansatz(weights, wires=wires)
        if measure == "probs":
            return qml.probs(wires=wires)
        return [qml.expval(qml.PauliZ(w)) for w in wires]   # a list: see TorchLayer's tuple issue

    return qml.QNode(circuit, qml.device(device, wires=n_qubits), interface="torch",
                     diff_method=diff_method)


def training_step(method: str, n_qubits: int, batch_size: int = 256, n_layers: int = 4,
                  seed: int = 0) -> Callable[[], float]:
    """One forward and backward pass of a batch: returns the closure that does it (and returns
    the loss, a fixed linear function of the probabilities, except for the lightning methods)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (n_layers, n_qubits, 3)
    x = math.pi * torch.rand(batch_size, n_qubits, generator=gen, dtype=torch.float64)
    w = torch.rand(shape, generator=gen, dtype=torch.float64).requires_grad_()
    coeff = torch.linspace(-1, 1, 2 ** n_qubits, dtype=torch.float64)
    if method.startswith("qrobust_lite"):
        device = "cuda" if method.endswith("(cuda)") else "cpu"
        x, w, coeff = x.to(device), w.detach().to(device).requires_grad_(), coeff.to(device)
        block = fastpath.compile_block(circuits.entangling_ansatz, shape, n_qubits)

        def step():
            loss = (fastpath.born_probabilities(block, w, x, encode_ry) @ coeff).sum()
            loss.backward()
            return loss.item()
    elif method == "default.qubit":
        qnode = _qnode("default.qubit", n_qubits, "backprop", "probs")

        def step():
            loss = (qnode(x, w) @ coeff).sum()
            loss.backward()
            return loss.item()
    elif method == "per-sample loop":
        qnode = _qnode("default.qubit", n_qubits, "backprop", "probs")

        def step():
            total = 0.0
            for i in range(batch_size):   # deliberately the slow way, for comparison
                loss = qnode(x[i], w) @ coeff
                loss.backward()
                total += loss.item()
            return total
    elif method in ("lightning.qubit", "lightning.gpu"):
        qnode = _qnode(method, n_qubits, "adjoint", "expval")
        layer = qml.qnn.TorchLayer(qnode, {"weights": shape})
        layer.weights.data = w.detach().clone()

        def step():
            loss = layer(x).sum()     # sum of <Z_i>: adjoint gradients need expectation values
            loss.backward()
            return loss.item()
    else:
        raise ValueError(f"method must be one of {list(METHODS + GPU_METHODS)}, got {method!r}")
    return step


def label_forward(method: str, n_qubits: int, n_samples: int, n_layers: int = 4,
                  chunk: int = 4_096, seed: int = 0) -> Callable[[], torch.Tensor]:
    """Born-rule probabilities (n_samples, 2**n) without gradients (refining a dataset's labels)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (n_layers, n_qubits, 3)
    x = math.pi * torch.rand(n_samples, n_qubits, generator=gen, dtype=torch.float64)
    w = torch.rand(shape, generator=gen, dtype=torch.float64)
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

        def forward():
            return torch.stack([qnode(x[i], w) for i in range(n_samples)])   # the slow way
        return forward
    if method not in ("default.qubit", "lightning.qubit", "lightning.gpu"):
        raise ValueError(f"method must be one of {list(METHODS + GPU_METHODS)}, got {method!r}")
    qnode = _qnode(method, n_qubits, None, "probs")

    def forward():
        with torch.no_grad():
            return torch.cat([qnode(part, w) for part in x.split(chunk)])
    return forward


def patch_forward(method: str, n_images: int, seed: int = 0) -> Callable[[], object]:
    """Random-circuit patch channels of ``n_images`` 3x32x32 images (768 circuits each)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n_images, 3, 32, 32, generator=gen)
    if method == "qrobust_lite":
        return lambda: quantum_patches.rqc_patch_channels(images, seed=seed)
    weights = circuits.random_circuit_weights(1, 4, seed)
    patches = math.pi * quantum_patches.extract_patches(images).reshape(-1, 4).double()
    device = {"default.qubit": "default.qubit", "lightning.qubit": "lightning.qubit",
              "per-sample loop": "default.qubit"}.get(method)
    if device is None:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")

    @qml.qnode(qml.device(device, wires=4), interface="torch", diff_method=None)
    def circuit(x):
        qml.AngleEmbedding(x, wires=range(4), rotation="Y")
        circuits.random_circuit(weights, range(4), seed)
        return [qml.expval(qml.PauliZ(i)) for i in range(4)]

    if method == "per-sample loop":
        return lambda: [circuit(p) for p in patches]   # deliberately the slow way
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
