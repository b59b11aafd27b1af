"""The run context: which process this is in a run, made once and passed down.

Every file a run writes (checkpoint, log, grids, GIF, loss plot, TensorBoard, config) goes
through :meth:`RunContext.write`, which runs the writer on the main process only; every decision
that ends or rewinds training (stop, deadline, NaN rollback) goes through :meth:`RunContext.agree`,
so that all processes take it together instead of one waiting forever for the others. With one
process both are plain calls.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def _all_reduce_any(flag: bool, device: torch.device) -> bool:
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _all_reduce_mean(t: torch.Tensor, world_size: int) -> torch.Tensor:
    import torch.distributed as dist

    t = t.detach().clone()
    dist.all_reduce(t)
    return t.div_(world_size)


def _broadcast_object(value, rank: int):
    import torch.distributed as dist

    box = [value if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@dataclass(frozen=True)
class RunContext:
    """rank, world_size: this process's place among the run's processes (0 and 1 for one process).
    device: where this process trains.
    any_fn: how ranks agree (``flag on any rank -> True on all``); default: a MAX all-reduce over
        the default process group, or the flag itself for one process. Tests pass their own.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world_size: int = 1
    any_fn: Callable[[bool], bool] | None = None

    def __post_init__(self):
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"RunContext: rank {self.rank} is outside world size {self.world_size}")

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0

    def write(self, writer: Callable[..., T], *args, **kwargs) -> T | None:
        """``writer(*args, **kwargs)`` on the main process; None elsewhere."""
        return writer(*args, **kwargs) if self.is_main else None

    def agree(self, flag: bool) -> bool:
        """True on every process when ``flag`` is True on any of them."""
        if self.any_fn is not None:
            return bool(self.any_fn(bool(flag)))
        if self.world_size == 1:
            return bool(flag)
        return _all_reduce_any(bool(flag), self.device)

    @property
    def _collective(self) -> bool:
        # a test's own any_fn stands in for a process group: then nothing else is exchanged
        return self.world_size > 1 and self.any_fn is None

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of ``values`` over all processes (the same tensor on every one)."""
        return _all_reduce_mean(values, self.world_size) if self._collective else values

    def from_main(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """``fn(*args, **kwargs)`` computed on the main process and handed to all: a decision (a run
        folder) or a file only the main process may be able to read (a checkpoint on its disk).
        An exception on the main process is raised on every process."""
        if not self._collective:
            return fn(*args, **kwargs)
        result: tuple[bool, object] | None = None
        if self.is_main:
            try:
                result = (True, fn(*args, **kwargs))
            except Exception as e:  # every process must leave the broadcast, then all raise
                result = (False, e)
        ok, value = _broadcast_object(result, self.rank)
        if not ok:
            raise value
        return value
