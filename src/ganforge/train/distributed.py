"""Many processes: torchrun's environment -> a process group and a RunContext, and what keeps
the processes' copies of the run identical.

``torchrun --nproc_per_node N -m ganforge train ...`` starts N copies of ``ganforge train``
with RANK, WORLD_SIZE and LOCAL_RANK set (and MASTER_ADDR/MASTER_PORT for the rendezvous);
:func:`process_group` reads them, joins the group (NCCL on CUDA, gloo on CPU), pins the CUDA
device by LOCAL_RANK and leaves the group on the way out, on errors too, so nothing hangs at
exit. Without those variables it is one process, exactly as before.

Why an explicit gradient all-reduce and not DistributedDataParallel: DDP reduces gradients from
hooks on ``.backward()`` of the forward it wrapped, and a GAN step does not fit that shape. D runs
two forwards (real, fake) before one backward; the G phase backpropagates through a D whose
parameters have ``requires_grad`` switched off (DDP then waits for gradients that never come,
or needs ``find_unused_parameters`` and a fresh graph walk each step); the joint step takes its
gradients with ``torch.autograd.grad``, which never fires DDP's hooks; GP and R1 differentiate D
twice, which DDP's reducer does not support. :class:`GradAllReduce` instead averages each
network's gradients in one flat all-reduce between backward and ``opt.step()`` - the
``before_update`` slot of the trainer's update hooks - whatever produced them. With identical
starting weights (broadcast from rank 0) and identical averaged updates, G, D and G_ema stay
equal on every process.

Random numbers: latents (and a conditional model's fake labels) are drawn for the *global* batch
from one stream all processes share, each keeping its slice, so N processes with batch B compute
what one process would with batch N*B. Everything else random (dropout, augmentation, label and
instance noise, replay mixing) comes from each process's own stream, seeded from
(seed, rank, step).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import random
from datetime import timedelta
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn as nn

from ..device import resolve_device
from ..errors import ConfigError, GanforgeError
from ..context import RunContext
from .hooks import UpdateHook

DEFAULT_TIMEOUT_S = 600.0  # how long a collective waits for a silent process before failing


class PeerFailed(GanforgeError):
    """Another process of a multi-process run failed or vanished; this one stops too."""

    exit_code = 1  # not a usage error


def env_world() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) without it."""
    def read(name: str, default: int) -> int:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"environment variable {name}={raw!r}: must be an integer (torchrun sets it)") from None

    world = read("WORLD_SIZE", 1)
    rank, local = read("RANK", 0), read("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} and WORLD_SIZE={world}: need 0 <= RANK < WORLD_SIZE")
    return rank, world, local


def _is_peer_failure(e: BaseException) -> bool:
    import torch.distributed as dist

    if isinstance(e, getattr(dist, "DistError", ())):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and any(s in text for s in (
        "gloo", "Gloo", "NCCL", "Connection closed", "Connection reset", "Broken pipe", "timed out",
        "Timed out", "Socket", "peer"))


