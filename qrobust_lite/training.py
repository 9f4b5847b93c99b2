"""The course's one training loop, and prediction in batches (book: Part I, *Soft labels and
calibration*, where it is first used; every Part trains with :func:`fit`).

:func:`fit` is the loop the primer writes by hand: shuffle, split into mini-batches, Adam on
a loss, one mean loss per epoch. Its hooks carry what differs between the chapters:

- ``loss(outputs, targets)``: cross-entropy on soft labels (Part I), negative log-likelihood
  of Born-rule probabilities (the VQC), binary cross-entropy (Part III);
- ``transform(model, inputs, targets)``: a batch changed before the step (Part II's defences:
  noise, quantum patches, PGD examples of the model as it is at that step);
- ``penalty(model, batch_size)``: a term added to each batch's loss (Part III's unlearning
  pushes the model away from the forget set);
- ``after_epoch(epoch, seconds)``: called after each epoch, in evaluation mode (Part III's
  unlearning records its metrics and the training time so far).

Every random number comes from one explicit ``torch.Generator``: the batch order, the draws of
the hooks that close over it, and the masks of :class:`Dropout` layers. Nothing touches
torch's global generator, so runs in parallel threads stay reproducible.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
from torch import nn

from . import validation
from .backend import load_aware_threads
from .progress import bar
from .soft_labels import one_hot, soft_cross_entropy
from .validation import (
    CALLABLE,
    COUNT,
    IMAGE_BATCH,
    IMAGES,
    MODEL,
    POSITIVE,
    SEED,
    TENSOR,
    TEXT,
    Bool,
    Instance,
    Optional,
    Real,
    Sequence_,
    validate_params,
)

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@validate_params(p=Real(0, 1, high_open=True))
class Dropout(nn.Module):
    """``nn.Dropout`` whose masks come from a generator that :func:`fit` hands it.

    The same draws as ``nn.Dropout`` on the CPU (``bernoulli_(1 - p)``, scaled by ``1 / (1 - p)``),
    so a model trained with the same seed gives the same weights; without a generator (outside
    :func:`fit`) it draws from torch's global generator. The masks are drawn on the CPU, where
    :func:`fit`'s generator lives, and moved to the input's device (a GPU's ``bernoulli_``
    refuses a CPU generator), so a seed gives the same masks on every device; on a GPU that is
    one copy to the device per dropout layer and step.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        mask = torch.empty_like(x, device="cpu").bernoulli_(1 - self.p, generator=self.generator).to(x.device)
        return x * mask.div_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


