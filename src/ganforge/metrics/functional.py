"""Sample-quality metrics as pure functions on feature arrays.

Every function takes features (or class probabilities) as numpy arrays or torch tensors of
layout (N, D) (N (N, K) for probabilities), works on the CPU, and returns plain Python numbers
(or a dict of them). Nothing here knows about images, networks or files, so each metric can be
checked against its closed form on synthetic data.

Pairwise distances are computed in row chunks of about ``CHUNK_BYTES`` of float32, so a
10,000 x 60,000 comparison never holds the full distance matrix in memory.
"""
from __future__ import annotations

import math
from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]

# Largest (chunk x reference) float32 distance block held at once: 64 MiB.
CHUNK_BYTES = 64 << 20


def _tensor(x: Array, dtype: torch.dtype, name: str, ndim: int) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))
    if t.dim() != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {tuple(t.shape)}")
    return t.to("cpu", dtype)


# --------------------------------------------------------------------------- Fréchet distance
def feature_statistics(features: Array) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64.

    These are the Gaussian fits that the Fréchet distance compares (divisor N - 1, as in the
    reference FID code's ``np.cov``).
    """
    f = _tensor(features, torch.float64, "features", 2)
    n = f.shape[0]
    if n < 2:
        raise ValueError(f"feature_statistics needs at least 2 rows, got {n}")
    mu = f.mean(0)
    centred = f - mu
    sigma = centred.T @ centred / (n - 1)
    return mu.numpy(), sigma.numpy()


def _psd_sqrt(sym: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix via its eigendecomposition;
    round-off negatives among the eigenvalues are clipped to 0."""
    w, v = torch.linalg.eigh((sym + sym.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    """Fréchet (2-Wasserstein) distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2):

        FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

    With Inception-v3 pool features this is the FID of Heusel et al., "GANs Trained by a Two
    Time-Scale Update Rule Converge to a Local Nash Equilibrium" (NeurIPS 2017); with another
    feature network it is the same distance in that network's feature space.

    Computed in float64. Tr((S1 S2)^(1/2)) equals Tr((S1^(1/2) S2 S1^(1/2))^(1/2)), whose inner
    matrix is symmetric PSD, so both square roots come from symmetric eigendecompositions
    (stable for singular covariances, no complex round-off as with a general ``sqrtm``).
    Tiny negative results from round-off are returned as 0.
    """
    m1 = _tensor(mu1, torch.float64, "mu1", 1)
    m2 = _tensor(mu2, torch.float64, "mu2", 1)
    s1 = _tensor(sigma1, torch.float64, "sigma1", 2)
    s2 = _tensor(sigma2, torch.float64, "sigma2", 2)
    d = m1.shape[0]
    if m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance: shapes do not match: mu1 {tuple(m1.shape)}, mu2 {tuple(m2.shape)}, "
                         f"sigma1 {tuple(s1.shape)}, sigma2 {tuple(s2.shape)}")
    diff = m1 - m2
    s1_half = _psd_sqrt(s1)
    inner = s1_half @ s2 @ s1_half
    tr_covmean = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()
    fd = diff @ diff + torch.trace(s1) + torch.trace(s2) - 2 * tr_covmean
    return max(float(fd), 0.0)


def frechet_distance_features(features1: Array, features2: Array) -> float:
    """:func:`frechet_distance` between the Gaussian fits of two feature sets (N1, D), (N2, D)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


# --------------------------------------------------------------------------- KID
def kernel_inception_distance(real: Array, fake: Array, *, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """Kernel distance (KID) of Bińkowski et al., "Demystifying MMD GANs" (ICLR 2018).

    The unbiased estimate of the squared maximum mean discrepancy with the cubic polynomial
    kernel k(x, y) = (x.y / D + 1)^3, averaged over ``num_subsets`` random subsets of
    ``subset_size`` rows drawn (without replacement) from each set:

        MMD^2_u = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1))
                  - 2 sum_{i,j} k(x_i, y_j) / m^2

    Returns (mean, std over subsets). Unbiased, so two samples of one distribution give a mean
    near 0 that can be slightly negative. ``subset_size`` is capped at the smaller set's size.
    Deterministic for a given ``seed``. Kernel values are float32 (relative error ~1e-7 each,
    independent), their sums float64.
    """
    x = _tensor(real, torch.float32, "real", 2)
    y = _tensor(fake, torch.float32, "fake", 2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"KID: feature sizes differ: {x.shape[1]} vs {y.shape[1]}")
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 rows in each set")
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    # Subsets go through in batches (one bmm per kernel matrix kind) of about 8M kernel values.
    idx_x = torch.from_numpy(np.stack([rng.choice(x.shape[0], m, replace=False) for _ in range(num_subsets)]))
    idx_y = torch.from_numpy(np.stack([rng.choice(y.shape[0], m, replace=False) for _ in range(num_subsets)]))
    per_batch = max(1, (8 << 20) // (m * m))

    def kernel_sums(a: torch.Tensor, b: torch.Tensor, same: bool) -> torch.Tensor:
        k = torch.bmm(a, b.transpose(1, 2)).div_(d).add_(1).pow_(3).double()  # (S, m, m)
        total = k.sum((1, 2))
        return total - k.diagonal(dim1=1, dim2=2).sum(1) if same else total

    values = []
    for i in range(0, num_subsets, per_batch):
        xs, ys = x[idx_x[i:i + per_batch]], y[idx_y[i:i + per_batch]]
        mmd = ((kernel_sums(xs, xs, True) + kernel_sums(ys, ys, True)) / (m * (m - 1))
               - 2 * kernel_sums(xs, ys, False) / (m * m))
        values += mmd.tolist()
    v = np.asarray(values)
    return float(v.mean()), float(v.std())


# --------------------------------------------------------------------------- classifier score
def classifier_score(probs: Array, splits: int = 10) -> tuple[float, float]:
    """Inception-score style classifier score of Salimans et al., "Improved Techniques for
    Training GANs" (NeurIPS 2016), with any classifier's class probabilities p(y|x) (N, K):

        score = exp( E_x[ KL( p(y|x) || p(y) ) ] ),   p(y) = E_x[ p(y|x) ]

    computed on each of ``splits`` consecutive equal parts; returns (mean, std) over the parts,
    as the original code does. Ranges from 1 (every image gets the same prediction) to K
    (confident predictions, all classes equally often). Computed in float64; 0 log 0 = 0.
    """
    p = _tensor(probs, torch.float64, "probs", 2).numpy()
    if p.shape[0] < splits:
        raise ValueError(f"classifier_score: {p.shape[0]} rows cannot make {splits} splits")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0)
        scores.append(math.exp(float(terms.sum(1).mean())))
    s = np.asarray(scores)
    return float(s.mean()), float(s.std())


# --------------------------------------------------------------------------- distances
def _row_chunk(n_ref: int) -> int:
    return max(1, CHUNK_BYTES // (4 * max(1, n_ref)))


def _sq_dists(q: torch.Tensor, r: torch.Tensor, r_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (len(q), len(r)) in float32, clipped at 0."""
    # |q|^2 + |r|^2 - 2 q.r with one matrix product and in-place updates: this is memory-bound
    d2 = torch.addmm(r_sq[None, :], q, r.T, alpha=-2.0)
    return d2.add_((q * q).sum(1, keepdim=True)).clamp_(min=0)


