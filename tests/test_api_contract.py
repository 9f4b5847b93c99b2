"""The common validation suite (in the spirit of scikit-learn's ``check_estimator``): every public
function and class of the API reference, fed the bad values of each kind of argument it takes,
raises a ``ValueError`` or ``TypeError`` that names the argument, or (for empty batches) returns
an empty result. New public functions are found automatically: one that takes an argument of a
known kind needs a valid call in ``CALLS`` (or a reason in ``EXEMPT``) before the suite passes.

Argument kinds are read from the parameter names (``KINDS``), as the package names them
consistently: ``images`` are (N, C, H, W) in [0, 1], ``labels`` integer classes, a ``seed`` a
non-negative integer, and so on."""

from __future__ import annotations

import importlib
import inspect
import re
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
MODULES = re.findall(r"automodule:: (\S+)", (ROOT / "book" / "api.md").read_text())


def public_callables() -> dict[str, object]:
    """``"module.name" -> object`` for every public function and class of the API reference."""
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items()
            if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == name]
        for n in names:
            obj = getattr(module, n)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == name:
                found[f"{name.removeprefix('qrobust_lite.')}.{n}"] = obj
    return found


# --- argument kinds, from parameter names ------------------------------------------------------------

def _nan(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[0] = float("nan")
    return x


def _inf(x: torch.Tensor) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[-1] = float("inf")
    return x


BAD = {
    "images": {"NaN": _nan, "inf": _inf, "integer": lambda x: (x * 255).to(torch.uint8),
               "above 1": lambda x: x + 1.0, "negative": lambda x: x - 1.0, "no batch axis": lambda x: x[0, 0, 0],
               "numpy": lambda x: x.numpy(), "empty": lambda x: x[:0]},
    "features": {"NaN": _nan, "inf": _inf, "integer": lambda x: x.round().long(), "list": lambda x: x.tolist(),
                 "empty": lambda x: x[:0]},
    "probabilities": {"NaN": _nan, "negative": lambda p: p - 1.0, "not summing to 1": lambda p: p * 0.5,
                      "integer": lambda p: p.round().long(), "empty": lambda p: p[:0]},
    "labels": {"fractional": lambda y: y.double() + 0.5, "negative": lambda y: y - 5,
               "too large": lambda y: y + 100, "two-dimensional": lambda y: y[:, None].repeat(1, 2),
               "one too few": lambda y: y[:-1], "list": lambda y: y.tolist(), "empty": lambda y: y[:0]},
    "count": {"zero": 0, "negative": -3, "fractional": 2.5, "bool": True, "string": "3", "NaN": float("nan")},
    "severity": {"negative": -1, "too large": 6, "fractional": 2.5, "bool": True, "string": "3"},
    "seed": {"negative": -1, "fractional": 1.5, "bool": True, "string": "0", "NaN": float("nan")},
    "share": {"negative": -0.1, "above 1": 1.5, "NaN": float("nan"), "string": "0.5", "bool": True},
    "positive": {"zero": 0.0, "negative": -1.0, "NaN": float("nan"), "inf": float("inf"), "string": "1"},
    "non-negative": {"negative": -0.1, "NaN": float("nan"), "inf": float("inf"), "string": "0.1"},
    "choice": {"unknown": "bogus", "number": 3},
    "root": {"missing folder": "/nonexistent/qrobust-data", "number": 3},
}

KINDS = {
    "images": {"images"},
    "features": {"features", "train_features", "x", "adversarial", "logits", "outputs", "gradient", "inputs", "angles",
                 "states"},
    "probabilities": {"probs", "quantum_probs", "outcome_probs"},
    "labels": {"labels", "y_true", "y"},
    "count": {"n_qubits", "n_layers", "epochs", "batch_size", "n_classes", "n_samples", "depth", "n_rotations",
              "n_train", "n_test", "n_val", "n_bins", "steps", "pgd_steps", "n_boot", "k", "size", "n_features",
              "n_images", "vqc_epochs", "chunk", "pool", "in_channels", "shots", "student_epochs",
              "labeler_epochs", "labeler_layers", "hidden_units", "width"},
    "severity": {"severity"},
    "seed": {"seed", "circuit_seed"},
    "share": {"alpha", "smoothing", "mix", "strength", "fraction", "p"},
    "positive": {"lr", "temperature", "step_size", "sigma"},
    "non-negative": {"epsilon", "weight"},
    "choice": {"loss", "method", "kind", "name", "defence", "rotation", "scale", "metric", "strategy",
               "encoding", "split", "attack", "dataset", "experiment", "representation"},
    "root": {"root", "data_root"},
}
KIND_OF = {param: kind for kind, params in KINDS.items() for param in params}


# --- valid calls -----------------------------------------------------------------------------------

def world() -> dict:
    """Small valid arguments, consistent with each other: 4 samples, 2 classes, 8x8 images."""
    g = torch.Generator().manual_seed(0)
    from qrobust_lite.networks import MLP, QNN
    return {
        "images": torch.rand(4, 1, 8, 8, generator=g), "labels": torch.tensor([0, 1, 0, 1]),
        "probs": torch.softmax(torch.randn(4, 2, generator=g), 1), "features": torch.rand(4, 4, generator=g),
        "features64": torch.rand(4, 4, generator=g, dtype=torch.float64), "logits": torch.randn(4, 2, generator=g),
        "images28": torch.rand(4, 1, 28, 28, generator=g), "cifar": torch.rand(4, 3, 8, 8, generator=g),
        "linear": torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)),
        "mlp": MLP(4), "qnn": QNN(2, depth=1), "generator": g,
    }


