"""Argument checks shared by the public functions (book: every chapter; scikit-learn's
``utils.validation`` is the model).

Each check names the argument, what it was given and what is allowed, and never changes the
value silently: NaN and infinite values are refused where the package takes images, features
or probabilities, integer tensors are refused where fractions are needed (they would be
truncated), and NumPy scalars count as numbers.

>>> share(np.float32(0.25), "alpha")
0.25
>>> images(torch.tensor([[[[0.5, float("nan")]]]]))
Traceback (most recent call last):
    ...
ValueError: images must hold finite values, got 1 NaN or infinite
>>> seed(-1)
Traceback (most recent call last):
    ...
ValueError: seed must be an integer >= 0, got -1
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

import numpy as np
import torch


def number(value, arg: str) -> float:
    """A finite real number (Python or NumPy; not a bool), as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{arg} must be a finite number, got {value!r}")
    return float(value)


def share(value, arg: str) -> float:
    """A number in [0, 1], as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{arg} must be a number in [0, 1], got {value!r}")
    return float(value)


def positive(value, arg: str) -> float:
    """A finite number > 0, as a float."""
    if number(value, arg) <= 0:
        raise ValueError(f"{arg} must be a positive number, got {value!r}")
    return float(value)


def positive_int(value, arg: str) -> int:
    """An integer >= 1 (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    return int(value)


def non_negative(value, arg: str) -> float:
    """A finite number >= 0, as a float."""
    if number(value, arg) < 0:
        raise ValueError(f"{arg} must be a number >= 0, got {value!r}")
    return float(value)


def seed(value, arg: str = "seed") -> int:
    """A seed: an integer >= 0 (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{arg} must be an integer >= 0, got {value!r}")
    return int(value)


def choice(value, arg: str, allowed) -> str:
    """One of the names ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{arg} must be one of {list(allowed)}, got {value!r}")
    return value


def folder(value, arg: str) -> str | None:
    """None (the default places) or an existing folder, as a string."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{arg} must be a folder path or None, got {type(value).__name__}")
    if not Path(value).is_dir():
        raise FileNotFoundError(f"{arg} {str(value)!r} is not a folder: give an existing folder, or None")
    return str(value)


def tensor(x, arg: str) -> torch.Tensor:
    """A torch tensor (lists and NumPy arrays are refused: convert with ``torch.as_tensor``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{arg} must be a torch tensor, got {type(x).__name__} (convert with torch.as_tensor)")
    return x


def labels(y, arg: str = "labels") -> torch.Tensor:
    """Class labels: a 1-D integer tensor of values >= 0."""
    tensor(y, arg)
    if y.ndim != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{arg} must be a 1-D integer tensor of class indices, got {y.dtype} of shape "
                         f"{tuple(y.shape)}")
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"{arg} must be class indices >= 0, got {int(y.min())}")
    return y


def below(y: torch.Tensor, n_classes: int, arg: str = "labels") -> torch.Tensor:
    """Labels that are class indices below ``n_classes``."""
    if y.numel() and int(y.max()) >= n_classes:
        raise ValueError(f"{arg} must be class indices in 0..{n_classes - 1}, got {int(y.max())}")
    return y


def probabilities(p, arg: str = "probs") -> torch.Tensor:
    """Probability rows: a 2-D finite floating tensor (N, K), entries >= 0, rows summing to 1."""
    tensor(p, arg)
    if p.ndim != 2:
        raise ValueError(f"{arg} must have shape (N, K), got {tuple(p.shape)}")
    finite_floats(p, arg)
    if p.numel() and p.min() < 0:
        raise ValueError(f"{arg} rows must be probability vectors, entries >= 0; got {p.min().item():.3g}")
    if p.numel() and (p.sum(1) - 1).abs().max() > 1e-4:
        raise ValueError(f"{arg} rows must be probability vectors summing to 1, got sums in [{p.sum(1).min().item():.4g}, "
                         f"{p.sum(1).max().item():.4g}]")
    return p


def non_empty(x, arg: str) -> torch.Tensor:
    """A batch with at least one sample (for work that needs one, such as a model's forward pass)."""
    if not len(x):
        raise ValueError(f"{arg} must hold at least one sample, got an empty batch of shape {tuple(x.shape)}")
    return x


def same_length(arg_a: str, a: torch.Tensor, arg_b: str, b: torch.Tensor) -> None:
    """Two batches of the same length N."""
    if len(a) != len(b):
        raise ValueError(f"{arg_a} and {arg_b} must have the same length, got {len(a)} and {len(b)}")


def finite_floats(x: torch.Tensor, arg: str) -> torch.Tensor:
    """A floating-point tensor without NaN or infinite values (returned unchanged)."""
    tensor(x, arg)
    if not (x.is_floating_point() or x.is_complex()):
        raise ValueError(f"{arg} must be a floating-point tensor, got {x.dtype} (convert with .float())")
    if not x.numel() or x.device.type == "meta":     # meta tensors have shapes, no values
        return x
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise ValueError(f"{arg} must hold finite values, got {bad} NaN or infinite")
    return x


def images(x: torch.Tensor, arg: str = "images", ndim: int | None = None) -> torch.Tensor:
    """Images: a finite floating tensor with a leading batch dimension (``ndim`` dimensions when
    given), pixel values in [0, 1]."""
    tensor(x, arg)
    if isinstance(x, torch.Tensor) and (x.ndim < 2 if ndim is None else x.ndim != ndim):
        shape = "(N, C, H, W)" if ndim == 4 else "(N, ...) with a batch dimension"
        raise ValueError(f"{arg} must be a tensor of shape {shape}, got {tuple(x.shape)}")
    finite_floats(x, arg)
    if x.numel() and x.device.type != "meta" and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{arg} must have values in [0, 1], got [{x.min().item():.3g}, {x.max().item():.3g}]")
    return x


def image_batch(x: torch.Tensor, arg: str = "images") -> torch.Tensor:
    """Images of shape (N, C, H, W), values in [0, 1]."""
    return images(x, arg, ndim=4)
