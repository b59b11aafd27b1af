"""Evaluate generators and image sets: sample, extract features, compare with cached real statistics.

Entry points
------------
``evaluate_run(path, n=10_000, split="test")`` -> :class:`EvalResult`
    ``ganforge evaluate RUN``: sample ``n`` images from the checkpoint's G_ema (else G) and
    compare them with the test (or train) split of the run's dataset.
``evaluate_images(images, against, n=10_000)`` -> :class:`EvalResult`
    ``ganforge evaluate --images A --against B``: two image sets (folders, .npy/.npz files or
    dataset names).
``make_training_evaluator(cfg, n)`` -> ``(Evaluator | None, reason)``
    for the training loop, below.

Every result carries its protocol (feature network and weights hash, sample counts, the real
reference, the resize rule, the metric settings) and, beside FD and the others, the
real-vs-real floor: the same metrics for ``n`` real training images against the same reference,
the best a generator can expect at this sample size.

Feature network (see :func:`pick_extractor`): grey images use the CNN classifier trained on
the run's dataset (fashion-mnist or mnist; other grey data: ``evaluator=``, default
fashion-mnist), resized to 28x28; RGB images use the FID Inception-v3 when its weights are
available, else the cifar10 classifier. A missing evaluator is a one-line error naming the
command that trains it.

Training loop API
-----------------
::

    from ganforge.evaluate import make_training_evaluator

    ev, why = make_training_evaluator(cfg, n=10_000)   # cfg: the run's resolved RunConfig
    if ev is None:
        log(f"no metrics during training: {why}")       # e.g. the evaluator is not trained yet
    else:
        log(ev.protocol)                                # dict; store it once beside the metrics
    ...
    metrics = ev(G_sampler)

``G_sampler(n)`` must return ``n`` generated images as uint8 (n, C, H, W) (any device), the
same layout as ``ganforge.api.generate``; it is called once per evaluation with ``ev.n``.
``metrics`` is a flat dict of floats: ``fd``, ``kid``, ``kid_std``, ``precision``,
``recall``, ``classifier_score``, ``classifier_score_std``, ``class_entropy``, ``class_kl``,
``classes_missing`` and ``eval_seconds`` (and ``memorised_fraction``, ``median_nn_ratio``
with ``metrics=ALL_METRICS``). Lower ``fd`` is better: keep ``best.pt`` by it. The first
call for a dataset computes and caches its reference statistics (seconds to a minute on a
CPU); later evaluations of 10,000 samples take a few seconds plus the sampling.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from .config import DataConfig, RunConfig
from .data import ImageData, load_data
from .errors import ConfigError, DataError, GanforgeError
from .metrics.functional import (
    class_coverage,
    classifier_score,
    feature_statistics,
    frechet_distance,
    kernel_inception_distance,
    memorisation,
    precision_recall,
)
from .metrics.networks import EVALUATOR_SPECS, EvaluatorError, FeatureExtractor, evaluator_path, load_evaluator
from .metrics.refstats import PR_K, PR_ROWS, ReferenceStats, key_filename, reference_stats

ALL_METRICS = ("fd", "kid", "precision_recall", "classifier_score", "coverage", "memorisation")
TRAINING_METRICS = ("fd", "kid", "precision_recall", "classifier_score", "coverage")
EVALUATOR_CHOICES = (*EVALUATOR_SPECS, "inception")
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
SCORE_SPLITS = 10
DEFAULT_N = 10_000

Sampler = Callable[[int], torch.Tensor]


# --------------------------------------------------------------------------- choosing the network
def dataset_of(source: str) -> str | None:
    """The canonical dataset name ``source`` refers to (fashion-mnist, mnist, cifar10), else None."""
    key = re.sub(r"[-_ ]", "", source.strip().lower())
    return {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist", "mnist": "mnist",
            "cifar10": "cifar10"}.get(key)


def pick_extractor(channels: int, dataset: str | None = None, requested: str | None = None,
                   inception_weights: str | Path | None = None) -> FeatureExtractor:
    """The feature network for images with ``channels`` channels coming from ``dataset``.

    requested: an explicit choice (fashion-mnist, mnist, cifar10, inception) wins. Otherwise
    fashion-mnist/mnist data get their own classifier, other grey data the fashion-mnist one,
    RGB data the FID Inception-v3 if its weights are found, else the cifar10 classifier.
    Raises EvaluatorError (one line, with the command or download that fixes it).
    """
    from .metrics.inception import find_inception_weights, load_inception

    if requested:
        if requested not in EVALUATOR_CHOICES:
            raise EvaluatorError(f"--evaluator: unknown evaluator {requested!r} (known: {', '.join(EVALUATOR_CHOICES)})")
        return load_inception(inception_weights) if requested == "inception" else load_evaluator(requested)
    if dataset in ("fashion-mnist", "mnist"):
        return load_evaluator(dataset)
    if channels == 1:
        return load_evaluator("fashion-mnist")
    if find_inception_weights(inception_weights, required=False) is not None:
        return load_inception(inception_weights)
    if dataset == "cifar10" or evaluator_path("cifar10").is_file():
        return load_evaluator("cifar10")
    raise EvaluatorError("RGB images need the FID Inception-v3 weights (see --inception-weights) or the "
                         "CIFAR-10 classifier: ganforge evaluator train --data cifar10")


# --------------------------------------------------------------------------- metrics on features
def compute_metrics(fake_features: torch.Tensor, fake_probs: torch.Tensor | None, reference: ReferenceStats, *,
                    train_reference: ReferenceStats | None = None, metrics: Iterable[str] = ALL_METRICS,
                    seed: int = 0) -> dict[str, float]:
    """Every metric in ``metrics`` for fake features (N, D) (and class probabilities (N, K))
    against cached real statistics. Memorisation needs ``train_reference``."""
    which = set(metrics)
    unknown = which - set(ALL_METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)} (known: {', '.join(ALL_METRICS)})")
    fake = fake_features.float()
    out: dict[str, float] = {}
    if "fd" in which:
        out["fd"] = frechet_distance(*feature_statistics(fake), reference.mu, reference.sigma)
    if "kid" in which:
        out["kid"], out["kid_std"] = kernel_inception_distance(
            reference.features, fake, num_subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=seed)
    if "precision_recall" in which:
        n_pr = min(fake.shape[0], PR_ROWS, reference.rows)
        real, radii = reference.pr_reference(n_pr)
        out["precision"], out["recall"] = precision_recall(real, fake[:n_pr], PR_K, real_radii=radii)
    if fake_probs is not None:
        if "classifier_score" in which and fake_probs.shape[0] >= SCORE_SPLITS:
            out["classifier_score"], out["classifier_score_std"] = classifier_score(fake_probs, SCORE_SPLITS)
        if "coverage" in which:
            cov = class_coverage(fake_probs, real_hist=reference.class_counts)
            out.update({k: cov[k] for k in ("class_entropy", "class_kl", "classes_missing") if k in cov})
    if "memorisation" in which and train_reference is not None:
        memo = memorisation(fake, train_reference.features, train_reference.nn_radii())
        out["memorised_fraction"], out["median_nn_ratio"] = memo["memorised_fraction"], memo["median_nn_ratio"]
    return out


def kid_protocol(n_fake: int, n_real: int) -> str:
    m = min(KID_SUBSET_SIZE, n_fake, n_real)
    return f"unbiased MMD^2, kernel (x.y/d+1)^3, {KID_SUBSETS} subsets of {m}"


# --------------------------------------------------------------------------- the evaluator
class Evaluator:
    """Compares generated images with one real reference, in one feature space.

    Call it with a sampler (``metrics = ev(G_sampler)``) or use :meth:`evaluate_images` on
    uint8 images. ``protocol`` says what the numbers mean; ``floor()`` gives the real-vs-real
    floor when a second real split is known.
    """

    def __init__(self, extractor: FeatureExtractor, reference: ReferenceStats, *, n: int = DEFAULT_N,
                 train_reference: ReferenceStats | None = None, floor_source: ReferenceStats | None = None,
                 held_out: ReferenceStats | None = None, metrics: Iterable[str] = TRAINING_METRICS,
                 seed: int = 0, protocol: dict[str, Any] | None = None):
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
        self.protocol: dict[str, Any] = {
            **extractor.describe(), "n_fake": self.n, "n_real": reference.n, "reference": reference.label(),
            "split": reference.key["split"],
            "resize_real": reference.key["resize"],
            "kid": kid_protocol(self.n, reference.rows),
            "precision_recall": f"k={PR_K}, {min(self.n, PR_ROWS, reference.rows)} per side",
            "classifier_score": f"{SCORE_SPLITS} splits",
            **(protocol or {})}
        if "memorisation" in self.metrics and train_reference is not None:
            self.protocol["memorisation_ref"] = train_reference.label()

    def evaluate_images(self, images: torch.Tensor, progress: bool = False) -> dict[str, float]:
        """Metrics of uint8 images (N, C, H, W) against the reference; adds ``eval_seconds``."""
        t0 = time.perf_counter()
        feats, probs = self.extractor(images.cpu(), progress=progress, desc="fake features")
        out = compute_metrics(feats, probs, self.reference, train_reference=self.train_reference,
                              metrics=self.metrics, seed=self.seed)
        out["eval_seconds"] = round(time.perf_counter() - t0, 2)
        return out

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
        reference; memorisation for held-out real images. Cached with the reference statistics."""
        src = self.floor_source
        if src is None:
            return None
        n = min(n or self.n, src.rows)
        key = f"{key_filename(src.key)}|n={n}|{','.join(sorted(self.metrics))}|seed={self.seed}"
        floors = self.reference.extra.setdefault("floors", {})
        if key not in floors:
            feats = src.features[:n].float()
            probs = None if src.probs is None else src.probs[:n].float()
            values = compute_metrics(feats, probs, self.reference, metrics=set(self.metrics) - {"memorisation"},
                                     seed=self.seed)
            if "memorisation" in self.metrics and self.train_reference is not None and self.held_out is not None:
                held = self.held_out.features[:n].float()
                memo = memorisation(held, self.train_reference.features, self.train_reference.nn_radii())
                values["memorised_fraction"] = memo["memorised_fraction"]
                values["median_nn_ratio"] = memo["median_nn_ratio"]
            floors[key] = values
            self.reference.save()
        return dict(floors[key])

    def floor_protocol(self, n: int | None = None) -> str | None:
        if self.floor_source is None:
            return None
        n = min(n or self.n, self.floor_source.rows)
        text = (f"{n} real {self.floor_source.key['data']} {self.floor_source.key['split']} images "
                f"(seeded subset) vs the same reference")
        if "memorisation" in self.metrics and self.held_out is not None:
            text += f"; memorisation: {min(n, self.held_out.rows)} held-out {self.held_out.key['split']} images"
        return text


