"""Errors a user can act on. The CLI prints their message on one line and exits with code 2."""


class GanforgeError(Exception):
    """Base class: bad input or a request ganforge cannot meet. The message names what to fix."""


class DataError(GanforgeError):
    """A dataset is missing, empty, unreadable or of the wrong shape."""


class ConfigError(GanforgeError):
    """A configuration value is invalid; the message names the flag."""


class CheckpointError(GanforgeError):
    """A file is not a ganforge checkpoint, or cannot be read."""


class OlderRunError(CheckpointError):
    """A run written by an earlier ganforge whose network this version no longer builds."""
