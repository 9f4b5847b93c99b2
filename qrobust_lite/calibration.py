"""Seeing and fixing miscalibration (book: Part I, *Soft labels and calibration*).

The scores (ECE and the others) live in :mod:`~qrobust_lite.metrics`; here are the
reliability diagram that shows them and temperature scaling {Guo et al. 2017}, the classical
fix the chapters compare soft labels with.
"""

from __future__ import annotations

import torch

from . import validation
from .metrics import expected_calibration_error, reliability_bins
from .validation import COUNT, LABELS, PROBABILITIES, Anything, Array, Instance, Optional, validate_params


@validate_params(
    y_true=LABELS,
    probs=PROBABILITIES,
    ax=Anything("a Matplotlib Axes, or None for the current one"),
    n_bins=COUNT,
    label=Optional(Instance(str, "a string")),
)
def reliability_diagram(y_true: torch.Tensor, probs: torch.Tensor, ax=None, n_bins: int = 15, label: str | None = None):
    """Plot accuracy against confidence per bin (marker area ~ bin size); the diagonal is
    perfect calibration."""
    import matplotlib.pyplot as plt

    validation.non_empty(probs, "probs")
    ax = ax or plt.gca()
    conf, acc, counts = reliability_bins(y_true, probs, n_bins)
    keep = counts > 0
    ax.plot([0, 1], [0, 1], ":", color="gray", lw=1)
    ece = expected_calibration_error(y_true, probs, n_bins)
    (line,) = ax.plot(conf[keep], acc[keep], "-", lw=1, label=f"{label or 'model'} (ECE {ece:.3f})")
    ax.scatter(conf[keep], acc[keep], s=400 * counts[keep] / counts.sum(), color=line.get_color())
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    return ax


@validate_params(logits=Array("features", ndim=2), labels=LABELS)
def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature T > 0 minimising the NLL of softmax(logits / T) on held-out data {Guo 2017}."""
    if not len(logits):
        raise ValueError(f"logits must be a tensor of shape (N, K) with N >= 1, got {tuple(logits.shape)}")
    validation.below(labels, logits.shape[1])
    validation.same_length("logits", logits, "labels", labels)
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits.detach() / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.detach().exp().item()
