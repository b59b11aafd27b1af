"""The model families that add something to the generic trainer, one module each:
:mod:`.progan` (progressive growing) and :mod:`.stylegan2` (style mixing, path length, lazy
corrections). Importing this package registers them; adding a family is one more module here
(and its model file in :mod:`ganforge.models`)."""
from __future__ import annotations

from ..family import FAMILIES, Family
from . import progan, stylegan2  # noqa: F401  (each registers its family)


def family_class(arch: str) -> type[Family]:
    """The family that trains ``arch`` (the base :class:`~ganforge.train.family.Family`, which
    adds nothing, when it has none of its own)."""
    return FAMILIES.get(arch, Family)
