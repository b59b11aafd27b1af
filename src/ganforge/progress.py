"""Progress on long work: a redrawn bar on a terminal, one plain line every few seconds elsewhere.

When output goes to a file or a pipe (CI, nohup, a cluster's job log), a redrawn bar becomes
thousands of carriage-return fragments. :func:`progress_bar` returns tqdm's bar on a terminal and
a :class:`PlainProgress` otherwise, with the same methods the code uses (``update``,
``set_postfix``, ``write``, ``close``, a context manager). ``GANFORGE_PROGRESS=bar`` or
``plain`` forces either.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

PLAIN_EVERY_S = 10.0  # seconds between plain progress lines


def _wants_bar(stream: TextIO) -> bool:
    forced = os.environ.get("GANFORGE_PROGRESS", "").strip().lower()
    if forced in ("bar", "plain"):
        return forced == "bar"
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def progress_bar(*, total: float | None = None, desc: str | None = None, unit: str = "it", disable: bool = False,
                 file: TextIO | None = None, initial: float = 0, every_s: float | None = None, **tqdm_kw: Any):
    """A progress bar on a terminal, else plain lines every ``every_s`` seconds (default
    :data:`PLAIN_EVERY_S`; see the module)."""
    stream = file if file is not None else sys.stderr
    every_s = PLAIN_EVERY_S if every_s is None else every_s
    if disable or _wants_bar(stream):
        return tqdm(total=total, desc=desc, unit=unit, disable=disable, file=stream, initial=initial, **tqdm_kw)
    return PlainProgress(total=total, desc=desc, unit=unit, file=stream, initial=initial, every_s=every_s,
                         unit_scale=bool(tqdm_kw.get("unit_scale")))


def _duration(s: float) -> str:
    s = int(round(s))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def _amount(x: float, scale: bool) -> str:
    if scale:
        for prefix in ("", "k", "M", "G", "T"):
            if abs(x) < 1000 or prefix == "T":
                return f"{x:.1f}{prefix}" if prefix else f"{x:.0f}"
            x /= 1000.0
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


class PlainProgress:
    """Progress as whole lines: one at most every ``every_s`` seconds, and a last one at ``close``
    when the work took long enough to print any (short work stays silent)."""

    def __init__(self, *, total: float | None, desc: str | None, unit: str, file: TextIO, initial: float = 0,
                 every_s: float = PLAIN_EVERY_S, unit_scale: bool = False):
        self.total, self.desc, self.unit, self.file = total, desc, unit, file
        self.n = self.initial = initial
        self.every_s, self.unit_scale = every_s, unit_scale
        self.start = self.last_print = time.monotonic()
        self.printed = False
        self.closed = False
        self.postfix = ""

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last_print >= self.every_s:
            self._print(now)

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kw: Any) -> None:
        items = {**(ordered_dict or {}), **kw}
        self.postfix = ", ".join(f"{k} {v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def write(self, msg: str, file: TextIO | None = None) -> None:
        print(msg, file=file or self.file, flush=True)

    def line(self, now: float | None = None) -> str:
        """The progress line as it would print now."""
        now = time.monotonic() if now is None else now
        elapsed = now - self.start
        done = self.n - self.initial
        parts = [f"{_amount(self.n, self.unit_scale)}/{_amount(self.total, self.unit_scale)} {self.unit}"
                 if self.total else f"{_amount(self.n, self.unit_scale)} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.n / self.total:.0f}%)"
        parts.append(f"{_duration(elapsed)} elapsed")
        if done > 0 and elapsed > 0:
            rate = done / elapsed
            if self.unit != "s":
                parts.append(f"{_amount(rate, self.unit_scale)} {self.unit}/s" if rate >= 1
                             else f"{1 / rate:.2f} s/{self.unit}")
            if self.total and self.n < self.total:
                parts.append(f"{_duration((self.total - self.n) / rate)} left")
        text = ", ".join(parts) + (f"; {self.postfix}" if self.postfix else "")
        return f"{self.desc}: {text}" if self.desc else text

    def _print(self, now: float) -> None:
        print(self.line(now), file=self.file, flush=True)
        self.last_print, self.printed = now, True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.printed and time.monotonic() - self.last_print > 0.5:
            self._print(time.monotonic())
