"""Corrupt and hostile data files through ``ganforge.data.load_data``: IDX (raw and .gz), CIFAR
pickle batches, .npy, .npz, PNG and JPEG folders. A bad file raises a GanforgeError subclass with
one line naming it (never another exception); whatever loads is a well-formed uint8 dataset."""
from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fuzztest_util import fuzz, report
from ganforge.config import DataConfig
from ganforge.data import load_data
from ganforge.errors import GanforgeError
from gf_helpers import make_images

IMAGES = make_images(12, seed=3)  # uint8 (12, 28, 28)


def outcome(cfg: DataConfig, names: list[str]) -> list[str]:
    """Problems with loading ``cfg``: an exception other than GanforgeError, a message that is not
    one line or names none of ``names``, or a malformed result."""
    try:
        data = load_data(cfg, progress=False)
    except GanforgeError as e:
        msg = str(e)
        found = []
        if "\n" in msg.strip():
            found.append(f"{type(e).__name__} message is not one line: {msg[:200]!r}")
        if not any(n in msg for n in names):
            found.append(f"{type(e).__name__} names none of {names}: {msg[:200]!r}")
        return found
    except Exception as e:  # noqa: BLE001 - the finding
        return [f"{type(e).__name__} (not a GanforgeError): {str(e).strip()[:200]!r}"]
    x = data.images
    found = []
    if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] not in (1, 3) or x.shape[2] != x.shape[3] \
            or x.shape[0] < 1:
        found.append(f"loaded a malformed dataset: {x.dtype} {tuple(x.shape)}")
    if data.labels is not None and tuple(data.labels.shape) != (x.shape[0],):
        found.append(f"labels of shape {tuple(data.labels.shape)} for {x.shape[0]} images")
    return found


def mutate(raw: bytes, data) -> tuple[bytes, str]:
    """A random damage to ``raw``: truncation, overwritten bytes, inserted or appended garbage."""
    kind = data.draw(st.sampled_from(["truncate", "overwrite", "insert", "append", "garbage-after-header"]))
    n = len(raw)
    if kind == "truncate":
        at = data.draw(st.integers(0, max(0, n - 1)))
        return raw[:at], f"truncated at {at}/{n}"
    if kind == "overwrite":
        edits = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 255)), min_size=1, max_size=8))
        b = bytearray(raw)
        for pos, val in edits:
            b[pos] = val
        return bytes(b), f"bytes overwritten {edits}"
    if kind == "insert":
        at = data.draw(st.integers(0, n))
        junk = data.draw(st.binary(min_size=1, max_size=32))
        return raw[:at] + junk + raw[at:], f"{len(junk)} bytes inserted at {at}"
    if kind == "append":
        junk = data.draw(st.binary(min_size=1, max_size=64))
        return raw + junk, f"{len(junk)} bytes appended"
    head = data.draw(st.integers(1, min(n, 160)))
    junk = data.draw(st.binary(min_size=0, max_size=200))
    return raw[:head] + junk, f"first {head} bytes kept, then {len(junk)} random bytes"


# --------------------------------------------------------------------------- .npy / .npz
def npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_valid_array_files_load(tmp_path):
    (tmp_path / "a.npy").write_bytes(npy_bytes(IMAGES))
    (tmp_path / "a.npz").write_bytes(npz_bytes(images=IMAGES, labels=np.arange(12) % 3))
    for name in ("a.npy", "a.npz"):
        assert load_data(DataConfig(source=str(tmp_path / name)), progress=False).images.shape == (12, 1, 28, 28)


