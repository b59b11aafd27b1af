"""--data emoji: the cmap reader, the clear error on a machine without the font, and (where
fonts-noto-color-emoji is installed) rendering, deduplication, the cache and the splits."""
from __future__ import annotations

import struct

import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data import emoji, load_data
from ganforge.errors import ConfigError, DataError


def _font_with_cmap(subtable: bytes) -> bytes:
    """A minimal sfnt file: one table, 'cmap', holding one Windows Unicode subtable."""
    cmap = struct.pack(">HHHHI", 0, 1, 3, 10, 12) + subtable
    header = struct.pack(">IHHHH", 0x00010000, 1, 16, 0, 0)
    return header + b"cmap" + struct.pack(">III", 0, 28, len(cmap)) + cmap


def test_cmap_format_12_and_4():
    groups = [(0x1F600, 0x1F602, 5), (0x2764, 0x2764, 9)]
    f12 = struct.pack(">HHIII", 12, 0, 16 + 12 * len(groups), 0, len(groups))
    f12 += b"".join(struct.pack(">III", *g) for g in groups)
    assert emoji.cmap_codepoints(_font_with_cmap(f12)) == [0x2764, 0x1F600, 0x1F601, 0x1F602]
    seg = [(0x41, 0x43), (0xFFFF, 0xFFFF)]  # A..C and the required final segment
    n = len(seg)
    f4 = struct.pack(">HHHHHHH", 4, 0, 0, 2 * n, 0, 0, 0)
    f4 += struct.pack(f">{n}H", *(e for _, e in seg)) + b"\0\0" + struct.pack(f">{n}H", *(s for s, _ in seg))
    assert emoji.cmap_codepoints(_font_with_cmap(f4)) == [0x41, 0x42, 0x43]
    with pytest.raises(DataError, match="character map"):
        emoji.cmap_codepoints(b"not a font at all")


def test_a_machine_without_the_font_gets_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(emoji, "find_font", lambda data_dir=None: None)
    with pytest.raises(ConfigError) as info:
        load_data(DataConfig(source="emoji", size=32))
    msg = str(info.value)
    assert isinstance(info.value, DataError) and "fonts-noto-color-emoji" in msg and "apt-get install" in msg
    assert "\n" not in msg and not (tmp_path / "cache" / "emoji").exists()


def test_the_cli_names_the_package(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(emoji, "find_font", lambda data_dir=None: None)
    code, _, err = cli("train", "--preset", "progan-64", "--steps", 1, "--no-progress", "--out", tmp_path / "r")
    assert code == 2 and "fonts-noto-color-emoji" in err and "Traceback" not in err


def test_data_dir_without_the_font_says_where_it_looked(tmp_path):
    assert emoji.find_font(str(tmp_path)) is None
    with pytest.raises(ConfigError, match="--data-dir"):
        load_data(DataConfig(source="emoji", data_dir=str(tmp_path)))


FONT = emoji.find_font()
needs_font = pytest.mark.skipif(FONT is None, reason="fonts-noto-color-emoji is not installed "
                                                     "(apt-get install -y fonts-noto-color-emoji)")


@needs_font
def test_render_skips_empty_glyphs_and_keeps_one_of_each(monkeypatch):
    picks = [0x20, 0x200D, 0x1F600, 0x1F600, 0x1F436]  # space and ZWJ draw nothing; a duplicate
    monkeypatch.setattr(emoji, "cmap_codepoints", lambda font_bytes: picks)
    images = emoji.render_emoji(FONT, progress=False)
    assert images.shape == (2, 3, emoji.CACHE_SIZE, emoji.CACHE_SIZE) and images.dtype == torch.uint8
    assert int(images[:, :, 0, 0].min()) == 255  # composited on white
    assert not torch.equal(images[0], images[1])
    assert images.float().std(dim=(2, 3)).mean() > 20  # colour, not a blank


@needs_font
def test_rendered_once_then_cached_with_two_splits(monkeypatch, tmp_path):
    monkeypatch.setattr(emoji, "cmap_codepoints", lambda font_bytes: list(range(0x1F600, 0x1F620)))
    train = load_data(DataConfig(source="emoji", size=16), progress=False)
    cached = list((tmp_path / "cache" / "emoji").glob("emoji-*-128.npy"))
    assert len(cached) == 1 and emoji.font_hash(FONT) in cached[0].name
    monkeypatch.setattr(emoji, "render_emoji", lambda *a, **k: pytest.fail("rendered again"))
    test = load_data(DataConfig(source="emoji", size=16, split="test"), progress=False)
    assert train.images.shape[1:] == (3, 16, 16) and test.images.shape[1:] == (3, 16, 16)
    assert train.images.shape[0] + test.images.shape[0] == 32 and test.images.shape[0] == 3  # every 10th
    assert train.labels is None and train.name == "emoji"


def test_the_font_folders_can_be_switched_off(tmp_path, monkeypatch):
    """GANFORGE_SYSTEM_DATA=0 hides the installed fonts; $GANFORGE_EMOJI_FONT still counts, and
    the message says the folders are off."""
    monkeypatch.delenv("GANFORGE_SYSTEM_DATA", raising=False)  # (CI's second pass sets it)
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / emoji.FONT_NAME).write_bytes(b"stand-in")
    monkeypatch.setattr(emoji, "FONT_DIRS", (str(fonts),))
    monkeypatch.delenv("GANFORGE_EMOJI_FONT", raising=False)
    assert emoji.find_font() == fonts / emoji.FONT_NAME
    monkeypatch.setenv("GANFORGE_SYSTEM_DATA", "0")
    assert emoji.find_font() is None
    assert "GANFORGE_SYSTEM_DATA=0" in str(emoji.missing_font_error(None))
    monkeypatch.setenv("GANFORGE_EMOJI_FONT", str(fonts / emoji.FONT_NAME))
    assert emoji.find_font() == fonts / emoji.FONT_NAME
