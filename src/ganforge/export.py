"""Export a trained generator alone, for use outside ganforge: safetensors, TorchScript or ONNX.

Every export is G in eval mode with inputs ``z`` float32 (N, z_dim) drawn from N(0, I) (and, for
a class-conditional G, ``y`` int64 (N,) class ids) and output ``images`` float32 (N, C, H, W) in
G's range. A JSON sidecar ``PATH.json`` says all of that, plus the class names and how to turn
the output into uint8 pixels, so the file can be used without reading this code.

A style-based G (StyleGAN2) exports whole, z in (its mapping network is in the graph), or with
``synthesis=True`` its synthesis network alone (TorchScript, ONNX): input ``ws`` float32
(N, num_ws, w_dim), the per-layer styles, for style mixing and truncation outside the graph.
Either graph draws StyleGAN2's layer noise from its stored maps (noise mode const), so an
exported file is a function of its inputs alone.

The safetensors file is written and read by the ``safetensors`` package (the ``safetensors``
extra); its ``__metadata__`` holds the run's config, from which
:func:`load_safetensors_generator` rebuilds G exactly.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import struct
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import GanforgeError
from .generator import has_noise, has_w_space, load_weights
from .images import atomic_write

FORMATS = {"safetensors": ".safetensors", "torchscript": ".torchscript.pt", "onnx": ".onnx"}
# The file endings that say which format a file is: an --out ending in another format's is refused.
SUFFIXES = {"safetensors": (".safetensors",), "torchscript": (".pt", ".pth", ".torchscript", ".jit"),
            "onnx": (".onnx",)}
SAFETENSORS_FORMAT = "ganforge-generator"
ONNX_INSTALL = "pip install ganforge[onnx]"
ONNX_TOLERANCE = 1e-4

_RANGES = {
    "tanh": ([-1.0, 1.0], "uint8 = clamp(round((x + 1) * 127.5), 0, 255)"),
    "linear": ([-1.0, 1.0], "uint8 = clamp(round((x + 1) * 127.5), 0, 255)  (unbounded output; data was in [-1, 1])"),
    "sigmoid": ([0.0, 1.0], "uint8 = clamp(round(x * 255), 0, 255)"),
}


# --------------------------------------------------------------------------- safetensors
SAFETENSORS_INSTALL = "pip install ganforge[safetensors]"


def _safetensors():
    """``safetensors.torch`` (the package is an extra), or a clear error naming its install command.
    Its ``load`` parses the safetensors format (a JSON header and raw bytes): no pickle, no code."""
    try:
        from safetensors import torch as safetensors_torch
    except ImportError:
        raise GanforgeError(f"safetensors files need the safetensors package: {SAFETENSORS_INSTALL}") from None
    return safetensors_torch


def write_safetensors(tensors: dict[str, torch.Tensor], path: str | Path,
                      metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` as a safetensors file (atomically), with string ``metadata``."""
    stt = _safetensors()
    if metadata and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("safetensors metadata must map strings to strings")
    # the library refuses tensors that share memory or are not contiguous: give it plain copies
    plain = {name: t.detach().cpu().contiguous().clone() for name, t in tensors.items()}
    blob = stt.save(plain, metadata=dict(metadata) if metadata else None)
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        f.write(blob)
    return path


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file: (tensors on the CPU, metadata). Malformed files raise GanforgeError."""
    stt = _safetensors()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GanforgeError(f"{path}: cannot read ({e.strerror or e})") from None
    bad = f"{path}: not a safetensors file"
    if len(raw) < 8:
        raise GanforgeError(f"{bad} (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise GanforgeError(f"{bad} (header length {n} exceeds the file)")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        tensors = stt.load(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GanforgeError(f"{bad} (header is not JSON)") from None
    except Exception as e:  # the library's SafetensorError: a header that does not match the data
        raise GanforgeError(f"{bad} ({str(e).strip() or type(e).__name__})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return tensors, dict(meta or {})


def generator_info(G: nn.Module, config: dict[str, Any] | None = None,
                   class_names: list[str] | None = None) -> dict[str, Any]:
    """What a user of the exported G needs to know: inputs, output shape and range, classes."""
    from . import __version__

    k = int(getattr(G, "num_classes", 0) or 0)
    value_range, to_uint8 = _RANGES[G.output]
    inputs = [{"name": "z", "dtype": "float32", "shape": ["N", int(G.z_dim)],
               "meaning": "latent noise, each value drawn from N(0, 1)"}]
    if k:
        inputs.append({"name": "y", "dtype": "int64", "shape": ["N"], "meaning": f"class ids in [0, {k})"})
    info = {
        "generator": type(G).__name__,
        # which weights of the run: the moving average G_ema when the run kept one, else G
        "weights": "G_ema" if getattr(G, "is_ema", False) else "G",
        "z_dim": int(G.z_dim), "num_classes": k,
        "class_names": list(class_names) if class_names else None,
        "inputs": inputs,
        "output": {"name": "images", "dtype": "float32", "layout": "NCHW",
                   "shape": ["N", int(G.img_channels), int(G.img_size), int(G.img_size)],
                   "activation": G.output, "range": value_range, "to_uint8": to_uint8},
        "ganforge_version": __version__, "config": config,
    }
    if has_w_space(G):  # a style-based G: what the truncation trick in W needs, outside the graph
        info["w_space"] = {"w_dim": int(G.w_dim), "num_ws": int(G.num_ws), "w_avg": G.w_avg.float().tolist(),
                           "note": "the graph takes z and runs the mapping network (z -> w) and the synthesis "
                                   "network; the truncation trick, w' = w_avg + psi (w - w_avg), is not in it"}
    return info


def _safetensors_metadata(info: dict[str, Any], config: dict[str, Any] | None) -> dict[str, str]:
    meta = {"format": SAFETENSORS_FORMAT, "img_channels": str(info["output"]["shape"][1]),
            "img_size": str(info["output"]["shape"][2]), "z_dim": str(info["z_dim"]),
            "output": info["output"]["activation"], "num_classes": str(info["num_classes"]),
            "class_names": json.dumps(info["class_names"]), "ganforge_version": info["ganforge_version"]}
    if config is not None:
        meta["config"] = json.dumps(config, sort_keys=True)
    return meta


def load_safetensors_generator(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild G from a ganforge safetensors export (its config metadata) and load its weights.

    Returns G in eval mode, with ``class_names`` set when the export had them. Building G does
    not disturb torch's global RNG.
    """
    from .config import RunConfig
    from .models import build_models

    tensors, meta = read_safetensors(path)
    if meta.get("format") != SAFETENSORS_FORMAT or "config" not in meta:
        raise GanforgeError(f"{path}: a safetensors file, but not a ganforge generator export "
                            f"(no ganforge config in its metadata)")
    try:
        cfg = RunConfig.from_stored(json.loads(meta["config"]))
        channels, size = int(meta["img_channels"]), int(meta["img_size"])
        with torch.random.fork_rng(devices=[]):
            G, _ = build_models(cfg.model, channels, size)
    except (GanforgeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise GanforgeError(f"{path}: damaged ganforge generator export: its stored config does not read "
                            f"({' '.join(str(e).split())[:200]})") from None
    load_weights(G, tensors, str(path), "tensors", "generator export")
    names = json.loads(meta.get("class_names") or "null")
    if names:
        G.class_names = names
    G.export_path = str(path)
    return G.to(device).eval()


# --------------------------------------------------------------------------- export


class ConstNoiseExport(nn.Module):
    """G with layer noise (StyleGAN2) as an exported graph draws it: with its stored noise maps
    (noise mode const), so the file is a function of its inputs alone."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.G(z, noise_mode="const") if y is None else self.G(z, y, noise_mode="const")


class SynthesisExport(nn.Module):
    """A style-based G's synthesis network alone: ws (N, num_ws, w_dim) -> images (N, C, H, W),
    with the stored noise maps."""

    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        return self.G.synthesis(ws, "const")


def _input_names(G: nn.Module, n_inputs: int) -> list[str]:
    return ["ws"] if isinstance(G, SynthesisExport) else ["z", "y"][:n_inputs]


def _example_inputs(G: nn.Module, n: int = 2) -> tuple[torch.Tensor, ...]:
    if isinstance(G, ConstNoiseExport):
        return _example_inputs(G.G, n)
    if isinstance(G, SynthesisExport):  # mapped latents, varied per layer as mixed styles are
        g, S = torch.Generator().manual_seed(0), G.G
        with torch.no_grad():
            w = S.mapping(torch.randn(n, S.z_dim, generator=g))
        return (w[:, None] + 0.1 * torch.randn(n, S.num_ws, S.w_dim, generator=g),)
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(0))
    k = int(getattr(G, "num_classes", 0) or 0)
    return (z, torch.arange(n, dtype=torch.int64) % k) if k else (z,)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def export_generator(G: nn.Module, path: str | Path, fmt: str, *, config: dict[str, Any] | None = None,
                     class_names: list[str] | None = None, check: bool = True,
                     synthesis: bool = False) -> dict[str, Any]:
    """Write G alone to ``path`` in format ``fmt`` (safetensors, torchscript or onnx) and the
    sidecar ``path + ".json"``.

    config: the run's config dict (needed to rebuild G from a safetensors file). check: reload
    the file and compare its output with G's on a few latents (ONNX: only if onnxruntime is
    installed). synthesis: a style-based G's synthesis network alone, input ws (TorchScript, ONNX).
    Returns a report: ``path``, ``sidecar``, ``checked`` (str, what was compared, or why not) and
    ``max_abs_diff`` (float or None).
    """
    path = check_export_path(path, fmt)
    G = G.eval()
    device = next(G.parameters()).device
    if device.type != "cpu":
        G = G.cpu()
    info = generator_info(G, config, class_names)
    info["format"] = fmt
    info["file"] = path.name
    if synthesis:
        if not has_w_space(G):
            raise GanforgeError(f"--synthesis: only a style-based generator (--arch stylegan2) has a synthesis "
                                f"network to export alone; this run's is a {type(G).__name__}")
        if fmt == "safetensors":
            raise GanforgeError("--synthesis: a safetensors file holds the weights of the whole G already "
                                "(G.synthesis is in it); use --format onnx or torchscript")
        info["inputs"] = [{"name": "ws", "dtype": "float32", "shape": ["N", int(G.num_ws), int(G.w_dim)],
                           "meaning": "the style of each layer: w = G.mapping(z) repeated num_ws times "
                                      "(truncated: w_avg + psi (w - w_avg)), or mixed or projected styles"}]
        info["generator"] += ".synthesis"
    if has_noise(G):
        info["noise"] = "the layer noise is the stored maps (noise mode const): the graph has no random input"
    weights = G
    G = SynthesisExport(G).eval() if synthesis else ConstNoiseExport(G).eval() if has_noise(G) else G
    inputs = _example_inputs(G, 3)
    with torch.no_grad():
        expected = G(*inputs)
    diff, checked = None, "not checked"
    if fmt == "safetensors":
        if config is None:
            raise GanforgeError("safetensors export needs the run's config to rebuild G")
        write_safetensors(dict(weights.state_dict()), path, _safetensors_metadata(info, config))
        info["load_with"] = "ganforge.export.load_safetensors_generator(path)"
        if check:
            G2 = load_safetensors_generator(path)
            G2 = ConstNoiseExport(G2) if has_noise(G2) else G2
            with torch.no_grad():
                diff = _max_diff(G2(*inputs), expected)
            checked = "reloaded with load_safetensors_generator"
    elif fmt == "torchscript":
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # jit deprecation and tracer notes about the shape check
            traced = torch.jit.trace(G, inputs, check_trace=False)
            with atomic_write(path) as tmp, open(tmp, "wb") as f:
                torch.jit.save(traced, f)
        info["load_with"] = "torch.jit.load(path)"
        if check:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                m = torch.jit.load(str(path))
                other = _example_inputs(G, 5)  # another batch size: the trace must not have fixed it
                diff = max(_max_diff(m(*inputs), expected), _max_diff(m(*other), G(*other)))
            checked = "reloaded with torch.jit.load"
    else:
        _export_onnx(G, inputs, path)
        info["load_with"] = "onnxruntime.InferenceSession(path)"
        if check:
            diff, checked = check_onnx(G, path)
    sidecar = sidecar_path(path)
    with atomic_write(sidecar) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    return {"path": path, "sidecar": sidecar, "checked": checked, "max_abs_diff": diff}


def _need_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise GanforgeError(f"ONNX export needs the onnx package: {ONNX_INSTALL}") from None


def _export_onnx(G: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path) -> None:
    _need_onnx()
    names = _input_names(G, len(inputs))
    try:
        import onnxscript  # noqa: F401  (the torch.export-based exporter needs it)
        dynamo = True
    except ImportError:
        dynamo = False  # the older TorchScript-based exporter needs only onnx
    # The exporter logs notes meant for its developers (e.g. about torchvision ops); keep them quiet.
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with atomic_write(path) as tmp:
            _run_onnx_export(G, inputs, names, tmp, dynamo)
    finally:
        log.setLevel(level)


def _run_onnx_export(G: nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str], tmp: Path,
                     dynamo: bool) -> None:
    with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            batch = torch.export.Dim("N", min=1)
            shapes = {n: {0: batch} for n in names}
            torch.onnx.export(G, inputs, str(tmp), input_names=names, output_names=["images"],
                              dynamic_shapes=shapes, dynamo=True, verbose=False, external_data=False)
        else:
            axes = {n: {0: "N"} for n in names + ["images"]}
            torch.onnx.export(G, inputs, str(tmp), input_names=names, output_names=["images"],
                              dynamic_axes=axes, dynamo=False)


def check_onnx(G: nn.Module, path: str | Path, n: int = 5) -> tuple[float | None, str]:
    """Run the ONNX file with onnxruntime and compare with G: (max |diff|, what was done).

    Without onnxruntime: (None, the reason). A difference above 1e-4 raises GanforgeError.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        return None, f"not checked: onnxruntime is not installed ({ONNX_INSTALL})"
    inputs = _example_inputs(G, n)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs)}
    out = torch.from_numpy(sess.run(None, feed)[0])
    with torch.no_grad():
        diff = _max_diff(out, G(*inputs))
    if not diff <= ONNX_TOLERANCE:
        raise GanforgeError(f"{path}: onnxruntime's output differs from PyTorch's by {diff:.2e} "
                            f"(more than {ONNX_TOLERANCE:g})")
    return diff, "ran with onnxruntime"