ODD_ARRAYS = {
    "float64-0-1": IMAGES / 255.0, "float64-over": IMAGES * 3.0, "float-nan": np.full((4, 28, 28), np.nan),
    "float-inf": np.full((4, 28, 28), np.inf), "int64-negative": -IMAGES.astype(np.int64),
    "int64-huge": np.full((4, 28, 28), 2**62, np.int64), "bool": IMAGES > 100, "complex": IMAGES.astype(np.complex64),
    "float16": IMAGES.astype(np.float16), "uint16": IMAGES.astype(np.uint16) * 200, "object": np.array([1, "a"], object),
    "strings": np.array(["a", "b"]), "structured": np.zeros(4, dtype=[("a", "u1"), ("b", "f4")]),
    "empty": np.zeros((0, 28, 28), np.uint8), "1d": np.zeros(28, np.uint8), "2d": np.zeros((28, 28), np.uint8),
    "scalar": np.array(5, np.uint8), "zero-height": np.zeros((3, 0, 28), np.uint8),
    "2-channels": np.zeros((3, 28, 28, 2), np.uint8), "5-d": np.zeros((3, 28, 28, 3, 1), np.uint8),
    "4-channels": np.zeros((3, 28, 28, 4), np.uint8), "nchw-3": np.zeros((3, 3, 28, 28), np.uint8),
    "1x1": np.zeros((3, 1, 1), np.uint8), "tall": np.zeros((2, 1, 5000), np.uint8),
    "fortran": np.asfortranarray(IMAGES), "big-endian": IMAGES.astype(">u2"),
}


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_odd_arrays(suffix, tmp_path):
    bad = []
    for name, a in ODD_ARRAYS.items():
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(npy_bytes(a) if suffix == ".npy" else npz_bytes(images=a))
        bad += [f"{path.name}: {p}" for p in outcome(DataConfig(source=str(path), size=28), [path.name])]
    odd_npz = {
        "labels-wrong-len": dict(images=IMAGES, labels=np.arange(3)), "labels-float": dict(images=IMAGES, labels=np.ones(12) / 2),
        "labels-negative": dict(images=IMAGES, labels=-np.ones(12, np.int64)),
        "labels-huge": dict(images=IMAGES, labels=np.full(12, 2**40, np.int64)),
        "labels-2d": dict(images=IMAGES, labels=np.zeros((12, 2), np.int64)), "no-arrays": {},
        "two-unnamed": dict(a=IMAGES, b=IMAGES), "labels-object": dict(images=IMAGES, labels=np.array([None] * 12)),
    }
    if suffix == ".npz":
        for name, arrays in odd_npz.items():
            path = tmp_path / f"{name}.npz"
            path.write_bytes(npz_bytes(**arrays))
            bad += [f"{path.name}: {p}" for p in outcome(DataConfig(source=str(path), size=28), [path.name])]
    report(bad, f"odd {suffix} arrays")


def test_hostile_zip_members(tmp_path):
    """.npz files that are zips of something else."""
    bad = []
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    members = {
        "empty-zip": {}, "text-member": {"images.npy": b"hello"}, "pickle-member": {"images.pkl": pickle.dumps(Evil())},
        "evil-object-array": {"images.npy": npy_bytes(np.array([Evil()], dtype=object))},
        "dir-entry": {"images/": b""}, "nested-zip": {"images.npy": npz_bytes(images=IMAGES)},
        "huge-header": {"images.npy": b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 100},
        "claims-huge": {"images.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, "
                                      b"'shape': (1000000000000, 28, 28), }".ljust(117) + b"\n" + b"\0" * 64},
        "negative-shape": {"images.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, "
                                         b"'shape': (-5, 28, 28), }".ljust(117) + b"\n" + b"\0" * 64},
        "evil-descr": {"images.npy": b"\x93NUMPY\x01\x00v\x00{'descr': __import__('os').getcwd(), "
                                     b"'fortran_order': False, 'shape': (1,), }".ljust(117) + b"\n" + b"\0" * 64},
    }
    for name, files in members.items():
        path = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(path, "w") as z:
            for member, data in files.items():
                z.writestr(member, data)
        bad += [f"{path.name}: {p}" for p in outcome(DataConfig(source=str(path), size=28), [path.name])]
        bad += [f"{path.name}: ran code from the file" for _ in [0] if marker.exists()]
    report(bad, "hostile .npz files")


