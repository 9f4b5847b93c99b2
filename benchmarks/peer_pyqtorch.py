"""pyqtorch (Pasqal's torch state-vector simulator: batched parameters, torch autograd), for
``benchmarks/strongest_peer.py``. Runs in a process of its own; builds the circuit from the gate
list traced from the PennyLane template. Forward passes run a chunk of samples per call, as one
batch, without gradients, and read probabilities or ``<Z_i>`` (probabilities @ signs) from the
state.

    python benchmarks/peer_pyqtorch.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def circuit(pyq, n_qubits: int, gates: list):
    """The pyqtorch circuit of a gate list; inputs are parameters "x<i>", weights "w<i>", fixed
    angles numbers."""
    ops = []
    for name, wires, params in gates:
        names = [p[1] if p[0] == "c" else f"{p[0]}{p[1]}" for p in params]
        if name == "Rot":  # RZ(phi) RY(theta) RZ(omega), PennyLane's order
            ops += [pyq.RZ(wires[0], names[0]), pyq.RY(wires[0], names[1]), pyq.RZ(wires[0], names[2])]
        elif name in ("RX", "RY", "RZ"):
            ops.append(getattr(pyq, name)(wires[0], names[0]))
        elif name == "CNOT":
            ops.append(pyq.CNOT(*wires))
        else:
            raise ValueError(f"gate {name} has no pyqtorch counterpart here")
    return pyq.QuantumCircuit(n_qubits, ops)


def main(job: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import pyqtorch as pyq
    import torch
    from peer_tcng import first_rows, forward_chunks, loss_and_grad, measured, z_signs

    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        n = case["n_qubits"]
        circ = circuit(pyq, n, case["gates"])

        def run(x, weights):
            """Probabilities (B, 2**n) of the batch x (B, n_inputs)."""
            values = {f"x{i}": x[:, i] for i in range(x.shape[1])} | {f"w{i}": weights[i] for i in range(len(weights))}
            zero = pyq.zero_state(n, batch_size=len(x), dtype=torch.complex128)
            return (pyq.run(circ, zero, values).abs() ** 2).reshape(2**n, len(x)).T  # state: (2,) * n + (B,)

        if job["workload"] == "training":
            x, coeff = torch.as_tensor(arrays[case["x"]]), torch.as_tensor(arrays[case["coeff"]])
            w = torch.as_tensor(arrays[case["w"]]).clone().requires_grad_()

            def work():
                w.grad = None
                loss = (run(x, w) @ coeff).sum()
                loss.backward()
                return loss.item(), w.grad

            results.append(measured(case, work, job["min_time"], loss_and_grad))
            continue
        parts = [torch.as_tensor(part) for part in forward_chunks(arrays, case)]
        w, signs = torch.as_tensor(arrays[case["w"]]), torch.as_tensor(z_signs(n))

        def forward():
            with torch.no_grad():
                return [run(part, w) if case["readout"] == "probs" else run(part, w) @ signs for part in parts]

        results.append(measured(case, forward, job["min_time"], first_rows(case)))
    from importlib.metadata import version

    return {"versions": {"pyqtorch": version("pyqtorch")}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
