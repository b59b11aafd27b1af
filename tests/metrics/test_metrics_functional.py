"""The metric functions against closed forms, a scipy reference and crafted data."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.metrics import (
    class_coverage,
    classifier_score,
    feature_statistics,
    frechet_distance,
    frechet_distance_features,
    kernel_inception_distance,
    knn_radii,
    memorisation,
    precision_recall,
)


# --------------------------------------------------------------------------- FD
def test_fd_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(3000, 32)) * np.linspace(0.1, 3, 32)
    assert frechet_distance_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    a, b = rng.uniform(0.1, 4, 16), rng.uniform(0.1, 4, 16)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_fd_agrees_with_scipy_sqrtm_on_full_covariances():
    rng = np.random.default_rng(2)
    for d in (8, 64):
        A, B = rng.normal(size=(d, d)), rng.normal(size=(d, d))
        s1, s2 = A @ A.T / d + 0.05 * np.eye(d), B @ B.T / d + 0.05 * np.eye(d)
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        reference = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-6)


def test_fd_handles_singular_covariances_and_torch_inputs():
    # fewer samples than dimensions, and a dead feature: covariances are singular
    x = torch.randn(20, 50)
    x[:, 0] = 0
    y = torch.randn(30, 50) + 1
    fd = frechet_distance_features(x, y)
    assert math.isfinite(fd) and fd > 40  # the means alone are ~49 apart


def test_feature_statistics_are_mean_and_unbiased_covariance():
    x = np.random.default_rng(3).normal(size=(100, 5))
    mu, sigma = feature_statistics(x)
    assert np.allclose(mu, x.mean(0)) and np.allclose(sigma, np.cov(x, rowvar=False))


# --------------------------------------------------------------------------- KID
def test_kid_is_unbiased_for_one_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = kernel_inception_distance(x, y, num_subsets=50, subset_size=500)
    assert abs(mean) < 3 * std
    shifted, shifted_std = kernel_inception_distance(x, y + 0.5, num_subsets=50, subset_size=500)
    assert shifted > 10 * shifted_std and shifted > 10 * abs(mean)


def test_kid_is_deterministic_per_seed():
    x, y = torch.randn(300, 8), torch.randn(300, 8)
    assert kernel_inception_distance(x, y, seed=3) == kernel_inception_distance(x, y, seed=3)


# --------------------------------------------------------------------------- classifier score
def test_classifier_score_on_crafted_probabilities():
    k = 10
    confident_even = np.eye(k)[np.arange(1000) % k]
    mean, std = classifier_score(confident_even)
    assert mean == pytest.approx(k) and std == pytest.approx(0, abs=1e-9)
    all_the_same = np.tile(np.eye(k)[3], (1000, 1))
    assert classifier_score(all_the_same)[0] == pytest.approx(1.0)
    uniform = np.full((1000, k), 1 / k)
    assert classifier_score(uniform)[0] == pytest.approx(1.0)


# --------------------------------------------------------------------------- precision / recall
def test_precision_recall_identical_clouds():
    x = torch.randn(1000, 8)
    assert precision_recall(x, x.clone()) == (1.0, 1.0)


def test_precision_recall_disjoint_clouds():
    x = torch.randn(1000, 8)
    assert precision_recall(x, x + 100) == (0.0, 0.0)


def test_precision_recall_half_coverage():
    # real: uniform on [0, 2] x [0, 1]; fake: uniform on the left half only
    g = torch.Generator().manual_seed(5)
    real = torch.rand(4000, 2, generator=g) * torch.tensor([2.0, 1.0])
    fake = torch.rand(4000, 2, generator=g)
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.97
    assert recall == pytest.approx(0.5, abs=0.04)


def test_knn_radii_exclude_the_point_itself():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]


# --------------------------------------------------------------------------- class coverage
def test_class_coverage_on_crafted_probabilities():
    k = 10
    real = np.eye(k)[np.arange(1000) % k]
    even = class_coverage(real, real)
    assert even["class_entropy"] == pytest.approx(math.log(k))
    assert even["class_kl"] == pytest.approx(0.0, abs=1e-2) and even["classes_missing"] == 0
    collapsed = class_coverage(np.tile(np.eye(k)[2], (1000, 1)), real)
    assert collapsed["class_entropy"] == pytest.approx(0.0) and collapsed["classes_missing"] == 9
    assert collapsed["class_kl"] > 3  # 9 of 10 classes missing: large but finite (smoothed)
    half = class_coverage(np.eye(k)[np.arange(1000) % 5], real)
    assert half["class_entropy"] == pytest.approx(math.log(5))
    assert collapsed["class_kl"] > half["class_kl"] > even["class_kl"]


def test_class_coverage_accepts_a_real_histogram():
    fake = np.eye(4)[[0, 0, 1, 1, 2, 2, 3, 3]]
    out = class_coverage(fake, real_hist=[2, 2, 2, 2])
    assert out["class_kl"] == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- memorisation
def test_memorisation_flags_copies_not_fresh_samples():
    g = torch.Generator().manual_seed(6)
    train = torch.randn(2000, 32, generator=g)
    copies = train[:300].clone()
    fresh = torch.randn(300, 32, generator=g)
    held_out_rate = memorisation(torch.randn(1000, 32, generator=g), train)["memorised_fraction"]
    memo_copies = memorisation(copies, train)
    memo_fresh = memorisation(fresh, train)
    assert memo_copies["memorised_fraction"] == 1.0 and memo_copies["median_nn_ratio"] < 1e-3
    assert memo_fresh["memorised_fraction"] < 0.5
    assert memo_fresh["memorised_fraction"] == pytest.approx(held_out_rate, abs=0.1)
    assert memo_fresh["median_nn_ratio"] > 0.8
    mixed = memorisation(torch.cat([copies, fresh]), train)
    assert mixed["n_flagged"] == 300 + memo_fresh["n_flagged"]
