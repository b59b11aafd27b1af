"""The sample-quality metrics by name: how each is computed from features, and how it is shown.

A metric is one function decorated with :func:`register_metric`. It receives the fake
images' features (and class probabilities) with the cached real statistics as one
:class:`MetricInputs`, and returns a flat dict of values (empty when its inputs are missing,
e.g. no class probabilities). The decorator records its rows in the printed table and the
sentence its protocol line states, so the evaluator, the floor, ``--json`` and the table all
follow :data:`METRICS` and nothing else names a metric. Order of registration is the order
of the values, the protocol and the table rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch

from .functional import (
    class_coverage,
    classifier_score,
    feature_statistics,
    frechet_distance,
    kernel_inception_distance,
    memorisation,
    precision_recall,
)
from .refstats import PR_K, PR_ROWS, ReferenceStats

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
SCORE_SPLITS = 10


@dataclass(frozen=True)
class MetricInputs:
    """What every metric may read: fake features (N, D) float32, their class probabilities
    (N, K) or None, the real reference, the generator's training data (or None), the seed."""

    fake: torch.Tensor
    probs: torch.Tensor | None
    reference: ReferenceStats
    train_reference: ReferenceStats | None
    seed: int


@dataclass(frozen=True)
class TableRow:
    """One line of the printed table: the value ``key`` (``± std`` when present) times ``scale``,
    with the real-vs-real floor beside it. label: text, or a function of the protocol dict for
    labels that depend on it (FID vs FD, the class count)."""

    key: str
    label: str | Callable[[dict[str, Any]], str]
    better: str  # "lower", "higher" or "near floor"
    scale: float = 1.0
    std: str | None = None
    digits: int = 3

    def title(self, protocol: dict[str, Any]) -> str:
        return self.label(protocol) if callable(self.label) else self.label


