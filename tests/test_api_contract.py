"""The common validation suite (in the spirit of scikit-learn's ``check_estimator``): every public
function and class of the API reference declares, with
:func:`qrobust_lite.validation.validate_params`, what each of its arguments may be, and this suite
takes its bad values from those declarations.

1. Every argument of every public callable is declared (``RECORDS`` names the few records and
   the checks themselves, with a reason): an argument cannot be added without saying what it
   may be.
2. Every bad value a declaration lists is refused by the function itself, before its body runs,
   with an error that names the argument (no valid call needed).
3. Where ``CALLS`` gives a valid call: it works, NumPy scalars work where numbers do, and the bad
   values are refused inside a full call too (relations between arguments included: a label
   too few, an empty batch); a callable that takes a tensor kind needs a call there, or a reason
   in ``EXEMPT``."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from qrobust_lite import validation as V

ROOT = Path(__file__).resolve().parents[1]
MODULES = re.findall(r"automodule:: (\S+)", (ROOT / "book" / "api.md").read_text())


def public_callables() -> dict[str, object]:
    """``"module.name" -> object`` for every public function and class of the API reference."""
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None) or [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == name
        ]
        for n in names:
            obj = getattr(module, n)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == name:
                found[f"{name.removeprefix('qrobust_lite.')}.{n}"] = obj
    return found


def arguments(obj) -> list[str]:
    try:
        return [p for p in inspect.signature(obj).parameters if p != "self"]
    except (TypeError, ValueError):
        return []


def declared(obj) -> dict:
    """The constraints ``obj`` declares ({} for none), each unwrapped from Optional."""
    return getattr(obj, "constraints", None) or {}


def kind_of(constraint):
    """The constraint that decides an argument's bad values (Optional's inner one)."""
    return constraint.inner if isinstance(constraint, V.Optional) else constraint


# --- valid calls -----------------------------------------------------------------------------------


def world() -> dict:
    """Small valid arguments, consistent with each other: 4 samples, 2 classes, 8x8 images."""
    g = torch.Generator().manual_seed(0)
    from qrobust_lite.networks import MLP, QNN

    return {
        "images": torch.rand(4, 1, 8, 8, generator=g),
        "labels": torch.tensor([0, 1, 0, 1]),
        "probs": torch.softmax(torch.randn(4, 2, generator=g), 1),
        "features": torch.rand(4, 4, generator=g),
        "features64": torch.rand(4, 4, generator=g, dtype=torch.float64),
        "logits": torch.randn(4, 2, generator=g),
        "images28": torch.rand(4, 1, 28, 28, generator=g),
        "cifar": torch.rand(4, 3, 8, 8, generator=g),
        "linear": torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)),
        "mlp": MLP(4),
        "qnn": QNN(2, depth=1),
        "generator": g,
    }


def _labeler():
    from qrobust_lite.hybrid_labeler import HybridLabeler

    return HybridLabeler(n_classes=2, n_qubits=2, n_layers=1)


def _block():
    import pennylane as qml

    from qrobust_lite import fastpath

    return fastpath.compile_block(qml.StronglyEntanglingLayers, (1, 2, 3), 2)


def _angle_state(x):
    from qrobust_lite import circuits

    return circuits.angle_state(x)


def _sets(w):
    x, y = w["features64"], w["labels"]
    return {"retain": (x, y), "forget": (x[:2], 1 - y[:2]), "val": (x, y)}


#: ``"module.name" -> world -> keyword arguments`` of a valid call (small and fast).
CALLS = {
    "data.load": lambda w: {"name": "mnist", "n_samples": 20, "verbose": False},
    "course.performance.training_inputs": lambda w: {"n_qubits": 2, "batch_size": 4, "n_layers": 1},
    "course.performance.patch_inputs": lambda w: {"n_images": 1},
    "course.performance.patch_angles": lambda w: {"images": w["cifar"]},
    "course.paper_scale.memorisation_verdict": lambda w: {
        "runs": [
            {
                "dataset": "mnist",
                "model": m,
                "poison": "label flip",
                "alpha": a,
                "seed": 0,
                "memorised": 0.5,
                "val_accuracy": 0.9,
            }
            for m in ("MLP", "QNN")
            for a in (0.0, 0.3)
        ],
        "dataset": "mnist",
    },
    "data.available_sources": lambda w: {"name": "mnist"},
    "data.candidate_roots": lambda w: {},
    "scales.check_scale": lambda w: {"scale": "smoke"},
    "scales.settings": lambda w: {"experiment": "label_refining", "scale": "smoke"},
    "preprocessing.downsample": lambda w: {"images": w["images"], "size": 4},
    "preprocessing.fit_pca": lambda w: {"train_features": w["features64"], "k": 2},
    "preprocessing.fit_angle_scaler": lambda w: {"train_features": w["features64"]},
    "preprocessing.amplitude_normalise": lambda w: {"features": w["features64"], "n_qubits": 2},
    "backend.choose_device": lambda w: {"n_qubits": 2},
    "circuits.ansatz_shape": lambda w: {"n_layers": 2, "n_qubits": 3},
    "circuits.qnn_layers_shape": lambda w: {"depth": 2, "n_qubits": 3},
    "circuits.random_circuit_shape": lambda w: {"n_layers": 2, "n_rotations": 3},
    "circuits.random_circuit_weights": lambda w: {"n_layers": 2, "n_rotations": 3, "seed": 0},
    "circuits.outcome_to_class": lambda w: {"n_qubits": 2, "n_classes": 2},
    "circuits.class_probabilities": lambda w: {"outcome_probs": torch.full((4, 4), 0.25), "n_classes": 2},
    "circuits.VQC": lambda w: {"n_qubits": 2, "n_layers": 1, "n_classes": 2},
    "circuits.angle_state": lambda w: {"angles": w["features64"]},
    "circuits.amplitude_state": lambda w: {"features": w["features64"], "n_qubits": 2},
    "tracing.einsum_expression": lambda w: {"wires": [(0,), (1, 2)], "n_qubits": 3},
    "fastpath.chunk_size": lambda w: {"n_qubits": 4},
    "fastpath.choose_strategy": lambda w: {"n_qubits": 4, "batch_size": 8},
    "validation.finite_floats": lambda w: {"x": w["features64"], "arg": "x"},
    "validation.images": lambda w: {"x": w["images"], "arg": "x"},
    "validation.image_batch": lambda w: {"x": w["images"], "arg": "x"},
    "validation.probabilities": lambda w: {"p": w["probs"]},
    "training.Dropout": lambda w: {"p": 0.5},
    "training.train_classifier": lambda w: {
        "model": w["linear"],
        "images": w["images"],
        "targets": w["labels"],
        "epochs": 1,
        "progress": False,
    },
    "training.predict_logits": lambda w: {"model": w["linear"], "images": w["images"]},
    "training.predict_proba": lambda w: {"model": w["linear"], "images": w["images"]},
    "metrics.nll": lambda w: {"y_true": w["labels"], "probs": w["probs"]},
    "metrics.brier_score": lambda w: {"y_true": w["labels"], "probs": w["probs"]},
    "metrics.reliability_bins": lambda w: {"y_true": w["labels"], "probs": w["probs"], "n_bins": 5},
    "metrics.expected_calibration_error": lambda w: {"y_true": w["labels"], "probs": w["probs"], "n_bins": 5},
    "metrics.evaluate": lambda w: {"y_true": w["labels"], "probs": w["probs"]},
    "metrics.confidence_bins": lambda w: {
        "confidence": w["probs"].max(1).values,
        "correct": torch.tensor([1.0, 0.0, 1.0, 1.0]),
        "n_bins": 5,
    },
    "metrics.calibration_error": lambda w: {
        "confidence": w["probs"].max(1).values,
        "correct": torch.tensor([1.0, 0.0, 1.0, 1.0]),
        "n_bins": 5,
    },
    "soft_labels.one_hot": lambda w: {"labels": w["labels"], "n_classes": 2},
    "soft_labels.smooth_labels": lambda w: {"labels": w["labels"], "n_classes": 2},
    "soft_labels.sharpen": lambda w: {"probs": w["probs"], "temperature": 0.5},
    "soft_labels.refine_labels": lambda w: {"quantum_probs": w["probs"], "labels": w["labels"]},
    "soft_labels.soft_cross_entropy": lambda w: {"logits": w["logits"], "targets": w["probs"]},
    "calibration.fit_temperature": lambda w: {"logits": w["logits"], "labels": w["labels"]},
    "corruptions.gaussian_noise": lambda w: {"images": w["images"], "severity": 2},
    "corruptions.salt_and_pepper": lambda w: {"images": w["images"], "severity": 2},
    "corruptions.rotation": lambda w: {"images": w["images"], "severity": 2},
    "corruptions.corrupt": lambda w: {"images": w["images"], "kind": "gaussian_noise", "severity": 2},
    "cnn.SmallCNN": lambda w: {"n_classes": 2},
    "cnn.LeNet5": lambda w: {"n_classes": 2},
    "corruptions.add_noise": lambda w: {"images": w["images"], "std": 0.1},
    "corruptions.rotate": lambda w: {"images": w["images"], "degrees": 20.0},
    "circuits.rotation_cz_shape": lambda w: {"n_layers": 1, "n_qubits": 2},
    "hybrid_labeler.HybridLabeler": lambda w: {"n_classes": 2, "n_qubits": 2, "n_layers": 1},
    "hybrid_labeler.fit_labeler": lambda w: {
        "images": w["images28"],
        "labels": w["labels"],
        "n_classes": 2,
        "n_layers": 1,
        "epochs": 1,
        "n_qubits": 2,
        "progress": False,
    },
    "hybrid_labeler.soft_labels": lambda w: {"labeler": _labeler(), "images": w["images28"], "shots": 10},
    "paper_methods.test_conditions": lambda w: {"images": w["images"]},
    "paper_methods.PaperRun": lambda w: {},
    "paper_methods.paper_experiment": lambda w: {
        "n_train": 100,
        "n_test": 10,
        "seeds": (0,),
        "student_epochs": 1,
        "labeler_epochs": 1,
        "labeler_layers": 1,
        "progress": False,
    },
    "label_refining.fit_refiner": lambda w: {
        "images": w["images"],
        "labels": w["labels"],
        "n_classes": 2,
        "n_qubits": 2,
        "n_layers": 1,
        "epochs": 1,
        "progress": False,
    },
    "label_refining.born_nll": lambda w: {"probs": w["probs"], "labels": w["labels"]},
    "label_refining.corrupted_test_sets": lambda w: {"images": w["images"]},
    "label_refining.RefiningRun": lambda w: {},
    "label_refining.robustness_experiment": lambda w: {
        "n_train": 100,
        "n_test": 10,
        "seeds": (0,),
        "epochs": 1,
        "vqc_epochs": 1,
        "progress": False,
    },
    "quantum_classifier.QuantumImageClassifier": lambda w: {
        "image_shape": (1, 8, 8),
        "pool": 4,
        "n_layers": 1,
        "n_classes": 2,
    },
    "quantum_classifier.HybridImageClassifier": lambda w: {"image_shape": (1, 8, 8), "n_layers": 1, "n_classes": 2},
    "attacks.classification_loss": lambda w: {"outputs": w["probs"], "labels": w["labels"], "loss": "probs"},
    "attacks.input_gradient": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"]},
    "attacks.fgsm_step": lambda w: {"images": w["images"], "gradient": torch.randn(4, 1, 8, 8), "epsilon": 0.1},
    "attacks.project": lambda w: {"adversarial": w["images"].flip(0), "images": w["images"], "epsilon": 0.1},
    "attacks.fgsm": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"], "epsilon": 0.1},
    "attacks.pgd": lambda w: {
        "model": w["linear"],
        "images": w["images"],
        "labels": w["labels"],
        "epsilon": 0.1,
        "step_size": 0.02,
        "steps": 2,
    },
    "quantum_patches.extract_patches": lambda w: {"images": w["images"]},
    "quantum_patches.z_signs": lambda w: {"n_qubits": 4},
    "quantum_patches.rqc_patch_channels": lambda w: {"images": w["images"], "encoding": "RXRY"},
    "quantum_patches.rxry_state": lambda w: {"x": torch.rand(3, 4)},
    "quantum_classifier.QuanvolutionClassifier": lambda w: {"image_shape": (1, 8, 8), "width": 4, "n_classes": 2},
    "quantum_patches.quantum_patch": lambda w: {"images": w["images"]},
    "quantum_patches.half_resolution_patch": lambda w: {"images": w["images"], "generator": w["generator"]},
    "defences.matched_sigma": lambda w: {"images": w["images"]},
    "defences.build_model": lambda w: {"name": "quanvolution", "image_shape": (1, 8, 8), "n_classes": 2},
    "defences.perturb_batch": lambda w: {
        "defence": "gaussian noise",
        "model": w["linear"],
        "images": w["images"],
        "labels": w["labels"],
        "generator": w["generator"],
    },
    "defences.train_with_defence": lambda w: {
        "model": w["linear"],
        "images": w["images"],
        "labels": w["labels"],
        "epochs": 1,
        "progress": False,
        "loss": "logits",
    },
    "defences.evaluate_attacks": lambda w: {
        "model": w["linear"],
        "images": w["images"],
        "labels": w["labels"],
        "epsilons": (0.03,),
        "pgd_steps": 2,
        "loss": "logits",
    },
    "defences.DefenceRun": lambda w: {},
    "defences.defence_experiment": lambda w: {
        "defences": ("none",),
        "n_train": 20,
        "n_test": 10,
        "seeds": (0,),
        "epochs": 1,
        "n_layers": 1,
        "progress": False,
    },
    "spin_chain.xxz_hamiltonian": lambda w: {"n_qubits": 4, "delta": 0.5},
    "spin_chain.zero_magnetisation_basis": lambda w: {"n_qubits": 4},
    "spin_chain.ground_states": lambda w: {"n_qubits": 4, "deltas": torch.tensor([0.5, 1.5])},
    "spin_chain.phase_dataset": lambda w: {"n_qubits": 4, "n_samples": 8},
    "spin_chain.authors_pair": lambda w: {"n_qubits": 4},
    "spin_chain.global_phase": lambda w: {"states": torch.rand(3, 4, dtype=torch.float64)},
    "spin_chain.fix_gauge": lambda w: {"states": torch.rand(3, 4, dtype=torch.float64)},
    "spin_chain.represent": lambda w: {
        "states": torch.rand(3, 4, dtype=torch.float64),
        "representation": "gauge-fixed",
    },
    "course.paper_scale.representation_verdicts": lambda w: {
        "runs": [
            {
                "dataset": "spin chain (authors)",
                "model": m,
                "representation": r,
                "poison": "label flip",
                "alpha": a,
                "seed": 0,
                "memorised": 0.5,
                "val_accuracy": 0.9,
            }
            for m, r in [("QNN", "real"), ("MLP", "real"), ("MLP", "gauge-fixed"), ("MLP", "eigensolver-phase")]
            for a in (0.0, 0.3)
        ]
    },
    "networks.QNN": lambda w: {"n_qubits": 2, "depth": 1},
    "networks.MLP": lambda w: {"n_features": 4},
    "poisoning.flip_labels": lambda w: {"labels": w["labels"], "alpha": 0.5},
    "poisoning.randomise_features": lambda w: {"features": w["features64"], "labels": w["labels"], "alpha": 0.5},
    "poisoning.mnist_pair": lambda w: {"n_train": 20, "n_val": 20},
    "poisoning.spin_pair": lambda w: {"n_train": 8, "n_val": 8, "n_qubits": 4},
    "poisoning.PoisoningRun": lambda w: {},
    "poisoning.predict": lambda w: {"model": w["mlp"], "x": w["features64"]},
    "poisoning.train_binary": lambda w: {"model": w["mlp"], "x": w["features64"], "y": w["labels"], "epochs": 1},
    "poisoning.grid": lambda w: {"scale": "smoke"},
    "poisoning.chapter_grid": lambda w: {"scale": "smoke"},
    "poisoning.curves": lambda w: {"results": []},
    "poisoning.critical_alpha": lambda w: {"alphas": [0.0, 0.1, 0.2], "values": [[0.9, 0.5, 0.4]], "n_boot": 10},
    "unlearning.bernoulli_kl": lambda w: {"p": torch.tensor([0.2, 0.7]), "q": torch.tensor([0.3, 0.6])},
    "unlearning.evaluate": lambda w: {"model": w["mlp"], "sets": _sets(w)},
    "unlearning.unlearn": lambda w: {"method": "fine-tune", "model": w["mlp"], "sets": _sets(w), "epochs": 1},
    "unlearning.per_sample_loss": lambda w: {"model": w["mlp"], "x": w["features64"], "y": w["labels"]},
    "unlearning.unlearning_experiment": lambda w: {"scale": "smoke", "progress": False},
    "fastpath.apply_layers": lambda w: {
        "block": _block(),
        "weights": torch.rand(1, 2, 3, dtype=torch.float64),
        "state": torch.eye(4, dtype=torch.complex128),
    },
    "fastpath.block_unitary_transpose": lambda w: {
        "block": _block(),
        "weights": torch.rand(1, 2, 3, dtype=torch.float64),
    },
    "fastpath.apply_block": lambda w: {
        "block": _block(),
        "weights": torch.rand(1, 2, 3, dtype=torch.float64),
        "state": w["features64"],
    },
    "kron_chain.chain_unitary_transpose": lambda w: {
        "plan": _block().chain,
        "weights": torch.rand(1, 2, 3, dtype=torch.float64),
    },
    "kron_chain.chain_probabilities": lambda w: {
        "plan": _block().chain,
        "weights": torch.rand(1, 2, 3, dtype=torch.float64),
        "states": w["features64"],
    },
    "fastpath.real_state_probabilities": lambda w: {
        "states": w["features64"],
        "u_t": torch.eye(4, dtype=torch.complex128),
    },
    "fastpath.born_probabilities": lambda w: {
        "block": _block(),
        "weights": torch.rand(1, 2, 3, dtype=torch.float64),
        "features": w["features64"][:, :2],
        "encode": _angle_state,
    },
    "training.fit": lambda w: {
        "model": w["linear"],
        "inputs": w["images"],
        "targets": w["probs"],
        "loss": lambda out, t: ((out.softmax(1) - t) ** 2).mean(),
        "epochs": 1,
        "batch_size": 2,
        "lr": 0.01,
        "generator": w["generator"],
        "progress": False,
    },
    "metrics.predicted_classes": lambda w: {"y_pred": w["probs"]},
    "metrics.accuracy": lambda w: {"y_true": w["labels"], "y_pred": w["probs"]},
    "metrics.attack_success_rate": lambda w: {
        "y_true": w["labels"],
        "clean_pred": w["probs"],
        "adversarial_pred": w["probs"].flip(0),
    },
    "calibration.reliability_diagram": lambda w: {"y_true": w["labels"], "probs": w["probs"], "n_bins": 5},
    "hybrid_labeler.confident": lambda w: {"soft": w["probs"]},
    "quantum_patches.patch_mask": lambda w: {"channels": torch.rand(2, 4, 2, 2)},
    "quantum_patches.minmax_scale": lambda w: {"channels": torch.rand(2, 4, 2, 2)},
    "course.performance.encode_ry": lambda w: {"x": w["features64"][:, :2]},
    "unlearning.epochs_to_target": lambda w: {
        "history": [{"epoch": 1, "seconds": 0.1, "val": 0.4}, {"epoch": 2, "seconds": 0.2, "val": 0.6}],
        "target": 0.5,
    },
}

#: Public callables that take a tensor kind and are not called here, and why (none today).
EXEMPT: dict[str, str] = {}

#: (callable, argument, bad value) that are not bad there, and why.
NOT_BAD = {
    ("defences.perturb_batch", "labels", "too large"): "only PGD uses the labels, and its loss checks them",
    ("poisoning.randomise_features", "labels", "too large"): "any class index names a class here",
    ("quantum_patches.extract_patches", "images", "above 1"): "a reshape: it moves any finite values",
    ("quantum_patches.extract_patches", "images", "negative"): "a reshape: it moves any finite values",
}

PUBLIC = public_callables()


#: Modules that run without the package (its validation imports torch), and why.
STANDALONE = {
    "exercises.cases": "a learner's kernel loads it by file path: the standard library and NumPy only",
    "exercises.notebook_runner": "the grader's worker script: the standard library and nbclient only",
    "exercises.sandbox": "runs as the sandbox's first process, before any import of the package",
}


def is_record(name: str, obj) -> bool:
    """Records (dataclasses, named tuples, exceptions: made by the package, configs checked by
    their own ``__post_init__``), the checks of :mod:`qrobust_lite.validation` themselves, and
    the functions of :data:`STANDALONE` modules."""
    return (
        name.startswith("validation.")
        or name.rsplit(".", 1)[0] in STANDALONE
        or (inspect.isclass(obj) and (dataclasses.is_dataclass(obj) or issubclass(obj, (tuple, Exception))))
    )


def tensor_arguments(obj) -> list[str]:
    return [p for p, c in declared(obj).items() if isinstance(kind_of(c), V.Array)]


def test_every_argument_of_every_public_callable_is_declared():
    undeclared = [
        name for name, obj in PUBLIC.items() if arguments(obj) and not declared(obj) and not is_record(name, obj)
    ]
    assert not undeclared, f"declare every argument with validation.validate_params: {undeclared}"


def test_every_callable_that_takes_a_tensor_is_called_or_exempt_with_a_reason():
    missing = [name for name, obj in PUBLIC.items() if tensor_arguments(obj) and name not in CALLS | EXEMPT]
    assert not missing, f"add a valid call to CALLS (or a reason to EXEMPT): {missing}"
    stale = sorted((set(CALLS) | set(EXEMPT)) - set(PUBLIC))
    assert not stale, f"CALLS or EXEMPT name callables that are not public any more: {stale}"
    needless = sorted(name for name in EXEMPT if not tensor_arguments(PUBLIC[name]))
    assert not needless, f"EXEMPT names callables that take no tensor: {needless}"


class TookTooLong(Exception):
    pass


def _alarm(signum, frame):
    raise TookTooLong


def call(name: str, kwargs: dict, seconds: int = 20):
    """Call ``name`` with ``kwargs``; a bad value must be refused before any long work."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        return PUBLIC[name](**kwargs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _refused_naming(err: BaseException, names: list[str]) -> bool:
    return any(p in str(err) for p in names)


