"""Checkers of the exercises of Part I, *Soft labels and calibration*
(book: ``book/soft_labels_calibration.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import torch

from .. import metrics, soft_labels
from .cases import Outputs, arguments, case, tensor
from .checking import checker


@checker(
    "soft-labels-smoothing",
    "smooth(labels, n_classes, smoothing)",
    level=1,
    cases=lambda: [case(tensor(torch.tensor([0, 3, 1, 3, 2])), 4, eps, returns="array") for eps in (0.1, 0.3)],
)
def _smoothing(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``smooth(labels, n_classes, smoothing)``: (1 - s) one_hot + s / K."""
    for i, spec in enumerate(cases):
        labels, k, eps = arguments(spec)
        got = torch.as_tensor(outputs[i], dtype=torch.float64)
        one = torch.nn.functional.one_hot(labels, k).double()
        want = soft_labels.smooth_labels(labels, k, eps).double()
        if got.shape != want.shape:
            return False, (
                f"expected shape {tuple(want.shape)} (one row per label, one column per class), got {tuple(got.shape)}."
            )
        if torch.allclose(got, (1 - eps) * one + eps / (k - 1) * (1 - one)):
            return False, (
                "you spread the smoothing over the K - 1 wrong classes; uniform smoothing adds it / K to "
                "every class, the true one included."
            )
        if torch.allclose(got, one + eps / k):
            return False, "the rows sum to more than 1: scale the one-hot part by (1 - smoothing)."
        if not torch.allclose(got, want, atol=1e-6):
            return False, f"for smoothing={eps} the first row should be {want[0].tolist()}, got {got[0].tolist()}."
    return True, "each row keeps 1 - eps + eps/K on its class and eps/K elsewhere."


def _soft_ce_cases() -> list[dict]:
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64)
    targets = torch.softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), 1)
    return [case(tensor(logits), tensor(targets), returns="float")]


@checker("soft-labels-cross-entropy", "soft_ce(logits, targets)", level=2, cases=_soft_ce_cases)
def _soft_ce(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``soft_ce(logits, targets)``: mean over rows of -sum targets * log_softmax(logits)."""
    logits, targets = arguments(cases[0])
    got = outputs[0]
    want = soft_labels.soft_cross_entropy(logits, targets).item()
    per_row = -(targets * torch.log_softmax(logits, 1)).sum(1)  # to name common mistakes
    if abs(got + want) < 1e-6:
        return False, "the sign is flipped: cross-entropy is minus the expected log-probability."
    if abs(got - per_row.sum().item()) < 1e-6:
        return False, "that is the sum over the batch; take the mean so the loss does not grow with the batch size."
    if abs(got - (-(targets * torch.softmax(logits, 1)).sum(1).mean().item())) < 1e-6:
        return False, "use log_softmax, not softmax: the loss is -sum t * log p."
    if abs(got - want) > 1e-6:
        return False, f"expected {want:.4f}, got {got:.4f}."
    return True, "soft-target cross-entropy: -sum_k t_k log p_k, averaged over the batch."


def _ece_cases() -> list[dict]:
    g = torch.Generator().manual_seed(5)
    confidence = 0.3 + 0.7 * torch.rand(300, generator=g, dtype=torch.float64)
    # underconfident below 0.6, overconfident above: signed bin errors would cancel
    p_right = torch.where(confidence < 0.6, confidence + 0.3, confidence - 0.3)
    correct = (torch.rand(300, generator=g, dtype=torch.float64) < p_right).double()
    return [case(tensor(confidence), tensor(correct), 15, returns="float")]


@checker("soft-labels-ece", "ece(confidence, correct, n_bins)", level=3, cases=_ece_cases)
def _ece(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``ece(confidence, correct, n_bins=15)`` from 1-D confidences and 0/1 correctness."""
    confidence, correct, _ = arguments(cases[0])
    want = metrics.calibration_error(confidence, correct, 15)
    conf, acc, counts = metrics.confidence_bins(confidence, correct, 15)  # to name common mistakes
    keep = counts > 0
    conf, acc = conf[keep], acc[keep]
    got = outputs[0]
    if abs(got - (acc - conf).abs().mean().item()) < 1e-6:
        return False, "each bin must count in proportion to how many samples it holds; weight by n_bin / N."
    if abs(got - abs((counts[keep] / 300 * (acc - conf)).sum().item())) < 1e-6:
        return False, (
            "take |accuracy - confidence| inside each bin before summing, so errors of opposite sign do not cancel."
        )
    if abs(got - want) > 1e-6:
        return False, f"expected {want:.4f}, got {got:.4f}; bins are (0, 1/15], (1/15, 2/15], ..."
    return True, "ECE is the bin-size-weighted mean gap between accuracy and confidence."
