"""Checkers' cases, the call step, and the plain data between a learner's kernel and the grader
(book: every chapter's *Exercises* section, through ``check``; *For instructors*, section *Grading*).

A checker's **cases** are its inputs as plain data: each :func:`case` lists the arguments of one
call of the learner's answer (plain values, or arrays to pass as a torch :func:`tensor`, or the
seed of a torch :func:`generator`) and what to keep of the result. :func:`call` is the **call
step**: it calls the answer on each case and keeps plain records (numbers, strings, lists, dicts,
NumPy arrays of numbers, what the call did to its array arguments, how many QNode calls it made),
or the error the learner's code raised; a judge reads them as :class:`Outputs`. :func:`dumps` and
:func:`loads` carry such data as JSON, arrays as their raw numbers: a format that holds no code.

When grading, the call step runs in the learner's own kernel, which loads this file by its path
(:func:`answer`): it imports only the standard library and NumPy (torch and PennyLane when a case
needs them), never the package.

>>> loads(dumps({"p": np.array([0.5, 0.5]), "n": None}))
{'p': array([0.5, 0.5]), 'n': None}
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import random
import sys
import traceback
from typing import Any

import numpy as np

#: How a case keeps the answer's result, as a NumPy array, a float, an int, or plain data.
RETURNS = ("array", "float", "int", "value")
_NUMBERS = "biufc"  # NumPy's kinds: bool, int, unsigned, float, complex
_MOST_NUMBERS = 2**18  # in one result: the largest case has 156,800 pixels
_DEPTH = 32


class _NotNumbers(TypeError):
    """The answer returned something that is not numbers where numbers were expected."""


class _Tensor:
    def __init__(self, values: Any) -> None:
        self.values = _numpy(values).copy()


class _Generator:
    def __init__(self, seed: int) -> None:
        self.seed = int(seed)


def tensor(values: Any) -> _Tensor:
    """An argument passed as a torch tensor (with the dtype of ``values``, an array or a tensor)."""
    return _Tensor(values)


def generator(seed: int) -> _Generator:
    """An argument passed as a ``torch.Generator`` seeded with ``seed``."""
    return _Generator(seed)


def case(*args: Any, returns: str | None = "value", count_qnode_calls: bool = False) -> dict:
    """One call of the answer, as plain data: its arguments (plain values, :func:`tensor` or
    :func:`generator`), what to keep of its result (one of :data:`RETURNS`) and whether to count
    the QNode calls it makes. ``case(returns=None)`` stands for an answer that is a value, not a
    function: the value itself is kept."""
    if returns is None:
        return {"args": None, "returns": "value", "count_qnode_calls": False}
    if returns not in RETURNS:
        raise ValueError(f"returns must be one of {RETURNS}, got {returns!r}")
    kinds = [
        ["tensor", a.values]
        if isinstance(a, _Tensor)
        else ["generator", a.seed]
        if isinstance(a, _Generator)
        else ["value", a]
        for a in args
    ]
    return {"args": kinds, "returns": returns, "count_qnode_calls": count_qnode_calls}


def arguments(spec: dict) -> list:
    """The arguments of the case ``spec`` as the answer gets them: fresh copies, tensors and
    generators built (so an answer that changes them in place changes no case)."""
    built = []
    for kind, value in spec["args"]:
        if kind == "value":
            built.append(copy.deepcopy(value))
            continue
        import torch

        built.append(torch.tensor(value) if kind == "tensor" else torch.Generator().manual_seed(value))
    return built


def call(answer: Any, cases: list[dict]) -> list[dict]:
    """The call step: ``answer`` on each case, one record each, ``{"value", "unchanged",
    "qnode_calls"}`` (``unchanged``: per argument, whether an array or tensor argument is as it
    was, else None). A call that raises ends the list with ``{"raised", "message"}``."""
    records = []
    for spec in cases:
        try:
            records.append(_call_one(answer, spec))
        except Exception as err:  # the learner's code failed: the judge reports it
            records.append(_raised(err))
            break
    return records


def _raised(err: BaseException) -> dict:
    """The record of an error of the learner's code: its type and the message a learner reads,
    with the line that raised (the innermost one outside this file)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename != __file__]
    where = f" (line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""
    kind = "NotImplementedError" if isinstance(err, NotImplementedError) else type(err).__name__
    try:
        text = str(err)
    except Exception:  # an exception whose message itself fails
        text = "?"
    if isinstance(err, _NotNumbers):
        return {"raised": kind, "message": text}
    return {"raised": kind, "message": f"your code raised {type(err).__name__}: {text}{where}"}


