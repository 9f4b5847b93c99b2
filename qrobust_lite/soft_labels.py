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


def _check_labels(labels: torch.Tensor, n_classes: int) -> None:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    validation.below(validation.labels(labels), n_classes)


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Labels (N,) -> one-hot float targets (N, K)."""
    _check_labels(labels, n_classes)
    return F.one_hot(labels.long(), n_classes).float()


def smooth_labels(labels: torch.Tensor, n_classes: int, smoothing: float = 0.1) -> torch.Tensor:
    """Uniform label smoothing: (1 - smoothing) one_hot + smoothing / K, smoothing in [0, 1]
    (the epsilon of the literature; Part II's epsilon is an attack budget)."""
    validation.share(smoothing, "smoothing")
    return (1 - smoothing) * one_hot(labels, n_classes) + smoothing / n_classes


def sharpen(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Rescale probability vectors (N, K) by a temperature: p_k**(1/T), renormalised.

    T = 1 keeps them, T < 1 sharpens towards the most likely class, T > 1 flattens towards
    uniform. Zero probabilities stay zero.
    """
    validation.probabilities(probs, "probs")
    validation.positive(temperature, "temperature")
    return torch.softmax(torch.log(probs) / temperature, dim=1)


def refine_labels(quantum_probs: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0,
                  mix: float = 0.5) -> torch.Tensor:
    """Quantum-refined soft labels (N, K): (1 - mix) one_hot + mix sharpen(quantum_probs, T).

    ``quantum_probs`` are a VQC's Born-rule class probabilities for each input; ``mix`` = 0
    gives back one-hot labels, ``mix`` = 1 uses the circuit's (tempered) probabilities alone.
    """
    validation.share(mix, "mix")
    validation.probabilities(quantum_probs, "quantum_probs")
    validation.same_length("quantum_probs", quantum_probs, "labels", validation.tensor(labels, "labels"))
    tempered = sharpen(quantum_probs, temperature)
    return (1 - mix) * one_hot(labels, quantum_probs.shape[1]).to(tempered.dtype) + mix * tempered


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_k targets_k log softmax(logits)_k; targets (N, K) rows sum to 1.

    With one-hot targets it equals ``torch.nn.functional.cross_entropy`` on the labels.
    (PyTorch's cross_entropy also takes probability targets; this function is written out
    because the book derives it.)
    """
    validation.finite_floats(logits, "logits")
    validation.tensor(targets, "targets")
    if logits.shape != targets.shape or logits.ndim != 2:
        raise ValueError(f"logits and targets must both have shape (N, K), got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
