"""Which real images each step sees, and how they reach the trainer.

:class:`EpochSampler` decides the order: epochs shuffled from the seed, and with several
processes each one's shard of every global batch. The batch sources deliver them: from a
dataset held as one uint8 tensor (on the device), or - for a prepared set too big for memory
(:mod:`ganforge.data.prepared`) - read from disk by DataLoader workers a few batches ahead.
"""
from __future__ import annotations

import copy
import math
import signal
import threading
from typing import Iterator

import torch

from ..data import ImageData
from ..errors import DataError


class DataWorkerDied(DataError):
    """A process reading a streamed set died; training stops after saving what it had."""

    exit_code = 1  # not a usage error


class EpochSampler:
    """Shuffled batches without replacement; epoch e's order depends only on (seed, e), so a
    resumed run picks up mid-epoch exactly where it stopped.

    batch_size: real images one step of this process consumes (``parts`` sub-batches of equal
    size, one per D update). With ``world_size`` processes a step consumes ``batch_size *
    world_size`` images of the epoch's order, and process ``rank`` takes, of every sub-batch of
    that global batch, its ``rank``-th share: its batch is exactly its slice of the batch one
    process would see with the global batch size.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device, *, rank: int = 0,
                 world_size: int = 1, parts: int = 1):
        self.n, self.batch_size, self.seed, self.device = n, batch_size, seed, device
        self.rank, self.world_size, self.parts = rank, world_size, parts
        self.global_batch = batch_size * world_size
        self.steps_per_epoch = n // self.global_batch  # the last partial batch is dropped, as in the seeds
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None

    def _order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g).to(self.device)

    def next_indices(self) -> torch.Tensor:
        if self.pos >= self.steps_per_epoch:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        if self._perm is None:
            self._perm = self._order(self.epoch)
        i = self.pos * self.global_batch
        self.pos += 1
        batch = self._perm[i:i + self.global_batch]
        if self.world_size == 1:
            return batch
        # layout: the global batch as (sub-batch, rank, image); this process keeps its column
        return batch.view(self.parts, self.world_size, -1)[:, self.rank].reshape(-1)

    @property
    def epochs_done(self) -> float:
        return self.epoch + self.pos / self.steps_per_epoch

    def steps_until(self, epochs: float) -> int:
        """Steps from now until ``epochs`` passes over the data are done (at least 0)."""
        return max(0, math.ceil(epochs * self.steps_per_epoch) - (self.epoch * self.steps_per_epoch + self.pos))

    def ahead(self) -> Iterator[torch.Tensor]:
        """The batches to come, from the current position on, without moving this sampler."""
        twin = copy.copy(self)
        while True:
            yield twin.next_indices()


class InMemoryBatches:
    """Batches as index views of the whole uint8 dataset, held on the device."""

    def __init__(self, data: ImageData, sampler: EpochSampler, device: torch.device, labelled: bool):
        self.sampler = sampler
        self.images = data.images.to(device)  # layout: (N, C, H, W) uint8
        self.labels = data.labels.to(device) if labelled else None

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.sampler.next_indices()
        return self.images[idx], None if self.labels is None else self.labels[idx]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def _reader_worker_init(worker_id: int) -> None:
    """In a reader process: leave stopping to the trainer, and stay silent when it hangs up.

    A Ctrl-C reaches every process of the terminal's group; the trainer answers it by finishing
    its step and saving, then ends its readers itself. A forked reader inherits the trainer's
    handler, a spawned one (macOS, Windows) would end on it with a KeyboardInterrupt, so every
    reader ignores it.

    A reader hands each batch over through a background thread of multiprocessing's resource
    sharer (the trainer sends the readers only lists of ints, so it runs none). When training stops - a sibling reader killed, a Ctrl-C - the trainer drops those
    connections, and that thread reports the reset as a traceback on the shared stderr, burying
    the one line that says what happened. Only a peer hanging up is silenced; anything else is
    still reported.
    """
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    report = sys.excepthook

    def hook(kind, value, tb):
        if not issubclass(kind, (ConnectionError, EOFError)):
            report(kind, value, tb)

    sys.excepthook = hook


class StreamedBatches:
    """Batches read from a prepared set on disk by ``workers`` DataLoader processes, a few steps
    ahead of training, so memory stays flat whatever the set's size. The readers follow the
    sampler's order exactly, so a run sees the same batches as it would in memory."""

    def __init__(self, data: ImageData, sampler: EpochSampler, device: torch.device, labelled: bool, workers: int):
        from ..data.prepared import BatchReader

        self.sampler, self.device, self.workers = sampler, device, workers
        self.reader = BatchReader(data.source_path, labelled)
        self._it: Iterator | None = None

    def _start(self) -> Iterator:
        # The readers get each batch's indices as a list of ints: a tensor sent to a worker process
        # travels as a shared file descriptor, served by a resource-sharer thread in this process,
        # which prints a traceback of its own when a reader dies mid-handover.
        indices = (idx.tolist() for idx in self.sampler.ahead())
        loader = torch.utils.data.DataLoader(
            self.reader, sampler=indices, batch_size=None, num_workers=self.workers,
            pin_memory=self.device.type == "cuda", prefetch_factor=4 if self.workers else None,
            # its own generator: the workers' seeds must not be drawn from the training RNG
            generator=torch.Generator().manual_seed(0), worker_init_fn=_reader_worker_init)
        it = iter(loader)
        if self.workers and threading.current_thread() is threading.main_thread():
            # torch's SIGCHLD handler raises wherever the main thread is when a worker dies - in
            # the middle of a step, leaving it half done. Without it, a dead worker is found by the
            # next read (it checks its workers while waiting), between two steps.
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        return it

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._it is None:
            self._it = self._start()
        try:
            images, labels = next(self._it)
        except (RuntimeError, OSError, EOFError) as e:
            # a worker killed (the OOM killer, kill -9) or gone: torch says so in a RuntimeError, or
            # the pipe it was writing into breaks first (OSError, EOFError); a worker's disk error
            # arrives the same way
            if isinstance(e, RuntimeError) and "DataLoader worker" not in str(e):
                raise
            self.close()
            why = " ".join(str(e).split()) or type(e).__name__
            raise DataWorkerDied(f"--data-load stream: a DataLoader worker reading {self.reader.path} failed or "
                                 f"died ({why})") from None
        self.sampler.next_indices()  # the position a checkpoint records: past this batch only once it is read
        images = images.to(self.device, non_blocking=True)
        return images, None if labels is None else labels.to(self.device, non_blocking=True)

    def reset(self) -> None:
        """The sampler moved (a resume or a rollback): read from its new position."""
        self.close()

    def close(self) -> None:
        self._it = None  # the DataLoader's workers end with their iterator


def batch_source(data: ImageData, sampler: EpochSampler, device: torch.device, labelled: bool, workers: int):
    """The batch source for ``data``: streamed from disk when it is a prepared set left there."""
    if getattr(data, "streamed", False):
        return StreamedBatches(data, sampler, device, labelled, workers)
    return InMemoryBatches(data, sampler, device, labelled)
