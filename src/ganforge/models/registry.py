"""The architecture registry: each architecture's builder and a spec of what it is and can do.

``build_models(cfg.model, channels, size)`` returns a ``(G, D)`` pair for ``--arch``. Every
generator maps noise ``(N, z_dim)`` to images ``(N, C, H, W)`` in the range its ``output``
names ("tanh": [-1, 1], "sigmoid": [0, 1], "linear": unbounded, data in [-1, 1]); every
discriminator maps images to float logits ``(N,)`` - never probabilities.

What an architecture can do is a flag on its :class:`ArchSpec`, read by whoever needs it (the
run's checks, the trainer's builder, the loop), so no code outside the architecture's own files
tests its name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..config import GENERIC_D_OPTIONS, ModelConfig, field_flag
from ..errors import ConfigError
from ..regularisers import apply_spectral_norm
from .layers_keras import INIT_SCHEMES

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
    # capabilities
    own_d: str | None = None  # its D is the paper's own, which the generic D options cannot change: why
    graph_safe: bool = True  # its step can be captured once as a CUDA graph (--cuda-graphs)
    shardable: bool = True  # its batches can be split between processes (torchrun)


ARCHS: dict[str, ArchSpec] = {}


def register_arch(name: str, *, output: str, native_size: int | None, sizes: tuple[int, ...],
                  default_dropout: float, description: str, conditional: bool = False, own_d: str | None = None,
                  graph_safe: bool = True, shardable: bool = True):
    """Decorator: register ``build(cfg, img_channels, img_size) -> (G, D)`` under ``name``."""
    if output not in ("tanh", "sigmoid", "linear"):
        raise ValueError(f"arch {name!r}: output must be tanh, sigmoid or linear, not {output!r}")

    def decorate(build: Callable[[ModelConfig, int, int], Models]):
        if name in ARCHS:
            raise ValueError(f"architecture {name!r} is registered twice")
        ARCHS[name] = ArchSpec(name, build, output, native_size, tuple(sizes), default_dropout, description,
                               conditional, own_d, graph_safe, shardable)
        return build

    return decorate


def own_d_refusals(cfg: ModelConfig) -> list[tuple[str, str]]:
    """``(field, why)`` for each generic D option ``cfg`` turns on that its architecture's D
    cannot honour (an architecture with ``own_d``); empty when there is none."""
    spec = ARCHS.get(cfg.arch)
    if spec is None or spec.own_d is None:
        return []
    return [(name, f"not available for --arch {cfg.arch}, {spec.own_d}")
            for name in GENERIC_D_OPTIONS if getattr(cfg, name)]


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
    for name, why in own_d_refusals(cfg):  # (the run's checks refuse them first; this is for direct callers)
        raise ConfigError(f"{field_flag('model', name)}: {why}")
    G, D = spec.build(cfg, img_channels, img_size)
    if cfg.spectral_norm:
        apply_spectral_norm(D)
    return G, D


def count_params(m: nn.Module) -> int:
    """Trainable parameters (Keras' "Trainable params"; BatchNorm running stats are not counted)."""
    return sum(p.numel() for p in m.parameters() if p.requires_grad)
