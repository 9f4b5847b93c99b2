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
"""

from __future__ import annotations

import math
import numbers

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


def finite_floats(x: torch.Tensor, arg: str) -> torch.Tensor:
    """A floating-point tensor without NaN or infinite values (returned unchanged)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{arg} must be a torch tensor, got {type(x).__name__}")
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
    if isinstance(x, torch.Tensor) and (x.ndim < 2 if ndim is None else x.ndim != ndim):
        shape = "(N, C, H, W)" if ndim == 4 else "(N, ...) with a batch dimension"
        raise ValueError(f"{arg} must be a tensor of shape {shape}, got {tuple(x.shape)}")
    finite_floats(x, arg)
    if x.numel() and x.device.type != "meta" and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{arg} must have values in [0, 1], got [{x.min().item():.3g}, {x.max().item():.3g}]")
    return x