def _labeler():
    from qrobust_lite.hybrid_labeler import HybridLabeler
    return HybridLabeler(n_classes=2, n_qubits=2, n_layers=1)


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
        "runs": [{"dataset": "mnist", "model": m, "poison": "label flip", "alpha": a, "seed": 0,
                  "memorised": 0.5, "val_accuracy": 0.9} for m in ("MLP", "QNN") for a in (0.0, 0.3)],
        "dataset": "mnist"},
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
    "fastpath.angle_state": lambda w: {"angles": w["features64"]},
    "fastpath.amplitude_state": lambda w: {"features": w["features64"], "n_qubits": 2},
    "fastpath.einsum_expression": lambda w: {"wires": [(0,), (1, 2)], "n_qubits": 3},
    "fastpath.chunk_size": lambda w: {"n_qubits": 4},
    "fastpath.choose_strategy": lambda w: {"n_qubits": 4, "batch_size": 8},
    "validation.finite_floats": lambda w: {"x": w["features64"], "arg": "x"},
    "validation.images": lambda w: {"x": w["images"], "arg": "x"},
    "validation.image_batch": lambda w: {"x": w["images"], "arg": "x"},
    "validation.probabilities": lambda w: {"p": w["probs"]},
    "training.Dropout": lambda w: {"p": 0.5},
    "training.train_classifier": lambda w: {"model": w["linear"], "images": w["images"], "targets": w["labels"],
                                            "epochs": 1, "progress": False},
    "training.predict_logits": lambda w: {"model": w["linear"], "images": w["images"]},
    "training.predict_proba": lambda w: {"model": w["linear"], "images": w["images"]},
    "metrics.nll": lambda w: {"y_true": w["labels"], "probs": w["probs"]},
    "metrics.brier_score": lambda w: {"y_true": w["labels"], "probs": w["probs"]},
    "metrics.reliability_bins": lambda w: {"y_true": w["labels"], "probs": w["probs"], "n_bins": 5},
    "metrics.expected_calibration_error": lambda w: {"y_true": w["labels"], "probs": w["probs"], "n_bins": 5},
    "metrics.evaluate": lambda w: {"y_true": w["labels"], "probs": w["probs"]},
    "metrics.confidence_bins": lambda w: {"confidence": w["probs"].max(1).values,
                                          "correct": torch.tensor([1.0, 0.0, 1.0, 1.0]), "n_bins": 5},
    "metrics.calibration_error": lambda w: {"confidence": w["probs"].max(1).values,
                                            "correct": torch.tensor([1.0, 0.0, 1.0, 1.0]), "n_bins": 5},
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
    "hybrid_labeler.fit_labeler": lambda w: {"images": w["images28"], "labels": w["labels"], "n_classes": 2,
                                             "n_layers": 1, "epochs": 1, "n_qubits": 2, "progress": False},
    "hybrid_labeler.soft_labels": lambda w: {"labeler": _labeler(), "images": w["images28"], "shots": 10},
    "paper_methods.test_conditions": lambda w: {"images": w["images"]},
    "paper_methods.PaperRun": lambda w: {},
    "paper_methods.paper_experiment": lambda w: {"n_train": 100, "n_test": 10, "seeds": (0,), "student_epochs": 1,
                                                 "labeler_epochs": 1, "labeler_layers": 1, "progress": False},
    "label_refining.fit_refiner": lambda w: {"images": w["images"], "labels": w["labels"], "n_classes": 2,
                                             "n_qubits": 2, "n_layers": 1, "epochs": 1, "progress": False},
    "label_refining.born_nll": lambda w: {"probs": w["probs"], "labels": w["labels"]},
    "label_refining.corrupted_test_sets": lambda w: {"images": w["images"]},
    "label_refining.RefiningRun": lambda w: {},
    "label_refining.robustness_experiment": lambda w: {"n_train": 100, "n_test": 10, "seeds": (0,), "epochs": 1,
                                                       "vqc_epochs": 1, "progress": False},
    "quantum_classifier.QuantumImageClassifier": lambda w: {"image_shape": (1, 8, 8), "pool": 4, "n_layers": 1,
                                                            "n_classes": 2},
    "quantum_classifier.HybridImageClassifier": lambda w: {"image_shape": (1, 8, 8), "n_layers": 1, "n_classes": 2},
    "attacks.classification_loss": lambda w: {"outputs": w["probs"], "labels": w["labels"], "loss": "probs"},
    "attacks.input_gradient": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"]},
    "attacks.fgsm_step": lambda w: {"images": w["images"], "gradient": torch.randn(4, 1, 8, 8), "epsilon": 0.1},
    "attacks.project": lambda w: {"adversarial": w["images"].flip(0), "images": w["images"], "epsilon": 0.1},
    "attacks.fgsm": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"], "epsilon": 0.1},
    "attacks.pgd": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"], "epsilon": 0.1,
                              "step_size": 0.02, "steps": 2},
    "quantum_patches.extract_patches": lambda w: {"images": w["images"]},
    "quantum_patches.z_signs": lambda w: {"n_qubits": 4},
    "quantum_patches.rqc_patch_channels": lambda w: {"images": w["images"], "encoding": "RXRY"},
    "quantum_patches.rxry_state": lambda w: {"x": torch.rand(3, 4)},
    "quantum_classifier.QuanvolutionClassifier": lambda w: {"image_shape": (1, 8, 8), "width": 4, "n_classes": 2},
    "quantum_patches.quantum_patch": lambda w: {"images": w["images"]},
    "quantum_patches.half_resolution_patch": lambda w: {"images": w["images"], "generator": w["generator"]},
    "defences.matched_sigma": lambda w: {"images": w["images"]},
    "defences.build_model": lambda w: {"name": "quanvolution", "image_shape": (1, 8, 8), "n_classes": 2},
    "defences.perturb_batch": lambda w: {"defence": "gaussian noise", "model": w["linear"], "images": w["images"],
                                         "labels": w["labels"], "generator": w["generator"]},
    "defences.train_with_defence": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"],
                                              "epochs": 1, "progress": False, "loss": "logits"},
    "defences.evaluate_attacks": lambda w: {"model": w["linear"], "images": w["images"], "labels": w["labels"],
                                            "epsilons": (0.03,), "pgd_steps": 2, "loss": "logits"},
    "defences.DefenceRun": lambda w: {},
    "defences.defence_experiment": lambda w: {"defences": ("none",), "n_train": 20, "n_test": 10, "seeds": (0,),
                                              "epochs": 1, "n_layers": 1, "progress": False},
    "spin_chain.xxz_hamiltonian": lambda w: {"n_qubits": 4, "delta": 0.5},
    "spin_chain.zero_magnetisation_basis": lambda w: {"n_qubits": 4},
    "spin_chain.ground_states": lambda w: {"n_qubits": 4, "deltas": torch.tensor([0.5, 1.5])},
    "spin_chain.phase_dataset": lambda w: {"n_qubits": 4, "n_samples": 8},
    "spin_chain.authors_pair": lambda w: {"n_qubits": 4},
    "spin_chain.global_phase": lambda w: {"states": torch.rand(3, 4, dtype=torch.float64)},
    "spin_chain.fix_gauge": lambda w: {"states": torch.rand(3, 4, dtype=torch.float64)},
    "spin_chain.represent": lambda w: {"states": torch.rand(3, 4, dtype=torch.float64),
                                       "representation": "gauge-fixed"},
    "course.paper_scale.representation_verdicts": lambda w: {
        "runs": [{"dataset": "spin chain (authors)", "model": m, "representation": r, "poison": "label flip",
                  "alpha": a, "seed": 0, "memorised": 0.5, "val_accuracy": 0.9}
                 for m, r in [("QNN", "real"), ("MLP", "real"), ("MLP", "gauge-fixed"), ("MLP", "eigensolver-phase")]
                 for a in (0.0, 0.3)]},
    "networks.QNN": lambda w: {"n_qubits": 2, "depth": 1},
    "networks.MLP": lambda w: {"n_features": 4},
    "poisoning.flip_labels": lambda w: {"labels": w["labels"], "alpha": 0.5},
    "poisoning.randomise_features": lambda w: {"features": w["features64"], "labels": w["labels"], "alpha": 0.5},
    "poisoning.mnist_pair": lambda w: {"n_train": 20, "n_val": 20},
    "poisoning.spin_pair": lambda w: {"n_train": 8, "n_val": 8, "n_qubits": 4},
    "poisoning.RunConfig": lambda w: {},
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
    "unlearning.epochs_to_target": lambda w: {"history": [{"epoch": 1, "seconds": 0.1, "val": 0.4},
                                                                   {"epoch": 2, "seconds": 0.2, "val": 0.6}],
                                                       "target": 0.5},
}

