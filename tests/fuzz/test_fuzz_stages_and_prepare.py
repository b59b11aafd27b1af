"""The newer surfaces with random input: ProGAN's stage flags (``--stage-batch``, ``--stage-lr``)
and ``ganforge prepare-data`` on hostile folders (links to files and folders, links to nothing,
loops, RGBA and corrupt images, outputs that exist). Every outcome is a good result or one line
and exit 2 - never a traceback, never a set left half-replaced."""
from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fuzztest_util import fuzz, problems, report, run_cli
from ganforge.config import DataConfig
from ganforge.data import load_data

STAGES = (4, 8, 16, 32)  # the progan preset's stages (32 px)
BASE_BATCH = 64

_KEY = st.one_of(st.sampled_from(["4", "8", "16", "32", "64", "61", "0", "-8", "x", "", "1e3", "16.0"]),
                 st.integers(-10, 2**40).map(str))
_VALUE = st.one_of(st.sampled_from(["0.5", "2", "1", "0", "-1", "nan", "inf", "1e308", "1e-300", "x", ""]),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))
_TABLE = st.lists(st.tuples(_KEY, _VALUE), max_size=4).map(lambda kv: ",".join(f"{k}:{v}" for k, v in kv))


def stage_table_ok(text: str, flag: str) -> bool:
    """What a careful ganforge accepts for a stage table of the progan preset: SIZE:X pairs whose
    sizes are stages of the run and whose factors give a usable batch or learning rate."""
    pairs = [p for p in text.replace(" ", "").split(",") if p]
    sizes = [p.split(":")[0] for p in pairs]
    if any(re.fullmatch(r"[+-]?[0-9]+", k) for k in sizes) and len({int(k) for k in sizes
                                                                   if re.fullmatch(r"[+-]?[0-9]+", k)}) < len(sizes):
        return False  # a size named twice
    for p in pairs:
        if p.count(":") != 1:
            return False
        k, v = p.split(":")
        if not re.fullmatch(r"[+-]?[0-9]+", k):
            return False
        try:
            f = float(v)
        except ValueError:
            return False
        if not (math.isfinite(f) and f > 0) or int(k) not in STAGES:
            return False
        if flag == "--stage-batch" and BASE_BATCH * f > 2**31:
            return False
        if flag == "--stage-lr" and not math.isfinite(1e-3 * f):
            return False
    return True


@fuzz(120)
@given(flag=st.sampled_from(["--stage-batch", "--stage-lr"]), text=_TABLE)
def test_random_stage_tables(flag, text, capsys):
    o = run_cli(["train", "--dry-run", "--preset", "progan", f"{flag}={text}"], capsys)
    expect = "ok" if stage_table_ok(text, flag) else "error"
    report([f"{flag}={text!r}: {p}  [{o.show()}]" for p in problems(o, "train", expect, [flag])], flag)


# --------------------------------------------------------------------------- prepare-data
def _png(path, kind: str, rng) -> None:
    if kind == "grey":
        Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8)).save(path)
    elif kind == "rgb":
        Image.fromarray(rng.integers(0, 255, (10, 14, 3), dtype=np.uint8)).save(path)
    elif kind == "rgba":
        Image.fromarray(rng.integers(0, 255, (12, 12, 4), dtype=np.uint8), "RGBA").save(path)
    elif kind == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 255, 40, dtype=np.uint8)))
    else:  # empty
        path.write_bytes(b"")


@st.composite
def hostile_folders(draw):
    """A plan for a folder: class folders or a flat one, images of every kind, and links."""
    classes = draw(st.sampled_from([[], ["a"], ["a", "b"], ["a", "b", "c"]]))
    files = draw(st.lists(st.tuples(st.sampled_from(classes or [""]),
                                    st.sampled_from(["grey", "rgb", "rgba", "corrupt", "empty"])),
                          min_size=0, max_size=8))
    links = draw(st.lists(st.sampled_from(["to-file", "to-folder", "dangling", "loop", "to-outside"]), max_size=3))
    out = draw(st.sampled_from(["missing", "empty", "file", "prepared", "foreign"]))
    return classes, files, links, out, draw(st.booleans())