def _call_one(answer: Any, spec: dict) -> dict:
    if spec["args"] is None:
        return {"value": _plain(answer), "unchanged": [], "qnode_calls": None}
    args = arguments(spec)
    before = [_numpy(a).copy() if _is_array(a) else None for a in args]
    if spec["count_qnode_calls"]:
        with _QNodeCalls() as counted:
            result = answer(*args)
        calls = counted.calls
    else:
        result, calls = answer(*args), None
    value = _keep(result, spec["returns"])
    unchanged = [None if b is None else bool(np.array_equal(b, _numpy(a))) for a, b in zip(args, before)]
    return {"value": value, "unchanged": unchanged, "qnode_calls": calls}


class _QNodeCalls:
    """Counts ``QNode`` calls while it is entered (in the learner's process: it can be fooled)."""

    def __enter__(self) -> "_QNodeCalls":
        import pennylane as qml

        self.calls, self._qml, self._original = 0, qml, qml.QNode.__call__

        def counting_call(node, *args, **kwargs):
            self.calls += 1
            return self._original(node, *args, **kwargs)

        qml.QNode.__call__ = counting_call
        return self

    def __exit__(self, *exc) -> None:
        self._qml.QNode.__call__ = self._original


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach")


def _numpy(value: Any) -> np.ndarray:
    """A tensor, array or list as a NumPy array (torch is never imported here for it)."""
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        return value.detach().cpu().resolve_conj().numpy()
    return np.asarray(value)


def as_array(value: Any) -> np.ndarray:
    """A learner's result (tensor, array or list) as a NumPy array of numbers."""
    array = _numpy(value)
    if array.dtype.kind not in _NUMBERS:
        what = "None" if value is None else type(value).__name__ + (f" of {array.dtype}" if array.ndim else "")
        raise _NotNumbers(
            f"your function returned {what}, not numbers: return an array, a tensor or a list of numbers."
        )
    if array.size > _MOST_NUMBERS:
        raise _NotNumbers(
            f"your function returned an array of shape {array.shape}: far more numbers than the case holds."
        )
    return array


def _keep(result: Any, returns: str) -> Any:
    if returns == "array":
        return as_array(result)
    if returns == "float":
        return float(result)
    if returns == "int":
        return int(result)
    return _plain(result)


