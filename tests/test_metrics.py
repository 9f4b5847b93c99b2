"""qrobust_lite.metrics: one convention f(y_true, y_pred), hand-made cases, torchmetrics agreement."""

import math
import subprocess
import sys

import pytest
import torch

from qrobust_lite import metrics


def test_the_three_kinds_of_prediction_give_the_same_accuracy():
    y = torch.tensor([0, 1, 1, 0])
    probs = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    assert metrics.accuracy(y, probs) == metrics.accuracy(y, probs.argmax(1)) == metrics.accuracy(y, probs[:, 1]) == 0.5


def test_ece_on_hand_made_cases():
    confident_right = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert metrics.expected_calibration_error(torch.tensor([0, 1]), confident_right) == pytest.approx(0.0)
    confident_wrong = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert metrics.expected_calibration_error(torch.tensor([1, 1]), confident_wrong) == pytest.approx(1.0)
    # four predictions at 0.8 confidence, three right: |0.75 - 0.8| = 0.05
    p = torch.tensor([[0.8, 0.2]] * 4)
    assert metrics.expected_calibration_error(torch.tensor([0, 0, 0, 1]), p) == pytest.approx(0.05)
    # two bins: 0.6 (right) and 0.9 (wrong): (|1 - 0.6| + |0 - 0.9|) / 2
    p = torch.tensor([[0.6, 0.4], [0.1, 0.9]])
    assert metrics.expected_calibration_error(torch.tensor([0, 0]), p) == pytest.approx(0.65)


def test_ece_matches_torchmetrics_when_torchmetrics_can_be_imported():
    """torchmetrics needs torchvision hidden here (it is installed but broken on this CPU set-up)."""
    code = """
import sys, importlib.metadata as md
sys.modules["torchvision"] = None
_version = md.version
def version(name):
    if name == "torchvision":
        raise md.PackageNotFoundError(name)
    return _version(name)
md.version = version
import torch
from torchmetrics.functional.classification import multiclass_calibration_error
from qrobust_lite.metrics import expected_calibration_error
g = torch.Generator().manual_seed(0)
worst = 0.0
for _ in range(5):
    p = torch.softmax(3 * torch.randn(400, 10, generator=g), 1)
    y = torch.randint(0, 10, (400,), generator=g)
    ref = multiclass_calibration_error(p, y, num_classes=10, n_bins=15, norm="l1").item()
    worst = max(worst, abs(expected_calibration_error(y, p) - ref))
print(worst)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) < 1e-6


def test_scores_of_a_perfect_and_a_uniform_model():
    labels = torch.tensor([0, 1, 2])
    perfect = torch.eye(3, dtype=torch.float64)
    assert metrics.evaluate(labels, perfect) == pytest.approx({"accuracy": 1.0, "nll": 0.0, "brier": 0.0, "ece": 0.0})
    uniform = torch.full((3, 3), 1 / 3, dtype=torch.float64)
    assert metrics.nll(labels, uniform) == pytest.approx(math.log(3))
    assert metrics.brier_score(labels, uniform) == pytest.approx(2 / 3)


def test_no_samples_score_nan_not_a_plausible_number():
    empty_labels, empty_probs = torch.zeros(0, dtype=torch.long), torch.zeros(0, 3)
    for score in (metrics.accuracy, metrics.nll, metrics.brier_score, metrics.expected_calibration_error):
        assert math.isnan(score(empty_labels, empty_probs)), score.__name__


def test_attack_success_rate_on_hand_cases():
    labels = torch.tensor([0, 1, 2, 0])
    clean = torch.tensor([0, 1, 2, 3])  # three right
    adversarial = torch.tensor([0, 2, 2, 1])  # one of the three changed
    assert metrics.attack_success_rate(labels, clean, adversarial) == pytest.approx(1 / 3)
    assert metrics.accuracy(labels, adversarial) == pytest.approx(0.5)  # robust accuracy
    assert metrics.attack_success_rate(labels, clean, clean) == 0.0
    assert math.isnan(metrics.attack_success_rate(torch.tensor([0]), torch.tensor([1]), torch.tensor([0])))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: metrics.nll(torch.tensor([0, 1, 2]), torch.rand(3)), r"probs must have shape \(N, K\)"),
        (
            lambda: metrics.accuracy(torch.tensor([0, 1]), torch.eye(3)),
            "y_true and the prediction must have the same length",
        ),
        (lambda: metrics.accuracy(torch.eye(3), torch.tensor([0, 1, 2])), "y_true must be a 1-D integer tensor"),
        (lambda: metrics.accuracy(torch.tensor([0, 1]), torch.tensor([0.2, float("nan")])), "must not contain NaN"),
        (lambda: metrics.nll(torch.tensor([0, 1, 2]), torch.eye(3) * 2), "probability vectors"),
        (lambda: metrics.brier_score(torch.tensor([0, 1, 3]), torch.eye(3)), r"y_true must be class indices in 0..2"),
        (lambda: metrics.expected_calibration_error(torch.tensor([0, 1, 2]), torch.eye(3), 0), "n_bins must be"),
        (
            lambda: metrics.attack_success_rate(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0])),
            "clean_pred and adversarial_pred must have the same shape",
        ),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_common_base_asr_counts_only_images_every_model_gets_right():
    clean = [torch.tensor([True, True, True, False]), torch.tensor([True, True, False, True])]
    adversarial = [torch.tensor([False, True, False, False]), torch.tensor([False, False, False, True])]
    # common base: images 0 and 1; model A loses image 0, model B loses both
    assert metrics.common_base_asr(clean, adversarial) == [0.5, 1.0]
    none = [torch.tensor([True, False]), torch.tensor([False, True])]
    assert all(math.isnan(v) for v in metrics.common_base_asr(none, none))
    with pytest.raises(ValueError, match="one mask per model"):
        metrics.common_base_asr(clean, adversarial[:1])
    with pytest.raises(ValueError, match="boolean tensor of shape"):
        metrics.common_base_asr([torch.tensor([1, 0])], [torch.tensor([True, False])])
