"""The StyleGAN section of the run configuration (``--arch stylegan2``): style mixing, the
path-length regulariser and the lazy-regularisation corrections. A part of
:mod:`ganforge.config`, which re-exports it; kept apart so that each file stays one concern.
The shape of the networks (``--w-dim``, ``--mapping-layers``) is in the model section."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


def _opt(default: Any, flag: str, help: str) -> Any:  # as config.opt (which imports this module)
    return field(default=default, metadata={"flag": flag, "help": help})


@dataclass
class StyleConfig:
    """StyleGAN2 training (--arch stylegan2): style mixing, path length, lazy corrections."""

    mixing_prob: float = _opt(0.9, "--style-mixing", "probability that a training batch mixes two latents' styles "
                                                     "from a random layer on; 0: off")
    pl_weight: float = _opt(2.0, "--pl-weight", "path-length regularisation weight on G; 0: off")
    pl_every: int = _opt(4, "--pl-every", "lazy path-length regularisation: every k G steps, scaled by k")
    pl_decay: float = _opt(0.01, "--pl-decay", "rate of the running mean of path lengths the penalty pulls toward")
    pl_batch_shrink: int = _opt(2, "--pl-batch-shrink", "the path-length pass uses batch_size / this many images")
    lazy_correction: bool = _opt(True, "--lazy-correction", "with lazy R1/path length every k steps, scale that "
                                                            "network's lr by k/(k+1) and raise its Adam betas to "
                                                            "that power (Karras et al. 2020, appendix B)")


def validate_style(cfg, need: Callable[[bool, str, str, str], None]) -> None:
    """The style section's checks, and the model's StyleGAN fields, for :func:`ganforge.config.validate`."""
    s, m = cfg.style, cfg.model
    need(0 <= s.mixing_prob <= 1, "style", "mixing_prob", "must be in [0, 1]")
    need(s.pl_weight >= 0, "style", "pl_weight", "must be >= 0")
    need(s.pl_every >= 1, "style", "pl_every", "must be >= 1")
    need(0 < s.pl_decay <= 1, "style", "pl_decay", "must be in (0, 1]")
    need(s.pl_batch_shrink >= 1, "style", "pl_batch_shrink", "must be >= 1")
    need(1 <= m.w_dim <= 4096, "model", "w_dim", "must be between 1 and 4096")
    need(1 <= m.mapping_layers <= 16, "model", "mapping_layers", "must be between 1 and 16")