# --- 2. every declared bad value, refused by the function itself -------------------------------------

RELATIONAL = ("one too few", "empty", "too large")  # bad only next to another argument: see the full calls


def declared_cases():
    for name, obj in PUBLIC.items():
        for param, constraint in declared(obj).items():
            for label, bad in kind_of(constraint).bad_values().items():
                if label not in RELATIONAL:
                    yield pytest.param(name, param, label, id=f"{name}-{param}-{label}")


@pytest.mark.parametrize("name,param,label", list(declared_cases()))
def test_each_declared_bad_value_is_refused_before_the_body_runs(name, param, label):
    constraint = kind_of(declared(PUBLIC[name])[param])
    bad = constraint.bad_values()[label]
    if callable(bad):
        bad = bad(constraint.example())
    with pytest.raises((ValueError, TypeError, OSError)) as err:
        call(name, {param: bad})
    assert _refused_naming(err.value, [param]), f"{name}: the error for {param} ({label}) does not name it: {err.value}"
    assert "missing" not in str(err.value), f"{name} ran without {param} being checked: {err.value}"


# --- 3. through valid calls ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CALLS))
def test_the_valid_call_works(name):
    call(name, CALLS[name](world()), seconds=60)


def numeric_cases():
    for name in CALLS:
        kwargs = CALLS[name](world())
        for param, constraint in declared(PUBLIC[name]).items():
            value = kwargs.get(param)
            if isinstance(kind_of(constraint), (V.Int, V.Real)) and type(value) in (int, float):
                yield pytest.param(name, param, id=f"{name}-{param}")


