"""Metrics during training: when the loop evaluates, and what it does with the result.

Two schedules: every ``--eval-every`` steps, or (the default) every ``--eval-minutes`` of
training time, checked at log points so that every process decides together. Each evaluation
samples G_ema (else G) from a fixed seed, so it never changes the training's random streams;
its metrics go to ``log.jsonl`` (and TensorBoard when installed) and ``best.pt`` is kept by FD.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import torch

from ..config import TrainConfig
from ..context import RunContext
from ..runs.layout import BEST_NAME, TENSORBOARD_DIR

Evaluator = Callable[[Callable[[int], torch.Tensor]], dict]  # (sampler: n -> uint8 images) -> metrics; has .protocol


def open_tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # TensorBoard is optional: log.jsonl has everything
        return None
    return SummaryWriter(str(run_dir / TENSORBOARD_DIR))


class TrainingEvaluation:
    """The loop's evaluations: :meth:`due` at a step, :meth:`run` to evaluate and keep ``best.pt``.

    evaluator: called with a sampler ``n -> uint8 images``; returns a dict of metrics with ``fd``
        (or None when it cannot evaluate after all) and has a ``protocol``. None on the processes
        that do not evaluate (all but the main one) and where no evaluator fits the data: the
        schedule still runs there, since its timed decisions are taken by all processes together.
    checkpoint: writes the loop's checkpoint to a given path (for ``best.pt``).
    """

    def __init__(self, t: TrainConfig, evaluator: Evaluator | None, run_dir: Path, ctx: RunContext, *,
                 sample: Callable[[int], torch.Tensor], checkpoint: Callable[[Path], Any],
                 write: Callable[[str], None], log_event: Callable[[dict], None], best_fd: float = math.inf):
        self.every, self.minutes = t.eval_every, t.eval_minutes
        self.evaluator, self.run_dir, self.ctx = evaluator, run_dir, ctx
        self.sample, self.checkpoint, self.write, self.log_event = sample, checkpoint, write, log_event
        self.best_fd = best_fd
        self.last_time = time.monotonic()
        self.last_step: int | None = None
        self.tensorboard = open_tensorboard(run_dir) if ctx.is_main and evaluator is not None else None

    def due(self, step: int, log_point: bool) -> bool:
        """Whether to evaluate after ``step``. The timed schedule is decided at log points only,
        agreed by all processes (their clocks differ)."""
        if self.every:
            return step % self.every == 0
        if self.minutes and log_point:
            return self.ctx.agree(time.monotonic() - self.last_time >= 60.0 * self.minutes)
        return False

    def due_at_end(self, step: int) -> bool:
        """A timed schedule that evaluated in this session also evaluates the final step, so the
        log's last metrics and ``best.pt`` cover the end of training."""
        return bool(self.minutes) and not self.every and self.last_step is not None and self.last_step != step

    def run(self, step: int) -> None:
        """Metrics of G_ema (else G) against the real data (main process only); log them and keep
        ``best.pt`` by FD."""
        self.last_time, self.last_step = time.monotonic(), step
        if not self.ctx.is_main or self.evaluator is None:
            return
        metrics = self.evaluator(self.sample)
        self.last_time = time.monotonic()  # the interval counts training time, not evaluation time
        if metrics is None:
            return
        self.log_event({"step": step, "event": "eval", **metrics, "protocol": self.evaluator.protocol})
        if self.tensorboard is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self.tensorboard.add_scalar(f"metrics/{k}", v, step)
            self.tensorboard.flush()
        fd = metrics.get("fd", math.inf)
        note = ""
        if fd < self.best_fd:
            self.best_fd = fd
            self.checkpoint(self.run_dir / BEST_NAME)
            note = " (best so far: best.pt)"
        self.write(f"step {step}: FD {fd:.3f}, KID {metrics.get('kid', math.nan):.4f}, "
                   f"precision {metrics.get('precision', math.nan):.3f}, "
                   f"recall {metrics.get('recall', math.nan):.3f}{note}")

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
