"""qrobust_lite.kron_chain: the chain of Kronecker layers and its written-out gradient equal the
layer-by-layer path (itself checked against default.qubit in test_fastpath.py)."""

import pennylane as qml
import pytest
import torch

from qrobust_lite import circuits, kron_chain
from qrobust_lite import fastpath as fp


def some_wires_then_swap(weights, wires):
    """Rotations of three classes on some wires only, a SWAP and a CZ between them."""
    qml.RX(weights[0], wires=wires[0])
    qml.RY(weights[1], wires=wires[-1])
    qml.SWAP(wires=[wires[0], wires[-1]])
    qml.CZ(wires=[wires[0], wires[1]])
    qml.Rot(weights[2], weights[3], weights[4], wires=wires[1])
    qml.RY(weights[5], wires=wires[0])
    qml.CNOT(wires=[wires[1], wires[0]])


def rot_cz(weights, wires):
    circuits.rotation_cz_layers(weights, wires)


CHAINS = {
    "strongly_entangling": (qml.StronglyEntanglingLayers, lambda n: (3, n, 3)),
    "basic_entangler": (qml.BasicEntanglerLayers, lambda n: (2, n)),
    "rotation_cz_rot": (rot_cz, lambda n: (2, n, 3)),
    "rotation_cz_ry": (rot_cz, lambda n: (3, n, 1)),
    "some_wires_then_swap": (some_wires_then_swap, lambda n: (6,)),
}


def layer_by_layer(block, weights, dtype=torch.complex128):
    return fp.apply_layers(block, weights, torch.eye(2**block.n_qubits, dtype=dtype))


# n = 1: a layer is one half only; n = 5: halves of 3 and 2 wires; some_wires_then_swap needs two
SIZES = [(name, n) for n in [1, 2, 3, 4, 5, 6] for name in CHAINS if n > 1 or name != "some_wires_then_swap"]


@pytest.mark.parametrize("name,n", SIZES)
def test_chain_and_its_gradient_equal_the_layer_by_layer_path(name, n):
    template, shape = CHAINS[name]
    block = fp.compile_block(template, shape(n), n)
    assert block.chain is not None
    gen = torch.Generator().manual_seed(n)
    w = ((torch.rand(shape(n), generator=gen, dtype=torch.float64) - 0.5) * 12).requires_grad_()
    u_chain = kron_chain.chain_unitary_transpose(block.chain, w)
    u_layers = layer_by_layer(block, w)
    assert torch.allclose(u_chain, u_layers, atol=1e-12, rtol=0)
    # a loss that reads real and imaginary parts and the probabilities
    c = torch.randn(2**n, 2**n, generator=gen, dtype=torch.complex128)
    (g_chain,) = torch.autograd.grad((u_chain * c).real.sum() + (u_chain.abs() ** 2 * c.imag).sum(), w)
    (g_layers,) = torch.autograd.grad((u_layers * c).real.sum() + (u_layers.abs() ** 2 * c.imag).sum(), w)
    assert torch.allclose(g_chain, g_layers, atol=1e-10, rtol=0)


def test_the_written_out_backward_passes_torch_gradcheck():
    block = fp.compile_block(some_wires_then_swap, (6,), 3)
    w = torch.rand(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: kron_chain.chain_unitary_transpose(block.chain, x), (w,))


def test_single_precision_keeps_the_layer_path():
    """The patch circuits' complex64 unitary stays bit for bit what it was before the chain."""
    block = fp.compile_block(qml.StronglyEntanglingLayers, (2, 4, 3), 4)
    w = torch.rand(2, 4, 3, requires_grad=True)
    u = fp.block_unitary_transpose(block, w, torch.complex64)
    assert u.dtype == torch.complex64 and type(u.grad_fn).__name__ != "_ChainBackward"
    assert torch.equal(u, layer_by_layer(block, w, torch.complex64))


def test_block_unitary_uses_the_chain_on_the_cpu_up_to_its_size():
    for n, used in [(4, True), (kron_chain.MAX_CHAIN_QUBITS, True), (kron_chain.MAX_CHAIN_QUBITS + 1, False)]:
        block = fp.compile_block(qml.BasicEntanglerLayers, (1, n), n)
        w = torch.rand(1, n, dtype=torch.float64, requires_grad=True)
        u = fp.block_unitary_transpose(block, w)
        assert (type(u.grad_fn).__name__ == "_ChainBackward") is used
        assert torch.allclose(u, layer_by_layer(block, w), atol=1e-12)


def test_blocks_that_are_not_a_chain_keep_the_layer_path():
    """A ZZ ring is a parametrised diagonal, a Hadamard is dense, and a fixed gate before the
    first rotation has no layer to fold into: none of these is a chain."""

    def zz_ring(weights, wires):
        qml.RY(weights[0], wires=wires[0])
        qml.IsingZZ(weights[1], wires=[wires[0], wires[1]])

    def hadamard_first(weights, wires):
        qml.Hadamard(wires=wires[0])
        qml.RY(weights[0], wires=wires[0])

    def cnot_first(weights, wires):
        qml.CNOT(wires=[wires[0], wires[1]])
        qml.RY(weights[0], wires=wires[0])

    for template in (zz_ring, hadamard_first, cnot_first):
        assert fp.compile_block(template, (2,), 2).chain is None


