"""qrobust_lite.exercises: reference answers pass; typical wrong answers fail with a useful hint."""

import numpy as np
import pennylane as qml
import pytest
import torch

from qrobust_lite.exercises import CHECKERS, Feedback, check


def born_rule_reference(amplitudes):
    return np.abs(amplitudes) ** 2


@qml.qnode(qml.device("default.qubit", wires=1))
def rx_z(angle):
    qml.RX(angle, wires=0)
    return qml.expval(qml.PauliZ(0))


@qml.qnode(qml.device("default.qubit", wires=1))
def rx_x(angle):
    qml.RX(angle, wires=0)
    return qml.expval(qml.PauliY(0))


@pytest.mark.parametrize(
    "exercise,answer",
    [
        ("primer-born-rule", born_rule_reference),
        ("primer-batched-expval", rx_z),
        ("performance-kron-layer", lambda a, b: np.kron(qml.RX.compute_matrix(a), qml.RZ.compute_matrix(b))),
        ("performance-cnot-permutation", [0, 1, 3, 2]),
    ],
)
def test_reference_answers_pass(exercise, answer):
    result = check(exercise, answer)
    assert isinstance(result, Feedback) and result.passed, result.message


@pytest.mark.parametrize(
    "exercise,answer,hint",
    [
        ("primer-born-rule", lambda a: np.abs(a), "magnitudes |a|; the Born rule squares them"),
        ("primer-born-rule", lambda a: a**2, "probabilities are complex"),
        ("primer-born-rule", lambda a: np.abs(a[:1]) ** 2, "one probability per amplitude"),
        ("primer-born-rule", lambda a: 2 * np.abs(a) ** 2, "sum to 2.0000"),
        ("primer-born-rule", lambda a: 1 / 0, "ZeroDivisionError"),
        ("primer-born-rule", "0.5", "expected a function born_rule(amplitudes), got str"),
        ("vqc-refine", None, "expected a function refine(q, labels, temperature, mix), got NoneType"),
        ("primer-batched-expval", lambda angles: torch.stack([rx_z(a) for a in angles]), "ran 64 times"),
        ("primer-batched-expval", lambda angles: torch.sin(angles), "sin(angle)"),
        ("primer-batched-expval", lambda angles: torch.cos(angles), "no QNode ran"),
        ("primer-batched-expval", rx_x, "differ from <Z> = cos(angle)"),
        ("primer-batched-expval", lambda angles: rx_z(angles[0]), "expected 64 values"),
        (
            "performance-kron-layer",
            lambda a, b: np.kron(qml.RZ.compute_matrix(b), qml.RX.compute_matrix(a)),
            "factors are swapped",
        ),
        ("performance-kron-layer", lambda a, b: qml.RX.compute_matrix(a) @ qml.RZ.compute_matrix(b), "stays 2x2"),
        ("performance-kron-layer", lambda a, b: np.eye(4), "differs from RX(a) kron RZ(b)"),
        ("performance-cnot-permutation", [0, 3, 2, 1], "wire 0 (the bit worth 2) is the control"),
        ("performance-cnot-permutation", [0, 0, 3, 2], "not a rearrangement"),
        ("performance-cnot-permutation", [1, 0, 2, 3], "only those change"),
        ("performance-cnot-permutation", "0132x", "expected a list of four integers"),
    ],
)
def test_typical_wrong_answers_fail_with_a_hint(exercise, answer, hint):
    result = check(exercise, answer)
    assert not result.passed
    assert hint in result.message


def test_not_attempted_and_unknown_exercise():
    def stub(amplitudes):
        raise NotImplementedError

    assert "not attempted yet" in check("primer-born-rule", stub).message
    with pytest.raises(ValueError, match="exercise must be one of"):
        check("primer-nothing", stub)


def test_the_counting_patch_is_always_removed():
    original = qml.QNode.__call__
    check("primer-batched-expval", lambda angles: 1 / 0)
    assert qml.QNode.__call__ is original


def test_feedback_renders_for_notebooks():
    result = check("primer-born-rule", born_rule_reference)
    assert result._repr_markdown_().startswith("✅")
    assert str(result).startswith("[primer-born-rule] Correct")
    assert set(CHECKERS) >= {
        "primer-born-rule",
        "primer-batched-expval",
        "performance-kron-layer",
        "performance-cnot-permutation",
    }
    assert "not attempted yet" in check("performance-cnot-permutation", None).message


