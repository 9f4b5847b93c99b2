"""Checkers of the exercises of Part I, *Training a CNN on quantum-refined labels*
(book: ``book/cnn_on_refined_labels.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import torch

from .. import metrics
from .cases import Outputs, arguments, case, generator, tensor
from .checking import checker


@checker(
    "robustness-relative-gain",
    "relative_gain(acc_method, acc_baseline)",
    level=1,
    cases=lambda: [case(0.6, 0.4, returns="float"), case(0.3, 0.4, returns="float")],
)
def _relative_gain(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``relative_gain(acc_method, acc_baseline)``: (method - baseline) / baseline."""
    got = outputs[0]
    if abs(got - 0.2) < 1e-9:
        return False, "that is the absolute difference in accuracy; a relative gain divides it by the baseline."
    if abs(got - (0.2 / 0.6)) < 1e-9:
        return False, "divide by the baseline's accuracy (one-hot), not the method's."
    if (
        abs(got - metrics.relative_change(0.6, 0.4)) > 1e-9
        or abs(outputs[1] - metrics.relative_change(0.3, 0.4)) > 1e-9
    ):
        return False, "expected (0.6 - 0.4) / 0.4 = 0.5 and (0.3 - 0.4) / 0.4 = -0.25."
    return True, "0.6 against 0.4 is a 50% relative gain: the paper's 'up to 50% higher accuracy' is of this kind."


def _gaussian_cases() -> list[dict]:
    images = torch.full((200, 1, 28, 28), 0.5)
    return [case(tensor(images), sigma, generator(0), returns="array") for sigma in (0.1, 1.0)]


@checker("robustness-gaussian-noise", "add_noise(images, sigma, generator)", level=2, cases=_gaussian_cases)
def _gaussian(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``add_noise(images, sigma, generator)``: images + N(0, sigma^2), clipped to [0, 1]."""
    images, _, _ = arguments(cases[0])
    out = torch.as_tensor(outputs[0])
    if not outputs.unchanged(0, 0):
        return False, "your function changed its input in place; return a new tensor and leave the test images intact."
    if out.shape != images.shape:
        return False, f"expected shape {tuple(images.shape)}, got {tuple(out.shape)}."
    std = (out - images).std().item()
    if abs(std - 0.01) < 0.003:
        return False, (
            "the noise has standard deviation sigma**2: sigma is the standard deviation, pass it to randn as a scale."
        )
    if abs(std - 0.1) > 0.01:
        return False, f"with sigma = 0.1 the pixel noise should have standard deviation 0.1, got {std:.3f}."
    strong = torch.as_tensor(outputs[1])
    if strong.min() < 0 or strong.max() > 1:
        return False, "pixels left [0, 1]; clip the result back into the valid pixel range."
    return True, "noise of the requested strength, clipped to the pixel range, input untouched."


def _lowest_ece_cases() -> list[dict]:
    runs = [
        {"method": "a", "seed": 0, "ece": 0.01},
        {"method": "a", "seed": 1, "ece": 0.30},
        {"method": "b", "seed": 0, "ece": 0.05},
        {"method": "b", "seed": 1, "ece": 0.06},
        {"method": "c", "seed": 0, "ece": 0.20},
        {"method": "c", "seed": 1, "ece": 0.40},
    ]
    return [case(runs)]


@checker("robustness-lowest-ece", "lowest_ece(runs)", level=3, cases=_lowest_ece_cases)
def _lowest_ece(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``lowest_ece(runs)``: the method whose ECE, averaged over seeds, is lowest."""
    got = outputs[0]
    if got == "a":
        return False, (
            "'a' has the single lowest run, but its mean over seeds is 0.155; average each method over seeds first."
        )
    if got == "c":
        return False, "that is the highest ECE; lower ECE means better calibrated."
    if got != "b":
        return False, f"expected one of the method names, 'b' here; got {got!r}."
    return True, "compare methods by their mean over seeds, not by their best seed."