@pytest.mark.parametrize("name,param", list(numeric_cases()))
def test_numpy_scalars_count_as_numbers(name, param):
    kwargs = CALLS[name](world())
    kwargs[param] = np.int64(kwargs[param]) if type(kwargs[param]) is int else np.float64(kwargs[param])
    call(name, kwargs, seconds=60)


def _is_empty(result) -> bool:
    """What an empty batch may honestly give: empty arrays, NaN (a mean of nothing), or bins
    with NaN statistics and zero counts."""
    if isinstance(result, torch.Tensor | np.ndarray):
        values = np.asarray(result, dtype=float)
        return values.size == 0 or bool(np.isnan(values).all()) or (values.ndim == 1 and not values.any())
    if isinstance(result, tuple | list | dict):
        items = list(result.values() if isinstance(result, dict) else result)
        return bool(items) and all(_is_empty(r) for r in items if isinstance(r, torch.Tensor | np.ndarray | float))
    return isinstance(result, float) and np.isnan(result)


def _aligned(kwargs: dict, param: str) -> list[str]:
    """The tensor arguments that are batches of the same length as ``param`` (itself included)."""
    n = len(kwargs[param]) if isinstance(kwargs[param], torch.Tensor) and kwargs[param].ndim else None
    return [k for k, v in kwargs.items() if isinstance(v, torch.Tensor) and v.ndim and len(v) == n]


