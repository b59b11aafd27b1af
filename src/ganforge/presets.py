"""Named recipes: each seed's model and training recipe, exactly, plus ganforge's own.

A preset is a function returning a full :class:`RunConfig`; flags and config files then
override single fields. Every seed preset keeps its seed's layers, optimizer, learning
rates, batch size, latent size and step; the seed's dataset is recorded so a user can pass
``--data`` to match it (ganforge's default dataset is Fashion-MNIST for every preset).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .config import (DataConfig, GrowConfig, LossConfig, ModelConfig, OptimConfig, RunConfig, StyleConfig, TrainConfig,
                     TricksConfig)
from .errors import ConfigError


@dataclass(frozen=True)
class PresetInfo:
    name: str
    make: Callable[[], RunConfig]
    seed: str  # the seed text it reproduces, or "ganforge"
    seed_data: str  # the --data (and --class) the seed trained on
    description: str


PRESETS: dict[str, PresetInfo] = {}

# ProGAN's stage lengths for a CPU budget, in thousands of real images: from benchmarks/progan_stages.py
# (docs/progan.md), a 10-minute CPU run fully fades in 32x32 after ~6.5 minutes.
PROGAN_FADE_KIMG = 4.0
PROGAN_STAGE_KIMG = 4.0

# StyleGAN2's widths for a CPU budget, in the official rule min(channel_base // r, channel_max)
# (benchmarks/stylegan_speed.py; docs/stylegan2.md).
STYLEGAN_WIDTHS = {"z_dim": 128, "w_dim": 128, "mapping_layers": 2, "channel_base": 1024, "channel_max": 64}
# ProGAN's at CPU scale, in the paper's shape (full width up to 32x32, halving after).
PROGAN_WIDTHS = {"channel_base": 2048, "channel_max": 64}


def register_preset(name: str, *, seed: str, seed_data: str, description: str):
    """Decorator: add a RunConfig factory to PRESETS under ``name``."""

    def deco(fn: Callable[[], RunConfig]) -> Callable[[], RunConfig]:
        PRESETS[name] = PresetInfo(name, fn, seed, seed_data, description)
        return fn

    return deco


DEFAULT_PRESET = "best"  # what `ganforge train` trains without --preset


def get_preset(name: str) -> RunConfig:
    """A fresh RunConfig for preset ``name``; unknown names raise ConfigError listing the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"--preset: unknown preset {name!r} (known: {', '.join(PRESETS)})")
    cfg = PRESETS[name].make()
    cfg.preset = name
    return cfg


def describe_presets() -> list[dict[str, Any]]:
    """One row per preset, for ``ganforge presets``: name, seed, seed data, arch, description,
    and the G/D trainable parameter counts at the seed's shape (``shape``: C x H x W).

    Counting builds each preset's models once; torch's global RNG is left as it was.
    """
    import torch

    from .models import build_models, count_params, default_size

    rows = []
    for name, info in PRESETS.items():
        cfg = get_preset(name)
        channels = cfg.data.channels or (3 if "cifar" in info.seed_data else 1)
        size = cfg.data.size or default_size(cfg.model.arch, cfg.data.source) or 28
        with torch.random.fork_rng(devices=[]):
            G, D = build_models(cfg.model, channels, size)
        rows.append({"name": name, "seed": info.seed, "seed_data": info.seed_data, "arch": cfg.model.arch,
                     "shape": f"{channels}x{size}x{size}", "g_params": count_params(G),
                     "d_params": count_params(D), "description": info.description})
    return rows


def _keras_rmsprop(lr_g: float, lr_d: float, **kw) -> OptimConfig:
    # Keras RMSprop defaults: rho 0.9, epsilon 1e-7.
    return OptimConfig(optimizer="rmsprop", lr_g=lr_g, lr_d=lr_d, rho=0.9, eps=1e-7, **kw)


