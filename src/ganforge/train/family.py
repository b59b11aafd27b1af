"""Model families as plug-ins of the generic trainer.

A :class:`Family` is what one model family adds to training, and everything it adds goes
through this interface: penalties and update hooks, corrections of the optimizers' settings,
G's forward while training, how real images are blended, its own batch sampler, what its
sample grids and log lines say, and the settings it refuses. The builder
(:mod:`ganforge.train.builder`) asks the family in one fixed order; the trainer and the loop call
the hooks below and never test a family's name.

Families register themselves by architecture name (``@register_family("progan")``) in the
modules of :mod:`ganforge.train.families`, whose ``family_class(arch)`` looks them up; an
architecture without one trains with this base class, which adds nothing (the DCGAN and the seed
models).
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch

from ..config import RunConfig
from .hooks import UpdateHook
from .penalties import Regulariser
from .state import Trainer


class Family:
    """What a model family adds to the generic trainer; this base adds nothing."""

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.tr: Trainer | None = None

    # -- asked before the trainer exists (by the run's checks and the builder)
    @classmethod
    def refusals(cls, cfg: RunConfig) -> list[tuple[str, str]]:
        """``(dotted field, why)`` for every setting of ``cfg`` this family cannot honour; the
        run's checks refuse them before a run folder exists."""
        return []

    @classmethod
    def data_refusals(cls, cfg: RunConfig, n_images: int) -> list[tuple[str, str]]:
        """Like :meth:`refusals`, for what needs the data (``cfg``: resolved; ``n_images``: its
        size); checked once the data is loaded, still before a run folder exists."""
        return []

    def optimizer_corrections(self) -> dict[str, float]:
        """``{"G": c, "D": c}``: a factor for that network's learning rate, with its Adam betas
        raised to the same power (a missing network: 1, no change)."""
        return {}

    def regularisers(self) -> list[Regulariser]:
        """Penalties the family adds (after the loss's own)."""
        return []

    def hooks(self) -> list[UpdateHook]:
        """Update hooks the family adds; they run before the generic ones (clipping, ADA,
        G_ema), so G_ema copies what they changed."""
        return []

    # -- once the trainer exists
    def bind(self, tr: Trainer) -> None:
        """Called once by the builder, when the trainer is complete (a fresh one, or one that a
        checkpoint is about to be loaded into)."""
        self.tr = tr

    def run_G(self, tr: Trainer, G: Callable, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """G's forward while training (``G``: the trainer's training module, compiled or not)."""
        return G(z) if y is None else G(z, y)

    def blend_reals(self, real: torch.Tensor) -> torch.Tensor:
        """The real batch as D should see it now (scaled to the model's range already)."""
        return real

    def sampler(self, n: int, batch_size: int, seed: int, device: torch.device):
        """The family's own batch sampler, or None for the loop's fixed-size epochs."""
        return None

    def batch_size(self) -> int | None:
        """Real images the next step takes when the family decides it (else None)."""
        return None

    def ema_images(self, step: int, n: int) -> int:
        """The images G_ema's ramp (``--ema-rampup``) counts before step ``step`` of ``n``
        images: all of them by default."""
        return step * n

    def tag(self) -> str:
        """What the sample grids show now, for their file names (``16x16-fade40``); "" for none."""
        return ""

    def take_stage_end(self) -> bool:
        """True once after the family changed stage (the loop then saves a grid)."""
        return False

    def log_fields(self) -> dict:
        """Extra fields of each log line."""
        return {}

    def shape_states(self) -> Iterator[str]:
        """Put the bound trainer, in turn, into every state whose step computes on other shapes
        (a growing model's stages); yield a name for each. The base has one state, as built."""
        yield "as built"


FAMILIES: dict[str, type[Family]] = {}


def register_family(arch: str):
    """Decorator: the :class:`Family` subclass that trains architecture ``arch``."""

    def decorate(cls: type[Family]) -> type[Family]:
        if arch in FAMILIES:
            raise ValueError(f"a family for {arch!r} is registered twice")
        FAMILIES[arch] = cls
        return cls

    return decorate
