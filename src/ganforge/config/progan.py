"""The progressive-growing section of the run configuration (``--arch progan``): how long each
stage lasts and what changes per stage. The ProGAN family's own settings: they apply to the
architectures in :attr:`GrowConfig.archs` only."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from ..errors import ConfigError
from .fields import opt as _opt
from .sections import Label, Need


@dataclass
class GrowConfig:
    """progressive growing (--arch progan): how long each stage lasts, and per-stage settings"""

    archs: ClassVar[tuple[str, ...]] = ("progan",)  # the architectures these settings apply to

    fade_kimg: float = _opt(600.0, "--fade-kimg", "thousands of real images over which a new block fades in")
    stage_kimg: float = _opt(600.0, "--stage-kimg", "thousands of real images each stage trains after its fade-in")
    stage_batch: str = _opt("", "--stage-batch", "batch-size factor per stage, SIZE:X,... e.g. 16:0.5 (times "
                                                 "--batch-size); stages not named use 1")
    stage_lr: str = _opt("", "--stage-lr", "learning-rate factor per stage, SIZE:X,... e.g. 32:1.5 (times "
                                           "--lr-g/--lr-d); stages not named use 1")

    reset_adam: bool = _opt(False, "--stage-reset-adam", "clear the optimizers' moments when a stage begins (as "
                                                          "the official ProGAN code does)")

    def check(self, cfg, need: Need, label: Label) -> None:
        need(self.fade_kimg > 0, "grow", "fade_kimg", "must be positive")
        need(self.stage_kimg > 0, "grow", "stage_kimg", "must be positive")
        parse_stage_table(self.stage_batch, label("grow.stage_batch"))
        parse_stage_table(self.stage_lr, label("grow.stage_lr"))


def parse_stage_table(text: str, flag: str) -> dict[int, float]:
    """``"16:0.5,32:2"`` -> ``{16: 0.5, 32: 2.0}``; raises ConfigError naming ``flag`` for anything
    else (a value that is not positive and finite, a size named twice)."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        pairs = [(int(k), float(v)) for k, v in (p.split(":") for p in text.replace(" ", "").split(",") if p)]
    except ValueError:
        pairs = [(0, -1.0)]
    if not all(v > 0 and math.isfinite(v) for _, v in pairs):
        raise ConfigError(f"{flag}: expected SIZE:VALUE pairs with positive values, e.g. 16:0.5,32:2 (got {shown!r})")
    table = dict(pairs)
    if len(table) < len(pairs):
        twice = sorted({k for k, _ in pairs if sum(k == j for j, _ in pairs) > 1})
        raise ConfigError(f"{flag}: stage {twice[0]} is named twice (got {shown!r})")
    return table
