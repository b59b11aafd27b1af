"""``--data emoji``: the colour emoji of the Noto Color Emoji font, rendered once into an RGB set.

Any Debian or Ubuntu machine can get the font offline from its package mirror
(``apt-get install fonts-noto-color-emoji``); nothing is downloaded from elsewhere. The
glyphs are enumerated from the font's own character map (the ``cmap`` table, read here: a
TrueType table directory is a few fixed-size records), each is drawn with Pillow at the font's
bitmap size (109 px) in colour, composited on white and centred on a square, glyphs that draw
nothing are skipped and identical images kept once. The result (uint8, N x 3 x 128 x 128) is
cached in the ganforge cache folder under the font file's hash and the size, so the rendering
happens once per font; ``load_data`` then resizes to the run's ``--size`` as for every source.

The set has no labels and one natural split; every 10th image (in code-point order) is the
``test`` split, the rest ``train``, so ``evaluate`` has held-out images to compare against.
"""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .download import cache_dir, system_data_enabled

FONT_NAME = "NotoColorEmoji.ttf"
PACKAGE = "fonts-noto-color-emoji"
# Where distributions put the font (Debian/Ubuntu, Fedora, Arch, a user's own fonts).
FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/google-noto-color-emoji",
             "/usr/share/fonts/noto", "/usr/share/fonts/google-noto-emoji", "~/.local/share/fonts", "~/.fonts")
RENDER_PX = 109  # the one size of the font's colour bitmaps (CBDT strike)
CACHE_SIZE = 128  # side of the cached images
TEST_EVERY = 10  # every 10th image is the test split


class EmojiFontMissing(DataError, ConfigError):
    """The emoji font is not installed (both a data problem and a setting the user can change)."""


def find_font(data_dir: str | None = None) -> Path | None:
    """The Noto Color Emoji font file: in ``data_dir`` when given, else ``$GANFORGE_EMOJI_FONT``,
    else the distributions' font folders (unless ``$GANFORGE_SYSTEM_DATA`` is 0). None when there is none."""
    if data_dir:
        candidates = [Path(data_dir).expanduser() / FONT_NAME, Path(data_dir).expanduser()]
    else:
        env = os.environ.get("GANFORGE_EMOJI_FONT")
        candidates = [Path(env).expanduser()] if env else []
        if system_data_enabled():  # $GANFORGE_SYSTEM_DATA=0 hides the installed fonts
            candidates += [Path(d).expanduser() / FONT_NAME for d in FONT_DIRS]
    return next((p for p in candidates if p.is_file()), None)


def missing_font_error(data_dir: str | None) -> EmojiFontMissing:
    if data_dir:
        where = f"in {data_dir} (--data-dir)"
    elif system_data_enabled():
        where = f"in {', '.join(FONT_DIRS[:2])} or $GANFORGE_EMOJI_FONT"
    else:
        where = "in $GANFORGE_EMOJI_FONT (the font folders are switched off by GANFORGE_SYSTEM_DATA=0)"
    return EmojiFontMissing(f"--data emoji: the font {FONT_NAME} was not found {where}; install the Debian/Ubuntu "
                            f"package {PACKAGE} (sudo apt-get install -y {PACKAGE}, or `make data-emoji`), "
                            f"or point --data-dir at a folder holding {FONT_NAME}")


# --------------------------------------------------------------------------- the cmap table
def cmap_codepoints(font_bytes: bytes) -> list[int]:
    """Every code point the font maps to a glyph, sorted, from its best Unicode ``cmap``
    subtable (format 12, full Unicode; else format 4, the Basic Multilingual Plane)."""
    try:
        num_tables = struct.unpack_from(">H", font_bytes, 4)[0]
        tables = {font_bytes[12 + 16 * i:16 + 16 * i]: struct.unpack_from(">II", font_bytes, 20 + 16 * i)
                  for i in range(num_tables)}
        if b"cmap" not in tables:
            raise ValueError("no cmap table")
        base = tables[b"cmap"][0]
        n_sub = struct.unpack_from(">H", font_bytes, base + 2)[0]
        subtables = {}
        for i in range(n_sub):
            platform, encoding, offset = struct.unpack_from(">HHI", font_bytes, base + 4 + 8 * i)
            fmt = struct.unpack_from(">H", font_bytes, base + offset)[0]
            if platform in (0, 3):  # Unicode, Windows: Unicode code points
                subtables.setdefault(fmt, base + offset)
        if 12 in subtables:
            return _format12(font_bytes, subtables[12])
        if 4 in subtables:
            return _format4(font_bytes, subtables[4])
    except (struct.error, ValueError) as e:
        raise DataError(f"--data emoji: the font file has no readable character map ({e})") from None
    raise DataError("--data emoji: the font file has no Unicode character map (cmap format 12 or 4)")


