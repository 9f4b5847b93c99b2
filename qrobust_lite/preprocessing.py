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

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler

from . import validation


def _check_features(x, arg: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{arg} must be a tensor or array of shape (N, F), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{arg} must have shape (N, F) with N >= 1, got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"{arg} must hold real numbers, got {x.dtype}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)                   # integer features become floats, never truncated
    if not np.isfinite(x).all():
        raise ValueError(f"{arg} contains NaN or infinite values")
    return x


def downsample(images: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool images (N, C, H, W) to (N, C, size, size), 1 <= size <= min(H, W).

    >>> downsample(torch.ones(2, 1, 28, 28), 7).shape
    torch.Size([2, 1, 7, 7])
    """
    validation.image_batch(images)
    h, w = images.shape[-2:]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= min(h, w):
        raise ValueError(f"size must be an integer in 1..{min(h, w)} for {h}x{w} images, got {size!r}")
    return F.adaptive_avg_pool2d(images, size)


def fit_pca(train_features, k: int, seed: int = 0) -> PCA:
    """Fit a k-component PCA on training features (N, F) only; apply it with ``.transform``.

    Fitting on the training split alone keeps test images from leaking into the features.
    """
    x = _check_features(train_features, "train_features")
    limit = min(x.shape)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
        raise ValueError(f"k must be an integer in 1..{limit} (min of samples and features), got {k!r}")
    return PCA(n_components=k, random_state=validation.seed(seed)).fit(x)


def fit_angle_scaler(train_features, low: float = 0.0, high: float = math.pi) -> MinMaxScaler:
    """Fit a scaler mapping each training feature's [min, max] onto [low, high] radians.

    Test features outside the training range land slightly outside [low, high]; they are not
    clipped, since any real angle is a valid rotation.
    """
    x = _check_features(train_features, "train_features")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"low and high must be finite with low < high, got low={low}, high={high}")
    return MinMaxScaler(feature_range=(low, high), clip=False).fit(x)


def amplitude_normalise(features: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """Pad features (N, F) with zeros to (N, 2**n_qubits) and scale each row to unit norm.

    >>> amplitude_normalise(torch.tensor([[3.0, 4.0]]), 1)
    tensor([[0.6000, 0.8000]])
    """
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        raise ValueError(f"features must be a tensor of shape (N, F), got "
                         f"{getattr(features, 'shape', type(features).__name__)}")
    validation.finite_floats(features, "features")
    validation.positive_int(n_qubits, "n_qubits")
    dim = 2 ** n_qubits
    if features.shape[1] > dim:
        raise ValueError(f"features has {features.shape[1]} columns; {n_qubits} qubits hold at "
                         f"most {dim} amplitudes")
    norms = features.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        rows = torch.nonzero(norms.squeeze(1) == 0).flatten().tolist()
        raise ValueError(f"features rows {rows[:5]} are all zero and cannot be normalised")
    return F.pad(features, (0, dim - features.shape[1])) / norms
