"""Qulacs (a C++ state-vector simulator with its own backpropagation), for
``benchmarks/strongest_peer.py``. Qulacs has no batching, so the step loops over the batch in
Python, one sample at a time, as its documentation's examples do. Runs in a process of its own.

The loss ``sum(probabilities @ c)`` with ``c = linspace(-1, 1, 2**n)`` (the benchmark's) is the
expectation of ``C = -sum_k 2**(n-1-k) / (2**n - 1) Z_k``, the observable Qulacs differentiates.
Qulacs' rotations turn the other way (``RX(t) = exp(+i t X / 2)``), so every angle is negated.

    python benchmarks/peer_qulacs.py JOB.json   # prints one JSON line: rates, outputs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(job: dict) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    import qulacs
    from peer_tcng import loss_and_grad, measured

    arrays = np.load(job["inputs"])
    results = []
    for case in job["cases"]:
        n = case["n_qubits"]
        x, w, coeff = arrays[case["x"]], arrays[case["w"]], arrays[case["coeff"]]
        if not np.allclose(coeff, np.linspace(-1, 1, 2**n)):
            raise ValueError("this peer's observable is written for c = linspace(-1, 1, 2**n)")
        observable = qulacs.Observable(n)
        for k in range(n):
            observable.add_operator(-(2 ** (n - 1 - k)) / (2**n - 1), f"Z {k}")
        circ = qulacs.ParametricQuantumCircuit(n)
        slots = []  # for each parametric gate: ("x" or "w", index)
        for name, wires, params in case["gates"]:
            turns = (
                [(wires[0], "Z", params[0]), (wires[0], "Y", params[1]), (wires[0], "Z", params[2])]
                if name == "Rot"
                else []
            )
            if name in ("RX", "RY", "RZ"):
                turns = [(wires[0], name[1], params[0])]
            if name == "CNOT":
                circ.add_CNOT_gate(*wires)
                continue
            if not turns:
                raise ValueError(f"gate {name} has no Qulacs counterpart here")
            for wire, axis, (kind, index) in turns:
                getattr(circ, f"add_parametric_R{axis}_gate")(wire, 0.0)
                slots.append((kind, index))
        weight_slots = [(j, index) for j, (kind, index) in enumerate(slots) if kind == "w"]
        for j, index in weight_slots:
            circ.set_parameter(j, -float(w[index]))
        input_slots = [(j, index) for j, (kind, index) in enumerate(slots) if kind == "x"]

        def work():
            loss, grad = 0.0, np.zeros(len(w))
            state = qulacs.QuantumState(n)
            for sample in x:
                for j, index in input_slots:
                    circ.set_parameter(j, -float(sample[index]))
                state.set_zero_state()
                circ.update_quantum_state(state)
                loss += observable.get_expectation_value(state)
                g = circ.backprop(observable)
                for j, index in weight_slots:
                    grad[index] -= g[j]  # the angle was negated
            return loss, grad

        results.append(measured(case, work, job["min_time"], loss_and_grad))
    from importlib.metadata import version

    return {"versions": {"qulacs": version("qulacs")}, "results": results}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        print(json.dumps(main(json.load(handle))))
