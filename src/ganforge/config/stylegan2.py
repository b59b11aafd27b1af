"""The StyleGAN2 section of the run configuration (``--arch stylegan2``): style mixing and the
path-length regulariser. The StyleGAN2 family's own settings: they apply to the architectures
in :attr:`StyleConfig.archs` only. The shape of the networks (``--w-dim``, ``--mapping-layers``,
``--channel-base``, ...) is in the model section."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .fields import opt as _opt
from .sections import Label, Need


@dataclass
class StyleConfig:
    """StyleGAN2 training (--arch stylegan2): style mixing, path length"""

    archs: ClassVar[tuple[str, ...]] = ("stylegan2",)  # the architectures these settings apply to

    mixing_prob: float = _opt(0.9, "--style-mixing", "probability that a training batch mixes two latents' styles "
                                                     "from a random layer on; 0: off")
    pl_weight: float = _opt(2.0, "--pl-weight", "path-length regularisation weight on G; 0: off")
    pl_every: int = _opt(4, "--pl-every", "lazy path-length regularisation: every k G steps, scaled by k")
    pl_decay: float = _opt(0.01, "--pl-decay", "rate of the running mean of path lengths the penalty pulls toward")
    pl_batch_shrink: int = _opt(2, "--pl-batch-shrink", "the path-length pass uses batch_size / this many images")

    def check(self, cfg, need: Need, label: Label) -> None:
        s = self
        need(0 <= s.mixing_prob <= 1, "style", "mixing_prob", "must be in [0, 1]")
        need(s.pl_weight >= 0, "style", "pl_weight", "must be >= 0")
        need(s.pl_every >= 1, "style", "pl_every", "must be >= 1")
        need(0 < s.pl_decay <= 1, "style", "pl_decay", "must be in (0, 1]")
        need(s.pl_batch_shrink >= 1, "style", "pl_batch_shrink", "must be >= 1")