def test_edge_cases_of_the_chain_match_the_layer_path():
    """One wire; one rotation layer (R = 1); a weight read by several gates; float32 weights;
    no gradient wanted."""

    def shared(weights, wires):
        qml.Rot(weights[0], weights[0], weights[1], wires=wires[0])
        qml.RX(weights[1], wires=wires[-1])

    cases = [(qml.BasicEntanglerLayers, (1, 1), 1), (qml.BasicEntanglerLayers, (1, 3), 3), (shared, (2,), 2)]
    for template, shape, n in cases:
        block = fp.compile_block(template, shape, n)
        assert block.chain is not None and block.chain.n_factors == 1 + (template is shared)
        for dtype in (torch.float64, torch.float32):
            w = (torch.rand(shape, dtype=dtype) * 6).requires_grad_()
            c = torch.randn(2**n, 2**n, dtype=torch.complex128)
            u = kron_chain.chain_unitary_transpose(block.chain, w)
            (g,) = torch.autograd.grad((u * c).real.sum(), w)
            (g_ref,) = torch.autograd.grad((layer_by_layer(block, w.double()) * c).real.sum(), w)
            assert g.dtype == dtype and torch.allclose(g.double(), g_ref.double(), atol=1e-10)
        with torch.no_grad():
            assert torch.allclose(kron_chain.chain_unitary_transpose(block.chain, w), layer_by_layer(block, w.double()))


def test_two_fixed_maps_after_one_layer_compose():
    """A CZ ring and a SWAP after one rotation layer: phases and permutations fold in order."""

    def two_maps(weights, wires):
        qml.RY(weights[0], wires=wires[0])
        qml.RX(weights[1], wires=wires[1])
        qml.CZ(wires=[wires[0], wires[1]])
        qml.SWAP(wires=[wires[1], wires[2]])
        qml.S(wires=wires[2])
        qml.Rot(weights[2], weights[3], weights[4], wires=wires[2])

    block = fp.compile_block(two_maps, (5,), 3)
    assert block.chain is not None and block.chain.phase is not None
    w = torch.rand(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: kron_chain.chain_unitary_transpose(block.chain, x), (w,))
    assert torch.allclose(kron_chain.chain_unitary_transpose(block.chain, w), layer_by_layer(block, w), atol=1e-12)


def test_what_is_not_a_chain_and_what_is_refused():
    """No gates, more qubits than the chain takes, and a second derivative."""
    assert fp.compile_block(lambda w, wires: None, (1,), 2).chain is None
    n = kron_chain.MAX_CHAIN_QUBITS + 4  # its index arrays alone would be R 4**n entries
    assert fp.compile_block(qml.BasicEntanglerLayers, (1, n), n).chain is None
    block = fp.compile_block(qml.BasicEntanglerLayers, (1, 2), 2)
    w = torch.rand(1, 2, dtype=torch.float64, requires_grad=True)
    u = kron_chain.chain_unitary_transpose(block.chain, w)
    (g,) = torch.autograd.grad(u.abs().square()[0].sum(), w, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        g.sum().backward()


def test_chains_in_threads_agree_and_leave_numpy_threads_as_they_were():
    from concurrent.futures import ThreadPoolExecutor

    import threadpoolctl

    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    block = fp.compile_block(qml.StronglyEntanglingLayers, (2, 6, 3), 6)  # 64x64: its products go to torch
    w = torch.rand(2, 6, 3, dtype=torch.float64, requires_grad=True)

    def gradient(_):
        (g,) = torch.autograd.grad(kron_chain.chain_unitary_transpose(block.chain, w).abs().square()[0].sum(), w)
        return g

    with ThreadPoolExecutor(4) as pool:
        grads = list(pool.map(gradient, range(16)))
    assert all(torch.equal(g, grads[0]) for g in grads)
    after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert after == before


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda plan: kron_chain.chain_unitary_transpose("plan", torch.zeros(3)), "plan must be a ChainPlan"),
        (lambda plan: kron_chain.chain_unitary_transpose(plan, torch.zeros(5)), "weights must have 6 entries"),
        (lambda plan: kron_chain.chain_unitary_transpose(plan, torch.zeros(6, dtype=torch.cfloat)), "real floating"),
        (lambda plan: kron_chain.chain_unitary_transpose(plan, torch.zeros(6, dtype=torch.long)), "real floating"),
        (lambda plan: kron_chain.chain_probabilities(plan, torch.zeros(5), torch.zeros(2, 8)), "weights must have 6"),
        (lambda plan: kron_chain.chain_probabilities(plan, torch.zeros(6), torch.zeros(2, 8)), "float64 CPU tensor"),
        (
            lambda plan: kron_chain.chain_probabilities(plan, torch.zeros(6), torch.zeros(2, 4, dtype=torch.float64)),
            r"shape \(B, 8\)",
        ),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    plan = fp.compile_block(some_wires_then_swap, (6,), 3).chain
    with pytest.raises((TypeError, ValueError), match=match):
        call(plan)


