"""``--cuda-graphs``: capture one whole training step as a CUDA graph, then replay it.

Why: a GAN step on small images is launch-bound on a large GPU. Each of its few hundred kernels
(convolutions, norms, activations, losses, two optimizer steps, the G_ema lerp) costs the CPU a
few microseconds to launch, more than the GPU needs to run it. A CUDA graph records the kernels
of one step once; a replay launches all of them with one call.

What is captured: all of :meth:`GANTrainer.eager_step` for one batch - scaling the uint8 batch,
both phases (G and D forwards and backwards, losses, penalties due every update), both optimizer
steps, the update hooks (gradient clipping, weight clipping, G_ema) and the step's statistics.
The whole step rather than G and D as graphed callables (``torch.cuda.make_graphed_callables``),
because the optimizer steps and the EMA are a large share of the launches, and capturing them
needs only capturable optimizers.

Why a replay computes what an eager step would:

* Static input: each batch is copied into one device buffer the graph reads (the uint8 images,
  and the labels of a conditional model). Batch shapes never change: the sampler drops the last
  partial batch.
* Random numbers (latents, dropout masks, label noise, augmentation) come from the CUDA
  generator, which PyTorch registers with the graph: each replay advances its Philox offset as an
  eager step does, so every replay draws new numbers.
* Optimizers are built with ``capturable=True`` (fused Adam stays fused): their step counters live
  on the device, so the bias correction is computed inside the graph, not from a host counter.
* Memory: tensors made during the capture (activations, gradients, the statistics) come from the
  graph's private pool and keep their addresses, so each replay writes into the same places. The
  statistics the loop keeps until the next log point are cloned out after each replay (four
  scalars), or every kept entry would show the last step's values.
* Python values are frozen at capture: the learning rates, the augmentation probability, and
  every plain Python number, flag or string held by a module of G or D (dropout rates, and a
  model family's stage or fade-in alpha if it keeps them as Python numbers). Before each replay
  they are compared with their values at capture (:meth:`GraphedStep._key`, some microseconds);
  when one differs - a remedy, a NaN rollback, a family's schedule - the graph is captured again. Settings that would change a frozen value every step are refused by
  config validation: ``--lr-decay``, ``--instance-noise``, ``--ada-target``, ``--replay-size``
  (host-side ring buffer), a lazy ``--r1-every`` above 1, and ``--compile``.
* Python counters (steps, D updates) are advanced by hand after each replay, as the step would.

Warm-up: the first ``warmup`` steps run eagerly on a side stream, so that lazily created state
(optimizer moments, cuDNN's algorithm choice, the autograd engine's streams) exists before the
capture; the next step is captured and replayed, and every later step is a replay. Loading a
checkpoint replaces the optimizers' state tensors, so the trainer drops the graph then (:meth:`reset`).
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError
from .state import StepStats

WARMUP_STEPS = 3  # eager steps before the capture (PyTorch's documentation uses a few)


def check_device(device: torch.device) -> None:
    """``--cuda-graphs`` on anything but a CUDA device is a ConfigError (config validation also
    catches it; this covers trainers built directly)."""
    if device.type != "cuda":
        raise ConfigError(f"--cuda-graphs: needs CUDA (this run trains on {device}; drop --cuda-graphs)")


def set_capturable(opt: torch.optim.Optimizer, on: bool) -> None:
    """Make a loaded optimizer capturable (``on``) or not, whatever the checkpoint's run was: its
    param groups carry the flag, and the step counters must live where that mode reads them
    (on the device when capturable or fused, else on the CPU)."""
    for group in opt.param_groups:
        if "capturable" not in group:
            continue
        group["capturable"] = on
        for p in group["params"]:
            state = opt.state.get(p, {})
            if torch.is_tensor(state.get("step")):
                where = p.device if on or group.get("fused") else torch.device("cpu")
                state["step"] = state["step"].to(where)


class GraphedStep:
    """Runs the trainer's step through a CUDA graph; call it like ``GANTrainer.train_step``."""

    def __init__(self, trainer: Any, warmup: int = WARMUP_STEPS):
        # (trainer: a GANTrainer, whose module imports this one; it needs eager_step, the
        # counters, the optimizers and the networks)
        check_device(trainer.device)
        if trainer.ctx.world_size > 1:  # a cross-process gradient reduce inside a capture is untested
            raise ConfigError("--cuda-graphs: one process only for now (this run has "
                              f"{trainer.ctx.world_size}); drop --cuda-graphs")
        self.tr = trainer
        self.warmup = warmup
        self.eager_steps = 0  # steps run eagerly so far (warm-up)
        self.captures = 0  # how many times a graph was captured (a remedy forces a new one)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.key: tuple | None = None
        self.watched: list[tuple[torch.nn.Module, str]] = []
        self.static_real: torch.Tensor | None = None
        self.static_labels: torch.Tensor | None = None
        self.out: StepStats | None = None
        self.d_updates = 0  # D updates one step makes (counted during the capture)

    def reset(self) -> None:
        """Forget the graph (after a checkpoint load replaced the optimizer state): the next step
        captures a new one."""
        self.graph, self.key, self.out = None, None, None

    def _key(self) -> tuple:
        """The Python values the captured kernels may hold as constants. Which module attributes
        to watch is found once per capture (:meth:`_watch`); reading them is then cheap."""
        tr = self.tr
        return (tr.state.lr_g, tr.state.lr_d, tr.augment_p, tuple(getattr(m, k) for m, k in self.watched))

    def _watch(self) -> list[tuple[torch.nn.Module, str]]:
        return [(m, k) for net in (self.tr.G, self.tr.D) for m in net.modules() for k, v in vars(m).items()
                if isinstance(v, (bool, int, float, str)) and not k.startswith("__")]

    def __call__(self, real_u8: torch.Tensor, labels: torch.Tensor | None = None) -> StepStats:
        tr = self.tr
        if self.eager_steps < self.warmup:
            self.eager_steps += 1
            side = torch.cuda.Stream(tr.device)
            side.wait_stream(torch.cuda.current_stream(tr.device))
            with torch.cuda.stream(side):
                stats = tr.eager_step(real_u8, labels)
            torch.cuda.current_stream(tr.device).wait_stream(side)
            return stats
        real = real_u8.to(tr.device, non_blocking=True)
        labels = labels.to(tr.device, non_blocking=True) if labels is not None else None
        if self.static_real is None or self.static_real.shape != real.shape:
            self.static_real = torch.empty_like(real)
            self.static_labels = torch.empty_like(labels) if labels is not None else None
            self.reset()
        self.static_real.copy_(real, non_blocking=True)
        if labels is not None:
            self.static_labels.copy_(labels, non_blocking=True)
        if self.graph is None or self.key != self._key():  # (the same Python values: replay)
            self._capture()  # runs Python's side of the step (counters) once, kernels not yet
        else:
            tr.step += 1
            tr.d_steps += self.d_updates
        self.graph.replay()
        return type(self.out)(*(t.clone() for t in (self.out.d_loss, self.out.g_loss, self.out.d_real,
                                                     self.out.d_fake)))

    def _capture(self) -> None:
        tr = self.tr
        self.graph = None  # frees the previous graph's pool once its tensors go
        torch.cuda.synchronize(tr.device)
        graph = torch.cuda.CUDAGraph()
        d_before = tr.d_steps
        with torch.cuda.graph(graph):
            self.out = tr.eager_step(self.static_real, self.static_labels)
        self.d_updates = tr.d_steps - d_before
        self.watched = self._watch()
        self.graph, self.key = graph, self._key()
        self.captures += 1
