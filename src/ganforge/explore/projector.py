"""Projections of uploaded pictures, one at a time, in a thread of their own.

A projection is hundreds of forward and backward passes (seconds to minutes on a CPU); run in the
render worker it would freeze every page's sliders. Here it runs on its own copy of G (so nothing
it sets on G, such as ``requires_grad``, can touch the renders), with ``ganforge project``'s own
function and settings, so the command the page shows gives the same styles. Progress is counted
from G's synthesis calls (one per optimisation step), which needs no change to the tool.
"""
from __future__ import annotations

import copy
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import GanforgeError
from .queue import user_error


class Cancelled(Exception):
    """The server is stopping, or the page that asked has gone."""


class _Watched(nn.Module):
    """G as seen by the projection: every synthesis call is one step of progress, and a chance to stop."""

    def __init__(self, G: nn.Module, on_step):
        super().__init__()
        self.inner = G
        self._on_step = on_step

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["inner"], name)

    def mapping(self, *args, **kwargs) -> torch.Tensor:
        return self.inner.mapping(*args, **kwargs)

    def synthesis(self, ws: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        self._on_step()
        return self.inner.synthesis(ws, *args, **kwargs)


@dataclass
class ProjectionJob:
    """One uploaded picture to project: ``image`` (its file in the server's upload folder),
    ``out_dir`` (where projected.pt goes), ``steps``. The page polls ``state`` and ``progress``."""

    image: Path
    out_dir: Path
    steps: int
    state: str = "queued"  # queued, running, done, failed
    progress: float = 0.0
    error: str = ""
    ws: torch.Tensor | None = None
    cancelled: bool = False


class Projector:
    """The projection thread. G: the run's generator (copied once); seed: as ``project --seed``."""

    def __init__(self, G: nn.Module, seed: int = 0):
        self._G = copy.deepcopy(G).eval()
        self._seed = seed
        self._jobs: queue.Queue[ProjectionJob | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ganforge-project", daemon=True)
        self._thread.start()

    def submit(self, job: ProjectionJob) -> ProjectionJob:
        if self._stop.is_set():
            raise GanforgeError("the server is stopping")
        self._jobs.put(job)
        return job

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None or self._stop.is_set():
                return
            if job.cancelled:
                continue
            self._run(job)

    def _run(self, job: ProjectionJob) -> None:
        from ..tools import project, read_target, save_projection

        calls = [0]

        def on_step() -> None:
            if self._stop.is_set() or job.cancelled:
                raise Cancelled()
            calls[0] += 1
            job.progress = min(1.0, calls[0] / job.steps)

        job.state = "running"
        try:
            target = read_target(job.image, self._G)
            res = project(_Watched(self._G, on_step), target, steps=job.steps, seed=self._seed, progress=False)
            save_projection(res, job.out_dir, checkpoint=getattr(self._G, "checkpoint_path", None),
                            image=job.image.name)
            job.ws, job.progress, job.state = res.ws, 1.0, "done"
        except Cancelled:
            job.state, job.error = "failed", "stopped"
        except Exception as e:
            job.state, job.error = "failed", str(user_error(e))
