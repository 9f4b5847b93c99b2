"""Corrupted test images on a severity scale (book: Part I, *Training a CNN on
quantum-refined labels*), in the spirit of {Hendrycks and Dietterich 2019}.

Severity 0 is the clean image; 1-5 grow in strength. Every corruption maps images in [0, 1]
to images in [0, 1]: Gaussian noise is clipped back into the pixel range as part of its
definition (as in the common-corruptions benchmark), the others stay in range by construction.

| kind | severity s means |
| --- | --- |
| ``gaussian_noise`` | add N(0, sigma^2), sigma = 0.1 s, then clip to [0, 1] |
| ``salt_and_pepper`` | a share 0.06 s of pixels set to 0 or 1 (half each) |
| ``rotation`` | rotate by 15 s degrees about the centre (bilinear, zeros outside) |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .validation import IMAGE_BATCH, NON_NEGATIVE, SEED, Int, Options, Real, validate_params

KINDS = ("gaussian_noise", "salt_and_pepper", "rotation")
SEVERITIES = (0, 1, 2, 3, 4, 5)
SIGMA_PER_LEVEL = 0.1
PIXEL_SHARE_PER_LEVEL = 0.06
DEGREES_PER_LEVEL = 15.0


SEVERITY = Int(0, 5)


@validate_params(images=IMAGE_BATCH, std=NON_NEGATIVE, seed=SEED)
def add_noise(images: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """Add N(0, std^2) to every pixel (``std`` >= 0, in pixel units of [0, 1]) and clip back
    to [0, 1]; the noise is drawn from a generator seeded by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=gen, dtype=images.dtype)
    return (images + std * noise).clamp(0.0, 1.0)


@validate_params(images=IMAGE_BATCH, severity=SEVERITY, seed=SEED)
def gaussian_noise(images: torch.Tensor, severity: int, seed: int = 0) -> torch.Tensor:
    """Additive Gaussian noise, sigma = 0.1 x severity, clipped to [0, 1]."""
    return add_noise(images, SIGMA_PER_LEVEL * severity, seed)


@validate_params(images=IMAGE_BATCH, severity=SEVERITY, seed=SEED)
def salt_and_pepper(images: torch.Tensor, severity: int, seed: int = 0) -> torch.Tensor:
    """Set a share 0.06 x severity of pixels to 0 or 1 (each with probability 1/2)."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(images.shape, generator=gen, dtype=images.dtype)
    share = PIXEL_SHARE_PER_LEVEL * severity
    out = images.clone()
    out[u < share / 2] = 0.0
    out[(u >= share / 2) & (u < share)] = 1.0
    return out


@validate_params(images=IMAGE_BATCH, degrees=Real())
def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate every image by ``degrees`` (counter-clockwise) about its centre, bilinear, zero fill.

    Written with ``affine_grid``/``grid_sample`` so it does not need torchvision.
    """
    if not len(images):
        return images.clone()
    theta = math.radians(degrees)
    c, s = math.cos(theta), math.sin(theta)
    matrix = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=images.dtype).expand(len(images), 2, 3)
    grid = F.affine_grid(matrix, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@validate_params(images=IMAGE_BATCH, severity=SEVERITY, seed=SEED)
def rotation(images: torch.Tensor, severity: int, seed: int = 0) -> torch.Tensor:
    """Rotate every image by 15 x severity degrees (:func:`rotate`). ``seed`` is unused
    (rotation is deterministic) and accepted for a uniform signature."""
    return rotate(images, DEGREES_PER_LEVEL * severity)


@validate_params(images=IMAGE_BATCH, kind=Options(*KINDS), severity=SEVERITY, seed=SEED)
def corrupt(images: torch.Tensor, kind: str, severity: int, seed: int = 0) -> torch.Tensor:
    """Apply corruption ``kind`` (one of ``KINDS``) at ``severity`` 0-5."""
    return {"gaussian_noise": gaussian_noise, "salt_and_pepper": salt_and_pepper, "rotation": rotation}[kind](
        images, severity, seed
    )