# --------------------------------------------------------------------------- building one
def _load(source: str, split: str, extractor: FeatureExtractor, *, data_dir: str | None = None,
          class_name: str | None = None, limit: int | None = None, progress: bool = True) -> tuple[ImageData, dict]:
    """Real images for ``extractor``: named datasets and arrays at their own shape (the extractor
    converts them), folders at the extractor's size. Returns the data and key details."""
    named = dataset_of(source)
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


def _stats(source: str, split: str, extractor: FeatureExtractor, *, progress: bool, log, **kw) -> ReferenceStats:
    data, details = _load(source, split, extractor, progress=progress, **kw)
    name = dataset_of(source) or data.name
    return reference_stats(data.images, extractor, data=name, split=split if dataset_of(source) else "train",
                           details=details, progress=progress, log=log)


def build_evaluator(data: DataConfig, channels: int, *, n: int = DEFAULT_N, split: str = "test",
                    evaluator: str | None = None, inception_weights: str | Path | None = None,
                    metrics: Iterable[str] = ALL_METRICS, floor: bool = True, seed: int = 0,
                    progress: bool = True, log=print, note: str | None = None) -> Evaluator:
    """An :class:`Evaluator` for generators trained on ``data`` (a run's DataConfig) making
    ``channels``-channel images: reference = the ``split`` of a named dataset (same class
    filter; the train split keeps ``limit``), or the data itself when it has one split (it is
    then also the memorisation reference, and there is no floor). note: added to the protocol."""
    if split not in ("train", "test"):
        raise ConfigError(f"--split: must be train or test (got {split!r})")
    metrics = tuple(metrics)
    dataset = dataset_of(data.source)
    extractor = pick_extractor(channels, dataset, evaluator, inception_weights)
    common = dict(extractor=extractor, data_dir=data.data_dir, class_name=data.class_name, progress=progress, log=log)
    extra: dict[str, Any] = {"note": note} if note else {}
    if dataset:
        test = None
        if split == "test" or floor or "memorisation" in metrics:
            test = _stats(data.source, "test", **common)
        train = None
        if split == "train" or floor or "memorisation" in metrics:
            train = _stats(data.source, "train", limit=data.limit, **common)
        reference = test if split == "test" else train
        other = train if split == "test" else test
        ev = Evaluator(extractor, reference, n=n, train_reference=train, floor_source=other if floor else None,
                       held_out=test, metrics=metrics, seed=seed, protocol=extra)
    else:
        reference = _stats(data.source, "train", limit=data.limit, **common)
        ev = Evaluator(extractor, reference, n=n, train_reference=reference, metrics=metrics, seed=seed,
                       protocol=extra)
    return ev


