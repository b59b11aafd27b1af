"""Per-page state, and the checks an upload passes before anything reads it.

Each page load opens a session with an unguessable id; the page sends it with every request.
What a page owns (its uploads and their projections) lives in its session, never in globals, so
two pages - two people, or two tabs - cannot see or change each other's pictures by accident,
and a request without a live id gets a one-line "reload the page". Sessions are few and small:
past :data:`MAX_SESSIONS` the least recently used one is closed and its files deleted.

Uploads land in one temporary folder that the server makes (mode 0700) and deletes on exit;
their names there are the server's own (an id), so nothing a request says becomes a path.
"""
from __future__ import annotations

import io
import re
import secrets
import shutil
import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .commands import Source
from .projector import ProjectionJob
from .views import Projected

MAX_SESSIONS = 32
MAX_UPLOADS = 8  # per session
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_STORED_BYTES = 256 * 1024 * 1024  # all sessions' uploads together: a full disk is every user's problem
MAX_UPLOAD_PIXELS = 40_000_000  # width x height, checked before the pixels are decoded
# What the page takes, by the file's first bytes (the browser's Content-Type is only a hint).
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
              (b"BM", "bmp"))
KINDS = "PNG, JPEG, GIF, WebP or BMP"


def image_kind(body: bytes) -> str | None:
    """The upload's image type from its first bytes, or None when it is not one the page takes."""
    for magic, kind in SIGNATURES:
        if body.startswith(magic):
            return kind
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "webp"
    return None


def safe_stem(header: str | None) -> str:
    """A file name to show and to put in the commands, made from what the browser said the name
    was: the last path part, letters, digits, dot, dash and underscore only, at most 40 characters."""
    name = urllib.parse.unquote(header or "")[:300]
    name = re.split(r"[\\/]", name)[-1].rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:40]
    return stem or "upload"


def check_upload(body: bytes, declared: int) -> str:
    """The upload's kind after the size, type and pixel-count checks; ConfigError (one line the page
    shows) otherwise. ``declared``: its Content-Length."""
    from PIL import Image

    if declared > MAX_UPLOAD_BYTES or len(body) > MAX_UPLOAD_BYTES:
        raise ConfigError(f"that file is {max(declared, len(body)) / 2 ** 20:.1f} MB; the page takes pictures of up "
                          f"to {MAX_UPLOAD_BYTES // 2 ** 20} MB")
    if not body:
        raise ConfigError(f"that file is empty; choose a {KINDS} picture")
    kind = image_kind(body)
    if kind is None:
        raise ConfigError(f"that file is not a picture the page reads; choose a {KINDS} file")
    try:
        with Image.open(io.BytesIO(body)) as im:
            w, h = im.size
            if w * h > MAX_UPLOAD_PIXELS:
                raise ConfigError(f"that picture is {w} x {h} pixels; the page takes up to "
                                  f"{MAX_UPLOAD_PIXELS // 1_000_000} megapixels")
            im.verify()
    except ConfigError:
        raise
    except Exception as e:  # Pillow's errors for damaged files are many kinds
        raise ConfigError(f"that {kind.upper()} file is damaged or cut short ({' '.join(str(e).split())[:80]})") \
            from None
    return kind


@dataclass
class Upload:
    """A picture one page uploaded: where the server keeps it, and its projection once done."""

    id: str
    source: Source  # its name as the commands call it, and the projection's steps
    job: ProjectionJob
    size: int = 0  # bytes on disk
    projected: Projected | None = None


@dataclass
class Session:
    sid: str
    folder: Path
    seen: float = field(default_factory=time.monotonic)
    uploads: dict[str, Upload] = field(default_factory=dict)


class Sessions:
    """The live sessions, under one lock. root: the server's private upload folder."""

    def __init__(self, root: Path, max_sessions: int = MAX_SESSIONS):
        self.root, self.max = root, max_sessions
        self._live: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.stored = 0  # bytes of the live sessions' uploads

    def open(self) -> Session:
        sid = secrets.token_urlsafe(18)
        folder = self.root / secrets.token_hex(8)
        folder.mkdir(mode=0o700)
        with self._lock:
            while len(self._live) >= self.max:
                _, old = self._live.popitem(last=False)
                self._close(old)
            s = self._live[sid] = Session(sid, folder)
        return s

    def get(self, sid: str | None) -> Session:
        with self._lock:
            s = self._live.get(sid or "")
            if s is None:
                raise ConfigError("this page's session has ended (the server restarted or closed it); reload the page")
            s.seen = time.monotonic()
            self._live.move_to_end(sid)
            return s

    def add_upload(self, s: Session, body: bytes, declared: int, filename: str | None, steps: int) -> Upload:
        kind = check_upload(body, declared)
        with self._lock:
            if len(s.uploads) >= MAX_UPLOADS:
                raise ConfigError(f"this page holds {MAX_UPLOADS} uploads already; reload the page to start afresh")
            if self.stored + len(body) > MAX_STORED_BYTES:
                raise ConfigError("the server holds as many uploads as it keeps; try again once other pages close")
            self.stored += len(body)
            uid = secrets.token_hex(4)
            stem = safe_stem(filename)
            folder = s.folder / uid
            folder.mkdir(mode=0o700)
        image = folder / f"{stem}.{kind}"
        image.write_bytes(body)
        src = Source(upload=image.name, steps=steps)
        up = Upload(uid, src, ProjectionJob(image, folder / src.projection_dir, steps), len(body))
        with self._lock:
            s.uploads[uid] = up
        return up

    def upload(self, s: Session, uid: str | None) -> Upload:
        up = s.uploads.get(uid or "")
        if up is None:
            raise ConfigError("no such upload on this page; upload the picture again")
        return up

    def _close(self, s: Session) -> None:
        for up in s.uploads.values():
            up.job.cancelled = True
            self.stored -= up.size
        shutil.rmtree(s.folder, ignore_errors=True)

    def close_all(self) -> None:
        with self._lock:
            for s in self._live.values():
                self._close(s)
            self._live.clear()
