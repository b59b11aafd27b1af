"""The render queue: one worker thread owns the generator's forward passes; the page's requests,
from any number of pages, wait on it.

Why one worker: the CPU is the bottleneck, and a forward pass of 20 images costs little more than
one of 1, so the images asked for while the last batch ran are drawn together in the next one.
Each request is keyed by its page and view; a newer request from the same page and view replaces
an older one still waiting (a slider dragged fast asks for many images and needs only the last),
so one page cannot fill the queue and delay another page's images behind its own stale ones.
Figures (style mixing, interpolation, the directions figure) run in the same worker, one each.
Projections take seconds to minutes and run in their own thread (:mod:`.projector`), never here.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any, Callable

import torch

from ..errors import GanforgeError

WAIT_S = 120.0  # a request that waits longer is answered "busy"


def user_error(e: Exception) -> GanforgeError:
    """The one-line error the page shows. A GanforgeError is the user's to fix and says how; any
    other exception is a bug: one line on the server's output too, never a traceback in the page."""
    if isinstance(e, GanforgeError):
        return e
    print(f"ganforge explore: internal error: {type(e).__name__}: {' '.join(str(e).split())[:200]}", file=sys.stderr)
    return GanforgeError(f"internal error ({type(e).__name__}); see the server's output")


class Superseded(Exception):
    """A newer request of the same page and view replaced this one before it ran."""


class Job:
    """One request's work. ``points``: draw these (N, ...) with class ``y`` (or None) batched with
    others, the result is uint8 images (N, C, H, W); else ``call()`` runs alone."""

    def __init__(self, points: Callable[[], torch.Tensor] | None = None, y: int | None = None,
                 call: Callable[[], Any] | None = None):
        self.points, self.y, self.call = points, y, call
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()

    def wait(self, timeout: float = WAIT_S) -> Any:
        if not self.done.wait(timeout):
            raise GanforgeError("the server is busy; try again in a moment")
        if self.error is not None:
            raise self.error
        return self.result


class RenderQueue:
    """Jobs in, results out, one batch at a time. draw(points, y) renders a batch (y: int64 (N,)
    or None); max_batch caps a batch's images."""

    def __init__(self, draw: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], max_batch: int = 64):
        self._draw, self._max = draw, max_batch
        self._pending: OrderedDict[Any, Job] = OrderedDict()
        self._cond = threading.Condition()
        self._stop = False
        self.batches: list[int] = []  # images per forward pass, the last few (the tests read it)
        self._thread = threading.Thread(target=self._loop, name="ganforge-render", daemon=True)
        self._thread.start()

    def submit(self, key: Any, job: Job) -> Job:
        """Queue ``job`` under ``key`` (page, view); a job still waiting under that key is superseded."""
        with self._cond:
            if self._stop:
                job.finish(error=GanforgeError("the server is stopping"))
                return job
            old = self._pending.pop(key, None)
            if old is not None:
                old.finish(error=Superseded())
            self._pending[key] = job
            self._cond.notify()
        return job

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            for job in self._pending.values():
                job.finish(error=GanforgeError("the server is stopping"))
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def _take(self) -> list[Job]:
        """The next work: every waiting image request (one batch), else the oldest figure. Images
        go first: a slider waits for at most the one figure already running, never a queue of them."""
        with self._cond:
            while not self._pending and not self._stop:
                self._cond.wait()
            if self._stop:
                return []
            keys = [k for k, job in self._pending.items() if job.points is not None] or [next(iter(self._pending))]
            return [self._pending.pop(k) for k in keys]

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                return
            if jobs[0].points is None:
                self._run_call(jobs[0])
            else:
                self._run_batch(jobs)

    @staticmethod
    def _run_call(job: Job) -> None:
        try:
            job.finish(job.call())
        except Exception as e:
            job.finish(error=user_error(e))

    def _run_batch(self, jobs: list[Job]) -> None:
        ready, parts = [], []
        for job in jobs:  # each job's points first: a bad request fails alone, not its batch
            try:
                p = job.points()
            except Exception as e:
                job.finish(error=user_error(e))
                continue
            ready.append(job)
            parts.append(p)
        if not ready:
            return
        points = torch.cat(parts)
        y = None
        if ready[0].y is not None:
            y = torch.cat([torch.full((p.shape[0],), int(j.y), dtype=torch.int64) for j, p in zip(ready, parts)])
        try:
            images = torch.cat([self._draw(points[i:i + self._max], None if y is None else y[i:i + self._max])
                                for i in range(0, points.shape[0], self._max)])
        except Exception as e:
            err = user_error(e)
            for job in ready:
                job.finish(error=err)
            return
        self.batches = (self.batches + [int(points.shape[0])])[-50:]
        i = 0
        for job, p in zip(ready, parts):
            job.finish(images[i:i + p.shape[0]])
            i += p.shape[0]