@contextlib.contextmanager
def process_group(device: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[RunContext]:
    """The RunContext of this process. Under torchrun (WORLD_SIZE > 1): joins the default process
    group - NCCL on CUDA (device cuda:LOCAL_RANK), gloo on CPU - with ``timeout_s`` per collective,
    and destroys it on the way out, whatever happened. A collective that fails because another
    process died or went silent becomes :class:`PeerFailed` with a one-line message."""
    rank, world, local = env_world()
    dev = resolve_device(device)
    if world == 1:
        yield RunContext(device=dev)
        return
    import torch.distributed as dist

    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK={local}: this machine has {torch.cuda.device_count()} CUDA device(s); "
                              f"start at most that many processes per node (--nproc_per_node)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not os.environ.get("MASTER_ADDR") or not os.environ.get("MASTER_PORT"):
        raise ConfigError(f"WORLD_SIZE={world} but MASTER_ADDR/MASTER_PORT are not set: start the processes "
                          f"with torchrun (torchrun --nproc_per_node {world} -m ganforge train ...)")
    # torch 2.13 imports torch._dynamo on the first optimizer it builds; done while a process group
    # exists, that import keeps references to the group, so destroy_process_group cannot free it and
    # its gloo threads then race the interpreter's exit (SIGABRT, "terminate called without an
    # active exception", in about one run of ten). Imported first, it holds none.
    importlib.import_module("torch._dynamo")
    try:
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timedelta(seconds=timeout_s))
    except Exception as e:
        if _is_peer_failure(e):
            raise PeerFailed(f"rank {rank} of {world}: could not join the process group within "
                             f"{timeout_s:g} s ({_first_line(e)})") from None
        raise
    try:
        yield RunContext(device=dev, rank=rank, world_size=world)
    except GanforgeError:
        raise
    except Exception as e:
        if _is_peer_failure(e):
            raise PeerFailed(f"rank {rank} of {world}: another process of this run failed or stopped "
                             f"answering, so this one stops too ({_first_line(e)})") from None
        raise
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:197] + "..."


def collectives(ctx: RunContext) -> bool:
    """Whether ``ctx`` is one of several processes joined in a real process group."""
    import torch.distributed as dist

    return ctx.world_size > 1 and ctx.any_fn is None and dist.is_available() and dist.is_initialized()


