"""The machinery of typed config fields: each field carries its CLI flag and --help text in its
metadata (:func:`opt`), and values from JSON or the command line are read strictly into the
field's declared type (:func:`coerce`)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import Any, NamedTuple

from ..errors import ConfigError

INT64 = 2**63  # integers are stored in checkpoints as int64


def opt(default: Any, flag: str, help: str, archs: tuple[str, ...] | None = None) -> Any:
    """A config field with its default, the CLI flag that sets it and its --help text.

    The flag and help live in the field's metadata: ``ganforge train`` builds its flags from
    them and validation errors name the flag, so each is written once, here. ``archs``: the
    architectures the field applies to, when not all (validation refuses a changed value for
    any other).
    """
    meta: dict[str, Any] = {"flag": flag, "help": help}
    if archs:
        meta["archs"] = tuple(archs)
    return field(default=default, metadata=meta)


class FieldDoc(NamedTuple):
    """How a config field appears on the command line."""

    flag: str  # e.g. --lr-d
    help: str  # the --help text

    @classmethod
    def of(cls, f: dataclasses.Field) -> "FieldDoc":
        return cls(f.metadata.get("flag") or "--" + f.name.replace("_", "-"), f.metadata.get("help", ""))


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters for a one-line message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def coerce(value: Any, current: Any, typ: Any, where: str) -> Any:
    """Convert a JSON/CLI value to the field's declared type, strictly: JSON booleans are not
    numbers, numbers are not text, integers fit in int64 and floats are finite."""
    t = str(typ)
    kind = t.split(" ")[0]
    if value is None:
        if "None" in t:
            return None
        raise ConfigError(f"{where}: a value is required")
    if isinstance(value, str) and value.strip().lower() in ("none", "null") and "None" in t:
        return None
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off"):
                    return False
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(value)
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise ValueError(value)
            v = int(value.strip()) if isinstance(value, str) else int(value)
            if abs(v) >= INT64:
                raise ConfigError(f"{where}: {short(value)} is out of range (integers up to 2**63 - 1)")
            return v
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(value)
            v = float(value.strip()) if isinstance(value, str) else float(value)
            if not math.isfinite(v):
                raise ConfigError(f"{where}: must be a finite number (got {short(value)})")
            return v
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError(value)
            return value
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: cannot read {short(value)} as {kind}") from None
    return value
