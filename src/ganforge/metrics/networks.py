"""Feature networks: small per-dataset CNN classifiers ("evaluators") and the file format they
are cached in (their training: :mod:`.classifier_training`).

A metric is only as meaningful as the feature space it is computed in. For grey 28x28 data the
usual Inception-v3 features (trained on 299x299 colour photos) see little; a classifier trained
on the dataset itself separates its images well. :class:`ClassifierNet` is that classifier: six
3x3 conv layers with BatchNorm, global average pooling, one linear layer to the class logits.
Its penultimate layer (the pooled conv features) is the feature space of FD/KID/PR, its softmax
the p(y|x) of the classifier score and class coverage.

An evaluator is trained once per dataset (``ganforge evaluator train --data fashion-mnist``)
and stored as ``<cache>/evaluators/<dataset>.pt``: a plain dict with a ``state_dict`` and a
``meta`` dict, read with ``torch.load(weights_only=True)``. Its identity in every protocol and
cache key is :func:`weights_hash`, a hash of the weights themselves.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn

from ..errors import GanforgeError
from ..images import atomic_write

EVALUATOR_FORMAT = "ganforge-evaluator"
EVALUATOR_VERSION = 1


class EvaluatorError(GanforgeError):
    """A feature network is missing, corrupt or unsuitable; the message says how to fix it."""


@dataclass(frozen=True)
class EvaluatorSpec:
    """What an evaluator for a dataset looks like and how it is trained."""

    dataset: str  # the dataset name the classifier is trained on (ganforge.data.DATASETS)
    channels: int  # input channels: 1 grey, 3 RGB
    size: int  # input side in pixels
    num_classes: int
    flip: bool  # random horizontal flips are a valid augmentation (not for digits)
    epochs: int  # default training length
    min_accuracy: float  # a warning is printed below this test accuracy


EVALUATOR_SPECS = {
    "fashion-mnist": EvaluatorSpec("fashion-mnist", 1, 28, 10, flip=True, epochs=5, min_accuracy=0.92),
    "mnist": EvaluatorSpec("mnist", 1, 28, 10, flip=False, epochs=3, min_accuracy=0.99),
    "cifar10": EvaluatorSpec("cifar10", 3, 32, 10, flip=True, epochs=10, min_accuracy=0.80),
}


# --------------------------------------------------------------------------- the network
def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ClassifierNet(nn.Module):
    """Three stages of two 3x3 conv + BatchNorm + ReLU layers (max-pool between stages), global
    average pooling, one linear layer. ``features`` is the pooled output (``widths[-1]`` values,
    the penultimate layer); ``forward`` gives logits.

    Input: float (N, in_channels, H, W), already normalised (see :class:`FeatureExtractor`);
    any H, W divisible by 4.
    """

    def __init__(self, *, in_channels: int = 1, num_classes: int = 10, widths: tuple[int, int, int] = (32, 64, 128)):
        super().__init__()
        a, b, c = widths
        self.body = nn.Sequential(
            *_conv_bn_relu(in_channels, a), *_conv_bn_relu(a, a), nn.MaxPool2d(2),
            *_conv_bn_relu(a, b), *_conv_bn_relu(b, b), nn.MaxPool2d(2),
            *_conv_bn_relu(b, c), *_conv_bn_relu(c, c),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, num_classes)
        self.feature_dim = c

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x)
        return f, self.head(f)


def weights_hash(state_dict: dict[str, torch.Tensor]) -> str:
    """The first 12 hex digits of a SHA-256 over every tensor, in sorted key order: the name,
    dtype and shape, then the raw bytes (CPU, contiguous). Same weights, same hash, anywhere."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------- feature extraction
