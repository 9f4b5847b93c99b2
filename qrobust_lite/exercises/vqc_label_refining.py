"""Checkers of the exercises of Part I, *A VQC that refines labels*
(book: ``book/vqc_label_refining.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import torch

from .. import circuits, soft_labels
from .cases import Outputs, arguments, case, tensor
from .checking import checker


@checker(
    "vqc-outcome-class",
    "class_of_outcome(bits, n_classes)",
    level=1,
    cases=lambda: [
        case(bits, k, returns="int") for bits, k in [("00001010", 10), ("11111111", 10), ("0110", 3), ("00000001", 10)]
    ],
)
def _outcome_class(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``class_of_outcome(bits, n_classes)``: the bit string read as an integer, mod K."""
    for i, spec in enumerate(cases):
        bits, k = arguments(spec)
        want = int(circuits.outcome_to_class(len(bits), k)[int(bits, 2)].argmax())
        got = outputs[i]
        if got == int(bits[::-1], 2) % k and got != int(bits, 2) % k:
            return False, "the bits are read in reverse: wire 0 is the leftmost, most significant bit."
        if got == int(bits, 2) and int(bits, 2) >= k:
            return False, f"{bits} is {int(bits, 2)}, which is not a class of {k}: take it modulo K."
        if got != want:
            return False, f"outcome {bits} with K={k} should map to {want}, got {got}."
    return True, "outcome b (read as an integer) counts for class b mod K."


@checker(
    "vqc-temperature",
    "sharpen(probs, temperature)",
    level=2,
    cases=lambda: [
        case(tensor(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], dtype=torch.float64)), t, returns="array")
        for t in (0.5, 2.0)
    ],
)
def _temperature(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``sharpen(probs, temperature)``: p**(1/T) renormalised, row-wise."""
    for i, spec in enumerate(cases):
        p, t = arguments(spec)
        got = torch.as_tensor(outputs[i], dtype=torch.float64)
        want = soft_labels.sharpen(p, t)
        if got.shape != p.shape:
            return False, f"expected shape {tuple(p.shape)}, got {tuple(got.shape)}."
        if torch.allclose(got, p ** (1 / t)):
            return False, "renormalise each row so it sums to 1."
        if torch.allclose(got, p**t / (p**t).sum(1, keepdim=True)):
            return False, "the exponent is 1/T, not T: a low temperature must sharpen."
        if not torch.allclose(got, want, atol=1e-6):
            return False, f"for T={t} the first row should be {want[0].numpy().round(4).tolist()}."
    return True, "T < 1 sharpens towards the top class, T > 1 flattens towards uniform."


def _refine_cases() -> list[dict]:
    q = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]], dtype=torch.float64)
    return [case(tensor(q), tensor(torch.tensor([1, 2])), 0.5, 0.3, returns="array")]


@checker("vqc-refine", "refine(q, labels, temperature, mix)", level=2, cases=_refine_cases)
def _refine(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``refine(q, labels, temperature, mix)``: (1 - mix) one_hot + mix sharpen(q, T)."""
    q, labels, _, _ = arguments(cases[0])
    one = torch.nn.functional.one_hot(labels, 3).double()
    sharp = q**2 / (q**2).sum(1, keepdim=True)
    got = torch.as_tensor(outputs[0], dtype=torch.float64)
    want = soft_labels.refine_labels(q, labels, temperature=0.5, mix=0.3)
    if torch.allclose(got, 0.3 * one + 0.7 * sharp):
        return False, (
            "the weights are swapped: mix is the share of the circuit's probabilities, 1 - mix stays on "
            "the one-hot label."
        )
    if torch.allclose(got, 0.7 * one + 0.3 * q):
        return False, "apply the temperature to the circuit's probabilities before mixing."
    if not torch.allclose(got, want, atol=1e-6):
        return False, "expected (1 - mix) * one_hot + mix * sharpen(q, T)."
    return True, "mix = 0 gives one-hot labels back; mix = 1 uses the tempered circuit alone."
