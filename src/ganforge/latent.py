"""Latent space: seed latents, interpolation, truncation, class names and vector arithmetic.

Everything here works on latents ``z`` (float32, shape ``(N, z_dim)`` or ``(z_dim,)``) and on a
generator only through :func:`run_G`, so it serves unconditional generators (``G(z)``) and
conditional ones (``G(z, y)``, with ``G.num_classes > 0``) alike.

The latent of "seed s" is defined once, by :func:`seed_latent`; ``ganforge generate -n 1
--seed s``, ``ganforge interpolate --seeds s,...`` and ``[s]`` in ``ganforge arithmetic`` all
draw the same vector. Truncation toward the run's mean latent belongs to sampling and is
defined in :mod:`ganforge.generator`; it is re-exported here with the G calls the tools use.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import torch

from .errors import GanforgeError
from .generator import (  # noqa: F401  (re-exported: the latent tools' G calls and truncation)
    check_seed,
    check_truncation,
    compute_latent_mean,
    latent_mean_for,
    latent_mean_path,
    load_latent_mean,
    num_classes,
    render,
    run_G,
    truncate,
)


# --------------------------------------------------------------------------- seeds and G


def seed_latent(seed: int, z_dim: int) -> torch.Tensor:
    """The latent of seed ``seed``: ``(z_dim,)`` float32 on the CPU, drawn from N(0, I).

    Equal to row 0 of ``torch.randn(n, z_dim)`` under ``torch.Generator().manual_seed(seed)``,
    so ``ganforge.generate(G, 1, seed=s)`` shows the same image.
    """
    return torch.randn(1, z_dim, generator=torch.Generator().manual_seed(check_seed(int(seed), "seed")))[0]


def seed_latents(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    """:func:`seed_latent` for each seed, stacked: ``(len(seeds), z_dim)``."""
    if len(seeds) == 0:
        return torch.empty(0, z_dim)
    return torch.stack([seed_latent(s, z_dim) for s in seeds])


# --------------------------------------------------------------------------- interpolation


def _as_t(t: float | Sequence[float] | torch.Tensor) -> tuple[torch.Tensor, bool]:
    scalar = not torch.is_tensor(t) and not isinstance(t, (list, tuple))
    tt = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    return tt, scalar


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Straight-line interpolation ``(1 - t) a + t b`` between latents ``a`` and ``b`` (z_dim,).

    t: a number (returns (z_dim,)) or a sequence/1-d tensor of T numbers (returns (T, z_dim)).
    t = 0 and t = 1 return ``a`` and ``b`` bit-exactly.
    """
    tt, scalar = _as_t(t)
    a64, b64 = a.double(), b.double()
    out = ((1 - tt)[:, None] * a64 + tt[:, None] * b64).to(a.dtype)
    out = _pin_endpoints(out, a, b, tt)
    return out[0] if scalar else out


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latents ``a`` and ``b`` (z_dim,).

    The direction turns along the great circle from ``a/|a|`` to ``b/|b|`` while the length
    moves linearly from ``|a|`` to ``|b|``, so every point's norm lies between the endpoints'
    norms (a Gaussian latent stays on the shell where G was trained, unlike ``lerp``, whose
    midpoint is ~30% shorter in high dimension). t = 0 and t = 1 return ``a`` and ``b``
    bit-exactly. Nearly parallel endpoints fall back to a normalised straight line; exactly
    opposite ones have no unique great circle and also take that line.

    t: a number (returns (z_dim,)) or a sequence/1-d tensor of T numbers (returns (T, z_dim)).
    """
    tt, scalar = _as_t(t)
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(), b64.norm()
    if na == 0 or nb == 0:  # no direction to turn: the length alone moves
        return lerp(a, b, t)
    ua, ub = a64 / na, b64 / nb
    cos = (ua @ ub).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin < 1e-6:
        direction = (1 - tt)[:, None] * ua + tt[:, None] * ub
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
    else:
        direction = (torch.sin((1 - tt) * omega)[:, None] * ua + torch.sin(tt * omega)[:, None] * ub) / sin
    length = (1 - tt) * na + tt * nb
    out = (direction * length[:, None]).to(a.dtype)
    out = _pin_endpoints(out, a, b, tt)
    return out[0] if scalar else out


def _pin_endpoints(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:
    # Rounding would otherwise move the endpoints by an ulp, and a seed's image by a pixel level.
    out[tt == 0] = a.to(out.dtype)
    out[tt == 1] = b.to(out.dtype)
    return out


INTERPOLATIONS = {"slerp": slerp, "lerp": lerp}


def interpolate_path(latents: torch.Tensor, steps: int, mode: str = "slerp", loop: bool = True) -> torch.Tensor:
    """Latents walking through ``latents`` (K, z_dim) in order: ``(segments, steps, z_dim)``.

    Segment i goes from latent i to latent i+1 at ``steps`` evenly spaced t in [0, 1], both
    ends included; with ``loop`` a last segment returns from the last latent to the first.
    For an animation, drop each segment's last frame (it is the next segment's first).
    """
    if latents.dim() != 2 or latents.shape[0] < 2:
        raise GanforgeError(f"interpolation needs at least 2 latents, got {latents.shape[0] if latents.dim() else 0}")
    if steps < 2:
        raise GanforgeError(f"--steps: need at least 2 (the two ends), got {steps}")
    if mode not in INTERPOLATIONS:
        raise GanforgeError(f"--mode: must be {' or '.join(INTERPOLATIONS)}, not {mode!r}")
    f = INTERPOLATIONS[mode]
    k = latents.shape[0]
    pairs = [(i, i + 1) for i in range(k - 1)] + ([(k - 1, 0)] if loop else [])
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    return torch.stack([f(latents[i], latents[j], t) for i, j in pairs])


# --------------------------------------------------------------------------- classes


def _norm_name(s: str) -> str:
    return re.sub(r"[\W_]+", "", s.casefold())


def resolve_class(name_or_id: str | int, class_names: Sequence[str] | None, num_classes: int | None = None) -> int:
    """A class given by name or id -> its id.

    Names match ignoring case, spaces and punctuation ("ankle boot", "Ankle-Boot" and
    "ankleboot" all name "Ankle boot"); a name with alternatives such as "T-shirt/top" is also
    matched by each alternative ("tshirt", "top"). Integers (or digit strings) are ids in
    ``range(num_classes or len(class_names))``. Unknown -> GanforgeError naming the known classes.
    """
    k = num_classes if num_classes else (len(class_names) if class_names else 0)
    known = (", ".join(f"{i}={n}" for i, n in enumerate(class_names)) if class_names
             else f"ids 0..{k - 1}" if k else "none")
    text = str(name_or_id).strip()
    if isinstance(name_or_id, int) or re.fullmatch(r"\d+", text):
        i = int(text)
        if 0 <= i < k:
            return i
        raise GanforgeError(f"unknown class id {i} (known classes: {known})")
    if class_names:
        key = _norm_name(text)
        exact = [i for i, n in enumerate(class_names) if _norm_name(n) == key]
        if exact:
            return exact[0]
        parts = [i for i, n in enumerate(class_names)
                 if key and key in {_norm_name(p) for p in re.split(r"[/|]", n)}]
        if len(parts) == 1:
            return parts[0]
    if not k:
        raise GanforgeError(f"unknown class {text!r}: this run has no class names (its data had no labels)")
    raise GanforgeError(f"unknown class {text!r} (known classes: {known})")


# --------------------------------------------------------------------------- arithmetic expressions


@dataclass(frozen=True)
class Concept:
    """One term's concept: a class (by name or id, as written) or an explicit list of seeds."""

    class_name: str | None = None
    seeds: tuple[int, ...] | None = None
    text: str = ""  # as written in the expression, for labels

    @property
    def is_class(self) -> bool:
        return self.class_name is not None


