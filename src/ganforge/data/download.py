"""The download cache and a small, careful HTTP downloader.

Nothing here runs on import: the cache folder is only created when something is about to be
written into it, so importing ganforge never touches the home directory.
"""
from __future__ import annotations

import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError
from ..images import make_folder

TIMEOUT_S = 30
_CHUNK = 1 << 16


class DownloadError(OSError):
    """A download failed; the message is one line saying why (for the caller's DataError)."""


SYSTEM_DATA_ENV = "GANFORGE_SYSTEM_DATA"


def system_data_enabled() -> bool:
    """Whether ganforge looks in the machine's own data folders (Debian's Fashion-MNIST
    package, the distributions' font folders). ``GANFORGE_SYSTEM_DATA=0`` (or off/no/false)
    switches them off, so only ``--data-dir``, the cache and a download remain: how CI checks
    that nothing depends on what happens to be installed on a machine."""
    value = os.environ.get(SYSTEM_DATA_ENV, "").strip().lower()
    return value not in ("0", "off", "no", "false")


def cache_root() -> Path:
    """Where the cache is, without creating it (for searching)."""
    env = os.environ.get("GANFORGE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/ganforge").expanduser()


def cache_dir() -> Path:
    """The download cache: ``$GANFORGE_CACHE`` if set, else ``~/.cache/ganforge``.

    The folder is created on the first call (never on import). Raises DataError if it cannot be
    created, since every caller is about to write into it.
    """
    return make_folder(cache_root(), what="the cache folder", hint="set GANFORGE_CACHE to a writable folder",
                       error=DataError)


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_if_empty(folders: list[Path]) -> None:
    for d in folders:  # deepest first; stop at the first that holds something (or is gone)
        try:
            d.rmdir()
        except OSError:
            break


def download_file(url: str, dest: Path, progress: bool = True) -> Path:
    """Fetch ``url`` into ``dest``, with a progress bar, and return ``dest``.

    The bytes go to a temporary file beside ``dest`` that is renamed into place only once the
    download is complete, so an interrupted download never leaves a half file that a later run
    would take for the real one; folders this call created for ``dest`` are removed again if it
    fails (an empty cache folder is left behind by no failure). Raises DownloadError (an
    OSError) with a one-line reason.
    """
    from ..progress import progress_bar

    dest = Path(dest)
    created = missing_folders(dest.parent)
    tmp: Path | None = None
    try:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
        except OSError as e:
            raise DownloadError(f"cannot write to {dest.parent} ({e.strerror or e}); set GANFORGE_CACHE to a "
                                f"writable folder") from None
        tmp = Path(tmp_name)
        req = urllib.request.Request(url, headers={"User-Agent": "ganforge"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            got = 0
            with progress_bar(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      disable=not progress, file=sys.stderr, leave=False) as bar:
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if total is not None and got != total:
            raise DownloadError(f"{url}: connection closed after {got} of {total} bytes")
        os.replace(tmp, dest)
    except BaseException as e:
        # Whatever went wrong (Ctrl-C included): no .part file and no folder of ours left behind.
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        remove_if_empty(created)
        if isinstance(e, DownloadError):
            raise
        if isinstance(e, urllib.error.HTTPError):
            raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
        if isinstance(e, urllib.error.URLError):
            raise DownloadError(f"{url}: {e.reason}") from None
        if isinstance(e, (OSError, ValueError)):  # timeouts, resets, disk full, malformed URL
            raise DownloadError(f"{url}: {e}") from None
        raise
    return dest


def one_line(e: BaseException, limit: int = 160) -> str:
    """An exception as a short single line, for messages that must stay on one line."""
    s = " ".join(str(e).split()) or type(e).__name__
    return s if len(s) <= limit else s[: limit - 3] + "..."
