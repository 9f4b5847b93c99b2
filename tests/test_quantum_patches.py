"""qrobust_lite.quantum_patches: equal to PennyLane, seeded, batched, validated."""

import math

import pennylane as qml
import pytest
import torch

from qrobust_lite import circuits
from qrobust_lite import quantum_patches as qp


def reference(images, seed, n_layers=1, n_rotations=4):
    weights = circuits.random_circuit_weights(n_layers, n_rotations, seed)

    @qml.qnode(qml.device("default.qubit", wires=4))
    def circuit(x):
        qml.AngleEmbedding(math.pi * x, wires=range(4), rotation="Y")
        qml.RandomLayers(weights, wires=range(4), seed=seed)
        return [qml.expval(qml.PauliZ(i)) for i in range(4)]

    patches = qp.extract_patches(images.double())
    n, c, h, w, _ = patches.shape
    z = torch.stack(circuit(patches.reshape(-1, 4)), dim=-1)  # all patches, one call
    return z.reshape(n, c, h, w, 4).permute(0, 1, 4, 2, 3).reshape(n, 4 * c, h, w)


@pytest.mark.parametrize("seed,n_layers", [(0, 1), (3, 2)])
def test_patch_channels_match_pennylane(seed, n_layers):
    images = torch.rand(3, 2, 6, 8)
    got = qp.rqc_patch_channels(images, n_layers=n_layers, seed=seed)
    assert got.shape == (3, 8, 3, 4)
    assert torch.allclose(got.double(), reference(images, seed, n_layers), atol=1e-5)


def test_patches_are_2x2_blocks_in_order():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    patches = qp.extract_patches(image)
    assert patches[0, 0, 0, 0].tolist() == [0, 1, 4, 5]
    assert patches[0, 0, 1, 1].tolist() == [10, 11, 14, 15]


def test_same_seed_same_patches_other_seed_differs_and_chunking_is_invisible():
    images = torch.rand(4, 3, 8, 8)
    a = qp.rqc_patch_channels(images, seed=7)
    assert torch.equal(a, qp.rqc_patch_channels(images, seed=7))
    assert not torch.allclose(a, qp.rqc_patch_channels(images, seed=8))
    assert torch.allclose(a, qp.rqc_patch_channels(images, seed=7, chunk=5), atol=1e-6)
    assert a.abs().max() <= 1 + 1e-6


