"""The trainer: G, D (and G_ema), their optimizers, the training state, and one step.

:class:`GANTrainer` owns the networks, optimizers and what changes while training; the step
itself is made of the phases in :mod:`.strategies`, with the penalties of :mod:`.penalties`, the
hooks of :mod:`.hooks` and what the model's family adds (:mod:`.family`). It is assembled by
:func:`ganforge.train.builder.build_trainer`, which hands it all of these: the trainer imports no
family. The loop in :mod:`ganforge.train.loop` decides which batches it sees and when to log,
sample and save.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any

import torch
import torch.nn as nn

from ..config import AUGMENT_OPS, RunConfig
from ..context import RunContext
from ..data import to_model_range
from ..device import resolve_precision
from ..errors import CheckpointError
from ..generator import generate, load_weights, render
from ..losses import LOSSES, d_targets
from ..models import ARCHS, batch_dependent
from .cuda_graphs import set_capturable
from .family import Family
from .hooks import UpdateHook
from .penalties import Regulariser, add_regularisers
from .state import DBatch, StepStats, TrainState
from .strategies import STEP_STRATEGIES
from .tricks import AdaController, ReplayBuffer, add_instance_noise, diff_augment, instance_noise_std


# --------------------------------------------------------------------------- the trainer
class GANTrainer:
    """Holds G, D (and G_ema), their optimizers, the tricks' state and the training state; one
    call of :meth:`train_step` is one generator update (after ``n_critic`` D updates).

    The step itself is a strategy from :mod:`.strategies` (``--step``); penalties are
    :attr:`regularisers`, clipping/ADA/EMA and a family's schedule are :attr:`hooks`, in the
    order the builder put them; :attr:`family` is what the model's family adds.
    """

    def __init__(self, cfg: RunConfig, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, *, ctx: RunContext, family: Family, state: TrainState,
                 regularisers: list[Regulariser], hooks: list[UpdateHook]):
        """Use :func:`ganforge.train.builder.build_trainer`, which makes every argument."""
        self.cfg, self.ctx, self.family = cfg, ctx, family
        self.device = device = ctx.device
        self.precision = resolve_precision(cfg.train.precision, device)
        self.spec = ARCHS[cfg.model.arch]
        self.loss = LOSSES[cfg.loss.loss]
        self.G, self.D = G, D
        self.memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.state = state
        self.opt_g, self.opt_d = opt_g, opt_d
        k = cfg.tricks
        # BatchNorm or mini-batch layers make D's output depend on the rest of its batch.
        self.d_batch_dependent = batch_dependent(self.D)
        self.num_classes = cfg.model.num_classes
        # Training calls go through these; sampling, penalties and checkpoints use the plain modules.
        self.G_train, self.D_train = self.G, self.D
        if cfg.train.compile:
            self.G_train, self.D_train = torch.compile(self.G), torch.compile(self.D)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if k.ema_kimg > 0 else None
        self._base_dropout = [m.p for m in self.D.modules() if isinstance(m, nn.Dropout)]
        self.replay = None
        self._set_replay()
        ops = [op for op in k.augment.split(",") if op]
        self.augment_ops = ops or (list(AUGMENT_OPS) if k.ada_target else [])
        self.ada = (AdaController(target=k.ada_target, batch_size=cfg.train.batch_size, device=device)
                    if k.ada_target else None)
        self.regularisers, self.hooks = regularisers, hooks
        self.strategy = STEP_STRATEGIES[cfg.train.step]()
        self.graphed = None  # --cuda-graphs: the builder's GraphedStep (see train/cuda_graphs.py)
        self.noise = None  # with many processes: the latent stream they share (train.distributed)
        self.dist = None  # with many processes: what keeps them identical (the builder's Distributed)

    # -- counters (kept in the training state)
    @property
    def step(self) -> int:
        return self.state.step

    @step.setter
    def step(self, value: int) -> None:
        self.state.step = value

    @property
    def d_steps(self) -> int:
        return self.state.d_steps

    @d_steps.setter
    def d_steps(self, value: int) -> None:
        self.state.d_steps = value

    @property
    def lr(self) -> dict[str, float]:
        """The current base learning rates, ``{"g": ..., "d": ...}`` (read-only view)."""
        return {"g": self.state.lr_g, "d": self.state.lr_d}

    # -- helpers the phases call
    def autocast(self):
        if self.precision == "bf16":  # (a CUDA graph must not keep autocast's cast cache across replays)
            return torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=self.graphed is None)
        return contextlib.nullcontext()

    def sample_z(self, n: int) -> torch.Tensor:
        """Normal latents (seed tricks: normal, not uniform), from torch's global RNG (with many
        processes: this process's slice of the global batch's latents)."""
        if self.noise is not None:
            return self.noise.randn(n, self.cfg.model.z_dim, self.device)
        return torch.randn(n, self.cfg.model.z_dim, device=self.device)

    def sample_y(self, n: int) -> torch.Tensor | None:
        """Uniform class labels for fakes of a conditional model; None when unconditional."""
        if not self.num_classes:
            return None
        if self.noise is not None:
            return self.noise.randint(self.num_classes, n, self.device)
        return torch.randint(0, self.num_classes, (n,), device=self.device)

    def run_G(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """G's forward while training: the family's (StyleGAN2 mixes styles), on the training module."""
        return self.family.run_G(self, self.G_train, z, y)

    def run_D(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.D_train(x) if y is None else self.D_train(x, y)

    def plain_D(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D without torch.compile, for penalties that differentiate it twice."""
        return self.D(x) if y is None else self.D(x, y)

    @property
    def augment_p(self) -> float | torch.Tensor:
        return self.ada.p if self.ada is not None else self.cfg.tricks.augment_p

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees of an image batch: DiffAugment and instance noise, when on. Applied to
        real and fake alike, and differentiably, so G learns through them."""
        if self.augment_ops:
            x = diff_augment(x, self.augment_ops, self.augment_p)
        k = self.cfg.tricks
        if k.instance_noise > 0:
            x = add_instance_noise(x, instance_noise_std(self.step, k.instance_noise, k.instance_noise_steps))
        return x

    def targets(self, n: int) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        """D's targets for n real and n fake images: 1 and 0, moved by label smoothing and label
        noise when the loss reads targets at all."""
        lo = self.cfg.loss
        if not self.loss.uses_targets or (lo.label_noise == 0 and lo.label_smoothing == 0):
            return 1.0, 0.0
        real_t = d_targets(n, True, smoothing=lo.label_smoothing, noise=lo.label_noise, device=self.device)
        fake_t = d_targets(n, False, noise=lo.label_noise, device=self.device)
        return real_t, fake_t

    def d_real_fake(self, real: torch.Tensor, fake: torch.Tensor, y_real: torch.Tensor | None,
                    y_fake: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits for the real and the fake half. When D's output does not depend on the rest
        of its batch, one pass over both halves is faster; with BatchNorm or mini-batch layers
        each half gets its own pass, because statistics of a mixed batch differ from the
        fake-only batch D sees in the G phase, and G learns to exploit that."""
        if self.d_batch_dependent:
            return self.run_D(real, y_real), self.run_D(fake, y_fake)
        y = None if y_real is None else torch.cat([y_real, y_fake])
        logits = self.run_D(torch.cat([real, fake.to(real.dtype)]), y)
        return logits[:real.shape[0]], logits[real.shape[0]:]

    def d_objective(self, batch: DBatch) -> torch.Tensor:
        """D's loss for one batch: the adversarial loss plus every D regulariser due now."""
        real_t, fake_t = self.targets(batch.real_in.shape[0])
        d_loss = self.loss.d_loss(batch.real_logits, batch.fake_logits, real_t, fake_t)
        return add_regularisers(self, "D", d_loss, batch)

    def update(self, net: str, batch: DBatch | None = None, regularising: bool = False) -> None:
        """One optimizer step of ``net`` ("G" or "D") on the gradients already in place, with
        the hooks around it. ``regularising``: a lazy regulariser's own step (the hooks see no
        batch, and it is not counted as an update of ``net``)."""
        for h in self.hooks:
            h.before_update(self, net)
        opt = self.opt_d if net == "D" else self.opt_g
        lr = self.state.lr_d if net == "D" else self.state.lr_g
        if self.cfg.optim.decay > 0:  # Keras 'decay': lr / (1 + decay * iterations)
            lr = lr / (1.0 + self.cfg.optim.decay * self.step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        for h in self.hooks:
            h.after_update(self, net, None if regularising else batch)
        if net == "D" and not regularising:
            self.d_steps += 1

    def to_input(self, real_u8: torch.Tensor) -> torch.Tensor:
        """uint8 batch (N, C, H, W) -> float in the model's range, on the device, in its memory format."""
        x = to_model_range(real_u8.to(self.device, non_blocking=True), self.spec.output)
        return x.contiguous(memory_format=self.memory_format)

    def stats(self, d_loss: torch.Tensor, g_loss: torch.Tensor, batch: DBatch) -> StepStats:
        r, f = batch.real_logits.detach().float(), batch.fake_logits.detach().float()
        if self.loss.bounded_logits:
            r, f = torch.sigmoid(r), torch.sigmoid(f)
        return StepStats(d_loss.detach(), g_loss.detach(), r.mean(), f.mean())

    # -- the step
    def train_step(self, real_u8: torch.Tensor, labels: torch.Tensor | None = None) -> StepStats:
        """One training step on uint8 real images (and their int64 labels, for a conditional
        model). With ``n_critic`` k > 1 the batch holds k sub-batches, one per D update."""
        if self.graphed is not None:
            return self.graphed(real_u8, labels)
        return self.eager_step(real_u8, labels)

    def eager_step(self, real_u8: torch.Tensor, labels: torch.Tensor | None = None) -> StepStats:
        """:meth:`train_step` run op by op (what a CUDA graph captures)."""
        real = self.family.blend_reals(self.to_input(real_u8))
        if self.num_classes and labels is None:
            raise ValueError("a conditional model trains on labelled batches: pass labels")
        y_real = labels.to(self.device) if self.num_classes else None
        stats = self.strategy(self, real, y_real)
        for h in self.hooks:
            # images per D update over all processes: G_ema's half-life is in images seen
            h.after_step(self, real.shape[0] // self.cfg.tricks.n_critic * self.ctx.world_size)
        self.step += 1
        return stats

    # -- sampling
    @property
    def sampler_G(self) -> nn.Module:
        """The generator samples come from: G_ema when it is on, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    def render(self, z: torch.Tensor, y: torch.Tensor | None = None, G: nn.Module | None = None) -> torch.Tensor:
        """uint8 images (N, C, H, W) for latents z (and labels y), on the CPU (see
        :func:`ganforge.generator.render`). G: which generator (default :attr:`sampler_G`)."""
        # the fixed grids: the stored noise maps, so a grid changes only as G does (as the reference draws them)
        return render(G or self.sampler_G, z, y, batch_size=max(1, z.shape[0]), precision=self.precision,
                      noise_mode="const")

    def sample_images(self, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
        """``n`` uint8 images from :attr:`sampler_G` with latents from ``seed`` (a conditional
        model cycles through its classes), for evaluation during training."""
        return generate(self.sampler_G, n, seed=seed, batch_size=batch_size, precision=self.precision)

    # -- remedies: each changes the training state, never the config
    def enable_replay(self, size: int, ratio: float) -> None:
        """Turn on experience replay mid-run (a diagnostics remedy)."""
        if self.replay is None and size > 0:
            self.state.replay_size, self.state.replay_ratio = int(size), float(ratio)
            self._set_replay()

    def _set_replay(self) -> None:
        """Make the replay buffer match the state: created when it is on, dropped when it is off."""
        if self.state.replay_size <= 0:
            self.replay = None
        elif self.replay is None or self.replay.capacity != self.state.replay_size:
            c, s = self.G.img_channels, self.G.img_size
            self.replay = ReplayBuffer(self.state.replay_size, (c, s, s), self.device)

    def add_d_dropout(self, amount: float) -> float:
        """Raise every dropout rate in D by ``amount`` (capped at 0.7); returns the new largest rate."""
        for m in self.D.modules():
            if isinstance(m, nn.Dropout):
                m.p = min(0.7, m.p + amount)
        self.state.d_dropout = [m.p for m in self.D.modules() if isinstance(m, nn.Dropout)]
        return max(self.state.d_dropout, default=0.0)

    def _set_d_dropout(self) -> None:
        rates = self.state.d_dropout if self.state.d_dropout is not None else self._base_dropout
        for m, p in zip((m for m in self.D.modules() if isinstance(m, nn.Dropout)), rates):
            m.p = p

    def set_lr(self, net: str, factor: float) -> float:
        """Multiply a base learning rate ('g' or 'd') by ``factor``; returns the new value."""
        name = "lr_g" if net == "g" else "lr_d"
        setattr(self.state, name, getattr(self.state, name) * factor)
        return getattr(self.state, name)

    # -- checkpoints
    def state_dict(self) -> dict[str, Any]:
        s = {"G": self.G.state_dict(), "D": self.D.state_dict(),
             "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
             "step": self.step, "train_state": self.state.to_dict()}
        if self.G_ema is not None:
            s["G_ema"] = self.G_ema.state_dict()
        if self.replay is not None:
            s["replay"] = self.replay.state_dict()
        if self.ada is not None:
            s["ada"] = self.ada.state_dict()
        return s

    def load_state_dict(self, s: dict[str, Any], where: str = "checkpoint") -> None:
        """The training state of :meth:`state_dict`; weights that do not fit this trainer's networks
        (or optimizer states that do not fit its optimizers) raise CheckpointError naming ``where``."""
        load_weights(self.G, s["G"], where, "G")
        load_weights(self.D, s["D"], where, "D")
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            try:
                opt.load_state_dict(s[name])
            except (ValueError, KeyError, TypeError, RuntimeError) as e:
                raise CheckpointError(f"{where}: damaged checkpoint: its {name} does not fit this run's optimizer "
                                      f"({' '.join(str(e).split())[:160]})") from None
        if "train_state" in s:
            self.state = TrainState.from_dict(s["train_state"])
        else:  # a checkpoint from before the training state had its own entry
            lr = s.get("lr", {})
            k = self.cfg.tricks
            self.state = TrainState(step=int(s["step"]), d_steps=int(s.get("d_steps", s["step"])),
                                    lr_g=float(lr.get("g", self.cfg.optim.lr_g)),
                                    lr_d=float(lr.get("d", self.cfg.optim.lr_d)),
                                    replay_size=k.replay_size if "replay" in s else 0, replay_ratio=k.replay_ratio)
        self._set_d_dropout()
        self.replay = None  # the checkpoint's buffer, or none if it was written before one existed
        self._set_replay()
        if self.replay is not None:
            self.replay.load_state_dict(s["replay"])
        if self.G_ema is not None:
            load_weights(self.G_ema, s["G_ema"], where, "G_ema")
        if self.ada is not None:
            self.ada.load_state_dict(s["ada"])
        for opt in (self.opt_g, self.opt_d):  # a checkpoint of a --cuda-graphs run, or one without
            set_capturable(opt, self.graphed is not None)
        if self.graphed is not None:  # the optimizers' state tensors were replaced
            self.graphed.reset()
