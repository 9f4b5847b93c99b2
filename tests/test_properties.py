"""Property tests of the core maths (Hypothesis): what must hold for every input, not only for
the examples in the other tests."""

import math

import numpy as np
import pennylane as qml
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qrobust_lite import circuits, fastpath, poisoning, soft_labels

# derandomize: the same examples on every run, so CI cannot turn red on a new draw (a failure
# found while developing is kept as a regression case instead)
FAST = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(0, 2**31 - 1)


@st.composite
def probability_rows(draw, n_rows=st.integers(1, 6), n_cols=st.integers(2, 8)):
    """Probability vectors (N, K): Dirichlet draws, float64."""
    rng = np.random.default_rng(draw(seeds))
    return torch.from_numpy(rng.dirichlet(np.ones(draw(n_cols)), size=draw(n_rows)))


@st.composite
def labels_and_classes(draw):
    k = draw(st.integers(2, 6))
    return torch.tensor(draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=30))), k


@FAST
@given(seed=seeds, n_qubits=st.integers(1, 4), n_layers=st.integers(1, 3), batch=st.integers(1, 9), data=st.data())
def test_vqc_class_probabilities_are_distributions(seed, n_qubits, n_layers, batch, data):
    n_classes = data.draw(st.integers(2, 2**n_qubits))
    model = circuits.VQC(n_qubits, n_layers, n_classes, seed=seed, fast=True)
    x = 10 * torch.rand(batch, n_qubits, generator=torch.Generator().manual_seed(seed)) - 5
    p = model(x)
    assert p.shape == (batch, n_classes)
    assert (p >= 0).all() and torch.allclose(p.sum(1), torch.ones(batch, dtype=p.dtype), atol=1e-5)


@FAST
@given(probs=probability_rows(n_cols=st.sampled_from([2, 4, 8, 16])), data=st.data())
def test_outcome_probabilities_map_to_class_distributions(probs, data):
    n_classes = data.draw(st.integers(2, probs.shape[1]))
    p = circuits.class_probabilities(probs, n_classes)
    assert (p >= 0).all() and torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype))


@FAST
@given(
    case=labels_and_classes(),
    smoothing=st.floats(0, 1),
    mix=st.floats(0, 1),
    temperature=st.floats(0.05, 20),
    seed=seeds,
)
@example(case=(torch.tensor([1]), 2), smoothing=1 - 2**-53, mix=0.0, temperature=1.0, seed=0)  # found by CI
def test_soft_labels_are_distributions_that_keep_the_label_on_top(case, smoothing, mix, temperature, seed):
    labels, k = case
    rng = np.random.default_rng(seed)
    quantum = torch.from_numpy(rng.dirichlet(np.ones(k), size=len(labels)))
    for soft in (
        soft_labels.smooth_labels(labels, k, smoothing),
        soft_labels.refine_labels(quantum, labels, temperature, mix),
    ):
        assert (soft >= 0).all() and torch.allclose(soft.sum(1), torch.ones(len(labels), dtype=soft.dtype))
    smooth = soft_labels.smooth_labels(labels, k, smoothing)
    # the annotated class stays on top, ahead of every other class by exactly 1 - smoothing
    # (compared as a difference: at smoothing 1 - 1e-16 an argmax sees a tie)
    on = smooth.gather(1, labels[:, None]).squeeze(1)
    others = smooth.masked_fill(torch.nn.functional.one_hot(labels, k).bool(), -1.0).amax(1)
    assert torch.allclose(on - others, torch.full_like(on, 1 - smoothing), atol=1e-6)  # float32 labels


@FAST
@given(case=labels_and_classes(), alpha=st.floats(0, 1), seed=st.integers(0, 10**6))
def test_flips_are_exactly_balanced_and_really_flip(case, alpha, seed):
    labels, k = case
    poisoned, flipped = poisoning.flip_labels(labels, alpha, n_classes=k, seed=seed)
    for c in labels.unique():
        in_class = labels == c
        assert int(flipped[in_class].sum()) == round(alpha * int(in_class.sum()))
    assert (poisoned[flipped] != labels[flipped]).all() and (poisoned[~flipped] == labels[~flipped]).all()
    assert ((poisoned >= 0) & (poisoned < k)).all()


