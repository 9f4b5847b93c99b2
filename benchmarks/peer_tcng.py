"""The peer simulator of ``benchmarks/fast_path.py``: TensorCircuit-NG on JAX (jit + vmap, x64).

Run by fast_path.py in a process of its own (importing JAX into a torch process slows torch
by about 1.7x here), never imported by the package. It imports neither torch nor PennyLane:
the circuit arrives as a gate list traced from the PennyLane template, the inputs as arrays.

    python benchmarks/peer_tcng.py JOB.json     # prints one JSON line: rates and outputs
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def load():
    import jax

    jax.config.update("jax_enable_x64", True)
    import tensorcircuit as tc

    backend = tc.set_backend("jax")
    tc.set_dtype("complex128")
    return jax, tc, backend


def circuit_function(tc, backend, n_qubits: int, gates: list, readout: str):
    """f(x (n_inputs,), w (n_weights,)) -> probabilities (2**n,) or <Z_i> (n,), from a gate
    list of (name, wires, parameters); a parameter is ["x", i], ["w", i] or ["c", value]."""

    def value(p, x, w):
        return x[p[1]] if p[0] == "x" else w[p[1]] if p[0] == "w" else p[1]

    def f(x, w):
        c = tc.Circuit(n_qubits)
        for name, wires, params in gates:
            v = [value(p, x, w) for p in params]
            if name == "Rot":  # RZ(omega) RY(theta) RZ(phi)
                c.rz(wires[0], theta=v[0])
                c.ry(wires[0], theta=v[1])
                c.rz(wires[0], theta=v[2])
            elif name in ("RX", "RY", "RZ"):
                getattr(c, name.lower())(wires[0], theta=v[0])
            elif name == "CNOT":
                c.cnot(*wires)
            elif name == "IsingZZ":
                c.rzz(*wires, theta=v[0])
            else:
                raise ValueError(f"gate {name} has no TensorCircuit-NG counterpart here")
        if readout == "probs":
            return backend.real(c.probability())
        return backend.stack([backend.real(c.expectation_ps(z=[i])) for i in range(n_qubits)])

    return f


def rate(work, n_samples: int, min_time: float) -> float:
    """Samples per second of ``work`` (after its first call, which compiles)."""
    repeats, start = 0, time.perf_counter()
    while repeats == 0 or time.perf_counter() - start < min_time:
        work()
        repeats += 1
    return n_samples * repeats / (time.perf_counter() - start)


def main(job: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from fast_path import first_call  # plain Python: imports neither torch nor JAX

    jax, tc, backend = load()
    jnp = jax.numpy
    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        f = circuit_function(tc, backend, case["n_qubits"], case["gates"], case["readout"])
        batched = jax.vmap(f, in_axes=(0, None))
        x, w = jnp.asarray(arrays[case["x"]]), jnp.asarray(arrays[case["w"]])
        if job["workload"] == "training":
            coeff = jnp.asarray(arrays[case["coeff"]])
            step = jax.jit(jax.value_and_grad(lambda w, x: jnp.sum(batched(x, w) @ coeff)))

            def work():
                loss, grad = step(w, x)
                return float(loss), grad.block_until_ready()

            (loss, grad), memory = first_call(work)
            out = {"loss": loss, "grad": np.asarray(grad).tolist()}
        else:
            forward, chunk = jax.jit(batched), case["chunk"]
            parts = [x[i : i + chunk] for i in range(0, len(x), chunk)]

            def work():
                return [forward(part, w).block_until_ready() for part in parts]

            values, memory = first_call(work)
            out = {"values": np.asarray(values[0][: case["check_rows"]]).tolist()}
        speed = rate(work, case["batch"], job["min_time"])  # batch: samples (images) x holds
        results.append({"size": case["size"], "rate": speed, "check": out, "first_call_mib": memory})
    return {"versions": {"tensorcircuit-ng": tc.__version__, "jax": jax.__version__}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
