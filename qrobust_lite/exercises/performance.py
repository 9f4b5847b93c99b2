"""Checkers of the exercises of Appendix, *Performance*
(book: ``book/performance.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import numpy as np
import pennylane as qml

from .cases import Outputs, arguments, case
from .checking import checker


@checker(
    "performance-kron-layer",
    "layer_matrix(a, b)",
    level=2,
    cases=lambda: [case(a, b, returns="array") for a, b in ((0.3, 1.1), (2.0, -0.7))],
)
def _kron_layer(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``layer_matrix(a, b)``: the 4x4 matrix of RX(a) on wire 0 and RZ(b) on wire 1."""
    for i, spec in enumerate(cases):
        a, b = arguments(spec)
        got = outputs[i]
        rx, rz = qml.RX.compute_matrix(a), qml.RZ.compute_matrix(b)
        want = np.kron(rx, rz)
        if got.shape != (4, 4):
            hint = " (a matrix product rx @ rz stays 2x2; the Kronecker product is 4x4)" if got.shape == (2, 2) else ""
            return False, f"expected a 4x4 matrix for two qubits, got shape {got.shape}{hint}."
        if np.allclose(got, np.kron(rz, rx)):
            return False, (
                "the factors are swapped: wire 0 is the most significant bit, so its "
                "matrix comes first, np.kron(RX(a), RZ(b))."
            )
        if not np.allclose(got, want):
            return False, f"for a={a}, b={b} the matrix differs from RX(a) kron RZ(b)."
    return True, "a layer of gates on different wires is the Kronecker product of their matrices."


@checker("performance-cnot-permutation", level=2, answer="cnot_perm", cases=lambda: [case(returns=None)])
def _cnot_permutation(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``cnot_perm[b]``: the basis state that |b> becomes under CNOT(wires=[0, 1])."""
    cnot_perm = outputs[0]
    if cnot_perm is None:
        raise NotImplementedError
    try:
        perm = [int(v) for v in cnot_perm]
    except (TypeError, ValueError):
        return False, f"expected a list of four integers, got {cnot_perm!r}."
    if len(perm) != 4 or sorted(perm) != [0, 1, 2, 3]:
        return False, f"{perm} is not a rearrangement of 0, 1, 2, 3: each basis state goes to exactly one."
    if perm == [0, 3, 2, 1]:
        return False, (
            "that flips wire 0 when wire 1 is set; here wire 0 (the bit worth 2) is the control and wire 1 the target."
        )
    if perm != [0, 1, 3, 2]:
        return False, "check which states have the control (wire 0, value 2) set: only those change."
    return True, "|10> and |11> swap, the rest stay: a CNOT only relabels basis states."
