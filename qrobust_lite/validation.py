"""Argument checks shared by the public functions (book: every chapter; scikit-learn's
``utils.validation`` and ``validate_params`` are the model).

Each check names the argument, what it was given and what is allowed, and never changes the
value silently: NaN and infinite values are refused where the package takes images, features
or probabilities, integer tensors are refused where fractions are needed (they would be
truncated), and NumPy scalars count as numbers.

Public functions declare their arguments with :func:`validate_params` and the constraints
below (:class:`Int`, :class:`Real`, :class:`Options`, :class:`Array`, ...); the declaration is
where the check happens, and the common test suite takes its bad values from it.

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

import cmath
import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Hashable
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
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
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
        raise ValueError(
            f"{arg} must be a 1-D integer tensor of class indices, got {y.dtype} of shape {tuple(y.shape)}"
        )
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
        raise ValueError(
            f"{arg} rows must be probability vectors summing to 1, got sums in [{p.sum(1).min().item():.4g}, "
            f"{p.sum(1).max().item():.4g}]"
        )
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
    if not x.numel() or x.device.type == "meta":  # meta tensors have shapes, no values
        return x
    if cmath.isfinite(x.detach().sum().item()):  # a NaN or infinite entry makes the sum NaN or infinite
        return x
    bad = int((~torch.isfinite(x)).sum())  # the sum alone can overflow: count
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


# --- declared constraints: what each argument may be, on the function that enforces it -------
#
# The model is scikit-learn's ``validate_params``: a public function declares a constraint for
# every argument, the decorator checks the arguments a caller passes before the body runs, and
# the common test suite (``tests/test_api_contract.py``) takes its bad values from the same
# declarations, so an argument cannot be added without saying what it may be.


class Constraint:
    """What one argument may be. ``check(value, arg)`` returns the value (NumPy scalars as Python
    numbers) or raises naming ``arg``; ``bad_values()`` maps a label to a value it refuses, or to
    a function of a good value that makes one (for tensors)."""

    def check(self, value, arg: str):
        return value

    def bad_values(self) -> dict:
        return {}


class Anything(Constraint):
    """Not checked here: ``why`` says who checks it (a model, results a function made, a callback)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"Anything({self.why!r})"


class Optional(Constraint):
    """None, or what ``inner`` allows."""

    def __init__(self, inner: Constraint) -> None:
        self.inner = inner

    def check(self, value, arg: str):
        if value is None:
            return None
        try:
            return self.inner.check(value, arg)
        except (ValueError, TypeError) as err:
            raise type(err)(str(err).replace(", got ", " or None, got ", 1)) from None

    def bad_values(self) -> dict:
        return self.inner.bad_values()

    def __repr__(self) -> str:
        return f"Optional({self.inner!r})"


