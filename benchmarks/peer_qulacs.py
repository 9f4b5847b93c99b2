"""Qulacs (a C++ state-vector simulator with its own backpropagation), for
``benchmarks/strongest_peer.py``. Qulacs has no batching, so the step and the forward passes
loop over the samples in Python, one at a time, as its documentation's examples do. Runs in a
process of its own.

The loss ``sum(probabilities @ c)`` with ``c = linspace(-1, 1, 2**n)`` (the benchmark's) is the
expectation of ``C = -sum_k 2**(n-1-k) / (2**n - 1) Z_k``, the observable Qulacs differentiates.
Forward passes read each sample's state vector; Qulacs orders it with qubit 0 as the least
significant bit, so it is reordered to PennyLane's order (``<Z_i>``: probabilities @ signs).
Qulacs' rotations turn the other way (``RX(t) = exp(+i t X / 2)``), so every angle is negated.

    python benchmarks/peer_qulacs.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def circuit(qulacs, n_qubits: int, gates: list):
    """The Qulacs circuit of a gate list, and for each of its parametric gates ("x" or "w",
    index); fixed angles are fixed gates."""
    circ = qulacs.ParametricQuantumCircuit(n_qubits)
    slots = []
    for name, wires, params in gates:
        if name == "CNOT":
            circ.add_CNOT_gate(*wires)
            continue
        if name not in ("Rot", "RX", "RY", "RZ"):
            raise ValueError(f"gate {name} has no Qulacs counterpart here")
        axes = "ZYZ" if name == "Rot" else name[1]
        for axis, (kind, value) in zip(axes, params):
            if kind == "c":
                getattr(circ, f"add_R{axis}_gate")(wires[0], -value)
            else:
                getattr(circ, f"add_parametric_R{axis}_gate")(wires[0], 0.0)
                slots.append((kind, value))
    return circ, slots


def main(job: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import qulacs
    from peer_tcng import first_rows, forward_chunks, loss_and_grad, measured, z_signs

    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        n, w = case["n_qubits"], arrays[case["w"]]
        circ, slots = circuit(qulacs, n, case["gates"])
        weight_slots = [(j, index) for j, (kind, index) in enumerate(slots) if kind == "w"]
        for j, index in weight_slots:
            circ.set_parameter(j, -float(w[index]))
        input_slots = [(j, index) for j, (kind, index) in enumerate(slots) if kind == "x"]
        state = qulacs.QuantumState(n)

        def run(sample) -> None:
            for j, index in input_slots:
                circ.set_parameter(j, -float(sample[index]))
            state.set_zero_state()
            circ.update_quantum_state(state)

        if job["workload"] == "training":
            x, coeff = arrays[case["x"]], arrays[case["coeff"]]
            if not np.allclose(coeff, np.linspace(-1, 1, 2**n)):
                raise ValueError("this peer's observable is written for c = linspace(-1, 1, 2**n)")
            observable = qulacs.Observable(n)
            for k in range(n):
                observable.add_operator(-(2 ** (n - 1 - k)) / (2**n - 1), f"Z {k}")

            def work():
                loss, grad = 0.0, np.zeros(len(w))
                for sample in x:
                    run(sample)
                    loss += observable.get_expectation_value(state)
                    g = circ.backprop(observable)
                    for j, index in weight_slots:
                        grad[index] -= g[j]  # the angle was negated
                return loss, grad

            results.append(measured(case, work, job["min_time"], loss_and_grad))
            continue
        parts, signs = forward_chunks(arrays, case), z_signs(n)
        order = np.arange(2**n).reshape((2,) * n).T.reshape(-1)  # PennyLane's index -> Qulacs'

        def probabilities(part) -> np.ndarray:
            out = np.empty((len(part), 2**n))
            for row, sample in enumerate(part):
                run(sample)
                out[row] = np.abs(state.get_vector()) ** 2
            return out[:, order]

        def forward():
            outputs = [probabilities(part) for part in parts]
            return outputs if case["readout"] == "probs" else [out @ signs for out in outputs]

        results.append(measured(case, forward, job["min_time"], first_rows(case)))
    from importlib.metadata import version

    return {"versions": {"qulacs": version("qulacs")}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