def _format12(b: bytes, at: int) -> list[int]:
    n_groups = struct.unpack_from(">I", b, at + 12)[0]
    out: set[int] = set()
    for g in range(n_groups):
        start, end, glyph = struct.unpack_from(">III", b, at + 16 + 12 * g)
        out.update(c for c in range(start, end + 1) if glyph + (c - start) != 0)
    return sorted(out)


def _format4(b: bytes, at: int) -> list[int]:
    seg_count = struct.unpack_from(">H", b, at + 6)[0] // 2
    ends = struct.unpack_from(f">{seg_count}H", b, at + 14)
    starts = struct.unpack_from(f">{seg_count}H", b, at + 16 + 2 * seg_count)
    return sorted(c for s, e in zip(starts, ends) for c in range(s, e + 1) if c != 0xFFFF)


# --------------------------------------------------------------------------- rendering
def render_emoji(font_path: Path, progress: bool = True) -> torch.Tensor:
    """Every non-empty, distinct glyph of the font: uint8 (N, 3, CACHE_SIZE, CACHE_SIZE) on white."""
    from PIL import Image, ImageDraw, ImageFont
    from tqdm import tqdm

    codepoints = cmap_codepoints(font_path.read_bytes())
    font = ImageFont.truetype(str(font_path), RENDER_PX)
    canvas = 2 * RENDER_PX
    images, seen = [], set()
    for cp in tqdm(codepoints, desc="rendering emoji", unit="glyph", disable=not progress, leave=False):
        if cp < 0x20 or 0xD800 <= cp < 0xE000:  # control characters and surrogates: nothing to draw
            continue
        glyph = Image.new("RGBA", (canvas, canvas), (255, 255, 255, 0))
        try:
            ImageDraw.Draw(glyph).text((RENDER_PX // 2, RENDER_PX // 2), chr(cp), font=font, embedded_color=True)
        except (RuntimeError, OSError, ValueError):  # a code point the text layout refuses on its own
            continue
        box = glyph.getchannel("A").getbbox()
        if box is None:  # draws nothing (spaces, joiners, variation selectors, tags)
            continue
        glyph = glyph.crop(box)
        side = max(glyph.size)
        square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
        square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
        img = square.convert("RGB").resize((CACHE_SIZE, CACHE_SIZE), Image.Resampling.LANCZOS)
        pixels = np.asarray(img, dtype=np.uint8)
        key = hashlib.sha1(pixels.tobytes()).digest()
        if key in seen or pixels.min() == 255:  # a duplicate, or white on white
            continue
        seen.add(key)
        images.append(pixels.transpose(2, 0, 1))
    if not images:
        raise DataError(f"--data emoji: {font_path} drew no colour glyphs (is it {FONT_NAME}?)")
    return torch.from_numpy(np.stack(images))


def font_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_emoji(data_dir: str | None, split: str, progress: bool = True) -> tuple[torch.Tensor, str]:
    """The emoji images of ``split`` (uint8 N x 3 x 128 x 128) and where they came from; rendered
    on first use and cached (see the module docstring)."""
    font = find_font(data_dir)
    if font is None:
        raise missing_font_error(data_dir)
    cache = cache_dir() / "emoji" / f"emoji-{font_hash(font)}-{CACHE_SIZE}.npy"
    if cache.is_file():
        images = torch.from_numpy(np.load(cache, allow_pickle=False))
    else:
        images = render_emoji(font, progress)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                np.save(f, images.numpy(), allow_pickle=False)
            tmp.replace(cache)
        finally:
            tmp.unlink(missing_ok=True)
    test = torch.arange(images.shape[0]) % TEST_EVERY == TEST_EVERY - 1
    return images[test if split == "test" else ~test].contiguous(), str(font)
