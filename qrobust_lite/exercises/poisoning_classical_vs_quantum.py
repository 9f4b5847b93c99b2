"""Checkers of the exercises of Part III, *Label-flip poisoning, classical vs quantum*
(book: ``book/poisoning_classical_vs_quantum.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import metrics, poisoning
from .cases import Outputs, arguments, case, generator, tensor
from .checking import checker


def _balanced_flips_cases() -> list[dict]:
    labels = torch.tensor([0] * 30 + [1] * 70)
    return [case(tensor(labels), 0.2, generator(seed), returns="array") for seed in (0, 1)]


@checker("poisoning-balanced-flips", "flip_balanced(labels, alpha, generator)", level=2, cases=_balanced_flips_cases)
def _balanced_flips(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``flip_balanced(labels, alpha, generator)``: flip round(alpha * n_c) binary labels per class."""
    labels, _, _ = arguments(cases[0])
    got = torch.as_tensor(outputs[0])
    if not outputs.unchanged(0, 0):
        return False, "your function changed the labels in place; return a new tensor."
    if got.shape != labels.shape:
        return False, f"expected shape {tuple(labels.shape)}, got {tuple(got.shape)}."
    if not ((got == 0) | (got == 1)).all():
        return False, "binary labels must stay 0 or 1: a flip is 1 - label."
    per_class = [int((got[labels == c] != c).sum()) for c in (0, 1)]
    _, flipped = poisoning.flip_labels(labels, 0.2)
    want = [int(flipped[labels == c].sum()) for c in (0, 1)]  # [6, 14]
    if sum(per_class) == sum(want) and per_class != want:
        return False, (
            f"20 flips in all, but {per_class[0]} of 30 zeros and {per_class[1]} of 70 ones: "
            "choose round(alpha * n_c) samples within each class."
        )
    if per_class != want:
        return False, f"expected 6 zeros and 14 ones flipped (alpha = 0.2), got {per_class[0]} and {per_class[1]}."
    if torch.equal(got, torch.as_tensor(outputs[1])):
        return False, (
            "the same samples flip for every generator: pick them at random with torch.randperm(..., "
            "generator=generator)."
        )
    return True, "exactly alpha of every class, chosen at random: the class balance of the poison is controlled."


def _memorisation_cases() -> list[dict]:
    poisoned = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    flipped = torch.tensor([True, True, True, False, False, False, False, False])
    predictions = torch.tensor([1, 1, 1, 1, 0, 1, 1, 0])  # agrees with 2 of the 3 flipped labels
    return [case(tensor(predictions), tensor(poisoned), tensor(flipped), returns="float")]


@checker("poisoning-memorisation", "memorisation(predictions, poisoned, flipped)", level=2, cases=_memorisation_cases)
def _memorisation(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``memorisation(predictions, poisoned, flipped)``: share of flipped samples predicted as poisoned."""
    predictions, poisoned, flipped = arguments(cases[0])
    got = outputs[0]
    want = metrics.accuracy(poisoned[flipped], predictions[flipped])
    if abs(got - 6 / 8) < 1e-6:
        return False, "that is accuracy on all training labels; memorisation looks only at the flipped samples."
    if abs(got - 1 / 3) < 1e-6:
        return False, (
            "that is the share of flipped samples predicted with their true label; memorisation counts "
            "agreement with the flipped one."
        )
    if abs(got - want) > 1e-6:
        return False, f"expected 2 of the 3 flipped samples predicted with their flipped label = 0.667, got {got:.3f}."
    return True, "memorisation is how much of the poison the model reproduces on its own training set."


def _steepest_drop_cases() -> list[dict]:
    alphas = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    return [
        case(alphas, np.array([0.99, 0.98, 0.95, 0.70, 0.60, 0.20]), returns="float"),
        case(alphas, np.array([1.0, 0.5, 0.45, 0.44, 0.43, 0.42]), returns="float"),
    ]


@checker("poisoning-steepest-drop", "steepest_drop(alphas, accuracy)", level=3, cases=_steepest_drop_cases)
def _steepest_drop(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``steepest_drop(alphas, accuracy)``: midpoint of the consecutive pair with the largest fall."""
    alphas, accuracy = arguments(cases[0])
    got = outputs[0]
    want, _ = poisoning.critical_alpha(alphas, accuracy[None, :], n_boot=1)
    if abs(got - 0.5) < 1e-9:
        return False, "that is where accuracy is lowest; the critical alpha is where it falls fastest."
    if abs(got - 0.4) < 1e-9:
        return False, "return the midpoint of the pair of alphas across the drop, not one end of it."
    if abs(got - 0.05) < 1e-9:
        return False, "that is the smallest drop (or a rise); take the largest fall, -diff."
    if abs(got - want) > 1e-9:
        return False, f"the largest fall is 0.60 -> 0.20 between alpha 0.4 and 0.5, so expected 0.45, got {got}."
    if abs(outputs[1] - 0.05) > 1e-9:
        return False, "on a curve that drops first between 0.0 and 0.1 the answer is 0.05."
    return True, "the steepest fall of the mean curve, between the two alphas that bracket it."
