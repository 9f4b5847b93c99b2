"""How big a chapter's run is: ``"smoke"``, ``"default"`` or ``"full"``, for every chapter in
one place (book: *Introduction*, section *Running the chapters*).

Every chapter starts with ``SCALE = scales.chapter_scale()``, which is ``"default"`` unless the
environment variable ``QROBUST_SCALE`` says otherwise (write ``SCALE = "full"`` in the notebook
to choose by hand), then reads its sizes with ``scales.settings(EXPERIMENT, SCALE)``.

- ``"smoke"``: a few seconds per chapter, tiny data and two seeds. It proves that a chapter
  runs end to end (the learner's-machine test uses it); its numbers mean nothing.
- ``"default"``: the size the book is built at, three minutes or less on a laptop CPU.
- ``"full"``: the papers' sizes where the data allow; minutes to hours.

:data:`EXPERIMENTS` holds each experiment's table; the chapters that use it:

========================  ==================================================================
``primer``                *Primer* (MNIST 0 vs 1, a 4-qubit VQC)
``soft_labels``           *Soft labels and calibration* (full: 5,000, the bundled maximum)
``vqc_refining``          *A VQC that refines labels*
``label_refining``        *Training a CNN on quantum-refined labels*, ``qrobust-lite run
                          label-refining`` (full: 20,000 images, needs the official files)
``paper_methods``         paper A as published: the same chapter, ``qrobust-lite run
                          label-refining-paper`` (full: all 60,000 images, needs the official files)
``attacking``             the 8-qubit classifier of *Attacking a quantum classifier* and
                          *Random quantum circuits as pseudo-noise*
``quantum_patches``       the quanvolutional model and its defences (*Attacking a quantum
                          classifier*, *Defending with quantum patches*), ``qrobust-lite run
                          quantum-patches`` (full: 5,000 + 1,000 images, four budgets, three attacks)
``poisoning``             *Label-flip poisoning*, ``qrobust-lite run poisoning`` (full: the
                          paper's 10 qubits for MNIST, 12 for the spin chain, 5 seeds, 100 epochs)
``unlearning``            *Quantum machine unlearning*, ``qrobust-lite run unlearning``: the
                          alpha, seeds, epochs of unlearning and datasets; the poisoned models
                          are trained as ``poisoning`` at the same scale says
``performance``           the *Performance* appendix (seconds per timing)
========================  ==================================================================

>>> import os
>>> os.environ.pop(ENV_VAR, None) and None
>>> chapter_scale()
'default'
>>> settings("soft_labels", "default")
{'n_train': 500, 'seeds': (0, 1, 2)}
"""

from __future__ import annotations

import copy
import os

from .validation import Options, validate_params

#: The three scales, smallest first.
SCALES = ("smoke", "default", "full")
SCALE = Options(*SCALES)
#: The environment variable that sets every chapter's scale.
ENV_VAR = "QROBUST_SCALE"
_ALPHAS = tuple(round(0.1 * i, 1) for i in range(10))
# Part III on the authors' quantum data: their XXZ schedules (MLP Adam 0.01, 400 epochs; QNN
# depth 4, Adam 0.03, 200 epochs; batch 32).
_AUTHORS_SCHEDULES = {"QNN": {"epochs": 200, "lr": 0.03, "depth": 4}, "MLP": {"epochs": 400, "lr": 0.01}}

