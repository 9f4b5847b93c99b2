"""Checkers of the exercises of Part II, *Random quantum circuits as pseudo-noise*
(book: ``book/random_circuit_pseudo_noise.ipynb``).

Each reference answer is the package function that the chapter teaches.
"""

from __future__ import annotations

import torch

from .. import quantum_patches
from .cases import Outputs, arguments, case, tensor
from .checking import checker


@checker(
    "patches-extract",
    "to_patches(images)",
    level=2,
    cases=lambda: [case(tensor(torch.arange(2 * 3 * 4 * 6, dtype=torch.float64).reshape(2, 3, 4, 6)), returns="array")],
)
def _to_patches(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``to_patches(images)``: (N, C, H, W) -> (N, C, H/2, W/2, 4), pixels in reading order."""
    (images,) = arguments(cases[0])
    got = torch.as_tensor(outputs[0])
    if tuple(got.shape) != (2, 3, 2, 3, 4):
        return False, f"expected shape (2, 3, 2, 3, 4) for images (2, 3, 4, 6), got {tuple(got.shape)}."
    first = got[0, 0, 0, 0].tolist()
    if first == [0, 1, 2, 3]:
        return False, (
            "patch (0, 0) holds pixels 0, 1, 2, 3 of the first row: a plain reshape takes 4 "
            "pixels in a row; split H and W into (H/2, 2) and (W/2, 2) and permute before flattening."
        )
    if first == [0, 6, 1, 7]:
        return False, (
            "the pixels are in column order; use reading order: top-left, top-right, bottom-left, bottom-right."
        )
    want = quantum_patches.extract_patches(images)
    if not torch.equal(got.double(), want):
        return False, (
            f"patch (0, 0) should be [0, 1, 6, 7] and patch (1, 2) [16, 17, 22, 23]; got {first} and "
            f"{got[0, 0, 1, 2].tolist()}."
        )
    return True, "every 2x2 block, in reading order: wire i of the circuit gets pixel i."


def _z_expectations_cases() -> list[dict]:
    gen = torch.Generator().manual_seed(5)
    probs = torch.rand(3, 16, generator=gen, dtype=torch.float64)
    return [case(tensor(probs / probs.sum(dim=1, keepdim=True)), returns="array")]


@checker("patches-z-expectation", "z_expectations(probs)", level=2, cases=_z_expectations_cases)
def _z_expectations(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``z_expectations(probs)``: outcome probabilities (B, 16) of 4 qubits -> <Z_i> (B, 4)."""
    (probs,) = arguments(cases[0])
    signs = quantum_patches.z_signs(4)  # (16, 4): +1 where bit i is 0; wire 0 = leading bit
    want = probs @ signs
    got = torch.as_tensor(outputs[0]).double()
    if tuple(got.shape) != (3, 4):
        return False, f"expected one <Z> per wire, shape (3, 4), got {tuple(got.shape)}."
    if torch.allclose(got, want.flip(1), atol=1e-9):
        return False, "the wires are reversed: PennyLane reads wire 0 as the leading (most significant) bit."
    if torch.allclose(got, -want, atol=1e-9):
        return False, "the signs are flipped: <Z> = P(bit = 0) - P(bit = 1), since Z|0> = +|0>."
    if torch.allclose(got, probs @ ((1 - signs) / 2), atol=1e-9):
        return False, "that is P(bit i = 1); <Z_i> = P(bit = 0) - P(bit = 1) = 1 - 2 P(bit = 1)."
    if not torch.allclose(got, want, atol=1e-9):
        return False, "expected <Z_i> = sum over outcomes b of p(b) * (+1 if bit i of b is 0 else -1)."
    return True, "<Z_i> is a fixed signed sum of the 16 probabilities: one matrix product for all patches."


def _minmax_cases() -> list[dict]:
    gen = torch.Generator().manual_seed(9)
    channels = torch.rand(3, 4, 5, 5, generator=gen, dtype=torch.float64) * 2 - 1
    channels[1] *= 0.1  # a low-contrast image
    return [case(tensor(channels), returns="array")]


@checker("patches-minmax", "minmax(channels)", level=1, cases=_minmax_cases)
def _minmax(cases: list[dict], outputs: Outputs) -> tuple[bool, str]:
    """``minmax(channels)``: (N, K, h, w) -> each (image, channel) scaled to [0, 1] on its own."""
    (channels,) = arguments(cases[0])
    got = torch.as_tensor(outputs[0]).double()
    if got.shape != channels.shape:
        return False, f"expected shape {tuple(channels.shape)}, got {tuple(got.shape)}."
    if torch.allclose(got, (channels - channels.min()) / (channels.max() - channels.min()), atol=1e-9):
        return False, (
            "one minimum and maximum for the whole batch: scale each image's channel by its own (amin over dims 2, 3)."
        )
    if torch.allclose(got, (channels + 1) / 2, atol=1e-9):
        return False, "that maps [-1, 1] to [0, 1]; min-max scaling uses the values' own minimum and maximum."
    if not torch.allclose(got, quantum_patches.minmax_scale(channels), atol=1e-9):
        return False, "expected (x - min) / (max - min), with min and max taken per image and per channel."
    return True, "every channel of every image now spans exactly [0, 1]."