def _seed_recipe(arch: str, z_dim: int, optim: OptimConfig, *, batch_size: int, step: str, sample_every: int,
                 epochs: int | None = None, steps: int | None = None,
                 loss: LossConfig | None = None) -> RunConfig:
    """A seed's model and recipe: its architecture with Keras' initialisation (every seed is a Keras
    or TensorFlow script), the non-saturating loss unless ``loss`` says otherwise, its optimizer,
    batch, length and step."""
    return RunConfig(
        model=ModelConfig(arch=arch, z_dim=z_dim, init="keras"),
        loss=loss or LossConfig(loss="nonsaturating"),
        optim=optim,
        train=TrainConfig(batch_size=batch_size, epochs=epochs, steps=steps, step=step, sample_every=sample_every),
    )


@register_preset("dcgan", seed="ganforge", seed_data="fashion-mnist",
                 description="Radford et al. DCGAN (strided convs, BatchNorm, ReLU/LeakyReLU, tanh) "
                             "for 28, 32 or 64 px, grey or RGB; Adam(2e-4, beta1 0.5): the plain DCGAN.")
def _dcgan() -> RunConfig:
    return RunConfig(
        model=ModelConfig(arch="dcgan", z_dim=100, g_channels=64, d_channels=64, init="dcgan"),
        loss=LossConfig(loss="nonsaturating"),
        optim=OptimConfig(optimizer="adam", lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, eps=1e-8),
        train=TrainConfig(batch_size=64, epochs=20, step="alternating", sample_every=200),
    )


@register_preset("tf-tutorial", seed="003", seed_data="mnist",
                 description="The TensorFlow DCGAN tutorial: Adam(1e-4) for both, batch 256, 50 epochs, "
                             "noise 100, one joint step with two gradient tapes.")
def _tf_tutorial() -> RunConfig:
    # Keras Adam defaults: beta1 0.9, beta2 0.999, epsilon 1e-7.
    adam = OptimConfig(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.9, beta2=0.999, eps=1e-7)
    return _seed_recipe("tf-tutorial", 100, adam, batch_size=256, epochs=50, step="joint", sample_every=200)


@register_preset("geron-dense", seed="004", seed_data="fashion-mnist",
                 description="Géron's simple GAN: dense G (30 -> 100 -> 150 -> 784, sigmoid) and dense D, "
                             "RMSprop, batch 32, 50 epochs, D phase then G phase with D frozen.")
def _geron_dense() -> RunConfig:
    rmsprop = _keras_rmsprop(1e-3, 1e-3)  # compile(optimizer="rmsprop"): Keras default lr 0.001
    return _seed_recipe("geron-dense", 30, rmsprop, batch_size=32, epochs=50, step="alternating", sample_every=500)


@register_preset("geron-dcgan", seed="004", seed_data="fashion-mnist",
                 description="Géron's DCGAN: Dense -> BN -> ConvT(64) -> BN -> ConvT(1, tanh); "
                             "D with LeakyReLU(0.2) and dropout 0.4; RMSprop, batch 32, 50 epochs.")
def _geron_dcgan() -> RunConfig:
    return _seed_recipe("geron-dcgan", 100, _keras_rmsprop(1e-3, 1e-3), batch_size=32, epochs=50, step="alternating",
                        sample_every=500)


@register_preset("chollet-cifar10", seed="000", seed_data="cifar10 --class frog",
                 description="Chollet's CIFAR-10 DCGAN (latent 32, 32x32x3): RMSprop D 8e-4 / G 4e-4 with "
                             "clipvalue 1 and decay 1e-8, label noise 0.05, batch 20, 10,000 steps.")
def _chollet() -> RunConfig:
    return _seed_recipe("chollet-cifar10", 32, _keras_rmsprop(4e-4, 8e-4, decay=1e-8, clip_g=1.0, clip_d=1.0),
                        batch_size=20, steps=10_000, step="alternating", sample_every=500,
                        loss=LossConfig(loss="nonsaturating", label_noise=0.05))


@register_preset("bilinear-upsample", seed="002", seed_data="mnist",
                 description="Bilinear upsampling + valid convs instead of transposed convs; minimax G loss, "
                             "D gradients clipped to [-1, 1], Adam 1e-3, batch 128, 50 epochs, joint step.")
