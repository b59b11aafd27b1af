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

TIMEOUT_S = 30
_CHUNK = 1 << 16


class DownloadError(OSError):
    """A download failed; the message is one line saying why (for the caller's DataError)."""


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
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {root} ({e.strerror or e}); "
                        f"set GANFORGE_CACHE to a writable folder") from None
    return root


def download_file(url: str, dest: Path, progress: bool = True) -> Path:
    """Fetch ``url`` into ``dest``, with a progress bar, and return ``dest``.

    The bytes go to a temporary file beside ``dest`` that is renamed into place only once the
    download is complete, so an interrupted download never leaves a half file that a later run
    would take for the real one. Raises DownloadError (an OSError) with a one-line reason.
    """
    from tqdm import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "ganforge"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            got = 0
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
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
    except DownloadError:
        tmp.unlink(missing_ok=True)
        raise
    except urllib.error.HTTPError as e:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {e.reason}") from None
    except (OSError, ValueError) as e:  # timeouts, resets, disk full, malformed URL
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {e}") from None
    except BaseException:
        # Ctrl-C mid-download: leave no .part file behind, then let the interrupt through.
        tmp.unlink(missing_ok=True)
        raise
    return dest


def one_line(e: BaseException, limit: int = 160) -> str:
    """An exception as a short single line, for messages that must stay on one line."""
    s = " ".join(str(e).split()) or type(e).__name__
    return s if len(s) <= limit else s[: limit - 3] + "..."