@dataclass(frozen=True)
class Term:
    """A concept with its sign in the expression (+1 or -1) and where it starts (0-based)."""

    sign: int
    concept: Concept
    pos: int


_MINUS = "-\u2212"  # ASCII hyphen-minus and the Unicode minus sign


def _syntax_error(text: str, pos: int, msg: str) -> GanforgeError:
    return GanforgeError(f"bad expression at position {pos + 1}: {msg} (in {text!r})")


def parse_expression(text: str, class_names: Sequence[str] | None = None) -> list[Term]:
    """Parse ``"A - B + C"`` into signed terms, applied left to right.

    A term is a class name or id (``Sneaker``, ``ankle boot``, ``3``) or a list of seeds in
    brackets (``[3, 9, 12]``). ``+`` and ``-`` join terms; one leading sign is allowed
    (``-A + B``). Whitespace around terms and operators is ignored. A hyphen written between
    two letters with no spaces belongs to the name (``ankle-boot``, ``T-shirt/top``); if the
    run's ``class_names`` are given and such a name is not a class but each hyphen-separated
    part is, it is read as subtraction (``coat-dress`` = ``coat - dress``).
    Errors raise GanforgeError with the 1-based position of the problem.
    """
    terms: list[Term] = []
    i, n = 0, len(text)

    def skip_ws() -> None:
        nonlocal i
        while i < n and text[i].isspace():
            i += 1

    skip_ws()
    if i == n:
        raise _syntax_error(text, i, "empty expression; write e.g. 'A - B + C' or '[1,2] - [3]'")
    sign = 1
    if text[i] in "+" + _MINUS:
        sign = -1 if text[i] in _MINUS else 1
        i += 1
        skip_ws()
    while True:
        if i == n:
            raise _syntax_error(text, i, "expected a class name or [seeds] at the end")
        start = i
        c = text[i]
        if c == "[":
            close = text.find("]", i)
            if close < 0:
                raise _syntax_error(text, i, "'[' is never closed with ']'")
            body = text[i + 1:close]
            seeds: list[int] = []
            offset = i + 1
            for item in body.split(","):
                s = item.strip()
                where = offset + (len(item) - len(item.lstrip()))
                if not re.fullmatch(r"\d+", s):
                    what = "an empty entry" if not s else repr(s)
                    raise _syntax_error(text, where, f"seeds must be non-negative integers, got {what}")
                seeds.append(int(s))
                offset += len(item) + 1
            concept = Concept(seeds=tuple(seeds), text="[" + ",".join(map(str, seeds)) + "]")
            i = close + 1
        elif c.isalnum() or c == "_":
            j = i
            while j < n:
                ch = text[j]
                if ch.isalnum() or ch in "_/.'" or ch == " ":
                    j += 1
                elif ch in _MINUS and 0 < j < n - 1 and text[j - 1].isalnum() and text[j + 1].isalnum():
                    j += 1  # a hyphen inside a word: part of the name
                else:
                    break
            name = text[i:j].strip()
            concept = Concept(class_name=name, text=name)
            i = j
        elif c in "+" + _MINUS:
            raise _syntax_error(text, i, f"two operators in a row ({c!r}); only the first term may have a sign")
        elif c == "]":
            raise _syntax_error(text, i, "']' without '['")
        else:
            raise _syntax_error(text, i, f"unexpected {c!r}; expected a class name or [seeds]")
        terms.extend(_split_hyphenated(Term(sign, concept, start), class_names))
        skip_ws()
        if i == n:
            return terms
        if text[i] not in "+" + _MINUS:
            raise _syntax_error(text, i, f"expected '+' or '-' before {text[i]!r}")
        sign = -1 if text[i] in _MINUS else 1
        i += 1
        skip_ws()