def _bilinear() -> RunConfig:
    # tf.train.AdamOptimizer defaults: beta1 0.9, beta2 0.999, epsilon 1e-8. The seed builds a new
    # optimizer inside every step (its state never persists), which we take to be an accident.
    adam = OptimConfig(optimizer="adam", lr_g=1e-3, lr_d=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, clip_d=1.0)
    return _seed_recipe("bilinear-upsample", 100, adam, batch_size=128, epochs=50, step="joint", sample_every=200,
                        loss=LossConfig(loss="minimax"))


@register_preset("best-fmnist", seed="ganforge", seed_data="fashion-mnist",
                 description="The dcgan preset tuned for a 10-minute CPU budget: Adam 8e-4 for both (beta1 0.5), "
                             "G_ema (10 kimg half-life), one-sided label smoothing 0.1, the G phase reusing "
                             "the D phase's fakes, channels-last, at 28 px. The ablation is in "
                             "benchmarks/results/ablation.md.")
def _best_fmnist() -> RunConfig:
    cfg = _dcgan()
    cfg.data.size = 28  # the ablation's recipe, measured at Fashion-MNIST's own size
    cfg.loss = LossConfig(loss="nonsaturating", label_smoothing=0.1)
    cfg.optim.lr_g = cfg.optim.lr_d = 8e-4
    cfg.tricks = TricksConfig(ema_kimg=10.0)
    cfg.train.reuse_fake = True
    cfg.train.channels_last = True
    return cfg


@register_preset("best", seed="ganforge", seed_data="fashion-mnist",
                 description="The default: the best measured recipe (best-fmnist's settings) with G_ema's "
                             "half-life ramped up over the first images (5% of those seen, up to 10 kimg), "
                             "so short runs sample well from G_ema too. dcgan at 28, 32 or 64 px, grey or RGB; "
                             "Fashion-MNIST and MNIST train at 32 px, padded with their background.")
def _best() -> RunConfig:
    cfg = _best_fmnist()
    cfg.data.size = None  # the data's default: Fashion-MNIST and MNIST at 32 px, padded
    cfg.tricks.ema_rampup = 0.05
    return cfg


def _progan(size: int, source: str, channels: int | None, stage_batch: str, fade_kimg: float,
            stage_kimg: float) -> RunConfig:
    return RunConfig(
        data=DataConfig(source=source, size=size, channels=channels),
        model=ModelConfig(arch="progan", z_dim=128, **PROGAN_WIDTHS),
        # WGAN-GP with the drift term, as the paper trains; --loss nonsaturating --r1-gamma 10 --drift 0
        # is the other choice (the gradient penalty is built only for wgan-gp).
        loss=LossConfig(loss="wgan-gp", gp_weight=10.0, drift=0.001),
        optim=OptimConfig(optimizer="adam", lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, eps=1e-8),
        train=TrainConfig(batch_size=64, minutes=10, step="alternating", sample_every=200),
        # G_ema ramped as `best` does, from each stage's fade-in (ProGANFamily.ema_images)
        tricks=TricksConfig(ema_kimg=10.0, ema_rampup=0.05),
        grow=GrowConfig(fade_kimg=fade_kimg, stage_kimg=stage_kimg, stage_batch=stage_batch),
    )


@register_preset("progan", seed="ganforge", seed_data="fashion-mnist",
                 description="Karras et al. progressive growing at 32 px: G and D grow 4 -> 8 -> 16 -> 32, each "
                             "new block faded in over --fade-kimg, then --stage-kimg at full strength; WGAN-GP + "
                             "drift 0.001, Adam(1e-3, betas 0/0.99), G_ema, batch 64 at 4-8 px and 32 at 16-32 px. "
                             "28-px data (Fashion-MNIST) is padded to 32 with its background (--fit). Stage lengths "
                             "fit a 10-minute CPU run; the paper's GPU scale is --fade-kimg 600 --stage-kimg 600.")
def _progan_32() -> RunConfig:
    return _progan(32, "fashion-mnist", None, "16:0.5,32:0.5", PROGAN_FADE_KIMG, PROGAN_STAGE_KIMG)


@register_preset("progan-64", seed="ganforge", seed_data="emoji",
                 description="Progressive growing to 64 px RGB (4 -> 8 -> 16 -> 32 -> 64) on the colour emoji "
                             "(--data emoji); as progan, batch 64 at 4-8 px, 32 at 16 px, 16 at 32-64 px.")
