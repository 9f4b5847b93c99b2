"""What a check is: :class:`Feedback`, the registry of checkers and :func:`check`
(book: every chapter's *Exercises* section; the checkers live in one module per chapter).

>>> result = check("primer-born-rule", lambda amps: abs(amps) ** 2)
>>> result.passed
True
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch


@dataclass(frozen=True)
class Feedback:
    """The outcome of a check: ``passed`` and a message for the learner."""

    exercise: str
    passed: bool
    message: str

    def __str__(self) -> str:
        mark = "Correct" if self.passed else "Not yet"
        return f"[{self.exercise}] {mark}: {self.message}"

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        icon, mark = ("✅", "Correct") if self.passed else ("❌", "Not yet")
        return f"{icon} **{mark}** ({self.exercise}): {self.message}"


CHECKERS: dict[str, Callable[[Any], tuple[bool, str]]] = {}
#: ``exercise -> "name(arguments)"`` for exercises whose answer is a function.
SIGNATURES: dict[str, str] = {}
#: ``exercise -> the name the learner's answer has in the chapter`` (what the grader takes).
ANSWERS: dict[str, str] = {}
#: ``exercise -> level`` (1 to 3, explained on the instructors' page), also its points by default.
LEVELS: dict[str, int] = {}
#: How the message of an exercise still to be done begins.
NOT_ATTEMPTED = "not attempted yet"


def checker(exercise: str, signature: str | None = None, *, level: int, answer: str | None = None):
    """Register a function ``answer -> (passed, message)`` as the checker of ``exercise``.

    With ``signature`` (e.g. ``"born_rule(amplitudes)"``) the answer must be a function, and
    :func:`check` says so when it is not; the answer's name is the function's (``born_rule``)
    unless ``answer`` names it. ``level`` (1, 2 or 3) is the exercise's difficulty.
    """
    if level not in (1, 2, 3):
        raise ValueError(f"level must be 1, 2 or 3, got {level!r}")
    name = answer or (signature.split("(", 1)[0] if signature else None)
    if not name or not name.isidentifier():
        raise ValueError(f"exercise {exercise!r} needs the answer's name: a signature or answer=")

    def register(func):
        CHECKERS[exercise] = func
        ANSWERS[exercise] = name
        LEVELS[exercise] = level
        if signature:
            SIGNATURES[exercise] = signature
        return func
    return register


def check(exercise: str, answer: Any) -> Feedback:
    """Check a learner's answer to ``exercise``; returns :class:`Feedback` (shown in notebooks)."""
    if exercise not in CHECKERS:
        raise ValueError(f"exercise must be one of {sorted(CHECKERS)}, got {exercise!r}")
    if exercise in SIGNATURES and not callable(answer):
        return Feedback(exercise, False, f"expected a function {SIGNATURES[exercise]}, "
                                         f"got {type(answer).__name__}.")
    try:
        passed, message = CHECKERS[exercise](answer)
    except NotImplementedError:
        passed, message = False, f"{NOT_ATTEMPTED}: replace the `raise NotImplementedError` with your code."
    except Exception as err:  # the learner's code failed: report it instead of crashing the notebook
        frame = traceback.extract_tb(err.__traceback__)[-1]
        passed, message = False, (f"your code raised {type(err).__name__}: {err} "
                                  f"(line {frame.lineno}: `{(frame.line or '').strip()}`)")
    return Feedback(exercise, passed, message)


def as_array(value: Any) -> np.ndarray:
    """A learner's answer (tensor, array or list) as a NumPy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
