"""Checkers for the book's exercises (book: every chapter's *Exercises* section).

Each exercise has an id such as ``"primer-born-rule"`` and a checker that runs the learner's
answer on fresh cases, compares it with a reference, and says what is wrong in words a
learner can act on. A checker never raises: the learner's own errors become feedback.

>>> result = check("primer-born-rule", lambda amps: abs(amps) ** 2)
>>> result.passed
True
"""

from __future__ import annotations

import math
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pennylane as qml
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
SIGNATURES: dict[str, str] = {}


def checker(exercise: str, signature: str | None = None):
    """Register a function ``answer -> (passed, message)`` as the checker of ``exercise``.

    With ``signature`` (e.g. ``"born_rule(amplitudes)"``) the answer must be a function, and
    :func:`check` says so when it is not.
    """
    def register(func):
        CHECKERS[exercise] = func
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
        passed, message = False, "not attempted yet: replace the `raise NotImplementedError` with your code."
    except Exception as err:  # the learner's code failed: report it instead of crashing the notebook
        frame = traceback.extract_tb(err.__traceback__)[-1]
        passed, message = False, (f"your code raised {type(err).__name__}: {err} "
                                  f"(line {frame.lineno}: `{(frame.line or '').strip()}`)")
    return Feedback(exercise, passed, message)


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


# --- Primer -------------------------------------------------------------------------------

@checker("primer-born-rule", "born_rule(amplitudes)")
def _born_rule(born_rule) -> tuple[bool, str]:
    """``born_rule(amplitudes)`` maps complex amplitudes (2**n,) to outcome probabilities."""
    rng = np.random.default_rng(7)
    for n in (1, 2, 3):
        amps = rng.normal(size=2 ** n) + 1j * rng.normal(size=2 ** n)
        amps /= np.linalg.norm(amps)
        got = _as_array(born_rule(amps))
        want = np.abs(amps) ** 2
        if got.shape != want.shape:
            return False, (f"for {n} qubit(s) ({2 ** n} amplitudes) the answer has shape {got.shape}; "
                           f"there should be one probability per amplitude, shape {want.shape}.")
        if np.iscomplexobj(got) and np.abs(got.imag).max() > 1e-9:
            return False, ("the probabilities are complex: `amps ** 2` squares the complex number; "
                           "the Born rule uses the squared magnitude |a|^2 = a * conj(a).")
        got = got.real.astype(float)
        if np.allclose(got, np.abs(amps), atol=1e-6):
            return False, "these are the magnitudes |a|; the Born rule squares them: |a|^2."
        if not np.isclose(got.sum(), 1.0, atol=1e-6):
            return False, f"the probabilities sum to {got.sum():.4f}, not 1."
        if not np.allclose(got, want, atol=1e-6):
            return False, f"for amplitudes {np.round(amps, 3)} expected {np.round(want, 4)}, got {np.round(got, 4)}."
    return True, "probabilities are the squared magnitudes of the amplitudes, and they sum to 1."


