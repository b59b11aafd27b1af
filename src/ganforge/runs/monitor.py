"""Watching a run learn: log.jsonl, fixed-noise grids, the progress GIF, the loss plot, the progress bar.

log.jsonl and config.json are strict JSON (no NaN or Infinity tokens, which most JSON readers
refuse): a value that is not finite is written as null and its key is listed under
``"nonfinite"``; :func:`read_log` turns those back into NaN.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ..images import atomic_write, save_gif, save_grid, write_text
from ..progress import progress_bar
from .layout import CONFIG_NAME, GIF_NAME, LOG_NAME, PLOT_NAME, SAMPLES_DIR  # noqa: F401  (re-exported)

NONFINITE = "nonfinite"  # the key listing a record's values that were NaN or infinite


def _finite(value: Any, key: str, bad: list[str]) -> Any:
    """``value`` with every non-finite float replaced by None; their dotted keys go to ``bad``."""
    if isinstance(value, float) and not math.isfinite(value):
        bad.append(key)
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{key}.{k}" if key else str(k), bad) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{key}.{i}", bad) for i, v in enumerate(value)]
    return value


def strict_json(record: dict[str, Any], **kw) -> str:
    """``record`` as strict JSON: non-finite numbers become null, listed under ``"nonfinite"``."""
    bad: list[str] = []
    clean = _finite({k: v for k, v in record.items() if k != NONFINITE}, "", bad)
    if bad:
        clean[NONFINITE] = bad
    return json.dumps(clean, allow_nan=False, **kw)


def _restore_nonfinite(record: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`strict_json` on read: the keys listed as non-finite become NaN.
    Keys that lead nowhere (a damaged or edited line) are passed over."""
    keys = record.get(NONFINITE)
    for key in keys if isinstance(keys, list) else []:
        *parents, last = str(key).split(".")
        node: Any = record
        for k in parents:
            node = _child(node, k)
        if isinstance(node, dict) and node.get(last) is None:
            node[last] = math.nan
        elif isinstance(node, list) and (i := _index(last, node)) is not None and node[i] is None:
            node[i] = math.nan
    return record


def _index(key: str, node: list) -> int | None:
    return int(key) if key.isdecimal() and len(key) < 10 and int(key) < len(node) else None