# --- Part I --------------------------------------------------------------------------------


def ref_smooth(labels, k, eps):
    return (1 - eps) * torch.nn.functional.one_hot(labels, k).double() + eps / k


def ref_soft_ce(logits, targets):
    return -(targets * torch.log_softmax(logits, 1)).sum(1).mean()


def ref_ece(confidence, correct, n_bins=15, signed=False):
    """Binned ECE; ``signed=True`` is the typical mistake of summing signed bin gaps."""
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            gap = correct[inside].mean() - confidence[inside].mean()
            total += inside.double().mean() * (gap if signed else gap.abs())
    return abs(float(total))


def ref_sharpen(p, t):
    return p ** (1 / t) / (p ** (1 / t)).sum(1, keepdim=True)


def ref_noise(images, sigma, generator):
    return (images + sigma * torch.randn(images.shape, generator=generator)).clamp(0, 1)


def ref_lowest(runs):
    methods = {r["method"] for r in runs}
    return min(methods, key=lambda m: np.mean([r["ece"] for r in runs if r["method"] == m]))


PART_ONE_REFERENCES = {
    "soft-labels-smoothing": ref_smooth,
    "soft-labels-cross-entropy": ref_soft_ce,
    "soft-labels-ece": ref_ece,
    "vqc-outcome-class": lambda bits, k: int(bits, 2) % k,
    "vqc-temperature": ref_sharpen,
    "vqc-refine": lambda q, y, t, mix: (1 - mix) * torch.nn.functional.one_hot(y, q.shape[1]) + mix * ref_sharpen(q, t),
    "robustness-relative-gain": lambda m, b: (m - b) / b,
    "robustness-gaussian-noise": ref_noise,
    "robustness-lowest-ece": ref_lowest,
}


@pytest.mark.parametrize("exercise", PART_ONE_REFERENCES)
def test_part_one_reference_answers_pass(exercise):
    result = check(exercise, PART_ONE_REFERENCES[exercise])
    assert result.passed, result.message


def _add_noise_in_place(images, sigma, generator):
    images += sigma * torch.randn(images.shape, generator=generator)
    return images


@pytest.mark.parametrize(
    "exercise,answer,hint",
    [
        (
            "soft-labels-smoothing",
            lambda y, k, e: (
                (1 - e) * torch.nn.functional.one_hot(y, k) + e / (k - 1) * (1 - torch.nn.functional.one_hot(y, k))
            ),
            "K - 1 wrong classes",
        ),
        ("soft-labels-smoothing", lambda y, k, e: torch.nn.functional.one_hot(y, k) + e / k, "sum to more than 1"),
        ("soft-labels-cross-entropy", lambda lg, t: (t * torch.log_softmax(lg, 1)).sum(1).mean(), "sign is flipped"),
        ("soft-labels-cross-entropy", lambda lg, t: -(t * torch.log_softmax(lg, 1)).sum(), "sum over the batch"),
        ("soft-labels-cross-entropy", lambda lg, t: -(t * torch.softmax(lg, 1)).sum(1).mean(), "use log_softmax"),
        ("soft-labels-ece", lambda c, k, n: 0.5, "expected"),
        ("soft-labels-ece", lambda c, k, n: ref_ece(c, k, n, signed=True), "errors of opposite sign do not cancel"),
        ("vqc-outcome-class", lambda bits, k: int(bits[::-1], 2) % k, "read in reverse"),
        ("vqc-outcome-class", lambda bits, k: int(bits, 2), "take it modulo K"),
        ("vqc-temperature", lambda p, t: p**t / (p**t).sum(1, keepdim=True), "exponent is 1/T"),
        ("vqc-temperature", lambda p, t: p ** (1 / t), "renormalise"),
        (
            "vqc-refine",
            lambda q, y, t, mix: mix * torch.nn.functional.one_hot(y, 3) + (1 - mix) * ref_sharpen(q, t),
            "weights are swapped",
        ),
        (
            "vqc-refine",
            lambda q, y, t, mix: (1 - mix) * torch.nn.functional.one_hot(y, 3) + mix * q,
            "apply the temperature",
        ),
        ("robustness-relative-gain", lambda m, b: m - b, "absolute difference"),
        ("robustness-relative-gain", lambda m, b: (m - b) / m, "divide by the baseline"),
        ("robustness-gaussian-noise", lambda x, s, g: x + s * torch.randn(x.shape, generator=g), "clip the result"),
        (
            "robustness-gaussian-noise",
            lambda x, s, g: (x + s * s * torch.randn(x.shape, generator=g)).clamp(0, 1),
            "sigma**2",
        ),
        ("robustness-gaussian-noise", _add_noise_in_place, "in place"),
        ("robustness-lowest-ece", lambda runs: min(runs, key=lambda r: r["ece"])["method"], "average each method"),
        ("robustness-lowest-ece", lambda runs: "c", "highest ECE"),
    ],
)
def test_part_one_wrong_answers_get_a_hint(exercise, answer, hint):
    result = check(exercise, answer)
    assert not result.passed
    assert hint in result.message, result.message


