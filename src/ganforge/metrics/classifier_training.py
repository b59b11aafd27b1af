"""Training a classifier evaluator (``ganforge evaluator train``): the recipe and its bookkeeping.

Deterministic for a given machine type and precision: the same seed trains the same weights
(the same hash) on the same kind of CPU, which is how the shipped Fashion-MNIST evaluator is
reproduced (``benchmarks/evaluator_hash.py``).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..device import cpu_model
from .networks import (EVALUATOR_SPECS, ClassifierNet, EvaluatorError, EvaluatorSpec, FeatureExtractor,
                       classifier_extractor, evaluator_path, load_evaluator_file, save_evaluator)


# --------------------------------------------------------------------------- training
def _random_shift(x: torch.Tensor, pad: int, g: torch.Generator) -> torch.Tensor:
    """Each image moved by its own random offset in [-pad, pad] px (zero fill): (N, C, H, W)."""
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=g)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=g)
    rows = (dy + torch.arange(h)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    xp = xp.gather(2, rows)
    cols = (dx + torch.arange(w)).view(n, 1, 1, w).expand(n, c, h, w)
    return xp.gather(3, cols)


def _channel_stats(images: torch.Tensor) -> tuple[float, float]:
    x = images[: 10_000].float() / 255.0
    return float(x.mean()), float(x.std())


@torch.no_grad()
def _accuracy(ex: FeatureExtractor, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, probs = ex(images, batch_size=1000)
    return float((probs.argmax(1) == labels).double().mean())


def train_evaluator(dataset: str, *, data_dir: str | None = None, epochs: int | None = None,
                    batch_size: int = 128, lr: float = 0.1, seed: int = 0,
                    widths: tuple[int, int, int] = (32, 64, 128), precision: str = "auto",
                    out: str | Path | None = None, progress: bool = True, log=print) -> dict[str, Any]:
    """Train the classifier evaluator for ``dataset`` on its train split and cache it.

    See :func:`fit_evaluator` for the recipe. precision: ``auto`` uses bf16 autocast wherever the
    CPU has bf16 instructions (AVX512-BF16 or AMX), fast or not, so such machines train the same
    weights (same hash); else fp32. Evaluation is always fp32. out: the file (default
    :func:`evaluator_path`). Returns the saved metadata, with the test accuracy, the training
    time and the weights hash.
    """
    from ..config import DataConfig
    from ..data import load_data
    from ..device import cpu_has_bf16

    if dataset not in EVALUATOR_SPECS:
        raise EvaluatorError(f"--data: evaluators exist for {', '.join(EVALUATOR_SPECS)}, not {dataset!r}")
    spec = EVALUATOR_SPECS[dataset]
    epochs = epochs or spec.epochs
    if epochs <= 0:
        raise EvaluatorError(f"--epochs: must be positive (got {epochs})")
    if batch_size <= 0:
        raise EvaluatorError(f"--batch-size: must be positive (got {batch_size})")
    train, test = (load_data(DataConfig(source=dataset, data_dir=data_dir, size=spec.size, channels=spec.channels,
                                        split=split), progress=progress) for split in ("train", "test"))
    use_bf16 = precision == "bf16" or (precision == "auto" and cpu_has_bf16())
    log(f"training the {dataset} evaluator: {len(train)} images, {epochs} epochs, "
        f"{'bf16' if use_bf16 else 'fp32'} on {torch.get_num_threads()} CPU threads")
    net, meta = fit_evaluator(train, test, spec, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                              widths=widths, bf16=use_bf16, progress=progress)
    if out is None:
        from ..data.download import cache_dir

        cache_dir()
        out = evaluator_path(dataset)
    path = save_evaluator(net, meta, out)
    saved = load_evaluator_file(path, dataset).meta  # what later runs will read
    if meta["test_accuracy"] < spec.min_accuracy:
        log(f"warning: test accuracy {meta['test_accuracy']:.2%} is below the expected "
            f"{spec.min_accuracy:.0%}; try more --epochs")
    return {**saved, "path": str(path)}


def fit_evaluator(train, test, spec: EvaluatorSpec, *, epochs: int, batch_size: int = 128, lr: float = 0.1,
                  seed: int = 0, widths: tuple[int, int, int] = (32, 64, 128), bf16: bool = False,
                  progress: bool = True) -> tuple[ClassifierNet, dict[str, Any]]:
    """Train a :class:`ClassifierNet` on ``train`` (an ImageData with labels, already at
    ``spec``'s shape) and measure it on ``test``. Returns the network (eval mode) and its metadata.

    SGD with Nesterov momentum, weight decay 5e-4 and a one-cycle learning-rate schedule (peak
    ``lr``), label smoothing 0.1, random shifts of up to 2 px (and horizontal flips where the
    classes allow them); ``bf16``: autocast the training steps to bfloat16.
    """
    from ..progress import progress_bar

    if train.labels is None or test.labels is None:
        raise EvaluatorError(f"{spec.dataset}: no labels to train a classifier on")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = ClassifierNet(in_channels=spec.channels, num_classes=spec.num_classes, widths=widths)
    net = net.to(memory_format=torch.channels_last)
    mean, std = _channel_stats(train.images)
    batch_size = min(batch_size, len(train))
    steps_per_epoch = len(train) // batch_size
    total = epochs * steps_per_epoch
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.25)
    images, labels = train.images, train.labels
    start = time.monotonic()
    net.train()
    with progress_bar(total=total, desc=f"{spec.dataset} evaluator", unit="step", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for epoch in range(epochs):
            perm = torch.randperm(len(train), generator=g)
            for i in range(steps_per_epoch):
                idx = perm[i * batch_size:(i + 1) * batch_size]
                x = _random_shift(images[idx], 2, g)
                if spec.flip:
                    flip = torch.rand(x.shape[0], generator=g) < 0.5
                    x = torch.where(flip[:, None, None, None], x.flip(3), x)
                x = ((x.float() / 255.0 - mean) / std).contiguous(memory_format=torch.channels_last)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = F.cross_entropy(net(x), labels[idx], label_smoothing=0.1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                if i % 50 == 0:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    train_seconds = time.monotonic() - start
    net.eval()
    meta: dict[str, Any] = {
        "dataset": spec.dataset, "channels": spec.channels, "size": spec.size, "num_classes": spec.num_classes,
        "class_names": list(train.class_names) if train.class_names else None, "widths": list(widths),
        "mean": mean, "std": std, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "precision": "bf16" if bf16 else "fp32", "train_seconds": round(train_seconds, 1),
        "threads": torch.get_num_threads(), "torch": str(torch.__version__), "cpu": cpu_model(),
        "n_train": len(train), "n_test": len(test)}
    meta["test_accuracy"] = round(_accuracy(classifier_extractor(net, meta, ""), test.images, test.labels), 5)
    return net, meta
