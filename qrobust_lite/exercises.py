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