@fuzz(120)
@given(data=st.data())
def test_damaged_array_files(data, tmp_path_factory):
    suffix = data.draw(st.sampled_from([".npy", ".npz"]))
    raw = npy_bytes(IMAGES[:4]) if suffix == ".npy" else npz_bytes(images=IMAGES[:4], labels=np.arange(4))
    damaged, how = mutate(raw, data)
    path = tmp_path_factory.mktemp("arr") / f"x{suffix}"
    path.write_bytes(damaged)
    report([f"{suffix} {how}: {p}" for p in outcome(DataConfig(source=str(path), size=28), [path.name])],
           "damaged array file")


# --------------------------------------------------------------------------- IDX
def idx_bytes(a: np.ndarray) -> bytes:
    return bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape) + a.tobytes()


def idx_folder(folder: Path, images: bytes, labels: bytes, gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, data in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)


def idx_cfg(folder: Path) -> DataConfig:
    return DataConfig(source="mnist", data_dir=str(folder))


IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "mnist"]


def test_valid_idx_loads(tmp_path):
    for gz in (False, True):
        idx_folder(tmp_path / str(gz), idx_bytes(IMAGES), idx_bytes(np.arange(12, dtype=np.uint8)), gz)
        assert load_data(idx_cfg(tmp_path / str(gz)), progress=False).images.shape == (12, 1, 28, 28)


ODD_IDX = {
    "no-magic": b"\x01\x02\x03\x04" + bytes(100), "empty": b"", "three-bytes": b"\0\0\x08",
    "float-type": bytes([0, 0, 0x0D, 3]) + (12).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2,
    "ndim-0": bytes([0, 0, 8, 0]), "ndim-255": bytes([0, 0, 8, 255]) + bytes(40),
    "claims-4G-images": bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") * 3 + bytes(64),
    "overflowing-dims": bytes([0, 0, 8, 8]) + (2**32 - 1).to_bytes(4, "big") * 8,
    "zero-images": bytes([0, 0, 8, 3]) + (0).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2,
    "zero-size": bytes([0, 0, 8, 3]) + (12).to_bytes(4, "big") + (0).to_bytes(4, "big") * 2,
    "1-d-images": idx_bytes(np.zeros(12, np.uint8)), "4-d-images": idx_bytes(np.zeros((12, 28, 28, 1), np.uint8)),
    "not-square": idx_bytes(np.zeros((12, 28, 20), np.uint8)), "extra-bytes": idx_bytes(IMAGES) + b"x",
}


def test_odd_idx_files(tmp_path):
    bad = []
    labels = idx_bytes(np.arange(12, dtype=np.uint8))
    for gz in (False, True):
        for name, data in ODD_IDX.items():
            folder = tmp_path / f"{name}-{gz}"
            idx_folder(folder, data, labels, gz)
            bad += [f"images {name} (gz={gz}): {p}" for p in outcome(idx_cfg(folder), IDX_NAMES)]
        for name, data in {"labels-2d": idx_bytes(np.zeros((12, 2), np.uint8)),
                           "labels-short": idx_bytes(np.arange(5, dtype=np.uint8)),
                           "labels-empty-file": b""}.items():
            folder = tmp_path / f"{name}-{gz}"
            idx_folder(folder, idx_bytes(IMAGES), data, gz)
            bad += [f"{name} (gz={gz}): {p}" for p in outcome(idx_cfg(folder), IDX_NAMES)]
    # gzip trouble: not gzip after the magic, truncated gzip, gzip of garbage, multi-member
    raw = gzip.compress(idx_bytes(IMAGES))
    for name, data in {"gz-magic-then-junk": b"\x1f\x8b" + bytes(50), "gz-truncated": raw[: len(raw) // 2],
                       "gz-of-junk": gzip.compress(b"junk" * 10), "gz-two-members": raw + gzip.compress(b"x"),
                       "gz-bad-crc": raw[:-8] + bytes(8)}.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "train-images-idx3-ubyte.gz").write_bytes(data)
        (folder / "train-labels-idx1-ubyte").write_bytes(labels)
        bad += [f"{name}: {p}" for p in outcome(idx_cfg(folder), IDX_NAMES)]
    report(bad, "odd IDX files")


