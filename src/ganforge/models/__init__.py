"""Generator/discriminator architectures, registered by name (see :mod:`.registry`).

One file per family: :mod:`.dense` and :mod:`.seeds` (the seed models, layer for layer),
:mod:`.dcgan`, :mod:`.progan`, :mod:`.stylegan2`; shared blocks in ``layers*.py``. Importing this
package only fills :data:`ARCHS`.
"""
from __future__ import annotations

from ..config import ModelConfig
from .base import Discriminator, Generator
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .dense import GeronDenseDiscriminator, GeronDenseGenerator
from .layers import batch_dependent, layer_param_counts
from .layers_fast import use_fast_dropout, use_mirrored_padding
from .layers_keras import INIT_SCHEMES, init_weights
from .progan import SIZES as PROGAN_SIZES
from .progan import ProGANDiscriminator, ProGANGenerator
from .registry import ARCHS, ArchSpec, Models, build_models, count_params, own_d_refusals, register_arch
from .seeds import (BilinearUpsampleDiscriminator, BilinearUpsampleGenerator, CholletDiscriminator, CholletGenerator,
                    GeronDCGANDiscriminator, GeronDCGANGenerator, TFTutorialDiscriminator, TFTutorialGenerator)
from .stylegan2 import SIZES as STYLEGAN_SIZES
from .stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, modulated_conv2d

_SEED_NOTE = " Fixed widths: --g-channels/--d-channels are ignored."


def _dropout(cfg: ModelConfig, arch: str) -> float:
    return ARCHS[arch].default_dropout if cfg.d_dropout is None else cfg.d_dropout


def _register_seed(name: str, G_cls, D_cls, *, output: str, size: int, dropout: float, description: str,
                   sized: bool = False) -> None:
    """A seed model: fixed widths, one size; G takes the latent size, D the dropout rate and the
    generic D options (``sized``: both also take the image size, as the dense GAN's do)."""

    def build(cfg: ModelConfig, c: int, s: int) -> Models:
        shape = {"img_size": s} if sized else {}
        return (G_cls(z_dim=cfg.z_dim, img_channels=c, init=cfg.init, **shape),
                D_cls(img_channels=c, dropout=_dropout(cfg, name), init=cfg.init, minibatch_stddev=cfg.minibatch_stddev,
                      minibatch_disc=cfg.minibatch_disc, **shape))

    register_arch(name, output=output, native_size=size, sizes=(size,), default_dropout=dropout,
                  description=description + _SEED_NOTE)(build)


_register_seed("tf-tutorial", TFTutorialGenerator, TFTutorialDiscriminator, output="tanh", size=28, dropout=0.3,
               description="TensorFlow DCGAN tutorial (MNIST): Dense+BN -> 3 transposed convs, 2-conv D with "
                           "dropout 0.3.")
_register_seed("geron-dense", GeronDenseGenerator, GeronDenseDiscriminator, output="sigmoid", size=28, dropout=0.0,
               sized=True, description="Géron's fully connected GAN (Fashion-MNIST): 100-150 relu G with sigmoid "
                                       "pixels, 150-100 relu D, latent 30 in its preset.")
_register_seed("geron-dcgan", GeronDCGANGenerator, GeronDCGANDiscriminator, output="tanh", size=28, dropout=0.4,
               description="Géron's DCGAN (Fashion-MNIST): Dense -> BN -> 2 transposed convs, 2-conv D with "
                           "LeakyReLU 0.2 and dropout 0.4.")
_register_seed("chollet-cifar10", CholletGenerator, CholletDiscriminator, output="tanh", size=32, dropout=0.4,
               description="Chollet's CIFAR-10 DCGAN: Dense -> 16x16, one 4x4 stride-2 transposed conv, 5x5 convs; "
                           "4-conv valid D, dropout 0.4, latent 32 in its preset.")
_register_seed("bilinear-upsample", BilinearUpsampleGenerator, BilinearUpsampleDiscriminator, output="linear",
               size=28, dropout=0.3, description="MNIST GAN with bilinear upsampling + valid convs instead of "
                                                 "transposed convs; G has no output activation (data in [-1, 1]).")


@register_arch("dcgan", output="tanh", native_size=None, sizes=(28, 32, 64), default_dropout=0.0, conditional=True,
               description="Radford et al. DCGAN: all-convolutional, BatchNorm, ReLU G / LeakyReLU(0.2) D, "
                           "widths from --g-channels/--d-channels; best with --init dcgan.")
