"""report.html: one self-contained page per run, rewritten as it trains.

The page is built from the run folder alone (config.json, log.jsonl, samples/, run.lock,
best.pt), so ``ganforge report RUN`` also makes one for a run trained before the page existed.
It shows the latest sample grid, the fixed-noise grids over training behind a slider (at most
:data:`MAX_FRAMES` of them, spread over the run, and about :data:`FRAMES_BYTES` of PNG), the
losses and D outputs with the diagnostics' findings marked on the same steps, the metrics of
``--eval-every`` with their protocol, the throughput and the resolved config. Nothing on it
reaches the network: images are data URIs, charts are drawn by the page's own script.

:class:`RunSession` is what the training loop keeps beside it: it holds ``run.lock`` (see
:mod:`ganforge.runs.status`) and refreshes the page when sample grids are written, at most
every :data:`REPORT_EVERY_S` seconds, and once more when the session ends.

The page itself is ``report.html`` beside this module (package data): one self-contained file
of HTML, CSS and JavaScript, with no network at all (system fonts, images as data URIs, the
run's numbers as embedded JSON, charts drawn as SVG). ``__TITLE__`` and ``__DATA__`` are
replaced; the data is JSON with every ``<`` escaped, so it cannot close the script element. The
page marks ``<body data-rendered="ok">`` when it has drawn everything, and a script error both
shows a banner and lands in ``data-errors`` (the browser test reads them).
"""
from __future__ import annotations

import base64
import functools
import html
import json
import math
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

from ..context import RunContext
from ..images import write_text
from .monitor import read_log
from .layout import REPORT_NAME
from .status import RunLock, read_config, run_summary, sample_grids

MAX_FRAMES = 60  # grids behind the slider
FRAMES_BYTES = 4 << 20  # PNG bytes behind the slider (before base64): the page stays a few MB
MAX_ROWS = 5000  # log records drawn (a longer log is thinned evenly; the last record is kept)
# Writing the page of a run with 100 sample grids (64 images each) takes ~0.15 s on a busy 2-core
# CPU (docs/training.md, "The run folder"); during training it is refreshed at most every 10 s, and a slow
# write waits 50x what it took, so the page costs at most ~2% of the training time.
REPORT_EVERY_S = 10.0
REPORT_COST_SHARE = 50
TRAIN_COLS = ("step", "epoch", "time_s", "img_per_s", "d_loss", "g_loss", "d_real", "d_fake")


@functools.lru_cache(maxsize=1)
def page_template() -> str:
    """The page's HTML with its ``__TITLE__`` and ``__DATA__`` slots (read once)."""
    return resources.files(__package__).joinpath("report.html").read_text(encoding="utf-8")


def _clean(v: Any) -> Any:
    """JSON-safe: NaN and infinities (read_log turns logged nulls into NaN) become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _png_size(data: bytes) -> tuple[int | None, int | None]:
    """(width, height) from a PNG's header, or (None, None)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None, None


