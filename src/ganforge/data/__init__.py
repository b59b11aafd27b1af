"""Training images: named datasets, image folders and numpy files, loaded once into memory.

Named datasets are a registry (:mod:`.sources`): adding one is one function decorated with
``@register_source("name", ...)``; folders and array files are recognised by path.

``load_data(cfg)`` returns an :class:`ImageData` whose images are already at their final size
and channel count, as uint8, so a training step only has to index, move and scale a batch
(``to_model_range``). Every problem with the input is a :class:`ganforge.errors.DataError`
with a one-line message naming the file and the fix.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import DataConfig
from ..errors import DataError
from .download import cache_dir
from .sources import SOURCES, DataSource, evaluator_for, find_source, known_names, register_source, source_name
from .transform import convert_channels, fit_square, resize_square, select

__all__ = ["ImageData", "load_data", "data_name", "absolute_data_paths", "is_data_path", "cache_dir",
           "to_model_range", "from_model_range", "DATASETS", "SOURCES", "DataSource", "register_source", "find_source",
           "source_name", "evaluator_for"]

ARRAY_SUFFIXES = (".npy", ".npz")
FOLDER_DEFAULT_SIZE = 64


@dataclass(repr=False)
class ImageData:
    """A whole dataset in memory, at its final size."""

    # layout: (N, C, H, W), uint8 0..255, C-contiguous, on the CPU; H == W; C is 1 or 3.
    images: torch.Tensor
    labels: torch.Tensor | None  # int64 (N,), ids into class_names; None when the source has none
    class_names: list[str] | None  # class id -> name, when known
    name: str  # short name for run folders: "fashion-mnist", "mnist", "cifar10", folder/file stem
    source_path: str | None  # where it was read from, for messages
    # a prepared set left on disk (images is then a memory map): training streams its batches
    streamed: bool = False
    # how the images were brought to their size, in words ("28x28 padded to 32x32 with the
    # background (0)"); "" when they are at their own size
    fit: str = ""

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def size(self) -> int:
        return self.images.shape[-1]

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        labels = "no labels" if self.labels is None else f"{len(self.class_names or [])} classes"
        return f"ImageData({self.name!r}: {n} x {c}x{h}x{w} uint8, {labels}, from {self.source_path})"


def __getattr__(name: str):
    # DATASETS: the names of the registered sources, in registration order (a live view of SOURCES).
    if name == "DATASETS":
        return tuple(SOURCES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def data_name(cfg: DataConfig) -> str:
    """The short name of ``cfg.source`` (for run folder names) without loading anything."""
    named = source_name(cfg.source)
    if named:
        return named
    p = Path(cfg.source).expanduser()
    stem = (p.resolve().name if p.is_dir() or p.name in ("", ".", "..") else
            p.stem if p.suffix.lower() in ARRAY_SUFFIXES else p.name)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "data"


def is_data_path(source: str) -> bool:
    """Whether ``source`` names a file or folder rather than a registered dataset."""
    return find_source(source) is None


def _absolute(path: str) -> str:
    # absolute and normalised, but symlinks kept: the path the user chose, from anywhere
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def absolute_data_paths(cfg: DataConfig) -> DataConfig:
    """A copy of ``cfg`` whose data paths are absolute: ``source`` when it is a folder or array
    file (a dataset name stays a name) and ``data_dir``. A run stores its config this way, so
    it can be resumed, evaluated and searched from any working directory."""
    source = _absolute(cfg.source) if is_data_path(cfg.source) else cfg.source
    data_dir = _absolute(cfg.data_dir) if cfg.data_dir else cfg.data_dir
    return dataclasses.replace(cfg, source=source, data_dir=data_dir)


def load_data(cfg: DataConfig, default_size: int | None = None, progress: bool = True) -> ImageData:
    """Load the images ``cfg`` describes, filtered, converted and resized once.

    Size is ``cfg.size``, else ``default_size`` (the model's native size), else the data's
    own (for image folders, which have none: 64, with a warning). Channels are
    ``cfg.channels``, else the data's. ``cfg.source`` is the name of a registered source
    (:data:`SOURCES`: fashion-mnist, mnist, cifar10), a folder of images, or a .npy/.npz file;
    a name wins over a same-named folder in the working directory (write ``./mnist`` for the
    folder). ``progress`` shows download and decode progress bars on stderr. Raises DataError
    on any problem with the data.
    """
    size = cfg.size or default_size
    named = find_source(cfg.source)
    if named:
        if cfg.load == "stream":
            raise DataError(f"--data-load stream: {named.name} is read into memory; only a prepared set "
                            f"(ganforge prepare-data) can be streamed")
        images, labels, names, where = named.load(cfg.data_dir, cfg.split, progress)
        return _finish(images, labels, names, named.name, where, cfg, size, shown=named.name)

    path = Path(cfg.source).expanduser()
    if not path.exists():
        raise DataError(f"--data {cfg.source}: no such file or folder, and not a dataset name "
                        f"(known: {known_names()}); give a dataset name, a folder of images "
                        f"or a .npy/.npz file")
    is_dir = path.is_dir()
    from .prepared import is_prepared
    if is_dir and is_prepared(path):
        from .prepared import load_prepared
        images, labels, names, streamed = load_prepared(path, cfg.size, cfg.channels, cfg.class_name, cfg.limit,
                                                        cfg.load)
        return ImageData(images=images, labels=labels, class_names=names, name=data_name(cfg),
                         source_path=str(path), streamed=streamed)
    if cfg.load == "stream":
        raise DataError(f"--data-load stream: {cfg.source} is not a prepared set; only those can be streamed "
                        f"(ganforge prepare-data FOLDER --size N --out DIR, then --data DIR)")
    if not is_dir and path.suffix.lower() not in ARRAY_SUFFIXES:
        raise DataError(f"--data {cfg.source}: is a file but not .npy or .npz; give a folder of "
                        f"images, a .npy/.npz file or a dataset name ({known_names()})")
    if cfg.split != "train":
        what = "an image folder" if is_dir else "an array file"
        raise DataError(f"--split {cfg.split}: {cfg.source} is {what}, which has one split only; "
                        f"drop --split or give a folder/file holding the test images")
    name = data_name(cfg)
    if is_dir:
        from .folder import load_folder
        if size is None:
            print(f"note: {path}: no --size given for an image folder; images are resized to "
                  f"{FOLDER_DEFAULT_SIZE}x{FOLDER_DEFAULT_SIZE} (give --size N)", file=sys.stderr)
            size = FOLDER_DEFAULT_SIZE
        images, labels, names = load_folder(path, size, cfg.channels, cfg.class_name, cfg.limit, progress)
        # class and limit are already applied; this only checks and converts channels
        return _finish(images, labels, names, name, str(path), cfg, size, shown=str(path), filtered=True)
    from .arrays import load_array_file
    images, labels, names = load_array_file(path)
    return _finish(images, labels, names, name, str(path), cfg, size, shown=str(path))


def _finish(images, labels, names, name, where, cfg: DataConfig, size, shown, filtered=False) -> ImageData:
    if not filtered:
        images, labels = select(images, labels, names, cfg.class_name, cfg.limit, shown)
    c = cfg.channels
    # convert channels on whichever side of the resize holds fewer pixels
    if c is not None and c < images.shape[1]:
        images = convert_channels(images, c)
    fitted = ""
    if size is not None:
        images, fitted = fit_square(images, size, cfg.fit)
    elif images.shape[2] != images.shape[3]:
        images = resize_square(images, min(images.shape[2], images.shape[3]))
    images = convert_channels(images, c)
    return ImageData(images=images.contiguous(), labels=labels, class_names=names,
                     name=name, source_path=where, fit=fitted)


_OUTPUTS = ("tanh", "linear", "sigmoid")


def to_model_range(batch_uint8: torch.Tensor, output: str) -> torch.Tensor:
    """uint8 images -> float32 on the same device: [-1, 1] for a ``"tanh"`` or ``"linear"``
    generator output, [0, 1] for ``"sigmoid"``. Exact inverse: :func:`from_model_range`."""
    if batch_uint8.dtype != torch.uint8:
        raise TypeError(f"to_model_range expects uint8 images, got {batch_uint8.dtype}")
    x = batch_uint8.to(torch.float32)
    if output in ("tanh", "linear"):
        return x.div_(127.5).sub_(1.0)
    if output == "sigmoid":
        return x.div_(255.0)
    raise ValueError(f"unknown generator output {output!r} (known: {', '.join(_OUTPUTS)})")


def from_model_range(x: torch.Tensor, output: str) -> torch.Tensor:
    """Model-range floats -> uint8 images (clamped, rounded), on the same device; the inverse
    of :func:`to_model_range`. Detaches, so it is safe on a generator's output."""
    y = x.detach().to(torch.float32)
    if output in ("tanh", "linear"):
        y = (y + 1.0) * 127.5
    elif output == "sigmoid":
        y = y * 255.0
    else:
        raise ValueError(f"unknown generator output {output!r} (known: {', '.join(_OUTPUTS)})")
    return y.nan_to_num_(0.0).clamp_(0, 255).round_().to(torch.uint8)
