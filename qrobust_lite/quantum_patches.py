"""Random quantum circuits as patch filters (book: Part II, *Random quantum circuits as
pseudo-noise*).

Following the quanvolution design {Henderson et al. 2020} that the quantum-patches paper builds
on: every 2x2 patch of an image (stride 2) is encoded into 4 qubits, one ``RY(pi x)`` per
pixel; a fixed random circuit (:func:`~qrobust_lite.circuits.random_circuit`, angles
uniform in [0, 2 pi), seeded) acts on them; ``<Z>`` on each wire gives 4 output channels at half resolution.

All patches of all images go through the circuit together: the patches become a batch of
real product states (one Kronecker product), the seeded random block is one 16x16 unitary, and
``<Z_i>`` is a fixed linear map of the outcome probabilities. There is no loop over images
or patches; chunks of patches only bound the memory.

>>> channels = rqc_patch_channels(torch.rand(2, 1, 8, 8), seed=0)
>>> channels.shape   # 2 images, 1 colour channel x 4 wires, 4x4 patches
torch.Size([2, 4, 4, 4])

To turn the channels into pseudo-noise on the image itself (the course's choice, after the
co-author design in which each channel is min-max scaled to [0, 1] and multiplied into the
image): :func:`patch_mask` scales each channel and puts ``<Z_i>`` back at the position of
pixel i in its patch, a full-resolution mask in [0, 1]; :func:`quantum_patch` multiplies it
in with a ``strength``. Different circuit seeds give different pseudo-noise.

>>> noisy = quantum_patch(torch.rand(2, 3, 8, 8), seed=1, strength=0.5)
>>> noisy.shape, bool(noisy.min() >= 0 and noisy.max() <= 1)
(torch.Size([2, 3, 8, 8]), True)

The co-author's own recipe stays at half resolution: :func:`half_resolution_patch` multiplies
one min-max scaled channel into the 2x2-averaged image and scales it back up, so it also
blurs the image.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from . import circuits, fastpath
from .circuits import random_circuit, random_circuit_weights
from .tracing import MAX_QUBITS
from .validation import COUNT, FEATURES, GENERATOR, IMAGE_BATCH, SEED, SHARE, Array, Int, Options, validate_params

N_WIRES = 4  # one qubit per pixel of a 2x2 patch
#: How a pixel value x in [0, 1] is loaded on its qubit, ``"RY"`` for RY(pi x) and ``"RXRY"`` for
#: RX(pi x) then RY(pi x) (the quanvolutional classifier of Part II's closest public design).
ENCODINGS = ("RY", "RXRY")


@validate_params(images=FEATURES)
def extract_patches(images: torch.Tensor) -> torch.Tensor:
    """Non-overlapping 2x2 patches: images (N, C, H, W), H and W even -> (N, C, H/2, W/2, 4).

    A reshape: any finite values are moved as they are (the exercise numbers the pixels)."""
    if images.ndim != 4:
        raise ValueError(f"images must be a tensor of shape (N, C, H, W), got {tuple(images.shape)}")
    n, c, h, w = images.shape
    if h % 2 or w % 2 or h == 0 or w == 0:
        raise ValueError(f"images must have even, non-zero height and width, got {h}x{w}")
    patches = images.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5)
    return patches.reshape(n, c, h // 2, w // 2, 4)


@functools.lru_cache(maxsize=64)
def circuit_unitary_transpose(n_layers: int, n_rotations: int, seed: int) -> torch.Tensor:
    """U.T (16, 16), complex64, of the seeded random circuit; cached, as training asks for the
    same few circuits batch after batch (tracing and verifying one takes about 10 ms)."""
    weights = random_circuit_weights(n_layers, n_rotations, seed)
    block = fastpath.compile_block(lambda w, wires: random_circuit(w, wires, seed), tuple(weights.shape), N_WIRES)
    return fastpath.block_unitary_transpose(block, weights, torch.complex64)


@validate_params(n_qubits=Int(1, 24))
def z_signs(n_qubits: int) -> torch.Tensor:
    """(2**n, n) matrix with entry (b, i) = +1 if bit i of outcome b is 0, else -1: <Z_i> = p @ it."""
    b = torch.arange(2**n_qubits)[:, None]
    bits = (b >> (n_qubits - 1 - torch.arange(n_qubits))[None, :]) & 1
    return (1 - 2 * bits).double()


@validate_params(x=Array("features", ndim=2, max_width=MAX_QUBITS))
def rxry_state(x: torch.Tensor) -> torch.Tensor:
    """The product state of RX(pi x_i) then RY(pi x_i) on each wire: values (B, n) -> (B, 2**n),
    complex64 (wire 0 most significant). With c = cos(pi x / 2), s = sin(pi x / 2), one wire
    holds ``RY RX |0> = (c^2 + i s^2, c s - i c s)``."""
    c, s = torch.cos(math.pi * x.float() / 2), torch.sin(math.pi * x.float() / 2)
    wire = torch.stack([torch.complex(c * c, s * s), torch.complex(c * s, -c * s)], dim=-1)  # (B, n, 2)
    state = wire[:, 0]
    for i in range(1, x.shape[1]):
        state = (state[:, :, None] * wire[:, i, None, :]).reshape(len(x), 2 ** (i + 1))
    return state


@validate_params(
    images=IMAGE_BATCH, n_layers=COUNT, n_rotations=COUNT, seed=SEED, chunk=COUNT, encoding=Options(*ENCODINGS)
)
def rqc_patch_channels(
    images: torch.Tensor,
    n_layers: int = 1,
    n_rotations: int = 4,
    seed: int = 0,
    chunk: int = 16_384,
    encoding: str = "RY",
) -> torch.Tensor:
    """Random-circuit patch channels: images (N, C, H, W) in [0, 1] -> (N, 4C, H/2, W/2) in [-1, 1].

    Channel ``4 * c + i`` is ``<Z_i>`` of the circuit on colour channel c's patches, each pixel
    loaded by ``encoding`` (:data:`ENCODINGS`). ``chunk`` patches are simulated at a time:
    chunks whose intermediates fit in the CPU cache (16,384 patches, about 6 MB) ran fastest
    here. The result does not depend on it. Differentiable in the images.
    """
    patches = extract_patches(images)
    # One 16x16 unitary for all patches. RY encodings give real states, so the real-state
    # shortcut applies; RX then RY gives complex ones. float32 arithmetic: errors about 1e-7.
    u_t = circuit_unitary_transpose(n_layers, n_rotations, seed).to(images.device)
    signs = z_signs(N_WIRES).float().to(images.device)  # (16, 4): <Z_i> = probs @ signs
    flat = patches.reshape(-1, N_WIRES)
    if encoding == "RY":
        parts = [
            fastpath.real_state_probabilities(
                circuits.angle_state(math.pi * part.float(), dtype=torch.float32), u_t, signs
            )
            for part in flat.split(chunk)
        ]
    else:
        parts = [(rxry_state(part) @ u_t).abs().square() @ signs for part in flat.split(chunk)]
    out = torch.cat(parts) if parts else flat.new_zeros(0, N_WIRES, dtype=torch.float32)
    n, c, hp, wp, _ = patches.shape
    out = out.to(images.dtype).reshape(n, c, hp, wp, N_WIRES).permute(0, 1, 4, 2, 3)
    return out.reshape(n, c * N_WIRES, hp, wp)


@validate_params(channels=FEATURES)
def patch_mask(channels: torch.Tensor) -> torch.Tensor:
    """Patch channels (N, 4C, H/2, W/2) -> a mask (N, C, H, W) in [0, 1].

    Each channel is min-max scaled to [0, 1] over its own image (a constant channel becomes 0),
    then channel ``4 c + i`` fills pixel i of every 2x2 patch of colour channel c (a pixel
    shuffle: the inverse of :func:`extract_patches`).
    """
    if channels.ndim != 4 or channels.shape[1] % N_WIRES:
        raise ValueError(f"channels must be a tensor (N, 4C, H/2, W/2), got {tuple(channels.shape)}")
    return F.pixel_shuffle(minmax_scale(channels), 2)


@validate_params(channels=Array("features", ndim=4))
def minmax_scale(channels: torch.Tensor) -> torch.Tensor:
    """Channels (N, K, h, w), each (image, channel) scaled to [0, 1] over its own h x w values
    (a constant channel becomes 0)."""
    low = channels.amin(dim=(2, 3), keepdim=True)
    high = channels.amax(dim=(2, 3), keepdim=True)
    return (channels - low) / (high - low).clamp_min(1e-12)


@validate_params(images=IMAGE_BATCH, seed=SEED, strength=SHARE, n_layers=COUNT)
def quantum_patch(images: torch.Tensor, seed: int = 0, strength: float = 0.5, n_layers: int = 1) -> torch.Tensor:
    """RQC pseudo-noise: ``images * (1 - strength + strength * mask)``, same shape, in [0, 1].

    ``strength`` in [0, 1]: 0 leaves the images unchanged, 1 multiplies by the mask itself.
    ``seed`` picks the random circuit (gates and angles).
    """
    mask = patch_mask(rqc_patch_channels(images, n_layers=n_layers, seed=seed))
    return images * (1 - strength + strength * mask)


@validate_params(images=IMAGE_BATCH, seed=SEED, strength=SHARE, generator=GENERATOR)
def half_resolution_patch(
    images: torch.Tensor, seed: int = 0, strength: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The co-author's patch recipe: images (N, C, H, W) in [0, 1] -> same shape, in [0, 1].

    The RXRY quanvolution (:func:`rqc_patch_channels`) gives 4 channels per colour channel at
    half resolution, each min-max scaled to [0, 1] (:func:`minmax_scale`); one of the 4 wires,
    drawn per image from ``generator``, is multiplied into the 2x2-averaged image as
    ``half * (1 - strength + strength * channel)``, and the result is scaled back to H x W
    (nearest neighbour) so that the same model can train on it. Even at ``strength`` 0 the
    image comes back at half resolution: the recipe works there.

    >>> out = half_resolution_patch(torch.rand(2, 3, 8, 8), seed=1, generator=torch.Generator().manual_seed(0))
    >>> out.shape, bool(torch.equal(out[..., ::2, ::2], out[..., 1::2, 1::2]))   # 2x2 blocks
    (torch.Size([2, 3, 8, 8]), True)
    """
    channels = minmax_scale(rqc_patch_channels(images, seed=seed, encoding="RXRY"))
    n, c, h, w = images.shape
    wire = torch.randint(N_WIRES, (n,), generator=generator).to(images.device)
    mask = channels.reshape(n, c, N_WIRES, h // 2, w // 2)[torch.arange(n, device=images.device), :, wire]
    half = F.avg_pool2d(images, 2) * (1 - strength + strength * mask)
    return F.interpolate(half, scale_factor=2, mode="nearest")
