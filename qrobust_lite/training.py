"""Training and prediction loops with progress bars (book: Part I).

One loop serves hard and soft labels: hard labels are turned into one-hot targets, and the
loss is the soft-target cross-entropy of :mod:`qrobust_lite.soft_labels`.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from .soft_labels import one_hot, soft_cross_entropy


def train_classifier(model: nn.Module, images: torch.Tensor, targets: torch.Tensor,
                     epochs: int = 5, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                     progress: bool = True, desc: str = "training") -> list[float]:
    """Train with Adam on soft-target cross-entropy; returns the mean loss of each epoch.

    ``targets`` are labels (N,) or probability vectors (N, K). ``seed`` drives the batch
    order and the dropout masks, so the same seed and initialisation give the same model.
    """
    if len(images) != len(targets):
        raise ValueError(f"images and targets must have the same length, got {len(images)} and {len(targets)}")
    for arg, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    if targets.ndim == 1:
        with torch.no_grad():
            n_classes = model(images[:1]).shape[1]
        targets = one_hot(targets, n_classes)
    targets = targets.to(images.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = []
    with torch.random.fork_rng():       # seeds dropout without touching the caller's RNG
        torch.manual_seed(seed)
        for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
            total = 0.0
            for idx in torch.randperm(len(images)).split(batch_size):
                loss = soft_cross_entropy(model(images[idx]), targets[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            history.append(total / len(images))
    model.eval()
    return history


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Logits (N, K) in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(part) for part in images.split(batch_size)])


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, temperature: float = 1.0,
                  batch_size: int = 2048) -> torch.Tensor:
    """Class probabilities (N, K): softmax(logits / temperature)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    return torch.softmax(predict_logits(model, images, batch_size) / temperature, dim=1)