def _one_split_note(data: DataConfig) -> str | None:
    if dataset_of(data.source):
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
            from .models import ARCHS

            spec = ARCHS.get(cfg.model.arch)
            channels = int(load_data(cfg.data, default_size=spec.native_size if spec else None,
                                     progress=False).images.shape[1])
        ev = build_evaluator(cfg.data, channels, n=n, split="test", metrics=metrics, floor=False,
                             seed=0, progress=progress, log=log, note=_one_split_note(cfg.data))
    except GanforgeError as e:
        return None, str(e)
    if device is not None or cfg.train.device != "cpu":
        from .device import resolve_device

        try:
            ev.extractor.to(resolve_device(str(device or cfg.train.device)))
        except ConfigError as e:
            return None, str(e)
    return ev, ""


# --------------------------------------------------------------------------- results
@dataclass
class EvalResult:
    """Metrics, the real-vs-real floor beside them, the protocol, and where the time went."""

    metrics: dict[str, float]
    floor: dict[str, float] | None
    protocol: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "floor": self.floor, "protocol": self.protocol, "timings": self.timings}

    def table(self) -> str:
        """A table for people: metric, value, the real-vs-real floor, which way is better."""
        return format_table(self)


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def format_table(r: EvalResult) -> str:
    p, m, f = r.protocol, r.metrics, r.floor or {}
    fid = "FID" if p.get("feature_network", "").startswith("inception") else "FD"
    lines = [f"fake       {p.get('fake', '?')}",
             f"real       {p['reference']}",
             f"features   {p['feature_network']} {p['feature_hash']} ({p['feature_dim']}-d, {p['feature_precision']})",
             f"resize     fake: {p.get('resize_fake', '-')}; real: {p['resize_real']}"]
    if p.get("floor"):
        lines.append(f"floor      {p['floor']}")
    if p.get("note"):
        lines.append(f"note       {p['note']}")
    lines += ["", f"{'metric':<32}{'value':>16}{'real floor':>16}   better"]

    def row(label: str, key: str, better: str, scale: float = 1.0, std: str | None = None, digits: int = 3):
        if key not in m:
            return
        value = _fmt(m[key] * scale, digits)
        if std and std in m:
            value += f" ± {_fmt(m[std] * scale, digits)}"
        fl = _fmt(f[key] * scale, digits) if key in f else "-"
        if std and std in f:
            fl += f" ± {_fmt(f[std] * scale, digits)}"
        lines.append(f"{label:<32}{value:>16}{fl:>16}   {better}")

    row(fid, "fd", "lower", digits=4)
    row("KID x 1000", "kid", "lower", 1000.0, "kid_std", 2)
    row(f"precision (k={PR_K})", "precision", "higher")
    row(f"recall (k={PR_K})", "recall", "higher")
    row("classifier score", "classifier_score", "near floor", std="classifier_score_std", digits=2)
    if "class_entropy" in m:
        k = p.get("num_classes")
        row("class entropy (nats)" + (f", max {math.log(k):.2f}" if k else ""), "class_entropy", "near floor")
    row("class KL(real || fake)", "class_kl", "lower", digits=4)
    row("memorised fraction", "memorised_fraction", "near floor", digits=4)
    if r.timings:
        lines += ["", "time       " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items())]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the two commands
