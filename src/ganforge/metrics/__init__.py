"""Sample-quality metrics: feature networks, pure metric functions, cached reference statistics.

* :mod:`.functional` - FD/FID, KID, classifier (Inception-style) score, precision/recall,
  class coverage and the memorisation check, as pure functions on feature arrays.
* :mod:`.networks` - the per-dataset CNN classifiers whose penultimate layer is the feature
  space for small images, their training and their cache files.
* :mod:`.inception` - Inception-v3 in the FID reference layout (weights supplied by the user).
* :mod:`.refstats` - statistics of real splits, computed once and cached by a full key.

Putting them together (sampling a generator, choosing the network, the protocol) is
:mod:`ganforge.evaluate`. Importing this package loads torch and numpy and nothing else.
"""
from .functional import (
    class_coverage,
    class_histogram,
    classifier_score,
    feature_statistics,
    frechet_distance,
    frechet_distance_features,
    kernel_inception_distance,
    knn_radii,
    memorisation,
    nearest_neighbours,
    precision_recall,
)
from .networks import (
    EVALUATOR_SPECS,
    ClassifierNet,
    EvaluatorError,
    FeatureExtractor,
    evaluator_path,
    load_evaluator,
    train_evaluator,
    weights_hash,
)
from .refstats import ReferenceStats, reference_stats

kid = kernel_inception_distance

__all__ = [
    "frechet_distance", "frechet_distance_features", "feature_statistics", "kernel_inception_distance", "kid",
    "classifier_score", "precision_recall", "knn_radii", "nearest_neighbours", "class_coverage",
    "class_histogram", "memorisation",
    "ClassifierNet", "FeatureExtractor", "EvaluatorError", "EVALUATOR_SPECS", "evaluator_path",
    "load_evaluator", "train_evaluator", "weights_hash", "ReferenceStats", "reference_stats",
]
