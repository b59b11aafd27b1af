"""The whole configuration of a run: :class:`RunConfig`, its sections, validation, JSON load/save
and dotted overrides.

A run is described completely by one :class:`RunConfig`. The CLI builds it from a preset,
then an optional JSON file, then flags; the resolved result is saved as ``config.json`` in
the run folder and inside every checkpoint, so a generator can be rebuilt from it alone.

Sections are the generic ones (:mod:`.sections`) and, beside them, the model families' own
(:mod:`.progan`, :mod:`.stylegan2`). A family's section says which architectures it applies to
(its ``archs``); validation refuses a family's setting the user gave for another architecture,
so no flag is ever silently ignored.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .fields import FieldDoc, coerce, opt, short
from .file import read_config_json
from .progan import GrowConfig
from .sections import DataConfig, LossConfig, ModelConfig, OptimConfig, TrainConfig, TricksConfig
from .stylegan2 import StyleConfig


@dataclass
class RunConfig:
    """Everything needed to start, resume or rebuild a run."""

    preset: str = opt("dcgan", "--preset", "the preset this run started from")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    grow: GrowConfig = field(default_factory=GrowConfig)
    style: StyleConfig = field(default_factory=StyleConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        cfg = cls()
        apply_dict(cfg, d)
        return cfg

    def save(self, path: str | Path) -> None:
        # strict JSON: validate() refuses non-finite values, so a valid config always saves
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(read_config_json(path))


# RunConfig's sections by attribute name, in order: {"data": DataConfig, "model": ModelConfig, ...}
_SECTION_TYPES = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)
                  if dataclasses.is_dataclass(f.default_factory)}



def field_flag(section: str, name: str) -> str:
    """The CLI flag that sets field ``name`` of ``section`` (``"optim", "decay"`` -> ``--lr-decay``)."""
    f = {f.name: f for f in dataclasses.fields(_SECTION_TYPES[section])}[name]
    return FieldDoc.of(f).flag


def field_docs() -> dict[str, FieldDoc]:
    """Dotted field name (``optim.lr_d``) -> its flag and help, for every section field (used by --help)."""
    return {f"{section}.{f.name}": FieldDoc.of(f)
            for section, typ in _SECTION_TYPES.items() for f in dataclasses.fields(typ)}


def section_types() -> dict[str, type]:
    """RunConfig's sections by attribute name, in order: ``{"data": DataConfig, ...}``."""
    return dict(_SECTION_TYPES)


def apply_dict(cfg: RunConfig, d: dict[str, Any], where: str | None = None) -> RunConfig:
    """Overwrite fields of ``cfg`` from a nested dict (as in config.json). Unknown keys are errors.

    where: where the dict came from, e.g. ``"--config my.json"``; errors then name it and the
        field (``--config my.json: optim.lr_d: ...``) instead of a flag the user never typed.
    """
    for key, value in d.items():
        if key == "preset":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where + ': ' if where else ''}preset: must be a preset name (got {short(value)})")
            cfg.preset = value
            continue
        section = getattr(cfg, key, None)
        if not dataclasses.is_dataclass(section) or not isinstance(value, dict):
            raise ConfigError(f"{where + ': ' if where else ''}unknown config section {key!r} "
                              f"(known: preset, {', '.join(_SECTION_TYPES)})")
        for name, v in value.items():
            set_field(cfg, f"{key}.{name}", v, where=f"{where}: {key}.{name}" if where else None)
    return cfg


def set_field(cfg: RunConfig, dotted: str, value: Any, where: str | None = None) -> None:
    """Set one field by its dotted name, e.g. ``set_field(cfg, "optim.lr_d", "1e-4")``.

    where: how errors name the value's origin; default ``--set DOTTED`` for an unknown name and
        the field's flag for a bad value.
    """
    parts = dotted.split(".")
    if len(parts) != 2:
        raise ConfigError(f"{where or '--set ' + dotted}: expected SECTION.FIELD, e.g. optim.lr_d")
    section_name, name = parts
    section = getattr(cfg, section_name, None)
    if not dataclasses.is_dataclass(section):
        raise ConfigError(f"{where or '--set ' + dotted}: unknown section {section_name!r} "
                          f"(known: {', '.join(_SECTION_TYPES)})")
    fields = {f.name: f for f in dataclasses.fields(section)}
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{where or '--set ' + dotted}: unknown field {name!r} (known: {known})")
    setattr(section, name, coerce(value, getattr(section, name), fields[name].type,
                                   where or field_flag(section_name, name)))



def field_label(dotted: str, where: dict[str, str] | None = None) -> str:
    """How an error names field ``dotted``: ``where[dotted]`` (where its value came from, such
    as ``--config my.json: optim.lr_d``) when given, else the field's flag."""
    if where and dotted in where:
        return where[dotted]
    return field_flag(*dotted.split("."))


def validate(cfg: RunConfig, where: dict[str, str] | None = None) -> RunConfig:
    """Check ranges and choices; raise ConfigError naming the flag.

    where: dotted field -> where its value came from (see :func:`field_label`), for errors about
        a value the user did not give by its flag (a config file, ``--set``, a hidden field).
        A family's setting changed from its default is refused for an architecture it does not
        apply to.
    """

    def label(dotted: str) -> str:
        return field_label(dotted, where)

    def need(ok: bool, section: str, name: str, msg: str) -> None:
        if not ok:
            raise ConfigError(f"{label(f'{section}.{name}')}: {msg} (got {getattr(getattr(cfg, section), name)!r})")

    # No setting wants inf or nan, and a run's config.json is strict JSON (no Infinity/NaN tokens).
    for section in _SECTION_TYPES:
        for f in dataclasses.fields(getattr(cfg, section)):
            value = getattr(getattr(cfg, section), f.name)
            need(not isinstance(value, float) or math.isfinite(value), section, f.name, "must be a finite number")
    for section in _SECTION_TYPES:
        getattr(cfg, section).check(cfg, need, label)
    _refuse_other_families_settings(cfg, label)
    return cfg


def _refuse_other_families_settings(cfg: RunConfig, label) -> None:
    """A family's setting changed from its default on an architecture it does not apply to: a
    field of a family's section (the section's ``archs``), or a field that names its own
    (``opt(..., archs=...)``). Its default is what every other architecture runs with, so only a
    changed value would be ignored."""
    arch = cfg.model.arch
    for section, typ in _SECTION_TYPES.items():
        default, current = typ(), getattr(cfg, section)
        for f in dataclasses.fields(typ):
            archs = f.metadata.get("archs") or getattr(typ, "archs", None)
            if archs is None or arch in archs or getattr(current, f.name) == getattr(default, f.name):
                continue
            raise ConfigError(f"{label(f'{section}.{f.name}')}: applies to --arch {' or '.join(archs)} only, and this "
                              f"run is --arch {arch} (drop it, or choose --arch {archs[0]})")
