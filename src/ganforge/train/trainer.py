"""One training step: G, D, their optimizers, and the D phase / G phase (or joint) updates.

:class:`GANTrainer` owns the networks and optimizers and knows how to do one step; the loop in
:mod:`ganforge.train.loop` decides which batches it sees and when to log, sample and save.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from ..config import OptimConfig, RunConfig
from ..data import from_model_range, to_model_range
from ..errors import ConfigError
from ..losses import G_LOSSES, d_loss_bce, d_targets
from ..models import ARCHS, build_models


# --------------------------------------------------------------------------- devices and precision
def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else CPU; asking for absent CUDA is an error naming --device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device: {name} asked for, but this machine has no CUDA device (use --device cpu)")
    return dev


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is fast here: CUDA with bf16, or a CPU with AVX512-BF16/AMX (oneDNN)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> bf16 where the hardware runs it natively, else fp32."""
    if name == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    return name


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
    d_real: torch.Tensor  # mean D(x), as a probability
    d_fake: torch.Tensor  # mean D(G(z)) during the D phase


class GANTrainer:
    """Holds G, D, their optimizers and the step counters; one call of :meth:`train_step` is one step."""

    def __init__(self, cfg: RunConfig, img_channels: int, img_size: int, device: torch.device):
        self.cfg = cfg
        self.device = device
        self.precision = resolve_precision(cfg.train.precision, device)
        self.spec = ARCHS[cfg.model.arch]
        self.G, self.D = build_models(cfg.model, img_channels, img_size)
        self.memory_format = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        self.G.to(device, memory_format=self.memory_format)
        self.D.to(device, memory_format=self.memory_format)
        o = cfg.optim
        self.opt_g = build_optimizer(self.G.parameters(), o, o.lr_g, device)
        self.opt_d = build_optimizer(self.D.parameters(), o, o.lr_d, device)
        self.g_loss_fn = G_LOSSES[cfg.loss.loss]
        self.d_has_batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())
        self.num_classes = cfg.model.num_classes
        # Training calls go through these; sampling and checkpoints use the plain modules.
        self.G_train, self.D_train = self.G, self.D
        if cfg.train.compile:
            self.G_train, self.D_train = torch.compile(self.G), torch.compile(self.D)
        self.step = 0

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

    def _targets(self, n: int) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        lo = self.cfg.loss
        if lo.label_noise == 0 and lo.label_smoothing == 0:
            return 1.0, 0.0
        real_t = d_targets(n, True, smoothing=lo.label_smoothing, noise=lo.label_noise, device=self.device)
        fake_t = d_targets(n, False, noise=lo.label_noise, device=self.device)
        return real_t, fake_t

    def _apply(self, opt: torch.optim.Optimizer, module: nn.Module, clip: float | None, base_lr: float) -> None:
        if clip is not None:  # elementwise, like Keras clipvalue and seed 002's tf.clip_by_value
            torch.nn.utils.clip_grad_value_(_params_with_grad(module), clip)
        if self.cfg.optim.decay > 0:  # Keras 'decay': lr / (1 + decay * iterations)
            for group in opt.param_groups:
                group["lr"] = base_lr / (1.0 + self.cfg.optim.decay * self.step)
        opt.step()

    def d_real_fake(self, real: torch.Tensor, fake: torch.Tensor, y_real: torch.Tensor | None,
                    y_fake: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits for the real and the fake half. Without BatchNorm in D one pass over both
        halves is faster; with it each half gets its own pass, because batch statistics of a mixed
        batch differ from the fake-only batch D sees in the G phase, and G learns to exploit that."""
        if self.d_has_batchnorm:
            return self.run_D(real, y_real), self.run_D(fake, y_fake)
        y = None if y_real is None else torch.cat([y_real, y_fake])
        logits = self.run_D(torch.cat([real, fake.to(real.dtype)]), y)
        return logits[:real.shape[0]], logits[real.shape[0]:]

    def to_input(self, real_u8: torch.Tensor) -> torch.Tensor:
        """uint8 batch (N, C, H, W) -> float in the model's range, on the device, in its memory format."""
        x = to_model_range(real_u8.to(self.device, non_blocking=True), self.spec.output)
        return x.contiguous(memory_format=self.memory_format)

    # -- the two step kinds
    def train_step(self, real_u8: torch.Tensor, labels: torch.Tensor | None = None) -> StepStats:
        """One training step on a uint8 batch of real images (and their int64 labels, for a
        conditional model)."""
        real = self.to_input(real_u8)
        if self.num_classes and labels is None:
            raise ValueError("a conditional model trains on labelled batches: pass labels")
        y_real = labels.to(self.device) if self.num_classes else None
        step = self._joint_step if self.cfg.train.step == "joint" else self._alternating_step
        stats = step(real, y_real)
        self.step += 1
        return stats

    def _alternating_step(self, real: torch.Tensor, y_real: torch.Tensor | None) -> StepStats:
        """Seeds 001/004: phase 1 trains D on real and fake; phase 2 trains G through a frozen D."""
        n = real.shape[0]
        o = self.cfg.optim
        # Phase 1: D on real (target 1) and fake (target 0). G runs without a graph: D's
        # loss must not reach G's weights.
        y_fake = self.sample_y(n)
        with torch.no_grad(), self.autocast():
            fake = self.run_G(self.sample_z(n), y_fake)
        with self.autocast():
            real_logits, fake_logits = self.d_real_fake(real, fake, y_real, y_fake)
        real_t, fake_t = self._targets(n)
        d_loss = d_loss_bce(real_logits, fake_logits, real_t, fake_t)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self._apply(self.opt_d, self.D, o.clip_d, o.lr_d)

        # Phase 2: fresh noise labelled "real"; D frozen so no gradient reaches its parameters.
        self.D.requires_grad_(False)
        try:
            y_g = self.sample_y(n)
            with self.autocast():
                g_logits = self.run_D(self.run_G(self.sample_z(n), y_g), y_g)
            g_loss = self.g_loss_fn(g_logits)
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
        finally:
            self.D.requires_grad_(True)
        self._apply(self.opt_g, self.G, o.clip_g, o.lr_g)
        return StepStats(d_loss.detach(), g_loss.detach(),
                         torch.sigmoid(real_logits.detach().float()).mean(),
                         torch.sigmoid(fake_logits.detach().float()).mean())

    def _joint_step(self, real: torch.Tensor, y_real: torch.Tensor | None) -> StepStats:
        """Seeds 002/003: one G forward, both losses from the same D outputs, both updates
        (TensorFlow's two gradient tapes). Each loss's gradient goes to its own network only."""
        n = real.shape[0]
        o = self.cfg.optim
        y_fake = self.sample_y(n)
        with self.autocast():
            fake = self.run_G(self.sample_z(n), y_fake)
            real_logits, fake_logits = self.d_real_fake(real, fake, y_real, y_fake)
        real_t, fake_t = self._targets(n)
        d_loss = d_loss_bce(real_logits, fake_logits, real_t, fake_t)
        g_loss = self.g_loss_fn(fake_logits)
        g_params = [p for p in self.G.parameters() if p.requires_grad]
        d_params = [p for p in self.D.parameters() if p.requires_grad]
        g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True)
        d_grads = torch.autograd.grad(d_loss, d_params)
        for p, g in zip(g_params, g_grads):
            p.grad = g
        for p, g in zip(d_params, d_grads):
            p.grad = g
        self._apply(self.opt_g, self.G, o.clip_g, o.lr_g)
        self._apply(self.opt_d, self.D, o.clip_d, o.lr_d)
        return StepStats(d_loss.detach(), g_loss.detach(),
                         torch.sigmoid(real_logits.detach().float()).mean(),
                         torch.sigmoid(fake_logits.detach().float()).mean())

    @torch.no_grad()
    def render(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """uint8 images (N, C, H, W) of G in inference mode for latents z (and labels y), on the CPU."""
        was_training = self.G.training
        self.G.eval()
        try:
            with self.autocast():
                z = z.to(self.device)
                x = self.G(z) if y is None else self.G(z, y.to(self.device))
            return from_model_range(x.float(), self.spec.output).cpu()
        finally:
            self.G.train(was_training)

    def state_dict(self) -> dict[str, Any]:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.step}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.G.load_state_dict(s["G"])
        self.D.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.step = int(s["step"])