def _same(a, b) -> bool:
    """Equal results: tensors and arrays elementwise, containers item by item, objects by fields."""
    if isinstance(a, torch.Tensor | np.ndarray):
        return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if hasattr(a, "__dict__") and not isinstance(a, torch.nn.Module):
        return _same(vars(a), vars(b))
    return a == b or (isinstance(a, float) and np.isnan(a) and np.isnan(b))


def call_cases():
    for name in CALLS:
        for param, constraint in declared(PUBLIC[name]).items():
            for label in kind_of(constraint).bad_values():
                yield pytest.param(name, param, label, id=f"{name}-{param}-{label}")


@pytest.mark.parametrize("name,param,label", list(call_cases()))
def test_a_bad_value_is_refused_in_a_full_call_with_a_message_that_names_it(name, param, label):
    """A bad value raises a ValueError or TypeError naming its argument (a missing folder: an
    OSError naming it); an empty batch (every argument of that length emptied together) may
    instead give an empty result, and integer features the result of the same floats."""
    if (name, param, label) in NOT_BAD:
        pytest.skip(NOT_BAD[name, param, label])
    kwargs = CALLS[name](world())
    constraint = kind_of(declared(PUBLIC[name])[param])
    good = kwargs.get(param, inspect.signature(PUBLIC[name]).parameters[param].default)
    bad = constraint.bad_values()[label]
    if callable(bad):
        if not isinstance(good, torch.Tensor):
            pytest.skip(f"{param} has no tensor value here")
        kwargs[param] = good
        if label == "one too few" and len(_aligned(kwargs, param)) < 2:
            pytest.skip(f"no other argument has {param}'s length")
        emptied = _aligned(kwargs, param) if label == "empty" else [param]
        for other in emptied if label == "empty" else []:
            kwargs[other] = kwargs[other][:0]
        bad = bad(good)
    kwargs[param] = bad
    accepted = (ValueError, TypeError, OSError)
    try:
        result = call(name, kwargs)
    except accepted as err:
        named = emptied if callable(constraint.bad_values()[label]) else [param]
        assert any(p in str(err) for p in named), f"{name}: the error for {param} ({label}) does not name it: {err}"
        return
    except TookTooLong:
        pytest.fail(f"{name} with {param} {label} ran for 20 s: check arguments before working")
    except Exception as err:
        pytest.fail(f"{name} with {param} {label}: {type(err).__name__} instead of a ValueError naming it: {err}")
    if label == "empty":
        assert _is_empty(result), f"{name} with empty {param} returned {result!r:.200}, not an empty result"
        return
    if label == "integer" and getattr(constraint, "kind", None) in ("features", "table"):
        kwargs[param] = bad.double()
        assert _same(result, call(name, kwargs)), f"{name}: integer {param} gave another result than the same floats"
        return
    pytest.fail(f"{name} accepted {param} {label} ({bad!r:.60}) and returned {type(result).__name__}")
