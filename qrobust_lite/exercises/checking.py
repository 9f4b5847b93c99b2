"""What a check is: :class:`Feedback`, the registry of checkers and :func:`check`
(book: every chapter's *Exercises* section; the checkers live in one module per chapter).

A checker has three parts, registered together by :func:`checker`: its **cases** (the inputs,
as plain data: :func:`~qrobust_lite.exercises.cases.case`), the **call step**
(:func:`~qrobust_lite.exercises.cases.call`: the learner's answer on each case, kept as plain
data) and its **judge** ``(cases, outputs) -> (passed, message)``, which compares the
:class:`~qrobust_lite.exercises.cases.Outputs` with the reference, the package function the
chapter teaches, and names the mistake. In a notebook :func:`check` runs all three in the
learner's process; the grader runs the call step in the learner's kernel and the judge in its
own process (see :mod:`~qrobust_lite.exercises.grading`).

>>> result = check("primer-born-rule", lambda amps: abs(amps) ** 2)
>>> result.passed
True
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ..validation import CALLABLE, TEXT, Anything, Int, Optional, validate_params
from .cases import Outputs, Raised, call

#: The type of a judge, ``(cases, outputs) -> (passed, message)``.
Judge = Callable[[list, Outputs], tuple[bool, str]]


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


#: ``exercise -> judge`` of every exercise.
CHECKERS: dict[str, Judge] = {}
#: ``exercise -> a function that returns its cases`` (deterministic plain data).
CASES: dict[str, Callable[[], list[dict]]] = {}
#: ``exercise -> "name(arguments)"`` for exercises whose answer is a function.
SIGNATURES: dict[str, str] = {}
#: ``exercise -> the name the learner's answer has in the chapter`` (what the grader takes).
ANSWERS: dict[str, str] = {}
#: ``exercise -> level`` (1 to 3, explained on the instructors' page), also its points by default.
LEVELS: dict[str, int] = {}
#: How the message of an exercise still to be done begins.
NOT_ATTEMPTED = "not attempted yet"


@validate_params(exercise=TEXT, signature=Optional(TEXT), level=Int(1, 3), cases=CALLABLE, answer=Optional(TEXT))
def checker(
    exercise: str,
    signature: str | None = None,
    *,
    level: int,
    cases: Callable[[], list[dict]],
    answer: str | None = None,
):
    """Register a judge ``(cases, outputs) -> (passed, message)`` of ``exercise``, whose cases
    ``cases()`` returns.

    With ``signature`` (e.g. ``"born_rule(amplitudes)"``) the answer must be a function, and
    :func:`check` says so when it is not; the answer's name is the function's (``born_rule``)
    unless ``answer`` names it. ``level`` (1, 2 or 3) is the exercise's difficulty.
    """
    name = answer or (signature.split("(", 1)[0] if signature else None)
    if not name or not name.isidentifier():
        raise ValueError(f"exercise {exercise!r} needs the answer's name: a signature or answer=")

    def register(judge: Judge) -> Judge:
        CHECKERS[exercise] = judge
        CASES[exercise] = cases
        ANSWERS[exercise] = name
        LEVELS[exercise] = level
        if signature:
            SIGNATURES[exercise] = signature
        return judge

    return register


@validate_params(exercise=TEXT, answer=Anything("the learner's answer: check says what is wrong with it"))
def check(exercise: str, answer: Any) -> Feedback:
    """Check a learner's answer to ``exercise``; returns :class:`Feedback` (shown in notebooks)."""
    if exercise not in CHECKERS:
        raise ValueError(f"exercise must be one of {sorted(CHECKERS)}, got {exercise!r}")
    if exercise in SIGNATURES and not callable(answer):
        return _verdict(exercise, {"state": "not a function", "type": type(answer).__name__})
    return _verdict(exercise, {"state": "called", "records": call(answer, CASES[exercise]())})


def _well_formed(records: Any) -> bool:
    """Whether ``records`` have the call step's shape (they may come from a learner's kernel)."""
    if not isinstance(records, list) or not records:
        return False
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            return False
        if "raised" in r:
            if not (isinstance(r["raised"], str) and isinstance(r.get("message"), str) and i == len(records) - 1):
                return False
        elif not (
            set(r) == {"value", "unchanged", "qnode_calls"}
            and isinstance(r["unchanged"], list)
            and all(u in (None, True, False) for u in r["unchanged"])
            and (r["qnode_calls"] is None or type(r["qnode_calls"]) is int)
        ):
            return False
    return True


def _verdict(exercise: str, outcome: dict) -> Feedback:
    """The judge's :class:`Feedback` on ``outcome``, what the call step made of an answer:
    ``{"state": "called", "records"}`` or ``{"state": "not a function", "type"}``. Raises
    ``ValueError`` when ``outcome`` does not have that shape."""
    if outcome.get("state") == "not a function" and isinstance(outcome.get("type"), str):
        return Feedback(exercise, False, f"expected a function {SIGNATURES[exercise]}, got {outcome['type']}.")
    if outcome.get("state") != "called" or not _well_formed(outcome.get("records")):
        raise ValueError("the outcome of the call step has not the call step's shape")
    try:
        passed, message = CHECKERS[exercise](CASES[exercise](), Outputs(outcome["records"]))
    except Raised as err:
        passed = False
        message = (
            f"{NOT_ATTEMPTED}: replace the `raise NotImplementedError` with your code."
            if err.record["raised"] == "NotImplementedError"
            else err.record["message"]
        )
    except NotImplementedError:
        passed, message = False, f"{NOT_ATTEMPTED}: replace the `raise NotImplementedError` with your code."
    except Exception as err:  # what the answer returned broke the judge: say so, as for the code
        frame = traceback.extract_tb(err.__traceback__)[-1]
        passed, message = (
            False,
            (f"your code raised {type(err).__name__}: {err} (line {frame.lineno}: `{(frame.line or '').strip()}`)"),
        )
    return Feedback(exercise, passed, message)