class FeatureExtractor:
    """A feature network with everything a protocol needs to name it.

    Call it on uint8 images (N, C, H, W) in any size and channel count: they are converted to
    the network's input (BT.601 luma or grey replication, antialiased bilinear resize with a
    centre crop, as the data loader does), scaled, and run in batches in float32. Returns
    ``(features float32 (N, feature_dim), probs float32 (N, K) or None)`` on the CPU.
    """

    def __init__(self, net: nn.Module, *, name: str, hash: str, channels: int, size: int | None,
                 feature_dim: int, num_classes: int | None, prepare: Callable[[torch.Tensor], torch.Tensor],
                 forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]],
                 meta: dict[str, Any] | None = None, input_rule: str = "", batch_size: int = 500):
        self.net = net.eval()
        self.name = name  # e.g. "fashion-mnist-cnn", "inception-v3-fid"
        self.hash = hash
        self.channels = channels  # input channels the network takes
        self.size = size  # input side the images are brought to before the network; None: as they come
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.meta = dict(meta or {})
        self.input_rule = input_rule  # what the network itself does to its input, for the protocol
        self.batch_size = batch_size  # images per forward pass by default
        self._prepare = prepare
        self._forward = forward
        self.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> "FeatureExtractor":
        self.device = torch.device(device)
        self.net.to(self.device)
        return self

    def convert(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> uint8 at the network's channels and size."""
        from ..data.transform import convert_channels, resize_square

        _check_uint8(images)
        if images.shape[1] != self.channels:
            images = convert_channels(images, self.channels)
        side = self.size or min(images.shape[-2:])
        if images.shape[-2:] != (side, side):
            images = resize_square(images, side)
        return images

    def resize_rule(self, channels: int, size: int) -> str:
        """In words, what happens to (channels, size x size) images before the features."""
        steps = []
        if channels != self.channels:
            steps.append("grey replicated to RGB" if channels == 1 else "RGB to grey (BT.601 luma)")
        if self.size is not None and size != self.size:
            steps.append(f"resized {size}->{self.size} px (antialiased bilinear)")
        if self.input_rule:
            steps.append(self.input_rule)
        return "; ".join(steps) or f"none ({channels}x{size}x{size} as is)"

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int | None = None, progress: bool = False,
                 desc: str = "features") -> tuple[torch.Tensor, torch.Tensor | None]:
        from ..progress import progress_bar

        _check_uint8(images)
        n = images.shape[0]
        batch_size = batch_size or self.batch_size
        feats = torch.empty(n, self.feature_dim, dtype=torch.float32)
        probs = torch.empty(n, self.num_classes, dtype=torch.float32) if self.num_classes else None
        with progress_bar(total=n, desc=desc, unit="img", disable=not progress, file=sys.stderr, leave=False) as bar:
            for i in range(0, n, batch_size):
                x = self._prepare(self.convert(images[i:i + batch_size]).to(self.device))
                f, logits = self._forward(x)
                feats[i:i + batch_size] = f.float().cpu()
                if probs is not None and logits is not None:
                    probs[i:i + batch_size] = torch.softmax(logits.float(), 1).cpu()
                bar.update(x.shape[0])
        return feats, probs

    def describe(self) -> dict[str, Any]:
        """The protocol entries naming this network."""
        return {"feature_network": self.name, "feature_hash": self.hash, "feature_dim": self.feature_dim,
                "feature_input": f"{self.channels}x{self.size}x{self.size}" if self.size else
                f"{self.channels}xHxW", "feature_precision": "fp32"}


def _check_uint8(images: torch.Tensor) -> None:
    # layout: (N, C, H, W) uint8, C in {1, 3}
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4 \
            or images.shape[1] not in (1, 3):
        what = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected uint8 images (N, C, H, W) with C 1 or 3, got {what}")


def classifier_extractor(net: ClassifierNet, meta: dict[str, Any], hash: str) -> FeatureExtractor:
    """Wrap a trained :class:`ClassifierNet` and its metadata as a :class:`FeatureExtractor`."""
    mean, std = float(meta["mean"]), float(meta["std"])
    channels_last = torch.channels_last

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return ((x.float() / 255.0 - mean) / std).contiguous(memory_format=channels_last)

    net = net.to(memory_format=channels_last)
    return FeatureExtractor(net, name=f"{meta['dataset']}-cnn", hash=hash, channels=int(meta["channels"]),
                            size=int(meta["size"]), feature_dim=net.feature_dim,
                            num_classes=int(meta["num_classes"]), prepare=prepare,
                            forward=net.features_and_logits, meta=meta)


# --------------------------------------------------------------------------- files
def evaluator_path(dataset: str) -> Path:
    """Where the evaluator for ``dataset`` lives: ``<cache>/evaluators/<dataset>.pt`` (not created)."""
    from ..data.download import cache_root

    return cache_root() / "evaluators" / f"{dataset}.pt"


def train_command(dataset: str) -> str:
    return f"ganforge evaluator train --data {dataset}"