#: Public callables with arguments of a known kind that the suite does not call, and why.
EXEMPT = {
    "data.Dataset": "a record of already-checked tensors, made by data.load",
    "data.read_idx": "takes a path to a file; tests/test_data.py feeds it truncated and malformed files",
    "data.download_dataset": "needs the network",
    "data.notice": "formats a Dataset that data.load made",
    "backend.DeviceChoice": "a record made by choose_device",
    "validation.tensor": "checks one property (a tensor) for the others, tests/test_validation.py",
    "validation.non_empty": "checks one property (not empty) for the others, tests/test_validation.py",
    "validation.labels": "checks labels without their number of classes (below does that)",
    "validation.below": "checks the upper bound of labels already checked by labels",
    "backend.make_device": "builds a PennyLane device; n_qubits is checked by choose_device, tested here",
    "circuits.angle_encoding": "a circuit piece, called inside a QNode with wires; VQC checks its features",
    "circuits.amplitude_encoding": "a circuit piece, called inside a QNode with wires",
    "circuits.random_circuit": "a circuit piece, called inside a QNode with wires",
    "fastpath.compile_block": "takes a template; tests/test_fastpath.py and tests/test_validation.py",
    "fastpath.ParamLayer": "a record made by compile_block",
    "fastpath.DenseGate": "a record made by compile_block",
    "fastpath.DiagonalLayer": "a record made by compile_block",
    "fastpath.Block": "a record made by compile_block",
    "fastpath.apply_block": "takes a compiled Block; strategy names are tested in tests/test_fastpath.py",
    "fastpath.born_probabilities": "takes a compiled Block and an encoder; tests/test_fastpath.py",
    "fastpath.real_state_probabilities": "takes a compiled unitary; tests/test_fastpath.py",
    "fastpath.block_unitary_transpose": "takes a compiled Block; tests/test_fastpath.py",
    "fastpath.apply_layers": "takes a compiled Block; tests/test_fastpath.py",
    "training.fit": "the loop behind train_classifier, train_with_defence and train_binary, tested through them",
    "metrics.predicted_classes": "takes probabilities or classes alike",
    "metrics.accuracy": "takes probabilities or classes as y_pred",
    "metrics.attack_success_rate": "takes predicted classes; tests/test_metrics.py",
    "calibration.reliability_diagram": "plots what reliability_bins computes (tested here)",
    "label_refining.LabelRefiner": "a record made by fit_refiner",
    "label_refining.summarise": "summarises the results of robustness_experiment",
    "label_refining.best_relative_gain": "reads the results of robustness_experiment",
    "label_refining.plot_accuracy_vs_severity": "plots the results of robustness_experiment",
    "label_refining.validation_nll": "reads the results of robustness_experiment",
    "label_refining.select": "reads the results of robustness_experiment; tests/test_label_refining.py",
    "label_refining.selected_runs": "reads the results of robustness_experiment",
    "label_refining.per_seed": "reads the results of robustness_experiment",
    "label_refining.tradeoff": "reads the results of robustness_experiment",
    "label_refining.robust_and_calibrated": "reads the results of robustness_experiment; its baseline is checked",
    "label_refining.label_name": "formats a candidate's name; tests/test_label_refining.py",
    "label_refining.plot_tradeoff": "plots the results of robustness_experiment",
    "course.paper_scale.unlearning_verdict": "reads stored unlearning runs; tests/test_paper_scale.py",
    "course.paper_scale.refining_verdict": "reads stored label-refining results; tests/test_paper_scale.py",
    "course.paper_scale.beats": "compares two seed arrays; its shapes are checked; tests/test_paper_scale.py",
    "course.paper_scale.patches_verdict": "reads a stored quantum-patches run; tests/test_paper_scale.py",
    "defences.summarise": "summarises the results of defence_experiment",
    "defences.format_table": "formats the results of defence_experiment",
    "defences.common_base": "reads the results of defence_experiment; tests/test_defences.py",
    "defences.plot_attack_success": "plots the results of defence_experiment",
    "course.paper_scale.patch_effects": "reads a stored quantum-patches run; tests/test_paper_scale.py",
    "course.paper_scale.effect_line": "formats an entry of patch_effects; tests/test_paper_scale.py",
    "course.paper_scale.resists": "reads an entry of patch_effects; tests/test_paper_scale.py",
    "poisoning.PoisonedRun": "a record made by train_poisoned",
    "poisoning.make_model": "takes a RunConfig, tested here",
    "poisoning.plot_curves": "plots the results of poisoning runs",
    "unlearning.UnlearningRun": "takes a PoisonedRun; its methods and epochs are checked by unlearning_experiment",
    "unlearning.mean_history": "reads the results of unlearning_experiment",
    "unlearning.plot_histories": "plots the results of unlearning_experiment",
    "unlearning.membership_inference": "takes (x, y) pairs; tests/test_poisoning.py",
    "experiments.default_cache": "name is any folder name for a cache",
    "experiments.run_grid": "takes configs and a run function; tests/test_experiments.py",
    "experiments.dask_client": "starts a cluster; tests/test_experiments.py",
    "course.cli.run_experiment": "the CLI's runner; tests/test_cli.py gives it bad arguments through main",
    "course.cli.output_files": "the CLI's file names; tests/test_cli.py",
    "course.cli.run_label_refining": "called by run_experiment with checked arguments",
    "course.cli.run_label_refining_paper": "called by run_experiment with checked arguments",
    "paper_methods.per_seed": "reads the results of paper_experiment; tests/test_paper_methods.py",
    "paper_methods.plot_against_paper": "plots the summary of paper_experiment",
    "course.paper_scale.published_refining_verdict": "reads a stored summary; tests/test_paper_methods.py",
    "course.paper_scale.paper_a_table": "reads a stored summary; tests/test_paper_methods.py",
    "course.cli.run_quantum_patches": "called by run_experiment with checked arguments",
    "course.cli.run_poisoning": "called by run_experiment with checked arguments",
    "course.cli.run_unlearning": "called by run_experiment with checked arguments",
    "course.performance.training_step": "the benchmarks' workload; benchmarks/ and tests/test_performance.py",
    "course.performance.label_forward": "the benchmarks' workload; benchmarks/ and tests/test_performance.py",
    "course.performance.patch_forward": "the benchmarks' workload; benchmarks/ and tests/test_performance.py",
    "course.performance.encode_ry": "the benchmarks' encoder, given the benchmarks' own features",
    "course.performance.samples_per_second": "the benchmarks' timer",
    "exercises.checking.checker": "a decorator for the course's own checkers",
    "exercises.grading.grade_notebook": "the grader; tests/test_grading.py",
    "exercises.grading.grade_batch": "the grader; tests/test_grading.py",
    "exercises.grading.CheckServer": "the grader's checker process; tests/test_grading.py",
    "exercises.grading.expected_exercises": "a chapter name; tests/test_grading.py",
    "exercises.grading.chapter_of": "a chapter name; tests/test_grading.py",
}