# the protocol line of a metric: (fake sample count, real reference rows) -> one sentence
Protocol = Callable[[int, int], str]


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric. ``training``: computed during training by default (cheap enough
    to repeat). ``against_training_data``: compares fakes with the generator's own training
    images (needs ``train_reference``); its floor uses held-out real images instead of the
    other split."""

    name: str
    compute: Callable[[MetricInputs], dict[str, float]]
    rows: tuple[TableRow, ...]
    protocol: Protocol | None = None
    training: bool = True
    against_training_data: bool = False


METRICS: dict[str, MetricSpec] = {}


def register_metric(name: str, *, rows: Iterable[TableRow], protocol: Protocol | None = None,
                    training: bool = True, against_training_data: bool = False):
    """Decorator: register ``compute(inputs) -> {value name: float}`` as metric ``name``."""

    def decorate(compute: Callable[[MetricInputs], dict[str, float]]):
        if name in METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        METRICS[name] = MetricSpec(name, compute, tuple(rows), protocol, training, against_training_data)
        return compute

    return decorate


def kid_protocol(n_fake: int, n_real: int) -> str:
    m = min(KID_SUBSET_SIZE, n_fake, n_real)
    return f"unbiased MMD^2, kernel (x.y/d+1)^3, {KID_SUBSETS} subsets of {m}"


# --------------------------------------------------------------------------- the metrics


@register_metric("fd", rows=[TableRow(
    "fd", lambda p: "FID" if p.get("feature_network", "").startswith("inception") else "FD", "lower", digits=4)])
def _fd(x: MetricInputs) -> dict[str, float]:
    return {"fd": frechet_distance(*feature_statistics(x.fake), x.reference.mu, x.reference.sigma)}


@register_metric("kid", rows=[TableRow("kid", "KID x 1000", "lower", 1000.0, "kid_std", 2)], protocol=kid_protocol)
def _kid(x: MetricInputs) -> dict[str, float]:
    kid, std = kernel_inception_distance(x.reference.features, x.fake, num_subsets=KID_SUBSETS,
                                         subset_size=KID_SUBSET_SIZE, seed=x.seed)
    return {"kid": kid, "kid_std": std}


@register_metric("precision_recall",
                 rows=[TableRow("precision", f"precision (k={PR_K})", "higher"),
                       TableRow("recall", f"recall (k={PR_K})", "higher")],
                 protocol=lambda n_fake, n_real: f"k={PR_K}, {min(n_fake, PR_ROWS, n_real)} per side")
def _precision_recall(x: MetricInputs) -> dict[str, float]:
    n_pr = min(x.fake.shape[0], PR_ROWS, x.reference.rows)
    real, radii = x.reference.pr_reference(n_pr)
    precision, recall = precision_recall(real, x.fake[:n_pr], PR_K, real_radii=radii)
    return {"precision": precision, "recall": recall}


@register_metric("classifier_score",
                 rows=[TableRow("classifier_score", "classifier score", "near floor", std="classifier_score_std",
                                digits=2)],
                 protocol=lambda n_fake, n_real: f"{SCORE_SPLITS} splits")
def _classifier_score(x: MetricInputs) -> dict[str, float]:
    if x.probs is None or x.probs.shape[0] < SCORE_SPLITS:
        return {}
    score, std = classifier_score(x.probs, SCORE_SPLITS)
    return {"classifier_score": score, "classifier_score_std": std}


def _entropy_label(protocol: dict[str, Any]) -> str:
    k = protocol.get("num_classes")
    return "class entropy (nats)" + (f", max {math.log(k):.2f}" if k else "")


@register_metric("coverage", rows=[TableRow("class_entropy", _entropy_label, "near floor"),
                                   TableRow("class_kl", "class KL(real || fake)", "lower", digits=4)])
def _coverage(x: MetricInputs) -> dict[str, float]:
    if x.probs is None:
        return {}
    cov = class_coverage(x.probs, real_hist=x.reference.class_counts)
    return {k: cov[k] for k in ("class_entropy", "class_kl", "classes_missing") if k in cov}


@register_metric("memorisation", rows=[TableRow("memorised_fraction", "memorised fraction", "near floor", digits=4)],
                 training=False, against_training_data=True)
def _memorisation(x: MetricInputs) -> dict[str, float]:
    train = x.train_reference
    if train is None:
        return {}
    memo = memorisation(x.fake, train.features, train.nn_radii())
    return {"memorised_fraction": memo["memorised_fraction"], "median_nn_ratio": memo["median_nn_ratio"]}


# --------------------------------------------------------------------------- using them

ALL_METRICS = tuple(METRICS)
TRAINING_METRICS = tuple(name for name, spec in METRICS.items() if spec.training)


def compute_metrics(fake_features: torch.Tensor, fake_probs: torch.Tensor | None, reference: ReferenceStats, *,
                    train_reference: ReferenceStats | None = None, metrics: Iterable[str] = ALL_METRICS,
                    seed: int = 0) -> dict[str, float]:
    """Every metric in ``metrics`` for fake features (N, D) (and class probabilities (N, K))
    against cached real statistics. Metrics against the training data need ``train_reference``."""
    which = set(metrics)
    unknown = which - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)} (known: {', '.join(METRICS)})")
    inputs = MetricInputs(fake_features.float(), fake_probs, reference, train_reference, seed)
    out: dict[str, float] = {}
    for name, spec in METRICS.items():
        if name in which:
            out.update(spec.compute(inputs))
    return out


def metric_protocols(n_fake: int, n_real: int) -> dict[str, str]:
    """The protocol line of every metric that has one, for ``n_fake`` fakes against ``n_real`` rows."""
    return {name: spec.protocol(n_fake, n_real) for name, spec in METRICS.items() if spec.protocol}


__all__ = ["METRICS", "MetricSpec", "MetricInputs", "TableRow", "register_metric", "ALL_METRICS",
           "TRAINING_METRICS", "compute_metrics", "metric_protocols", "kid_protocol", "KID_SUBSETS",
           "KID_SUBSET_SIZE", "SCORE_SPLITS"]
