"""``ganforge evaluate``: score a run's generator, or one image set against another.

``evaluate_run(path, n=10_000, split="test")`` -> :class:`EvalResult`
    ``ganforge evaluate RUN``: sample ``n`` images from the checkpoint's G_ema (else G) and
    compare them with the test (or train) split of the run's dataset.
``evaluate_images(images, against, n=10_000)`` -> :class:`EvalResult`
    ``ganforge evaluate --images A --against B``: two image sets (folders, .npy/.npz files or
    dataset names).

Every result carries its protocol (feature network and weights hash, sample counts, the real
reference, the resize rule, the metric settings) and, beside FD and the others, the
real-vs-real floor: the same metrics for ``n`` real training images against the same reference,
the best a generator can expect at this sample size.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

from ..config import DataConfig
from ..data import load_data
from ..data.fingerprint import relocated
from ..data.sources import evaluator_for, known_names, source_name
from ..device import resolve_device
from ..errors import ConfigError, DataError
from ..generator import check_seed, generate, has_noise, load_generator, load_run_config
from .evaluator import DEFAULT_N, Evaluator, build_evaluator, load_for_extractor, one_split_note
from .registry import ALL_METRICS, METRICS, compute_metrics, metric_protocols


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
    """The protocol lines, then one row per registered metric's table row that has a value."""
    p, m, f = r.protocol, r.metrics, r.floor or {}
    lines = [f"fake       {p.get('fake', '?')}",
             f"real       {p['reference']}",
             f"features   {p['feature_network']} {p['feature_hash']} ({p['feature_dim']}-d, {p['feature_precision']})",
             f"resize     fake: {p.get('resize_fake', '-')}; real: {p['resize_real']}"]
    if p.get("transform"):
        lines.append(f"transform  {p['transform']}")
    if p.get("floor"):
        lines.append(f"floor      {p['floor']}")
    if p.get("note"):
        lines.append(f"note       {p['note']}")
    lines += ["", f"{'metric':<32}{'value':>16}{'real floor':>16}   better"]
    for spec in METRICS.values():
        for row in spec.rows:
            if row.key not in m:
                continue
            value = _fmt(m[row.key] * row.scale, row.digits)
            if row.std and row.std in m:
                value += f" ± {_fmt(m[row.std] * row.scale, row.digits)}"
            fl = _fmt(f[row.key] * row.scale, row.digits) if row.key in f else "-"
            if row.std and row.std in f:
                fl += f" ± {_fmt(f[row.std] * row.scale, row.digits)}"
            lines.append(f"{row.title(p):<32}{value:>16}{fl:>16}   {row.better}")
    if r.timings:
        lines += ["", "time       " + ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items())]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the two commands