class Opaque:
    """A result that is not plain data, kept as its ``repr``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data; what is not (a function, a class) becomes :class:`Opaque`."""
    if depth > _DEPTH:
        raise ValueError(f"the result is nested more than {_DEPTH} levels deep")
    if isinstance(value, np.generic) and value.dtype.kind in _NUMBERS + "U":
        value = value.item()
    for kind in (bool, int, float, str):  # NumPy's scalars and other subclasses as Python's own
        if isinstance(value, kind):
            return kind(value)
    if value is None:
        return None
    if _is_array(value) and _numpy(value).dtype.kind in _NUMBERS:
        return as_array(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return Opaque(repr(value)[:200])


class Raised(Exception):
    """The learner's code raised on the case a judge reads (:class:`Outputs`)."""

    def __init__(self, record: dict) -> None:
        super().__init__(record["message"])
        self.record = record


class Outputs:
    """What a learner's answer gave on each case (records of the call step): ``outputs[i]`` is
    what was kept of case ``i``'s result (reading a case whose call raised raises the learner's
    error again); ``unchanged(i, arg)`` whether that call left its array argument ``arg`` as it
    was, and ``qnode_calls(i)`` how many QNode calls it made. Those two are behaviour observed in
    the learner's process: when grading, they are the learner's kernel's own report."""

    def __init__(self, records: list[dict]) -> None:
        self._records = records

    def _record(self, i: int) -> dict:
        record = self._records[min(i, len(self._records) - 1)]  # past the end: the call that raised
        if "raised" in record:
            raise Raised(record)
        return record

    def __getitem__(self, i: int) -> Any:
        return self._record(i)["value"]

    def unchanged(self, i: int, arg: int) -> bool:
        return self._record(i)["unchanged"][arg] is not False

    def qnode_calls(self, i: int) -> int:
        return self._record(i)["qnode_calls"] or 0


# --- the format: JSON, each value tagged with its kind --------------------------------------------


def dumps(data: Any) -> str:
    """Plain ``data`` (see :func:`call`) as JSON text."""
    return json.dumps(_tag(data))


def loads(text: str | bytes) -> Any:
    """What :func:`dumps` wrote; raises ``ValueError`` on anything else. Builds only plain data."""
    return _untag(json.loads(text), 0)


def _tag(value: Any) -> list:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return ["v", value]
    if isinstance(value, np.ndarray):
        data = base64.b64encode(np.ascontiguousarray(value).tobytes()).decode()
        return ["a", value.dtype.str, list(value.shape), data]
    if isinstance(value, (list, tuple)):
        return ["t" if isinstance(value, tuple) else "l", [_tag(v) for v in value]]
    if isinstance(value, dict):
        return ["d", {k: _tag(v) for k, v in value.items()}]
    return ["o", repr(value)]


def _untag(node: Any, depth: int) -> Any:
    if depth > _DEPTH + 8 or not isinstance(node, list) or not node or node[0] not in ("v", "a", "l", "t", "d", "o"):
        raise ValueError("not the grader's format")
    tag, rest = node[0], node[1:]
    if tag == "v" and len(rest) == 1 and (rest[0] is None or isinstance(rest[0], (bool, int, float, str))):
        return rest[0]
    if tag == "o" and len(rest) == 1 and isinstance(rest[0], str):
        return Opaque(rest[0][:200])
    if tag in ("l", "t") and len(rest) == 1 and isinstance(rest[0], list):
        items = [_untag(v, depth + 1) for v in rest[0]]
        return tuple(items) if tag == "t" else items
    if tag == "d" and len(rest) == 1 and isinstance(rest[0], dict):
        return {k: _untag(v, depth + 1) for k, v in rest[0].items()}
    if tag == "a" and len(rest) == 3:
        return _array(*rest)
    raise ValueError("not the grader's format")


def _array(dtype: Any, shape: Any, data: Any) -> np.ndarray:
    """An array of numbers from its dtype, shape and base64 bytes, all checked."""
    if not (
        isinstance(dtype, str)
        and len(dtype) <= 8
        and isinstance(shape, list)
        and len(shape) <= 32
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        and isinstance(data, str)
    ):
        raise ValueError("not the grader's format")
    kind = np.dtype(dtype)
    if kind.kind not in _NUMBERS or kind.fields is not None or kind.shape != ():
        raise ValueError(f"an array of {kind} is not numbers")
    raw = base64.b64decode(data, validate=True)
    if len(raw) != math.prod(shape) * kind.itemsize:
        raise ValueError("an array's data does not match its shape")
    return np.frombuffer(raw, dtype=kind).reshape(shape).copy()


# --- in the learner's kernel, when grading --------------------------------------------------------


def answer(namespace: dict, name: str, function: bool, cases_file: str, out_file: str) -> None:
    """The grader's call step for one exercise, run in the learner's kernel after its cells: the
    answer ``namespace[name]`` on the cases in ``cases_file``; writes ``{"state": "missing"}``,
    ``{"state": "not a function", "type"}`` or ``{"state": "called", "records"}`` to ``out_file``."""
    if name not in namespace:
        out: dict = {"state": "missing"}
    elif function and not callable(namespace[name]):
        out = {"state": "not a function", "type": type(namespace[name]).__name__}
    else:
        random.seed(0)
        np.random.seed(0)
        if "torch" in sys.modules:
            sys.modules["torch"].manual_seed(0)
        with open(cases_file) as handle:
            cases = loads(handle.read())
        out = {"state": "called", "records": call(namespace[name], cases)}
    with open(out_file + ".part", "w") as handle:  # complete, or not there at all
        handle.write(dumps(out))
    os.replace(out_file + ".part", out_file)
