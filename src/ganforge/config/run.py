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

from ..errors import ConfigError, OlderRunError
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
    def from_stored(cls, d: dict[str, Any]) -> "RunConfig":
        """A config a run stored (its config.json, a checkpoint, an export). It holds every field,
        the other families' at the defaults of the ganforge that wrote it: those settle to today's
        defaults, since they never applied to this run. A ProGAN or StyleGAN2 run from before the
        official width rule (no ``model.channel_base``) is refused: its network's layers differ. A run
        from before ``--fit`` keeps the resize it trained with."""
        model = d.get("model") if isinstance(d, dict) else None
        if isinstance(model, dict) and model.get("arch") in ("progan", "stylegan2") and "channel_base" not in model:
            raise OlderRunError(f"a {model['arch']} run of ganforge 0.1, whose network has other layers than this "
                              f"version's (the official width rule and layers came in 0.2): its weights do not "
                              f"load here; train it anew, or use ganforge 0.1 for it")
        cfg = cls.from_dict(d)
        _settle_other_families(cfg)
        data = d.get("data") if isinstance(d, dict) else None
        if isinstance(data, dict) and "fit" not in data:
            cfg.data.fit = "resize"  # before --fit existed, data of another size was always resized
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_stored(read_config_json(path))


# RunConfig's sections by attribute name, in order: {"data": DataConfig, "model": ModelConfig, ...}
_SECTION_TYPES = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)
                  if dataclasses.is_dataclass(f.default_factory)}



# (section, field) -> where it lives now: a run's config.json written before the move still loads
MOVED = {("style", "lazy_correction"): ("optim", "lazy_correction")}


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
        if isinstance(value, dict):  # settings that moved to another section keep working
            value = dict(value)
            for name in [n for n in value if (key, n) in MOVED]:
                to_section, to_name = MOVED[(key, name)]
                target = d.get(to_section)
                if not (isinstance(target, dict) and to_name in target):  # (given where it lives now: that wins)
                    set_field(cfg, f"{to_section}.{to_name}", value[name],
                              where=f"{where}: {key}.{name}" if where else None)
                del value[name]
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


def _other_families_fields(cfg: RunConfig):
    """(section, field, default) of every setting that belongs to other architectures than the run's:
    a field of a family's section (the section's ``archs``), or one that names its own
    (``opt(..., archs=...)``)."""
    arch = cfg.model.arch
    for section, typ in _SECTION_TYPES.items():
        default = typ()
        for f in dataclasses.fields(typ):
            archs = f.metadata.get("archs") or getattr(typ, "archs", None)
            if archs is not None and arch not in archs:
                yield section, f, archs, getattr(default, f.name)


def _settle_other_families(cfg: RunConfig) -> None:
    for section, f, _, default in _other_families_fields(cfg):
        setattr(getattr(cfg, section), f.name, default)


def _refuse_other_families_settings(cfg: RunConfig, label) -> None:
    """A family's setting changed from its default on an architecture it does not apply to: a
    field of a family's section (the section's ``archs``), or a field that names its own
    (``opt(..., archs=...)``). Its default is what every other architecture runs with, so only a
    changed value would be ignored."""
    arch = cfg.model.arch
    for section, f, archs, default in _other_families_fields(cfg):
        if getattr(getattr(cfg, section), f.name) != default:
            raise ConfigError(f"{label(f'{section}.{f.name}')}: applies to --arch {' or '.join(archs)} only, and this "
                              f"run is --arch {arch} (drop it, or choose --arch {archs[0]})")
