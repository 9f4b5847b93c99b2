"""How good and how honest are predictions: the scores every Part reports (book: Part I, *Soft
labels and calibration*, where they are introduced; Part II adds the attack success rate).

One convention, scikit-learn's: the true labels first, then the prediction, ``f(y_true, y_pred)``.
A prediction is class indices (N,) (an integer tensor), class probabilities (N, K), or for two
classes P(class 1) (N,) (a floating tensor, thresholded at 0.5). Every score is a float; on no
samples it is NaN, never a number that looks like a result.

- :func:`accuracy`: is the top class right;
- :func:`nll` and :func:`brier_score`: grade the whole probability vector;
- :func:`expected_calibration_error` (ECE, 15 equal-width confidence bins {Guo et al. 2017}):
  is a model that says "90 %" right 90 % of the time (:func:`calibration_error` from each
  prediction's confidence and correctness);
- :func:`attack_success_rate`: among samples the model gets right, the share an attack changes;
- :func:`relative_change`: how the papers state gains and reductions.

>>> y = torch.tensor([0, 1, 1])
>>> probs = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]])
>>> accuracy(y, probs), accuracy(y, torch.tensor([0, 1, 0])), accuracy(y, probs[:, 1])
(0.6666666666666666, 0.6666666666666666, 0.6666666666666666)
"""

from __future__ import annotations

import math

import torch

from . import validation
from .validation import COUNT, LABELS, PROBABILITIES, TENSOR, Anything, Array, Real, Sequence_, validate_params

PROB_FLOOR = 1e-12  # NLL counts a predicted probability below this as this (log 0 is -inf)


