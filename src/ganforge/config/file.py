"""Reading a settings file (``--config``, or a run's ``config.json``) into a plain dict."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# Keys of a run's config.json that describe the run rather than set anything: read_config_json
# drops them, so a run's config.json is a valid --config file.
RUN_RECORD_KEYS = ("training_state", "data_fingerprint")


def read_config_json(path: str | Path, flag: str = "--config") -> dict[str, Any]:
    """The settings in a config file (a run's config.json); errors name ``flag`` and the file.

    A run's config.json also records its ``training_state`` (what training changed, such as
    halved learning rates) and its ``data_fingerprint``: those describe the run, they are not
    settings, so they are left out.
    """
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{flag}: {path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{flag}: {path}: is a folder (give a JSON file, such as a run's config.json)") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, and numbers of > 4300 digits
        raise ConfigError(f"{flag}: {path}: not valid JSON ({str(e)[:120]})") from None
    except RecursionError:
        raise ConfigError(f"{flag}: {path}: not a config file (nested too deeply)") from None
    except OSError as e:
        raise ConfigError(f"{flag}: {path}: cannot be read ({e.strerror or e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{flag}: {path}: expected a JSON object like a run's config.json")
    for key in RUN_RECORD_KEYS:
        d.pop(key, None)
    return d
