"""pyqtorch (Pasqal's torch state-vector simulator: batched parameters, torch autograd), for
``benchmarks/strongest_peer.py``. Runs in a process of its own; builds the circuit from the gate
list traced from the PennyLane template.

    python benchmarks/peer_pyqtorch.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def circuit(pyq, n_qubits: int, gates: list):
    """The pyqtorch circuit of a gate list; inputs are parameters "x<i>", weights "w<i>"."""
    ops = []
    for name, wires, params in gates:
        names = [f"{p[0]}{p[1]}" for p in params]
        if any(p[0] == "c" for p in params):
            raise ValueError("fixed angles are not needed for the training step")
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
    from peer_tcng import loss_and_grad, measured

    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        n, batch = case["n_qubits"], case["batch"]
        circ = circuit(pyq, n, case["gates"])
        x = torch.as_tensor(arrays[case["x"]])
        w = torch.as_tensor(arrays[case["w"]]).clone().requires_grad_()
        coeff = torch.as_tensor(arrays[case["coeff"]])
        zero = pyq.zero_state(n, batch_size=batch, dtype=torch.complex128)

        def work():
            w.grad = None
            values = {f"x{i}": x[:, i] for i in range(n)} | {f"w{i}": w[i] for i in range(len(w))}
            state = pyq.run(circ, zero, values)  # (2,) * n + (batch,)
            loss = ((state.abs() ** 2).reshape(2**n, batch).T @ coeff).sum()
            loss.backward()
            return loss.item(), w.grad

        results.append(measured(case, work, job["min_time"], loss_and_grad))
    from importlib.metadata import version

    return {"versions": {"pyqtorch": version("pyqtorch")}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