@fuzz(120)
@given(data=st.data())
def test_damaged_idx_files(data, tmp_path_factory):
    gz = data.draw(st.booleans())
    which = data.draw(st.sampled_from(["images", "labels"]))
    images, labels = idx_bytes(IMAGES[:6]), idx_bytes(np.arange(6, dtype=np.uint8))
    raw = images if which == "images" else labels
    raw = gzip.compress(raw) if gz and data.draw(st.booleans()) else raw  # damage the .gz itself, or its content
    damaged, how = mutate(raw, data)
    folder = tmp_path_factory.mktemp("idx")
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    for stem, content in zip(stems, (images, labels)):
        is_target = stem.startswith(f"train-{which}")
        body = damaged if is_target else content
        if gz and not (is_target and raw[:2] == b"\x1f\x8b"):
            body = gzip.compress(body)
        (folder / (stem + (".gz" if gz else ""))).write_bytes(body)
    report([f"{which} (gz={gz}) {how}: {p}" for p in outcome(idx_cfg(folder), IDX_NAMES)], "damaged IDX")


# --------------------------------------------------------------------------- CIFAR-10 batches
def cifar_batch(n=4, override: dict | None = None) -> dict:
    d = {b"data": np.random.default_rng(0).integers(0, 256, (n, 3072), dtype=np.uint8),
         b"labels": list(range(n)), b"batch_label": b"x"}
    d.update(override or {})
    return d