def check_export_path(path: str | Path, fmt: str, flag: str = "--out") -> Path:
    """``path`` as a Path, or GanforgeError naming ``flag``: an unknown format, a folder, or a
    file name whose ending says another format (``g.onnx`` with torchscript)."""
    if fmt not in FORMATS:
        raise GanforgeError(f"--format: must be {', '.join(FORMATS)}, not {fmt!r}")
    path = Path(path)
    if path.is_dir():
        raise GanforgeError(f"{flag} {path}: is a folder (give a file name, e.g. {path / ('generator' + FORMATS[fmt])})")
    suffix = path.suffix.lower()
    other = next((f for f, endings in SUFFIXES.items() if f != fmt and suffix in endings), None)
    if other is not None:
        raise GanforgeError(f"{flag} {path}: the {suffix} ending says {other}, not {fmt} (name it e.g. "
                            f"{path.with_suffix(FORMATS[fmt]).name}, or give --format {other})")
    return path


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar written beside an export: ``PATH.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def default_export_path(run: str | Path, fmt: str, synthesis: bool = False) -> Path:
    """``RUN_DIR/generator<ext>`` (``synthesis<ext>`` for the synthesis network alone) for a run
    folder or a checkpoint file in it."""
    p = Path(run)
    folder = p if p.is_dir() else p.parent
    return folder / (("synthesis" if synthesis else "generator") + FORMATS[fmt])


__all__ = ["FORMATS", "SUFFIXES", "check_export_path", "sidecar_path", "write_safetensors", "read_safetensors", "load_safetensors_generator", "generator_info",
           "export_generator", "check_onnx", "default_export_path"]