@pytest.mark.parametrize("n,batch", [(3, 40), (4, 40), (4, 4096), (5, 100), (6, 8), (6, 256)])
def test_chain_probabilities_and_their_gradients_equal_the_complex_product(n, batch):
    """The chain and the Born rule in one function, for real states: small products in NumPy,
    larger ones (4096 x 16 x 32, 256 x 64 x 128) in torch; odd sizes split into unequal halves
    of wires. All equal |psi @ U.T|**2 computed in complex arithmetic, and so do the gradients
    for the weights and for the states (hybrid models train through the states)."""
    gen = torch.Generator().manual_seed(batch)
    block = fp.compile_block(qml.StronglyEntanglingLayers, (2, n, 3), n)
    w = torch.rand(2, n, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    states = torch.rand(batch, 2**n, generator=gen, dtype=torch.float64, requires_grad=True)
    got = kron_chain.chain_probabilities(block.chain, w, states)
    expected = (states.to(torch.complex128) @ layer_by_layer(block, w)).abs() ** 2
    assert torch.allclose(got, expected, atol=1e-13)
    c = torch.rand(batch, 2**n, generator=gen, dtype=torch.float64)
    for a, b in zip(
        torch.autograd.grad((got * c).sum(), (w, states)), torch.autograd.grad((expected * c).sum(), (w, states))
    ):
        assert torch.allclose(a, b, atol=1e-11)


def test_states_changed_in_place_before_the_backward_are_refused():
    block = fp.compile_block(qml.StronglyEntanglingLayers, (2, 3, 3), 3)
    w = torch.rand(2, 3, 3, dtype=torch.float64, requires_grad=True)
    states = torch.rand(5, 8, dtype=torch.float64)
    probs = kron_chain.chain_probabilities(block.chain, w, states)
    states.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        probs.sum().backward()


def test_chain_probabilities_pass_gradcheck_and_refuse_a_second_derivative():
    block = fp.compile_block(some_wires_then_swap, (6,), 3)
    w = torch.rand(6, dtype=torch.float64, requires_grad=True)
    states = torch.rand(5, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, s: kron_chain.chain_probabilities(block.chain, w, s), (w, states))
    p = kron_chain.chain_probabilities(block.chain, w, states)
    (g,) = torch.autograd.grad(p.square().sum(), states, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        g.sum().backward()


@pytest.mark.parametrize(
    "features_dtype,rotation,chunk,fused",
    [
        (torch.float64, "Y", None, True),
        (torch.float64, "Y", 7, False),
        (torch.float32, "Y", None, False),
        (torch.float64, "X", None, False),
    ],
)
def test_born_probabilities_fuse_the_chain_for_real_double_states_in_one_slice(features_dtype, rotation, chunk, fused):
    """Real float64 states in one slice take chain_probabilities; complex states, single
    precision and several slices keep U.T and torch's product, with the same result."""
    block = fp.compile_block(qml.StronglyEntanglingLayers, (2, 4, 3), 4)
    w = torch.rand(2, 4, 3, dtype=torch.float64, requires_grad=True)
    x = 3 * torch.rand(20, 4, dtype=features_dtype)
    dtype = features_dtype if rotation == "Y" else torch.complex128
    probs = fp.born_probabilities(block, w, x, lambda f: circuits.angle_state(f, rotation, dtype), "unitary", chunk)
    assert (type(probs.grad_fn).__name__ == "_ChainProbabilitiesBackward") == fused
    states = circuits.angle_state(x.double(), rotation)
    assert torch.allclose(probs.double(), (states @ layer_by_layer(block, w)).abs() ** 2, atol=1e-6)


@pytest.mark.parametrize(
    "shape_a,shape_b,in_numpy",
    [
        ((16, 16), (16, 16), True),
        ((256, 16), (16, 32), True),
        ((64, 64), (64, 64), False),  # 64**3 multiply-adds: NumPy's BLAS would use threads
        ((4, 256, 4), (4, 4, 1), True),
        ((4, 1024, 4), (4, 4, 1), False),  # a matrix-vector product of 4096 entries
        ((4, 1, 1024), (4, 1024, 4), False),  # the vector on the left: the same
        ((4, 1, 256), (4, 256, 4), True),
    ],
)
def test_products_go_to_torch_from_the_sizes_numpy_would_thread(shape_a, shape_b, in_numpy, monkeypatch):
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random(shape_a) + 1j * rng.random(shape_a)
    b = rng.random(shape_b) + 1j * rng.random(shape_b)
    calls = []
    monkeypatch.setattr(kron_chain.torch, "from_numpy", lambda x: calls.append(x) or torch.as_tensor(x))
    assert np.allclose(kron_chain._product(a, b), a @ b, atol=1e-12)
    assert (not calls) == in_numpy
