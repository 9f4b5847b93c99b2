"""PennyLane's ``default.qubit`` under ``jax.jit`` (its documented fast set-up on a CPU: the JAX
interface, parameter broadcasting over the batch, the whole step or chunk compiled), for
``benchmarks/strongest_peer.py``. The circuit is the gate list traced from the template,
replayed gate by gate (the training step's is ``AngleEmbedding`` + ``StronglyEntanglingLayers``);
forward passes read probabilities or ``<Z_i>`` without gradients, a chunk per call. Runs in a
process of its own and imports no torch.

    python benchmarks/peer_pennylane_jax.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def qnode(qml, n_qubits: int, gates: list, readout: str):
    """circuit(x (B, n_inputs), w (n_weights,)) -> probabilities (B, 2**n) or ``<Z_i>`` (n values of (B,))."""

    @qml.qnode(qml.device("default.qubit", wires=n_qubits), interface="jax", diff_method="backprop")
    def circuit(x, w):
        for name, wires, params in gates:
            getattr(qml, name)(*[x[..., i] if kind == "x" else w[i] if kind == "w" else i for kind, i in params], wires)
        if readout == "probs":
            return qml.probs(wires=range(n_qubits))
        return [qml.expval(qml.PauliZ(i)) for i in range(n_qubits)]

    return circuit


def main(job: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import jax
    from peer_tcng import forward_chunks, pass_record, step_record

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import pennylane as qml

    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        circuit = qnode(qml, case["n_qubits"], case["gates"], case["readout"])
        w = jnp.asarray(arrays[case["w"]])
        if job["workload"] == "training":
            x, coeff = jnp.asarray(arrays[case["x"]]), jnp.asarray(arrays[case["coeff"]])
            step = jax.jit(jax.value_and_grad(lambda w, x: jnp.sum(circuit(x, w) @ coeff)))
            results.append(step_record(case, step, w, x, job["min_time"]))
            continue
        parts = [jnp.asarray(part) for part in forward_chunks(arrays, case)]
        forward = jax.jit(circuit if case["readout"] == "probs" else lambda x, w: jnp.stack(circuit(x, w), -1))
        results.append(pass_record(case, forward, w, parts, job["min_time"]))
    return {"versions": {"pennylane": qml.__version__, "jax": jax.__version__}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
