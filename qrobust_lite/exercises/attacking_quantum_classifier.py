"""Checkers of the exercises of Part II, *Attacking a quantum classifier*
(book: ``book/attacking_quantum_classifier.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import torch

from .. import attacks, metrics
from .cases import Outputs, arguments, case, tensor
from .checking import checker


def _attack_case():
    gen = torch.Generator().manual_seed(11)
    images = torch.rand(6, 1, 4, 4, generator=gen, dtype=torch.float64)
    images[0, 0, 0] = torch.tensor([0.0, 1.0, 0.995, 0.002], dtype=torch.float64)  # pixels at the edges
    gradient = torch.randn(6, 1, 4, 4, generator=gen, dtype=torch.float64)
    gradient[0, 0, 0] = torch.tensor([-1.0, 2.0, 3.0, -0.5], dtype=torch.float64)
    return images, gradient


def _fgsm_step_cases() -> list[dict]:
    images, gradient = _attack_case()
    return [case(tensor(images), tensor(gradient), 0.03, returns="array")]


@checker("attack-fgsm-step", "fgsm_step(images, gradient, epsilon)", level=1, cases=_fgsm_step_cases)
def _fgsm_step(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``fgsm_step(images, gradient, epsilon)``: clip(images + epsilon * sign(gradient), 0, 1)."""
    images, gradient, _ = arguments(cases[0])
    got = torch.as_tensor(outputs[0]).double()
    if not outputs.unchanged(0, 0):
        return False, "your function changed the clean images in place; return a new tensor."
    if got.shape != images.shape:
        return False, f"expected shape {tuple(images.shape)}, got {tuple(got.shape)}."
    if torch.allclose(got, images - 0.03 * gradient.sign(), atol=1e-9) or torch.allclose(
        got, (images - 0.03 * gradient.sign()).clamp(0, 1), atol=1e-9
    ):
        return False, "the step goes down the loss; an attack climbs it: add epsilon * sign(gradient)."
    if torch.allclose(got, (images + 0.03 * gradient).clamp(0, 1), atol=1e-9):
        return False, "use the sign of the gradient: every pixel moves by exactly epsilon (an L-infinity step)."
    if torch.allclose(got, images + 0.03 * gradient.sign(), atol=1e-9):
        return False, "pixels left [0, 1] (see the first image's corner pixels); clip back to the valid range."
    want = attacks.fgsm_step(images, gradient, 0.03)
    if not torch.allclose(got, want, atol=1e-9):
        return False, "expected clip(images + epsilon * sign(gradient), 0, 1)."
    return True, "one step of size epsilon along the gradient's sign, kept in the pixel range."


def _projection_cases() -> list[dict]:
    images, gradient = _attack_case()
    far = images + 0.2 * gradient  # some pixels far outside, some outside [0, 1]
    return [case(tensor(far), tensor(images), 0.05, returns="array")]


@checker("attack-projection", "project(adversarial, images, epsilon)", level=2, cases=_projection_cases)
def _projection(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``project(adversarial, images, epsilon)``: into |x - images| <= epsilon, then [0, 1]."""
    far, images, _ = arguments(cases[0])
    got = torch.as_tensor(outputs[0]).double()
    if got.shape != images.shape:
        return False, f"expected shape {tuple(images.shape)}, got {tuple(got.shape)}."
    if (got - images).abs().max() > 0.05 + 1e-9:
        return False, (
            f"some pixels are {(got - images).abs().max():.3f} from the clean image; "
            "the budget is 0.05: clamp to [images - epsilon, images + epsilon]."
        )
    if got.min() < 0 or got.max() > 1:
        return False, "pixels left [0, 1]; after the epsilon-box, clip to the valid pixel range."
    want = attacks.project(far, images, 0.05)
    if torch.allclose(got, images, atol=1e-9):
        return False, (
            "that returns the clean images: the projection keeps as much of the perturbation as the budget allows."
        )
    if not torch.allclose(got, want, atol=1e-9):
        return False, (
            "expected the nearest point in the box: min(max(x, images - eps), images + eps), clipped to [0, 1]."
        )
    return True, "the nearest allowed image: inside the epsilon-box and the pixel range."


def _success_rate_cases() -> list[dict]:
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    clean = torch.tensor([0, 1, 2, 3, 1, 1, 0, 0])  # 5 correct: indices 0, 1, 2, 3, 5
    adv = torch.tensor([0, 2, 1, 3, 2, 1, 0, 3])  # changes 1 and 2 among them
    return [case(tensor(labels), tensor(clean), tensor(adv), returns="float")]


@checker("attack-success-rate", "success_rate(labels, clean_pred, adv_pred)", level=2, cases=_success_rate_cases)
def _success_rate(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``success_rate(labels, clean_pred, adv_pred)``: changed predictions among the clean-correct."""
    labels, clean, adv = arguments(cases[0])
    got = outputs[0]
    want = metrics.attack_success_rate(labels, clean, adv)
    if abs(got - 4 / 8) < 1e-6:
        return False, "divide by the correctly classified samples only (5 here), not by all 8."
    if abs(got - 3 / 5) < 1e-6:
        return False, "that is the share the attack leaves unchanged (1 - ASR); count the changed ones."
    if abs(got - want) > 1e-6:
        return False, f"expected 2 changed predictions out of 5 correctly classified samples = 0.4, got {got:.3f}."
    return True, "2 of the 5 correctly classified samples change their prediction: ASR = 0.4."
