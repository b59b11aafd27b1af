"""Value ranges for models, the cache folder and the downloader."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from ganforge.data import cache_dir, download, from_model_range, to_model_range

# taken at import, before the autouse fixture swaps in a network-free stand-in
REAL_DOWNLOAD = download.download_file


@pytest.mark.parametrize("output, lo, hi", [("tanh", -1.0, 1.0), ("linear", -1.0, 1.0), ("sigmoid", 0.0, 1.0)])
def test_model_range_round_trip_is_exact(output, lo, hi):
    u = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = to_model_range(u, output)
    assert x.dtype == torch.float32 and x.min().item() == lo and x.max().item() == hi
    back = from_model_range(x, output)
    assert back.dtype == torch.uint8 and torch.equal(back, u)


def test_from_model_range_clamps_and_detaches():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 7.0], requires_grad=True)
    assert from_model_range(x, "tanh").tolist() == [0, 0, 128, 255, 255]
    assert from_model_range(x, "sigmoid").tolist() == [0, 0, 0, 255, 255]
    with pytest.raises(ValueError, match="unknown generator output 'relu'"):
        to_model_range(torch.zeros(1, dtype=torch.uint8), "relu")


def test_cache_dir_is_created_lazily(tmp_path, monkeypatch):
    target = tmp_path / "lazy" / "cache"
    monkeypatch.setenv("GANFORGE_CACHE", str(target))
    assert not target.exists()
    assert cache_dir() == target and target.is_dir()
    monkeypatch.delenv("GANFORGE_CACHE")
    assert download.cache_root() == Path("~/.cache/ganforge").expanduser()


def test_download_writes_whole_file_then_renames(tmp_path):
    src = tmp_path / "src.gz"
    src.write_bytes(gzip.compress(b"x" * 100_000))
    dest = tmp_path / "out" / "file.gz"
    assert REAL_DOWNLOAD(src.as_uri(), dest, progress=False) == dest
    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["file.gz"]  # no .part left over
    with pytest.raises(download.DownloadError, match="missing.gz"):
        REAL_DOWNLOAD((tmp_path / "missing.gz").as_uri(), tmp_path / "out" / "m.gz", progress=False)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.gz"]