#: What each scale means for each experiment, as ``EXPERIMENTS[experiment][scale]`` (table above).
EXPERIMENTS: dict[str, dict[str, dict]] = {
    "primer": {
        "smoke": {"n_train": 200, "n_test": 80, "epochs": 2, "seeds": (0, 1)},
        "default": {"n_train": 1200, "n_test": 400, "epochs": 15, "seeds": (0, 1, 2)},
        "full": {"n_train": 4000, "n_test": 1000, "epochs": 15, "seeds": (0, 1, 2)},
    },
    "soft_labels": {
        "smoke": {"n_train": 100, "seeds": (0, 1)},
        "default": {"n_train": 500, "seeds": (0, 1, 2)},
        "full": {"n_train": 5000, "seeds": (0, 1, 2)},
    },
    # labeler_*: the paper's labeler (hybrid_labeler); labeler_epochs None is the paper's 5 / 25
    "vqc_refining": {
        "smoke": {"n_train": 200, "epochs": 1, "labeler_n_train": 300, "labeler_epochs": 1},
        "default": {"n_train": 2000, "epochs": 8, "labeler_n_train": 5000, "labeler_epochs": None},
        "full": {"n_train": 5000, "epochs": 15, "labeler_n_train": None, "labeler_epochs": None},
    },
    # "full" keeps the test split class-balanced: MNIST's test set has only 892 images of a 5.
    "label_refining": {
        "smoke": {"n_train": 200, "n_test": 100, "seeds": (0, 1), "epochs": 1, "vqc_epochs": 1},
        "default": {"n_train": 2000, "n_test": 1000, "seeds": (0, 1, 2), "epochs": 8, "vqc_epochs": 8},
        "full": {"n_train": 20000, "n_test": 8000, "seeds": (0, 1, 2, 3, 4), "epochs": 15, "vqc_epochs": 15},
    },
    # Paper A as published (qrobust_lite.paper_methods): "default" is the whole bundled MNIST subset;
    # "full" is every official image, 5 seeds.
    "paper_methods": {
        "smoke": {"n_train": 200, "n_test": 100, "seeds": (0, 1), "student_epochs": 1, "labeler_epochs": 1},
        "default": {"n_train": 5000, "n_test": 1000, "seeds": (0, 1, 2), "student_epochs": 10, "labeler_epochs": None},
        "full": {
            "n_train": None,
            "n_test": None,
            "seeds": (0, 1, 2, 3, 4),
            "student_epochs": 10,
            "labeler_epochs": None,
        },
    },
    "attacking": {
        "smoke": {"n_train": 100, "n_test": 400, "seeds": (0, 1), "epochs": 1},
        "default": {"n_train": 1500, "n_test": 500, "seeds": (0, 1, 2), "epochs": 10},
        "full": {"n_train": 5000, "n_test": 1000, "seeds": (0, 1, 2), "epochs": 20},
    },
    # The chapter (default) attacks with 5-step PGD from a random start and one restart at two
    # budgets (3 minutes on one core); the stored run (full) adds FGSM and deterministic PGD,
    # 10 steps, at four.
    "quantum_patches": {
        "smoke": {
            "n_train": 100,
            "n_test": 100,
            "seeds": (0, 1),
            "epochs": 1,
            "model": "quanvolution",
            "epsilons": (8 / 255,),
            "attack_names": ("PGD-restart",),
            "attack_steps": 3,
        },
        "default": {
            "n_train": 1000,
            "n_test": 200,
            "seeds": (0, 1, 2),
            "epochs": 5,
            "model": "quanvolution",
            "epsilons": (2 / 255, 8 / 255),
            "attack_names": ("PGD-restart",),
            "attack_steps": 5,
        },
        "full": {
            "n_train": 5000,
            "n_test": 1000,
            "seeds": (0, 1, 2),
            "epochs": 15,
            "model": "quanvolution",
            "epsilons": (1 / 255, 2 / 255, 4 / 255, 8 / 255),
            "attack_names": ("FGSM", "PGD", "PGD-restart"),
            "attack_steps": 10,
        },
    },
    # Schedules per model: the MLP gets the paper's (100 epochs, Adam 5e-3) at every scale, as
    # memorising is what it is tested for. A QNN step costs ~100x more, so the default scale
    # trains it for 40 epochs at a larger rate (the chapter checks that a 3x longer schedule
    # does not change what it memorises). Default: 200 training samples in batches of 100, as
    # many Adam steps per epoch as the paper's 500 in batches of 256, at 2/5 of the cost.
    "poisoning": {
        "smoke": {
            "alphas": (0.0, 0.3, 0.4),
            "seeds": (0, 1),
            "n_train": 40,
            "n_val": 40,
            "batch_size": 20,
            "pool": 2,
            "spin_qubits": 4,
            "randomisation_alphas": (0.0, 0.4),
            "schedules": {"QNN": {"epochs": 2, "lr": 0.03}, "MLP": {"epochs": 5, "lr": 5e-3}},
            "authors": {
                "spin_qubits": 4,
                "batch_size": 32,
                "schedules": {"QNN": {"epochs": 2, "lr": 0.03, "depth": 1}, "MLP": {"epochs": 5, "lr": 0.01}},
            },
        },
        "default": {
            "alphas": _ALPHAS,
            "seeds": (0, 1, 2),
            "n_train": 200,
            "n_val": 500,
            "batch_size": 100,
            "pool": 2,
            "spin_qubits": 8,
            "randomisation_alphas": (0.0, 0.4, 0.8),
            "schedules": {"QNN": {"epochs": 40, "lr": 0.03}, "MLP": {"epochs": 100, "lr": 5e-3}},
            "authors": {"spin_qubits": 8, "batch_size": 32, "schedules": _AUTHORS_SCHEDULES},
        },
        "full": {
            "alphas": _ALPHAS,
            "seeds": (0, 1, 2, 3, 4),
            "n_train": 500,
            "n_val": 1000,
            "batch_size": 256,
            "pool": 1,
            "spin_qubits": 12,
            "randomisation_alphas": _ALPHAS[::2],
            "schedules": {"QNN": {"epochs": 100, "lr": 5e-3}, "MLP": {"epochs": 100, "lr": 5e-3}},
            "authors": {"spin_qubits": 12, "batch_size": 32, "schedules": _AUTHORS_SCHEDULES},
        },
    },
    "unlearning": {
        "smoke": {"alpha": 0.3, "seeds": (0, 1), "epochs": 2, "datasets": ("mnist",)},
        "default": {"alpha": 0.3, "seeds": (0, 1, 2), "epochs": 20, "datasets": ("mnist",)},
        "full": {"alpha": 0.3, "seeds": (0, 1, 2, 3, 4), "epochs": 50, "datasets": ("mnist", "spin chain")},
    },
    "performance": {
        "smoke": {"min_time": 0.02},
        "default": {"min_time": 0.3},
        "full": {"min_time": 1.0},
    },
}


@validate_params(scale=SCALE)
def check_scale(scale: str) -> str:
    """Return ``scale`` if it is one of :data:`SCALES`, else raise a ``ValueError`` naming it."""
    return scale


@validate_params(default=SCALE)
def chapter_scale(default: str = "default") -> str:
    """The scale a chapter runs at: ``$QROBUST_SCALE`` when set and not empty, else ``default``."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value and value not in SCALES:
        raise ValueError(f"${ENV_VAR} must be one of {list(SCALES)}, got {value!r}")
    return value or default


@validate_params(experiment=Options(*EXPERIMENTS), scale=SCALE)
def settings(experiment: str, scale: str) -> dict:
    """What ``scale`` means for ``experiment`` (a key of :data:`EXPERIMENTS`): sizes, seeds, epochs.

    A copy: changing it (a chapter's ``SETTINGS``) leaves every later reader's table as it was."""
    return copy.deepcopy(EXPERIMENTS[experiment][scale])