@checker("primer-batched-expval", "batched_expval(angles)")
def _batched_expval(batched_expval) -> tuple[bool, str]:
    """``batched_expval(angles)`` returns <Z> after RX(angle) on |0>, for a batch, in one call."""
    angles = torch.linspace(0, 2 * math.pi, 64, dtype=torch.float64)
    calls = 0
    original = qml.QNode.__call__

    def counting_call(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    qml.QNode.__call__ = counting_call
    try:
        got = _as_array(batched_expval(angles)).astype(float)
    finally:
        qml.QNode.__call__ = original
    want = np.cos(angles.numpy())
    if got.shape != want.shape:
        return False, f"for 64 angles expected 64 values, shape (64,), got shape {got.shape}."
    if np.allclose(got, np.sin(angles.numpy()), atol=1e-6):
        return False, "the values are sin(angle): <Z> after RX(angle) on |0> is cos(angle). Measure PauliZ."
    if not np.allclose(got, want, atol=1e-6):
        return False, "the values differ from <Z> = cos(angle); check the gate (RX) and the measurement (PauliZ)."
    if calls == 0:
        return False, "the values are right, but no QNode ran: build the circuit with PennyLane."
    if calls > 1:
        return False, (f"the values are right, but the circuit ran {calls} times; pass the whole "
                       "batch of angles in one call and let parameter broadcasting do the rest.")
    return True, "one circuit call evaluated all 64 angles (parameter broadcasting)."


# --- Appendix: performance ----------------------------------------------------------------

@checker("performance-kron-layer", "layer_matrix(a, b)")
def _kron_layer(layer_matrix) -> tuple[bool, str]:
    """``layer_matrix(a, b)``: the 4x4 matrix of RX(a) on wire 0 and RZ(b) on wire 1."""
    for a, b in ((0.3, 1.1), (2.0, -0.7)):
        got = _as_array(layer_matrix(a, b))
        rx, rz = qml.RX.compute_matrix(a), qml.RZ.compute_matrix(b)
        want = np.kron(rx, rz)
        if got.shape != (4, 4):
            hint = " (a matrix product rx @ rz stays 2x2; the Kronecker product is 4x4)" \
                if got.shape == (2, 2) else ""
            return False, f"expected a 4x4 matrix for two qubits, got shape {got.shape}{hint}."
        if np.allclose(got, np.kron(rz, rx)):
            return False, ("the factors are swapped: wire 0 is the most significant bit, so its "
                           "matrix comes first, np.kron(RX(a), RZ(b)).")
        if not np.allclose(got, want):
            return False, f"for a={a}, b={b} the matrix differs from RX(a) kron RZ(b)."
    return True, "a layer of gates on different wires is the Kronecker product of their matrices."


@checker("performance-cnot-permutation")
def _cnot_permutation(cnot_perm) -> tuple[bool, str]:
    """``cnot_perm[b]``: the basis state that |b> becomes under CNOT(wires=[0, 1])."""
    if cnot_perm is None:
        raise NotImplementedError
    try:
        perm = [int(v) for v in cnot_perm]
    except (TypeError, ValueError):
        return False, f"expected a list of four integers, got {cnot_perm!r}."
    if len(perm) != 4 or sorted(perm) != [0, 1, 2, 3]:
        return False, f"{perm} is not a rearrangement of 0, 1, 2, 3: each basis state goes to exactly one."
    if perm == [0, 3, 2, 1]:
        return False, ("that flips wire 0 when wire 1 is set; here wire 0 (the bit worth 2) is the "
                       "control and wire 1 the target.")
    if perm != [0, 1, 3, 2]:
        return False, "check which states have the control (wire 0, value 2) set: only those change."
    return True, "|10> and |11> swap, the rest stay: a CNOT only relabels basis states."


# --- Part I, chapter 1: soft labels and calibration --------------------------------------

def _labels_case():
    return torch.tensor([0, 3, 1, 3, 2]), 4


@checker("soft-labels-smoothing", "smooth(labels, n_classes, epsilon)")
def _smoothing(smooth) -> tuple[bool, str]:
    """``smooth(labels, n_classes, epsilon)``: (1 - eps) one_hot + eps / K."""
    labels, k = _labels_case()
    for eps in (0.1, 0.3):
        got = torch.as_tensor(_as_array(smooth(labels, k, eps)), dtype=torch.float64)
        one = torch.nn.functional.one_hot(labels, k).double()
        want = (1 - eps) * one + eps / k
        if got.shape != want.shape:
            return False, f"expected shape {tuple(want.shape)} (one row per label, one column per class), got {tuple(got.shape)}."
        if torch.allclose(got, (1 - eps) * one + eps / (k - 1) * (1 - one)):
            return False, "you spread epsilon over the K - 1 wrong classes; uniform smoothing adds eps / K to every class, the true one included."
        if torch.allclose(got, one + eps / k):
            return False, "the rows sum to more than 1: scale the one-hot part by (1 - epsilon)."
        if not torch.allclose(got, want, atol=1e-6):
            return False, f"for epsilon={eps} the first row should be {want[0].tolist()}, got {got[0].tolist()}."
    return True, "each row keeps 1 - eps + eps/K on its class and eps/K elsewhere."


@checker("soft-labels-cross-entropy", "soft_ce(logits, targets)")
def _soft_ce(soft_ce) -> tuple[bool, str]:
    """``soft_ce(logits, targets)``: mean over rows of -sum targets * log_softmax(logits)."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64)
    targets = torch.softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), 1)
    got = float(torch.as_tensor(soft_ce(logits, targets)))
    per_row = -(targets * torch.log_softmax(logits, 1)).sum(1)
    if abs(got + per_row.mean().item()) < 1e-6:
        return False, "the sign is flipped: cross-entropy is minus the expected log-probability."
    if abs(got - per_row.sum().item()) < 1e-6:
        return False, "that is the sum over the batch; take the mean so the loss does not grow with the batch size."
    if abs(got - (-(targets * torch.softmax(logits, 1)).sum(1).mean().item())) < 1e-6:
        return False, "use log_softmax, not softmax: the loss is -sum t * log p."
    if abs(got - per_row.mean().item()) > 1e-6:
        return False, f"expected {per_row.mean().item():.4f}, got {got:.4f}."
    return True, "soft-target cross-entropy: -sum_k t_k log p_k, averaged over the batch."


@checker("soft-labels-ece", "ece(confidence, correct, n_bins)")
def _ece(ece) -> tuple[bool, str]:
    """``ece(confidence, correct, n_bins=15)`` from 1-D confidences and 0/1 correctness."""
    g = torch.Generator().manual_seed(5)
    confidence = 0.3 + 0.7 * torch.rand(300, generator=g, dtype=torch.float64)
    # underconfident below 0.6, overconfident above: signed bin errors would cancel
    p_right = torch.where(confidence < 0.6, confidence + 0.3, confidence - 0.3)
    correct = (torch.rand(300, generator=g, dtype=torch.float64) < p_right).double()
    edges = torch.linspace(0, 1, 16, dtype=torch.float64)
    which = torch.bucketize(confidence, edges[1:-1], right=True)
    counts = torch.bincount(which, minlength=15).double()
    keep = counts > 0
    acc = torch.bincount(which, correct, minlength=15)[keep] / counts[keep]
    conf = torch.bincount(which, confidence, minlength=15)[keep] / counts[keep]
    want = (counts[keep] / 300 * (acc - conf).abs()).sum().item()
    got = float(torch.as_tensor(ece(confidence, correct, 15)))
    if abs(got - (acc - conf).abs().mean().item()) < 1e-6:
        return False, "each bin must count in proportion to how many samples it holds; weight by n_bin / N."
    if abs(got - abs((counts[keep] / 300 * (acc - conf)).sum().item())) < 1e-6:
        return False, "take |accuracy - confidence| inside each bin before summing, so errors of opposite sign do not cancel."
    if abs(got - want) > 1e-6:
        return False, f"expected {want:.4f}, got {got:.4f}; bins are (0, 1/15], (1/15, 2/15], ..."
    return True, "ECE is the bin-size-weighted mean gap between accuracy and confidence."


# --- Part I, chapter 2: a VQC that refines labels -----------------------------------------

@checker("vqc-outcome-class", "class_of_outcome(bits, n_classes)")
def _outcome_class(class_of_outcome) -> tuple[bool, str]:
    """``class_of_outcome(bits, n_classes)``: the bit string read as an integer, mod K."""
    cases = [("00001010", 10), ("11111111", 10), ("0110", 3), ("00000001", 10)]
    for bits, k in cases:
        got = int(class_of_outcome(bits, k))
        if got == int(bits[::-1], 2) % k and got != int(bits, 2) % k:
            return False, "the bits are read in reverse: wire 0 is the leftmost, most significant bit."
        if got == int(bits, 2) and int(bits, 2) >= k:
            return False, f"{bits} is {int(bits, 2)}, which is not a class of {k}: take it modulo K."
        if got != int(bits, 2) % k:
            return False, f"outcome {bits} with K={k} should map to {int(bits, 2) % k}, got {got}."
    return True, "outcome b (read as an integer) counts for class b mod K."


@checker("vqc-temperature", "sharpen(probs, temperature)")
def _temperature(sharpen) -> tuple[bool, str]:
    """``sharpen(probs, temperature)``: p**(1/T) renormalised, row-wise."""
    p = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], dtype=torch.float64)
    for t in (0.5, 2.0):
        got = torch.as_tensor(_as_array(sharpen(p, t)), dtype=torch.float64)
        want = p ** (1 / t) / (p ** (1 / t)).sum(1, keepdim=True)
        if got.shape != p.shape:
            return False, f"expected shape {tuple(p.shape)}, got {tuple(got.shape)}."
        if torch.allclose(got, p ** (1 / t)):
            return False, "renormalise each row so it sums to 1."
        if torch.allclose(got, p ** t / (p ** t).sum(1, keepdim=True)):
            return False, "the exponent is 1/T, not T: a low temperature must sharpen."
        if not torch.allclose(got, want, atol=1e-6):
            return False, f"for T={t} the first row should be {want[0].numpy().round(4).tolist()}."
    return True, "T < 1 sharpens towards the top class, T > 1 flattens towards uniform."


@checker("vqc-refine", "refine(q, labels, temperature, mix)")
def _refine(refine) -> tuple[bool, str]:
    """``refine(q, labels, temperature, mix)``: (1 - mix) one_hot + mix sharpen(q, T)."""
    q = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]], dtype=torch.float64)
    labels = torch.tensor([1, 2])
    one = torch.nn.functional.one_hot(labels, 3).double()
    sharp = q ** 2 / (q ** 2).sum(1, keepdim=True)
    got = torch.as_tensor(_as_array(refine(q, labels, 0.5, 0.3)), dtype=torch.float64)
    if torch.allclose(got, 0.3 * one + 0.7 * sharp):
        return False, "the weights are swapped: mix is the share of the circuit's probabilities, 1 - mix stays on the one-hot label."
    if torch.allclose(got, 0.7 * one + 0.3 * q):
        return False, "apply the temperature to the circuit's probabilities before mixing."
    if not torch.allclose(got, 0.7 * one + 0.3 * sharp, atol=1e-6):
        return False, "expected (1 - mix) * one_hot + mix * sharpen(q, T)."
    return True, "mix = 0 gives one-hot labels back; mix = 1 uses the tempered circuit alone."


# --- Part I, chapter 3: training a CNN on quantum-refined labels ---------------------------

@checker("robustness-relative-gain", "relative_gain(acc_method, acc_baseline)")
def _relative_gain(relative_gain) -> tuple[bool, str]:
    """``relative_gain(acc_method, acc_baseline)``: (method - baseline) / baseline."""
    got = float(relative_gain(0.6, 0.4))
    if abs(got - 0.2) < 1e-9:
        return False, "that is the absolute difference in accuracy; a relative gain divides it by the baseline."
    if abs(got - (0.2 / 0.6)) < 1e-9:
        return False, "divide by the baseline's accuracy (one-hot), not the method's."
    if abs(got - 0.5) > 1e-9 or abs(float(relative_gain(0.3, 0.4)) + 0.25) > 1e-9:
        return False, "expected (0.6 - 0.4) / 0.4 = 0.5 and (0.3 - 0.4) / 0.4 = -0.25."
    return True, "0.6 against 0.4 is a 50% relative gain: the paper's 'up to 50% higher accuracy' is of this kind."


@checker("robustness-gaussian-noise", "add_noise(images, sigma, generator)")
def _gaussian(add_noise) -> tuple[bool, str]:
    """``add_noise(images, sigma, generator)``: images + N(0, sigma^2), clipped to [0, 1]."""
    images = torch.full((200, 1, 28, 28), 0.5)
    before = images.clone()
    out = torch.as_tensor(add_noise(images, 0.1, torch.Generator().manual_seed(0)))
    if not torch.equal(images, before):
        return False, "your function changed its input in place; return a new tensor and leave the test images intact."
    if out.shape != images.shape:
        return False, f"expected shape {tuple(images.shape)}, got {tuple(out.shape)}."
    std = (out - images).std().item()
    if abs(std - 0.01) < 0.003:
        return False, "the noise has standard deviation sigma**2: sigma is the standard deviation, pass it to randn as a scale."
    if abs(std - 0.1) > 0.01:
        return False, f"with sigma = 0.1 the pixel noise should have standard deviation 0.1, got {std:.3f}."
    strong = torch.as_tensor(add_noise(images, 1.0, torch.Generator().manual_seed(0)))
    if strong.min() < 0 or strong.max() > 1:
        return False, "pixels left [0, 1]; clip the result back into the valid pixel range."
    return True, "noise of the requested strength, clipped to the pixel range, input untouched."


@checker("robustness-lowest-ece", "lowest_ece(runs)")
def _lowest_ece(lowest_ece) -> tuple[bool, str]:
    """``lowest_ece(runs)``: the method whose ECE, averaged over seeds, is lowest."""
    runs = [{"method": "a", "seed": 0, "ece": 0.01}, {"method": "a", "seed": 1, "ece": 0.30},
            {"method": "b", "seed": 0, "ece": 0.05}, {"method": "b", "seed": 1, "ece": 0.06},
            {"method": "c", "seed": 0, "ece": 0.20}, {"method": "c", "seed": 1, "ece": 0.40}]
    got = lowest_ece(runs)
    if got == "a":
        return False, "'a' has the single lowest run, but its mean over seeds is 0.155; average each method over seeds first."
    if got == "c":
        return False, "that is the highest ECE; lower ECE means better calibrated."
    if got != "b":
        return False, f"expected one of the method names, 'b' here; got {got!r}."
    return True, "compare methods by their mean over seeds, not by their best seed."


# --- Part II, chapter 1: attacking a quantum classifier ----------------------------------

def _attack_case():
    gen = torch.Generator().manual_seed(11)
    images = torch.rand(6, 1, 4, 4, generator=gen, dtype=torch.float64)
    images[0, 0, 0] = torch.tensor([0.0, 1.0, 0.995, 0.002], dtype=torch.float64)  # pixels at the edges
    gradient = torch.randn(6, 1, 4, 4, generator=gen, dtype=torch.float64)
    gradient[0, 0, 0] = torch.tensor([-1.0, 2.0, 3.0, -0.5], dtype=torch.float64)
    return images, gradient


@checker("attack-fgsm-step", "fgsm_step(images, gradient, epsilon)")
def _fgsm_step(fgsm_step) -> tuple[bool, str]:
    """``fgsm_step(images, gradient, epsilon)``: clip(images + epsilon * sign(gradient), 0, 1)."""
    images, gradient = _attack_case()
    before = images.clone()
    got = torch.as_tensor(fgsm_step(images, gradient, 0.03)).double()
    if not torch.equal(images, before):
        return False, "your function changed the clean images in place; return a new tensor."
    if got.shape != images.shape:
        return False, f"expected shape {tuple(images.shape)}, got {tuple(got.shape)}."
    if torch.allclose(got, images - 0.03 * gradient.sign(), atol=1e-9) or torch.allclose(
            got, (images - 0.03 * gradient.sign()).clamp(0, 1), atol=1e-9):
        return False, "the step goes down the loss; an attack climbs it: add epsilon * sign(gradient)."
    if torch.allclose(got, (images + 0.03 * gradient).clamp(0, 1), atol=1e-9):
        return False, "use the sign of the gradient: every pixel moves by exactly epsilon (an L-infinity step)."
    if torch.allclose(got, images + 0.03 * gradient.sign(), atol=1e-9):
        return False, "pixels left [0, 1] (see the first image's corner pixels); clip back to the valid range."
    want = (images + 0.03 * gradient.sign()).clamp(0, 1)
    if not torch.allclose(got, want, atol=1e-9):
        return False, "expected clip(images + epsilon * sign(gradient), 0, 1)."
    return True, "one step of size epsilon along the gradient's sign, kept in the pixel range."


@checker("attack-projection", "project(adversarial, images, epsilon)")
def _projection(project) -> tuple[bool, str]:
    """``project(adversarial, images, epsilon)``: into |x - images| <= epsilon, then [0, 1]."""
    images, gradient = _attack_case()
    far = images + 0.2 * gradient                        # some pixels far outside, some outside [0, 1]
    got = torch.as_tensor(project(far, images, 0.05)).double()
    if got.shape != images.shape:
        return False, f"expected shape {tuple(images.shape)}, got {tuple(got.shape)}."
    if (got - images).abs().max() > 0.05 + 1e-9:
        return False, (f"some pixels are {(got - images).abs().max():.3f} from the clean image; "
                       "the budget is 0.05: clamp to [images - epsilon, images + epsilon].")
    if got.min() < 0 or got.max() > 1:
        return False, "pixels left [0, 1]; after the epsilon-box, clip to the valid pixel range."
    want = torch.min(torch.max(far, images - 0.05), images + 0.05).clamp(0, 1)
    if torch.allclose(got, images, atol=1e-9):
        return False, "that returns the clean images: the projection keeps as much of the perturbation as the budget allows."
    if not torch.allclose(got, want, atol=1e-9):
        return False, "expected the nearest point in the box: min(max(x, images - eps), images + eps), clipped to [0, 1]."
    return True, "the nearest allowed image: inside the epsilon-box and the pixel range."


@checker("attack-success-rate", "success_rate(clean_pred, adv_pred, labels)")
def _success_rate(success_rate) -> tuple[bool, str]:
    """``success_rate(clean_pred, adv_pred, labels)``: changed predictions among the clean-correct."""
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    clean = torch.tensor([0, 1, 2, 3, 1, 1, 0, 0])     # 5 correct: indices 0, 1, 2, 3, 5
    adv = torch.tensor([0, 2, 1, 3, 2, 1, 0, 3])       # changes 1 and 2 among them
    got = float(success_rate(clean, adv, labels))
    if abs(got - 4 / 8) < 1e-6:
        return False, "divide by the correctly classified samples only (5 here), not by all 8."
    if abs(got - 3 / 5) < 1e-6:
        return False, "that is the share the attack leaves unchanged (1 - ASR); count the changed ones."
    if abs(got - 2 / 5) > 1e-6:
        return False, f"expected 2 changed predictions out of 5 correctly classified samples = 0.4, got {got:.3f}."
    return True, "2 of the 5 correctly classified samples change their prediction: ASR = 0.4."


# --- Part II, chapter 2: random quantum circuits as pseudo-noise ---------------------------

@checker("patches-extract", "to_patches(images)")
def _to_patches(to_patches) -> tuple[bool, str]:
    """``to_patches(images)``: (N, C, H, W) -> (N, C, H/2, W/2, 4), pixels in reading order."""
    images = torch.arange(2 * 3 * 4 * 6, dtype=torch.float64).reshape(2, 3, 4, 6)
    got = torch.as_tensor(to_patches(images))
    if tuple(got.shape) != (2, 3, 2, 3, 4):
        return False, f"expected shape (2, 3, 2, 3, 4) for images (2, 3, 4, 6), got {tuple(got.shape)}."
    first = got[0, 0, 0, 0].tolist()
    if first == [0, 1, 2, 3]:
        return False, ("patch (0, 0) holds pixels 0, 1, 2, 3 of the first row: a plain reshape takes 4 "
                       "pixels in a row; split H and W into (H/2, 2) and (W/2, 2) and permute before flattening.")
    if first == [0, 6, 1, 7]:
        return False, "the pixels are in column order; use reading order: top-left, top-right, bottom-left, bottom-right."
    want = images.reshape(2, 3, 2, 2, 3, 2).permute(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    if not torch.equal(got.double(), want):
        return False, f"patch (0, 0) should be [0, 1, 6, 7] and patch (1, 2) [16, 17, 22, 23]; got {first} and {got[0, 0, 1, 2].tolist()}."
    return True, "every 2x2 block, in reading order: wire i of the circuit gets pixel i."


@checker("patches-z-expectation", "z_expectations(probs)")
def _z_expectations(z_expectations) -> tuple[bool, str]:
    """``z_expectations(probs)``: outcome probabilities (B, 16) of 4 qubits -> <Z_i> (B, 4)."""
    gen = torch.Generator().manual_seed(5)
    probs = torch.rand(3, 16, generator=gen, dtype=torch.float64)
    probs = probs / probs.sum(dim=1, keepdim=True)
    bits = (torch.arange(16)[:, None] >> (3 - torch.arange(4))[None, :]) & 1   # wire 0 = leading bit
    want = probs @ (1 - 2 * bits).double()
    got = torch.as_tensor(z_expectations(probs)).double()
    if tuple(got.shape) != (3, 4):
        return False, f"expected one <Z> per wire, shape (3, 4), got {tuple(got.shape)}."
    if torch.allclose(got, want.flip(1), atol=1e-9):
        return False, "the wires are reversed: PennyLane reads wire 0 as the leading (most significant) bit."
    if torch.allclose(got, -want, atol=1e-9):
        return False, "the signs are flipped: <Z> = P(bit = 0) - P(bit = 1), since Z|0> = +|0>."
    if torch.allclose(got, probs @ bits.double(), atol=1e-9):
        return False, "that is P(bit i = 1); <Z_i> = P(bit = 0) - P(bit = 1) = 1 - 2 P(bit = 1)."
    if not torch.allclose(got, want, atol=1e-9):
        return False, "expected <Z_i> = sum over outcomes b of p(b) * (+1 if bit i of b is 0 else -1)."
    return True, "<Z_i> is a fixed signed sum of the 16 probabilities: one matrix product for all patches."


@checker("patches-minmax", "minmax(channels)")
def _minmax(minmax) -> tuple[bool, str]:
    """``minmax(channels)``: (N, K, h, w) -> each (image, channel) scaled to [0, 1] on its own."""
    gen = torch.Generator().manual_seed(9)
    channels = torch.rand(3, 4, 5, 5, generator=gen, dtype=torch.float64) * 2 - 1
    channels[1] *= 0.1                                     # a low-contrast image
    got = torch.as_tensor(minmax(channels)).double()
    if got.shape != channels.shape:
        return False, f"expected shape {tuple(channels.shape)}, got {tuple(got.shape)}."
    if torch.allclose(got, (channels - channels.min()) / (channels.max() - channels.min()), atol=1e-9):
        return False, "one minimum and maximum for the whole batch: scale each image's channel by its own (amin over dims 2, 3)."
    low = channels.amin(dim=(2, 3), keepdim=True)
    high = channels.amax(dim=(2, 3), keepdim=True)
    if torch.allclose(got, (channels + 1) / 2, atol=1e-9):
        return False, "that maps [-1, 1] to [0, 1]; min-max scaling uses the values' own minimum and maximum."
    if not torch.allclose(got, (channels - low) / (high - low), atol=1e-9):
        return False, "expected (x - min) / (max - min), with min and max taken per image and per channel."
    return True, "every channel of every image now spans exactly [0, 1]."


# --- Part II, chapter 3: defending with quantum patches -----------------------------------

@checker("defence-asr-reduction", "relative_reduction(asr_before, asr_after)")
def _asr_reduction(relative_reduction) -> tuple[bool, str]:
    """``relative_reduction(before, after)``: (before - after) / before."""
    got = float(relative_reduction(0.898, 0.6845))
    if abs(got - 0.2135) < 1e-6:
        return False, "that is the drop in percentage points; a relative reduction divides it by the starting ASR."
    if abs(got + 0.2135 / 0.898) < 1e-6:
        return False, "the sign is reversed: a lower ASR after the defence should give a positive reduction."
    if abs(got - 0.2135 / 0.6845) < 1e-6:
        return False, "divide by the ASR before the defence (0.898), not after."
    if abs(got - 0.2135 / 0.898) > 1e-6 or abs(float(relative_reduction(0.5, 0.6)) + 0.2) > 1e-9:
        return False, "expected (0.898 - 0.6845) / 0.898 = 0.238, and -0.2 when the ASR rises from 0.5 to 0.6."
    return True, "the paper's CIFAR-10 headline is a 24% relative (21 point) drop in attack success rate."


@checker("defence-most-robust", "most_robust(runs, budget_index)")
def _most_robust(most_robust) -> tuple[bool, str]:
    """``most_robust(runs, budget_index)``: the defence with the lowest PGD ASR, mean over seeds."""
    runs = [{"defence": "a", "seed": 0, "asr": {"PGD": [0.10, 0.20], "FGSM": [0.9, 0.0]}},
            {"defence": "a", "seed": 1, "asr": {"PGD": [0.30, 0.90], "FGSM": [0.9, 0.0]}},
            {"defence": "b", "seed": 0, "asr": {"PGD": [0.25, 0.50], "FGSM": [0.0, 0.9]}},
            {"defence": "b", "seed": 1, "asr": {"PGD": [0.25, 0.50], "FGSM": [0.0, 0.9]}}]
    got = (most_robust(runs, 0), most_robust(runs, 1))
    if got == ("b", "a"):
        return False, "those are the FGSM results; the question asks about PGD, runs[i]['asr']['PGD']."
    if got == ("a", "a"):
        return False, ("at budget 1, 'a' has the single lowest run (0.20) but its mean is 0.55 against "
                       "'b''s 0.50: average over seeds first, at the budget index you were given.")
    if got == ("b", "b"):
        return False, "at budget 0, 'a' has mean PGD ASR 0.20 against 'b''s 0.25: index the budget you were given."
    if got != ("a", "b"):
        return False, f"expected 'a' at budget 0 and 'b' at budget 1, got {got[0]!r} and {got[1]!r}."
    return True, "lowest mean PGD attack success rate at that budget; and check the spread before calling it a win."


@checker("defence-training-cost", "cost_ratios(runs)")
def _training_cost(cost_ratios) -> tuple[bool, str]:
    """``cost_ratios(runs)``: {defence: mean train_seconds / mean train_seconds of "none"}."""
    runs = [{"defence": "none", "train_seconds": 2.0}, {"defence": "none", "train_seconds": 4.0},
            {"defence": "PGD training", "train_seconds": 6.0}, {"defence": "PGD training", "train_seconds": 12.0},
            {"defence": "quantum patches", "train_seconds": 3.0}, {"defence": "quantum patches", "train_seconds": 3.0}]
    got = cost_ratios(runs)
    if not isinstance(got, dict) or set(got) != {"none", "PGD training", "quantum patches"}:
        return False, "return a dict with one entry per defence, including 'none' (ratio 1)."
    got = {k: float(v) for k, v in got.items()}
    if abs(got["PGD training"] - 9.0) < 1e-9:
        return False, "those are mean seconds; divide by the undefended mean (3 s) to get a ratio."
    if abs(got["PGD training"] - 2.0) < 1e-9:
        return False, "that is the extra time (ratio - 1); give the ratio itself, 1.0 for as fast as undefended."
    if abs(got["PGD training"] - 4.5) < 1e-9:
        return False, "divide by the mean of all undefended runs (3 s), not by one of them."
    want = {"none": 1.0, "PGD training": 3.0, "quantum patches": 1.0}
    if any(abs(got[k] - v) > 1e-9 for k, v in want.items()):
        return False, f"expected mean seconds divided by the undefended mean: {want}, got {got}."
    return True, "PGD training pays for its attack steps in every batch; the ratio is what a defence costs."


# --- Part III, chapter 1: label-flip poisoning ---------------------------------------------

@checker("poisoning-balanced-flips", "flip_balanced(labels, alpha, generator)")
def _balanced_flips(flip_balanced) -> tuple[bool, str]:
    """``flip_balanced(labels, alpha, generator)``: flip round(alpha * n_c) binary labels per class."""
    labels = torch.tensor([0] * 30 + [1] * 70)
    before = labels.clone()
    got = torch.as_tensor(flip_balanced(labels, 0.2, torch.Generator().manual_seed(0)))
    if not torch.equal(labels, before):
        return False, "your function changed the labels in place; return a new tensor."
    if got.shape != labels.shape:
        return False, f"expected shape {tuple(labels.shape)}, got {tuple(got.shape)}."
    if not ((got == 0) | (got == 1)).all():
        return False, "binary labels must stay 0 or 1: a flip is 1 - label."
    per_class = [int((got[labels == c] != c).sum()) for c in (0, 1)]
    if sum(per_class) == 20 and per_class != [6, 14]:
        return False, (f"20 flips in all, but {per_class[0]} of 30 zeros and {per_class[1]} of 70 ones: "
                       "choose round(alpha * n_c) samples within each class.")
    if per_class != [6, 14]:
        return False, f"expected 6 zeros and 14 ones flipped (alpha = 0.2), got {per_class[0]} and {per_class[1]}."
    if torch.equal(got, torch.as_tensor(flip_balanced(labels, 0.2, torch.Generator().manual_seed(1)))):
        return False, "the same samples flip for every generator: pick them at random with torch.randperm(..., generator=generator)."
    return True, "exactly alpha of every class, chosen at random: the class balance of the poison is controlled."


@checker("poisoning-memorisation", "memorisation(predictions, poisoned, flipped)")
def _memorisation(memorisation) -> tuple[bool, str]:
    """``memorisation(predictions, poisoned, flipped)``: share of flipped samples predicted as poisoned."""
    poisoned = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
    flipped = torch.tensor([True, True, True, False, False, False, False, False])
    predictions = torch.tensor([1, 1, 1, 1, 0, 1, 1, 0])    # agrees with 2 of the 3 flipped labels
    got = float(memorisation(predictions, poisoned, flipped))
    if abs(got - 6 / 8) < 1e-6:
        return False, "that is accuracy on all training labels; memorisation looks only at the flipped samples."
    if abs(got - 1 / 3) < 1e-6:
        return False, "that is the share of flipped samples predicted with their true label; memorisation counts agreement with the flipped one."
    if abs(got - 2 / 3) > 1e-6:
        return False, f"expected 2 of the 3 flipped samples predicted with their flipped label = 0.667, got {got:.3f}."
    return True, "memorisation is how much of the poison the model reproduces on its own training set."


@checker("poisoning-steepest-drop", "steepest_drop(alphas, accuracy)")
def _steepest_drop(steepest_drop) -> tuple[bool, str]:
    """``steepest_drop(alphas, accuracy)``: midpoint of the consecutive pair with the largest fall."""
    alphas = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    accuracy = np.array([0.99, 0.98, 0.95, 0.70, 0.60, 0.20])
    got = float(steepest_drop(alphas, accuracy))
    if abs(got - 0.5) < 1e-9:
        return False, "that is where accuracy is lowest; the critical alpha is where it falls fastest."
    if abs(got - 0.4) < 1e-9:
        return False, "return the midpoint of the pair of alphas across the drop, not one end of it."
    if abs(got - 0.05) < 1e-9:
        return False, "that is the smallest drop (or a rise); take the largest fall, -diff."
    if abs(got - 0.45) > 1e-9:
        return False, f"the largest fall is 0.60 -> 0.20 between alpha 0.4 and 0.5, so expected 0.45, got {got}."
    if abs(float(steepest_drop(alphas, np.array([1.0, 0.5, 0.45, 0.44, 0.43, 0.42]))) - 0.05) > 1e-9:
        return False, "on a curve that drops first between 0.0 and 0.1 the answer is 0.05."
    return True, "the steepest fall of the mean curve, between the two alphas that bracket it."


# --- Part III, chapter 2: quantum machine unlearning ---------------------------------------

@checker("unlearning-bernoulli-kl", "bernoulli_kl(p, q)")
def _bernoulli_kl(bernoulli_kl) -> tuple[bool, str]:
    """``bernoulli_kl(p, q)``: mean over samples of KL(Bernoulli(p) || Bernoulli(q))."""
    p = torch.tensor([0.9, 0.2, 0.5], dtype=torch.float64)
    q = torch.tensor([0.6, 0.3, 0.5], dtype=torch.float64)
    want = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).mean().item()
    got = float(bernoulli_kl(p, q))
    if abs(got - (q * (q / p).log() + (1 - q) * ((1 - q) / (1 - p)).log()).mean().item()) < 1e-9:
        return False, "that is KL(q || p): KL is not symmetric; the expectation is over p, the original model."
    if abs(got - (p * (p / q).log()).mean().item()) < 1e-9:
        return False, "only the y = 1 term: a Bernoulli KL also has (1 - p) log((1 - p) / (1 - q))."
    if abs(got - want * 3) < 1e-9:
        return False, "take the mean over samples, not the sum."
    if abs(got - want) > 1e-9:
        return False, f"expected {want:.5f} for p = {p.tolist()}, q = {q.tolist()}, got {got:.5f}."
    if abs(float(bernoulli_kl(q, q))) > 1e-12:
        return False, "KL of a distribution with itself must be 0."
    return True, "zero when the outputs agree, growing as the unlearned model moves away on the forget set."


@checker("unlearning-epochs-to-target", "epochs_to_reach(history, target)")
def _epochs_to_reach(epochs_to_reach) -> tuple[bool, str]:
    """``epochs_to_reach(history, target)``: first epoch with val >= target, None if never."""
    history = [{"epoch": 0, "val": 0.70}, {"epoch": 1, "val": 0.90}, {"epoch": 2, "val": 0.85},
               {"epoch": 3, "val": 0.95}, {"epoch": 4, "val": 0.97}]
    got = epochs_to_reach(history, 0.9)
    if got == 3:
        return False, "0.90 at epoch 1 already reaches a target of 0.9: use >=, not >."
    if got == 4:
        return False, "that is the best epoch; the cost is the first epoch that reaches the target."
    if got != 1:
        return False, f"expected epoch 1 for target 0.9, got {got!r}."
    never = epochs_to_reach(history, 0.99)
    if never is not None:
        return False, f"no epoch reaches 0.99, so return None; got {never!r}."
    if epochs_to_reach(history, 0.5) != 0:
        return False, "a model that already meets the target costs 0 epochs."
    return True, "the first epoch at the target; None says the method never got there."


@checker("unlearning-membership-rate", "membership_rate(member_losses, query_losses)")
def _membership_rate(membership_rate) -> tuple[bool, str]:
    """``membership_rate(member_losses, query_losses)``: share of queries with loss <= mean member loss."""
    members = np.array([0.1, 0.2, 0.3, 1.4])         # mean 0.5, median 0.25
    queries = np.array([0.05, 0.4, 0.5, 0.9, 2.0])
    got = float(membership_rate(members, queries))
    if abs(got - 0.2) < 1e-9:
        return False, "that uses the median member loss (0.25); the threshold here is the mean (0.5)."
    if abs(got - 0.4) < 1e-9:
        return False, "a loss equal to the threshold counts as a member: use <=."
    if abs(got - 0.6) > 1e-9:
        return False, f"expected 3 of 5 queries at or below the mean member loss 0.5 = 0.6, got {got:.3f}."
    return True, "low loss looks like training data: the attacker needs nothing but the model's losses."


# --- Grading -------------------------------------------------------------------------------

_CHECK_CALL = re.compile(r"""^\s*check\(\s*["']([^"']+)["']""")


def grade_notebook(path: str | Path, timeout: int = 600, kernel_name: str = "python3") -> dict:
    """Run a learner's notebook top to bottom and collect what every ``check(...)`` cell said.

    Returns ``{"exercises": {exercise: passed}, "error": message or None}``. A notebook that
    fails part-way keeps the results of the checks before the failure; checks after it are
    missing from ``exercises``. The notebook file is not changed.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a notebook file")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent)}})
    error = None
    try:
        client.execute()
    except CellExecutionError as err:
        lines = [line for line in str(err).splitlines() if line.strip()]
        error = lines[-1] if lines else type(err).__name__
    results: dict[str, bool] = {}
    for cell in nb.cells:
        match = _CHECK_CALL.match(cell.source) if cell.cell_type == "code" else None
        if not match:
            continue
        texts = [out.get("data", {}).get("text/plain", "") for out in cell.get("outputs", [])
                 if out.get("output_type") == "execute_result"]
        if texts:
            results[match.group(1)] = texts[-1].startswith(f"[{match.group(1)}] Correct")
    return {"exercises": results, "error": error}