def ref_most_robust(runs, budget):
    names = {r["defence"] for r in runs}
    return max(
        names, key=lambda d: np.mean([r["robust_accuracy"]["PGD-restart"][budget] for r in runs if r["defence"] == d])
    )


def ref_cost(runs):
    mean = {d: np.mean([r["train_seconds"] for r in runs if r["defence"] == d]) for d in {r["defence"] for r in runs}}
    return {d: mean[d] / mean["none"] for d in mean}


def ref_z(probs):
    bits = (torch.arange(16)[:, None] >> (3 - torch.arange(4))[None, :]) & 1
    return probs @ (1 - 2 * bits).to(probs.dtype)


def ref_minmax(ch):
    low, high = ch.amin(dim=(2, 3), keepdim=True), ch.amax(dim=(2, 3), keepdim=True)
    return (ch - low) / (high - low)


PART_TWO_REFERENCES = {
    "attack-fgsm-step": lambda x, g, e: (x + e * g.sign()).clamp(0, 1),
    "attack-projection": lambda a, x, e: torch.min(torch.max(a, x - e), x + e).clamp(0, 1),
    "attack-success-rate": lambda y, c, a: ((a != c) & (c == y)).sum() / (c == y).sum(),
    "patches-extract": lambda x: (
        x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3] // 2, 2)
        .permute(0, 1, 2, 4, 3, 5)
        .reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4)
    ),
    "patches-z-expectation": ref_z,
    "patches-minmax": ref_minmax,
    "defence-asr-reduction": lambda b, a: (b - a) / b,
    "defence-most-robust": ref_most_robust,
    "defence-training-cost": ref_cost,
}


@pytest.mark.parametrize("exercise", PART_TWO_REFERENCES)
def test_part_two_reference_answers_pass(exercise):
    result = check(exercise, PART_TWO_REFERENCES[exercise])
    assert result.passed, result.message


