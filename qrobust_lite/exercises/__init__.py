"""The book's exercises: checkers that give learners feedback, and grading (book: every
chapter's *Exercises* section; instructors: *For instructors*).

Each exercise has an id such as ``"primer-born-rule"`` and a checker that runs the learner's
answer on fresh cases, compares it with a reference, and says what is wrong in words a
learner can act on. A checker never raises: the learner's own errors become feedback.

- :mod:`~qrobust_lite.exercises.checking`: :class:`~qrobust_lite.exercises.checking.Feedback`,
  the registry and :func:`~qrobust_lite.exercises.checking.check`;
- :mod:`~qrobust_lite.exercises.cases`: a checker's cases and its call step, as plain data;
- one module per chapter, named as the chapter's notebook, holding that chapter's checkers
  (cases and judge); each reference answer is the package function the chapter teaches;
- :mod:`~qrobust_lite.exercises.grading`: grading learners' notebooks, with
  :mod:`~qrobust_lite.exercises.notebook_runner` (the worker that runs one) and
  :mod:`~qrobust_lite.exercises.sandbox` (where it runs).

>>> check("primer-born-rule", lambda amps: abs(amps) ** 2).passed
True
"""

from . import (  # noqa: F401  (register checkers)
    attacking_quantum_classifier,
    cnn_on_refined_labels,
    defending_with_quantum_patches,
    performance,
    poisoning_classical_vs_quantum,
    primer,
    quantum_machine_unlearning,
    random_circuit_pseudo_noise,
    soft_labels_calibration,
    vqc_label_refining,
)
from .checking import ANSWERS, CHECKERS, LEVELS, SIGNATURES, Feedback, check, checker
from .grading import grade_batch, grade_notebook

# Which chapter each exercise belongs to: the module its checker is defined in.
CHAPTERS = {exercise: func.__module__.rsplit(".", 1)[-1] for exercise, func in CHECKERS.items()}

__all__ = [
    "ANSWERS",
    "CHAPTERS",
    "CHECKERS",
    "LEVELS",
    "SIGNATURES",
    "Feedback",
    "check",
    "checker",
    "grade_batch",
    "grade_notebook",
]
