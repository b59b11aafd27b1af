"""One training step: G, D, their optimizers, and the D phase / G phase (or joint) updates.

:class:`GANTrainer` owns the networks and optimizers and knows how to do one step; the loop in
:mod:`ganforge.train.loop` decides which batches it sees and when to log, sample and save.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from ..config import AUGMENT_OPS, OptimConfig, RunConfig
from ..device import resolve_precision
from ..data import from_model_range, to_model_range
from ..losses import LOSSES, d_targets
from ..models import ARCHS, build_models
from ..models.layers import batch_dependent, use_fast_dropout, use_mirrored_padding
from ..regularisers import clip_weights_, gradient_penalty, r1_penalty
from .tricks import (AdaController, ReplayBuffer, add_instance_noise, diff_augment, ema_beta,
                     instance_noise_std, update_ema)


# --------------------------------------------------------------------------- optimizers
def build_optimizer(params, cfg: OptimConfig, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam or RMSprop with the config's hyper-parameters (Keras semantics for rho/eps)."""
    params = list(params)
    # Fused kernels exist for CUDA; on CPU the multi-tensor (foreach) path is the fast one.
    kw: dict[str, Any] = {"fused": True} if device.type == "cuda" else {"foreach": True}
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, **kw)
    # Keras RMSprop divides by sqrt(v) + eps, as PyTorch does; rho is PyTorch's alpha.
    kw.pop("fused", None)
    return torch.optim.RMSprop(params, lr=lr, alpha=cfg.rho, eps=cfg.eps, foreach=True)


def _params_with_grad(module: nn.Module) -> list[torch.Tensor]:
    return [p for p in module.parameters() if p.grad is not None]


# --------------------------------------------------------------------------- the trainer
@dataclass
class StepStats:
    """Per-step values kept on the device; read (one sync) only when logging."""

    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor  # mean D(x): a probability for BCE losses, the raw score otherwise
    d_fake: torch.Tensor  # mean D(G(z)) during the D phase, likewise


