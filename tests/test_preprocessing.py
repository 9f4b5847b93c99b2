"""qrobust_lite.preprocessing: shapes, ranges, fitting on the training split only, validation."""

import math

import numpy as np
import pytest
import torch

from qrobust_lite import preprocessing as pp


def test_downsample_averages_blocks():
    images = torch.arange(16.0).reshape(1, 1, 4, 4) / 16
    out = pp.downsample(images, 2)
    assert out.shape == (1, 1, 2, 2)
    assert torch.allclose(out[0, 0], torch.tensor([[2.5, 4.5], [10.5, 12.5]]) / 16)


def test_pca_is_fitted_on_training_features_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(50, 10)), rng.normal(size=(20, 10)) + 100
    pca = pp.fit_pca(train, 3)
    assert np.allclose(pca.mean_, train.mean(0))
    assert pca.transform(test).shape == (20, 3)


def test_angle_scaler_maps_training_range_to_zero_pi_without_clipping():
    train = torch.tensor([[0.0, -1.0], [2.0, 1.0]])
    scaler = pp.fit_angle_scaler(train)
    assert np.allclose(scaler.transform(train.numpy()), [[0, 0], [math.pi, math.pi]])
    assert scaler.transform(np.array([[4.0, 0.0]]))[0, 0] == pytest.approx(2 * math.pi)


def test_amplitude_normalise_pads_and_normalises():
    out = pp.amplitude_normalise(torch.rand(5, 6) + 0.1, 3)
    assert out.shape == (5, 8)
    assert torch.allclose(out.norm(dim=1), torch.ones(5))
    assert (out[:, 6:] == 0).all()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: pp.downsample(torch.rand(2, 28, 28), 7), r"images must be a tensor of shape \(N, C, H, W\)"),
        (lambda: pp.downsample(np.zeros((1, 1, 4, 4)), 2), "images must be a torch tensor"),
        (lambda: pp.downsample(torch.rand(1, 1, 4, 4), 5), "size must be an integer in 1..4"),
        (lambda: pp.fit_pca(np.zeros((5, 4)), 6), "k must be an integer in 1..4"),
        (lambda: pp.fit_pca(np.zeros(5), 1), r"train_features must have shape \(N, F\)"),
        (lambda: pp.fit_pca(np.full((3, 3), np.nan), 1), "train_features contains NaN"),
        (lambda: pp.fit_angle_scaler(np.ones((3, 2)), 1.0, 0.0), "low < high"),
        (lambda: pp.amplitude_normalise(torch.rand(2, 9), 3), "3 qubits hold at most 8"),
        (lambda: pp.amplitude_normalise(torch.zeros(2, 4), 2), r"rows \[0, 1\] are all zero"),
        (lambda: pp.amplitude_normalise(torch.rand(2, 4), 0), "n_qubits must be an integer in 1..24"),
        (lambda: pp.amplitude_normalise(torch.rand(4), 2), r"features must be a tensor of shape \(N, F\)"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