def _progan_64() -> RunConfig:
    return _progan(64, "emoji", 3, "16:0.5,32:0.25,64:0.25", PROGAN_FADE_KIMG, PROGAN_STAGE_KIMG)


def _stylegan2(size: int, source: str, channels: int | None, batch: int, r1_gamma: float, augment: str,
               ada_target: float, *, pl: bool = True, mbstd_group: int = 4) -> RunConfig:
    # The ADA paper's small-data set-up: Adam 0.0025 with betas (0, 0.99), lazy R1 every 16 D steps,
    # G_ema ramped up over the first images; with ``pl``, path length every 4 G steps and style
    # mixing 0.9 (the official 'cifar' configuration has neither, and takes the mini-batch
    # standard deviation over the whole batch: pl=False, mbstd_group=batch).
    # Channels-last: 1.24-1.48x the img/s of NCHW for both presets in fp32 and bf16
    # (benchmarks/stylegan_speed.py --parts layout).
    return RunConfig(
        data=DataConfig(source=source, size=size, channels=channels),
        model=ModelConfig(arch="stylegan2", **STYLEGAN_WIDTHS, mbstd_group=mbstd_group),
        loss=LossConfig(loss="nonsaturating", r1_gamma=r1_gamma, r1_every=16),
        optim=OptimConfig(optimizer="adam", lr_g=2.5e-3, lr_d=2.5e-3, beta1=0.0, beta2=0.99, eps=1e-8),
        train=TrainConfig(batch_size=batch, minutes=10, step="alternating", sample_every=200, channels_last=True),
        tricks=TricksConfig(ema_kimg=10.0, ema_rampup=0.05, augment=augment, ada_target=ada_target),
        style=StyleConfig(mixing_prob=0.9 if pl else 0.0, pl_weight=2.0 if pl else 0.0, pl_every=4),
    )


@register_preset("stylegan2", seed="ganforge", seed_data="fashion-mnist",
                 description="Karras et al. StyleGAN2 at 32 px, grey or RGB, at CPU width (z and w 128, 2 mapping "
                             "layers, channels min(1024 // r, 64)), in the official small-data ('cifar') set-up: "
                             "non-saturating loss with lazy R1 (gamma 1, every 16), no path length, no style "
                             "mixing, mini-batch std-dev over the whole batch (all chosen by measurement, "
                             "docs/stylegan2.md), G_ema, Adam 0.0025 betas (0, 0.99), batch 32, channels-last. "
                             "28-px data (Fashion-MNIST) is padded to 32 with its background (--fit).")
def _stylegan2_32() -> RunConfig:
    # R1 gamma and the set-up: the sweep in docs/stylegan2.md#the-cpu-set-up-chosen-by-measurement
    return _stylegan2(32, "fashion-mnist", None, 32, 1.0, "", 0.0, pl=False, mbstd_group=32)


@register_preset("stylegan2-64", seed="ganforge", seed_data="emoji",
                 description="StyleGAN2 at 64 px RGB on the colour emoji (--data emoji): as stylegan2, with "
                             "R1 gamma 0.05, path length (every 4), style mixing 0.9, mini-batch std-dev in "
                             "groups of 4 and adaptive augmentation (ADA, target 0.6) for a small data set.")
def _stylegan2_64() -> RunConfig:
    return _stylegan2(64, "emoji", 3, 32, 0.05, "", 0.6)


