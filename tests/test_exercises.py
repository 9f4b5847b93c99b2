"""qrobust_lite.exercises: reference answers pass; typical wrong answers fail with a useful hint."""

import numpy as np
import pennylane as qml
import pytest
import torch

from qrobust_lite.exercises import CHECKERS, Feedback, check


def born_rule_reference(amplitudes):
    return np.abs(amplitudes) ** 2


@qml.qnode(qml.device("default.qubit", wires=1))
def rx_z(angle):
    qml.RX(angle, wires=0)
    return qml.expval(qml.PauliZ(0))


@qml.qnode(qml.device("default.qubit", wires=1))
def rx_x(angle):
    qml.RX(angle, wires=0)
    return qml.expval(qml.PauliY(0))


@pytest.mark.parametrize("exercise,answer", [
    ("primer-born-rule", born_rule_reference),
    ("primer-batched-expval", rx_z),
    ("performance-kron-layer", lambda a, b: np.kron(qml.RX.compute_matrix(a), qml.RZ.compute_matrix(b))),
    ("performance-cnot-permutation", [0, 1, 3, 2]),
])
def test_reference_answers_pass(exercise, answer):
    result = check(exercise, answer)
    assert isinstance(result, Feedback) and result.passed, result.message


@pytest.mark.parametrize("exercise,answer,hint", [
    ("primer-born-rule", lambda a: np.abs(a), "magnitudes |a|; the Born rule squares them"),
    ("primer-born-rule", lambda a: a ** 2, "probabilities are complex"),
    ("primer-born-rule", lambda a: np.abs(a[:1]) ** 2, "one probability per amplitude"),
    ("primer-born-rule", lambda a: 2 * np.abs(a) ** 2, "sum to 2.0000"),
    ("primer-born-rule", lambda a: 1 / 0, "ZeroDivisionError"),
    ("primer-born-rule", "0.5", "expected a function"),
    ("primer-batched-expval", lambda angles: torch.stack([rx_z(a) for a in angles]), "ran 64 times"),
    ("primer-batched-expval", lambda angles: torch.sin(angles), "sin(angle)"),
    ("primer-batched-expval", lambda angles: torch.cos(angles), "no QNode ran"),
    ("primer-batched-expval", rx_x, "differ from <Z> = cos(angle)"),
    ("primer-batched-expval", lambda angles: rx_z(angles[0]), "expected 64 values"),
    ("performance-kron-layer", lambda a, b: np.kron(qml.RZ.compute_matrix(b), qml.RX.compute_matrix(a)),
     "factors are swapped"),
    ("performance-kron-layer", lambda a, b: qml.RX.compute_matrix(a) @ qml.RZ.compute_matrix(b),
     "stays 2x2"),
    ("performance-kron-layer", lambda a, b: np.eye(4), "differs from RX(a) kron RZ(b)"),
    ("performance-cnot-permutation", [0, 3, 2, 1], "wire 0 (the bit worth 2) is the control"),
    ("performance-cnot-permutation", [0, 0, 3, 2], "not a rearrangement"),
    ("performance-cnot-permutation", [1, 0, 2, 3], "only those change"),
    ("performance-cnot-permutation", "0132x", "expected a list of four integers"),
])
def test_typical_wrong_answers_fail_with_a_hint(exercise, answer, hint):
    result = check(exercise, answer)
    assert not result.passed
    assert hint in result.message


def test_not_attempted_and_unknown_exercise():
    def stub(amplitudes):
        raise NotImplementedError
    assert "not attempted yet" in check("primer-born-rule", stub).message
    with pytest.raises(ValueError, match="exercise must be one of"):
        check("primer-nothing", stub)


def test_the_counting_patch_is_always_removed():
    original = qml.QNode.__call__
    check("primer-batched-expval", lambda angles: 1 / 0)
    assert qml.QNode.__call__ is original


def test_feedback_renders_for_notebooks():
    result = check("primer-born-rule", born_rule_reference)
    assert result._repr_markdown_().startswith("✅")
    assert str(result).startswith("[primer-born-rule] Correct")
    assert set(CHECKERS) >= {"primer-born-rule", "primer-batched-expval",
                             "performance-kron-layer", "performance-cnot-permutation"}
    assert "not attempted yet" in check("performance-cnot-permutation", None).message