def _build(tmp, plan, rng):
    classes, files, links, out_state, _ = plan
    src = tmp / "src"
    src.mkdir()
    for c in classes:
        (src / c).mkdir()
    for i, (c, kind) in enumerate(files):
        _png(src / c / f"{i}.png", kind, rng)
    outside = tmp / "outside"
    outside.mkdir()
    _png(outside / "x.png", "rgb", rng)
    place = src / classes[0] if classes else src
    for j, kind in enumerate(links):
        name = place / f"link{j}"
        if kind == "to-file":
            name.with_suffix(".png").symlink_to(outside / "x.png")
        elif kind == "to-folder":
            name.symlink_to(outside, target_is_directory=True)
        elif kind == "dangling":
            name.with_suffix(".png").symlink_to(tmp / "nowhere.png")
        elif kind == "loop":
            name.symlink_to(src, target_is_directory=True)
        else:
            (src / f"ext{j}").symlink_to(outside, target_is_directory=True)
    out = tmp / "out"
    if out_state == "empty":
        out.mkdir()
    elif out_state == "file":
        out.write_text("a file")
    elif out_state == "foreign":
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    elif out_state == "prepared":
        good = tmp / "good"
        good.mkdir()
        for i in range(3):
            _png(good / f"{i}.png", "grey", rng)
        from ganforge.data.prepared import prepare_folder

        prepare_folder(good, 8, out, progress=False)
    return src, out


@fuzz(60)
@given(plan=hostile_folders(), size=st.sampled_from([8, 16]))
def test_prepare_data_on_hostile_folders(plan, size, capsys, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prep")
    src, out = _build(tmp, plan, np.random.default_rng(0))
    overwrite = plan[4]
    before = None
    if (out / "prepared.json").is_file():
        before = load_data(DataConfig(source=str(out)), progress=False).images.clone()
    o = run_cli(["prepare-data", src, "--size", size, "--out", out, "--no-progress",
                 *(["--overwrite"] if overwrite else [])], capsys)
    found = problems(o, "prepare-data", "either")
    if o.exc is None and o.code == 0:
        data = load_data(DataConfig(source=str(out)), progress=False)
        if data.images.shape[2:] != (size, size) or data.images.shape[0] < 1:
            found.append(f"prepared a malformed set {tuple(data.images.shape)}")
        left = [f.name for f in out.iterdir() if f.name.endswith((".part", ".tmp"))]
        if left:
            found.append(f"left temp files {left}")
    elif before is not None:  # refused or failed: the set that was there is still whole
        now = load_data(DataConfig(source=str(out)), progress=False).images
        if not torch.equal(now, before):
            found.append("the set that was in --out changed although prepare-data failed")
    if plan[3] == "foreign" and (out / "notes.txt").read_text() != "keep me":
        found.append("a file that is not part of a set was touched")
    report([f"{plan}: {p}  [{o.show()}]" for p in found], "prepare-data")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_rgba_and_link_examples_prepare(capsys, tmp_path):
    """One fixed plan with every kind at once prepares, skipping only what cannot be read."""
    plan = (["a", "b"], [("a", "rgba"), ("b", "grey"), ("a", "corrupt"), ("b", "rgb")],
            ["to-file", "to-folder", "dangling", "loop"], "missing", False)
    src, out = _build(tmp_path, plan, np.random.default_rng(0))
    o = run_cli(["prepare-data", src, "--size", 8, "--out", out, "--no-progress"], capsys)
    report([f"{p}  [{o.show()}]" for p in problems(o, "prepare-data", "ok")], "prepare-data")
    data = load_data(DataConfig(source=str(out)), progress=False)
    assert data.images.shape[0] == 5  # rgba, grey, rgb, the linked file and the linked folder's image
