"""The Python API: what the CLI calls, and what a notebook or script calls directly."""
from __future__ import annotations

import re
from pathlib import Path

from .config import RunConfig
from .data import data_name
from .generator import class_labels, generate, load_generator, load_run_config  # noqa: F401  (the public API)
from .train.loop import TrainResult, check_run, fit, prepare  # noqa: F401  (check_run: for the CLI)

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
        data, resolved = prepare(config, progress)
        return fit(resolved, Path(out), resume=True, progress=progress, data=data, log=log,
                   evaluator=training_evaluator(resolved, log))
    data, resolved = prepare(config, progress)
    run_dir = Path(out) if out is not None else new_run_dir(resolved)
    return fit(resolved, run_dir, progress=progress, data=data, log=log, evaluator=training_evaluator(resolved, log))


def training_evaluator(cfg: RunConfig, log=print):
    """The evaluator a run with ``--eval-every`` is handed, or None (with a note saying why)."""
    if not cfg.train.eval_every:
        return None
    from .metrics import make_training_evaluator  # metrics load on demand: most runs never need them

    ev, why = make_training_evaluator(cfg, n=cfg.train.eval_n)
    if ev is None:
        log(f"note: --eval-every is on but no metrics can be computed: {why}")
    return ev
