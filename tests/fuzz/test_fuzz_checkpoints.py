"""Broken and hostile checkpoints given to ``generate``, ``evaluate``, ``export`` and
``interpolate``: truncated at random offsets, damaged bytes, keys missing or of the wrong type,
tensors of the wrong shape, another architecture's weights, and pickles whose ``__reduce__`` would
run code (refused, and the code never runs). Each is exit 2 with one line naming the file; no
traceback, no user file replaced, no temp file left."""
from __future__ import annotations

import copy
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fuzztest_util import file_problems, fuzz, problems, report, run_cli, snapshot, user_folder
from test_fuzz_data_files import mutate


def commands(ckpt: Path) -> dict[str, list[str]]:
    c = str(ckpt)
    return {
        "generate": ["generate", c, "-n", "2", "--out", "g.npy"],
        "generate-trunc": ["generate", c, "-n", "2", "--truncation", "0.5", "--out", "g2.npy"],
        "evaluate": ["evaluate", c, "-n", "10", "--no-floor", "--no-progress", "--json"],
        "export": ["export", c, "--format", "safetensors", "--out", "e.safetensors"],
        "export-ts": ["export", c, "--format", "torchscript", "--out", "e.pt"],
        "interpolate": ["interpolate", c, "--seeds", "1,2", "--steps", "2", "--out", "walk"],
    }


@pytest.fixture(scope="module")
def good(tiny_run):
    return torch.load(tiny_run / "checkpoint.pt", map_location="cpu", weights_only=True)


def check(capsys, base: Path, ckpt: Path, which: list[str], expect="error", label="") -> list[str]:
    bad = []
    for name in which:
        argv = commands(ckpt)[name]
        with user_folder(base) as cwd:
            before = {str(ckpt.parent): snapshot(ckpt.parent)}
            o = run_cli(argv, capsys)
            found = problems(o, argv[0], expect, [str(ckpt), ckpt.name, ckpt.parent.name])
            found += file_problems(cwd, watched=[ckpt.parent], before=before)
        bad += [f"{label} | {name}: {p}  [{o.show()}]" for p in found]
    return bad


ALL = ["generate", "generate-trunc", "evaluate", "export", "export-ts", "interpolate"]
QUICK = ["generate", "export", "interpolate"]


def refused_by_every_command(target, tmp_path, capsys, marker=None) -> list[str]:
    """Every command of ALL given ``target``: what is wrong where one did not refuse it with one
    line, left files behind, or (``marker`` exists) ran the code of a pickle."""
    bad = []
    for cmd in ALL:
        argv = commands(target)[cmd]
        with user_folder(tmp_path) as cwd:
            o = run_cli(argv, capsys)
            found = problems(o, argv[0], "error", [str(target), target.name]) + file_problems(cwd)
        if marker is not None and marker.exists():
            found.append("THE PICKLE RAN CODE (the marker file exists)")
            marker.unlink()
        bad += [f"{cmd}: {p}  [{o.show()}]" for p in found]
    return bad


def test_the_good_checkpoint_works(good, tmp_path, capsys):
    ckpt = tmp_path / "ck" / "checkpoint.pt"
    ckpt.parent.mkdir()
    torch.save(good, ckpt)
    report(check(capsys, tmp_path, ckpt, ALL, expect="ok", label="unchanged"), "the unchanged checkpoint")


def _variants(good: dict) -> dict[str, dict]:
    from ganforge.models import build_models
    from ganforge.presets import get_preset

    out = {}
    for key in list(good):
        d = dict(good)
        del d[key]
        out[f"no {key!r}"] = d

    def with_(label, **kv):
        d = copy.copy(good)
        d.update(kv)
        out[label] = d

    for bad in ("x", 5, [], None, {"model": "x"}, {"model": {"z_dim": -1}}, {"model": {"arch": "nope"}},
                {"model": {"z_dim": 10**12}}, {"nope": {}}, {"model": {"g_channels": 0}},
                {"model": {"z_dim": "abc"}}):
        cfg = copy.deepcopy(good["config"])
        if isinstance(bad, dict):
            for section, fields in bad.items():
                if isinstance(fields, dict) and isinstance(cfg.get(section), dict):
                    cfg[section].update(fields)
                else:
                    cfg[section] = fields
            with_(f"config {bad!r}", config=cfg)
        else:
            with_(f"config = {bad!r}", config=bad)
    for v in ("x", -1, 0, 2, 10**9, None, 1.5):
        with_(f"img_channels = {v!r}", img_channels=v)
    for v in ("x", -5, 0, 1000, None, 2**70):
        with_(f"img_size = {v!r}", img_size=v)
    for v in ("x", None, 2**70):
        with_(f"step = {v!r}", step=v)
    for v in ("other", None, 5):
        with_(f"format = {v!r}", format=v)
    for v in (999, "x", None, -1):
        with_(f"version = {v!r}", version=v)
    for v in (5, "abc", {"a": 1}, [1, 2]):
        with_(f"class_names = {v!r}", class_names=v)
    G = good["G"]
    first = next(iter(G))
    with_("G = 'x'", G="x")
    with_("G = {}", G={})
    with_("G with an extra tensor", G={**G, "extra.weight": torch.zeros(3)})
    with_("G with a tensor of the wrong shape", G={**G, first: torch.zeros(*G[first].shape[:-1], G[first].shape[-1] + 1)})
    with_("G with a tensor of the wrong rank", G={**G, first: G[first].flatten()})
    with_("G with an int tensor", G={**G, first: G[first].to(torch.int64)})
    with_("G with NaN weights", G={k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in G.items()})
    with_("G with a non-tensor", G={**G, first: "x"})
    with_("G_ema with the wrong shapes", G_ema={k: torch.zeros(1) for k in G})
    # another architecture's checkpoint: the weights of a different preset's G under this config
    other = get_preset("geron-dense")
    other.model.num_classes = 0
    G_other, _ = build_models(other.model, 1, 28)
    with_("G of another architecture (geron-dense)", G=G_other.state_dict())
    with_("config of another architecture (geron-dense)", config=other.to_dict())
    bigger = copy.deepcopy(good["config"])
    bigger["model"]["g_channels"] = 16
    with_("config with g_channels 16 (weights of 8)", config=bigger)
    return out


