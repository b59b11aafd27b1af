"""The progressive-growing section of the run configuration (``--arch progan``): how long each
stage lasts and what changes per stage. A part of :mod:`ganforge.config`, which re-exports it;
kept apart so that each file stays one concern."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ConfigError


def _opt(default: Any, flag: str, help: str) -> Any:  # as config.opt (which imports this module)
    return field(default=default, metadata={"flag": flag, "help": help})


@dataclass
class GrowConfig:
    """Progressive growing (--arch progan): how long each stage lasts, and per-stage settings."""

    fade_kimg: float = _opt(600.0, "--fade-kimg", "thousands of real images over which a new block fades in")
    stage_kimg: float = _opt(600.0, "--stage-kimg", "thousands of real images each stage trains after its fade-in")
    stage_batch: str = _opt("", "--stage-batch", "batch-size factor per stage, SIZE:X,... e.g. 16:0.5 (times "
                                                 "--batch-size); stages not named use 1")
    stage_lr: str = _opt("", "--stage-lr", "learning-rate factor per stage, SIZE:X,... e.g. 32:1.5 (times "
                                           "--lr-g/--lr-d); stages not named use 1")


def parse_stage_table(text: str, flag: str) -> dict[int, float]:
    """``"16:0.5,32:2"`` -> ``{16: 0.5, 32: 2.0}``; raises ConfigError naming ``flag``."""
    try:
        table = {int(k): float(v) for k, v in (p.split(":") for p in text.replace(" ", "").split(",") if p)}
    except ValueError:
        table = {0: -1.0}
    if not all(v > 0 and math.isfinite(v) for v in table.values()):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ConfigError(f"{flag}: expected SIZE:VALUE pairs with positive values, e.g. 16:0.5,32:2 (got {shown!r})")
    return table


def validate_grow(cfg, need: Callable[[bool, str, str, str], None], label: Callable[[str], str]) -> None:
    """The grow section's checks, and the drift term's, for :func:`ganforge.config.validate`."""
    need(cfg.loss.drift >= 0, "loss", "drift", "must be >= 0")
    need(cfg.grow.fade_kimg > 0, "grow", "fade_kimg", "must be positive")
    need(cfg.grow.stage_kimg > 0, "grow", "stage_kimg", "must be positive")
    parse_stage_table(cfg.grow.stage_batch, label("grow.stage_batch"))
    parse_stage_table(cfg.grow.stage_lr, label("grow.stage_lr"))
