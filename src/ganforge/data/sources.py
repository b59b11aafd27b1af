"""Named data sources: the registry behind ``--data fashion-mnist`` and its kin.

A named source is one function decorated with :func:`register_source`; the decorator records
the names it answers to, its class names and the evaluator network that fits it. Everything
else that is not a name (image folders, .npy/.npz files) is resolved by path in
``ganforge.data.load_data``.

A source's loader is called as ``load(data_dir, split, progress)`` and returns
``(images, labels, class_names, where)``: uint8 images (N, C, H, W), int64 labels (N,) or None,
the class names or None, and the folder the files were read from (for messages).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch

from .cifar import CLASSES as CIFAR10_CLASSES
from .cifar import load_cifar10
from .idx import FASHION_MNIST_CLASSES, MNIST_CLASSES, load_idx_dataset

Loaded = tuple[torch.Tensor, torch.Tensor | None, list[str] | None, str]
Loader = Callable[[str | None, str, bool], Loaded]


@dataclass(frozen=True)
class DataSource:
    """One named data source."""

    name: str  # the canonical name: run folders, reference statistics and messages use it
    load: Loader  # load(data_dir, split, progress) -> (images, labels, class_names, where)
    aliases: tuple[str, ...]  # other names accepted for --data (matched like the name, see _key)
    class_names: tuple[str, ...] | None  # class id -> name, when the source has labels
    evaluator: str | None  # the classifier evaluator trained on it (ganforge.metrics.networks), if any
    description: str
    # the side a model of free size (no native size, no --size) trains this set at; None: the data's own
    model_size: int | None = None

    def answers_to(self, source: str) -> bool:
        """Whether ``--data source`` means this source."""
        return _key(source) in {_key(n) for n in (self.name, *self.aliases)}


SOURCES: dict[str, DataSource] = {}


def _key(source: str) -> str:
    # Case, spaces, dashes and underscores do not matter: Fashion_MNIST, fashion mnist, cifar-10.
    return re.sub(r"[-_ ]", "", source.strip().lower())


def register_source(name: str, *, aliases: tuple[str, ...] = (), class_names: list[str] | None = None,
                    evaluator: str | None = None, description: str = "", model_size: int | None = None):
    """Decorator: register ``load(data_dir, split, progress)`` as the data source ``name``.

    aliases: other names ``--data`` accepts for it; class_names: its classes in label order;
    evaluator: the name of the classifier evaluator that fits it (None: none does); model_size:
    the side a model of free size trains it at by default (None: the data's own).
    """

    def decorate(load: Loader) -> Loader:
        for taken in SOURCES.values():
            clash = [n for n in (name, *aliases) if taken.answers_to(n)]
            if clash:
                raise ValueError(f"data source {name!r}: {clash[0]!r} already names {taken.name!r}")
        SOURCES[name] = DataSource(name, load, tuple(aliases), None if class_names is None else tuple(class_names),
                                   evaluator, description, model_size)
        return load

    return decorate


def find_source(source: str) -> DataSource | None:
    """The named source ``source`` refers to (by name or alias), else None: a path, then."""
    return next((s for s in SOURCES.values() if s.answers_to(source)), None)


def source_name(source: str) -> str | None:
    """The canonical name of the named source ``source`` refers to, else None."""
    found = find_source(source)
    return found.name if found else None


def evaluator_for(source: str) -> str | None:
    """The classifier evaluator that fits ``--data source`` (fashion-mnist, mnist, cifar10), else None.

    Only named sources have one; a folder or array file gets None whatever it holds.
    """
    found = find_source(source)
    return found.evaluator if found else None


def model_size(source: str) -> int | None:
    """The side a model of free size trains ``--data source`` at by default (None: the data's own)."""
    found = find_source(source)
    return found.model_size if found else None


def known_names() -> str:
    """The registered names, for error messages: ``fashion-mnist, mnist, cifar10``."""
    return ", ".join(SOURCES)


# --------------------------------------------------------------------------- the named sources
# The 28-px sets train at 32 px, padded with their black background (--fit): measured better at
# equal CPU time for the default recipe (docs/results.md, "Fashion-MNIST at 32 px").
@register_source("fashion-mnist", aliases=("fmnist",), class_names=FASHION_MNIST_CLASSES, evaluator="fashion-mnist",
                 description="Zalando's 70,000 28x28 grey clothing images, 10 classes (IDX files)", model_size=32)
def _fashion_mnist(data_dir: str | None, split: str, progress: bool) -> Loaded:
    return load_idx_dataset("fashion-mnist", data_dir, split, progress)


@register_source("mnist", class_names=MNIST_CLASSES, evaluator="mnist",
                 description="LeCun's 70,000 28x28 grey handwritten digits (IDX files)", model_size=32)
def _mnist(data_dir: str | None, split: str, progress: bool) -> Loaded:
    return load_idx_dataset("mnist", data_dir, split, progress)


@register_source("cifar10", class_names=CIFAR10_CLASSES, evaluator="cifar10",
                 description="Krizhevsky's 60,000 32x32 RGB images, 10 classes (python pickles)")
def _cifar10(data_dir: str | None, split: str, progress: bool) -> Loaded:
    return load_cifar10(data_dir, split, progress)


@register_source("emoji", aliases=("noto-emoji",),
                 description="the ~1,450 distinct colour emoji of the Noto Color Emoji font (Debian package "
                             "fonts-noto-color-emoji), rendered once on white, RGB; every 10th is the test split")
def _emoji(data_dir: str | None, split: str, progress: bool) -> Loaded:
    from .emoji import load_emoji

    images, where = load_emoji(data_dir, split, progress)
    return images, None, None, where
