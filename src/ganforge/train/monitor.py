"""Watching a run learn: log.jsonl, fixed-noise grids, the progress GIF, the loss plot, the progress bar."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..images import save_gif, save_grid

LOG_NAME = "log.jsonl"
SAMPLES_DIR = "samples"
CONFIG_NAME = "config.json"


def save_run_config(cfg, training_state: dict[str, Any], path: str | Path) -> Path:
    """Write a run's config.json: the config as the user asked for it (what ``--config`` reads
    back), plus ``training_state``: what training has changed since (learning rates halved by a
    rollback, remedies the diagnostics applied, the step). Atomic, like checkpoints."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({**cfg.to_dict(), "training_state": training_state}, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a run's log.jsonl (a torn last line from a crash is ignored)."""
    path = Path(run_dir) / LOG_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def truncate_log(run_dir: str | Path, step: int) -> None:
    """Drop records logged after ``step``: a resumed run rewrites them, so they would appear twice."""
    path = Path(run_dir) / LOG_NAME
    keep = [r for r in read_log(run_dir) if r.get("step", 0) <= step]
    path.write_text("".join(json.dumps(r) + "\n" for r in keep))


class Monitor:
    """Writes what a person watches: log lines, sample grids, the bar; and at the end the GIF and plot.

    writes: False on a process that writes no files (see :class:`~ganforge.train.context.RunContext`).
    """

    def __init__(self, run_dir: Path, start_step: int, total_steps: int | None, deadline: float | None,
                 progress: bool = True, nrow: int | None = None, writes: bool = True):
        self.run_dir = Path(run_dir)
        self.nrow = nrow  # images per grid row (a conditional run: one column per class)
        self.writes = writes
        if writes:
            (self.run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
        self.log_path = self.run_dir / LOG_NAME
        self.deadline = deadline
        self.steps_done = start_step
        # With --minutes the clock decides when the run ends, so the bar counts seconds, not steps.
        self.by_time = deadline is not None
        if self.by_time:
            self.t0 = time.monotonic()
            self.bar = tqdm(total=round(deadline - self.t0), unit="s", dynamic_ncols=True, disable=not progress,
                            file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}")
        else:
            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                            disable=not progress, file=sys.stderr, smoothing=0.1)

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to log.jsonl and show its headline values on the bar."""
        self.log_event(record)
        post = {"step": record["step"]} if self.by_time else {}
        post.update({k: f"{record[k]:.3f}" for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in record})
        if "img_per_s" in record:
            post["img/s"] = f"{record['img_per_s']:.0f}"
        self.bar.set_postfix(post, refresh=False)

    def log_event(self, record: dict[str, Any]) -> None:
        """Append a non-metric record (a diagnostic, a rollback) to log.jsonl."""
        if not self.writes:
            return
        with self.log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def step(self, n: int = 1) -> None:
        self.steps_done += n
        if self.by_time:
            elapsed = min(round(time.monotonic() - self.t0), self.bar.total)
            if elapsed > self.bar.n:
                self.bar.update(elapsed - self.bar.n)
        else:
            self.bar.update(n)

    def write(self, msg: str) -> None:
        """Print a line without breaking the progress bar."""
        self.bar.write(msg, file=sys.stderr)

    def save_samples(self, step: int, images: torch.Tensor) -> Path | None:
        """Save the fixed-noise batch's images (uint8 N,C,H,W) as samples/step-XXXXXXX.png."""
        if not self.writes:
            return None
        return save_grid(images, self.run_dir / SAMPLES_DIR / f"step-{step:07d}.png", nrow=self.nrow)

    def close(self) -> None:
        self.bar.close()


def write_progress_gif(run_dir: Path, max_frames: int = 120) -> Path | None:
    """The fixed-noise grids in step order as one looping GIF (seed 003's training GIF)."""
    frames = sorted((Path(run_dir) / SAMPLES_DIR).glob("step-*.png"))
    if not frames:
        return None
    if len(frames) > max_frames:  # keep the first and last, spread the rest evenly
        idx = sorted({round(i * (len(frames) - 1) / (max_frames - 1)) for i in range(max_frames)})
        frames = [frames[i] for i in idx]
    return save_gif(frames, Path(run_dir) / "progress.gif")


def write_loss_plot(run_dir: Path) -> Path | None:
    """losses.png: D and G losses, and mean D(x) and D(G(z)), against the step."""
    records = [r for r in read_log(run_dir) if "d_loss" in r and "event" not in r]
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]

    def series(key):
        return [r.get(key, math.nan) for r in records]

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    ax1.plot(steps, series("d_loss"), label="D loss")
    ax1.plot(steps, series("g_loss"), label="G loss")
    ax1.set_ylabel("loss")
    ax1.legend(loc="upper right")
    ax1.grid(alpha=0.3)
    ax2.plot(steps, series("d_real"), label="mean D(x)")
    ax2.plot(steps, series("d_fake"), label="mean D(G(z))")
    ax2.axhline(0.5, color="grey", lw=0.8, ls="--")
    values = [v for v in series("d_real") + series("d_fake") if v is not None and math.isfinite(v)]
    if values and 0 <= min(values) and max(values) <= 1:  # probabilities (BCE losses); else raw scores
        ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("step")
    ax2.set_ylabel("D output")
    ax2.legend(loc="upper right")
    ax2.grid(alpha=0.3)
    fig.suptitle(Path(run_dir).name)
    fig.tight_layout()
    out = Path(run_dir) / "losses.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