def _official(size: int, source: str, *, fmaps: float, mapping: int, batch: int, mbstd: int, lr: float,
              gamma: float, ema_kimg: float, rampup: float, pl: bool, ada: bool, d_architecture: str = "resnet",
              train_kimg: float = 25_000) -> RunConfig:
    """A configuration of the official stylegan2-ada-pytorch ``train.py --cfg``: its widths
    (channel_base = fmaps x 32768, at most 512 channels), mapping depth, batch, mini-batch std-dev
    group, learning rate, R1 gamma, G_ema and whether path length and style mixing are on."""
    return RunConfig(
        data=DataConfig(source=source, size=size, channels=3),
        model=ModelConfig(arch="stylegan2", z_dim=512, w_dim=512, mapping_layers=mapping,
                          channel_base=int(fmaps * 32768), channel_max=512, mbstd_group=mbstd,
                          d_architecture=d_architecture),
        loss=LossConfig(loss="nonsaturating", r1_gamma=gamma, r1_every=16),
        optim=OptimConfig(optimizer="adam", lr_g=lr, lr_d=lr, beta1=0.0, beta2=0.99, eps=1e-8),
        train=TrainConfig(batch_size=batch, steps=int(train_kimg * 1000) // batch, step="alternating",
                          sample_every=1000, checkpoint_every=2000),
        tricks=TricksConfig(ema_kimg=ema_kimg, ema_rampup=rampup, ada_target=0.6 if ada else 0.0),
        style=StyleConfig(mixing_prob=0.9 if pl else 0.0, pl_weight=2.0 if pl else 0.0, pl_every=4),
    )


def official_training(size: int, channels: int, source: str = "") -> RunConfig:
    """The official ``train.py --cfg auto`` settings for one GPU at ``size`` px (batch
    min(4096 // size, 32), R1 gamma 0.0002 size^2 / batch, G_ema batch * 10 / 32 kimg ramped, two
    mapping layers, path length and style mixing): what an imported network fine-tunes with
    (``ganforge import``), its widths then set from the pickle. ``source``: its data, if known."""
    batch = max(min(4096 // size, 32), 1)
    cfg = _official(size, source or "(unknown: give --data)", fmaps=1 if size >= 512 else 0.5, mapping=2,
                    batch=batch, mbstd=min(batch, 4), lr=0.002 if size >= 1024 else 0.0025,
                    gamma=0.0002 * size ** 2 / batch, ema_kimg=batch * 10 / 32, rampup=0.05, pl=True, ada=False)
    cfg.data.channels = channels
    return cfg


@register_preset("stylegan2-cifar", seed="official", seed_data="cifar10",
                 description="The official 'cifar' configuration: 32 px RGB, 512 channels at every resolution, "
                             "2 mapping layers, D without residual skips (orig), mini-batch std-dev over groups of "
                             "32, batch 64, Adam 0.0025, R1 gamma 0.01, G_ema 500 kimg ramped, no path length, no "
                             "style mixing, ADA (target 0.6); 100,000 kimg. (The official code also scales G's lr "
                             "by 4/5 for a path-length step that does nothing here; ganforge keeps G's lr as "
                             "stated.) For a GPU.")
def _stylegan2_cifar() -> RunConfig:
    return _official(32, "cifar10", fmaps=1, mapping=2, batch=64, mbstd=32, lr=0.0025, gamma=0.01, ema_kimg=500,
                     rampup=0.05, pl=False, ada=True, d_architecture="orig", train_kimg=100_000)


@register_preset("stylegan2-paper256", seed="official", seed_data="--data, 256 px",
                 description="The official 'paper256' configuration: 256 px RGB, channels min(16384 // r, 512), "
                             "8 mapping layers, residual D, mini-batch std-dev groups of 8, batch 64, Adam 0.0025, "
                             "R1 gamma 1, G_ema 20 kimg, path length and style mixing, ADA (target 0.6). For a GPU.")
def _stylegan2_paper256() -> RunConfig:
    return _official(256, "fashion-mnist", fmaps=0.5, mapping=8, batch=64, mbstd=8, lr=0.0025, gamma=1.0,
                     ema_kimg=20, rampup=0.0, pl=True, ada=True)


@register_preset("stylegan2-f", seed="official", seed_data="--data, 1024 px",
                 description="StyleGAN2 config F, as the official 'stylegan2' configuration: 1024 px RGB, "
                             "channels min(32768 // r, 512), 8 mapping layers, residual D, mini-batch std-dev groups "
                             "of 4, batch 32, Adam 0.002, R1 gamma 10, G_ema 10 kimg, path length and style mixing, "
                             "no augmentation. For GPUs.")
def _stylegan2_f() -> RunConfig:
    return _official(1024, "fashion-mnist", fmaps=1, mapping=8, batch=32, mbstd=4, lr=0.002, gamma=10.0,
                     ema_kimg=10, rampup=0.0, pl=True, ada=False)