def save_evaluator(net: ClassifierNet, meta: dict[str, Any], path: str | Path) -> Path:
    """Write ``{"format", "version", "state_dict", "meta"}`` atomically; ``meta["hash"]`` is set here."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    # plain JSON types only, so the file loads with weights_only=True (torch.__version__, for one,
    # is a str subclass the safe unpickler refuses)
    meta = {**json.loads(json.dumps(meta, default=str)), "hash": weights_hash(state)}
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        torch.save({"format": EVALUATOR_FORMAT, "version": EVALUATOR_VERSION, "state_dict": state, "meta": meta}, f)
    return path


def load_failure(e: BaseException) -> str:
    """Why torch.load (or load_state_dict) failed, as a short plain line."""
    from ..data.download import one_line

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    if "Weights only load failed" in text:
        return "it holds objects other than tensors and plain values"
    return one_line(Exception(text), 100)


def load_evaluator_file(path: str | Path, dataset: str | None = None) -> FeatureExtractor:
    """Read an evaluator file; any problem is an EvaluatorError naming the file and the rebuild command."""
    path = Path(path)
    dataset = dataset or path.stem
    rebuild = f"delete it and rebuild it with: {train_command(dataset)}"
    if not path.is_file():
        raise EvaluatorError(f"no {dataset} evaluator yet ({path} is missing); train it once "
                             f"(a few minutes on a CPU): {train_command(dataset)}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle garbage, unsafe globals: all mean a bad file
        raise EvaluatorError(f"{path}: corrupt evaluator file ({load_failure(e)}); {rebuild}") from None
    if not isinstance(blob, dict) or blob.get("format") != EVALUATOR_FORMAT:
        raise EvaluatorError(f"{path}: not a ganforge evaluator file; {rebuild}")
    if blob.get("version", 0) > EVALUATOR_VERSION:
        raise EvaluatorError(f"{path}: written by a newer ganforge (evaluator version {blob['version']}); "
                             f"upgrade ganforge or {rebuild}")
    meta, state = blob.get("meta"), blob.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise EvaluatorError(f"{path}: corrupt evaluator file (no weights or metadata); {rebuild}")
    if weights_hash(state) != meta.get("hash"):
        raise EvaluatorError(f"{path}: corrupt evaluator file (weights do not match their hash); {rebuild}")
    try:
        net = ClassifierNet(in_channels=int(meta["channels"]), num_classes=int(meta["num_classes"]),
                            widths=tuple(int(w) for w in meta["widths"]))
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise EvaluatorError(f"{path}: corrupt evaluator file ({load_failure(e)}); {rebuild}") from None
    return classifier_extractor(net, meta, meta["hash"])


def load_evaluator(dataset: str) -> FeatureExtractor:
    """The classifier evaluator for ``dataset`` (fashion-mnist, mnist, cifar10): the user's own in
    the cache where there is one, else the one shipped in the package (see :mod:`.shipped`)."""
    from .shipped import SHIPPED, shipped_file

    if dataset not in EVALUATOR_SPECS:
        raise EvaluatorError(f"--evaluator: no classifier evaluator for {dataset!r} "
                             f"(known: {', '.join(EVALUATOR_SPECS)}, inception)")
    path, packaged = evaluator_path(dataset), shipped_file(dataset)
    if path.is_file() or packaged is None:
        return load_evaluator_file(path, dataset)
    ex = load_evaluator_file(packaged, dataset)
    if ex.hash != SHIPPED[dataset]:
        raise EvaluatorError(f"{packaged}: the packaged {dataset} evaluator is not the one this ganforge "
                             f"ships (hash {ex.hash}, expected {SHIPPED[dataset]}); reinstall ganforge")
    return ex


def list_evaluators() -> list[dict[str, Any]]:
    """Metadata of every evaluator in use: the cache's, else the shipped one (a broken file is listed
    with its error)."""
    from .shipped import shipped_file

    rows = []
    for dataset in EVALUATOR_SPECS:
        path = evaluator_path(dataset)
        if not path.exists():
            path = shipped_file(dataset)
        if path is None or not path.exists():
            continue
        try:
            rows.append({**load_evaluator_file(path, dataset).meta, "path": str(path)})
        except EvaluatorError as e:
            rows.append({"dataset": dataset, "path": str(path), "error": str(e)})
    return rows


def random_evaluator(dataset: str = "fashion-mnist", *, widths: tuple[int, int, int] = (8, 8, 16),
                     seed: int = 0) -> tuple[ClassifierNet, dict[str, Any]]:
    """An untrained (random-weight) classifier and its metadata, for tests of the plumbing only:
    its features are meaningless as a quality measure."""
    spec = EVALUATOR_SPECS[dataset]
    torch.manual_seed(seed)
    net = ClassifierNet(in_channels=spec.channels, num_classes=spec.num_classes, widths=widths).eval()
    meta = {"dataset": dataset, "channels": spec.channels, "size": spec.size, "num_classes": spec.num_classes,
            "class_names": None, "widths": list(widths), "mean": 0.5, "std": 0.5, "test_accuracy": None,
            "random_weights": True}
    return net, meta
