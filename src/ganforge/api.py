"""The Python API: what the CLI calls, and what a notebook or script calls directly."""
from __future__ import annotations

import re
from pathlib import Path

from .config import RunConfig
from .data import data_name
from .generator import class_labels, generate, load_generator, load_run_config  # noqa: F401  (the public API)
from .train.loop import TrainResult, fit, prepare

RUNS_ROOT = Path("runs")


def new_run_dir(cfg: RunConfig, root: str | Path = RUNS_ROOT) -> Path:
    """The next free ``root/NNNNN-<preset>-<data>`` folder (not created)."""
    root = Path(root)
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cfg.preset}-{data_name(cfg.data)}").strip("-")
    return root / f"{max(numbers, default=-1) + 1:05d}-{slug}"


def train(config: RunConfig, out: str | Path | None = None, *, resume: bool = False,
          progress: bool = True, log=print) -> TrainResult:
    """Train a GAN as ``config`` describes.

    out: the run folder; default the next ``runs/NNNNN-<preset>-<data>/``.
    resume: continue the run in ``out`` from its checkpoint, exactly.
    """
    if resume:
        if out is None:
            raise ValueError("resume=True needs the run folder as out")
        return fit(config, Path(out), resume=True, progress=progress, log=log)
    data, resolved = prepare(config, progress)
    run_dir = Path(out) if out is not None else new_run_dir(resolved)
    return fit(resolved, run_dir, progress=progress, data=data, log=log)