@pytest.mark.parametrize(
    "exercise,answer,hint",
    [
        ("attack-fgsm-step", lambda x, g, e: (x - e * g.sign()).clamp(0, 1), "climbs it"),
        ("attack-fgsm-step", lambda x, g, e: (x + e * g).clamp(0, 1), "sign of the gradient"),
        ("attack-fgsm-step", lambda x, g, e: x + e * g.sign(), "clip back"),
        ("attack-projection", lambda a, x, e: a.clamp(0, 1), "the budget is 0.05"),
        ("attack-projection", lambda a, x, e: torch.min(torch.max(a, x - e), x + e), "pixels left [0, 1]"),
        ("attack-success-rate", lambda y, c, a: (a != c).double().mean(), "not by all 8"),
        ("attack-success-rate", lambda y, c, a: ((a == c) & (c == y)).sum() / (c == y).sum(), "leaves unchanged"),
        ("patches-extract", lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4), "plain reshape"),
        (
            "patches-extract",
            lambda x: (
                x.reshape(*x.shape[:2], x.shape[2] // 2, 2, x.shape[3] // 2, 2)
                .permute(0, 1, 2, 4, 5, 3)
                .reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4)
            ),
            "column order",
        ),
        ("patches-z-expectation", lambda p: ref_z(p).flip(1), "wires are reversed"),
        ("patches-z-expectation", lambda p: -ref_z(p), "signs are flipped"),
        ("patches-z-expectation", lambda p: ref_z(p)[:, :2], "shape (3, 4)"),
        ("patches-minmax", lambda ch: (ch - ch.min()) / (ch.max() - ch.min()), "whole batch"),
        ("patches-minmax", lambda ch: (ch + 1) / 2, "maps [-1, 1] to [0, 1]"),
        ("defence-asr-reduction", lambda b, a: b - a, "percentage points"),
        ("defence-asr-reduction", lambda b, a: (a - b) / b, "sign is reversed"),
        ("defence-asr-reduction", lambda b, a: (b - a) / a, "before the defence"),
        (
            "defence-most-robust",
            lambda runs, i: ref_most_robust(
                [{**r, "robust_accuracy": {"PGD-restart": r["robust_accuracy"]["FGSM"]}} for r in runs], i
            ),
            "FGSM results",
        ),
        (
            "defence-most-robust",
            lambda runs, i: min(
                {r["defence"] for r in runs},
                key=lambda d: np.mean([r["robust_accuracy"]["PGD-restart"][i] for r in runs if r["defence"] == d]),
            ),
            "least robust",
        ),
        (
            "defence-most-robust",
            lambda runs, i: max(runs, key=lambda r: r["robust_accuracy"]["PGD-restart"][i])["defence"],
            "average over seeds",
        ),
        ("defence-most-robust", lambda runs, i: ref_most_robust(runs, 1), "index the budget"),
        ("defence-training-cost", lambda runs: {d: v - 1 for d, v in ref_cost(runs).items()}, "extra time"),
        (
            "defence-training-cost",
            lambda runs: {
                d: np.mean([r["train_seconds"] for r in runs if r["defence"] == d])
                for d in {r["defence"] for r in runs}
            },
            "mean seconds",
        ),
        (
            "defence-training-cost",
            lambda runs: {
                d: np.mean([r["train_seconds"] for r in runs if r["defence"] == d]) / runs[0]["train_seconds"]
                for d in {r["defence"] for r in runs}
            },
            "not by one of them",
        ),
    ],
)
def test_part_two_wrong_answers_get_a_hint(exercise, answer, hint):
    result = check(exercise, answer)
    assert not result.passed
    assert hint in result.message, result.message


def ref_flip(labels, alpha, generator):
    out = labels.clone()
    for c in (0, 1):
        idx = torch.nonzero(labels == c).flatten()
        pick = idx[torch.randperm(len(idx), generator=generator)[: round(alpha * len(idx))]]
        out[pick] = 1 - out[pick]
    return out


def ref_kl(p, q):
    return (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).mean()


def ref_reach(history, target):
    return next((h["epoch"] for h in history if h["val"] >= target), None)


PART_THREE_REFERENCES = {
    "poisoning-balanced-flips": ref_flip,
    "poisoning-memorisation": lambda pred, poisoned, flipped: (pred[flipped] == poisoned[flipped]).double().mean(),
    "poisoning-steepest-drop": lambda a, acc: (a[np.argmax(-np.diff(acc))] + a[np.argmax(-np.diff(acc)) + 1]) / 2,
    "unlearning-bernoulli-kl": ref_kl,
    "unlearning-epochs-to-target": ref_reach,
    "unlearning-membership-rate": lambda m, q: np.mean(q <= m.mean()),
}


@pytest.mark.parametrize("exercise", PART_THREE_REFERENCES)
def test_part_three_reference_answers_pass(exercise):
    result = check(exercise, PART_THREE_REFERENCES[exercise])
    assert result.passed, result.message


def _flip_overall(labels, alpha, generator):
    out = labels.clone()
    pick = torch.arange(round(alpha * len(labels)))  # the first 20 samples: all zeros
    out[pick] = 1 - out[pick]
    return out


