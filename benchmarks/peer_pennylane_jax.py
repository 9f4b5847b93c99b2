"""PennyLane's ``default.qubit`` under ``jax.jit`` (its documented fast set-up on a CPU: the JAX
interface, parameter broadcasting over the batch, the whole step compiled), for
``benchmarks/strongest_peer.py``. Runs in a process of its own and imports no torch.

    python benchmarks/peer_pennylane_jax.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(job: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import jax
    from peer_tcng import loss_and_grad, measured

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import pennylane as qml

    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        n = case["n_qubits"]
        x, coeff = jnp.asarray(arrays[case["x"]]), jnp.asarray(arrays[case["coeff"]])
        w = jnp.asarray(arrays[case["w"]]).reshape(-1, n, 3)

        @qml.qnode(qml.device("default.qubit", wires=n), interface="jax", diff_method="backprop")
        def circuit(x, w):
            qml.AngleEmbedding(x, wires=range(n), rotation="Y")
            qml.StronglyEntanglingLayers(w, wires=range(n))
            return qml.probs(wires=range(n))

        step = jax.jit(jax.value_and_grad(lambda w, x: jnp.sum(circuit(x, w) @ coeff)))

        def work():
            loss, grad = step(w, x)
            return float(loss), grad.block_until_ready()

        results.append(measured(case, work, job["min_time"], loss_and_grad))
    return {"versions": {"pennylane": qml.__version__, "jax": jax.__version__}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
