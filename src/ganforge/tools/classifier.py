"""The evaluator classifier as the tools see it, and the class names of a run.

Arithmetic needs class probabilities (to find exemplars of a class in an unconditional run and
to read out what the results look like) and neighbours need a feature space; both come from
the classifier ``ganforge evaluator train`` caches in :mod:`ganforge.metrics`, reached only
through :func:`find_evaluator` and handed on as plain callables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

# classify(images uint8 (N, C, H, W)) -> class probabilities float (N, K)
Classify = Callable[[torch.Tensor], torch.Tensor]
# features(images uint8 (N, C, H, W)) -> feature vectors float (N, F)
Features = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class ToolClassifier:
    """What the tools take from an evaluator classifier: its class names, class probabilities of
    images (arithmetic's class concepts and read-out) and features (neighbours in feature space).
    Plain callables, so the tool functions need no metrics code and a test can pass a fake one."""

    class_names: list[str]
    classify: Classify
    features: Features | None = None
    name: str = "evaluator"


def find_evaluator(dataset: str, device: str | torch.device = "cpu") -> tuple[ToolClassifier | None, str]:
    """The cached evaluator classifier for ``dataset`` (see ``ganforge evaluator train``).

    Returns ``(evaluator, "")``, or ``(None, why not)`` when there is none for this dataset.
    """
    try:
        from ..metrics import EVALUATOR_SPECS, EvaluatorError, load_evaluator
    except ImportError as e:  # pragma: no cover - the metrics package ships with ganforge
        return None, f"the evaluator code is unavailable ({e})"
    if dataset not in EVALUATOR_SPECS:
        return None, (f"evaluators exist for {', '.join(EVALUATOR_SPECS)} only, and this run's data is "
                      f"{dataset!r}")
    try:
        ex = load_evaluator(dataset).to(device)
    except EvaluatorError as e:
        return None, str(e)
    names = list(ex.meta.get("class_names") or [str(i) for i in range(ex.num_classes or 0)])
    return ToolClassifier(class_names=names, classify=lambda x: ex(x)[1],
                          features=lambda x: ex(x, progress=x.shape[0] > 5000, desc="evaluator features")[0],
                          name=f"{ex.name} ({ex.hash})"), ""


def run_class_names(G: nn.Module) -> list[str] | None:
    """The class names stored with G's run, if any.

    :func:`ganforge.generator.load_generator` sets ``G.class_names`` (None for a run without
    them); only a G that lacks the attribute but knows its checkpoint has them read from there.
    """
    if hasattr(G, "class_names"):
        return list(G.class_names) if G.class_names else None
    path = getattr(G, "checkpoint_path", None)
    if path:
        from ..checkpoint import load_checkpoint

        names = load_checkpoint(path).get("class_names")
        return list(names) if names else None
    return None
