"""Checkers for the book's exercises (book: every chapter's *Exercises* section).

Each exercise has an id such as ``"primer-born-rule"`` and a checker that runs the learner's
answer on fresh cases, compares it with a reference, and says what is wrong in words a
learner can act on. A checker never raises: the learner's own errors become feedback.

>>> result = check("primer-born-rule", lambda amps: abs(amps) ** 2)
>>> result.passed
True
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pennylane as qml
import torch


@dataclass(frozen=True)
class Feedback:
    """The outcome of a check: ``passed`` and a message for the learner."""

    exercise: str
    passed: bool
    message: str

    def __str__(self) -> str:
        mark = "Correct" if self.passed else "Not yet"
        return f"[{self.exercise}] {mark}: {self.message}"

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        icon = "✅" if self.passed else "❌"
        return f"{icon} **{self.exercise}**: {self.message}"


CHECKERS: dict[str, Callable[[Any], tuple[bool, str]]] = {}


def checker(exercise: str):
    """Register a function ``answer -> (passed, message)`` as the checker of ``exercise``."""
    def register(func):
        CHECKERS[exercise] = func
        return func
    return register


def check(exercise: str, answer: Any) -> Feedback:
    """Check a learner's answer to ``exercise``; returns :class:`Feedback` (shown in notebooks)."""
    if exercise not in CHECKERS:
        raise ValueError(f"exercise must be one of {sorted(CHECKERS)}, got {exercise!r}")
    try:
        passed, message = CHECKERS[exercise](answer)
    except NotImplementedError:
        passed, message = False, "not attempted yet: replace the `raise NotImplementedError` with your code."
    except Exception as err:  # the learner's code failed: report it instead of crashing the notebook
        frame = traceback.extract_tb(err.__traceback__)[-1]
        passed, message = False, (f"your code raised {type(err).__name__}: {err} "
                                  f"(line {frame.lineno}: `{(frame.line or '').strip()}`)")
    return Feedback(exercise, passed, message)


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


# --- Primer -------------------------------------------------------------------------------

@checker("primer-born-rule")
def _born_rule(born_rule: Callable) -> tuple[bool, str]:
    """``born_rule(amplitudes)`` maps complex amplitudes (2**n,) to outcome probabilities."""
    if not callable(born_rule):
        return False, f"expected a function born_rule(amplitudes), got {type(born_rule).__name__}."
    rng = np.random.default_rng(7)
    for n in (1, 2, 3):
        amps = rng.normal(size=2 ** n) + 1j * rng.normal(size=2 ** n)
        amps /= np.linalg.norm(amps)
        got = _as_array(born_rule(amps))
        want = np.abs(amps) ** 2
        if got.shape != want.shape:
            return False, (f"for {n} qubit(s) ({2 ** n} amplitudes) the answer has shape {got.shape}; "
                           f"there should be one probability per amplitude, shape {want.shape}.")
        if np.iscomplexobj(got) and np.abs(got.imag).max() > 1e-9:
            return False, ("the probabilities are complex: `amps ** 2` squares the complex number; "
                           "the Born rule uses the squared magnitude |a|^2 = a * conj(a).")
        got = got.real.astype(float)
        if np.allclose(got, np.abs(amps), atol=1e-6):
            return False, "these are the magnitudes |a|; the Born rule squares them: |a|^2."
        if not np.isclose(got.sum(), 1.0, atol=1e-6):
            return False, f"the probabilities sum to {got.sum():.4f}, not 1."
        if not np.allclose(got, want, atol=1e-6):
            return False, f"for amplitudes {np.round(amps, 3)} expected {np.round(want, 4)}, got {np.round(got, 4)}."
    return True, "probabilities are the squared magnitudes of the amplitudes, and they sum to 1."


@checker("primer-batched-expval")
def _batched_expval(batched_expval: Callable) -> tuple[bool, str]:
    """``batched_expval(angles)`` returns <Z> after RX(angle) on |0>, for a batch, in one call."""
    if not callable(batched_expval):
        return False, f"expected a function batched_expval(angles), got {type(batched_expval).__name__}."
    angles = torch.linspace(0, 2 * math.pi, 64, dtype=torch.float64)
    calls = 0
    original = qml.QNode.__call__

    def counting_call(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    qml.QNode.__call__ = counting_call
    try:
        got = _as_array(batched_expval(angles)).astype(float)
    finally:
        qml.QNode.__call__ = original
    want = np.cos(angles.numpy())
    if got.shape != want.shape:
        return False, f"for 64 angles expected 64 values, shape (64,), got shape {got.shape}."
    if np.allclose(got, np.sin(angles.numpy()), atol=1e-6):
        return False, "the values are sin(angle): <Z> after RX(angle) on |0> is cos(angle). Measure PauliZ."
    if not np.allclose(got, want, atol=1e-6):
        return False, "the values differ from <Z> = cos(angle); check the gate (RX) and the measurement (PauliZ)."
    if calls == 0:
        return False, "the values are right, but no QNode ran: build the circuit with PennyLane."
    if calls > 1:
        return False, (f"the values are right, but the circuit ran {calls} times; pass the whole "
                       "batch of angles in one call and let parameter broadcasting do the rest.")
    return True, "one circuit call evaluated all 64 angles (parameter broadcasting)."


# --- Appendix: performance ----------------------------------------------------------------

@checker("performance-kron-layer")
def _kron_layer(layer_matrix: Callable) -> tuple[bool, str]:
    """``layer_matrix(a, b)``: the 4x4 matrix of RX(a) on wire 0 and RZ(b) on wire 1."""
    if not callable(layer_matrix):
        return False, f"expected a function layer_matrix(a, b), got {type(layer_matrix).__name__}."
    for a, b in ((0.3, 1.1), (2.0, -0.7)):
        got = _as_array(layer_matrix(a, b))
        rx, rz = qml.RX.compute_matrix(a), qml.RZ.compute_matrix(b)
        want = np.kron(rx, rz)
        if got.shape != (4, 4):
            hint = " (a matrix product rx @ rz stays 2x2; the Kronecker product is 4x4)" \
                if got.shape == (2, 2) else ""
            return False, f"expected a 4x4 matrix for two qubits, got shape {got.shape}{hint}."
        if np.allclose(got, np.kron(rz, rx)):
            return False, ("the factors are swapped: wire 0 is the most significant bit, so its "
                           "matrix comes first, np.kron(RX(a), RZ(b)).")
        if not np.allclose(got, want):
            return False, f"for a={a}, b={b} the matrix differs from RX(a) kron RZ(b)."
    return True, "a layer of gates on different wires is the Kronecker product of their matrices."


@checker("performance-cnot-permutation")
def _cnot_permutation(cnot_perm) -> tuple[bool, str]:
    """``cnot_perm[b]``: the basis state that |b> becomes under CNOT(wires=[0, 1])."""
    if cnot_perm is None:
        raise NotImplementedError
    try:
        perm = [int(v) for v in cnot_perm]
    except (TypeError, ValueError):
        return False, f"expected a list of four integers, got {cnot_perm!r}."
    if len(perm) != 4 or sorted(perm) != [0, 1, 2, 3]:
        return False, f"{perm} is not a rearrangement of 0, 1, 2, 3: each basis state goes to exactly one."
    if perm == [0, 3, 2, 1]:
        return False, ("that flips wire 0 when wire 1 is set; here wire 0 (the bit worth 2) is the "
                       "control and wire 1 the target.")
    if perm != [0, 1, 3, 2]:
        return False, "check which states have the control (wire 0, value 2) set: only those change."
    return True, "|10> and |11> swap, the rest stay: a CNOT only relabels basis states."
