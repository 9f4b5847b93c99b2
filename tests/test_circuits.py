"""qrobust_lite.circuits: batched evaluation equals per-sample evaluation, and validation."""

import pennylane as qml
import pytest
import torch

from qrobust_lite import circuits
from qrobust_lite.circuits import (
    VQC,
    angle_encoding,
    ansatz_shape,
    class_probabilities,
    entangling_ansatz,
    outcome_to_class,
)


@pytest.mark.parametrize("encoding,n_features", [("angle", 4), ("amplitude", 12)])
def test_batch_of_256_matches_per_sample_evaluation(encoding, n_features):
    torch.manual_seed(0)
    model = VQC(n_qubits=4, n_layers=3, n_classes=10, encoding=encoding, device="default.qubit")
    x = torch.rand(256, n_features, dtype=torch.float64) * 3
    batched = model(x)
    single = torch.cat([model(x[i : i + 1]) for i in range(len(x))])
    assert batched.shape == (256, 10)
    assert torch.allclose(batched, single, atol=1e-6, rtol=0)
    assert torch.allclose(batched.sum(1), torch.ones(256, dtype=torch.float64))


def test_batched_gradients_match_per_sample_gradients():
    model = VQC(3, 2, 2, device="default.qubit")
    x = torch.rand(16, 3, dtype=torch.float64)
    model(x)[:, 0].sum().backward()
    batched = model.weights.grad.clone()
    model.weights.grad = None
    for i in range(16):
        model(x[i : i + 1])[:, 0].sum().backward()
    assert torch.allclose(batched, model.weights.grad, atol=1e-6)


def test_kit_pieces_compose_in_a_plain_qnode_and_match_vqc():
    model = VQC(2, 1, 2, device="default.qubit")

    @qml.qnode(qml.device("default.qubit", wires=2))
    def circuit(x, w):
        angle_encoding(x, wires=[0, 1])
        entangling_ansatz(w, wires=[0, 1])
        return qml.probs(wires=[0, 1])

    x = torch.rand(5, 2)
    expected = class_probabilities(circuit(x, model.weights.detach()), 2)
    assert torch.allclose(model(x).double(), expected, atol=1e-6)


def test_outcome_to_class_uses_every_outcome_once():
    m = outcome_to_class(8, 10)
    assert m.shape == (256, 10)
    assert (m.sum(1) == 1).all()
    assert m.sum(0).min() == 25 and m.sum(0).max() == 26


def test_lightning_adjoint_path_gives_the_same_probabilities_and_gradients():
    fast = VQC(3, 2, 3, device="default.qubit", seed=4)
    other = VQC(3, 2, 3, device="lightning.qubit", seed=4)
    assert other.measures_classes and "RY" in other.draw() and "Rot" in other.draw()
    x = torch.rand(6, 3, dtype=torch.float64)
    p_fast, p_other = fast(x), other(x)
    assert torch.allclose(p_fast, p_other, atol=1e-6)
    p_fast[:, 1].sum().backward()
    p_other[:, 1].sum().backward()
    assert torch.allclose(fast.weights.grad, other.weights.grad, atol=1e-6)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: VQC(0, 1, 2), "n_qubits must be an integer in 1..16"),
        (lambda: VQC(2, 0, 2), "n_layers must be a positive integer"),
        (lambda: VQC(2, 1, 5), r"n_classes must be an integer in 2..4"),
        (lambda: VQC(2, 1, 2, encoding="basis"), "encoding must be one of"),
        (lambda: VQC(2, 1, 2, device="qiskit.aer"), "device must be a DeviceChoice or one of"),
        (lambda: VQC(2, 1, 2, device="default.qubit")(torch.rand(4, 3)), "x must have 2 columns"),
        (lambda: VQC(2, 1, 2, device="default.qubit")(torch.rand(4)), r"x must be a tensor of shape \(B, F\)"),
        (lambda: VQC(2, 1, 2, "amplitude", device="default.qubit")(torch.rand(4, 5)), "1..4 columns"),
        (lambda: ansatz_shape(1, -1), "n_qubits must be a positive integer"),
        (lambda: class_probabilities(torch.rand(3, 6), 2), "2\\*\\*n columns"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "block, weights, message",
    [
        (entangling_ansatz, torch.zeros(1, 3, 3), r"entangling_ansatz: weights must have shape \(n_layers, 2, 3\)"),
        (entangling_ansatz, torch.zeros(2, 3), r"entangling_ansatz: weights must have shape"),
        (circuits.qnn_layers, torch.zeros(1, 2, 3), r"qnn_layers: weights must have shape \(n_layers, 2, 4\)"),
        (
            lambda w, wires: circuits.random_circuit(w, wires, seed=0),
            torch.zeros(4),
            r"random_circuit: weights must have shape \(n_layers, n_rotations\)",
        ),
    ],
)
def test_circuit_blocks_name_the_weight_shape_they_need(block, weights, message):
    with pytest.raises(ValueError, match=message):
        qml.tape.make_qscript(block)(weights, wires=[0, 1])


def test_shape_helpers_give_the_shapes_the_blocks_accept():
    assert ansatz_shape(2, 3) == qml.StronglyEntanglingLayers.shape(n_layers=2, n_wires=3)
    assert circuits.qnn_layers_shape(2, 3) == (2, 3, 4)
    assert circuits.random_circuit_weights(2, 5, seed=1).shape == circuits.random_circuit_shape(2, 5)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        circuits.qnn_layers_shape(0, 3)


def test_models_compile_their_fast_path_from_the_circuit_blocks(monkeypatch):
    """The QNode and the fast path of a model come from one block function: no second copy."""
    from qrobust_lite import fastpath, networks

    compiled = []
    original = fastpath.compile_block
    monkeypatch.setattr(
        fastpath, "compile_block", lambda template, *args: compiled.append(template) or original(template, *args)
    )
    VQC(2, 1, 2, device="default.qubit")
    networks.QNN(2, depth=1)
    assert compiled == [circuits.entangling_ansatz, circuits.qnn_layers]
