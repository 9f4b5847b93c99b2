"""Checkers of the exercises of Part I, *A VQC that refines labels*
(book: ``book/vqc_label_refining.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import torch

from .. import circuits, soft_labels
from .checking import as_array, checker


@checker("vqc-outcome-class", "class_of_outcome(bits, n_classes)", level=1)
def _outcome_class(class_of_outcome) -> tuple[bool, str]:
    """``class_of_outcome(bits, n_classes)``: the bit string read as an integer, mod K."""
    cases = [("00001010", 10), ("11111111", 10), ("0110", 3), ("00000001", 10)]
    for bits, k in cases:
        want = int(circuits.outcome_to_class(len(bits), k)[int(bits, 2)].argmax())
        got = int(class_of_outcome(bits, k))
        if got == int(bits[::-1], 2) % k and got != int(bits, 2) % k:
            return False, "the bits are read in reverse: wire 0 is the leftmost, most significant bit."
        if got == int(bits, 2) and int(bits, 2) >= k:
            return False, f"{bits} is {int(bits, 2)}, which is not a class of {k}: take it modulo K."
        if got != want:
            return False, f"outcome {bits} with K={k} should map to {want}, got {got}."
    return True, "outcome b (read as an integer) counts for class b mod K."


@checker("vqc-temperature", "sharpen(probs, temperature)", level=2)
def _temperature(sharpen) -> tuple[bool, str]:
    """``sharpen(probs, temperature)``: p**(1/T) renormalised, row-wise."""
    p = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], dtype=torch.float64)
    for t in (0.5, 2.0):
        got = torch.as_tensor(as_array(sharpen(p, t)), dtype=torch.float64)
        want = soft_labels.sharpen(p, t)
        if got.shape != p.shape:
            return False, f"expected shape {tuple(p.shape)}, got {tuple(got.shape)}."
        if torch.allclose(got, p ** (1 / t)):
            return False, "renormalise each row so it sums to 1."
        if torch.allclose(got, p ** t / (p ** t).sum(1, keepdim=True)):
            return False, "the exponent is 1/T, not T: a low temperature must sharpen."
        if not torch.allclose(got, want, atol=1e-6):
            return False, f"for T={t} the first row should be {want[0].numpy().round(4).tolist()}."
    return True, "T < 1 sharpens towards the top class, T > 1 flattens towards uniform."


@checker("vqc-refine", "refine(q, labels, temperature, mix)", level=2)
def _refine(refine) -> tuple[bool, str]:
    """``refine(q, labels, temperature, mix)``: (1 - mix) one_hot + mix sharpen(q, T)."""
    q = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]], dtype=torch.float64)
    labels = torch.tensor([1, 2])
    one = torch.nn.functional.one_hot(labels, 3).double()
    sharp = q ** 2 / (q ** 2).sum(1, keepdim=True)
    got = torch.as_tensor(as_array(refine(q, labels, 0.5, 0.3)), dtype=torch.float64)
    want = soft_labels.refine_labels(q, labels, temperature=0.5, mix=0.3)
    if torch.allclose(got, 0.3 * one + 0.7 * sharp):
        return False, "the weights are swapped: mix is the share of the circuit's probabilities, 1 - mix stays on the one-hot label."
    if torch.allclose(got, 0.7 * one + 0.3 * q):
        return False, "apply the temperature to the circuit's probabilities before mixing."
    if not torch.allclose(got, want, atol=1e-6):
        return False, "expected (1 - mix) * one_hot + mix * sharpen(q, T)."
    return True, "mix = 0 gives one-hot labels back; mix = 1 uses the tempered circuit alone."