def _bounds(low, high, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in ({low}, {high}]" if low_open else f"in [{low}, {high}]"
    if low is not None:
        return f"> {low}" if low_open else f">= {low}"
    return f"<= {high}" if high is not None else ""


class Int(Constraint):
    """An integer (Python or NumPy, not a bool) in ``[low, high]``; returned as ``int``."""

    def __init__(self, low: int | None = None, high: int | None = None) -> None:
        self.low, self.high = low, high

    def describe(self) -> str:
        if self.low == 1 and self.high is None:
            return "a positive integer"
        if self.low is not None and self.high is not None:
            return f"an integer in {self.low}..{self.high}"
        return f"an integer {_bounds(self.low, self.high)}".rstrip()

    def check(self, value, arg: str) -> int:
        if type(value) is int and (self.low is None or value >= self.low) and (self.high is None or value <= self.high):
            return value  # the common case, without the slower checks below (a few us per call)
        if (
            isinstance(value, (bool, np.bool_))
            or not isinstance(value, numbers.Integral)
            or (self.low is not None and int(value) < self.low)
            or (self.high is not None and int(value) > self.high)
        ):
            raise ValueError(f"{arg} must be {self.describe()}, got {value!r}")
        return int(value)

    def bad_values(self) -> dict:
        bad = {"fractional": (self.low or 0) + 2.5, "bool": True, "string": "3", "NaN": float("nan")}
        if self.low is not None:
            bad["below the lowest"] = self.low - 1
        if self.high is not None:
            bad["above the highest"] = self.high + 1
        return bad

    def __repr__(self) -> str:
        return f"Int({self.low}, {self.high})"


class Real(Constraint):
    """A finite real number (Python or NumPy, not a bool) in the range; returned as ``float``."""

    def __init__(
        self, low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False
    ) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def describe(self) -> str:
        if (self.low, self.high) == (0, 1) and not self.low_open:
            return f"a number in [0, 1{')' if self.high_open else ']'}"
        if (self.low, self.high, self.low_open) == (0, None, True):
            return "a positive number"
        bounds = _bounds(self.low, self.high, self.low_open)
        return f"a number {bounds}" if bounds else "a finite number"

    def check(self, value, arg: str) -> float:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not self._within(float(value)):
            raise ValueError(f"{arg} must be {self.describe()}, got {value!r}")
        return float(value)

    def _within(self, v: float) -> bool:
        return (
            math.isfinite(v)
            and (self.low is None or (v > self.low if self.low_open else v >= self.low))
            and (self.high is None or (v < self.high if self.high_open else v <= self.high))
        )

    def bad_values(self) -> dict:
        bad = {"NaN": float("nan"), "inf": float("inf"), "string": "0.5", "bool": True}
        if self.low is not None:
            bad["below the lowest"] = self.low - 0.1
            if self.low_open:
                bad["the open end"] = self.low
        if self.high is not None:
            bad["above the highest"] = self.high + 0.5
            if self.high_open:
                bad["the open end"] = self.high
        return bad

    def __repr__(self) -> str:
        return f"Real({self.low}, {self.high}, low_open={self.low_open})"


class Options(Constraint):
    """One of the given values (names, usually)."""

    def __init__(self, *allowed) -> None:
        self.allowed = allowed

    def check(self, value, arg: str):
        if (
            isinstance(value, (torch.Tensor, np.ndarray))
            or not isinstance(value, Hashable)
            or value not in self.allowed
        ):
            raise ValueError(f"{arg} must be one of {list(self.allowed)}, got {value!r}")
        return value

    def bad_values(self) -> dict:
        return {"unknown": "bogus", "number": 3}

    def __repr__(self) -> str:
        return f"Options{self.allowed!r}"


class Either(Constraint):
    """What any of ``options`` allows (the first that does, in order)."""

    def __init__(self, *options: Constraint) -> None:
        self.options = options

    def check(self, value, arg: str):
        errors = []
        for option in self.options:
            try:
                return option.check(value, arg)
            except (ValueError, TypeError) as err:
                errors.append(str(err).removeprefix(f"{arg} must be ").split(", got ")[0])
        raise ValueError(f"{arg} must be {' or '.join(errors)}, got {value!r}")

    def bad_values(self) -> dict:
        """The bad values of the options that every option refuses."""
        found = {}
        for option in self.options:
            for label, value in option.bad_values().items():
                if not callable(value) and label not in found and all(_refuses(o, value) for o in self.options):
                    found[label] = value
        return found


def _refuses(constraint: Constraint, value) -> bool:
    try:
        constraint.check(value, "x")
    except (ValueError, TypeError, OSError):
        return True
    return False


class Bool(Constraint):
    """True or False (a NumPy bool too)."""

    def check(self, value, arg: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{arg} must be True or False, got {value!r}")
        return bool(value)

    def bad_values(self) -> dict:
        return {"string": "yes", "integer": 1}


class Folder(Constraint):
    """An existing folder (str or path)."""

    def check(self, value, arg: str) -> str:
        if value is None:
            raise TypeError(f"{arg} must be a folder path, got None")
        return str(folder(value, arg))

    def bad_values(self) -> dict:
        return {"missing folder": "/nonexistent/qrobust-data", "number": 3}


class FilePath(Constraint):
    """A path to a file (str or path; whether it exists is the function's to say)."""

    def check(self, value, arg: str) -> Path:
        if not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{arg} must be a file path, got {type(value).__name__}")
        return Path(value)

    def bad_values(self) -> dict:
        return {"number": 3, "list": ["a"]}


class Instance(Constraint):
    """An instance of ``types`` (``what`` names it in the message)."""

    def __init__(self, types, what: str) -> None:
        self.types, self.what = types, what

    def check(self, value, arg: str):
        if not isinstance(value, self.types):
            raise TypeError(f"{arg} must be {self.what}, got {type(value).__name__}")
        return value

    def bad_values(self) -> dict:
        return {"another type": next(v for v in ("not one", 3, object()) if not isinstance(v, self.types))}

    def __repr__(self) -> str:
        return f"Instance({self.what!r})"


class Sequence_(Constraint):
    """A list or tuple (not a string) of at least ``min_len`` items, each allowed by ``item``,
    distinct when ``distinct``; returned as a tuple of the checked items."""

    def __init__(self, item: Constraint, min_len: int = 1, distinct: bool = False, max_len: int | None = None) -> None:
        self.item, self.min_len, self.distinct, self.max_len = item, min_len, distinct, max_len

    def check(self, value, arg: str) -> tuple:
        if isinstance(value, (np.ndarray, range)):
            value = list(value.tolist() if isinstance(value, np.ndarray) else value)
        if (
            not isinstance(value, (list, tuple))
            or len(value) < self.min_len
            or (self.max_len is not None and len(value) > self.max_len)
        ):
            size = (
                f" of {self.min_len} item(s)"
                if self.max_len == self.min_len
                else f" of at least {self.min_len} item(s)"
                if self.min_len
                else ""
            )
            raise ValueError(f"{arg} must be a list or tuple{size}, got {value!r}")
        items = tuple(self.item.check(v, f"{arg}[{i}]") for i, v in enumerate(value))
        if self.distinct and len(set(items)) != len(items):
            raise ValueError(f"{arg} must not repeat an item, got {list(value)}")
        return items

    def bad_values(self) -> dict:
        item = next(iter(self.item.bad_values().items()), None)
        bad = {"a bare string": "abc", "a bare number": 16}
        if self.min_len:
            bad["empty"] = ()
        if self.max_len is not None:
            bad["too long"] = tuple(range(1, self.max_len + 2))
        if item is not None and not callable(item[1]):
            bad[f"an item {item[0]}"] = (item[1],)
        return bad

    def __repr__(self) -> str:
        return f"Sequence_({self.item!r}, min_len={self.min_len})"


class Array(Constraint):
    """A tensor of a kind the package takes: ``"images"`` (N, ...) or ``"image_batch"``
    (N, C, H, W) in [0, 1], ``"features"`` (finite floats, ``ndim`` dimensions when given, at
    most ``max_width`` columns), ``"probabilities"`` (N, K) rows, ``"labels"`` (N,) class
    indices; ``"tensor"``: any torch tensor; ``"table"``: see :func:`table`."""

    KINDS = ("images", "image_batch", "features", "probabilities", "labels", "tensor", "table")

    def __init__(self, kind: str, ndim: int | None = None, max_width: int | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {list(self.KINDS)}, got {kind!r}")
        self.kind, self.ndim, self.max_width = kind, ndim, max_width

    def check(self, value, arg: str) -> torch.Tensor | np.ndarray:
        if self.kind == "images":
            return images(value, arg)
        if self.kind == "image_batch":
            return image_batch(value, arg)
        if self.kind == "probabilities":
            return probabilities(value, arg)
        if self.kind == "labels":
            return labels(value, arg)
        if self.kind == "table":
            return table(value, arg)
        tensor(value, arg)
        if self.kind == "tensor":
            return value
        if self.ndim is not None and value.ndim != self.ndim:
            shape = {1: "(N,)", 2: "(N, F)"}.get(self.ndim, f"of {self.ndim} dimensions")
            raise ValueError(f"{arg} must be a tensor of shape {shape}, got {tuple(value.shape)}")
        if self.max_width is not None and value.ndim and value.shape[-1] > self.max_width:
            raise ValueError(f"{arg} must have at most {self.max_width} columns, got shape {tuple(value.shape)}")
        return finite_floats(value, arg)

    def example(self) -> torch.Tensor:
        """A small good value of this kind (4 samples, 2 classes, 8x8 images), for the tests."""
        g = torch.Generator().manual_seed(0)
        if self.kind in ("images", "image_batch"):
            return torch.rand(4, 1, 8, 8, generator=g)
        if self.kind == "labels":
            return torch.tensor([0, 1, 0, 1])
        if self.kind == "probabilities":
            return torch.softmax(torch.randn(4, 2, generator=g), 1)
        return torch.rand((4, 4) if self.ndim in (None, 2) else (4,) * self.ndim, generator=g, dtype=torch.float64)

    def bad_values(self) -> dict:
        common = {"list": lambda x: x.tolist(), "empty": lambda x: x[:0]}
        nan_inf = {"NaN": _with_nan, "inf": _with_inf}
        if self.kind in ("images", "image_batch"):
            return {
                **nan_inf,
                **common,
                "integer": lambda x: (x * 255).to(torch.uint8),
                "above 1": lambda x: x + 1.0,
                "negative": lambda x: x - 1.0,
                "no batch axis": lambda x: x[0, 0, 0],
            }
        if self.kind in ("features", "table"):
            bad = {**nan_inf, **common}
            if self.kind == "features":  # a table takes integers as floats
                bad["integer"] = lambda x: x.round().long()
            width = self.max_width
            if width is not None:
                bad["too wide"] = lambda x: torch.rand(1, width + 1, dtype=x.dtype)
            return bad
        if self.kind == "probabilities":
            return {
                "NaN": _with_nan,
                "negative": lambda p: p - 1.0,
                "not summing to 1": lambda p: p * 0.5,
                "integer": lambda p: p.round().long(),
                "empty": lambda p: p[:0],
            }
        if self.kind == "labels":
            return {
                **common,
                "fractional": lambda y: y.double() + 0.5,
                "negative": lambda y: y - 5,
                "too large": lambda y: y + 100,
                "two-dimensional": lambda y: y[:, None].repeat(1, 2),
                "one too few": lambda y: y[:-1],
            }
        return {"list": lambda x: x.tolist()}

    def __repr__(self) -> str:
        return f"Array({self.kind!r})"


def table(x, arg: str) -> np.ndarray:
    """Training features (N, F), N >= 1: a tensor or NumPy array of finite real numbers, returned
    as a float NumPy array (integers become floats, never truncated)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{arg} must be a tensor or array of shape (N, F), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{arg} must have shape (N, F) with N >= 1, got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"{arg} must hold real numbers, got {x.dtype}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{arg} contains NaN or infinite values")
    return x


def _with_nan(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[0] = float("nan")
    return x


def _with_inf(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[-1] = float("inf")
    return x


#: Common declarations, named as the book names them.
COUNT = Int(1)
N_CLASSES = Int(2, 1000)  # the course's datasets have 10; a one-hot row per sample must fit
SEED = Int(0)
SHARE = Real(0, 1)
POSITIVE = Real(0, None, low_open=True)
NON_NEGATIVE = Real(0)
IMAGES = Array("images")
IMAGE_BATCH = Array("image_batch")
FEATURES = Array("features")
PROBABILITIES = Array("probabilities")
LABELS = Array("labels")
TENSOR = Array("tensor")
CALLABLE = Instance(Callable, "a function")
TEXT = Instance(str, "a string")
MODEL = Instance(torch.nn.Module, "a torch.nn.Module")
GENERATOR = Optional(Instance(torch.Generator, "a torch.Generator"))
PROGRESS = Bool()


def validate_params(**constraints: Constraint):
    """Declare a constraint for every argument of a function (or of a class's ``__init__``) and
    check each argument a caller passes before the body runs. NumPy scalars reach the body as
    Python numbers, checked sequences as tuples; defaults are not re-checked.

    The declarations are kept as ``func.constraints``, where the common test suite reads them.
    Relations between arguments (equal lengths, labels below ``n_classes``) stay in the body.

    >>> @validate_params(n_qubits=Int(1, 20), alpha=SHARE)
    ... def f(n_qubits, alpha=0.5):
    ...     return n_qubits, alpha
    >>> f(np.int64(3), alpha=np.float32(0.25))
    (3, 0.25)
    >>> f(0)
    Traceback (most recent call last):
        ...
    ValueError: n_qubits must be an integer in 1..20, got 0
    """

    def decorate(func):
        target = func.__init__ if isinstance(func, type) else func
        signature = inspect.signature(target)
        names = [p for p in signature.parameters if p != "self"]
        undeclared = sorted(set(names) - set(constraints))
        unknown = sorted(set(constraints) - set(names))
        if undeclared or unknown:
            raise TypeError(
                f"{func.__qualname__}: declare every argument once: undeclared {undeclared}, not arguments {unknown}"
            )

        positional = [
            p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        variadic = {p.name for p in signature.parameters.values() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

        @functools.wraps(target)
        def checked(*args, **kwargs):
            if variadic:  # rare: bind to see which values belong to which name
                bound = signature.bind_partial(*args, **kwargs)
                for name, value in bound.arguments.items():
                    if name != "self" and name not in variadic:
                        bound.arguments[name] = constraints[name].check(value, name)
                return target(*bound.args, **bound.kwargs)
            args = (
                tuple(
                    value if name == "self" else constraints[name].check(value, name)
                    for name, value in zip(positional, args)
                )
                + args[len(positional) :]
            )
            kwargs = {
                name: constraints[name].check(value, name) if name in constraints else value
                for name, value in kwargs.items()
            }
            return target(*args, **kwargs)

        checked.constraints = constraints
        if isinstance(func, type):
            func.__init__ = checked
            func.constraints = constraints
            return func
        return checked

    return decorate
