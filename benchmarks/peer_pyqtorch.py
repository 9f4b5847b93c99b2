"""pyqtorch (Pasqal's torch state-vector simulator: batched parameters, torch autograd), for
``benchmarks/strongest_peer.py``. Runs in a process of its own; builds the circuit from the gate
list traced from the PennyLane template.

    python benchmarks/peer_pyqtorch.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
import time
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
    from fast_path import first_call
    from peer_tcng import rate

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

        start = time.perf_counter()
        (loss, grad), memory = first_call(work)
        compile_seconds = time.perf_counter() - start
        results.append(
            {
                "size": case["size"],
                "rate": rate(work, batch, job["min_time"]),
                "check": {"loss": loss, "grad": grad.tolist()},
                "first_call_mib": memory,
                "first_call_s": compile_seconds,
            }
        )
    from importlib.metadata import version

    return {"versions": {"pyqtorch": version("pyqtorch")}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
