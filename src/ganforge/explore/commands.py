"""The ``ganforge`` command that reproduces each view of the page.

Every view shows one, so a picture found by clicking can be made again, in a script, on another
machine. The commands are built here from the same numbers the page rendered with (psi and
amounts rounded as the page rounds them, so the text and the image agree), and only name flags
that exist (a test runs them and compares their files with the page's images).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Source:
    """What a view starts from: a seed, or a picture the page projected (``upload``: its file name,
    ``steps``: the projection's steps)."""

    seed: int | None = None
    upload: str | None = None
    steps: int = 0

    @property
    def projection_dir(self) -> str:
        stem = (self.upload or "image").rsplit(".", 1)[0]
        return f"projection-{stem}"

    @property
    def projected(self) -> str:
        return f"{self.projection_dir}/projected.pt"


def _q(s: object) -> str:
    return shlex.quote(str(s))


def _num(x: float) -> str:
    return f"{x:g}"


def _psi(psi: float | None) -> str:
    return "" if psi is None else f" --truncation {_num(psi)}"


def _cls(cls: int | None) -> str:
    return "" if cls is None else f" --class {cls}"


def _noise(const: bool) -> str:
    """The page draws a G with layer noise (StyleGAN2) with its stored maps, so a slider moves only
    what it names; the tools' default is random noise, so their commands say so."""
    return " --noise-mode const" if const else ""


def project_command(run: str, src: Source) -> str:
    """``ganforge project`` as the page ran it on an uploaded picture."""
    return f"ganforge project {_q(run)} {_q(src.upload)} --steps {src.steps} --out {_q(src.projection_dir)}"


def _with_projection(run: str, src: Source, command: str) -> str:
    return f"{project_command(run, src)} && {command}" if src.upload else command


def sample_file(src: Source, edited: bool) -> str:
    base = f"seed-{src.seed}" if src.upload is None else src.projection_dir
    return f"{base}-edit.png" if edited else f"{base}.png"


def sample_command(run: str, src: Source, psi: float | None, cls: int | None, layers: str,
                   edits: Mapping[int, float], noise: bool = False) -> str:
    """One image: ``generate`` for a seed as it is, ``directions --edit`` once a slider moved or
    for a projected picture."""
    moved = {k: a for k, a in sorted(edits.items()) if a}
    out = sample_file(src, bool(moved))
    if src.upload is None and not moved:
        return f"ganforge generate {_q(run)} -n 1 --seed {src.seed}{_psi(psi)}{_cls(cls)}{_noise(noise)} --out {_q(out)}"
    what = f"--projected {_q(src.projected)}" if src.upload else f"--seed {src.seed}{_psi(psi)}"
    lay = f" --layers {_q(layers)}" if layers != "all" else ""
    edit = "".join(f" --edit {k}={_num(a)}" for k, a in moved.items()) or " --edit 0=0"
    return _with_projection(run, src, f"ganforge directions {_q(run)} {what}{_cls(cls)}{lay}{edit}{_noise(noise)} "
                                      f"--out {_q(out)}")


def grid_command(run: str, start: int, count: int, psi: float | None, cls: int | None, noise: bool = False) -> str:
    """The grid: one ``generate -n 1`` per seed (seed s of a grid is the image of seed s alone)."""
    return (f"for s in $(seq {start} {start + count - 1}); do ganforge generate {_q(run)} -n 1 --seed $s"
            f"{_psi(psi)}{_cls(cls)}{_noise(noise)} --out seed-$s.png; done")


def style_mix_command(run: str, src: Source, seed2: int, layers: str, psi: float | None, out: str,
                      noise: bool = False, cls: int | None = None) -> str:
    rows = src.projected if src.upload else str(src.seed)
    return _with_projection(run, src, f"ganforge style-mix {_q(run)} --rows {_q(rows)} --cols {seed2} --layers "
                                      f"{_q(layers)}{_psi(psi)}{_cls(cls)}{_noise(noise)} --out {_q(out)}")


def interpolate_command(run: str, a: int, b: int, steps: int, psi: float | None, cls: int | None,
                        prefix: str, noise: bool = False) -> str:
    return (f"ganforge interpolate {_q(run)} --seeds {a},{b} --steps {steps} --no-loop{_psi(psi)}{_cls(cls)}"
            f"{_noise(noise)} --out {_q(prefix)}")


def directions_command(run: str, src: Source, psi: float | None, cls: int | None, layers: str, count: int,
                       out: str, noise: bool = False) -> str:
    what = f"--projected {_q(src.projected)}" if src.upload else f"--seed {src.seed}{_psi(psi)}"
    lay = f" --layers {_q(layers)}" if layers != "all" else ""
    return _with_projection(run, src, f"ganforge directions {_q(run)} {what}{_cls(cls)}{lay} -k {count}"
                                      f"{_noise(noise)} --out {_q(out)}")
