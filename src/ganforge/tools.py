"""Using a trained generator: interpolation walks, latent vector arithmetic, nearest neighbours.

Each tool has a function that computes (returning plain tensors and numbers, for notebooks and
tests) and a function that draws a labelled PNG a person can read. The latent maths lives in
:mod:`ganforge.latent`; the evaluator classifier (for class concepts and feature-space
neighbours) in :mod:`ganforge.metrics`, reached only through :func:`find_evaluator` and plain
callables, so tests can pass a fake one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from .errors import GanforgeError
from .images import save_gif, save_image
from .latent import (
    Term,
    combine,
    interpolate_path,
    latent_mean_for,
    num_classes,
    parse_expression,
    render,
    resolve_class,
    seed_latents,
    truncate,
)

# classify(images uint8 (N, C, H, W)) -> class probabilities float (N, K)
Classify = Callable[[torch.Tensor], torch.Tensor]
# features(images uint8 (N, C, H, W)) -> feature vectors float (N, F)
Features = Callable[[torch.Tensor], torch.Tensor]

CONDITIONAL_SEED_BLOCK = 1000  # term i of a conditional run draws its exemplars from seeds 1000*(i+1)+j


@dataclass
class ToolClassifier:
    """What the tools take from an evaluator classifier: its class names, class probabilities of
    images (arithmetic's class concepts and read-out) and features (neighbours in feature space).
    Plain callables, so the tool functions need no metrics code and a test can pass a fake one."""

    class_names: list[str]
    classify: Classify
    features: Features | None = None
    name: str = "evaluator"


def find_evaluator(dataset: str, device: str | torch.device = "cpu") -> tuple[ToolClassifier | None, str]:
    """The cached evaluator classifier for ``dataset`` (see ``ganforge evaluator train``).

    Returns ``(evaluator, "")``, or ``(None, why not)`` when there is none for this dataset.
    """
    try:
        from .metrics import EVALUATOR_SPECS, EvaluatorError, load_evaluator
    except ImportError as e:  # pragma: no cover - the metrics package ships with ganforge
        return None, f"the evaluator code is unavailable ({e})"
    if dataset not in EVALUATOR_SPECS:
        return None, (f"evaluators exist for {', '.join(EVALUATOR_SPECS)} only, and this run's data is "
                      f"{dataset!r}")
    try:
        ex = load_evaluator(dataset).to(device)
    except EvaluatorError as e:
        return None, str(e)
    names = list(ex.meta.get("class_names") or [str(i) for i in range(ex.num_classes or 0)])
    return ToolClassifier(class_names=names, classify=lambda x: ex(x)[1],
                          features=lambda x: ex(x, progress=x.shape[0] > 5000, desc="evaluator features")[0],
                          name=f"{ex.name} ({ex.hash})"), ""


def run_class_names(G: nn.Module) -> list[str] | None:
    """The class names stored with G's run (``G.class_names``, else its checkpoint's), if any."""
    names = getattr(G, "class_names", None)
    if names:
        return list(names)
    path = getattr(G, "checkpoint_path", None)
    if path:
        from .checkpoint import load_checkpoint

        names = load_checkpoint(path).get("class_names")
        return list(names) if names else None
    return None


# --------------------------------------------------------------------------- drawing


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


@dataclass
class Cell:
    """One picture of a figure row, with an optional caption under it."""

    image: torch.Tensor  # uint8 (C, H, W)
    caption: str = ""


@dataclass
class Row:
    """A figure row: a label on the left, then blocks of cells separated by wider gaps."""

    label: str
    blocks: list[list[Cell]]


def _to_rgb(image: torch.Tensor, scale: int) -> Image.Image:
    arr = image.permute(1, 2, 0).cpu().numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).convert("RGB")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def draw_figure(rows: Sequence[Row], title: str = "", min_cell: int = 64) -> Image.Image:
    """Lay ``rows`` out as one RGB picture: labels left, images upscaled (nearest) to at least
    ``min_cell`` px, captions under them, ``title`` (may have several lines) on top."""
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_size(s: str) -> tuple[int, int]:
        if not s:
            return 0, 0
        l, t, r, b = probe.multiline_textbbox((0, 0), s, font=font, spacing=2)
        return r - min(l, 0), b - min(t, 0)

    sizes = [c.image.shape[-1] for row in rows for block in row.blocks for c in block]
    side = max(sizes) if sizes else 1
    scale = max(1, math.ceil(min_cell / side))
    cell = side * scale
    pad, gap = 4, 14
    cap_h = max((text_size(c.caption)[1] for row in rows for b in row.blocks for c in b), default=0)
    cap_h = cap_h + 3 if cap_h else 0
    # a column is as wide as its image or its widest caption, whichever is wider
    col = max([cell] + [text_size(c.caption)[0] + 4 for row in rows for b in row.blocks for c in b])
    label_w = max((text_size(r.label)[0] for r in rows), default=0) + 2 * pad
    title_h = text_size(title)[1] + 2 * pad if title else 0

    # Rows with the same number of blocks share block columns, so e.g. every "mean" lines up.
    slots: dict[tuple[int, int], int] = {}
    for row in rows:
        for b, block in enumerate(row.blocks):
            key = (len(row.blocks), b)
            slots[key] = max(slots.get(key, 0), len(block))

    def block_x(row: Row, b: int) -> int:
        return label_w + sum(slots[(len(row.blocks), i)] * (col + pad) + gap for i in range(b))

    def row_width(row: Row) -> int:
        return block_x(row, len(row.blocks)) - gap - label_w if row.blocks else 0

    row_h = cell + cap_h + 2 * pad
    width = max(label_w + max((row_width(r) for r in rows), default=0) + pad, text_size(title)[0] + 2 * pad)
    height = title_h + len(rows) * row_h + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.multiline_text((pad, pad), title, fill="black", font=font, spacing=2)
    for r, row in enumerate(rows):
        y = title_h + r * row_h + pad
        lh = text_size(row.label)[1]
        draw.multiline_text((pad, y + max(0, (cell - lh) // 2)), row.label, fill="black", font=font, spacing=2)
        for b, block in enumerate(row.blocks):
            x = block_x(row, b)
            for c in block:
                canvas.paste(_to_rgb(c.image, scale), (x + (col - cell) // 2, y))
                if c.caption:
                    cw = text_size(c.caption)[0]
                    draw.multiline_text((x + max(0, (col - cw) // 2), y + cell + 2), c.caption, fill=(60, 60, 60),
                                        font=font, spacing=2, align="center")
                x += col + pad
    return canvas


def save_animation(frames: torch.Tensor, path: str | Path, ms_per_frame: int = 100,
                   durations: Sequence[int] | None = None, min_side: int = 128) -> Path:
    """uint8 frames (T, C, H, W) -> looping animated GIF, upscaled (nearest) to ``min_side`` px."""
    if frames.shape[0] == 0:
        raise ValueError("save_animation needs at least one frame")
    scale = max(1, math.ceil(min_side / frames.shape[-1]))
    imgs = [_to_rgb(f, scale) for f in frames]
    return save_gif(imgs, path, durations=durations if durations is not None else [ms_per_frame] * len(imgs))


# --------------------------------------------------------------------------- interpolation


@dataclass
class Interpolation:
    """A walk through seed latents. ``frames[s, i]`` is step i of segment s (seed s -> s+1)."""

    seeds: list[int]
    mode: str
    truncation: float | None
    latents: torch.Tensor  # (segments, steps, z_dim)
    frames: torch.Tensor  # uint8 (segments, steps, C, H, W)
    class_id: int | None = None


@torch.no_grad()
def interpolate(G: nn.Module, seeds: Sequence[int], steps: int = 8, mode: str = "slerp",
                truncation: float | None = None, y: int | None = None, loop: bool = True,
                batch_size: int = 256) -> Interpolation:
    """Images along a path through the latents of ``seeds``, in order, and back to the first.

    mode: ``slerp`` (norm-preserving, the default) or ``lerp``. truncation: psi toward the mean
    latent, applied to every point of the path after interpolating, so each seed's frame
    equals ``generate(G, 1, seed, truncation=psi)``. y: the class, for a conditional G.
    """
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise GanforgeError(f"--seeds: give at least 2 seeds to walk between (got {len(seeds)})")
    path = interpolate_path(seed_latents(seeds, G.z_dim), steps, mode, loop)
    flat = path.reshape(-1, G.z_dim)
    if truncation is not None:
        flat = truncate(flat, latent_mean_for(G), truncation)
    images = render(G, flat, y, batch_size)
    return Interpolation(seeds, mode, truncation, path, images.reshape(*path.shape[:2], *images.shape[1:]), y)


def save_interpolation(result: Interpolation, prefix: str | Path, ms_per_frame: int = 100,
                       hold_ms: int = 600, class_label: str | None = None) -> tuple[Path, Path]:
    """Write ``PREFIX.png`` (one labelled row per segment) and ``PREFIX.gif`` (the loop).

    ms_per_frame: GIF frame time; the frames showing a seed's own image stay ``hold_ms``.
    class_label: how to name ``result.class_id`` in the title (default: the id).
    """
    prefix = Path(prefix)
    segs, steps = result.frames.shape[:2]
    order = result.seeds + [result.seeds[0]]
    rows = []
    for s in range(segs):
        a, b = order[s], order[s + 1]
        cells = [Cell(result.frames[s, i], f"seed {a}" if i == 0 else f"seed {b}" if i == steps - 1 else "")
                 for i in range(steps)]
        rows.append(Row(f"{a} -> {b}", [cells]))
    how = f"{result.mode}, {steps} steps per segment"
    if result.truncation is not None:
        how += f", truncation psi={result.truncation:g}"
    if result.class_id is not None:
        how += f", class {class_label or result.class_id}"
    png = save_image(draw_figure(rows, f"interpolation through seeds {', '.join(map(str, result.seeds))} ({how})"),
                     prefix.with_name(prefix.name + ".png"))
    # the animation drops each segment's last frame: it is the next segment's first
    frames = result.frames[:, :-1].reshape(-1, *result.frames.shape[2:])
    durations = [hold_ms if i % (steps - 1) == 0 else ms_per_frame for i in range(frames.shape[0])]
    gif = save_animation(frames, prefix.with_name(prefix.name + ".gif"), durations=durations)
    return png, gif


# --------------------------------------------------------------------------- arithmetic


@dataclass
class ConceptRow:
    """One term of an arithmetic expression, resolved to exemplar latents."""

    letter: str  # A, B, C, ...
    term: Term
    description: str  # "class Sneaker", "seeds 3, 9, 12"
    class_id: int | None  # the concept's class, when it is one
    seeds: list[int]  # the exemplars' seeds
    latents: torch.Tensor  # (E, z_dim)
    images: torch.Tensor  # uint8 (E, C, H, W)
    mean: torch.Tensor  # (z_dim,)
    mean_image: torch.Tensor  # uint8 (C, H, W)
    confidences: list[float] | None = None  # the evaluator's p(class) per exemplar
    render_class: int | None = None  # y the images were drawn with (conditional G)
    note: str = ""


@dataclass
class ArithmeticResult:
    expression: str
    rows: list[ConceptRow]
    result: torch.Tensor  # the result latent (z_dim,)
    result_latents: torch.Tensor  # (R, z_dim): the result, then the result plus noise
    result_images: torch.Tensor  # uint8 (R, C, H, W)
    noise: float
    result_class: int | None  # y of the result images (conditional G)
    class_names: list[str] | None
    readout: dict[str, int] | None = None  # evaluator's class histogram of the result images
    readout_probs: torch.Tensor | None = None  # (R, K)
    readout_names: list[str] | None = None  # the names of readout_probs' columns
    notes: list[str] = field(default_factory=list)

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
            "readout": self.readout, "notes": self.notes,
        }


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"T{i + 1}"


@torch.no_grad()
def arithmetic(G: nn.Module, expression: str, *, class_names: Sequence[str] | None = None,
               classify: Classify | None = None, exemplars: int = 3, pool: int = 2000, results: int = 8,
               noise: float = 0.2, seed: int = 0, result_class: str | int | None = None,
               batch_size: int = 256, evaluator_hint: str = "",
               classify_names: Sequence[str] | None = None) -> ArithmeticResult:
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
    """
    if exemplars < 1:
        raise GanforgeError(f"--exemplars: must be at least 1 (got {exemplars})")
    if results < 1:
        raise GanforgeError(f"--results: must be at least 1 (got {results})")
    if noise < 0 or not math.isfinite(noise):
        raise GanforgeError(f"--noise: must be >= 0 (got {noise})")
    k = num_classes(G)
    names = list(class_names) if class_names else None
    terms = parse_expression(expression, names)
    if not k and classify is None and any(t.concept.is_class for t in terms):
        raise GanforgeError("class concepts in an unconditional run need the evaluator classifier"
                            + (f": {evaluator_hint}" if evaluator_hint else "")
                            + "; or give seed lists like [3,9,12] instead")
    class_ids: list[int | None] = []
    for t in terms:
        class_ids.append(resolve_class(t.concept.class_name, names, k or None) if t.concept.is_class else None)
    notes: list[str] = []

    if k:  # conditional: the first class term, or --class, decides the result's class
        if result_class is not None:
            y_result = resolve_class(result_class, names, k)
        else:
            y_result = next((c for c in class_ids if c is not None), None)
            if y_result is None:
                y_result = 0
                notes.append(f"no class in the expression and no --class: results use class "
                             f"{_class_label(0, names)}")
    else:
        if result_class is not None:
            raise GanforgeError("--class: this run's generator is unconditional; --class only applies to "
                                "conditional runs (name classes in the expression instead)")
        y_result = None

    pool_probs = pool_images = None
    if not k and any(c is not None for c in class_ids):
        if pool < exemplars:
            raise GanforgeError(f"--pool: must be at least --exemplars ({exemplars}), got {pool}")
        pool_z = seed_latents(range(seed, seed + pool), G.z_dim)
        pool_images = render(G, pool_z, None, batch_size)
        pool_probs = torch.as_tensor(classify(pool_images)).float().cpu()
        if pool_probs.shape[0] != pool or (names and pool_probs.shape[1] != len(names)):
            raise ValueError(f"classify returned shape {tuple(pool_probs.shape)} for {pool} images "
                             f"and {len(names or [])} classes")

    rows: list[ConceptRow] = []
    for i, (t, cid) in enumerate(zip(terms, class_ids)):
        letter = _letter(i)
        conf = None
        note = ""
        if t.concept.seeds is not None:
            seeds = list(t.concept.seeds)
            desc = "seeds " + ", ".join(map(str, seeds))
            y = y_result
        elif k:
            seeds = [seed + CONDITIONAL_SEED_BLOCK * (i + 1) + j for j in range(exemplars)]
            desc = f"class {_class_label(cid, names)}"
            y = cid
        else:
            p = pool_probs[:, cid]
            top = p.topk(exemplars).indices
            seeds = [seed + int(j) for j in top]
            conf = [round(float(p[j]), 4) for j in top]
            desc = f"class {_class_label(cid, names)}"
            y = None
            hits = int((pool_probs.argmax(1) == cid).sum())
            if hits < exemplars:
                note = (f"only {hits} of {pool} samples look like {_class_label(cid, names)} to the evaluator; "
                        f"the other exemplars are its next-best guesses (try a larger --pool)")
                notes.append(f"{letter}: {note}")
        z = seed_latents(seeds, G.z_dim)
        images = (pool_images[[s - seed for s in seeds]] if pool_images is not None and y is None
                  and t.concept.seeds is None else render(G, z, y, batch_size))
        mean = z.mean(0)
        rows.append(ConceptRow(letter, t, desc, cid, seeds, z, images, mean, render(G, mean[None], y)[0],
                               conf, y, note))

    result = combine(terms, [r.mean for r in rows])
    g = torch.Generator().manual_seed(seed)
    extra = torch.randn(results - 1, G.z_dim, generator=g) * noise
    result_latents = torch.cat([result[None], result[None] + extra])
    result_images = render(G, result_latents, y_result, batch_size)
    readout = readout_probs = readout_names = None
    if classify is not None:
        readout_probs = torch.as_tensor(classify(result_images)).float().cpu()
        counts = torch.bincount(readout_probs.argmax(1), minlength=readout_probs.shape[1])
        readout_names = list(classify_names) if classify_names else names
        readout = {_class_label(c, readout_names, bare=True): int(n) for c, n in enumerate(counts.tolist()) if n}
    return ArithmeticResult(expression, rows, result, result_latents, result_images, noise, y_result, names,
                            readout, readout_probs, readout_names, notes)


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
    title = f"{res.expression}\nresult = {formula}: the exact result, then + {res.noise:g} x N(0, I) noise"
    if res.readout:
        title += "\nevaluator reads the results as: " + ", ".join(f"{n} x{c}" for n, c in res.readout.items())
    return draw_figure(rows, title)