def _build_dcgan(cfg: ModelConfig, c: int, size: int) -> Models:
    return (DCGANGenerator(z_dim=cfg.z_dim, img_channels=c, img_size=size, base_channels=cfg.g_channels,
                           init=cfg.init, num_classes=cfg.num_classes),
            DCGANDiscriminator(img_channels=c, img_size=size, base_channels=cfg.d_channels,
                               dropout=_dropout(cfg, "dcgan"), init=cfg.init, num_classes=cfg.num_classes,
                               minibatch_stddev=cfg.minibatch_stddev, minibatch_disc=cfg.minibatch_disc))


@register_arch("progan", output="linear", native_size=32, sizes=PROGAN_SIZES, default_dropout=0.0,
               own_d="whose D is the paper's (equalised learning rate, a mini-batch standard-deviation layer)",
               graph_safe=False, shardable=False,
               description="Karras et al. ProGAN: G and D grow from 4x4 by doubling, each new block faded in; "
                           "equalised learning rate, pixel norm in G, mini-batch std-dev in D; the channels at "
                           "resolution r are min(--channel-base // r, --channel-max). Its own N(0, 1) init "
                           "(--init is ignored).")
def _build_progan(cfg: ModelConfig, c: int, size: int) -> Models:
    return (ProGANGenerator(z_dim=cfg.z_dim, img_channels=c, img_size=size, channel_base=cfg.channel_base,
                            channel_max=cfg.channel_max),
            ProGANDiscriminator(img_channels=c, img_size=size, channel_base=cfg.channel_base,
                                channel_max=cfg.channel_max, group_size=cfg.mbstd_group))


@register_arch("stylegan2", output="linear", native_size=32, sizes=STYLEGAN_SIZES, default_dropout=0.0,
               conditional=True, own_d="whose D is the paper's residual one",
               description="Karras et al. StyleGAN2 as the official network: a mapping network (--mapping-layers, "
                           "--w-dim) and a 'skip' synthesis network of modulated, demodulated convs with noise, "
                           "FIR-filtered resampling, a residual (or --d-architecture orig) D with mini-batch "
                           "std-dev; the channels at resolution r are min(--channel-base // r, --channel-max). "
                           "--init is ignored.")
def _build_stylegan2(cfg: ModelConfig, c: int, size: int) -> Models:
    clamp = cfg.conv_clamp or None
    return (StyleGAN2Generator(z_dim=cfg.z_dim, img_channels=c, img_size=size, w_dim=cfg.w_dim,
                               mapping_layers=cfg.mapping_layers, channel_base=cfg.channel_base,
                               channel_max=cfg.channel_max, num_classes=cfg.num_classes, num_lowp_res=cfg.lowp_res,
                               conv_clamp=clamp),
            StyleGAN2Discriminator(img_channels=c, img_size=size, channel_base=cfg.channel_base,
                                   channel_max=cfg.channel_max, num_classes=cfg.num_classes,
                                   architecture=cfg.d_architecture, mbstd_group=cfg.mbstd_group,
                                   num_lowp_res=cfg.lowp_res, conv_clamp=clamp, mapping_layers=cfg.mapping_layers))


def default_size(arch: str, source: str) -> int | None:
    """The side a run of ``arch`` on ``--data source`` trains at without ``--size``: the
    architecture's native size, else the data set's own preference (Fashion-MNIST and MNIST: 32,
    padded), else None (the data's own size)."""
    from ..data.sources import model_size

    return ARCHS[arch].native_size or model_size(source)


__all__ = [
    "default_size",
    "ARCHS", "ArchSpec", "register_arch", "build_models", "count_params", "own_d_refusals", "layer_param_counts",
    "init_weights", "INIT_SCHEMES", "Generator", "Discriminator", "batch_dependent", "use_fast_dropout",
    "use_mirrored_padding", "TFTutorialGenerator", "TFTutorialDiscriminator", "GeronDenseGenerator",
    "GeronDenseDiscriminator", "GeronDCGANGenerator", "GeronDCGANDiscriminator", "CholletGenerator",
    "CholletDiscriminator", "BilinearUpsampleGenerator", "BilinearUpsampleDiscriminator", "DCGANGenerator",
    "DCGANDiscriminator", "ProGANGenerator", "ProGANDiscriminator", "StyleGAN2Generator", "StyleGAN2Discriminator",
    "modulated_conv2d",
]