def rank_seed(seed: int, rank: int, step: int) -> int:
    """The seed of one process's own random stream, from the run's seed, its rank and the step it
    (re)starts at: different on every rank, reproducible from the three numbers."""
    digest = hashlib.sha256(f"ganforge:{seed}:{rank}:{step}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def seed_rank_stream(seed: int, rank: int, step: int) -> None:
    s = rank_seed(seed, rank, step)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


class SharedNoise:
    """Latents and fake labels for the global batch from one generator every process holds in
    the same state; each process keeps its own slice (rank r: rows r*n .. (r+1)*n)."""

    def __init__(self, state: torch.Tensor, rank: int, world_size: int):
        self.gen = torch.Generator()
        self.gen.set_state(state)
        self.rank, self.world_size = rank, world_size

    def _mine(self, x: torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
        return x[self.rank * n:(self.rank + 1) * n].to(device)

    def randn(self, n: int, dim: int, device: torch.device) -> torch.Tensor:
        return self._mine(torch.randn(n * self.world_size, dim, generator=self.gen), n, device)

    def randint(self, high: int, n: int, device: torch.device) -> torch.Tensor:
        return self._mine(torch.randint(0, high, (n * self.world_size,), generator=self.gen), n, device)


class GradAllReduce(UpdateHook):
    """Averages a network's gradients over all processes before its optimizer step (one flat
    all-reduce per update), and its floating buffers (BatchNorm statistics) after each step.
    It must be the first hook: clipping then sees the global gradient, and G_ema copies the
    averaged buffers."""

    def __init__(self, world_size: int):
        self.world_size = world_size

    @staticmethod
    def _flat_mean(tensors: list[torch.Tensor], world_size: int) -> None:
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        if not tensors:
            return
        flat = _flatten_dense_tensors(tensors)
        dist.all_reduce(flat)
        flat.div_(world_size)
        for t, avg in zip(tensors, _unflatten_dense_tensors(flat, tensors)):
            t.copy_(avg)

    def before_update(self, tr, net):
        module = tr.D if net == "D" else tr.G
        params = [p for p in module.parameters() if p.requires_grad]
        for p in params:  # every process reduces the same list, even if one got no gradient
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        self._flat_mean([p.grad for p in params], self.world_size)

    def after_step(self, tr, n):
        buffers = [b for m in (tr.G, tr.D) for b in m.buffers() if b.is_floating_point()]
        with torch.no_grad():
            self._flat_mean(buffers, self.world_size)


def broadcast_modules(modules: list[nn.Module | None]) -> None:
    """Rank 0's parameters and buffers, copied to every process."""
    import torch.distributed as dist

    for m in modules:
        if m is None:
            continue
        with torch.no_grad():
            for t in [*m.parameters(), *m.buffers()]:
                dist.broadcast(t.data, src=0)


def _sum_over_ranks(device: torch.device):
    def reduce(values: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        on_device = values.to(device)  # NCCL reduces CUDA tensors only
        dist.all_reduce(on_device)
        return on_device.to(values.device)

    return reduce


class Distributed:
    """What a run with several processes adds to one trainer: the gradient all-reduce hook, the
    shared latent stream, per-rank random streams, ADA's statistic over all processes, optional
    SyncBatchNorm, and the conversion of a checkpoint's data position between world sizes.
    With one process it only does the last. The builder takes its :meth:`hooks`, then binds it to
    the trainer (:meth:`bind`)."""

    def __init__(self, cfg, ctx: RunContext, global_batch: int):
        self.cfg, self.ctx, self.seed, self.global_batch = cfg, ctx, cfg.train.seed, global_batch
        self.active = collectives(ctx)
        self.tr = None
        if cfg.train.sync_batchnorm and ctx.world_size > 1 and ctx.device.type != "cuda":
            raise ConfigError("--sync-batchnorm: needs CUDA (torch's SyncBatchNorm runs on GPUs only); on CPU "
                              "each process normalises its own batch (drop --sync-batchnorm)")

    def hooks(self) -> list[UpdateHook]:
        """The gradient all-reduce, which must act first: clipping then sees the global gradient,
        and G_ema copies the averaged buffers."""
        return [GradAllReduce(self.ctx.world_size)] if self.active else []

    def bind(self, trainer) -> None:
        """Make the processes' copies identical and give them their random streams (after the
        trainer is built, on every process from the same global RNG state)."""
        self.tr = trainer
        trainer.dist = self
        if not self.active:
            return
        if self.cfg.train.sync_batchnorm:
            for net in (trainer.G, trainer.D):  # in place: the optimizers keep the same parameters
                for name, child in list(net.named_children()):
                    setattr(net, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
            trainer.d_batch_dependent = True
        broadcast_modules([trainer.G, trainer.D, trainer.G_ema])
        if trainer.ada is not None:
            trainer.ada.reduce = _sum_over_ranks(self.ctx.device)
            trainer.ada.batch_size = trainer.ada.batch_size * self.ctx.world_size
        # Every process reaches this point with the same global RNG state (same seed, same
        # construction): that state becomes the shared latent stream.
        trainer.noise = SharedNoise(torch.get_rng_state(), self.ctx.rank, self.ctx.world_size)
        seed_rank_stream(self.seed, self.ctx.rank, trainer.step)

    def describe(self) -> dict[str, int]:
        """What config.json and the log state about the processes (nothing for one process)."""
        w = self.ctx.world_size
        if w == 1:
            return {}
        return {"world_size": w, "batch_per_process": self.tr.cfg.train.batch_size,
                "global_batch_size": self.tr.cfg.train.batch_size * w}

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"world_size": self.ctx.world_size, "global_batch": self.global_batch}
        if self.active:
            out["shared_noise"] = self.tr.noise.gen.get_state()
        return out

    def load_state_dict(self, ckpt: dict[str, Any], sampler) -> None:
        """After the loop restored ``ckpt``: carry the data position over to this world size (by
        images seen in the epoch) and restart the random streams."""
        old = int(ckpt.get("global_batch", self.global_batch))
        if old != self.global_batch:
            sampler.pos = min(sampler.pos * old // self.global_batch, sampler.steps_per_epoch)
        if not self.active:
            return
        # a one-process checkpoint's global stream (restored on every rank) becomes the shared one
        state = ckpt.get("shared_noise")
        self.tr.noise = SharedNoise(state if state is not None else torch.get_rng_state(),
                                    self.ctx.rank, self.ctx.world_size)
        seed_rank_stream(self.seed, self.ctx.rank, self.tr.step)