def nearest_neighbours(query: Array, ref: Array, k: int = 1, *, exclude_self: bool = False
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to, and index of, the k-th nearest row of ``ref`` for every row of ``query``.

    exclude_self: ``query`` is ``ref`` itself; each row's own entry does not count as a neighbour.
    Returns (distances float32 (Nq,), indices int64 (Nq,)). The search runs in float32 chunks;
    the returned distance is then recomputed exactly (float64) for the neighbour found.
    """
    q = _tensor(query, torch.float32, "query", 2)
    r = _tensor(ref, torch.float32, "ref", 2)
    need = k + 1 if exclude_self else k
    if r.shape[0] < need:
        raise ValueError(f"nearest_neighbours: k={k} needs at least {need} reference rows, got {r.shape[0]}")
    r_sq = (r * r).sum(1)
    idx = torch.empty(q.shape[0], dtype=torch.int64)
    step = _row_chunk(r.shape[0])
    for i in range(0, q.shape[0], step):
        d2 = _sq_dists(q[i:i + step], r, r_sq)
        if exclude_self:
            rows = torch.arange(d2.shape[0])
            d2[rows, rows + i] = float("inf")  # own entry; duplicates elsewhere still count
        idx[i:i + step] = d2.topk(k, dim=1, largest=False).indices[:, k - 1]
    dist = (q.double() - r[idx].double()).norm(dim=1).float()
    return dist, idx


def knn_radii(features: Array, k: int = 3) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (N,): the radius of its k-NN ball."""
    return nearest_neighbours(features, features, k, exclude_self=True)[0]


def _in_any_ball(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Whether each point lies within distance radii[j] of some centre j (bool (N,))."""
    c_sq = (centres * centres).sum(1)
    r2 = radii.to(torch.float32) ** 2
    out = torch.empty(points.shape[0], dtype=torch.bool)
    step = _row_chunk(centres.shape[0])
    for i in range(0, points.shape[0], step):
        out[i:i + step] = (_sq_dists(points[i:i + step], centres, c_sq) <= r2[None, :]).any(1)
    return out


def precision_recall(real: Array, fake: Array, k: int = 3, *, real_radii: Array | None = None,
                     fake_radii: Array | None = None) -> tuple[float, float]:
    """Improved precision and recall of Kynkäänniemi et al., "Improved Precision and Recall
    Metric for Assessing Generative Models" (NeurIPS 2019).

    Each set's manifold is the union of balls around its points, each with the radius to that
    point's k-th nearest neighbour within its own set. Precision is the fraction of fake rows
    inside the real manifold (are the samples realistic?); recall is the fraction of real rows
    inside the fake manifold (is the data's variety covered?). Use sets of equal size: the radii
    shrink as a set grows. ``real_radii``/``fake_radii``: precomputed :func:`knn_radii`.
    """
    r = _tensor(real, torch.float32, "real", 2)
    f = _tensor(fake, torch.float32, "fake", 2)
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"precision_recall: feature sizes differ: {r.shape[1]} vs {f.shape[1]}")
    rr = knn_radii(r, k) if real_radii is None else _tensor(real_radii, torch.float32, "real_radii", 1)
    fr = knn_radii(f, k) if fake_radii is None else _tensor(fake_radii, torch.float32, "fake_radii", 1)
    precision = _in_any_ball(f, r, rr).double().mean().item()
    recall = _in_any_ball(r, f, fr).double().mean().item()
    return precision, recall


# --------------------------------------------------------------------------- class coverage
def class_histogram(probs_or_labels: Array, num_classes: int | None = None) -> np.ndarray:
    """Counts (K,) of predicted classes: argmax of probabilities (N, K), or integer labels (N,)."""
    a = probs_or_labels.detach().cpu().numpy() if isinstance(probs_or_labels, torch.Tensor) \
        else np.asarray(probs_or_labels)
    if a.ndim == 2:
        num_classes = num_classes or a.shape[1]
        a = a.argmax(1)
    elif a.ndim != 1:
        raise ValueError(f"class_histogram: expected probabilities (N, K) or labels (N,), got {a.shape}")
    if num_classes is None:
        num_classes = int(a.max()) + 1 if a.size else 0
    return np.bincount(a.astype(np.int64), minlength=num_classes).astype(np.float64)


def class_coverage(fake_probs: Array, real_probs: Array | None = None, *, real_hist: Array | None = None,
                   pseudo_count: float = 1.0) -> dict[str, float]:
    """How evenly the fakes spread over the classes a classifier sees, and how that matches the data.

    h_f: histogram of the classifier's predicted (argmax) classes over the fakes, normalised;
    h_r: the same for real images (``real_probs``, or counts given as ``real_hist``).

    * ``class_entropy`` = -sum h_f log h_f, in nats; ``log K`` (also returned) means every class
      equally often, 0 means one class only: a direct read-out of mode collapse across classes.
    * ``class_kl`` = KL(h_r || h_f) = sum h_r log(h_r / h_f), in nats; 0 when the fakes' class
      mix matches the data's. A class the fakes never hit would make this infinite, so h_f takes
      ``pseudo_count`` extra counts per class (Laplace smoothing) before normalising.
    * ``classes_missing``: classes with no fake predicted as them.
    """
    counts_f = class_histogram(fake_probs)
    k = counts_f.shape[0]
    if real_hist is not None:
        counts_r = np.asarray(real_hist, dtype=np.float64)
    elif real_probs is not None:
        counts_r = class_histogram(real_probs, k)
    else:
        counts_r = None
    h_f = counts_f / counts_f.sum()
    out = {"class_entropy": max(0.0, float(-(h_f[h_f > 0] * np.log(h_f[h_f > 0])).sum())),
           "class_entropy_max": math.log(k), "classes_missing": int((counts_f == 0).sum())}
    if counts_r is not None:
        if counts_r.shape != (k,):
            raise ValueError(f"class_coverage: real histogram has {counts_r.shape} bins, fakes have {k}")
        h_r = counts_r / counts_r.sum()
        h_fs = (counts_f + pseudo_count) / (counts_f.sum() + pseudo_count * k)
        nz = h_r > 0
        out["class_kl"] = float((h_r[nz] * np.log(h_r[nz] / h_fs[nz])).sum())
    return out


# --------------------------------------------------------------------------- memorisation
def memorisation(fake: Array, train: Array, train_nn_radii: Array | None = None) -> dict[str, float]:
    """Memorisation check: the fraction of fakes that sit closer to a training image than any
    other training image does.

    For each fake x with nearest training row t_j (in feature space), x is flagged when
    ||x - t_j|| < r_j, where r_j is the distance from t_j to its own nearest neighbour among the
    other training rows (``train_nn_radii``, computed when not given). A copy of a training image
    is flagged; a fresh sample from the data distribution is flagged only as often as a held-out
    real image is (compare against that rate). In the spirit of the nearest-neighbour copy
    checks of Meehan et al. (2020) and the authenticity test of Alaa et al. (2022).

    Returns ``memorised_fraction``, ``n_flagged`` and ``median_nn_ratio`` (median of
    ||x - t_j|| / r_j; well below 1 means samples hug training images).
    """
    f = _tensor(fake, torch.float32, "fake", 2)
    t = _tensor(train, torch.float32, "train", 2)
    radii = knn_radii(t, 1) if train_nn_radii is None else _tensor(train_nn_radii, torch.float32,
                                                                    "train_nn_radii", 1)
    if radii.shape[0] != t.shape[0]:
        raise ValueError(f"memorisation: {radii.shape[0]} radii for {t.shape[0]} training rows")
    dist, idx = nearest_neighbours(f, t, 1)
    r = radii[idx]
    flagged = dist < r
    ratio = dist / r.clamp(min=1e-12)
    return {"memorised_fraction": flagged.double().mean().item(), "n_flagged": int(flagged.sum()),
            "median_nn_ratio": float(ratio.median())}