def cifar_folder(folder: Path, damaged: bytes | None = None, which: str = "data_batch_1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(cifar_batch()))
    (folder / "test_batch").write_bytes(pickle.dumps(cifar_batch()))
    if damaged is not None:
        (folder / which).write_bytes(damaged)
    return folder


def cifar_cfg(folder: Path) -> DataConfig:
    return DataConfig(source="cifar10", data_dir=str(folder))


CIFAR_NAMES = ["data_batch", "batches.meta", "test_batch", "cifar"]


def test_valid_cifar_loads(tmp_path):
    assert load_data(cifar_cfg(cifar_folder(tmp_path / "c")), progress=False).images.shape == (20, 3, 32, 32)


def test_hostile_cifar_batches(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    class EvalEvil:
        def __reduce__(self):
            return (eval, ("open(%r, 'w')" % str(marker),))

    cases = {
        "evil-open": pickle.dumps(Evil()), "evil-eval": pickle.dumps(EvalEvil()),
        "evil-inside-dict": pickle.dumps({b"data": Evil(), b"labels": [0]}),
        "list": pickle.dumps([1, 2, 3]), "none": pickle.dumps(None), "empty": b"", "text": b"hello",
        "no-data": pickle.dumps({b"labels": [0]}), "data-list": pickle.dumps(cifar_batch(override={b"data": [[0] * 3072]})),
        "data-float": pickle.dumps(cifar_batch(override={b"data": np.zeros((4, 3072))})),
        "data-wrong-width": pickle.dumps(cifar_batch(override={b"data": np.zeros((4, 100), np.uint8)})),
        "data-3d": pickle.dumps(cifar_batch(override={b"data": np.zeros((4, 3, 1024), np.uint8)})),
        "labels-short": pickle.dumps(cifar_batch(override={b"labels": [0]})),
        "labels-strings": pickle.dumps(cifar_batch(override={b"labels": ["a"] * 4})),
        "labels-huge": pickle.dumps(cifar_batch(override={b"labels": [2**70] * 4})),
        "labels-negative": pickle.dumps(cifar_batch(override={b"labels": [-3] * 4})),
        "labels-none": pickle.dumps(cifar_batch(override={b"labels": None})),
        "labels-dict": pickle.dumps(cifar_batch(override={b"labels": {0: 1}})),
        "str-keys": pickle.dumps({"data": cifar_batch()[b"data"], "labels": [0, 1, 2, 3]}),
        "protocol-0": pickle.dumps(cifar_batch(), protocol=0),
        "deep-nesting": b"(" * 100_000 + b"l" + b"." ,
        "truncated": pickle.dumps(cifar_batch())[:100],
    }
    bad = []
    for name, data in cases.items():
        folder = cifar_folder(tmp_path / name, data)
        bad += [f"data_batch_1 {name}: {p}" for p in outcome(cifar_cfg(folder), CIFAR_NAMES)]
        if marker.exists():
            bad.append(f"data_batch_1 {name}: unpickling ran code (it created {marker.name})")
            marker.unlink()
    for name, data in {"meta-evil": pickle.dumps(Evil()), "meta-garbage": b"\x80\x04junk",
                       "meta-names-ints": pickle.dumps({b"label_names": [1, 2, 3]}),
                       "meta-too-few-names": pickle.dumps({b"label_names": [b"a"]}),
                       "meta-empty-names": pickle.dumps({b"label_names": []})}.items():
        folder = cifar_folder(tmp_path / name, data, which="batches.meta")
        bad += [f"batches.meta {name}: {p}" for p in outcome(cifar_cfg(folder), CIFAR_NAMES)]
        if marker.exists():
            bad.append(f"batches.meta {name}: unpickling ran code")
            marker.unlink()
    report(bad, "hostile CIFAR-10 batches")


@fuzz(80)
@given(data=st.data())
def test_damaged_cifar_batches(data, tmp_path_factory):
    damaged, how = mutate(pickle.dumps(cifar_batch()), data)
    folder = cifar_folder(tmp_path_factory.mktemp("cifar") / "b", damaged)
    report([f"data_batch_1 {how}: {p}" for p in outcome(cifar_cfg(folder), CIFAR_NAMES)], "damaged CIFAR batch")


# --------------------------------------------------------------------------- PNG / JPEG folders
def image_bytes(fmt: str, size=(28, 28), mode="L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(IMAGES[0] if mode == "L" else np.stack([IMAGES[0]] * 3, -1)).resize(size).save(buf, format=fmt)
    return buf.getvalue()


def png_with_ihdr(width: int, height: int, rest: bytes = b"") -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + rest


def folder_cfg(folder: Path) -> DataConfig:
    return DataConfig(source=str(folder), size=28)


def test_hostile_image_files(tmp_path):
    png, jpg = image_bytes("PNG"), image_bytes("JPEG")
    cases = {
        "sig-then-junk.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "empty.png": b"", "text.png": b"hello",
        "half.png": png[: len(png) // 2], "header-only.png": png[:33], "bomb.png": png_with_ihdr(100_000, 100_000),
        "wide.png": png_with_ihdr(2**31 - 1, 1), "zero.png": png_with_ihdr(0, 0),
        "soi-then-junk.jpg": b"\xff\xd8\xff" + bytes(range(256)), "half.jpg": jpg[: len(jpg) // 2],
        "jpeg-named.png": jpg, "png-named.jpg": png, "gif-as-png.png": image_bytes("GIF"),
        "1x1.png": image_bytes("PNG", (1, 1)), "tall.png": image_bytes("PNG", (1, 3000)),
        "rgba.png": image_bytes("PNG", mode="RGB"),
    }
    bad = []
    for name, data in cases.items():
        for with_good in (False, True):
            folder = tmp_path / f"{name}-{with_good}"
            folder.mkdir()
            (folder / name).write_bytes(data)
            if with_good:
                (folder / "good.png").write_bytes(png)
            bad += [f"{name} (beside a good image: {with_good}): {p}"
                    for p in outcome(folder_cfg(folder), [name, folder.name])]
    report(bad, "hostile image files")


@fuzz(80)
@given(data=st.data())
def test_damaged_images(data, tmp_path_factory):
    fmt = data.draw(st.sampled_from(["PNG", "JPEG"]))
    damaged, how = mutate(image_bytes(fmt), data)
    folder = tmp_path_factory.mktemp("img")
    name = "x.png" if fmt == "PNG" else "x.jpg"
    (folder / name).write_bytes(damaged)
    report([f"{fmt} {how}: {p}" for p in outcome(folder_cfg(folder), [name, folder.name])], "damaged image")