class GANTrainer:
    """Holds G, D (and G_ema), their optimizers, the tricks' state and the step counter; one
    call of :meth:`train_step` is one generator update (after ``n_critic`` D updates)."""

    def __init__(self, cfg: RunConfig, img_channels: int, img_size: int, device: torch.device):
        self.cfg = cfg
        self.device = device
        self.precision = resolve_precision(cfg.train.precision, device)
        self.spec = ARCHS[cfg.model.arch]
        self.loss = LOSSES[cfg.loss.loss]
        self.G, self.D = build_models(cfg.model, img_channels, img_size)
        if cfg.train.fast_dropout and device.type == "cpu":  # CUDA's fused dropout is fast already
            for net in (self.G, self.D):
                use_fast_dropout(net)
        if cfg.train.mirror_padding:  # the same function; only where the padding goes changes
            for net in (self.G, self.D):
                use_mirrored_padding(net)
        self.memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.G.to(device, memory_format=self.memory_format)
        self.D.to(device, memory_format=self.memory_format)
        o, k = cfg.optim, cfg.tricks
        self.lr = {"g": o.lr_g, "d": o.lr_d}  # base learning rates; remedies may change them
        self.opt_g = build_optimizer(self.G.parameters(), o, o.lr_g, device)
        self.opt_d = build_optimizer(self.D.parameters(), o, o.lr_d, device)
        # BatchNorm or mini-batch layers make D's output depend on the rest of its batch.
        self.d_batch_dependent = batch_dependent(self.D)
        self.num_classes = cfg.model.num_classes
        # Training calls go through these; sampling, penalties and checkpoints use the plain modules.
        self.G_train, self.D_train = self.G, self.D
        if cfg.train.compile:
            self.G_train, self.D_train = torch.compile(self.G), torch.compile(self.D)
        self.G_ema = None
        if k.ema_kimg > 0:
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.replay = (ReplayBuffer(k.replay_size, (img_channels, img_size, img_size), device)
                       if k.replay_size else None)
        ops = [op for op in k.augment.split(",") if op]
        self.augment_ops = ops or (list(AUGMENT_OPS) if k.ada_target else [])
        self.ada = (AdaController(target=k.ada_target, batch_size=cfg.train.batch_size)
                    if k.ada_target else None)
        self.step = 0
        self.d_steps = 0

    # -- helpers
    def autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sample_z(self, n: int) -> torch.Tensor:
        """Normal latents (seed tricks: normal, not uniform), from torch's global RNG."""
        return torch.randn(n, self.cfg.model.z_dim, device=self.device)

    def sample_y(self, n: int) -> torch.Tensor | None:
        """Uniform class labels for fakes of a conditional model; None when unconditional."""
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (n,), device=self.device)

    def run_G(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.G_train(z) if y is None else self.G_train(z, y)

    def run_D(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.D_train(x) if y is None else self.D_train(x, y)

    def plain_D(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """D without torch.compile, for penalties that differentiate it twice."""
        return self.D(x) if y is None else self.D(x, y)

    @property
    def augment_p(self) -> float:
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

    def _targets(self, n: int) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        lo = self.cfg.loss
        if not self.loss.uses_targets or (lo.label_noise == 0 and lo.label_smoothing == 0):
            return 1.0, 0.0
        real_t = d_targets(n, True, smoothing=lo.label_smoothing, noise=lo.label_noise, device=self.device)
        fake_t = d_targets(n, False, noise=lo.label_noise, device=self.device)
        return real_t, fake_t

    def _apply(self, opt: torch.optim.Optimizer, module: nn.Module, clip: float | None, net: str) -> None:
        if clip is not None:  # elementwise, like Keras clipvalue and seed 002's tf.clip_by_value
            torch.nn.utils.clip_grad_value_(_params_with_grad(module), clip)
        lr = self.lr[net]
        if self.cfg.optim.decay > 0:  # Keras 'decay': lr / (1 + decay * iterations)
            lr = lr / (1.0 + self.cfg.optim.decay * self.step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()

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

    def d_objective(self, real_in: torch.Tensor, fake_in: torch.Tensor, real_logits: torch.Tensor,
                    fake_logits: torch.Tensor, y_real: torch.Tensor | None,
                    y_fake: torch.Tensor | None) -> torch.Tensor:
        """D's loss for one batch: the adversarial loss, plus the gradient penalty (wgan-gp) and
        the lazy R1 penalty when they are on."""
        lo = self.cfg.loss
        real_t, fake_t = self._targets(real_in.shape[0])
        d_loss = self.loss.d_loss(real_logits, fake_logits, real_t, fake_t)
        if lo.loss == "wgan-gp" and lo.gp_weight > 0:
            # A conditional D scores the interpolates under the real images' labels.
            with self.autocast():
                d_loss = d_loss + lo.gp_weight * gradient_penalty(
                    lambda x: self.plain_D(x, y_real), real_in.detach(), fake_in.detach().to(real_in.dtype))
        if lo.r1_gamma > 0 and self.d_steps % lo.r1_every == 0:
            with self.autocast():
                r1 = r1_penalty(lambda x: self.plain_D(x, y_real), real_in.detach())
            d_loss = d_loss + (lo.r1_gamma / 2) * lo.r1_every * r1
        return d_loss

    def to_input(self, real_u8: torch.Tensor) -> torch.Tensor:
        """uint8 batch (N, C, H, W) -> float in the model's range, on the device, in its memory format."""
        x = to_model_range(real_u8.to(self.device, non_blocking=True), self.spec.output)
        return x.contiguous(memory_format=self.memory_format)

    def _stats(self, d_loss, g_loss, real_logits, fake_logits) -> StepStats:
        r, f = real_logits.detach().float(), fake_logits.detach().float()
        if self.loss.bounded_logits:
            r, f = torch.sigmoid(r), torch.sigmoid(f)
        return StepStats(d_loss.detach(), g_loss.detach(), r.mean(), f.mean())

    # -- the step
    def train_step(self, real_u8: torch.Tensor, labels: torch.Tensor | None = None) -> StepStats:
        """One training step on uint8 real images (and their int64 labels, for a conditional
        model). With ``n_critic`` k > 1 the batch holds k sub-batches, one per D update."""
        real = self.to_input(real_u8)
        if self.num_classes and labels is None:
            raise ValueError("a conditional model trains on labelled batches: pass labels")
        y_real = labels.to(self.device) if self.num_classes else None
        if self.cfg.train.step == "joint":
            stats = self._joint_step(real, y_real)
        else:
            stats = self._alternating_step(real, y_real)
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, ema_beta(real.shape[0] // self.cfg.tricks.n_critic,
                                                    self.cfg.tricks.ema_kimg))
        self.step += 1
        return stats

    def _d_phase(self, real: torch.Tensor, y_real: torch.Tensor | None, keep_fake: bool = False):
        """Phase 1: D on real (target 1) and fake (target 0). D's loss sees the fakes detached,
        so it cannot reach G's weights; G runs without a graph unless ``keep_fake``, which
        returns the fakes with G's graph for the G phase to reuse. Returns (d_loss, real_logits,
        fake_logits, (fake, its labels) or None)."""
        n = real.shape[0]
        k = self.cfg.tricks
        y_fake = self.sample_y(n)
        with torch.set_grad_enabled(keep_fake), self.autocast():
            fresh = self.run_G(self.sample_z(n), y_fake)
        fake = fresh.detach()
        if self.replay is not None:  # seed 004: D also sees older fakes, so it cannot overfit the latest G
            fresh_f32 = fake.float()
            fake = self.replay.mix(fresh_f32, k.replay_ratio)
            self.replay.add(fresh_f32)
        with self.autocast():
            real_in, fake_in = self.d_input(real), self.d_input(fake)
            real_logits, fake_logits = self.d_real_fake(real_in, fake_in, y_real, y_fake)
        d_loss = self.d_objective(real_in, fake_in, real_logits, fake_logits, y_real, y_fake)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self._apply(self.opt_d, self.D, self.cfg.optim.clip_d, "d")
        if self.cfg.loss.loss == "wgan":  # the Lipschitz constraint of the original WGAN
            clip_weights_(self.D, self.cfg.loss.wgan_clip)
        if self.ada is not None:
            self.ada.accumulate(real_logits.detach())
        self.d_steps += 1
        return d_loss, real_logits, fake_logits, ((fresh, y_fake) if keep_fake else None)

    def _alternating_step(self, real: torch.Tensor, y_real: torch.Tensor | None) -> StepStats:
        """Seeds 001/004: phase 1 trains D on real and fake (n_critic times); phase 2 trains G
        through a frozen D, on fresh noise - or, with ``reuse_fake``, on the last D phase's
        fakes (one G forward per step instead of two, as many PyTorch DCGAN loops do)."""
        k = self.cfg.tricks.n_critic
        parts = real.chunk(k)
        y_parts = y_real.chunk(k) if y_real is not None else [None] * k
        reuse = self.cfg.train.reuse_fake
        for i, (part, y_part) in enumerate(zip(parts, y_parts)):
            d_loss, real_logits, fake_logits, kept = self._d_phase(part, y_part, keep_fake=reuse and i == k - 1)
        n = part.shape[0]

        # Phase 2: fakes labelled "real"; D frozen so no gradient reaches its parameters.
        self.D.requires_grad_(False)
        try:
            with self.autocast():
                if kept is not None:
                    fake, y_g = kept
                else:
                    y_g = self.sample_y(n)
                    fake = self.run_G(self.sample_z(n), y_g)
                g_logits = self.run_D(self.d_input(fake), y_g)
                g_real = self.run_D(self.d_input(part), y_part) if self.loss.g_needs_real else None
            g_loss = self.loss.g_loss(g_logits, g_real)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            self.D.requires_grad_(True)
        self._apply(self.opt_g, self.G, self.cfg.optim.clip_g, "g")
        return self._stats(d_loss, g_loss, real_logits, fake_logits)

    def _joint_step(self, real: torch.Tensor, y_real: torch.Tensor | None) -> StepStats:
        """Seeds 002/003: one G forward, both losses from the same D outputs, both updates
        (TensorFlow's two gradient tapes). Each loss's gradient goes to its own network only.

        D runs on the real and the fake half separately (as the seeds do): G's gradient then
        flows back through the fake half only, where one pass over both halves would compute
        D's input gradients for the real images too and throw them away."""
        n = real.shape[0]
        y_fake = self.sample_y(n)
        with self.autocast():
            fake = self.run_G(self.sample_z(n), y_fake)
            real_in, fake_in = self.d_input(real), self.d_input(fake)
            real_logits, fake_logits = self.run_D(real_in, y_real), self.run_D(fake_in, y_fake)
        d_loss = self.d_objective(real_in, fake_in, real_logits, fake_logits, y_real, y_fake)
        g_loss = self.loss.g_loss(fake_logits, real_logits)
        g_params = [p for p in self.G.parameters() if p.requires_grad]
        d_params = [p for p in self.D.parameters() if p.requires_grad]
        g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True)
        d_grads = torch.autograd.grad(d_loss, d_params)
        for p, g in zip(g_params, g_grads):
            p.grad = g
        for p, g in zip(d_params, d_grads):
            p.grad = g
        self._apply(self.opt_g, self.G, self.cfg.optim.clip_g, "g")
        self._apply(self.opt_d, self.D, self.cfg.optim.clip_d, "d")
        if self.cfg.loss.loss == "wgan":
            clip_weights_(self.D, self.cfg.loss.wgan_clip)
        if self.ada is not None:
            self.ada.accumulate(real_logits.detach())
        self.d_steps += 1
        return self._stats(d_loss, g_loss, real_logits, fake_logits)

    # -- sampling and state
    @property
    def sampler_G(self) -> nn.Module:
        """The generator samples come from: G_ema when it is on, else G."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def render(self, z: torch.Tensor, y: torch.Tensor | None = None, G: nn.Module | None = None) -> torch.Tensor:
        """uint8 images (N, C, H, W) for latents z (and labels y), G in inference mode, on the CPU.
        G: which generator (default :attr:`sampler_G`)."""
        G = G or self.sampler_G
        was_training = G.training
        G.eval()
        try:
            with self.autocast():
                z = z.to(self.device)
                x = G(z) if y is None else G(z, y.to(self.device))
            return from_model_range(x.float(), self.spec.output).cpu()
        finally:
            G.train(was_training)

    @torch.no_grad()
    def sample_images(self, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
        """``n`` uint8 images from :attr:`sampler_G` with latents from ``seed`` (a conditional
        model cycles through its classes), for evaluation during training."""
        z = torch.randn(n, self.cfg.model.z_dim, generator=torch.Generator().manual_seed(seed))
        y = torch.arange(n) % self.num_classes if self.num_classes else None
        return torch.cat([self.render(z[i:i + batch_size], None if y is None else y[i:i + batch_size])
                          for i in range(0, n, batch_size)])

    def enable_replay(self, size: int, ratio: float) -> None:
        """Turn on experience replay mid-run (a diagnostics remedy)."""
        if self.replay is None and size > 0:
            self.cfg.tricks.replay_size, self.cfg.tricks.replay_ratio = size, ratio
            c, s = self.G.img_channels, self.G.img_size
            self.replay = ReplayBuffer(size, (c, s, s), self.device)

    def add_d_dropout(self, amount: float) -> float:
        """Raise every dropout rate in D by ``amount`` (capped at 0.7); returns the new rate."""
        rate = 0.0
        for m in self.D.modules():
            if isinstance(m, nn.Dropout):
                m.p = min(0.7, m.p + amount)
                rate = max(rate, m.p)
        self.cfg.model.d_dropout = rate
        return rate

    def set_lr(self, net: str, factor: float) -> float:
        """Multiply a base learning rate ('g' or 'd') by ``factor``; returns the new value."""
        self.lr[net] *= factor
        return self.lr[net]

    def state_dict(self) -> dict[str, Any]:
        s = {"G": self.G.state_dict(), "D": self.D.state_dict(),
             "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
             "step": self.step, "d_steps": self.d_steps, "lr": dict(self.lr)}
        if self.G_ema is not None:
            s["G_ema"] = self.G_ema.state_dict()
        if self.replay is not None:
            s["replay"] = self.replay.state_dict()
        if self.ada is not None:
            s["ada"] = self.ada.state_dict()
        return s

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.G.load_state_dict(s["G"])
        self.D.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.step = int(s["step"])
        self.d_steps = int(s.get("d_steps", self.step))
        self.lr.update(s.get("lr", {}))
        if self.G_ema is not None:
            self.G_ema.load_state_dict(s["G_ema"])
        if self.replay is not None:
            self.replay.load_state_dict(s["replay"])
        if self.ada is not None:
            self.ada.load_state_dict(s["ada"])