def _finish(ev: Evaluator, images: torch.Tensor, fake_label: str, *, floor: bool, progress: bool,
            timings: dict[str, float]) -> EvalResult:
    # layout: images uint8 (N, C, H, W)
    t = time.perf_counter()
    feats, probs = ev.features(images, progress=progress)
    timings["features"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics = compute_metrics(feats, probs, ev.reference, train_reference=ev.train_reference, metrics=ev.metrics,
                              seed=ev.seed)
    timings["metrics"] = time.perf_counter() - t
    scored = ev.transform.fakes(images[:1])
    protocol = {**ev.protocol, "fake": fake_label, "n_fake": int(images.shape[0]),
                "resize_fake": ev.extractor.resize_rule(int(scored.shape[1]), int(scored.shape[-1])),
                "num_classes": ev.extractor.num_classes}
    protocol.update(metric_protocols(int(images.shape[0]), ev.reference.rows))
    fl = None
    if floor and ev.floor_source is not None:
        t = time.perf_counter()
        fl = ev.floor(int(images.shape[0]))
        protocol["floor"] = ev.floor_protocol(int(images.shape[0]))
        timings["floor"] = time.perf_counter() - t
    return EvalResult(metrics=metrics, floor=fl, protocol=protocol, timings={k: round(v, 2) for k, v in timings.items()})


MAX_N = 1_000_000  # generated images one evaluation compares (FID is usually measured with 10k or 50k)


def _check_n_seed(n: int, seed: int) -> None:
    if n > MAX_N:
        raise ConfigError(f"-n {n}: at most {MAX_N:,} images (FID is usually measured with 10,000 or 50,000)")
    check_seed(seed)


def evaluate_run(path: str | Path, *, n: int = DEFAULT_N, split: str = "test", evaluator: str | None = None,
                 inception_weights: str | Path | None = None, seed: int = 0, batch_size: int = 500,
                 device: str = "cpu", floor: bool = True, metrics: Iterable[str] = ALL_METRICS,
                 progress: bool = True, log=print, data: str | None = None, ema: bool = True,
                 noise_mode: str = "random") -> EvalResult:
    """Sample ``n`` images (latent seed ``seed``) from a run folder or checkpoint and compare them
    with the ``split`` of the run's dataset. See the module docstring.

    ema: sample G_ema where the run kept one (False: the raw G).
    noise_mode: a StyleGAN2's layer noise while sampling: "random" (each image its own, as the
        reference samples for its metrics), "const" or "none"; the protocol records it.

    data: where the run's image folder or array file is now, when it has moved; it must hold the
        images the run trained on (checked against the fingerprint the run stored).

    G comes from :func:`ganforge.generator.load_generator` (G_ema when the run kept one) and is
    sampled by :func:`ganforge.generator.generate`, like ``ganforge generate --seed``."""
    if n < 2:
        raise ConfigError(f"-n: need at least 2 samples (got {n})")
    _check_n_seed(n, seed)
    device = resolve_device(device)
    G = load_generator(path, device, ema=ema)
    cfg = load_run_config(path)
    if data is not None:
        cfg.data, check = relocated(cfg.data, data, G.data_fingerprint)
        check(load_data(dataclasses.replace(cfg.data, split="train"), progress=False).images)
    label = f"{G.checkpoint_path} ({'G_ema' if G.is_ema else 'G'}, step {G.step})"
    ev = build_evaluator(cfg.data, G.img_channels, n=n, split=split, evaluator=evaluator,
                         inception_weights=inception_weights, metrics=metrics, floor=floor, seed=seed,
                         progress=progress, log=log, note=one_split_note(cfg.data))
    ev.extractor.to(device)
    t = time.perf_counter()
    images = generate(G, n, seed=seed, batch_size=batch_size, noise_mode=noise_mode)
    timings = {"sampling": time.perf_counter() - t}
    noise = f", {noise_mode} noise" if has_noise(G) else ""
    return _finish(ev, images, f"{label}, {n} samples, latent seed {seed}{noise}", floor=floor, progress=progress,
                   timings=timings)


@contextlib.contextmanager
def _data_flag(flag: str, source: str) -> Iterator[None]:
    """Data errors about ``source`` in the words of ``flag``: the loaders speak of ``--data``,
    the flag of ``ganforge train``; here the user gave ``--images`` or ``--against``."""
    try:
        yield
    except DataError as e:
        msg = str(e)
        forms = (str(source), str(Path(source)), str(Path(source).expanduser()))
        if msg.startswith("--data "):
            msg = flag + msg[len("--data"):]
        elif msg.startswith("--"):
            pass  # names its own flag already (--split, --class, --data-dir)
        elif msg.startswith(forms):
            msg = f"{flag} {msg}"
        else:
            msg = f"{flag} {source}: {msg}"
        raise DataError(msg) from None


def _peek_channels(source: str) -> int:
    """Channels of an image source without loading it all (first image of a folder)."""
    p = Path(source).expanduser()
    if p.is_dir():
        from PIL import Image

        from ..data.folder import GREY_MODES, list_images

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
    _check_n_seed(n, seed)
    device = resolve_device(device)
    for source, flag in ((images, "--images"), (against, "--against")):
        if source_name(source) is None and not Path(source).expanduser().exists():
            raise DataError(f"{flag} {source}: no such file or folder, and not a dataset name (known: "
                            f"{known_names()}); give a folder of images, a .npy/.npz file or a dataset name")
    named_a = source_name(images)
    fits_a, fits_b = evaluator_for(images), evaluator_for(against)
    channels = 3 if "cifar10" in (fits_a, fits_b) else None
    if evaluator is None and named_a is None and source_name(against) is None:
        with _data_flag("--images", images):
            channels = _peek_channels(images)
    grey = ("fashion-mnist", "mnist")
    with _data_flag("--against", against):
        ev = build_evaluator(DataConfig(source=against, data_dir=data_dir), channels or 1, n=n, split=split,
                             evaluator=evaluator or (fits_b if fits_b in grey else fits_a if fits_a in grey else None),
                             inception_weights=inception_weights, metrics=metrics, floor=floor, seed=seed,
                             progress=progress, log=log)
    ev.extractor.to(device)
    t = time.perf_counter()
    with _data_flag("--images", images):
        data, _ = load_for_extractor(images, images_split, ev.extractor, data_dir=data_dir, progress=progress)
    imgs = data.images
    if imgs.shape[0] > n:
        order = torch.randperm(imgs.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
        imgs = imgs[order]
    if imgs.shape[0] < 2:
        raise DataError(f"--images {images}: need at least 2 images, found {imgs.shape[0]}")
    what = f"{named_a} {images_split}" if named_a else data.source_path
    label = f"{what} ({imgs.shape[0]} images{', seeded subset' if data.images.shape[0] > n else ''})"
    return _finish(ev, imgs, label, floor=floor, progress=progress, timings={"loading": time.perf_counter() - t})
