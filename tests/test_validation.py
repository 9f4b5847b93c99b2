"""Bad input gets a clear error, never a plausible number: one test per case found by hand
(issue: no silent garbage anywhere in the public API)."""

import math

import numpy as np
import pennylane as qml
import pytest
import torch

from qrobust_lite import (
    attacks,
    circuits,
    corruptions,
    defences,
    fastpath,
    poisoning,
    quantum_patches,
    tracing,
    training,
    unlearning,
)
from qrobust_lite.circuits import VQC
from qrobust_lite.course.cli import main
from qrobust_lite.networks import MLP, QNN
from qrobust_lite.quantum_classifier import QuantumImageClassifier

NAN_IMAGE = torch.full((1, 1, 4, 4), 0.5)
NAN_IMAGE[0, 0, 0, 0] = float("nan")


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.tensor([[1, 2, 3]]), "x must be a floating-point tensor, got torch.int64"),
        (torch.tensor([[0.1, float("nan"), 0.3]]), "x must hold finite values, got 1 NaN or infinite"),
        (torch.tensor([[0.1, float("inf"), 0.3]]), "x must hold finite values"),
    ],
)
def test_circuits_refuse_integer_and_non_finite_features(x, match):
    with pytest.raises(ValueError, match=match):
        VQC(3, 1, 2, device="default.qubit")(x)
    with pytest.raises(ValueError, match=match):
        QNN(2, depth=1)(x)


def test_finite_floats_checks_the_sum_first_and_counts_when_it_overflows():
    """A finite sum means every entry is finite; an infinite one is counted entry by entry, so
    large finite values whose sum overflows still pass."""
    from qrobust_lite.validation import finite_floats

    assert finite_floats(torch.tensor([1e308, 1e308], dtype=torch.float64), "x") is not None
    assert finite_floats(torch.full((4,), 3e38), "x") is not None  # float32 sum overflows
    for bad, count in [([1.0, float("inf")], 1), ([float("inf"), float("-inf")], 2)]:
        with pytest.raises(ValueError, match=f"got {count} NaN or infinite"):
            finite_floats(torch.tensor(bad), "x")
    with pytest.raises(ValueError, match="got 1 NaN or infinite"):
        finite_floats(torch.tensor([1 + 1j, complex(float("nan"), 0)]), "x")


def test_the_fast_path_refuses_integer_angles():
    with pytest.raises(ValueError, match="angles must be a floating-point tensor, got torch.int64"):
        circuits.angle_state(torch.tensor([[1, 2]]))
    with pytest.raises(
        ValueError, match=r"dtype must be one of \[torch.complex64, torch.complex128, torch.float32, torch.float64\]"
    ):
        circuits.angle_state(torch.tensor([[1.0, 2.0]]), dtype=torch.int64)


@pytest.mark.parametrize(
    "call",
    [
        lambda: attacks.fgsm(
            torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)), NAN_IMAGE, torch.tensor([0]), 0.1
        ),
        lambda: corruptions.corrupt(NAN_IMAGE, "gaussian_noise", 1),
        lambda: quantum_patches.quantum_patch(NAN_IMAGE, seed=1),
    ],
    ids=["attacks", "corruptions", "quantum patches"],
)
def test_nan_images_are_refused(call):
    with pytest.raises(ValueError, match="images must hold finite values, got 1 NaN or infinite"):
        call()


def test_training_stops_with_a_clear_error_when_the_loss_is_not_finite():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 4, generator=g, dtype=torch.float64)
    y = torch.randint(2, (20,), generator=g)
    sets = {"retain": (x[:12], y[:12]), "forget": (x[12:16], 1 - y[12:16]), "val": (x[16:], y[16:])}
    with pytest.raises(ValueError, match="weight must be a number >= 0, got inf"):
        unlearning.unlearn("gradient ascent", MLP(4), sets, epochs=2, weight=float("inf"))
    blows_up = lambda out, t: (out - t).sum() / 0.0  # noqa: E731
    with pytest.raises(FloatingPointError, match="training stopped: the loss became (-?inf|nan) in epoch 1"):
        training.fit(MLP(4), x, y.double(), blows_up, epochs=2, batch_size=8, lr=0.1, generator=g, progress=False)


def test_critical_alpha_answers_only_where_there_is_a_drop():
    alphas = [0.0, 0.1, 0.2, 0.3]
    assert all(math.isnan(v) for v in poisoning.critical_alpha(alphas, [[0.5, 0.6, 0.7, 0.8]]))  # rising
    assert poisoning.critical_alpha(alphas, [[0.9, 0.9, 0.5, 0.4]])[0] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="values must be finite, got 1 NaN"):
        poisoning.critical_alpha(alphas, [[0.9, float("nan"), 0.5, 0.4]])
    with pytest.raises(ValueError, match="alphas must be finite and strictly increasing"):
        poisoning.critical_alpha([0.0, 0.2, 0.1, 0.3], [[0.9, 0.9, 0.5, 0.4]])


def test_experiments_refuse_empty_or_wrong_selections():
    with pytest.raises(ValueError, match=r"seeds must be a non-empty selection of the smoke scale's seeds \[0, 1\]"):
        unlearning.unlearning_experiment("smoke", seeds=[99], progress=False)
    model = QuantumImageClassifier((1, 4, 4), pool=1, n_layers=1, n_classes=2, device="default.qubit")
    with pytest.raises(ValueError, match=r"loss must be one of \['logits', 'probs'\], got 'mse'"):
        defences.train_with_defence(
            model, torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 0, 1]), loss="mse", progress=False
        )