def _child(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and (i := _index(key, node)) is not None:
        return node[i]
    return None


# Run files are read back by `ganforge runs`, `report` and `train --resume`, whatever happened to
# them (a disk error, an editor, another program): no content may raise anything but the
# ValueError of :func:`read_json`.
MAX_DIGITS = 30  # an integer of more digits is no counter, seed or size ganforge writes
MAX_DEPTH = 64  # nesting of lists and objects a run file never comes near


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number of {len(digits.lstrip('-')):,} digits")
    return int(digits)


def read_json(data: bytes | str) -> Any:
    """One JSON document of a run file; ValueError, saying why in a few words, for anything else:
    bytes that are not UTF-8, text that is not JSON, an integer of more than :data:`MAX_DIGITS`
    digits (Python's own limit, 4,300, would raise its own error), nesting deeper than
    :data:`MAX_DEPTH`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_int=_parse_int)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg})") from None
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError("nested too deeply")
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]
    return value


def read_json_file(path: Path, problems: list[str] | None = None) -> dict[str, Any]:
    """A run's JSON file (config.json, run.lock) as a dict: {} when it is missing, and also when
    it is unreadable, which then goes to ``problems`` as one line naming the file."""
    try:
        value = read_json(path.read_bytes())
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        if problems is not None:
            why = e.strerror or e if isinstance(e, OSError) else e
            problems.append(f"{path.name}: unreadable ({why}); left out")
        return {}
    return value


def save_run_config(cfg, training_state: dict[str, Any], path: str | Path,
                    data_fingerprint: dict[str, Any] | None = None) -> Path:
    """Write a run's config.json: the config as the user asked for it (what ``--config`` reads
    back), plus ``training_state``: what training has changed since (learning rates halved by a
    rollback, remedies the diagnostics applied, the step), and ``data_fingerprint``: which data
    the run is trained on. Strict JSON; atomic, like checkpoints."""
    record = {**cfg.to_dict(), "training_state": training_state}
    if data_fingerprint is not None:
        record["data_fingerprint"] = data_fingerprint
    return write_text(path, strict_json(record, indent=2) + "\n")


def read_log(run_dir: str | Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """All records of a run's log.jsonl. Values written as null because they were not finite
    (listed under ``"nonfinite"``) read as NaN.

    A line that does not read as a JSON object (not UTF-8, cut, edited, a number no float holds)
    is left out; a torn last line (a crash mid-write) silently, any other with one line saying
    how many and the first, appended to ``problems`` when given.
    """
    path = Path(run_dir) / LOG_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        if problems is not None:
            problems.append(f"{LOG_NAME}: cannot be read ({e.strerror or e}); left out")
        return []
    lines = data.split(b"\n")
    out, bad = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = read_json(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            bad.append((number, str(e)))
            continue
        out.append(_restore_nonfinite(record))
    if bad and bad[-1][0] == len(lines):  # the last line has no newline: a write cut short
        bad.pop()
    if bad and problems is not None:
        n, (number, why) = len(bad), bad[0]
        problems.append(f"{LOG_NAME}: {n} damaged line{'s' if n > 1 else ''} left out (line {number}: {why})")
    return out


def _logged_after(record: dict[str, Any], step: int) -> bool:
    s = record.get("step", 0)
    return isinstance(s, (int, float)) and not isinstance(s, bool) and s > step


def truncate_log(run_dir: str | Path, step: int) -> None:
    """Drop records logged after ``step``: a resumed run rewrites them, so they would appear twice.
    Damaged lines are dropped too, and said on stderr (once: the rewritten log has none)."""
    path = Path(run_dir) / LOG_NAME
    problems: list[str] = []
    keep = [r for r in read_log(run_dir, problems) if not _logged_after(r, step)]
    write_text(path, "".join(strict_json(r) + "\n" for r in keep))
    for p in problems:
        print(f"note: {Path(run_dir) / p}", file=sys.stderr)


class Monitor:
    """Writes what a person watches: log lines, sample grids, the bar; and at the end the GIF and plot.

    writes: False on a process that writes no files (see :class:`~ganforge.context.RunContext`).
    """

    def __init__(self, run_dir: Path, start_step: int, total_steps: int | None, deadline: float | None,
                 progress: bool = True, nrow: int | None = None, writes: bool = True, clock=time.monotonic):
        self.run_dir = Path(run_dir)
        self.nrow = nrow  # images per grid row (a conditional run: one column per class)
        self.writes = writes
        if writes:
            (self.run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
        self.log_path = self.run_dir / LOG_NAME
        self._next_figure: dict[str, float] = {}  # figure -> monotonic time it may be rewritten
        self.deadline = deadline
        self.steps_done = start_step
        # With --minutes the clock decides when the run ends, so the bar counts seconds, not steps.
        self.by_time = deadline is not None
        self.clock = clock  # the clock the deadline is on (--clock)
        if self.by_time:
            self.t0 = clock()
            self.bar = progress_bar(desc="train", total=round(deadline - self.t0), unit="s", dynamic_ncols=True, disable=not progress,
                            file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}<{remaining}{postfix}")
        else:
            self.bar = progress_bar(desc="train", total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
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
            f.write(strict_json(record) + "\n")

    def step(self, n: int = 1) -> None:
        self.steps_done += n
        if self.by_time:
            elapsed = min(round(self.clock() - self.t0), self.bar.total)
            if elapsed > self.bar.n:
                self.bar.update(elapsed - self.bar.n)
        else:
            self.bar.update(n)

    def write(self, msg: str) -> None:
        """Print a line without breaking the progress bar (on the process that writes the run's files)."""
        if self.writes:
            self.bar.write(msg, file=sys.stderr)

    def save_samples(self, step: int, images: torch.Tensor, tag: str = "") -> Path | None:
        """Save the fixed-noise batch's images (uint8 N,C,H,W) as samples/step-XXXXXXX.png, or
        step-XXXXXXX-TAG.png with a tag (a growing model's stage, e.g. ``8x8``)."""
        if not self.writes:
            return None
        name = f"step-{step:07d}" + (f"-{tag}" if tag else "") + ".png"
        return save_grid(images, self.run_dir / SAMPLES_DIR / name, nrow=self.nrow)

    def figures(self, force: bool = False) -> tuple[Path | None, Path | None]:
        """Write progress.gif and losses.png (each a no-op until there is something to show).

        Called at every checkpoint, so a killed run has them up to (about) its last checkpoint.
        Unless ``force`` (the end of a run), each is rewritten at most every
        :data:`FIGURES_EVERY_S` seconds, and where writing it is slow, at most once per
        :data:`FIGURES_COST_SHARE` times what it took. Returns the paths written (None for one
        skipped or with nothing to show yet)."""
        if not self.writes:
            return None, None
        out = []
        for kind, writer in (("gif", write_progress_gif), ("plot", write_loss_plot)):
            t0 = time.monotonic()
            if not force and t0 < self._next_figure.get(kind, -math.inf):
                out.append(None)
                continue
            path = writer(self.run_dir)
            if path is not None:
                t1 = time.monotonic()
                self._next_figure[kind] = t1 + max(FIGURES_EVERY_S, FIGURES_COST_SHARE * (t1 - t0))
            out.append(path)
        return out[0], out[1]

    def close(self) -> None:
        self.bar.close()


# Measured on a 2-core CPU: the loss plot of 2,000 log lines takes ~0.5 s, the GIF of 120 grids
# ~5.5 s; so at checkpoints they are refreshed at most every minute, and a slow one less often,
# at most ~2% of the training time each.
FIGURES_EVERY_S = 60.0
FIGURES_COST_SHARE = 50  # wait at least 50x the time the last write took


def write_progress_gif(run_dir: Path, max_frames: int = 120) -> Path | None:
    """The fixed-noise grids in step order as one looping GIF (seed 003's training GIF)."""
    frames = sorted((Path(run_dir) / SAMPLES_DIR).glob("step-*.png"))
    if not frames:
        return None
    if len(frames) > max_frames:  # keep the first and last, spread the rest evenly
        idx = sorted({round(i * (len(frames) - 1) / (max_frames - 1)) for i in range(max_frames)})
        frames = [frames[i] for i in idx]
    return save_gif(frames, Path(run_dir) / GIF_NAME)


def _growth_marks(ax, steps: list[int], stage: list[float], alpha: list[float]) -> None:
    """A growing model's stages on the plot: a labelled line where each stage's size first
    appears, and alpha (the fade-in of the newest block) on a right-hand axis."""
    if all(math.isnan(a) for a in alpha):
        return
    last = None
    for step, size in zip(steps, stage):
        if not math.isnan(size) and size != last:
            ax.axvline(step, color="tab:green", lw=0.8, ls=":")
            ax.text(step, 1.0, f" {int(size)}x{int(size)}", transform=ax.get_xaxis_transform(), fontsize=7,
                    va="top", color="tab:green")
            last = size
    twin = ax.twinx()
    twin.plot(steps, alpha, color="tab:green", lw=1.0, label="alpha (fade-in)")
    twin.set_ylim(-0.02, 1.02)
    twin.set_ylabel("alpha")


def write_loss_plot(run_dir: Path) -> Path | None:
    """losses.png: D and G losses, and mean D(x) and D(G(z)), against the step."""
    records = [r for r in read_log(run_dir) if "d_loss" in r and "event" not in r]
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]

    def series(key):  # NaN where a value is missing or was not finite (null in the file)
        return [math.nan if r.get(key) is None else r[key] for r in records]

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
    _growth_marks(ax2, steps, series("stage"), series("alpha"))
    ax2.set_xlabel("step")
    ax2.set_ylabel("D output")
    ax2.legend(loc="upper right")
    ax2.grid(alpha=0.3)
    fig.suptitle(Path(run_dir).name)
    fig.tight_layout()
    out = Path(run_dir) / PLOT_NAME
    try:
        with atomic_write(out) as tmp:  # a killed write leaves the old plot whole
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return out