@FAST
@given(n_alphas=st.integers(3, 12), data=st.data(), n_seeds=st.integers(1, 5), seed=seeds)
def test_critical_alpha_finds_a_planted_step(n_alphas, data, n_seeds, seed):
    step = data.draw(st.integers(0, n_alphas - 2))  # the curve falls between step and step + 1
    alphas = np.linspace(0, 0.5, n_alphas)
    rng = np.random.default_rng(seed)
    curve = np.where(np.arange(n_alphas) <= step, 0.9, 0.5)
    values = curve + rng.uniform(-0.01, 0.01, size=(n_seeds, n_alphas))  # noise far below the step
    location, spread = poisoning.critical_alpha(alphas, values, n_boot=50)
    assert math.isclose(location, (alphas[step] + alphas[step + 1]) / 2)
    assert math.isclose(spread, 0.0, abs_tol=1e-12)


GATES = {  # name -> (operation, number of wires, number of weights)
    "RX": (qml.RX, 1, 1),
    "RY": (qml.RY, 1, 1),
    "RZ": (qml.RZ, 1, 1),
    "PhaseShift": (qml.PhaseShift, 1, 1),
    "Rot": (qml.Rot, 1, 3),
    "Hadamard": (qml.Hadamard, 1, 0),
    "S": (qml.S, 1, 0),
    "T": (qml.T, 1, 0),
    "CNOT": (qml.CNOT, 2, 0),
    "CZ": (qml.CZ, 2, 0),
    "SWAP": (qml.SWAP, 2, 0),
    "IsingZZ": (qml.IsingZZ, 2, 1),
    "IsingXX": (qml.IsingXX, 2, 1),
    "IsingYY": (qml.IsingYY, 2, 1),
    "CRX": (qml.CRX, 2, 1),
    "CRZ": (qml.CRZ, 2, 1),
}


@st.composite
def random_templates(draw):
    """A random circuit of the gates the fast path supports: (template, number of weights, n)."""
    n = draw(st.integers(2, 4))
    ops, n_weights = [], 0
    for _ in range(draw(st.integers(1, 10))):
        name = draw(st.sampled_from(sorted(GATES)))
        op, n_wires, k = GATES[name]
        wires = draw(st.permutations(range(n)))[:n_wires]
        ops.append((op, wires, list(range(n_weights, n_weights + k))))
        n_weights += k
    if n_weights == 0:  # a block needs at least one weight
        ops.append((qml.RY, [0], [0]))
        n_weights = 1

    def template(w, wires):
        for op, on, idx in ops:
            op(*[w[i] for i in idx], wires=list(on))

    return template, n_weights, n


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=random_templates(), seed=seeds)
def test_the_fast_path_equals_pennylane_on_random_circuits(case, seed):
    template, n_weights, n = case
    gen = torch.Generator().manual_seed(seed)
    w = (8 * torch.rand(n_weights, generator=gen, dtype=torch.float64) - 4).requires_grad_(True)
    x = 3 * torch.rand(5, n, generator=gen, dtype=torch.float64)

    @qml.qnode(qml.device("default.qubit", wires=n), interface="torch", diff_method="backprop")
    def reference(x, w):
        qml.AngleEmbedding(x, wires=range(n), rotation="Y")
        template(w, wires=range(n))
        return qml.probs(wires=range(n))

    block = fastpath.compile_block(template, (n_weights,), n)
    fast = fastpath.apply_block(block, w, circuits.angle_state(x)).abs() ** 2
    slow = reference(x, w)
    assert torch.allclose(fast, slow, atol=1e-8, rtol=0)
    readout = torch.linspace(-1, 1, 2**n, dtype=torch.float64)
    (g_fast,) = torch.autograd.grad((fast * readout).sum(), w)
    (g_slow,) = torch.autograd.grad((slow * readout).sum(), w)
    assert torch.allclose(g_fast, g_slow, atol=1e-8, rtol=0)
