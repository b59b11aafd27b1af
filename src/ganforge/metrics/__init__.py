"""Sample-quality metrics: feature networks, pure metric functions, cached reference statistics.

* :mod:`.functional` - FD/FID, KID, classifier (Inception-style) score, precision/recall,
  class coverage and the memorisation check, as pure functions on feature arrays.
* :mod:`.networks` - the per-dataset CNN classifiers whose penultimate layer is the feature
  space for small images, their training and their cache files.
* :mod:`.inception` - Inception-v3 in the FID reference layout (weights supplied by the user).
* :mod:`.refstats` - statistics of real splits, computed once and cached by a full key.
* :mod:`.registry` - the metrics by name (``@register_metric``): how each is computed from
  features and shown in the table; :func:`compute_metrics` runs any subset.
* :mod:`.evaluator` - choosing the network and reference, the protocol and the floor:
  :class:`Evaluator`, :func:`build_evaluator`, and :func:`make_training_evaluator` for the loop.
* :mod:`.evaluate` - ``ganforge evaluate``: :func:`evaluate_run`, :func:`evaluate_images`.

Importing this package loads torch and numpy and nothing else: the evaluator and the two
commands (which reach data loading and the generator) load on first use of their names.
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
    weights_hash,
)
from .refstats import ReferenceStats, reference_stats
from .registry import ALL_METRICS, METRICS, TRAINING_METRICS, compute_metrics, register_metric

kid = kernel_inception_distance

# Names that resolve on first use: they pull in data loading, the models and the generator.
_LAZY = {
    "Evaluator": "evaluator", "build_evaluator": "evaluator", "make_training_evaluator": "evaluator",
    "LazyTrainingEvaluator": "evaluator", "train_evaluator": "classifier_training",
    "pick_extractor": "evaluator", "EvalResult": "evaluate", "format_table": "evaluate",
    "evaluate_run": "evaluate", "evaluate_images": "evaluate",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "frechet_distance", "frechet_distance_features", "feature_statistics", "kernel_inception_distance", "kid",
    "classifier_score", "precision_recall", "knn_radii", "nearest_neighbours", "class_coverage",
    "class_histogram", "memorisation",
    "ClassifierNet", "FeatureExtractor", "EvaluatorError", "EVALUATOR_SPECS", "evaluator_path",
    "load_evaluator", "train_evaluator", "weights_hash", "ReferenceStats", "reference_stats",
    "METRICS", "ALL_METRICS", "TRAINING_METRICS", "compute_metrics", "register_metric", *_LAZY,
]
