"""Latent vector arithmetic: "A - B + C" over class or seed concepts, and its labelled figure.

The expression's parsing and the latent maths live in :mod:`ganforge.latent`; here each term
becomes exemplar latents (seeds, or samples the classifier picks) and their mean, and the
result is drawn and, when a classifier is given, read out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import torch
from PIL import Image
from torch import nn

from ..errors import GanforgeError
from ..generator import SEED_RANGE, has_w_space
from ..images import MAX_GRID_IMAGES, save_image
from ..latent import Term, check_seed, combine, num_classes, parse_expression, resolve_class, seed_latents
from .classifier import Classify
from .directions import apply_edits, check_edits, find_directions
from .figures import Cell, Row, draw_figure
from .spaces import LatentSpace, latent_space

MAX_POOL = 100_000  # --pool: samples held in memory at once to pick exemplars from
CONDITIONAL_SEED_BLOCK = 1000  # term i of a conditional run draws its exemplars from seeds 1000*(i+1)+j


@dataclass
class ConceptRow:
    """One term of an arithmetic expression, resolved to exemplar latents."""

    letter: str  # A, B, C, ...
    term: Term
    description: str  # "class Sneaker", "seeds 3, 9, 12"
    class_id: int | None  # the concept's class, when it is one
    seeds: list[int]  # the exemplars' seeds
    latents: torch.Tensor  # (E, z_dim), or (E, w_dim) in W
    images: torch.Tensor  # uint8 (E, C, H, W)
    mean: torch.Tensor  # (z_dim,) or (w_dim,)
    mean_image: torch.Tensor  # uint8 (C, H, W)
    confidences: list[float] | None = None  # the evaluator's p(class) per exemplar
    render_class: int | None = None  # y the images were drawn with (conditional G)
    note: str = ""


@dataclass
class ArithmeticResult:
    expression: str
    rows: list[ConceptRow]
    result: torch.Tensor  # the result latent (z_dim,), or (w_dim,) in W
    result_latents: torch.Tensor  # (R, z_dim or w_dim): the result, then the result plus noise
    result_images: torch.Tensor  # uint8 (R, C, H, W)
    noise: float
    result_class: int | None  # y of the result images (conditional G)
    class_names: list[str] | None
    readout: dict[str, int] | None = None  # evaluator's class histogram of the result images
    readout_probs: torch.Tensor | None = None  # (R, K)
    readout_names: list[str] | None = None  # the names of readout_probs' columns
    notes: list[str] = field(default_factory=list)
    space: str = "z"  # where the means were taken: "z" or "w"
    along: dict[int, float] = field(default_factory=dict)  # semantic direction -> standard deviations moved

    def to_dict(self) -> dict:
        names = self.class_names
        return {
            "expression": self.expression,
            "terms": [{"letter": r.letter, "sign": "+" if r.term.sign > 0 else "-", "concept": r.term.concept.text,
                       "description": r.description, "class_id": r.class_id, "seeds": r.seeds,
                       "confidences": r.confidences} for r in self.rows],
            "result_class": (None if self.result_class is None else
                             names[self.result_class] if names and self.result_class < len(names)
                             else self.result_class),
            "results": int(self.result_latents.shape[0]), "noise": self.noise,
            "readout": self.readout, "notes": self.notes, "space": self.space,
            "along": {str(k): a for k, a in self.along.items()},
        }


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"T{i + 1}"


@torch.no_grad()
def arithmetic(G: nn.Module, expression: str, *, class_names: Sequence[str] | None = None,
               classify: Classify | None = None, exemplars: int = 3, pool: int = 2000, results: int = 8,
               noise: float = 0.2, seed: int = 0, result_class: str | int | None = None,
               batch_size: int = 256, evaluator_hint: str = "",
               classify_names: Sequence[str] | None = None, space: str | None = None,
               noise_mode: str = "random", along: Mapping[int, float] | None = None,
               along_layers: str = "all") -> ArithmeticResult:
    """Latent vector arithmetic (Radford et al.; Géron's "man with glasses - man + woman").

    Each term of ``expression`` (see :func:`ganforge.latent.parse_expression`) becomes the
    mean latent of ``exemplars`` exemplars:

    * ``[3, 9, 12]``: the latents of those seeds (all of them; ``exemplars`` does not apply);
    * a class of a conditional G: seeds ``seed + 1000*(i+1) + j`` for term i, drawn with y fixed
      to that class;
    * a class of an unconditional G: from ``pool`` samples (seeds ``seed`` .. ``seed+pool-1``),
      the ``exemplars`` that ``classify`` gives the highest probability of that class.

    The result latent is the signed sum of the means; ``results`` images are drawn from it: the
    result itself, then the result plus ``noise`` x N(0, I) (seeded by ``seed``). A conditional G
    draws them with ``result_class``, default the first class term's class.

    class_names: the names of ``classify``'s columns (unconditional) or of G's classes (conditional).
    classify: images uint8 (N, C, H, W) -> probabilities (N, K); also reads out the result images'
        classes. evaluator_hint: why there is no ``classify``, for the error message.
    classify_names: the names of ``classify``'s columns when they differ from ``class_names`` (a
        conditional run's own classes); default ``class_names``.
    space: "z", or "w" for a style-based G (its default): the exemplars' latents are mapped to w
        and the means, the sum and the results are taken in W; there the noise of the results is
        ``noise`` x (w of a random latent - ``G.w_avg``), a fraction of a typical w's offset.
    noise_mode: a StyleGAN2's layer noise - "random" (one draw from ``seed`` for every image of
        the figure), "const" or "none".
    along: {k: a}: the results then move ``a`` standard deviations along semantic direction k
        (:func:`~ganforge.tools.directions.find_directions` on ``along_layers``), as
        ``ganforge directions --edit`` moves a seed.
    """
    _check_amounts(exemplars, results, noise, seed, pool)
    dirs = _along_directions(G, along, along_layers, space, batch_size)
    k = num_classes(G)
    sp = latent_space(G, space, batch_size, noise_mode=noise_mode, noise_seed=seed)
    names = list(class_names) if class_names else None
    terms = parse_expression(expression, names)
    if not k and classify is None and any(t.concept.is_class for t in terms):
        raise GanforgeError("class concepts in an unconditional run need the evaluator classifier"
                            + (f": {evaluator_hint}" if evaluator_hint else "")
                            + "; or give seed lists like [3,9,12] instead")
    cells = sum(exemplars if t.concept.seeds is None else len(t.concept.seeds) for t in terms) + len(terms) + results
    if cells > MAX_GRID_IMAGES:
        raise GanforgeError(f"--exemplars/--results: the figure would hold {cells:,} images (at most "
                            f"{MAX_GRID_IMAGES:,}; lower --exemplars or --results, or list fewer seeds)")
    if pool > MAX_POOL:
        raise GanforgeError(f"--pool {pool}: at most {MAX_POOL:,} samples (a few thousand find good exemplars)")
    class_ids = [resolve_class(t.concept.class_name, names, k or None) if t.concept.is_class else None for t in terms]
    notes: list[str] = []
    draw = _Draw(G, sp, seed, exemplars, names, k, _result_class(k, result_class, class_ids, names, notes),
                 batch_size, pool)
    if not k and any(c is not None for c in class_ids):
        draw.classify_pool(classify)
    rows = [draw.concept(i, t, cid, notes) for i, (t, cid) in enumerate(zip(terms, class_ids))]

    result = combine(terms, [r.mean for r in rows])
    g = torch.Generator().manual_seed(seed)
    extra = torch.randn(results - 1, G.z_dim, generator=g)
    if sp.name == "w":  # W is not N(0, I): a step of a typical w's size away from the centre
        extra = sp.encode(extra, draw.y_result) - G.w_avg.detach().float().cpu()
    result_latents = torch.cat([result[None], result[None] + extra * noise])
    moved = result_latents
    if dirs is not None:
        points = result_latents[:, None].expand(-1, int(G.num_ws), -1) if dirs.space == "w" else result_latents
        moved = apply_edits(dirs, points, along)
    result_images = sp.render(moved, draw.y_result)
    readout = readout_probs = readout_names = None
    if classify is not None:
        readout_probs = torch.as_tensor(classify(result_images)).float().cpu()
        counts = torch.bincount(readout_probs.argmax(1), minlength=readout_probs.shape[1])
        readout_names = list(classify_names) if classify_names else names
        readout = {_class_label(c, readout_names, bare=True): int(n) for c, n in enumerate(counts.tolist()) if n}
    return ArithmeticResult(expression, rows, result, result_latents, result_images, noise, draw.y_result, names,
                            readout, readout_probs, readout_names, notes, sp.name, dict(along or {}))


def _along_directions(G: nn.Module, along: Mapping[int, float] | None, layers: str, space: str | None,
                      batch_size: int):
    """The directions ``--along`` moves the results on (None without ``along``), in the space the
    arithmetic runs in."""
    if not along:
        return None
    dirs = find_directions(G, layers, batch_size)
    if (space or ("w" if has_w_space(G) else "z")) != dirs.space:
        raise GanforgeError(f"--along: this generator's semantic directions live in {dirs.space.upper()}; run the "
                            f"arithmetic there (drop --space)")
    check_edits(dirs, along, "--along")
    return dirs


def _check_amounts(exemplars: int, results: int, noise: float, seed: int, pool: int) -> None:
    if exemplars < 1:
        raise GanforgeError(f"--exemplars: must be at least 1 (got {exemplars})")
    if results < 1:
        raise GanforgeError(f"--results: must be at least 1 (got {results})")
    if noise < 0 or not math.isfinite(noise):
        raise GanforgeError(f"--noise: must be >= 0 (got {noise})")
    check_seed(seed)
    if seed + pool > SEED_RANGE[1]:  # the pool's seeds run from seed to seed + pool - 1
        raise GanforgeError(f"--seed {seed} --pool {pool}: the pool's seeds would run past {SEED_RANGE[1] - 1} "
                            f"(lower --seed or --pool)")


def _result_class(k: int, result_class: str | int | None, class_ids: list[int | None],
                  names: list[str] | None, notes: list[str]) -> int | None:
    """The class the results are drawn with: a conditional run's --class, else its first class
    term's class, else class 0 (said in ``notes``); None for an unconditional run."""
    if not k:
        if result_class is not None:
            raise GanforgeError("--class: this run's generator is unconditional; --class only applies to "
                                "conditional runs (name classes in the expression instead)")
        return None
    if result_class is not None:
        return resolve_class(result_class, names, k)
    y = next((c for c in class_ids if c is not None), None)
    if y is None:
        notes.append(f"no class in the expression and no --class: results use class {_class_label(0, names)}")
        return 0
    return y