def _split_hyphenated(term: Term, class_names: Sequence[str] | None) -> list[Term]:
    name = term.concept.class_name
    if not class_names or name is None or not any(m in name for m in _MINUS):
        return [term]
    try:
        resolve_class(name, class_names)
        return [term]
    except GanforgeError:
        pass
    parts = re.split(f"[{_MINUS}]", name)
    try:
        for p in parts:
            resolve_class(p, class_names)
    except GanforgeError:
        return [term]  # not a difference of classes either; the unknown name is reported later
    out, pos = [], term.pos
    for k, p in enumerate(parts):
        out.append(Term(term.sign if k == 0 else -1, Concept(class_name=p, text=p), pos))
        pos += len(p) + 1
    return out


def combine(terms: Sequence[Term], means: Sequence[torch.Tensor]) -> torch.Tensor:
    """The result latent: the signed sum of the terms' mean latents, left to right."""
    if len(terms) != len(means) or not terms:
        raise ValueError("combine needs one mean latent per term")
    out = torch.zeros_like(means[0])
    for t, m in zip(terms, means):
        out = out + m if t.sign > 0 else out - m
    return out


__all__ = [
    "seed_latent", "seed_latents", "num_classes", "run_G", "render", "lerp", "slerp", "INTERPOLATIONS",
    "interpolate_path", "compute_latent_mean", "latent_mean_path", "load_latent_mean", "latent_mean_for",
    "truncate", "check_truncation", "resolve_class", "Concept", "Term", "parse_expression", "combine",
]