#: (callable, argument, bad value) that are not bad there, and why.
NOT_BAD = {
    ("defences.perturb_batch", "labels", "too large"): "only PGD uses the labels, and its loss checks them",
    ("poisoning.randomise_features", "labels", "too large"): "any class index names a class here",
    ("quantum_patches.extract_patches", "images", "above 1"): "a reshape: it moves any finite values",
    ("quantum_patches.extract_patches", "images", "negative"): "a reshape: it moves any finite values",
}

PUBLIC = public_callables()


def kinded(obj) -> list[str]:
    try:
        return [p for p in inspect.signature(obj).parameters if p in KIND_OF]
    except (TypeError, ValueError):
        return []


def test_every_public_callable_with_checked_arguments_is_called_or_exempt_with_a_reason():
    missing = [name for name, obj in PUBLIC.items() if kinded(obj) and name not in CALLS and name not in EXEMPT]
    assert not missing, f"new public callables: add a valid call to CALLS (or a reason to EXEMPT): {missing}"
    stale = sorted((set(CALLS) | set(EXEMPT)) - set(PUBLIC))
    assert not stale, f"CALLS or EXEMPT name callables that are not public any more: {stale}"


def cases():
    for name in CALLS:
        for param in kinded(PUBLIC[name]):
            for label in BAD[KIND_OF[param]]:
                yield pytest.param(name, param, label, id=f"{name}-{param}-{label}")


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