@dataclass
class _Draw:
    """How the terms' exemplars are drawn: seed lists as they are; a conditional run's classes
    from seed blocks, drawn with the class; an unconditional run's classes picked by the
    classifier from a pool of samples (:meth:`classify_pool`)."""

    G: nn.Module
    sp: LatentSpace
    seed: int
    exemplars: int
    names: list[str] | None
    k: int
    y_result: int | None
    batch_size: int
    pool: int
    pool_probs: torch.Tensor | None = None  # (pool, K)
    pool_images: torch.Tensor | None = None  # uint8 (pool, C, H, W)

    def classify_pool(self, classify: Classify) -> None:
        if self.pool < self.exemplars:
            raise GanforgeError(f"--pool: must be at least --exemplars ({self.exemplars}), got {self.pool}")
        pool_seeds = range(self.seed, self.seed + self.pool)
        self.pool_images = self.sp.render_seeds(pool_seeds, seed_latents(pool_seeds, self.G.z_dim))
        self.pool_probs = torch.as_tensor(classify(self.pool_images)).float().cpu()
        if self.pool_probs.shape[0] != self.pool or (self.names and self.pool_probs.shape[1] != len(self.names)):
            raise ValueError(f"classify returned shape {tuple(self.pool_probs.shape)} for {self.pool} images "
                             f"and {len(self.names or [])} classes")

    def concept(self, i: int, t: Term, cid: int | None, notes: list[str]) -> ConceptRow:
        """Term ``i`` (class ``cid``, or None) as its exemplars and their mean."""
        letter, names, conf, note = _letter(i), self.names, None, ""
        if t.concept.seeds is not None:
            seeds = list(t.concept.seeds)
            desc = "seeds " + ", ".join(map(str, seeds))
            y = self.y_result
        elif self.k:
            seeds = [self.seed + CONDITIONAL_SEED_BLOCK * (i + 1) + j for j in range(self.exemplars)]
            desc = f"class {_class_label(cid, names)}"
            y = cid
        else:
            p = self.pool_probs[:, cid]
            top = p.topk(self.exemplars).indices
            seeds = [self.seed + int(j) for j in top]
            conf = [round(float(p[j]), 4) for j in top]
            desc = f"class {_class_label(cid, names)}"
            y = None
            hits = int((self.pool_probs.argmax(1) == cid).sum())
            if hits < self.exemplars:
                note = (f"only {hits} of {self.pool} samples look like {_class_label(cid, names)} to the evaluator; "
                        f"the other exemplars are its next-best guesses (try a larger --pool)")
                notes.append(f"{letter}: {note}")
        z = seed_latents(seeds, self.G.z_dim)
        images = (self.pool_images[[s - self.seed for s in seeds]] if self.pool_images is not None and y is None
                  and t.concept.seeds is None else self.sp.render_seeds(seeds, z, y))
        lat = self.sp.encode(z, y)
        mean = lat.mean(0)
        return ConceptRow(letter, t, desc, cid, seeds, lat, images, mean, self.sp.render(mean[None], y)[0],
                          conf, y, note)


