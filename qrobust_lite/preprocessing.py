"""From images to circuit inputs (book: *Primer*, section *From pixels to angles*).

A circuit on n qubits takes n rotation angles (angle encoding) or 2**n amplitudes (amplitude
encoding), far fewer numbers than an image has pixels. These steps get there:

- :func:`downsample` averages pixel blocks: (N, C, H, W) -> (N, C, size, size);
- :func:`fit_pca` compresses flattened images to k features, fitted on the training split only;
- :func:`fit_angle_scaler` maps each feature's training range onto [0, pi];
- :func:`amplitude_normalise` pads features to 2**n and scales each row to unit L2 norm.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler

from .validation import COUNT, IMAGE_BATCH, SEED, Array, Int, Real, validate_params

TABLE = Array("table")


@validate_params(images=IMAGE_BATCH, size=COUNT)
def downsample(images: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool images (N, C, H, W) to (N, C, size, size), 1 <= size <= min(H, W).

    >>> downsample(torch.ones(2, 1, 28, 28), 7).shape
    torch.Size([2, 1, 7, 7])
    """
    h, w = images.shape[-2:]
    if size > min(h, w):
        raise ValueError(f"size must be an integer in 1..{min(h, w)} for {h}x{w} images, got {size!r}")
    return F.adaptive_avg_pool2d(images, size)


@validate_params(train_features=TABLE, k=COUNT, seed=SEED)
def fit_pca(train_features, k: int, seed: int = 0) -> PCA:
    """Fit a k-component PCA on training features (N, F) only; apply it with ``.transform``.

    Fitting on the training split alone keeps test images from leaking into the features.
    """
    limit = min(train_features.shape)
    if k > limit:
        raise ValueError(f"k must be an integer in 1..{limit} (min of samples and features), got {k!r}")
    return PCA(n_components=k, random_state=seed).fit(train_features)


@validate_params(train_features=TABLE, low=Real(), high=Real())
def fit_angle_scaler(train_features, low: float = 0.0, high: float = math.pi) -> MinMaxScaler:
    """Fit a scaler mapping each training feature's [min, max] onto [low, high] radians.

    Test features outside the training range land slightly outside [low, high]; they are not
    clipped, since any real angle is a valid rotation.
    """
    if not low < high:
        raise ValueError(f"low and high must be finite with low < high, got low={low}, high={high}")
    return MinMaxScaler(feature_range=(low, high), clip=False).fit(train_features)


@validate_params(features=Array("features", ndim=2), n_qubits=Int(1, 24))
def amplitude_normalise(features: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """Pad features (N, F) with zeros to (N, 2**n_qubits) and scale each row to unit norm.

    >>> amplitude_normalise(torch.tensor([[3.0, 4.0]]), 1)
    tensor([[0.6000, 0.8000]])
    """
    dim = 2**n_qubits
    if features.shape[1] > dim:
        raise ValueError(f"features has {features.shape[1]} columns; {n_qubits} qubits hold at most {dim} amplitudes")
    norms = features.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        rows = torch.nonzero(norms.squeeze(1) == 0).flatten().tolist()
        raise ValueError(f"features rows {rows[:5]} are all zero and cannot be normalised")
    return F.pad(features, (0, dim - features.shape[1])) / norms
