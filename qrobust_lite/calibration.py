"""How good and how honest are predicted probabilities (book: Part I, *Soft labels and
calibration*).

Accuracy asks whether the top class is right; negative log-likelihood (NLL) and the Brier
score grade the whole probability vector; expected calibration error (ECE, 15 equal-width
confidence bins, {Guo et al. 2017}) asks whether a model that says "90 %" is right 90 % of
the time.
"""

from __future__ import annotations

import torch
PROB_FLOOR = 1e-12  # NLL counts a predicted probability below this as this (log 0 is -inf)


def _check(probs: torch.Tensor, labels: torch.Tensor) -> None:
    if not isinstance(probs, torch.Tensor) or probs.ndim != 2:
        raise ValueError("probs must be a tensor of shape (N, K)")
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(probs),):
        raise ValueError(f"labels must be a tensor of shape ({len(probs)},) matching probs")
    if (probs < 0).any() or not torch.allclose(probs.sum(1), torch.ones(len(probs), dtype=probs.dtype), atol=1e-4):
        raise ValueError("probs rows must be probability vectors (non-negative, summing to 1)")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError(f"labels must lie in 0..{probs.shape[1] - 1}")


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose most probable class is the label, in [0, 1]."""
    _check(probs, labels)
    return (probs.argmax(1) == labels).double().mean().item()


def nll(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean -log p(label), in nats (probabilities below ``PROB_FLOOR`` count as it)."""
    _check(probs, labels)
    return -torch.log(probs[torch.arange(len(labels)), labels].clamp_min(PROB_FLOOR)).mean().item()


def brier_score(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean squared distance between the probability vector and the one-hot label, in [0, 2]."""
    _check(probs, labels)
    target = torch.nn.functional.one_hot(labels, probs.shape[1]).to(probs.dtype)
    return ((probs - target) ** 2).sum(1).mean().item()


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15) -> float:
    """ECE: bin-weighted mean ``|accuracy - confidence|`` over ``n_bins`` equal-width bins, in [0, 1].

    Written here, not imported from torchmetrics: torchmetrics imports torchvision when it is
    installed and fails where torchvision is broken (as in this course's CPU set-up); the
    tests check this function against torchmetrics' ``multiclass_calibration_error``.
    """
    conf, acc, counts = reliability_bins(probs, labels, n_bins)
    keep = counts > 0
    return float((counts[keep] / counts.sum() * (acc[keep] - conf[keep]).abs()).sum())


def reliability_bins(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 15
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per confidence bin: mean confidence, accuracy and count (empty bins give NaN)."""
    _check(probs, labels)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    confidence, predicted = probs.max(1)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=confidence.dtype)
    which = torch.bucketize(confidence, edges[1:-1], right=True)  # bins (lo, hi], like torchmetrics
    counts = torch.bincount(which, minlength=n_bins).double()
    correct = torch.bincount(which, weights=(predicted == labels).double(), minlength=n_bins)
    conf_sum = torch.bincount(which, weights=confidence.double(), minlength=n_bins)
    return conf_sum / counts, correct / counts, counts


def evaluate(probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy, NLL, Brier score and ECE in one dictionary."""
    return {"accuracy": accuracy(probs, labels), "nll": nll(probs, labels),
            "brier": brier_score(probs, labels), "ece": expected_calibration_error(probs, labels)}


def reliability_diagram(probs: torch.Tensor, labels: torch.Tensor, ax=None, n_bins: int = 15,
                        label: str | None = None):
    """Plot accuracy against confidence per bin (marker area ~ bin size); the diagonal is
    perfect calibration."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    conf, acc, counts = reliability_bins(probs, labels, n_bins)
    keep = counts > 0
    ax.plot([0, 1], [0, 1], ":", color="gray", lw=1)
    ece = expected_calibration_error(probs, labels, n_bins)
    line, = ax.plot(conf[keep], acc[keep], "-", lw=1, label=f"{label or 'model'} (ECE {ece:.3f})")
    ax.scatter(conf[keep], acc[keep], s=400 * counts[keep] / counts.sum(), color=line.get_color())
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    return ax


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Temperature T > 0 minimising the NLL of softmax(logits / T) on held-out data {Guo 2017}."""
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or labels.shape != (len(logits),):
        raise ValueError("logits must have shape (N, K) and labels shape (N,)")
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits.detach() / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.detach().exp().item()