def _class_label(cid: int, names: Sequence[str] | None, bare: bool = False) -> str:
    if names and 0 <= cid < len(names):
        return names[cid] if bare else f"{names[cid]!r}"
    return str(cid)


def arithmetic_figure(res: ArithmeticResult) -> Image.Image:
    """Rows A, B, C...: label, exemplars (captioned with seeds), their mean; then the results."""
    rows = []
    for r in res.rows:
        sign = "+" if r.term.sign > 0 else "-"
        label = f"{r.letter}  {sign} {r.term.concept.text}\n{r.description}"
        if r.render_class is not None and r.term.concept.seeds is not None:
            label += f"\n(drawn as {_class_label(r.render_class, res.class_names, bare=True)})"
        caps = [f"seed {s}" + (f"\np={p:.2f}" if r.confidences else "")
                for s, p in zip(r.seeds, r.confidences or [None] * len(r.seeds))]
        rows.append(Row(label, [[Cell(img, c) for img, c in zip(r.images, caps)], [Cell(r.mean_image, "mean")]]))
    formula = " ".join(("" if i == 0 and r.term.sign > 0 else ("+ " if r.term.sign > 0 else "- ")) + r.letter
                       for i, r in enumerate(res.rows)).strip()
    label = f"= {formula}"
    if res.result_class is not None:
        label += f"\nas {_class_label(res.result_class, res.class_names, bare=True)}"
    caps = ["result"] + ["+noise" for _ in range(res.result_images.shape[0] - 1)]
    if res.readout_probs is not None:
        top = res.readout_probs.argmax(1).tolist()
        caps = [f"{c}\n{_class_label(t, res.readout_names, bare=True)}" for c, t in zip(caps, top)]
    rows.append(Row(label, [[Cell(img, c) for img, c in zip(res.result_images, caps)]]))
    if res.space == "w":
        title = (f"{res.expression}   (in W)\nresult = {formula}: the exact result, then + {res.noise:g} x "
                 f"(w of a random latent - w_avg)")
    else:
        title = f"{res.expression}\nresult = {formula}: the exact result, then + {res.noise:g} x N(0, I) noise"
    if res.along:
        moves = ", ".join(f"{a:+g} along direction {k}" for k, a in sorted(res.along.items()))
        title += f"\nthe results moved {moves} (standard deviations)"
    if res.readout:
        title += "\nevaluator reads the results as: " + ", ".join(f"{n} x{c}" for n, c in res.readout.items())
    return draw_figure(rows, title)


def save_arithmetic(res: ArithmeticResult, path: str | Path) -> Path:
    """Write :func:`arithmetic_figure` as a PNG."""
    return save_image(arithmetic_figure(res), Path(path))
