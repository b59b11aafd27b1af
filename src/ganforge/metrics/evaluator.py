"""The evaluator: one feature network, one real reference, and the metrics that compare them.

:func:`build_evaluator` picks the feature network for the images (:func:`pick_extractor`) and
loads or computes the real reference statistics; the :class:`Evaluator` it returns scores
generated images against them and knows its protocol and its real-vs-real floor. The two
offline commands build on it in :mod:`.evaluate`; the training loop gets one from
:func:`make_training_evaluator`, so the loop never chooses networks or references itself.

Feature network (see :func:`pick_extractor`): grey images use the CNN classifier trained on
the run's dataset (fashion-mnist or mnist; other grey data: ``evaluator=``, default
fashion-mnist), resized to 28x28; RGB images use the FID Inception-v3 when its weights are
available, else the cifar10 classifier. A missing evaluator is a one-line error naming the
command that trains it.

Training loop API
-----------------
::

    from ganforge.metrics import make_training_evaluator

    ev, why = make_training_evaluator(cfg, n=10_000)   # cfg: the run's resolved RunConfig
    if ev is None:
        log(f"no metrics during training: {why}")       # e.g. the evaluator is not trained yet
    else:
        log(ev.protocol)                                # dict; store it once beside the metrics
    ...
    metrics = ev(G_sampler)

``G_sampler(n)`` must return ``n`` generated images as uint8 (n, C, H, W) (any device), the
same layout as ``ganforge.generator.generate``; it is called once per evaluation with ``ev.n``.
``metrics`` is a flat dict of floats: ``fd``, ``kid``, ``kid_std``, ``precision``,
``recall``, ``classifier_score``, ``classifier_score_std``, ``class_entropy``, ``class_kl``,
``classes_missing`` and ``eval_seconds`` (and ``memorised_fraction``, ``median_nn_ratio``
with ``metrics=ALL_METRICS``). Lower ``fd`` is better: keep ``best.pt`` by it. The first
call for a dataset computes and caches its reference statistics (seconds to a minute on a
CPU); later evaluations of 10,000 samples take a few seconds plus the sampling.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..config import DataConfig, RunConfig
from ..data import ImageData, load_data
from ..data.transform import crop_centre, fit_mode, resize_square
from ..data.sources import evaluator_for, source_name
from ..errors import ConfigError, GanforgeError
from .networks import EVALUATOR_SPECS, EvaluatorError, FeatureExtractor, evaluator_path, load_evaluator
from .refstats import ReferenceStats, key_filename, reference_stats
from .registry import ALL_METRICS, METRICS, TRAINING_METRICS, compute_metrics, metric_protocols

EVALUATOR_CHOICES = (*EVALUATOR_SPECS, "inception")
DEFAULT_N = 10_000

Sampler = Callable[[int], torch.Tensor]


# --------------------------------------------------------------------------- choosing the network
def pick_extractor(channels: int, fits: str | None = None, requested: str | None = None,
                   inception_weights: str | Path | None = None) -> FeatureExtractor:
    """The feature network for images with ``channels`` channels.

    fits: the classifier evaluator that fits the images' source
    (:func:`ganforge.data.sources.evaluator_for`), if any.
    requested: an explicit choice (fashion-mnist, mnist, cifar10, inception) wins. Otherwise
    fashion-mnist/mnist data get their own classifier, other grey data the fashion-mnist one,
    RGB data the FID Inception-v3 if its weights are found, else the cifar10 classifier.
    Raises EvaluatorError (one line, with the command or download that fixes it).
    """
    from .inception import find_inception_weights, load_inception

    if requested:
        if requested not in EVALUATOR_CHOICES:
            raise EvaluatorError(f"--evaluator: unknown evaluator {requested!r} (known: {', '.join(EVALUATOR_CHOICES)})")
        return load_inception(inception_weights) if requested == "inception" else load_evaluator(requested)
    if fits in ("fashion-mnist", "mnist"):
        return load_evaluator(fits)
    if channels == 1:
        return load_evaluator("fashion-mnist")
    if find_inception_weights(inception_weights, required=False) is not None:
        return load_inception(inception_weights)
    if fits == "cifar10" or evaluator_path("cifar10").is_file():
        return load_evaluator("cifar10")
    raise EvaluatorError("RGB images need the FID Inception-v3 weights (see --inception-weights) or the "
                         "CIFAR-10 classifier: ganforge evaluator train --data cifar10")


# --------------------------------------------------------------------------- the evaluator
def _against_training_data(metrics: Iterable[str]) -> list[str]:
    """The metrics among ``metrics`` that compare fakes with the generator's training images."""
    return [m for m in metrics if m in METRICS and METRICS[m].against_training_data]


