"""benchmarks/fast_path.py: its workers, the circuit it hands the peer, and the README table it
writes (speed itself is measured by the script, never by tests)."""

import json
import sys
from pathlib import Path

import pennylane as qml
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import fast_path  # noqa: E402


def test_the_readme_table_comes_from_the_stored_run():
    """``fast_path.py --docs`` is the only writer of the README's speed table."""
    results = json.loads(fast_path.RESULTS.read_text())
    assert fast_path.readme_block(results) in (ROOT / "README.md").read_text()
    for workload in ("training", "labels", "patches"):
        for method, per_size in results[workload].items():
            for result in per_size.values():
                assert result["rate"] > 0 and result["first_call_mib"] >= 0, (workload, method)
                if method in ("qrobust_lite", fast_path.PEER):  # compared before they count
                    assert result["max_difference"] <= results["tolerance"], (workload, method)


def test_the_peer_gets_the_same_circuit_as_a_gate_list():
    from qrobust_lite import circuits

    gates = fast_path.gate_list(circuits.entangling_ansatz, (1, 2, 3), 2)
    assert [g[0] for g in gates] == ["RY", "RY", "Rot", "Rot", "CNOT", "CNOT"]
    assert gates[0][2] == [["x", 0]] and gates[2][2] == [["w", 0], ["w", 1], ["w", 2]]
    weights = circuits.random_circuit_weights(1, 4, 0)
    fixed = fast_path.gate_list(lambda w, wires: circuits.random_circuit(w, wires, 0), (1, 4), 4, weights=weights)
    rotations = [g for g in fixed if g[0] in ("RX", "RY", "RZ") and g[2][0][0] == "c"]
    assert len(rotations) == 4 and {g[0] for g in fixed} <= {"RX", "RY", "RZ", "CNOT"}


def test_a_replay_of_the_gate_list_is_the_pennylane_circuit():
    """The gate list, applied gate by gate in PennyLane, gives the template's probabilities:
    what the peer builds is the circuit the other methods run."""
    from qrobust_lite import circuits

    x, w = torch.rand(3), torch.rand(2, 3, 3, dtype=torch.float64)
    gates = fast_path.gate_list(circuits.entangling_ansatz, (2, 3, 3), 3)
    flat = w.reshape(-1)

    @qml.qnode(qml.device("default.qubit", wires=3))
    def replay():
        for name, wires, params in gates:
            values = [x[i] if kind == "x" else flat[i] for kind, i in params]
            getattr(qml, name)(*values, wires=wires)
        return qml.probs(wires=range(3))

    @qml.qnode(qml.device("default.qubit", wires=3))
    def original():
        qml.AngleEmbedding(x, wires=range(3), rotation="Y")
        circuits.entangling_ansatz(w, wires=range(3))
        return qml.probs(wires=range(3))

    assert torch.allclose(replay(), original(), atol=1e-12)


@pytest.mark.parametrize("workload,size,batch", [("training", 2, 4), ("labels", 8, 8), ("patches", 4, 1)])
def test_a_worker_returns_a_rate_its_outputs_and_memory(workload, size, batch):
    job = {
        "method": "qrobust_lite",
        "workload": workload,
        "min_time": 0.0,
        "max_repeats": 1,
        "cases": [{"size": size, "n_qubits": size, "batch": batch, "check_rows": 2}],
    }
    (result,) = fast_path.torch_worker(job)["results"]
    assert result["rate"] > 0 and result["first_call_mib"] >= 0
    if workload == "training":
        assert len(result["check"]["grad"]) == 4 * size * 3
    else:
        assert len(result["check"]["values"]) == 2