def _check_length(y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    """One label per prediction; with probabilities (N, K), labels below K."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and the prediction must have the same length, got {len(y_true)} and {len(y_pred)}")
    if y_pred.ndim == 2:
        validation.below(y_true, y_pred.shape[1], "y_true")


def _check_probs(y_true: torch.Tensor, probs: torch.Tensor) -> None:
    """The relations :func:`nll` and the others need: one label per row, each below K."""
    _check_length(y_true, probs)


PREDICTION = Array("tensor")
MASKS = Sequence_(Anything("a boolean mask (N,), one entry per image"))


@validate_params(y_pred=PREDICTION)
def predicted_classes(y_pred: torch.Tensor) -> torch.Tensor:
    """Class indices (N,) from any prediction of the module's convention."""
    if y_pred.ndim not in (1, 2):
        raise ValueError("y_pred must be class indices (N,), probabilities (N, K) or P(class 1) (N,)")
    if y_pred.is_floating_point() and y_pred.isnan().any():
        raise ValueError("y_pred must not contain NaN (did the model's weights become NaN?)")
    if y_pred.ndim == 2:
        return y_pred.argmax(1)
    return (y_pred > 0.5).long() if y_pred.is_floating_point() else y_pred


@validate_params(y_true=LABELS, y_pred=PREDICTION)
def accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> float:
    """Share of samples whose predicted class is the label, in [0, 1]."""
    _check_length(y_true, y_pred)
    predicted = predicted_classes(y_pred)
    return (predicted.to(y_true.device) == y_true).double().mean().item() if len(y_true) else math.nan


@validate_params(y_true=LABELS, probs=PROBABILITIES)
def nll(y_true: torch.Tensor, probs: torch.Tensor) -> float:
    """Mean -log p(label), in nats (probabilities below ``PROB_FLOOR`` count as it)."""
    _check_probs(y_true, probs)
    if not len(y_true):
        return math.nan
    return -torch.log(probs[torch.arange(len(y_true)), y_true].clamp_min(PROB_FLOOR)).mean().item()


@validate_params(y_true=LABELS, probs=PROBABILITIES)
def brier_score(y_true: torch.Tensor, probs: torch.Tensor) -> float:
    """Mean squared distance between the probability vector and the one-hot label, in [0, 2]."""
    _check_probs(y_true, probs)
    if not len(y_true):
        return math.nan
    target = torch.nn.functional.one_hot(y_true, probs.shape[1]).to(probs.dtype)
    return ((probs - target) ** 2).sum(1).mean().item()


@validate_params(confidence=TENSOR, correct=TENSOR, n_bins=COUNT)
def confidence_bins(
    confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 15
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictions' confidence (N,) in [0, 1] and correctness (N,) (0/1 or bool) -> per bin
    (lo, hi] of ``n_bins`` equal-width bins: mean confidence, accuracy and count (empty bins NaN)."""
    if confidence.ndim != 1 or correct.shape != confidence.shape:
        raise ValueError(
            f"confidence and correct must both have shape (N,), got {tuple(confidence.shape)} "
            f"and {tuple(correct.shape)}"
        )
    edges = torch.linspace(0, 1, n_bins + 1, dtype=confidence.dtype)
    which = torch.bucketize(confidence, edges[1:-1], right=True)  # bins (lo, hi], like torchmetrics
    counts = torch.bincount(which, minlength=n_bins).double()
    hits = torch.bincount(which, weights=correct.double(), minlength=n_bins)
    conf_sum = torch.bincount(which, weights=confidence.double(), minlength=n_bins)
    return conf_sum / counts, hits / counts, counts


@validate_params(confidence=TENSOR, correct=TENSOR, n_bins=COUNT)
def calibration_error(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 15) -> float:
    """ECE from each prediction's confidence (N,) and correctness (N,): the bin-size-weighted
    mean ``|accuracy - confidence|`` over ``n_bins`` equal-width bins, in [0, 1]; NaN for N = 0.

    >>> round(calibration_error(torch.tensor([0.8, 0.8, 0.8, 0.8]), torch.tensor([1, 1, 1, 0])), 6)
    0.05
    """
    conf, acc, counts = confidence_bins(confidence, correct, n_bins)
    if not len(confidence):
        return math.nan
    keep = counts > 0
    return float((counts[keep] / counts.sum() * (acc[keep] - conf[keep]).abs()).sum())


@validate_params(y_true=LABELS, probs=PROBABILITIES, n_bins=COUNT)
def reliability_bins(
    y_true: torch.Tensor, probs: torch.Tensor, n_bins: int = 15
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per confidence bin: mean confidence, accuracy and count (empty bins give NaN)."""
    _check_probs(y_true, probs)
    confidence, predicted = probs.max(1)
    return confidence_bins(confidence, predicted == y_true, n_bins)


@validate_params(y_true=LABELS, probs=PROBABILITIES, n_bins=COUNT)
def expected_calibration_error(y_true: torch.Tensor, probs: torch.Tensor, n_bins: int = 15) -> float:
    """ECE of class probabilities (N, K): :func:`calibration_error` of the top class, in [0, 1].

    Written here, not imported from torchmetrics: torchmetrics imports torchvision when it is
    installed and fails where torchvision is broken (as in this course's CPU set-up); the
    tests check this function against torchmetrics' ``multiclass_calibration_error``.
    """
    _check_probs(y_true, probs)
    confidence, predicted = probs.max(1)
    return calibration_error(confidence, predicted == y_true, n_bins)


@validate_params(value=Real(), baseline=Real())
def relative_change(value: float, baseline: float) -> float:
    """``(value - baseline) / baseline``: 0.6 against 0.4 is +0.5 (a 50 % gain), an ASR of 0.6845
    against 0.898 is -0.238 (a 23.8 % reduction)."""
    if baseline == 0:
        raise ValueError("baseline must not be 0: a change relative to 0 is undefined")
    return (value - baseline) / baseline


@validate_params(y_true=LABELS, probs=PROBABILITIES)
def evaluate(y_true: torch.Tensor, probs: torch.Tensor) -> dict[str, float]:
    """Accuracy, NLL, Brier score and ECE in one dictionary."""
    _check_probs(y_true, probs)
    return {
        "accuracy": accuracy(y_true, probs),
        "nll": nll(y_true, probs),
        "brier": brier_score(y_true, probs),
        "ece": expected_calibration_error(y_true, probs),
    }


@validate_params(y_true=LABELS, clean_pred=PREDICTION, adversarial_pred=PREDICTION)
def attack_success_rate(y_true: torch.Tensor, clean_pred: torch.Tensor, adversarial_pred: torch.Tensor) -> float:
    """Among samples predicted correctly on clean input, the share the attack changes, in [0, 1].

    NaN when the model gets no sample right (there is nothing to attack).

    >>> attack_success_rate(torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 0]), torch.tensor([1, 1, 0, 0]))
    0.3333333333333333
    """
    _check_length(y_true, clean_pred)
    clean, adversarial = predicted_classes(clean_pred), predicted_classes(adversarial_pred)
    if clean.shape != adversarial.shape:
        raise ValueError(
            f"clean_pred and adversarial_pred must have the same shape, got "
            f"{tuple(clean_pred.shape)} and {tuple(adversarial_pred.shape)}"
        )
    correct = clean == y_true
    if not correct.any():
        return math.nan
    return (adversarial[correct] != clean[correct]).double().mean().item()


@validate_params(clean_correct=MASKS, adversarial_correct=MASKS)
def common_base_asr(clean_correct, adversarial_correct) -> list[float]:
    """The ASR of several models on a **common base**: the images that every model classifies
    correctly when clean. ``clean_correct`` and ``adversarial_correct``: one boolean mask (N,)
    per model, for the same N images in the same order. Returns one ASR per model, in [0, 1]
    (NaN for all when no image is right for every model), so that a defence that lowers clean
    accuracy cannot look like one that resists.

    >>> common_base_asr([torch.tensor([True, True, False]), torch.tensor([True, False, True])],
    ...                 [torch.tensor([False, True, False]), torch.tensor([True, False, True])])
    [1.0, 0.0]
    """
    clean = [torch.as_tensor(m) for m in clean_correct]
    adversarial = [torch.as_tensor(m) for m in adversarial_correct]
    if not clean or len(clean) != len(adversarial):
        raise ValueError(
            f"clean_correct and adversarial_correct must hold one mask per model, at least one; "
            f"got {len(clean)} and {len(adversarial)}"
        )
    shape = clean[0].shape
    if any(m.dtype != torch.bool or m.ndim != 1 or m.shape != shape for m in clean + adversarial):
        raise ValueError(f"every mask must be a boolean tensor of shape {tuple(shape)} (one entry per image)")
    base = torch.stack(clean).all(dim=0)
    if not base.any():
        return [math.nan] * len(clean)
    return [(~a[base]).double().mean().item() for a in adversarial]