# What a generator command needs from a checkpoint; any other key may go missing.
NEEDED = {"format", "G", "config", "img_channels", "img_size"}
# Damage a generator command may shrug off: a readable value, weights that load.
HARMLESS = {"img_channels = 1.5", "version = -1", "class_names = 'abc'", "class_names = {'a': 1}",
            "class_names = [1, 2]", "G with NaN weights", "G with an int tensor", "step = 1180591620717411303424"}


def test_damaged_structure(good, tmp_path, capsys):
    bad = []
    for i, (label, d) in enumerate(_variants(good).items()):
        ckpt = tmp_path / f"v{i}" / "checkpoint.pt"
        ckpt.parent.mkdir()
        torch.save(d, ckpt)
        missing_ok = label.startswith("no ") and label[4:-1] not in NEEDED
        expect = "either" if label in HARMLESS or missing_ok else "error"
        bad += check(capsys, tmp_path, ckpt, [QUICK[i % len(QUICK)]], expect=expect, label=label)
    report(bad, "checkpoints with damaged contents")


class Evil:
    """Unpickling this creates the marker file (builtins.open): a checkpoint that runs code."""

    marker: Path

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickles_that_would_run_code_are_refused(good, tmp_path, capsys):
    marker = tmp_path / "pwned"
    Evil.marker = marker
    evil = Evil()
    files = {}
    d = tmp_path / "evil"
    d.mkdir()
    torch.save({**good, "extra": evil}, d / "zip-extra.pt")
    torch.save(evil, d / "zip-only.pt")
    torch.save({**good, "config": {"model": evil}}, d / "zip-in-config.pt")
    with open(d / "raw-pickle.pt", "wb") as f:
        pickle.dump({**{k: v for k, v in good.items() if not torch.is_tensor(v)}, "extra": evil}, f, protocol=2)
    with open(d / "raw-pickle-only.pt", "wb") as f:
        pickle.dump(evil, f)
    for p in sorted(d.iterdir()):
        files[p.name] = p
    bad = []
    for name, path in files.items():
        run = tmp_path / f"run-{name}"
        run.mkdir()
        shutil.copy(path, run / "checkpoint.pt")
        for target in (path, run):
            bad += [f"{name} via {'folder' if target == run else 'file'} | {p}"
                    for p in refused_by_every_command(target, tmp_path, capsys, marker)]
    # latent_mean.pt beside a good checkpoint: read with --truncation, must not run code either
    run = tmp_path / "run-evil-mean"
    run.mkdir()
    torch.save(good, run / "checkpoint.pt")
    torch.save(evil, run / "latent_mean.pt")
    with user_folder(tmp_path):
        o = run_cli(["generate", str(run), "-n", "2", "--truncation", "0.5", "--out", "g.npy"], capsys)
    bad += [f"evil latent_mean.pt: {p}  [{o.show()}]" for p in problems(o, "generate", "either", [str(run)])]
    if marker.exists():
        bad.append("evil latent_mean.pt: THE PICKLE RAN CODE (the marker file exists)")
    report(bad, "pickles that would run code")


def test_not_checkpoints_at_all(good, tmp_path, capsys):
    cases = {"empty.pt": b"", "text.pt": b"hello world", "zip-of-junk.pt": None, "npy.pt": None, "folder.pt": None}
    d = tmp_path / "files"
    d.mkdir()
    for name, data in cases.items():
        if data is not None:
            (d / name).write_bytes(data)
    import zipfile

    import numpy as np

    with zipfile.ZipFile(d / "zip-of-junk.pt", "w") as z:
        z.writestr("archive/data.pkl", b"junk")
    np.save(d / "npy.pt.npy", np.zeros(3))
    (d / "npy.pt.npy").rename(d / "npy.pt")
    (d / "folder.pt").mkdir()
    run_with_dir = tmp_path / "run-ckpt-is-dir"
    (run_with_dir / "checkpoint.pt").mkdir(parents=True)
    empty_run = tmp_path / "empty-run"
    empty_run.mkdir()
    targets = [d / n for n in cases] + [run_with_dir, empty_run, tmp_path / "missing.pt", tmp_path / "missing-dir"]
    bad = [f"{target.name} | {p}" for target in targets for p in refused_by_every_command(target, tmp_path, capsys)]
    report(bad, "files that are not checkpoints")


@fuzz(40)
@given(data=st.data())
def test_damaged_bytes(good, data, tmp_path_factory, capsys):
    base = tmp_path_factory.mktemp("dmg")
    ckpt = base / "ck" / "checkpoint.pt"
    ckpt.parent.mkdir()
    torch.save(good, ckpt)
    raw = ckpt.read_bytes()
    damaged, how = mutate(raw, data)
    ckpt.write_bytes(damaged)
    cmd = data.draw(st.sampled_from(QUICK))
    # A truncated file is never a whole checkpoint; other damage may hit bytes torch never reads.
    expect = "error" if how.startswith("truncated") else "either"
    report(check(capsys, base, ckpt, [cmd], expect=expect, label=how), "damaged checkpoint bytes")