def test_z_signs():
    assert qp.z_signs(2).tolist() == [[1, 1], [1, -1], [-1, 1], [-1, -1]]


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: qp.rqc_patch_channels(torch.rand(2, 5, 5)), r"images must be a tensor of shape \(N, C, H, W\)"),
        (lambda: qp.rqc_patch_channels(torch.rand(1, 1, 5, 4)), "even, non-zero height and width"),
        (lambda: qp.rqc_patch_channels(torch.rand(1, 1, 4, 4) + 1), r"values in \[0, 1\]"),
        (lambda: qp.rqc_patch_channels(torch.rand(1, 1, 4, 4), chunk=0), "chunk must be a positive integer"),
        (lambda: qp.rqc_patch_channels(torch.rand(1, 1, 4, 4), n_layers=0), "n_layers must be a positive integer"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_patch_channels_are_differentiable_with_respect_to_the_pixels():
    """Attacks on a quanvolution model need d(channels)/d(pixels): compare with PennyLane's."""
    images = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    weights = torch.linspace(-1, 1, 32, dtype=torch.float64).reshape(2, 4, 2, 2)
    fast = images.clone().requires_grad_(True)
    (qp.rqc_patch_channels(fast, seed=2) * weights).sum().backward()
    slow = images.clone().requires_grad_(True)
    (reference(slow, seed=2) * weights).sum().backward()
    assert torch.allclose(fast.grad, slow.grad, atol=1e-5)


def test_patch_mask_scales_each_channel_and_puts_wire_i_at_pixel_i():
    channels = torch.rand(2, 8, 3, 4) * 2 - 1  # 2 colour channels x 4 wires
    mask = qp.patch_mask(channels)
    assert mask.shape == (2, 2, 6, 8)
    assert mask.min() >= 0 and mask.max() <= 1
    back = qp.extract_patches(mask)  # (2, 2, 3, 4, 4)
    for c in range(2):
        for i in range(4):
            ch = channels[:, 4 * c + i]
            low = ch.amin(dim=(1, 2), keepdim=True)
            high = ch.amax(dim=(1, 2), keepdim=True)
            assert torch.allclose(back[:, c, :, :, i], (ch - low) / (high - low), atol=1e-6)
    assert torch.equal(qp.patch_mask(torch.ones(1, 4, 2, 2)), torch.zeros(1, 1, 4, 4))


def test_quantum_patch_is_seeded_bounded_and_strength_zero_is_identity():
    images = torch.rand(3, 3, 8, 8)
    a = qp.quantum_patch(images, seed=5, strength=0.5)
    assert torch.equal(a, qp.quantum_patch(images, seed=5, strength=0.5))
    assert not torch.allclose(a, qp.quantum_patch(images, seed=6, strength=0.5))
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(qp.quantum_patch(images, seed=5, strength=0.0), images)
    full = qp.quantum_patch(images, seed=5, strength=1.0)
    mask = qp.patch_mask(qp.rqc_patch_channels(images, seed=5))
    assert torch.allclose(full, images * mask)
    assert torch.all(a >= 0.5 * images - 1e-7) and torch.all(a <= images + 1e-7)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: qp.quantum_patch(torch.rand(1, 1, 4, 4), strength=1.5), "strength must be a number in"),
        (lambda: qp.quantum_patch(torch.rand(1, 1, 4, 4), strength=True), "strength must be a number in"),
        (lambda: qp.patch_mask(torch.rand(1, 3, 2, 2)), r"channels must be a tensor \(N, 4C"),
        (lambda: qp.patch_mask("mask"), "channels must be a torch tensor"),
    ],
)
def test_invalid_patch_arguments_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_the_rxry_encoding_matches_pennylane_on_a_patch():
    import math

    import pennylane as qml

    from qrobust_lite.circuits import random_circuit, random_circuit_weights

    image = torch.rand(1, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    weights = random_circuit_weights(1, 4, 3)

    @qml.qnode(qml.device("default.qubit", wires=4))
    def reference(x):
        for j in range(4):
            qml.RX(math.pi * x[j], wires=j)
            qml.RY(math.pi * x[j], wires=j)
        random_circuit(weights, range(4), 3)
        return [qml.expval(qml.PauliZ(j)) for j in range(4)]

    ours = qp.rqc_patch_channels(image, seed=3, encoding="RXRY").flatten()
    expected = torch.tensor([float(v) for v in reference(qp.extract_patches(image).reshape(4))], dtype=ours.dtype)
    assert torch.allclose(ours, expected, atol=1e-6)
    assert not torch.allclose(ours, qp.rqc_patch_channels(image, seed=3).flatten(), atol=1e-3)  # not RY alone


def test_the_quanvolution_classifier_learns_and_attacks_can_differentiate_through_it():
    from qrobust_lite import data, defences, metrics
    from qrobust_lite.quantum_classifier import QuanvolutionClassifier

    model = QuanvolutionClassifier((1, 28, 28), width=16, seed=0)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in model.cnn.parameters()
    )  # no trainable angle
    train = data.load("mnist", "train", 1000, verbose=False)
    defences.train_with_defence(model, train.images, train.labels, epochs=10, lr=3e-3, progress=False)
    test = data.load("mnist", "test", 200, verbose=False)
    with torch.no_grad():
        probs = model(test.images)
    assert torch.allclose(probs.sum(1), torch.ones(200)) and metrics.accuracy(test.labels, probs) > 0.5
    x = test.images[:4].clone().requires_grad_(True)
    model(x)[:, 0].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for bad, message in (
        ({"encoding": "RZ"}, "encoding must be one of"),
        ({"width": 0}, "width must be"),
        ({"image_shape": (1, 30, 30)}, "multiples of 4"),
    ):
        with pytest.raises(ValueError, match=message):
            QuanvolutionClassifier(**{"image_shape": (1, 28, 28), **bad})
