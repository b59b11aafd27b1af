"""Generator/discriminator architectures and the registry that builds them by name.

``build_models(cfg.model, channels, size)`` returns a ``(G, D)`` pair for ``--arch``. Every
generator maps noise ``(N, z_dim)`` to images ``(N, C, H, W)`` in the range its ``output``
names ("tanh": [-1, 1], "sigmoid": [0, 1], "linear": unbounded, data in [-1, 1]); every
discriminator maps images to float logits ``(N,)`` - never probabilities.

Importing this package only fills :data:`ARCHS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..config import ModelConfig, field_flag, own_d_refusals
from ..errors import ConfigError
from ..regularisers import apply_spectral_norm
from .dcgan import (
    BilinearUpsampleDiscriminator,
    BilinearUpsampleGenerator,
    CholletDiscriminator,
    CholletGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    GeronDCGANDiscriminator,
    GeronDCGANGenerator,
    TFTutorialDiscriminator,
    TFTutorialGenerator,
)
from .dense import GeronDenseDiscriminator, GeronDenseGenerator
from .progan import SIZES as PROGAN_SIZES
from .progan import ProGANDiscriminator, ProGANGenerator
from .stylegan import SIZES as STYLEGAN_SIZES
from .stylegan import StyleGAN2Discriminator, StyleGAN2Generator, modulated_conv2d
from .base import Discriminator, Generator
from .layers import batch_dependent, layer_param_counts
from .layers_fast import use_fast_dropout, use_mirrored_padding
from .layers_keras import INIT_SCHEMES, init_weights

Models = tuple[nn.Module, nn.Module]


@dataclass(frozen=True)
class ArchSpec:
    """What the registry knows about an architecture, for building it and for ``--help``."""

    name: str
    build: Callable[[ModelConfig, int, int], Models]  # (cfg, img_channels, img_size) -> (G, D)
    output: str  # "tanh", "sigmoid" or "linear": G's output range; data gets scaled to match
    native_size: int | None  # the only/primary size the seed model makes; None if configurable
    sizes: tuple[int, ...]  # image sizes it can build
    default_dropout: float  # D dropout when cfg.d_dropout is None
    description: str
    conditional: bool = False  # whether it builds class-conditional pairs (cfg.num_classes > 0)


ARCHS: dict[str, ArchSpec] = {}


def register_arch(name: str, *, output: str, native_size: int | None, sizes: tuple[int, ...],
                  default_dropout: float, description: str, conditional: bool = False):
    """Decorator: register ``build(cfg, img_channels, img_size) -> (G, D)`` under ``name``."""
    if output not in ("tanh", "sigmoid", "linear"):
        raise ValueError(f"arch {name!r}: output must be tanh, sigmoid or linear, not {output!r}")

    def decorate(build: Callable[[ModelConfig, int, int], Models]):
        if name in ARCHS:
            raise ValueError(f"architecture {name!r} is registered twice")
        ARCHS[name] = ArchSpec(name, build, output, native_size, tuple(sizes), default_dropout, description,
                               conditional)
        return build

    return decorate


def _dropout(cfg: ModelConfig, arch: str) -> float:
    return ARCHS[arch].default_dropout if cfg.d_dropout is None else cfg.d_dropout


def _d_options(cfg: ModelConfig) -> dict:
    """The discriminator options every built-in D takes (mini-batch std-dev / discrimination)."""
    return {"minibatch_stddev": cfg.minibatch_stddev, "minibatch_disc": cfg.minibatch_disc}


def build_models(cfg: ModelConfig, img_channels: int, img_size: int) -> Models:
    """Build ``(G, D)`` for ``cfg.arch``, initialised by ``cfg.init`` from torch's global RNG.

    With ``cfg.spectral_norm`` every Linear/Conv weight of D is spectrally normalised (after
    initialisation; parameter counts are unchanged).

    Raises :class:`~ganforge.errors.ConfigError` naming the flag to change when the
    architecture, image size or channel count cannot be built.
    """
    spec = ARCHS.get(cfg.arch)
    if spec is None:
        raise ConfigError(f"--arch: unknown architecture {cfg.arch!r} (known: {', '.join(sorted(ARCHS))})")
    if img_size not in spec.sizes:
        others = sorted(n for n, s in ARCHS.items() if img_size in s.sizes)
        hint = f"; architectures that make {img_size}x{img_size}: {', '.join(others)}" if others else ""
        raise ConfigError(f"--size: architecture {spec.name!r} makes images of size "
                          f"{', '.join(map(str, spec.sizes))} only, not {img_size}{hint}")
    if img_channels not in (1, 3):
        raise ConfigError(f"--channels: images must have 1 (grey) or 3 (RGB) channels, not {img_channels}")
    if cfg.init not in INIT_SCHEMES:
        raise ConfigError(f"--init: must be {', '.join(INIT_SCHEMES)} (got {cfg.init!r})")
    if cfg.num_classes and not spec.conditional:
        can = ", ".join(n for n, s in ARCHS.items() if s.conditional)
        raise ConfigError(f"--conditional: architecture {spec.name!r} has no class-conditional form (use --arch {can})")
    G, D = spec.build(cfg, img_channels, img_size)
    if cfg.spectral_norm:
        apply_spectral_norm(D)
    return G, D


def count_params(m: nn.Module) -> int:
    """Trainable parameters (Keras' "Trainable params"; BatchNorm running stats are not counted)."""
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- the registry

_SEED_NOTE = " Fixed widths: --g-channels/--d-channels are ignored."


@register_arch("tf-tutorial", output="tanh", native_size=28, sizes=(28,), default_dropout=0.3,
               description="TensorFlow DCGAN tutorial (MNIST): Dense+BN -> 3 transposed convs, "
                           "2-conv D with dropout 0.3." + _SEED_NOTE)
def _build_tf_tutorial(cfg: ModelConfig, c: int, size: int) -> Models:
    return (TFTutorialGenerator(z_dim=cfg.z_dim, img_channels=c, init=cfg.init),
            TFTutorialDiscriminator(img_channels=c, dropout=_dropout(cfg, "tf-tutorial"), init=cfg.init,
                                    **_d_options(cfg)))


@register_arch("geron-dense", output="sigmoid", native_size=28, sizes=(28,), default_dropout=0.0,
               description="Géron's fully connected GAN (Fashion-MNIST): 100-150 relu G with "
                           "sigmoid pixels, 150-100 relu D, latent 30 in its preset." + _SEED_NOTE)
def _build_geron_dense(cfg: ModelConfig, c: int, size: int) -> Models:
    return (GeronDenseGenerator(z_dim=cfg.z_dim, img_channels=c, img_size=size, init=cfg.init),
            GeronDenseDiscriminator(img_channels=c, img_size=size, dropout=_dropout(cfg, "geron-dense"),
                                    init=cfg.init, **_d_options(cfg)))


@register_arch("geron-dcgan", output="tanh", native_size=28, sizes=(28,), default_dropout=0.4,
               description="Géron's DCGAN (Fashion-MNIST): Dense -> BN -> 2 transposed convs, "
                           "2-conv D with LeakyReLU 0.2 and dropout 0.4." + _SEED_NOTE)
def _build_geron_dcgan(cfg: ModelConfig, c: int, size: int) -> Models:
    return (GeronDCGANGenerator(z_dim=cfg.z_dim, img_channels=c, init=cfg.init),
            GeronDCGANDiscriminator(img_channels=c, dropout=_dropout(cfg, "geron-dcgan"), init=cfg.init,
                                    **_d_options(cfg)))


@register_arch("chollet-cifar10", output="tanh", native_size=32, sizes=(32,), default_dropout=0.4,
               description="Chollet's CIFAR-10 DCGAN: Dense -> 16x16, one 4x4 stride-2 transposed "
                           "conv, 5x5 convs; 4-conv valid D, dropout 0.4, latent 32 in its preset."
                           + _SEED_NOTE)
def _build_chollet(cfg: ModelConfig, c: int, size: int) -> Models:
    return (CholletGenerator(z_dim=cfg.z_dim, img_channels=c, init=cfg.init),
            CholletDiscriminator(img_channels=c, dropout=_dropout(cfg, "chollet-cifar10"), init=cfg.init,
                                 **_d_options(cfg)))


@register_arch("bilinear-upsample", output="linear", native_size=28, sizes=(28,), default_dropout=0.3,
               description="MNIST GAN with bilinear upsampling + valid convs instead of transposed "
                           "convs; G has no output activation (data in [-1, 1])." + _SEED_NOTE)
def _build_bilinear(cfg: ModelConfig, c: int, size: int) -> Models:
    return (BilinearUpsampleGenerator(z_dim=cfg.z_dim, img_channels=c, init=cfg.init),
            BilinearUpsampleDiscriminator(img_channels=c, dropout=_dropout(cfg, "bilinear-upsample"),
                                          init=cfg.init, **_d_options(cfg)))


@register_arch("dcgan", output="tanh", native_size=None, sizes=(28, 32, 64), default_dropout=0.0, conditional=True,
               description="Radford et al. DCGAN: all-convolutional, BatchNorm, ReLU G / LeakyReLU(0.2) D, "
                           "widths from --g-channels/--d-channels; best with --init dcgan.")
def _build_dcgan(cfg: ModelConfig, c: int, size: int) -> Models:
    return (DCGANGenerator(z_dim=cfg.z_dim, img_channels=c, img_size=size, base_channels=cfg.g_channels,
                           init=cfg.init, num_classes=cfg.num_classes),
            DCGANDiscriminator(img_channels=c, img_size=size, base_channels=cfg.d_channels,
                               dropout=_dropout(cfg, "dcgan"), init=cfg.init, num_classes=cfg.num_classes,
                               **_d_options(cfg)))


def _refuse_generic_d_options(cfg: ModelConfig) -> None:
    """Refuse D options an architecture with its own D cannot honour (``config.OWN_D_ARCHS``; the
    config's validation refuses them first, this is for models built directly)."""
    for name, why in own_d_refusals(cfg):
        raise ConfigError(f"{field_flag('model', name)}: {why}")


@register_arch("progan", output="linear", native_size=32, sizes=PROGAN_SIZES, default_dropout=0.0,
               description="Karras et al. ProGAN: G and D grow from 4x4 by doubling, each new block faded in; "
                           "equalised learning rate, pixel norm in G, mini-batch std-dev in D; widths "
                           "--g-channels/--d-channels at 4x4 and 8x8, halved per doubling after. "
                           "Its own N(0, 1) init (--init is ignored).")
def _build_progan(cfg: ModelConfig, c: int, size: int) -> Models:
    _refuse_generic_d_options(cfg)  # (--minibatch-stddev is always on)
    return (ProGANGenerator(z_dim=cfg.z_dim, img_channels=c, img_size=size, base_channels=cfg.g_channels),
            ProGANDiscriminator(img_channels=c, img_size=size, base_channels=cfg.d_channels))


@register_arch("stylegan2", output="linear", native_size=32, sizes=STYLEGAN_SIZES, default_dropout=0.0,
               description="Karras et al. StyleGAN2: a mapping network (--mapping-layers, --w-dim) and a synthesis "
                           "network of modulated, demodulated convs with noise inputs and toRGB skips from a learned "
                           "4x4 constant; residual D with mini-batch std-dev; equalised learning rate. Widths "
                           "--g-channels/--d-channels at 4x4 and 8x8, halved per doubling after. --init is ignored.")
def _build_stylegan2(cfg: ModelConfig, c: int, size: int) -> Models:
    _refuse_generic_d_options(cfg)
    return (StyleGAN2Generator(z_dim=cfg.z_dim, img_channels=c, img_size=size, w_dim=cfg.w_dim,
                               mapping_layers=cfg.mapping_layers, base_channels=cfg.g_channels),
            StyleGAN2Discriminator(img_channels=c, img_size=size, base_channels=cfg.d_channels))


__all__ = [
    "ARCHS", "ArchSpec", "register_arch", "build_models", "count_params", "layer_param_counts",
    "init_weights", "Generator", "Discriminator", "batch_dependent", "use_fast_dropout", "use_mirrored_padding",
    "TFTutorialGenerator", "TFTutorialDiscriminator", "GeronDenseGenerator", "GeronDenseDiscriminator",
    "GeronDCGANGenerator", "GeronDCGANDiscriminator", "CholletGenerator", "CholletDiscriminator",
    "BilinearUpsampleGenerator", "BilinearUpsampleDiscriminator", "DCGANGenerator", "DCGANDiscriminator",
    "ProGANGenerator", "ProGANDiscriminator", "StyleGAN2Generator", "StyleGAN2Discriminator", "modulated_conv2d",
]
