"""Helpers of the fuzz tests: run the CLI in-process, judge what a user would see, guard against
absurd work, and check that nothing of the user's was overwritten and no temp file was left."""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from hypothesis import HealthCheck, Phase, settings

from ganforge.cli import main

# Deterministic (derandomize: the same examples on every machine and run), no deadline (a busy
# 2-core machine), no shrinking (a failure is reported as found; shrinking would multiply the
# time of a failing test by hundreds of CLI calls), no example database written into the repo.
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def fuzz(n: int) -> settings:
    """The fuzz settings with ``n`` examples."""
    return settings(FUZZ, max_examples=n)


class Attempted(Exception):
    """Raised by a guard: the command set about an absurd amount of work instead of refusing it."""


MAX_IMAGES = 20_000  # no fuzz case legitimately generates more; more is "attempted, not refused"
MAX_GRID_PIXELS = 60_000_000


@dataclass
class Outcome:
    argv: list[str]
    code: int | None
    out: str
    err: str
    exc: BaseException | None = None
    tb: str = ""

    def show(self) -> str:
        what = (f"uncaught {type(self.exc).__name__}: {_first_line(self.exc)}" if self.exc is not None
                else f"exit {self.code}")
        err = " | ".join(ln for ln in self.err.splitlines() if ln.strip())[-300:]
        return f"ganforge {' '.join(map(repr, self.argv))} -> {what}; stderr: {err!r}"


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0][:200] if s else ""


def run_cli(argv: Sequence[object], capsys) -> Outcome:
    """``ganforge ARGV`` in this process; any exception that escapes ``main`` is recorded."""
    capsys.readouterr()
    argv = [str(a) for a in argv]
    exc, tb = None, ""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - escaping main is the finding
        code, exc, tb = None, e, traceback.format_exc()
    out, err = capsys.readouterr()
    return Outcome(argv, code, out, err, exc, tb)


def _usage_line(line: str, in_usage: bool) -> bool:
    return line.startswith("usage:") or (in_usage and line[:1].isspace())


def problems(o: Outcome, cmd: str, expect: str, names: Sequence[str] = ()) -> list[str]:
    """What is wrong with outcome ``o`` of ``ganforge CMD``.

    expect: "ok" (exit 0), "error" (exit 2 with one ``ganforge CMD: error:`` line naming one of
    ``names``) or "either" (0, or such an error). Never an uncaught exception or a traceback.
    argparse's own errors print a usage block before their error line; that block is accepted.
    """
    if o.exc is not None:
        return [f"uncaught {type(o.exc).__name__}: {_first_line(o.exc)}"]
    found = []
    if "Traceback (most recent call last)" in o.out + o.err:
        found.append("a traceback was printed")
    if expect == "ok" and o.code != 0:
        found.append(f"exit {o.code}, expected 0")
    elif expect == "error" and o.code != 2:
        found.append(f"exit {o.code}, expected 2")
    elif expect == "either" and o.code not in (0, 2):
        found.append(f"exit {o.code}, expected 0 or 2")
    if o.code not in (0, None):
        lines, errors, other, in_usage = [ln for ln in o.err.splitlines() if ln.strip()], [], [], False
        for ln in lines:
            if ln.startswith(f"ganforge {cmd}: error:"):
                errors.append(ln)
            elif _usage_line(ln, in_usage):
                in_usage = True
                continue
            else:
                other.append(ln)
            in_usage = False
        if len(errors) != 1:
            found.append(f"{len(errors)} 'ganforge {cmd}: error:' lines on stderr")
        if other:
            found.append(f"stderr has more than the error line: {' | '.join(other)[:200]!r}")
        if errors and names and not any(n in errors[0] for n in names):
            found.append(f"the error names none of {list(names)}")
    return found


def report(bad: list[str], what: str) -> None:
    """Fail listing every bad outcome (not just the first)."""
    assert not bad, f"{len(bad)} bad outcome(s) of {what}:\n  " + "\n  ".join(bad)


