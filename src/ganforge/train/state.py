"""What one training step works with: the training state, the batches its phases pass along,
and :class:`Trainer`, the part of the trainer that plug-ins (step strategies, regularisers,
update hooks, model families) may use.

Plug-ins are written against :class:`Trainer` rather than the trainer class itself, so they
import nothing of it: the trainer imports them, never the other way round.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ContextManager, Protocol

import torch
from torch import nn

if TYPE_CHECKING:
    from ..config import RunConfig
    from ..context import RunContext
    from ..losses import LossSpec
    from .tricks import AdaController, ReplayBuffer


@dataclass
class TrainState:
    """What changes while training, apart from weights and optimizer moments: the counters and
    what the diagnostics' remedies and NaN rollbacks change (learning rates, D's dropout, the
    replay buffer). The config stays what the user asked for; this goes into every checkpoint
    and beside the config in ``config.json``."""

    step: int = 0  # G updates so far
    d_steps: int = 0  # D updates so far (n_critic per step)
    lr_g: float = 0.0  # base learning rates (before Keras-style decay)
    lr_d: float = 0.0
    d_dropout: list[float] | None = None  # every D dropout rate, in module order, once a remedy changed them
    replay_size: int = 0  # experience replay capacity; 0: off
    replay_ratio: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainState":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class StepStats:
    """Per-step values kept on the device; read (one sync) only when logging."""

    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor  # mean D(x): a probability for BCE losses, the raw score otherwise
    d_fake: torch.Tensor  # mean D(G(z)) during the D phase, likewise


@dataclass
class DBatch:
    """What one D phase saw: the real images, its inputs (after augmentation and noise), labels
    and logits."""

    real: torch.Tensor  # (N, C, H, W) the real images, before augmentation and noise
    real_in: torch.Tensor  # (N, C, H, W) real images as D saw them
    fake_in: torch.Tensor  # (N, C, H, W) fakes as D saw them (detached in the alternating step)
    y_real: torch.Tensor | None
    y_fake: torch.Tensor | None
    real_logits: torch.Tensor  # (N,)
    fake_logits: torch.Tensor  # (N,)


@dataclass
class GBatch:
    """What one G phase saw: G's output (with its graph), its labels and D's logits on it."""

    fake: torch.Tensor  # (N, C, H, W)
    y: torch.Tensor | None
    logits: torch.Tensor  # (N,)


class Trainer(Protocol):
    """The trainer as its plug-ins see it (:class:`ganforge.train.trainer.GANTrainer` is the one
    implementation)."""

    cfg: "RunConfig"
    ctx: "RunContext"
    device: torch.device
    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    state: TrainState
    loss: "LossSpec"
    replay: "ReplayBuffer | None"
    ada: "AdaController | None"
    regularisers: list
    step: int
    d_steps: int

    def autocast(self) -> ContextManager: ...
    def sample_z(self, n: int) -> torch.Tensor: ...
    def sample_y(self, n: int) -> torch.Tensor | None: ...
    def run_G(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor: ...
    def run_D(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor: ...
    def plain_D(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor: ...
    def d_input(self, x: torch.Tensor) -> torch.Tensor: ...
    def d_real_fake(self, real: torch.Tensor, fake: torch.Tensor, y_real: torch.Tensor | None,
                    y_fake: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]: ...
    def d_objective(self, batch: DBatch) -> torch.Tensor: ...
    def update(self, net: str, batch: DBatch | None = None, regularising: bool = False) -> None: ...
    def stats(self, d_loss: torch.Tensor, g_loss: torch.Tensor, batch: DBatch) -> StepStats: ...
    def set_lr(self, net: str, factor: float) -> float: ...
