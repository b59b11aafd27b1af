"""Export: the safetensors writer/reader, and round trips of G through each format."""
from __future__ import annotations

import importlib.util
import json
import struct
import sys

import pytest
import torch

from ganforge.config import RunConfig
from ganforge.errors import GanforgeError
from ganforge.export import (
    check_onnx,
    export_generator,
    load_safetensors_generator,
    read_safetensors,
    write_safetensors,
)
from ganforge.models import build_models
from toolstest_util import TinyCondG

HAVE_ONNX = importlib.util.find_spec("onnx") is not None
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
NO_ONNX = "onnx is not installed (pip install ganforge[onnx])"
NO_ORT = "onnxruntime is not installed (pip install ganforge[onnx])"


def _tiny_dcgan(num_classes: int = 0):
    cfg = RunConfig()
    cfg.model.g_channels = 8
    cfg.model.z_dim = 16
    cfg.model.num_classes = num_classes
    cfg.model.conditional = bool(num_classes)
    torch.manual_seed(0)
    G, _ = build_models(cfg.model, 1, 28)
    # non-trivial BatchNorm statistics, so a lost buffer would show
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(7)
    return G.eval(), cfg


def test_safetensors_writer_and_reader_round_trip_every_dtype(tmp_path):
    tensors = {
        "f32": torch.randn(3, 4), "f64": torch.randn(2, dtype=torch.float64), "bf16": torch.randn(5).bfloat16(),
        "f16": torch.randn(2, 2).half(), "i64": torch.tensor([-1, 2**40]), "u8": torch.arange(7, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]), "scalar": torch.tensor(3.5), "empty": torch.empty(0, 3),
        "strided": torch.arange(12.0).reshape(3, 4).T,
    }
    path = write_safetensors(tensors, tmp_path / "t.safetensors", {"note": "hello"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert (8 + n) % 8 == 0 and header["__metadata__"] == {"note": "hello"}
    assert header["bf16"]["dtype"] == "BF16" and header["scalar"]["shape"] == []
    back, meta = read_safetensors(path)
    assert meta == {"note": "hello"} and set(back) == set(tensors)
    for k, t in tensors.items():
        assert back[k].dtype == t.dtype and back[k].shape == t.shape and torch.equal(back[k], t), k


def test_safetensors_file_reads_with_the_reference_library_when_installed(tmp_path):
    if importlib.util.find_spec("safetensors") is None:
        pytest.skip("the safetensors package is not installed (pip install ganforge[safetensors])")
    from safetensors.torch import load_file, save_file

    tensors = {"a": torch.randn(3, 2), "b": torch.arange(5), "c": torch.randn(4).bfloat16()}
    write_safetensors(tensors, tmp_path / "t.safetensors", {"k": "v"})
    loaded = load_file(str(tmp_path / "t.safetensors"))
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    save_file(tensors, str(tmp_path / "ref.safetensors"), metadata={"k": "v"})
    back, meta = read_safetensors(tmp_path / "ref.safetensors")
    assert meta == {"k": "v"} and all(torch.equal(back[k], tensors[k]) for k in tensors)


def test_without_the_safetensors_package_the_error_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(GanforgeError, match=r"pip install ganforge\[safetensors\]"):
        write_safetensors({"x": torch.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(GanforgeError, match=r"pip install ganforge\[safetensors\]"):
        read_safetensors(tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_malformed_safetensors_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05")
    with pytest.raises(GanforgeError, match="too short"):
        read_safetensors(bad)
    bad.write_bytes(struct.pack("<Q", 10**6) + b"{}")
    with pytest.raises(GanforgeError, match="exceeds"):
        read_safetensors(bad)
    header = json.dumps({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)  # 8 bytes where 16 belong
    with pytest.raises(GanforgeError, match="not a safetensors file"):
        read_safetensors(bad)
    write_safetensors({"x": torch.zeros(2)}, bad)
    with pytest.raises(GanforgeError, match="not a ganforge generator"):
        load_safetensors_generator(bad)


@pytest.mark.parametrize("num_classes", [0, 3])
def test_safetensors_export_round_trips_bit_exactly(tmp_path, num_classes):
    G, cfg = _tiny_dcgan(num_classes)
    names = ["a", "b", "c"] if num_classes else None
    rep = export_generator(G, tmp_path / "g.safetensors", "safetensors", config=cfg.to_dict(), class_names=names)
    assert rep["max_abs_diff"] == 0.0
    rng_before = torch.get_rng_state()
    G2 = load_safetensors_generator(tmp_path / "g.safetensors")
    assert torch.equal(torch.get_rng_state(), rng_before)  # loading does not disturb the user's RNG
    s1, s2 = G.state_dict(), G2.state_dict()
    assert s1.keys() == s2.keys()
    assert all(s1[k].dtype == s2[k].dtype and torch.equal(s1[k], s2[k]) for k in s1)
    z = torch.randn(4, 16)
    args = (z, torch.tensor([0, 1, 2, 0])) if num_classes else (z,)
    with torch.no_grad():
        assert torch.equal(G(*args), G2(*args))
    side = json.loads((tmp_path / "g.safetensors.json").read_text())
    assert side["z_dim"] == 16 and side["output"]["shape"] == ["N", 1, 28, 28]
    assert side["output"]["range"] == [-1.0, 1.0] and "127.5" in side["output"]["to_uint8"]
    assert side["class_names"] == names
    assert [i["name"] for i in side["inputs"]] == (["z", "y"] if num_classes else ["z"])
    assert getattr(G2, "class_names", None) == names


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_torchscript_export_reloads_and_matches(tmp_path):
    for G in (_tiny_dcgan()[0], TinyCondG()):
        path = tmp_path / f"{type(G).__name__}.pt"
        rep = export_generator(G, path, "torchscript")
        assert rep["max_abs_diff"] is not None and rep["max_abs_diff"] < 1e-6
        m = torch.jit.load(str(path))
        z = torch.randn(6, G.z_dim)
        args = (z, torch.arange(6) % 3) if G.num_classes else (z,)
        with torch.no_grad():
            assert torch.allclose(m(*args), G(*args), atol=1e-6)


@pytest.mark.skipif(not (HAVE_ONNX and HAVE_ORT), reason=NO_ONNX if not HAVE_ONNX else NO_ORT)
def test_onnx_export_runs_in_onnxruntime_within_1e4(tmp_path):
    G = TinyCondG()  # the conditional signature: inputs z and y
    rep = export_generator(G, tmp_path / "g.onnx", "onnx")
    assert rep["checked"] == "ran with onnxruntime" and rep["max_abs_diff"] <= 1e-4
    diff, how = check_onnx(G, tmp_path / "g.onnx", n=7)  # another batch size than the export's
    assert diff <= 1e-4
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["z", "y"]


def test_onnx_without_the_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with pytest.raises(GanforgeError, match=r"pip install ganforge\[onnx\]"):
        export_generator(TinyCondG(), tmp_path / "g.onnx", "onnx")
    assert not (tmp_path / "g.onnx").exists()


def test_unknown_format_is_an_error(tmp_path):
    with pytest.raises(GanforgeError, match="--format"):
        export_generator(TinyCondG(), tmp_path / "g.x", "pickle")
