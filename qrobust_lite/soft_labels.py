"""Soft labels: one-hot, label smoothing, quantum-refined, and the loss that trains on them
(book: Part I, *Soft labels and calibration* and *A VQC that refines labels*).

A label is a probability vector over K classes. One-hot puts all mass on the annotated class;
label smoothing {Szegedy et al. 2016} moves a share ``smoothing`` (the papers' epsilon) to a
uniform vector; quantum
refining moves a share ``mix`` to the Born-rule probabilities a VQC gives *this* input,
sharpened or flattened by a temperature.

>>> refine_labels(torch.tensor([[0.5, 0.3, 0.2]]), torch.tensor([0]), temperature=1.0, mix=0.5)
tensor([[0.7500, 0.1500, 0.1000]])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import validation
from .validation import FEATURES, LABELS, N_CLASSES, POSITIVE, PROBABILITIES, SHARE, TENSOR, validate_params


@validate_params(labels=LABELS, n_classes=N_CLASSES)
def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Labels (N,) -> one-hot float targets (N, K)."""
    validation.below(labels, n_classes)
    return F.one_hot(labels.long(), n_classes).float()


@validate_params(labels=LABELS, n_classes=N_CLASSES, smoothing=SHARE)
def smooth_labels(labels: torch.Tensor, n_classes: int, smoothing: float = 0.1) -> torch.Tensor:
    """Uniform label smoothing: (1 - smoothing) one_hot + smoothing / K, smoothing in [0, 1]
    (the epsilon of the literature; Part II's epsilon is an attack budget)."""
    return (1 - smoothing) * one_hot(labels, n_classes) + smoothing / n_classes


@validate_params(probs=PROBABILITIES, temperature=POSITIVE)
def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Rescale probability vectors (N, K) by a temperature: p_k**(1/T), renormalised.

    T = 1 keeps them, T < 1 sharpens towards the most likely class, T > 1 flattens towards
    uniform. Zero probabilities stay zero.
    """
    return torch.softmax(torch.log(probs) / temperature, dim=1)


@validate_params(quantum_probs=PROBABILITIES, labels=LABELS, temperature=POSITIVE, mix=SHARE)
def refine_labels(
    quantum_probs: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0, mix: float = 0.5
) -> torch.Tensor:
    """Quantum-refined soft labels (N, K): (1 - mix) one_hot + mix sharpen(quantum_probs, T).

    ``quantum_probs`` are a VQC's Born-rule class probabilities for each input; ``mix`` = 0
    gives back one-hot labels, ``mix`` = 1 uses the circuit's (tempered) probabilities alone.
    """
    validation.same_length("quantum_probs", quantum_probs, "labels", labels)
    tempered = sharpen(quantum_probs, temperature)
    return (1 - mix) * one_hot(labels, quantum_probs.shape[1]).to(tempered.dtype) + mix * tempered


@validate_params(logits=FEATURES, targets=TENSOR)
def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_k targets_k log softmax(logits)_k; targets (N, K) rows sum to 1.

    With one-hot targets it equals ``torch.nn.functional.cross_entropy`` on the labels.
    (PyTorch's cross_entropy also takes probability targets; this function is written out
    because the book derives it.)
    """
    if logits.shape != targets.shape or logits.ndim != 2:
        raise ValueError(
            f"logits and targets must both have shape (N, K), got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