@validate_params(
    model=MODEL,
    inputs=TENSOR,
    targets=TENSOR,
    loss=CALLABLE,
    epochs=COUNT,
    batch_size=COUNT,
    lr=POSITIVE,
    generator=Instance(torch.Generator, "a torch.Generator"),
    transform=Optional(CALLABLE),
    penalty=Optional(CALLABLE),
    after_epoch=Optional(CALLABLE),
    lr_drops=Sequence_(COUNT, min_len=0),
    progress=Bool(),
    desc=TEXT,
)
def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: Loss,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    transform: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    penalty: Callable[[nn.Module, int], torch.Tensor] | None = None,
    after_epoch: Callable[[int, float], None] | None = None,
    lr_drops: tuple[int, ...] = (),
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Train ``model`` with Adam on mini-batches; returns the mean loss of each epoch.

    ``inputs`` (N, ...) and ``targets`` (N, ...) are split into shuffled batches of
    ``batch_size``; each step minimises ``loss(model(batch), batch targets)`` (plus
    ``penalty(model, len(batch))``). The hooks are described in the module docstring. After
    each epoch listed in ``lr_drops`` the learning rate is divided by 10 (paper A's labeler:
    ``lr_drops=(3,)``). The model is left in evaluation mode.

    >>> model = nn.Linear(2, 1)
    >>> x = torch.tensor([[0.0, 1.0], [1.0, 0.0]]); y = torch.tensor([[1.0], [-1.0]])
    >>> mse = lambda out, t: ((out - t) ** 2).mean()
    >>> history = fit(model, x, y, mse, epochs=50, batch_size=2, lr=0.1,
    ...               generator=torch.Generator().manual_seed(0), progress=False)
    >>> len(history), history[-1] < history[0]
    (50, True)
    """
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets must have the same length, got {len(inputs)} and {len(targets)}")
    if len(inputs) == 0:
        raise ValueError("inputs must hold at least one sample, got none")
    if any(e >= epochs for e in lr_drops):
        raise ValueError(
            f"lr_drops must hold epochs in 1..{epochs - 1} (after which lr is divided by 10), got {lr_drops!r}"
        )
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]
    for layer in dropouts:
        layer.generator = generator
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(lr_drops), gamma=0.1)
    history = []
    with load_aware_threads():  # as many CPU threads as other programs leave cores free
        try:
            for epoch in bar(range(1, epochs + 1), progress, desc=desc, leave=False):
                model.train()
                start, total = time.perf_counter(), 0.0
                for idx in torch.randperm(len(inputs), generator=generator).split(batch_size):
                    x, t = inputs[idx], targets[idx]
                    if transform is not None:
                        x = transform(model, x, t)
                    value = loss(model(x), t)
                    if penalty is not None:
                        value = value + penalty(model, len(idx))
                    if not torch.isfinite(value):
                        raise FloatingPointError(
                            f"training stopped: the loss became {value.item()} in epoch {epoch} "
                            f"(lr={lr}); lower lr, or check the inputs and the loss's weights"
                        )
                    opt.zero_grad()
                    value.backward()
                    opt.step()
                    total += value.item() * len(idx)
                schedule.step()
                history.append(total / len(inputs))
                model.eval()
                if after_epoch is not None:
                    after_epoch(epoch, time.perf_counter() - start)
        finally:
            for layer in dropouts:
                layer.generator = None
            model.eval()
    return history


@validate_params(
    model=MODEL,
    images=IMAGE_BATCH,
    targets=TENSOR,
    epochs=COUNT,
    batch_size=COUNT,
    lr=POSITIVE,
    seed=SEED,
    progress=Bool(),
    desc=TEXT,
)
def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """:func:`fit` on soft-target cross-entropy; returns the mean loss of each epoch.

    ``targets`` are labels (N,) or probability vectors (N, K). ``seed`` drives the batch
    order and the dropout masks, so the same seed and initialisation give the same model.
    """
    validation.non_empty(images, "images")
    validation.same_length("images", images, "targets", targets)
    if targets.ndim == 1:
        validation.labels(targets, "targets")
        with torch.no_grad():
            n_classes = model.eval()(images[:1]).shape[1]
        targets = one_hot(validation.below(targets, n_classes, "targets"), n_classes)
    else:
        validation.probabilities(targets, "targets")
    return fit(
        model,
        images,
        targets.to(images.dtype),
        soft_cross_entropy,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        generator=torch.Generator().manual_seed(seed),
        progress=progress,
        desc=desc,
    )


@torch.no_grad()
@validate_params(model=MODEL, images=IMAGES, batch_size=COUNT)
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits (N, K) in evaluation mode, in batches of ``batch_size`` (512 runs the small CNN
    about twice as fast on a CPU as 2,048, whose activations do not fit in its caches)."""
    validation.non_empty(images, "images")
    model.eval()
    with load_aware_threads():  # as in training: two threads on one free core are far slower
        return torch.cat([model(part) for part in images.split(batch_size)])


@torch.no_grad()
@validate_params(model=MODEL, images=IMAGES, temperature=POSITIVE, batch_size=COUNT)
def predict_proba(
    model: nn.Module, images: torch.Tensor, temperature: float = 1.0, batch_size: int = 512
) -> torch.Tensor:
    """Class probabilities (N, K): softmax(logits / temperature)."""
    return torch.softmax(predict_logits(model, images, batch_size) / temperature, dim=1)