@pytest.mark.parametrize(
    "exercise,answer,hint",
    [
        ("poisoning-balanced-flips", _flip_overall, "within each class"),
        (
            "poisoning-balanced-flips",
            lambda y, a, g: ref_flip(y, a, torch.Generator().manual_seed(0)),
            "same samples flip",
        ),
        ("poisoning-balanced-flips", lambda y, a, g: y + 1, "stay 0 or 1"),
        ("poisoning-memorisation", lambda p, y, f: (p == y).double().mean(), "accuracy on all training labels"),
        ("poisoning-memorisation", lambda p, y, f: (p[f] == 1 - y[f]).double().mean(), "true label"),
        ("poisoning-steepest-drop", lambda a, acc: a[np.argmin(acc)], "lowest"),
        ("poisoning-steepest-drop", lambda a, acc: a[np.argmax(-np.diff(acc))], "midpoint"),
        ("unlearning-bernoulli-kl", lambda p, q: ref_kl(q, p), "not symmetric"),
        ("unlearning-bernoulli-kl", lambda p, q: (p * (p / q).log()).mean(), "(1 - p) log"),
        ("unlearning-bernoulli-kl", lambda p, q: 3 * ref_kl(p, q), "mean over samples"),
        ("unlearning-epochs-to-target", lambda h, t: next((r["epoch"] for r in h if r["val"] > t), None), "use >="),
        ("unlearning-epochs-to-target", lambda h, t: max(h, key=lambda r: r["val"])["epoch"], "best epoch"),
        ("unlearning-epochs-to-target", lambda h, t: next((r["epoch"] for r in h if r["val"] >= t), -1), "return None"),
        ("unlearning-membership-rate", lambda m, q: np.mean(q <= np.median(m)), "median"),
        ("unlearning-membership-rate", lambda m, q: np.mean(q < m.mean()), "use <="),
    ],
)
def test_part_three_wrong_answers_get_a_hint(exercise, answer, hint):
    result = check(exercise, answer)
    assert not result.passed
    assert hint in result.message, result.message


# --- the split the grader relies on: cases and results as plain data, judged elsewhere --------------

ALL_ANSWERS = [
    (e, a)
    for e, a, _ in [
        *test_typical_wrong_answers_fail_with_a_hint.pytestmark[0].args[1],
        *test_part_one_wrong_answers_get_a_hint.pytestmark[0].args[1],
        *test_part_two_wrong_answers_get_a_hint.pytestmark[0].args[1],
        *test_part_three_wrong_answers_get_a_hint.pytestmark[0].args[1],
    ]
] + [(e, a) for refs in (PART_ONE_REFERENCES, PART_TWO_REFERENCES, PART_THREE_REFERENCES) for e, a in refs.items()]


def test_results_carried_as_plain_data_get_the_same_feedback_as_in_the_notebook():
    """The grader judges the call step's records after a trip through JSON: same verdict, same words."""
    from qrobust_lite.exercises import cases
    from qrobust_lite.exercises.checking import CASES, SIGNATURES, _verdict

    for exercise, answer in ALL_ANSWERS:
        if exercise in SIGNATURES and not callable(answer):
            continue
        records = cases.call(answer, cases.loads(cases.dumps(CASES[exercise]())))
        carried = cases.loads(cases.dumps({"state": "called", "records": records}))
        assert _verdict(exercise, carried) == check(exercise, answer), exercise


def test_cases_are_deterministic_plain_data():
    from qrobust_lite.exercises import cases
    from qrobust_lite.exercises.checking import CASES

    for exercise, make in CASES.items():
        assert cases.dumps(make()) == cases.dumps(make()), exercise


@pytest.mark.parametrize(
    "text",
    [
        '["a", "O", [1], "AAAAAAAAAAA="]',  # an object array: what a pickle would need
        '["a", "<f8", [1000000], ""]',  # a shape its bytes do not fill
        '["a", "V8", [1], "AAAAAAAAAAA="]',  # raw bytes, not numbers
        '["p", "gASVAAAAAAAAAAB9lC4="]',  # an unknown tag (here, a pickle)
        '{"state": "called"}',  # untagged
    ],
)
def test_the_plain_format_refuses_anything_else(text):
    from qrobust_lite.exercises import cases

    with pytest.raises(ValueError):
        cases.loads(text)


def test_the_call_step_keeps_plain_data_and_names_what_is_not():
    from qrobust_lite.exercises import cases

    assert "returned None, not numbers" in check("primer-born-rule", lambda a: None).message
    assert "far more numbers" in check("primer-born-rule", lambda a: np.zeros(10**6)).message
    records = cases.call(lambda x: (x, {"k": np.float64(1.5)}, print), [cases.case(cases.tensor(np.ones(2)))])
    value = records[0]["value"]
    assert isinstance(value[0], np.ndarray) and value[1] == {"k": 1.5} and type(value[1]["k"]) is float
    assert isinstance(value[2], cases.Opaque) and "print" in repr(value[2])
