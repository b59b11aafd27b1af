"""Assembling a trainer: the one place that decides what goes into it, and in which order.

:func:`build_trainer` asks the model's family (:mod:`ganforge.train.family`) what it adds, builds
the networks and their optimizers, and hands the trainer its penalties and update hooks in one
explicit order, then binds the family, the cross-process machinery and CUDA graphs to it:

1. the family (by ``--arch``), then G and D (from torch's global RNG), their layout and device;
2. penalties: the loss's own (GP, R1, drift), then the family's (path length); the optimizers,
   with the lazy regularisers' corrections of learning rate and betas (and the family's own);
3. hooks, in the order they act: the cross-process gradient reduce, the family's schedule, then
   gradient clipping, weight clipping, ADA's statistic and G_ema;
4. the family bound to the trainer, then the processes (shared latents, broadcast weights), then
   the CUDA graph of the step.
"""
from __future__ import annotations

from typing import Any

import torch

from ..config import OptimConfig, RunConfig
from ..context import RunContext
from ..losses import LOSSES
from ..models import build_models, use_fast_dropout, use_mirrored_padding
from .cuda_graphs import GraphedStep
from .distributed import Distributed
from .families import family_class
from .hooks import build_hooks
from .penalties import build_regularisers
from .state import TrainState
from .trainer import GANTrainer


def build_optimizer(params, cfg: OptimConfig, lr: float, device: torch.device, capturable: bool = False,
                    beta_power: float = 1.0) -> torch.optim.Optimizer:
    """Adam or RMSprop with the config's hyper-parameters (Keras semantics for rho/eps).

    capturable: step counters on the device, so the step can be captured in a CUDA graph.
    beta_power: Adam's betas are raised to this power (a lazy regulariser's correction).
    """
    params = list(params)
    # Fused kernels exist for CUDA; on CPU the multi-tensor (foreach) path is the fast one.
    kw: dict[str, Any] = {"fused": True} if device.type == "cuda" else {"foreach": True}
    if capturable:
        kw["capturable"] = True
    if cfg.optimizer == "adam":
        betas = (cfg.beta1 ** beta_power, cfg.beta2 ** beta_power)
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=cfg.eps, **kw)
    # Keras RMSprop divides by sqrt(v) + eps, as PyTorch does; rho is PyTorch's alpha.
    kw.pop("fused", None)
    return torch.optim.RMSprop(params, lr=lr, alpha=cfg.rho, eps=cfg.eps, foreach=True, capturable=capturable)


def lazy_factor(interval: int) -> float:
    """k / (k + 1) for a regulariser run as its own step every k steps: the share of the network's
    optimizer steps that carry the main loss, by which its lr and (as a power) betas are scaled."""
    return interval / (interval + 1) if interval > 1 else 1.0


def lazy_corrections(regularisers: list, on: bool = True) -> dict[str, float]:
    """``{net: k/(k+1)}`` for each network with a lazy regulariser (Karras et al. 2020, appendix
    B: the reference corrects exactly where a regularising step of its own exists)."""
    if not on:
        return {}
    return {reg.net: lazy_factor(reg.interval) for reg in regularisers if reg.lazy}


def build_trainer(cfg: RunConfig, img_channels: int, img_size: int, device: torch.device | None = None,
                  ctx: RunContext | None = None, *, global_batch: int | None = None) -> GANTrainer:
    """A trainer for ``cfg`` on images of ``img_channels`` x ``img_size`` x ``img_size``.

    device: where it trains (default: the CPU), unless ``ctx`` says which process this is.
    global_batch: real images one step takes over all processes (default: this process's
        batch times the number of processes), for carrying a checkpoint's data position over
        to another number of processes.
    """
    ctx = ctx or RunContext(device=device or torch.device("cpu"))
    dev, t, o, k = ctx.device, cfg.train, cfg.optim, cfg.tricks
    family = family_class(cfg.model.arch)(cfg)
    G, D = build_models(cfg.model, img_channels, img_size)
    if t.fast_dropout and dev.type == "cpu":  # CUDA's fused dropout is fast already
        for net in (G, D):
            use_fast_dropout(net)
    if t.mirror_padding:  # the same function; only where the padding goes changes
        for net in (G, D):
            use_mirrored_padding(net)
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    G.to(dev, memory_format=memory_format)
    D.to(dev, memory_format=memory_format)

    loss = LOSSES[cfg.loss.loss]
    regularisers = build_regularisers(cfg, loss) + family.regularisers()
    c = {**lazy_corrections(regularisers, o.lazy_correction), **family.optimizer_corrections()}
    c_g, c_d = c.get("G", 1.0), c.get("D", 1.0)
    state = TrainState(lr_g=o.lr_g * c_g, lr_d=o.lr_d * c_d, replay_size=k.replay_size, replay_ratio=k.replay_ratio)
    opt_g = build_optimizer(G.parameters(), o, state.lr_g, dev, capturable=t.cuda_graphs, beta_power=c_g)
    opt_d = build_optimizer(D.parameters(), o, state.lr_d, dev, capturable=t.cuda_graphs, beta_power=c_d)

    per_step = t.batch_size * k.n_critic * ctx.world_size
    dist = Distributed(cfg, ctx, global_batch if global_batch is not None else per_step)
    tr = GANTrainer(cfg, G, D, opt_g, opt_d, ctx=ctx, family=family, state=state,
                    regularisers=regularisers,
                    hooks=dist.hooks() + family.hooks() + build_hooks(cfg, loss))
    family.bind(tr)
    dist.bind(tr)
    if t.cuda_graphs:  # see train/cuda_graphs.py
        tr.graphed = GraphedStep(tr)
    return tr