@pytest.mark.parametrize("name", list(CALLS))
def test_the_valid_call_works(name):
    call(name, CALLS[name](world()), seconds=60)


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


@pytest.mark.parametrize("name,param,label", list(cases()))
def test_a_bad_value_is_refused_with_a_message_that_names_it(name, param, label):
    """A bad value raises a ValueError or TypeError naming its argument (a missing folder: an
    OSError naming it); an empty batch (every argument of that length emptied together) may
    instead give an empty result, and integer features the result of the same floats."""
    if (name, param, label) in NOT_BAD:
        pytest.skip(NOT_BAD[name, param, label])
    kwargs = CALLS[name](world())
    kind = KIND_OF[param]
    good = kwargs.get(param, inspect.signature(PUBLIC[name]).parameters[param].default)
    bad = BAD[kind][label]
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
    accepted = (ValueError, TypeError, OSError) if kind == "root" else (ValueError, TypeError)
    try:
        result = call(name, kwargs)
    except accepted as err:
        named = emptied if callable(BAD[kind][label]) else [param]
        assert any(p in str(err) for p in named), f"{name}: the error for {param} ({label}) does not name it: {err}"
        return
    except TookTooLong:
        pytest.fail(f"{name} with {param} {label} ran for 20 s: check arguments before working")
    except Exception as err:  # noqa: BLE001
        pytest.fail(f"{name} with {param} {label}: {type(err).__name__} instead of a ValueError naming it: {err}")
    if label == "empty":
        assert _is_empty(result), f"{name} with empty {param} returned {result!r:.200}, not an empty result"
        return
    if label == "integer" and kind == "features":
        kwargs[param] = bad.double()
        assert _same(result, call(name, kwargs)), f"{name}: integer {param} gave another result than the same floats"
        return
    pytest.fail(f"{name} accepted {param} {label} ({bad!r:.60}) and returned {type(result).__name__}")