def save_arithmetic(res: ArithmeticResult, path: str | Path) -> Path:
    """Write :func:`arithmetic_figure` as a PNG."""
    return save_image(arithmetic_figure(res), Path(path))


# --------------------------------------------------------------------------- nearest neighbours


def knn(query: torch.Tensor, ref: torch.Tensor | Callable[[slice], torch.Tensor], n_ref: int, k: int,
        chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest rows of a reference set to each query row, by Euclidean distance.

    query: (Nq, D). ref: (N, D) rows, or a function returning rows ``ref(slice)`` so the
    reference never has to exist as one float array. Distances are computed in float64, in
    chunks of ``chunk`` reference rows, keeping a running top k. Returns (distances (Nq, k),
    indices (Nq, k) int64), nearest first.
    """
    if k > n_ref:
        raise GanforgeError(f"-k {k}: the training data has only {n_ref} images")
    q = query.double().reshape(query.shape[0], -1)
    q_sq = (q * q).sum(1, keepdim=True)
    best_d = torch.full((q.shape[0], 0), float("inf"), dtype=torch.float64)
    best_i = torch.empty((q.shape[0], 0), dtype=torch.int64)
    for start in range(0, n_ref, chunk):
        s = slice(start, min(n_ref, start + chunk))
        r = (ref(s) if callable(ref) else ref[s]).double().reshape(s.stop - s.start, -1)
        d2 = (q_sq + (r * r).sum(1)[None] - 2 * q @ r.T).clamp_min_(0)
        idx = torch.arange(s.start, s.stop).expand(q.shape[0], -1)
        best_d, pos = torch.cat([best_d, d2], 1).topk(min(k, best_d.shape[1] + d2.shape[1]), 1, largest=False)
        best_i = torch.cat([best_i, idx], 1).gather(1, pos)
    return best_d.sqrt(), best_i


@dataclass
class Neighbours:
    """Generated images with their nearest training images."""

    fakes: torch.Tensor  # uint8 (n, C, H, W)
    seed: int
    pixel_dist: torch.Tensor  # (n, k) L2 distance on uint8 pixel values
    pixel_idx: torch.Tensor  # (n, k) training-set indices
    feature_dist: torch.Tensor | None = None
    feature_idx: torch.Tensor | None = None
    feature_name: str = ""
    skipped: str = ""  # why feature space was skipped

    def to_dict(self) -> dict:
        d = {"seed": self.seed, "n": int(self.fakes.shape[0]), "k": int(self.pixel_idx.shape[1]),
             "pixel": {"indices": self.pixel_idx.tolist(),
                       "distances": [[round(v, 3) for v in r] for r in self.pixel_dist.tolist()]}}
        if self.feature_idx is not None:
            d["feature"] = {"network": self.feature_name, "indices": self.feature_idx.tolist(),
                            "distances": [[round(v, 4) for v in r] for r in self.feature_dist.tolist()]}
        else:
            d["feature"] = None
            d["feature_skipped"] = self.skipped
        return d


@torch.no_grad()
def neighbours(G: nn.Module, train_images: torch.Tensor, n: int = 8, k: int = 4, seed: int = 0,
               truncation: float | None = None, features: Features | None = None, feature_name: str = "",
               skipped: str = "", batch_size: int = 256) -> Neighbours:
    """Draw ``n`` images (seeds as ``generate(G, n, seed)``) and find each one's ``k`` nearest
    training images: by L2 over uint8 pixel values, and by L2 in ``features`` space if given.

    train_images: uint8 (N, C, H, W) at G's image shape. features: uint8 images -> (N, F), called
        once on the generated and once on all training images (it batches them itself).
    skipped: why ``features`` is None, kept in the result for the report.
    """
    from .api import generate

    if n < 1 or k < 1:
        raise GanforgeError(f"-n and -k must be at least 1 (got {n}, {k})")
    shape = (G.img_channels, G.img_size, G.img_size)
    if tuple(train_images.shape[1:]) != shape:
        raise GanforgeError(f"the training images are {tuple(train_images.shape[1:])} but G makes {shape}; "
                            f"was the data changed since training?")
    fakes = generate(G, n, seed=seed, batch_size=batch_size, truncation=truncation)
    n_ref = train_images.shape[0]
    pd, pi = knn(fakes.float(), lambda s: train_images[s], n_ref, k)
    res = Neighbours(fakes, seed, pd.float(), pi, skipped=skipped)
    if features is not None:
        f_fake = torch.as_tensor(features(fakes)).float()
        f_ref = torch.as_tensor(features(train_images)).float()
        fd, fi = knn(f_fake, f_ref, n_ref, k)
        res.feature_dist, res.feature_idx, res.feature_name = fd.float(), fi, feature_name
    return res


def neighbours_figure(res: Neighbours, train_images: torch.Tensor) -> Image.Image:
    """One row per generated image: it, its pixel-space neighbours, then feature-space ones."""
    rows = []
    for i in range(res.fakes.shape[0]):
        blocks = [[Cell(res.fakes[i], f"sample {i}")],
                  [Cell(train_images[j], f"d={d:.0f}") for j, d in zip(res.pixel_idx[i].tolist(),
                                                                         res.pixel_dist[i].tolist())]]
        if res.feature_idx is not None:
            blocks.append([Cell(train_images[j], f"d={d:.2f}") for j, d in zip(res.feature_idx[i].tolist(),
                                                                                res.feature_dist[i].tolist())])
        rows.append(Row(f"#{i}", blocks))
    k = res.pixel_idx.shape[1]
    title = (f"generated (left), its {k} nearest training images by pixel L2 (middle, d on 0..255 values)"
             + (f",\nthen by evaluator features (right, {res.feature_name})" if res.feature_idx is not None
                else f"\nfeature space skipped: {res.skipped}"))
    return draw_figure(rows, title)


def save_neighbours(res: Neighbours, train_images: torch.Tensor, path: str | Path) -> Path:
    """Write :func:`neighbours_figure` as a PNG."""
    return save_image(neighbours_figure(res, train_images), Path(path))


__all__ = [
    "ToolClassifier", "find_evaluator", "run_class_names", "Cell", "Row", "draw_figure", "save_animation",
    "Interpolation", "interpolate", "save_interpolation", "ConceptRow", "ArithmeticResult", "arithmetic",
    "arithmetic_figure", "save_arithmetic", "knn", "Neighbours", "neighbours", "neighbours_figure",
    "save_neighbours",
]