def test_numpy_scalars_count_as_numbers():
    labels = torch.tensor([0, 0, 1, 1])
    assert int(poisoning.flip_labels(labels, np.float32(0.5))[1].sum()) == 2
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    x = torch.rand(2, 1, 4, 4)
    assert attacks.fgsm(model, x, torch.tensor([0, 1]), np.float32(0.1)).shape == x.shape


@pytest.mark.parametrize("lr", [-1.0, 0.0, float("nan"), "0.1"])
def test_a_run_config_refuses_a_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="lr must be a"):
        poisoning.PoisoningRun(lr=lr)


def test_doctor_names_a_bad_device_setting_without_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("QROBUST_DEVICE", "bogus")
    assert main(["doctor"]) == 2
    assert "qrobust-lite doctor: $QROBUST_DEVICE must be one of" in capsys.readouterr().err


@pytest.mark.parametrize(
    "template,shape,match",
    [
        (lambda w, wires: qml.PauliRot(w[0], "XY", wires=[0, 1]), (1,), "PauliRot on wires"),
        (lambda w, wires: qml.ArbitraryUnitary(w, wires=[0, 1]), (15,), "PauliRot on wires"),
        (lambda w, wires: qml.adjoint(qml.RX(w[0], 0)), (1,), r"Adjoint\(RX\) on wires \[0\]"),
        (lambda w, wires: (qml.RX(w[0], 0), qml.QubitUnitary(torch.eye(2), wires=0)), (1,), "QubitUnitary on wires"),
        (lambda w, wires: (qml.RX(w[0], 0), qml.GlobalPhase(0.3)), (1,), "GlobalPhase"),
        (lambda w, wires: qml.RX(torch.relu(w[0]), 0), (1,), "do not reproduce the template"),
        (lambda w, wires: qml.RX(torch.abs(w[0]), 0), (1,), "do not reproduce the template"),
        (lambda w, wires: qml.RX(torch.clamp(w[0], 0, 7), 0), (1,), "do not reproduce the template"),
    ],
    ids=["PauliRot", "ArbitraryUnitary", "adjoint", "fixed QubitUnitary", "GlobalPhase", "relu", "abs", "clamp"],
)
def test_templates_the_fast_path_cannot_follow_raise_not_compilable(template, shape, match):
    with pytest.raises(tracing.NotCompilable, match=match):
        fastpath.compile_block(template, shape, 2)


# --- declared constraints (validation.validate_params) ----------------------------------------------


def test_an_argument_left_undeclared_or_misnamed_is_refused_when_the_function_is_defined():
    from qrobust_lite.validation import COUNT, validate_params

    with pytest.raises(TypeError, match=r"declare every argument once: undeclared \['b'\], not arguments \[\]"):
        validate_params(a=COUNT)(lambda a, b: a)
    with pytest.raises(TypeError, match=r"not arguments \['c'\]"):
        validate_params(a=COUNT, b=COUNT, c=COUNT)(lambda a, b: a)


def test_numpy_scalars_count_as_numbers_everywhere_they_are_declared():
    from qrobust_lite.cnn import SmallCNN

    assert MLP(np.int64(4), hidden=(np.int64(8),))(torch.rand(2, 4)).shape == (2,)
    assert QNN(np.int64(2), depth=np.int64(1)).n_qubits == 2
    assert SmallCNN(np.int64(3), dropout=np.float32(0.2)).head[0].p == pytest.approx(0.2)
    assert fastpath.compile_block(qml.StronglyEntanglingLayers, (np.int64(1), 2, 3), np.int64(2)).n_qubits == 2


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: MLP(4, hidden=(0,)), r"hidden\[0\] must be a positive integer"),
        (lambda: MLP(4, hidden=(-5,)), r"hidden\[0\] must be a positive"),
        (lambda: MLP(4, hidden=16), "hidden must be a list or tuple"),
        (lambda: circuits.angle_state(torch.rand(1, 40)), "angles must have at most 20 columns"),
        (lambda: circuits.angle_state(torch.rand(4096, 20)), r"angles of shape \(4096, 20\) make states of 64.0 GiB"),
        (lambda: unlearning.unlearning_experiment(models=["CNN"]), r"models\[0\] must be one of \['QNN', 'MLP'\]"),
        (lambda: unlearning.unlearning_experiment(models=[]), "models must be a list or tuple of at least 1"),
        (lambda: unlearning.unlearning_experiment(datasets=[]), "datasets must be a list or tuple of at least 1"),
        (lambda: unlearning.membership_rate([], [0.1]), "member_losses must hold at least one loss"),
        (
            lambda: poisoning.curves(
                [
                    {
                        "dataset": "mnist",
                        "model": "MLP",
                        "poison": "label flip",
                        "seed": s,
                        "alpha": a,
                        "val_accuracy": 0.5,
                    }
                    for s, a in [(0, 0.0), (0, 0.1), (1, 0.0)]
                ]
            ),
            r"missing \[\(1, 0.1\)\]",
        ),
    ],
)
def test_the_arguments_the_red_team_tried_are_refused_by_name(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_born_probabilities_names_a_feature_width_the_block_cannot_take():
    block = fastpath.compile_block(qml.StronglyEntanglingLayers, (1, 2, 3), 2)
    with pytest.raises(
        ValueError, match=r"features of shape \(4, 3\) encode to states of 8 amplitudes; the block acts on 2"
    ):
        fastpath.born_probabilities(
            block, torch.rand(1, 2, 3), torch.rand(4, 3, dtype=torch.float64), circuits.angle_state
        )