class Evaluator:
    """Compares generated images with one real reference, in one feature space.

    Call it with a sampler (``metrics = ev(G_sampler)``) or use :meth:`evaluate_images` on
    uint8 images. ``protocol`` says what the numbers mean; ``floor()`` gives the real-vs-real
    floor when a second real split is known.
    """

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceStats, *, n: int = DEFAULT_N,
                 train_reference: ReferenceStats | None = None, floor_source: ReferenceStats | None = None,
                 held_out: ReferenceStats | None = None, metrics: Iterable[str] = TRAINING_METRICS,
                 seed: int = 0, protocol: dict[str, Any] | None = None, transform: SizeTransform | None = None):
        if n < 2:
            raise ConfigError(f"-n: need at least 2 samples to evaluate (got {n})")
        self.extractor = extractor
        self.reference = reference
        self.train_reference = train_reference  # the generator's training data, for memorisation
        self.floor_source = floor_source  # other real images for the real-vs-real floor
        self.held_out = held_out  # real images the generator never saw (memorisation floor)
        self.n = int(n)
        self.metrics = tuple(metrics)
        self.seed = seed
        self.transform = transform or SizeTransform()
        self.protocol: dict[str, Any] = {
            **extractor.describe(), "n_fake": self.n, "n_real": reference.n, "reference": reference.label(),
            "split": reference.key["split"],
            "resize_real": reference.key["resize"],
            **metric_protocols(self.n, reference.rows),
            **(protocol or {})}
        if self.transform.describe():
            self.protocol["transform"] = self.transform.describe()
        if train_reference is not None:
            for name in _against_training_data(self.metrics):
                self.protocol[f"{name}_ref"] = train_reference.label()

    def evaluate_images(self, images: torch.Tensor, progress: bool = False) -> dict[str, float]:
        """Metrics of uint8 images (N, C, H, W) against the reference; adds ``eval_seconds``."""
        t0 = time.perf_counter()
        feats, probs = self.features(images.cpu(), progress=progress)
        out = compute_metrics(feats, probs, self.reference, train_reference=self.train_reference,
                              metrics=self.metrics, seed=self.seed)
        out["eval_seconds"] = round(time.perf_counter() - t0, 2)
        return out

    def features(self, images: torch.Tensor, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features (and class probabilities) of generated uint8 images, scored as trained: the
        centre crop of a run that trained on padded data."""
        return self.extractor(self.transform.fakes(images), progress=progress, desc="fake features")

    def __call__(self, sampler: Sampler) -> dict[str, float]:
        t0 = time.perf_counter()
        images = sampler(self.n)
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
            what = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"the sampler must return uint8 images (n, C, H, W), got {what}")
        out = self.evaluate_images(images)
        out["eval_seconds"] = round(time.perf_counter() - t0, 2)
        return out

    def floor(self, n: int | None = None) -> dict[str, float] | None:
        """The same metrics for ``n`` real images of the other split (a seeded subset) against the
        reference; metrics against the training data (memorisation) for held-out real images.
        Cached with the reference statistics."""
        src = self.floor_source
        if src is None:
            return None
        n = min(n or self.n, src.rows)
        key = f"{key_filename(src.key)}|n={n}|{','.join(sorted(self.metrics))}|seed={self.seed}"
        floors = self.reference.extra.setdefault("floors", {})
        if key not in floors:
            feats = src.features[:n].float()
            probs = None if src.probs is None else src.probs[:n].float()
            against_train = _against_training_data(self.metrics)
            values = compute_metrics(feats, probs, self.reference, seed=self.seed,
                                     metrics=[m for m in self.metrics if m not in against_train])
            if against_train and self.train_reference is not None and self.held_out is not None:
                held = self.held_out.features[:n].float()
                values.update(compute_metrics(held, None, self.reference, train_reference=self.train_reference,
                                              metrics=against_train, seed=self.seed))
            floors[key] = values
            self.reference.save()
        return dict(floors[key])

    def floor_protocol(self, n: int | None = None) -> str | None:
        if self.floor_source is None:
            return None
        n = min(n or self.n, self.floor_source.rows)
        text = (f"{n} real {self.floor_source.key['data']} {self.floor_source.key['split']} images "
                f"(seeded subset) vs the same reference")
        if self.held_out is not None:
            for name in _against_training_data(self.metrics):
                text += f"; {name}: {min(n, self.held_out.rows)} held-out {self.held_out.key['split']} images"
        return text


# --------------------------------------------------------------------------- building one
def load_for_extractor(source: str, split: str, extractor: FeatureExtractor, *, data_dir: str | None = None,
                       class_name: str | None = None, limit: int | None = None,
                       progress: bool = True) -> tuple[ImageData, dict]:
    """Real images for ``extractor``: named datasets and arrays at their own shape (the extractor
    converts them), folders at the extractor's size. Returns the data and key details."""
    named = source_name(source)
    details: dict[str, Any] = {"class": class_name, "limit": limit}
    if named:
        cfg = DataConfig(source=source, data_dir=data_dir, class_name=class_name, split=split, limit=limit)
    else:
        p = Path(source).expanduser()
        size = (extractor.size or 64) if p.is_dir() else None
        channels = extractor.channels if p.is_dir() else None
        cfg = DataConfig(source=source, size=size, channels=channels, class_name=class_name, limit=limit)
        details["source"] = str(p.resolve())
        if p.is_dir():
            details["load"] = f"folder images scaled to {size}x{size} (shorter side, centre crop), {channels} channel(s)"
    return load_data(cfg, progress=progress), details


@dataclass(frozen=True)
class SizeTransform:
    """What training did to the real images' size, and what scoring does to undo it.

    mode "pad": training padded ``side`` x ``side`` data to ``size`` with its background; the
    samples' centre ``side`` x ``side`` is scored (exact). mode "resize": training resized the data
    to ``size``; the real reference goes through the same round trip (``side`` -> ``size`` -> the
    feature network's input), so samples and reals are compared after the same blur. "none": the
    data was at the model's size."""

    mode: str = "none"
    side: int = 0  # the data's own side
    size: int = 0  # the side the model trained at

    @classmethod
    def of(cls, images: torch.Tensor, data: DataConfig | None) -> "SizeTransform":
        """The transform training applied to the real ``images`` (at their own size) for a run
        on ``data`` (its stored config, whose ``size`` is the model's)."""
        if data is None or not data.size:
            return cls()
        h, w = int(images.shape[-2]), int(images.shape[-1])
        mode = fit_mode(h, w, int(data.size), data.fit)
        return cls() if mode == "none" or h != w else cls(mode, h, int(data.size))

    def reals(self, images: torch.Tensor) -> torch.Tensor:
        """Real images as the reference sees them: through the round trip's first half when resized."""
        return resize_square(images, self.size) if self.mode == "resize" else images

    def fakes(self, images: torch.Tensor) -> torch.Tensor:
        """Generated images as they are scored: the centre crop when training padded."""
        if self.mode == "pad" and images.shape[-1] == self.size:
            return crop_centre(images, self.side, self.side)
        return images

    def key(self) -> str | None:
        """What the reference statistics' cache key records (None: untouched reals)."""
        return f"resized {self.side}->{self.size} px (antialiased bilinear), as in training" \
            if self.mode == "resize" else None

    def describe(self) -> str | None:
        """The protocol's line, or None when there was nothing to undo."""
        if self.mode == "pad":
            return (f"trained on {self.side}x{self.side} data padded to {self.size}x{self.size} with its background; "
                    f"the samples' centre {self.side}x{self.side} is scored (exact: the floor is the untouched one)")
        if self.mode == "resize":
            return (f"trained on {self.side}x{self.side} data resized to {self.size}x{self.size}; the real images "
                    f"go through the same round trip ({self.side}->{self.size}->features), so reals and samples "
                    f"share its blur, and the floor is real-vs-real after it")
        return None


def _stats(source: str, split: str, extractor: FeatureExtractor, *, progress: bool, log,
           data_cfg: DataConfig | None = None, **kw) -> tuple[ReferenceStats, SizeTransform]:
    """Reference statistics of ``source``'s ``split``, with the images first put through what
    training did to them (``data_cfg``: the run's stored data config), and that transform."""
    data, details = load_for_extractor(source, split, extractor, progress=progress, **kw)
    named = source_name(source)
    transform = SizeTransform.of(data.images, data_cfg)
    if transform.key():
        details["round_trip"] = transform.key()
    stats = reference_stats(transform.reals(data.images), extractor, data=named or data.name,
                            split=split if named else "train", details=details, progress=progress, log=log)
    return stats, transform


def build_evaluator(data: DataConfig, channels: int, *, n: int = DEFAULT_N, split: str = "test",
                    evaluator: str | None = None, inception_weights: str | Path | None = None,
                    metrics: Iterable[str] = ALL_METRICS, floor: bool = True, seed: int = 0,
                    progress: bool = True, log=print, note: str | None = None) -> Evaluator:
    """An :class:`Evaluator` for generators trained on ``data`` (a run's DataConfig) making
    ``channels``-channel images: reference = the ``split`` of a named dataset (same class
    filter; the train split keeps ``limit``), or the data itself when it has one split (it is
    then also the memorisation reference, and there is no floor). note: added to the protocol.
    What training did to the data's size (``data.size``, ``data.fit``) is undone in scoring
    (:class:`SizeTransform`)."""
    if split not in ("train", "test"):
        raise ConfigError(f"--split: must be train or test (got {split!r})")
    metrics = tuple(metrics)
    dataset = source_name(data.source)
    extractor = pick_extractor(channels, evaluator_for(data.source), evaluator, inception_weights)
    common = dict(extractor=extractor, data_dir=data.data_dir, class_name=data.class_name, progress=progress, log=log,
                  data_cfg=data)
    extra: dict[str, Any] = {"note": note} if note else {}
    transform = SizeTransform()
    if dataset:
        test = train = None
        if split == "test" or floor or _against_training_data(metrics):
            test, transform = _stats(data.source, "test", **common)
        if split == "train" or floor or _against_training_data(metrics):
            train, transform = _stats(data.source, "train", limit=data.limit, **common)
        reference = test if split == "test" else train
        other = train if split == "test" else test
        ev = Evaluator(extractor, reference, n=n, train_reference=train, floor_source=other if floor else None,
                       held_out=test, metrics=metrics, seed=seed, protocol=extra, transform=transform)
    else:
        reference, transform = _stats(data.source, "train", limit=data.limit, **common)
        ev = Evaluator(extractor, reference, n=n, train_reference=reference, metrics=metrics, seed=seed,
                       protocol=extra, transform=transform)
    return ev


def one_split_note(data: DataConfig) -> str | None:
    """Why a run on a folder or array has no floor: its data is its own reference."""
    if source_name(data.source):
        return None
    return "the run's data has one split: compared with its training images themselves (no floor)"


def make_training_evaluator(cfg: RunConfig, n: int = DEFAULT_N, *, metrics: Iterable[str] = TRAINING_METRICS,
                            device: str | torch.device | None = None, progress: bool = False,
                            log=None) -> tuple[Evaluator | None, str]:
    """An evaluator for use during training, or ``(None, reason)`` when none can be had.

    cfg: the run's resolved config (its data source, class, limit and channels). n: samples per
    evaluation. metrics: subset of :data:`ALL_METRICS` (memorisation also caches the train split's
    features on first use). device: where the feature network runs (default: the run's device).
    Returns ``(evaluator, "")`` or ``(None, one-line reason)``, e.g. the command that trains the
    missing evaluator. See the module docstring for the calling convention.
    """
    try:
        channels = cfg.data.channels
        if channels is None:
            from ..models import ARCHS

            spec = ARCHS.get(cfg.model.arch)
            channels = int(load_data(cfg.data, default_size=spec.native_size if spec else None,
                                     progress=False).images.shape[1])
        ev = build_evaluator(cfg.data, channels, n=n, split="test", metrics=metrics, floor=False,
                             seed=0, progress=progress, log=log, note=one_split_note(cfg.data))
    except GanforgeError as e:
        return None, str(e)
    if device is not None or cfg.train.device != "cpu":
        from ..device import resolve_device

        try:
            ev.extractor.to(resolve_device(str(device or cfg.train.device)))
        except ConfigError as e:
            return None, str(e)
    return ev, ""




class LazyTrainingEvaluator:
    """A training evaluator built at its first call (see :func:`make_training_evaluator`): runs
    that end before their first evaluation never load a feature network or real statistics. If
    it cannot be built, it says why once and returns None from then on."""

    def __init__(self, cfg: RunConfig, log=print):
        self.cfg, self.log = cfg, log
        self.evaluator: Evaluator | None = None
        self.failed = False

    @property
    def protocol(self) -> dict[str, Any]:
        return self.evaluator.protocol if self.evaluator is not None else {}

    def __call__(self, sampler: Sampler) -> dict[str, float] | None:
        if self.evaluator is None:
            if self.failed:
                return None
            t0 = time.perf_counter()
            self.evaluator, why = make_training_evaluator(self.cfg, n=self.cfg.train.eval_n)
            if self.evaluator is None:
                self.failed = True
                self.log(f"note: no metrics during training: {why}")
                return None
            out = self.evaluator(sampler)
            # the first evaluation's cost includes loading the network and the real statistics
            out["eval_seconds"] = round(out["eval_seconds"] + time.perf_counter() - t0, 2)
            return out
        return self.evaluator(sampler)
