"""Adversarial attacks under an L-infinity budget (book: Part II, *Attacking a quantum
classifier*).

An attack changes every pixel by at most ``epsilon`` (pixels stay in [0, 1]) to make the model
wrong. FGSM {Goodfellow et al. 2015} takes one step of size epsilon along the sign of the loss
gradient; PGD {Madry et al. 2018} takes several smaller steps, projecting back into the
epsilon-box after each. The **attack success rate** (ASR) counts, among the test images the
model classifies correctly, the share whose prediction the attack changes
(:func:`~qrobust_lite.metrics.attack_success_rate`).

The model may return logits (use ``loss="logits"``, cross-entropy) or class probabilities,
as a :class:`~qrobust_lite.circuits.VQC` does (``loss="probs"``, negative log-probability).

>>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
>>> x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 0])
>>> x_adv = pgd(model, x, y, epsilon=0.1, steps=5)
>>> bool((x_adv - x).abs().max() <= 0.1 + 1e-7)
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import validation
from .backend import load_aware_threads
from .metrics import PROB_FLOOR
from .validation import (
    COUNT,
    FEATURES,
    IMAGES,
    LABELS,
    MODEL,
    POSITIVE,
    SEED,
    SHARE,
    Array,
    Bool,
    Int,
    Optional,
    Options,
    validate_params,
)

LOSSES = ("logits", "probs")


LOSS = Options(*LOSSES)
EPSILON = SHARE  # in pixel units: images are in [0, 1]


@validate_params(outputs=Array("features", ndim=2), labels=LABELS, loss=LOSS)
def classification_loss(outputs: torch.Tensor, labels: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean cross-entropy of logits (``loss="logits"``) or NLL of probabilities (``"probs"``)."""
    validation.non_empty(outputs, "outputs")
    validation.below(labels, outputs.shape[1])
    validation.same_length("outputs", outputs, "labels", labels)
    if loss == "logits":
        return F.cross_entropy(outputs, labels)
    return F.nll_loss(torch.log(outputs.clamp_min(PROB_FLOOR)), labels)


def _check(images: torch.Tensor, labels: torch.Tensor) -> None:
    validation.non_empty(images, "images")
    validation.same_length("images", images, "labels", labels)


@validate_params(model=MODEL, images=IMAGES, labels=LABELS, loss=LOSS)
def input_gradient(model, images: torch.Tensor, labels: torch.Tensor, loss: str = "logits") -> torch.Tensor:
    """Gradient of the mean loss with respect to the input images, same shape as ``images``."""
    _check(images, labels)
    x = images.detach().clone().requires_grad_(True)
    value = classification_loss(model(x), labels, loss)
    return torch.autograd.grad(value, x)[0]


@validate_params(images=IMAGES, gradient=FEATURES, epsilon=EPSILON)
def fgsm_step(images: torch.Tensor, gradient: torch.Tensor, epsilon: float) -> torch.Tensor:
    """One signed step up the loss, kept in the pixel range: ``clip(images + epsilon * sign(gradient), 0, 1)``."""
    if gradient.shape != images.shape:
        raise ValueError(f"gradient must have the images' shape {tuple(images.shape)}, got {tuple(gradient.shape)}")
    return (images + epsilon * gradient.sign()).clamp(0.0, 1.0)


@validate_params(adversarial=FEATURES, images=IMAGES, epsilon=EPSILON)
def project(adversarial: torch.Tensor, images: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The nearest point to ``adversarial`` (any finite values, such as a step past the pixel range)
    with ``|x - images| <= epsilon`` per pixel, clipped to [0, 1]."""
    if adversarial.shape != images.shape:
        raise ValueError(
            f"adversarial must have the images' shape {tuple(images.shape)}, got {tuple(adversarial.shape)}"
        )
    return torch.min(torch.max(adversarial, images - epsilon), images + epsilon).clamp(0.0, 1.0)


@validate_params(model=MODEL, images=IMAGES, labels=LABELS, epsilon=EPSILON, loss=LOSS)
def fgsm(model, images: torch.Tensor, labels: torch.Tensor, epsilon: float, loss: str = "logits") -> torch.Tensor:
    """Fast gradient sign method: :func:`fgsm_step` along the gradient of the loss."""
    _check(images, labels)
    return fgsm_step(images, input_gradient(model, images, labels, loss), epsilon).detach()


@validate_params(
    model=MODEL,
    images=IMAGES,
    labels=LABELS,
    epsilon=EPSILON,
    step_size=Optional(POSITIVE),
    steps=COUNT,
    random_start=Bool(),
    seed=SEED,
    loss=LOSS,
    restarts=Int(0),
)
def pgd(
    model,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float,
    step_size: float | None = None,
    steps: int = 10,
    random_start: bool = False,
    seed: int = 0,
    loss: str = "logits",
    restarts: int = 0,
) -> torch.Tensor:
    """Projected gradient descent in the L-infinity ball of radius ``epsilon``.

    Each of ``steps`` steps adds ``step_size * sign(grad)`` (default ``2.5 epsilon / steps``),
    projects back to ``|x - images| <= epsilon`` and clips to [0, 1]. ``random_start`` begins
    from a uniform point in the ball (seeded). ``restarts`` more runs, each from its own random
    start (seeds ``seed + 1``, ...) on the images still classified correctly, replace an image's
    adversarial example wherever the new one fools the model: the attack succeeds on an image
    if any run does. The model must treat images independently (no batch statistics), as the
    course's models in evaluation mode do.
    """
    _check(images, labels)
    if epsilon == 0:
        return images.detach().clone()
    with load_aware_threads():  # as in training: two threads on one free core are far slower
        best = _pgd_run(model, images, labels, epsilon, step_size, steps, random_start, seed, loss)
        for r in range(1, restarts + 1):  # a loop over restarts, each one batched
            with torch.no_grad():
                resisted = model(best).argmax(dim=1) == labels
            if not resisted.any():
                break
            # a restart attacks only the images that resisted so far (the model treats images
            # independently: an image's attack does not depend on the rest of the batch)
            idx = resisted.nonzero().squeeze(1)
            candidate = _pgd_run(model, images[idx], labels[idx], epsilon, step_size, steps, True, seed + r, loss)
            with torch.no_grad():
                fooled = model(candidate).argmax(dim=1) != labels[idx]
            best = best.clone()
            best[idx[fooled]] = candidate[fooled]
    return best


def _pgd_run(
    model,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float,
    step_size: float | None,
    steps: int,
    random_start: bool,
    seed: int,
    loss: str,
) -> torch.Tensor:
    """One PGD run of :func:`pgd` (its arguments already checked)."""
    step_size = 2.5 * epsilon / steps if step_size is None else step_size
    x = images.detach().clone()
    if random_start:
        gen = torch.Generator().manual_seed(seed)
        noise = (2 * torch.rand(x.shape, generator=gen, dtype=x.dtype) - 1) * epsilon
        x = (x + noise.to(x.device)).clamp(0.0, 1.0)
    for _ in range(steps):
        x = project(x + step_size * input_gradient(model, x, labels, loss).sign(), images, epsilon)
    return x.detach()