def spread(n: int, k: int) -> list[int]:
    """``k`` indices of ``range(n)`` spread evenly, the first and the last included."""
    if n <= k:
        return list(range(n))
    if k <= 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def sample_frames(run_dir: Path, max_frames: int = MAX_FRAMES,
                  budget: int = FRAMES_BYTES) -> tuple[list[dict[str, Any]], int]:
    """The sample grids the page embeds, in step order (the newest always among them), and how
    many there are in all. Each: ``{"step", "src" (a data URI), "w", "h"}``."""
    found = []
    for step, p in sample_grids(run_dir):
        try:
            found.append((step, p, p.stat().st_size))
        except OSError:  # removed meanwhile (--overwrite)
            continue
    if not found:
        return [], 0
    mean_size = sum(f[2] for f in found) / len(found)
    k = max(2, min(max_frames, int(budget // max(mean_size, 1.0))))
    frames = []
    for i in spread(len(found), k):
        step, path, _ = found[i]
        try:
            data = path.read_bytes()
        except OSError:
            continue
        w, h = _png_size(data)
        frames.append({"step": step, "w": w, "h": h,
                       "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")})
    return frames, len(found)


def gather(run_dir: str | Path, status: str | None = None, problems: list[str] | None = None) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-able data. status: overrides what run.lock says
    (the loop writes its final page while it still holds the lock). problems: gets one line per
    run file that could not be read whole (the page leaves out what it could not read)."""
    run_dir = Path(run_dir)
    problems = [] if problems is None else problems
    records = read_log(run_dir, problems)
    summary = run_summary(run_dir, records, problems)
    train = [r for r in records if "event" not in r and isinstance(r.get("step"), (int, float))]
    if len(train) > MAX_ROWS:
        train = [train[i] for i in spread(len(train), MAX_ROWS)]
    extra = sorted({k for r in train for k, v in r.items()
                    if k not in TRAIN_COLS and isinstance(v, (int, float)) and not isinstance(v, bool)})
    cols = [*TRAIN_COLS, *extra]
    evals = [r for r in records if r.get("event") == "eval"]
    keys: list[str] = []
    for r in evals:
        keys += [k for k, v in r.items() if k not in ("step", "event", "nonfinite") and k not in keys
                 and isinstance(v, (int, float)) and not isinstance(v, bool)]
    order = {"fd": 0, "kid": 1, "precision": 2, "recall": 3}
    keys.sort(key=lambda k: (k == "eval_seconds", order.get(k, 9), k))
    protocol = next((r["protocol"] for r in reversed(evals) if isinstance(r.get("protocol"), dict)), {})
    findings = [{k: r.get(k) for k in ("step", "kind", "message", "suggestion", "applied")}
                for r in records if r.get("event") == "diagnostic"]
    frames, total = sample_frames(run_dir)
    return _clean({
        "name": run_dir.resolve().name, "path": str(run_dir.resolve()), "status": status or summary["status"],
        "data": summary["data"], "step": summary["step"], "best_fd": summary["best_fd"],
        "written": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "config": read_config(run_dir),  # (its problems are in summary's)
        "train": {"cols": cols, "rows": [[r.get(c) for c in cols] for r in train]},
        "evals": {"keys": keys, "rows": [{"step": r.get("step"), **{k: r.get(k) for k in keys}} for r in evals],
                  "protocol": protocol},
        "findings": findings, "frames": frames, "frames_total": total,
    })


def render(data: dict[str, Any]) -> str:
    """The page for ``data`` (from :func:`gather`)."""
    payload = json.dumps(data, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")
    return page_template().replace("__TITLE__", html.escape(f"{data['name']} - ganforge")).replace("__DATA__", payload)


def write_report(run_dir: str | Path, status: str | None = None, problems: list[str] | None = None) -> Path:
    """(Re)write ``run_dir/report.html`` atomically (temp file + rename); returns its path.
    problems: as for :func:`gather`."""
    return write_text(Path(run_dir) / REPORT_NAME, render(gather(run_dir, status, problems)))


class RunSession:
    """The loop's companion for one training session: holds ``run.lock`` from the start (a second
    trainer of the same run is refused) and keeps report.html current. Files are written through
    ``ctx.write``, so only the main process touches them.

    samples_saved(path): call after a sample grid is written; refreshes the page when due and
        returns ``path``.
    finish(interrupted, step): the last page, then the final status and step into run.lock,
        which is released.
    """

    def __init__(self, run_dir: Path, ctx: RunContext, every_s: float = REPORT_EVERY_S):
        self.run_dir, self.ctx, self.every_s = Path(run_dir), ctx, every_s
        self.lock: RunLock | None = ctx.write(RunLock, self.run_dir)
        self._next = -math.inf
        self._warned = False

    def samples_saved(self, path: Path | None) -> Path | None:
        if time.monotonic() >= self._next:
            self.refresh()
        return path

    def refresh(self) -> None:
        t0 = time.monotonic()
        try:
            self.ctx.write(write_report, self.run_dir)
        except Exception as e:  # the page is a view of the run: it never stops training
            if not self._warned:
                print(f"ganforge: report.html not written ({e}); training goes on", file=sys.stderr)
                self._warned = True
        t1 = time.monotonic()
        self._next = t1 + max(self.every_s, REPORT_COST_SHARE * (t1 - t0))

    def finish(self, interrupted: bool, step: int) -> None:
        status = "interrupted" if interrupted else "finished"
        if self.lock is None:
            return
        self.lock.update(step=int(step))
        try:
            self.ctx.write(write_report, self.run_dir, status)
        finally:
            self.lock.release(status)
