"""Checkers of the exercises of Primer
(book: ``book/primer.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .cases import Outputs, arguments, case, tensor
from .checking import checker


def _born_rule_cases() -> list[dict]:
    rng = np.random.default_rng(7)
    cases = []
    for n in (1, 2, 3):
        amps = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
        cases.append(case(amps / np.linalg.norm(amps), returns="array"))
    return cases


@checker("primer-born-rule", "born_rule(amplitudes)", level=1, cases=_born_rule_cases)
def _born_rule(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``born_rule(amplitudes)`` maps complex amplitudes (2**n,) to outcome probabilities."""
    for i, spec in enumerate(cases):
        (amps,) = arguments(spec)
        n = len(amps).bit_length() - 1
        got = outputs[i]
        want = np.abs(amps) ** 2
        if got.shape != want.shape:
            return False, (
                f"for {n} qubit(s) ({2**n} amplitudes) the answer has shape {got.shape}; "
                f"there should be one probability per amplitude, shape {want.shape}."
            )
        if np.iscomplexobj(got) and np.abs(got.imag).max() > 1e-9:
            return False, (
                "the probabilities are complex: `amps ** 2` squares the complex number; "
                "the Born rule uses the squared magnitude |a|^2 = a * conj(a)."
            )
        got = got.real.astype(float)
        if np.allclose(got, np.abs(amps), atol=1e-6):
            return False, "these are the magnitudes |a|; the Born rule squares them: |a|^2."
        if not np.isclose(got.sum(), 1.0, atol=1e-6):
            return False, f"the probabilities sum to {got.sum():.4f}, not 1."
        if not np.allclose(got, want, atol=1e-6):
            return False, f"for amplitudes {np.round(amps, 3)} expected {np.round(want, 4)}, got {np.round(got, 4)}."
    return True, "probabilities are the squared magnitudes of the amplitudes, and they sum to 1."


def _batched_expval_cases() -> list[dict]:
    angles = torch.linspace(0, 2 * math.pi, 64, dtype=torch.float64)
    return [case(tensor(angles), returns="array", count_qnode_calls=True)]


@checker("primer-batched-expval", "batched_expval(angles)", level=2, cases=_batched_expval_cases)
def _batched_expval(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``batched_expval(angles)`` returns <Z> after RX(angle) on |0>, for a batch, in one call.
    The QNode calls are counted in the learner's process (when grading, its own report)."""
    (angles,) = arguments(cases[0])
    got = outputs[0].astype(float)
    calls = outputs.qnode_calls(0)
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
        return False, (
            f"the values are right, but the circuit ran {calls} times; pass the whole "
            "batch of angles in one call and let parameter broadcasting do the rest."
        )
    return True, "one circuit call evaluated all 64 angles (parameter broadcasting)."
