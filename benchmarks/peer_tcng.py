"""The peer simulator of ``benchmarks/fast_path.py``: TensorCircuit-NG on JAX (jit + vmap, x64).

A job's ``config`` picks how TensorCircuit-NG is set up (``benchmarks/strongest_peer.py`` runs
all three): ``"vmap"``, its default greedy contractor, the circuit vmapped over the batch;
``"vmap-cotengra"``, the same with the cotengra contraction-path optimiser its documentation
recommends; ``"unitary-cotengra"``, the weight block's unitary built once per training step
or forward pass (with cotengra) and applied to the batch's encoded states by one matrix
product (a job whose gate list does not start with the encoding fails, saying so).

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


def load(config: str = "vmap"):
    import jax

    jax.config.update("jax_enable_x64", True)
    import tensorcircuit as tc

    backend = tc.set_backend("jax")
    tc.set_dtype("complex128")
    if config.endswith("cotengra"):  # TensorCircuit-NG's documented set-up for cotengra
        import cotengra as ctg

        optimizer = ctg.ReusableHyperOptimizer(
            methods=["greedy"], parallel=False, minimize="flops", max_time=20, max_repeats=128, progbar=False
        )
        tc.set_contractor("custom", optimizer=optimizer, preprocessing=True)
    return jax, tc, backend


def apply_gates(c, gates: list, x, w) -> None:
    """Append each (name, wires, parameters) of ``gates`` to circuit ``c``."""

    def value(p):
        return x[p[1]] if p[0] == "x" else w[p[1]] if p[0] == "w" else p[1]

    for name, wires, params in gates:
        v = [value(p) for p in params]
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


def z_signs(n_qubits: int) -> np.ndarray:
    """(2**n, n): <Z_i> = probabilities @ z_signs(n), wire 0 the most significant bit (PennyLane's order)."""
    bits = (np.arange(2**n_qubits)[:, None] >> np.arange(n_qubits - 1, -1, -1)) & 1
    return 1.0 - 2.0 * bits


def unitary_once(tc, jax, n_qubits: int, gates: list, readout: str):
    """``(unitary(w), outputs(u, x))``: the weight block's unitary by ``c.matrix()``, to build once
    per call, and the readout (probabilities, or <Z_i> through :func:`z_signs`) of the batch's
    encoded states, vmapped, after it: one matrix product for the whole batch."""
    encoding = [g for g in gates if any(p[0] == "x" for p in g[2])]
    block = gates[len(encoding) :]
    if gates[: len(encoding)] != encoding or any(p[0] == "x" for g in block for p in g[2]):
        raise ValueError("unitary once needs the encoding gates first and no input in the block")
    jnp = jax.numpy
    signs = jnp.asarray(z_signs(n_qubits))

    def state(x):
        c = tc.Circuit(n_qubits)
        apply_gates(c, encoding, x, None)
        return c.state()

    def unitary(w):
        c = tc.Circuit(n_qubits)
        apply_gates(c, block, None, w)
        return c.matrix()

    def outputs(u, x):
        probabilities = jnp.abs(jax.vmap(state)(x) @ u.T) ** 2
        return probabilities if readout == "probs" else probabilities @ signs

    return unitary, outputs


def circuit_function(tc, backend, n_qubits: int, gates: list, readout: str):
    """f(x (n_inputs,), w (n_weights,)) -> probabilities (2**n,) or <Z_i> (n,), from a gate
    list of (name, wires, parameters); a parameter is ["x", i], ["w", i] or ["c", value]."""

    def f(x, w):
        c = tc.Circuit(n_qubits)
        apply_gates(c, gates, x, w)
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


def measured(case: dict, work, min_time: float, check) -> dict:
    """One case's record for every peer script: ``work``'s first call timed apart (seconds, and
    its peak memory in MiB: compilation and path search are left out of the rate), then its rate
    over ``case["batch"]`` samples, and ``check(first result)`` for the comparison."""
    sys.path.insert(0, str(Path(__file__).parent))
    from fast_path import first_call  # plain Python: imports neither torch nor JAX

    first, memory, seconds = first_call(work)
    return {
        "size": case["size"],
        "batch": case["batch"],
        "rate": rate(work, case["batch"], min_time),
        "check": check(first),
        "first_call_mib": memory,
        "first_call_s": seconds,
    }


def loss_and_grad(result) -> dict:
    """A training step's (loss, gradient) as the comparison reads them."""
    return {"loss": float(result[0]), "grad": np.asarray(result[1]).reshape(-1).tolist()}


def step_record(case: dict, step, w, x, min_time: float) -> dict:
    """A training case's record: ``step(w, x)`` -> (loss, gradient), compiled on its first call."""

    def work():
        loss, grad = step(w, x)
        return float(loss), grad.block_until_ready()

    return measured(case, work, min_time, loss_and_grad)


def pass_record(case: dict, forward, w, parts: list, min_time: float) -> dict:
    """A forward case's record: ``forward(part, w)`` on every chunk of the pass."""

    def work():
        return [forward(part, w).block_until_ready() for part in parts]

    return measured(case, work, min_time, first_rows(case))


def forward_chunks(arrays, case: dict) -> list[np.ndarray]:
    """A forward case's circuit inputs in chunks of ``case["chunk"]`` rows: the first
    ``case["rows"]`` rows of its x (all without "rows"; a patch pass's sample, an image, is 768)."""
    x = arrays[case["x"]][: case.get("rows")]
    return [x[i : i + case["chunk"]] for i in range(0, len(x), case["chunk"])]


def first_rows(case: dict):
    """``check`` of a forward pass whose work returns its outputs chunk by chunk."""
    return lambda chunks: {"values": np.asarray(chunks[0][: case["check_rows"]]).tolist()}


def main(job: dict) -> dict:
    config = job.get("config", "vmap")
    once = config.startswith("unitary")
    jax, tc, backend = load(config)
    jnp = jax.numpy
    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        n, gates, w = case["n_qubits"], case["gates"], jnp.asarray(arrays[case["w"]])
        if once:
            unitary, outputs = unitary_once(tc, jax, n, gates, case["readout"])
        else:
            batched = jax.vmap(circuit_function(tc, backend, n, gates, case["readout"]), in_axes=(0, None))
        if job["workload"] == "training":
            x, coeff = jnp.asarray(arrays[case["x"]]), jnp.asarray(arrays[case["coeff"]])
            if once:
                step = jax.jit(jax.value_and_grad(lambda w, x: jnp.sum(outputs(unitary(w), x) @ coeff)))
            else:
                step = jax.jit(jax.value_and_grad(lambda w, x: jnp.sum(batched(x, w) @ coeff)))
            results.append(step_record(case, step, w, x, job["min_time"]))
            continue
        parts = [jnp.asarray(part) for part in forward_chunks(arrays, case)]
        if not once:
            results.append(pass_record(case, jax.jit(batched), w, parts, job["min_time"]))
            continue
        build, apply = jax.jit(unitary), jax.jit(outputs)

        def work():
            u = build(w)  # once per pass, for every chunk
            return [apply(u, part).block_until_ready() for part in parts]

        results.append(measured(case, work, job["min_time"], first_rows(case)))
    return {"versions": {"tensorcircuit-ng": tc.__version__, "jax": jax.__version__}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