def _finish(ev: Evaluator, images: torch.Tensor, fake_label: str, *, floor: bool, progress: bool,
            timings: dict[str, float]) -> EvalResult:
    # layout: images uint8 (N, C, H, W)
    t = time.perf_counter()
    feats, probs = ev.extractor(images, progress=progress, desc="fake features")
    timings["features"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics = compute_metrics(feats, probs, ev.reference, train_reference=ev.train_reference, metrics=ev.metrics,
                              seed=ev.seed)
    timings["metrics"] = time.perf_counter() - t
    protocol = {**ev.protocol, "fake": fake_label, "n_fake": int(images.shape[0]),
                "resize_fake": ev.extractor.resize_rule(int(images.shape[1]), int(images.shape[-1])),
                "num_classes": ev.extractor.num_classes}
    protocol["precision_recall"] = f"k={PR_K}, {min(images.shape[0], PR_ROWS, ev.reference.rows)} per side"
    protocol["kid"] = kid_protocol(int(images.shape[0]), ev.reference.rows)
    fl = None
    if floor and ev.floor_source is not None:
        t = time.perf_counter()
        fl = ev.floor(int(images.shape[0]))
        protocol["floor"] = ev.floor_protocol(int(images.shape[0]))
        timings["floor"] = time.perf_counter() - t
    return EvalResult(metrics=metrics, floor=fl, protocol=protocol, timings={k: round(v, 2) for k, v in timings.items()})


def _generator(path: str | Path, device: str | torch.device):
    """G_ema (else G) of a checkpoint, rebuilt from its stored config; plus the config and a label."""
    from .models import build_models
    from .checkpoint import load_checkpoint, resolve_checkpoint

    ckpt = load_checkpoint(path, map_location="cpu")
    cfg = RunConfig.from_dict(ckpt["config"])
    which = "G_ema" if isinstance(ckpt.get("G_ema"), dict) else "G"
    G, _ = build_models(cfg.model, int(ckpt["img_channels"]), int(ckpt["img_size"]))
    G.load_state_dict(ckpt[which])
    label = f"{resolve_checkpoint(path)} ({which}, step {ckpt.get('step', '?')})"
    return G.to(device).eval(), cfg, int(ckpt["img_channels"]), label


def evaluate_run(path: str | Path, *, n: int = DEFAULT_N, split: str = "test", evaluator: str | None = None,
                 inception_weights: str | Path | None = None, seed: int = 0, batch_size: int = 500,
                 device: str = "cpu", floor: bool = True, metrics: Iterable[str] = ALL_METRICS,
                 progress: bool = True, log=print) -> EvalResult:
    """Sample ``n`` images (latent seed ``seed``) from a run folder or checkpoint and compare them
    with the ``split`` of the run's dataset. See the module docstring."""
    from .api import generate

    if n < 2:
        raise ConfigError(f"-n: need at least 2 samples (got {n})")
    G, cfg, channels, label = _generator(path, device)
    ev = build_evaluator(cfg.data, channels, n=n, split=split, evaluator=evaluator, inception_weights=inception_weights,
                         metrics=metrics, floor=floor, seed=seed, progress=progress, log=log,
                         note=_one_split_note(cfg.data))
    ev.extractor.to(device)
    t = time.perf_counter()
    images = generate(G, n, seed=seed, batch_size=batch_size)
    timings = {"sampling": time.perf_counter() - t}
    return _finish(ev, images, f"{label}, {n} samples, latent seed {seed}", floor=floor, progress=progress,
                   timings=timings)


def _peek_channels(source: str) -> int:
    """Channels of an image source without loading it all (first image of a folder)."""
    p = Path(source).expanduser()
    if p.is_dir():
        from PIL import Image

        from .data.folder import GREY_MODES, list_images

        files, _ = list_images(p)
        if not files:
            raise DataError(f"--images {source}: no image files in this folder")
        with Image.open(files[0]) as im:
            return 1 if im.mode in GREY_MODES else 3
    return int(load_data(DataConfig(source=source), progress=False).images.shape[1])


def evaluate_images(images: str, against: str, *, n: int = DEFAULT_N, split: str = "test",
                    images_split: str = "train", evaluator: str | None = None,
                    inception_weights: str | Path | None = None, data_dir: str | None = None, seed: int = 0,
                    device: str = "cpu", floor: bool = True, metrics: Iterable[str] = ALL_METRICS,
                    progress: bool = True, log=print) -> EvalResult:
    """Compare image set ``images`` (at most ``n``, a seeded subset) with ``against``.

    Each is a folder, a .npy/.npz file or a dataset name; ``split`` picks the split of a named
    ``against``, ``images_split`` that of a named ``images``. Memorisation is checked against the
    train split of a named ``against`` (or ``against`` itself); the floor needs a named ``against``.
    """
    for s, flag in ((split, "--split"), (images_split, "--images-split")):
        if s not in ("train", "test"):
            raise ConfigError(f"{flag}: must be train or test (got {s!r})")
    named_a, named_b = dataset_of(images), dataset_of(against)
    channels = 3 if "cifar10" in (named_a, named_b) else None
    if evaluator is None and named_a is None and named_b is None:
        channels = _peek_channels(images)
    ev = build_evaluator(DataConfig(source=against, data_dir=data_dir), channels or 1, n=n, split=split,
                         evaluator=evaluator or (named_b if named_b in ("fashion-mnist", "mnist") else
                                                 named_a if named_a in ("fashion-mnist", "mnist") else None),
                         inception_weights=inception_weights, metrics=metrics, floor=floor, seed=seed,
                         progress=progress, log=log)
    ev.extractor.to(device)
    t = time.perf_counter()
    data, _ = _load(images, images_split, ev.extractor, data_dir=data_dir, progress=progress)
    imgs = data.images
    if imgs.shape[0] > n:
        order = torch.randperm(imgs.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
        imgs = imgs[order]
    if imgs.shape[0] < 2:
        raise DataError(f"--images {images}: need at least 2 images, found {imgs.shape[0]}")
    what = f"{named_a} {images_split}" if named_a else data.source_path
    label = f"{what} ({imgs.shape[0]} images{', seeded subset' if data.images.shape[0] > n else ''})"
    return _finish(ev, imgs, label, floor=floor, progress=progress, timings={"loading": time.perf_counter() - t})