# --------------------------------------------------------------------------- guards
def _patch_everywhere(monkeypatch, module_prefix: str, orig, wrapper) -> None:
    """Replace ``orig`` by ``wrapper`` in every loaded ganforge module that holds it by name."""
    for name, mod in list(sys.modules.items()):
        if mod is None or not name.startswith(module_prefix):
            continue
        for attr, val in list(vars(mod).items()):
            if val is orig:
                monkeypatch.setattr(mod, attr, wrapper)


def install_guards(monkeypatch, max_images: int = MAX_IMAGES) -> None:
    """Make absurd work fail fast with :class:`Attempted` instead of filling the machine's memory:
    more than ``max_images`` latents or rendered images, an interpolation path that long, or a
    grid of more than MAX_GRID_PIXELS pixels."""
    import ganforge.cli  # noqa: F401  (every module the commands use, loaded before patching)
    import ganforge.generator as gen
    import ganforge.images as images
    import ganforge.latent as latent
    import ganforge.metrics  # noqa: F401
    import ganforge.tools  # noqa: F401

    orig_latents, orig_render = gen.latents, gen.render
    orig_path, orig_grid = latent.interpolate_path, images.make_grid

    def latents(n, z_dim, seed, *a, **k):
        if int(n) > max_images:
            raise Attempted(f"set about drawing {n} latents")
        return orig_latents(n, z_dim, seed, *a, **k)

    def render(G, z, *a, **k):
        if z.shape[0] > max_images:
            raise Attempted(f"set about rendering {z.shape[0]} images")
        return orig_render(G, z, *a, **k)

    def interpolate_path(lat, steps, *a, **k):
        if int(steps) * max(1, len(lat)) > max_images:
            raise Attempted(f"set about an interpolation path of {steps} steps x {len(lat)} seeds")
        return orig_path(lat, steps, *a, **k)

    def make_grid(imgs, nrow=None, padding=2, *a, **k):
        n, _, h, w = imgs.shape
        per_row = nrow or max(1, int(n ** 0.5 + 0.999))
        rows = -(-n // per_row) if per_row > 0 else 1
        if abs(per_row) * (w + padding) * max(rows, 1) * (h + padding) > MAX_GRID_PIXELS:
            raise Attempted(f"set about a grid of {n} images, {nrow} per row")
        return orig_grid(imgs, nrow, padding, *a, **k)

    for orig, new in ((orig_latents, latents), (orig_render, render), (orig_path, interpolate_path),
                      (orig_grid, make_grid)):
        _patch_everywhere(monkeypatch, "ganforge", orig, new)


# --------------------------------------------------------------------------- files
USER_BYTES = b"the user's own file: ganforge must not replace it\n"
USER_FILES = ("user.png", "user.npy", "user.gif", "user.onnx", "user.safetensors", "user.pt", "user.json")


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def temp_files(*folders: Path) -> list[str]:
    """Temp files ganforge may leave: names with '.tmp' in them, and torch/numpy partial files."""
    out = []
    for folder in folders:
        if folder.exists():
            out += [str(p) for p in folder.rglob("*") if ".tmp" in p.name or p.name.endswith((".part", "~"))]
    return out


@contextmanager
def user_folder(base: Path) -> Iterator[Path]:
    """A fresh working directory holding the user's files (``USER_FILES``); cwd while inside."""
    d = Path(tempfile.mkdtemp(dir=base))
    for name in USER_FILES:
        (d / name).write_bytes(USER_BYTES)
    old = os.getcwd()
    os.chdir(d)
    try:
        yield d
    finally:
        os.chdir(old)
        shutil.rmtree(d, ignore_errors=True)


def file_problems(folder: Path, *, watched: Sequence[Path] = (), before: dict[str, dict[str, str]] | None = None
                  ) -> list[str]:
    """User files changed, and temp files left in ``folder`` and ``watched`` folders."""
    found = []
    for name in USER_FILES:
        p = folder / name
        if not p.is_file() or p.read_bytes() != USER_BYTES:
            found.append(f"the user's {name} was overwritten or removed")
    for w in watched:
        if before is not None and str(w) in before:
            now = snapshot(w)
            changed = [k for k, v in before[str(w)].items() if now.get(k) != v]
            if changed:
                found.append(f"files changed in {w.name}: {changed[:4]}")
    left = temp_files(folder, *watched)
    if left:
        found.append(f"temp files left: {left[:4]}")
    return found
