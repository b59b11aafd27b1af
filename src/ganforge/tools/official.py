"""Network pickles of NVIDIA's stylegan2-ada-pytorch, read as ganforge weights without running any
of their code.

An official ``network-snapshot-*.pkl`` is a plain pickle of a dict (``G``, ``D``, ``G_ema``,
``augment_pipe``, ``training_set_kwargs``). Each network is an object of a class the official
code defines with its ``torch_utils.persistence`` decorator: the pickle stores the class's source
code (``module_src``), its name and the object's ``__dict__``, and unpickling it normally
*executes that source*. That is why such files are unsafe to open with ``pickle.load`` and why
they fail with "No module named torch_utils" outside the official repository.

Here a restricted unpickler (:class:`_Unpickler`) resolves only these names and refuses every
other one in one line: the persistence hook (which becomes :class:`Persistent`, a record of the
class name and the ``__dict__``; the source is never run), ``dnnlib``'s ``EasyDict`` (a dict),
``collections.OrderedDict``, torch's tensor and parameter rebuild functions, its storages (read
back by ``torch.load(weights_only=True)``), torch dtypes, and numeric numpy scalars. Tensors are
then taken from each module's ``_parameters`` and ``_buffers`` and renamed to ganforge's
:class:`~ganforge.models.stylegan2.StyleGAN2Generator` and
:class:`~ganforge.models.stylegan2.StyleGAN2Discriminator`, which are built from the networks'
own constructor arguments (``_init_kwargs``) and compute the same images (see
:mod:`ganforge.models.stylegan2`).
"""
from __future__ import annotations

import collections
import io
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch._utils

from ..config import RunConfig
from ..errors import GanforgeError
from ..models import build_models
from ..models.resample import setup_filter
from ..presets import official_training

PERSISTENT_HOOK = ("torch_utils.persistence", "_reconstruct_persistent_obj")
PICKLE_SUFFIXES = (".pkl", ".pickle")


class OfficialPickleError(GanforgeError):
    """A file that is not an official network pickle ganforge reads, or one it refuses."""


@dataclass
class Persistent:
    """An object of one of the official code's classes, as stored: its class name and state."""

    class_name: str
    state: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)


class _EasyDict(dict):
    """``dnnlib.EasyDict``: a dict (its attribute access is not needed here)."""


def _persistent(meta: Any) -> Persistent:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise OfficialPickleError("a persistent object without the official layout (type, class_name, state)")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise OfficialPickleError(f"the official {meta['class_name']} object has no state")
    return Persistent(meta["class_name"], dict(state))  # (meta["module_src"] is never looked at)


def _storage_from_bytes(data: Any):
    """A storage as ``torch.save`` wrote it inside the pickle, read back as weights only."""
    if not isinstance(data, (bytes, bytearray)):
        raise OfficialPickleError("a tensor storage that is not bytes")
    return torch.load(io.BytesIO(bytes(data)), weights_only=True)


def _numpy_scalar(dtype: Any, data: Any = None):
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc" or not isinstance(data, bytes):
        raise OfficialPickleError("a numpy value that is not a plain number")
    return np.frombuffer(data, dtype=dtype)[0].item()


def _torch_dtype(name: str):
    value = getattr(torch, name, None)
    return value if isinstance(value, torch.dtype) else None


_ALLOWED: dict[tuple[str, str], Any] = {
    PERSISTENT_HOOK: _persistent,
    ("dnnlib.util", "EasyDict"): _EasyDict, ("dnnlib", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar, ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


class _Unpickler(pickle.Unpickler):
    """Resolves the names in ``_ALLOWED`` (and torch's dtypes) only; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None and module == "torch":
            found = _torch_dtype(name)
        if found is None:
            raise OfficialPickleError(f"it asks for {module}.{name}, which is code, not weights; ganforge reads only "
                                      f"tensors and plain values from a network pickle, and ran nothing of it")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise OfficialPickleError("it uses persistent ids, which an official network pickle does not")


def read_pickle(path: str | Path) -> dict[str, Any]:
    """The top-level dict of an official network pickle, its networks as :class:`Persistent`."""
    path = Path(path)
    if not path.is_file():
        raise OfficialPickleError(f"{path}: no such file")
    with path.open("rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise OfficialPickleError(f"{path}: a torch.save file (a zip), not a network pickle of the official code; "
                                      f"a ganforge checkpoint is used as it is, without importing")
    try:
        with path.open("rb") as f:
            data = _Unpickler(f).load()
    except OfficialPickleError as e:
        raise OfficialPickleError(f"{path}: refused: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RuntimeError, MemoryError) as e:
        raise OfficialPickleError(f"{path}: not a readable pickle ({type(e).__name__}: "
                                  f"{' '.join(str(e).split())[:160]})") from None
    if not isinstance(data, dict) or not any(isinstance(data.get(k), Persistent) for k in ("G_ema", "G")):
        what = f"a dict of {', '.join(map(str, list(data)[:6]))}" if isinstance(data, dict) else type(data).__name__
        raise OfficialPickleError(f"{path}: not a stylegan2-ada-pytorch network pickle (it holds {what}, no G_ema "
                                  f"or G); TensorFlow-era pickles need the official code's legacy converter first")
    return data


# --------------------------------------------------------------------------- tensors and settings
def module_tensors(obj: Persistent, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every stored parameter and buffer of ``obj`` and its submodules, by dotted name."""
    out: dict[str, torch.Tensor] = {}
    skip = obj.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        for name, t in (obj.get(kind) or {}).items():
            if t is None or (kind == "_buffers" and name in skip):
                continue
            if not torch.is_tensor(t):
                raise OfficialPickleError(f"{prefix}{name} of the official {obj.class_name} is not a tensor")
            out[prefix + name] = t.detach().float().clone()
    for name, child in (obj.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, Persistent):
            raise OfficialPickleError(f"{prefix}{name} of the official {obj.class_name} is not one of its modules")
        out.update(module_tensors(child, f"{prefix}{name}."))
    return out


_G_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_D_ARGS = ("c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max", "num_fp16_res",
           "conv_clamp", "cmap_dim", "block_kwargs", "mapping_kwargs", "epilogue_kwargs")


def init_kwargs(obj: Persistent, names: tuple[str, ...]) -> dict[str, Any]:
    """The arguments the official code built ``obj`` with (positional ones named by ``names``)."""
    args, kwargs = obj.get("_init_args") or (), obj.get("_init_kwargs")
    if kwargs is None:
        raise OfficialPickleError(f"the official {obj.class_name} does not record its constructor's arguments")
    out = dict(zip(names, args))
    out.update(dict(kwargs))
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in out.items()}


@dataclass
class OfficialNetworks:
    """What a pickle holds, in ganforge's terms."""

    config: RunConfig
    G_ema: dict[str, torch.Tensor]
    G: dict[str, torch.Tensor] | None
    D: dict[str, torch.Tensor] | None
    g_kwargs: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return int(self.config.model.num_classes)


def _refuse(cond: bool, what: str) -> None:
    if cond:
        raise OfficialPickleError(f"a network ganforge does not build: {what}")


def generator_settings(g: dict[str, Any]) -> dict[str, Any]:
    """ModelConfig fields of an official Generator's constructor arguments."""
    syn, mapping = dict(g.get("synthesis_kwargs") or {}), dict(g.get("mapping_kwargs") or {})
    res = int(g["img_resolution"])
    _refuse(syn.get("architecture", "skip") != "skip", f"a '{syn.get('architecture')}' synthesis network (ganforge's "
            f"is the 'skip' one of every official configuration)")
    _refuse(list(syn.get("resample_filter", [1, 3, 3, 1])) != [1, 3, 3, 1], "a resampling filter other than [1,3,3,1]")
    _refuse(not syn.get("use_noise", True), "a synthesis network without noise inputs")
    w_dim = int(g["w_dim"])
    _refuse(mapping.get("embed_features") not in (None, w_dim) or mapping.get("layer_features") not in (None, w_dim),
            "a mapping network whose layers are not w_dim wide")
    _refuse(not math.isclose(float(mapping.get("lr_multiplier", 0.01)), 0.01), "a mapping lr multiplier other than 0.01")
    _refuse(mapping.get("activation", "lrelu") != "lrelu" or syn.get("activation", "lrelu") != "lrelu",
            "an activation other than leaky ReLU")
    clamp = syn.get("conv_clamp")
    return {"z_dim": int(g["z_dim"]), "w_dim": w_dim, "mapping_layers": int(mapping.get("num_layers", 8)),
            "channel_base": int(syn.get("channel_base", 32768)), "channel_max": int(syn.get("channel_max", 512)),
            "conv_clamp": float(clamp) if clamp is not None else 0.0, "lowp_res": int(syn.get("num_fp16_res", 0)),
            "num_classes": int(g.get("c_dim", 0)), "size": res, "channels": int(g["img_channels"])}


def discriminator_settings(d: dict[str, Any], g: dict[str, Any]) -> dict[str, Any]:
    """ModelConfig fields of an official Discriminator's constructor arguments (checked against G's)."""
    epi, block = dict(d.get("epilogue_kwargs") or {}), dict(d.get("block_kwargs") or {})
    arch = d.get("architecture", "resnet")
    _refuse(arch not in ("resnet", "orig"), f"a '{arch}' discriminator (ganforge builds resnet and orig)")
    _refuse(int(epi.get("mbstd_num_channels", 1)) != 1, "a mini-batch std-dev layer of other than one channel")
    _refuse(epi.get("mbstd_group_size", 4) is None, "a mini-batch std-dev over the whole batch")
    _refuse(list(block.get("resample_filter", [1, 3, 3, 1])) != [1, 3, 3, 1], "a D resampling filter other than [1,3,3,1]")
    _refuse(int(block.get("freeze_layers", 0)) != 0, "a D with frozen layers (Freeze-D)")
    for key, default in (("channel_base", 32768), ("channel_max", 512), ("img_resolution", None),
                         ("img_channels", None), ("c_dim", 0)):
        gv = dict(g.get("synthesis_kwargs") or {}).get(key, default) if key.startswith("channel") else g.get(key, default)
        _refuse(d.get(key, default) != gv, f"a D whose {key} ({d.get(key, default)}) differs from G's ({gv})")
    gm, dm = dict(g.get("mapping_kwargs") or {}), dict(d.get("mapping_kwargs") or {})
    _refuse(int(d.get("c_dim", 0)) > 0 and dm.get("num_layers", 8) != gm.get("num_layers", 8),
            "a D whose class mapping has another depth than G's mapping network")
    _refuse(d.get("cmap_dim") not in (None, min(int(d.get("channel_base", 32768)) // 4, int(d.get("channel_max", 512)))),
            "a D whose class embedding is not as wide as its last block")
    return {"d_architecture": arch, "mbstd_group": int(epi.get("mbstd_group_size", 4))}


def rename_generator(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official G names -> ganforge's: ``mapping.*`` -> ``map.*`` (``mapping.w_avg`` -> ``w_avg``),
    ``synthesis.*`` -> ``syn.*``; the FIR filter buffers are checked and dropped."""
    out = {}
    for name, v in t.items():
        if name.endswith("resample_filter"):
            _check_filter(name, v)
        elif name == "mapping.w_avg":
            out["w_avg"] = v
        elif name.startswith("mapping."):
            out["map." + name[len("mapping."):]] = v
        elif name.startswith("synthesis."):
            out["syn." + name[len("synthesis."):]] = v
        else:
            raise OfficialPickleError(f"the official G has a weight ganforge does not know: {name}")
    return out


def rename_discriminator(t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official D names are ganforge's; the FIR filter buffers are checked and dropped."""
    out = {}
    for name, v in t.items():
        if name.endswith("resample_filter"):
            _check_filter(name, v)
        else:
            out[name] = v
    return out


def _check_filter(name: str, v: torch.Tensor) -> None:
    f1 = setup_filter()
    if v.shape != (4, 4) or not torch.allclose(v, torch.outer(f1, f1), atol=1e-6):
        raise OfficialPickleError(f"a network ganforge does not build: {name} is not the [1,3,3,1] filter")


def _fit(model: torch.nn.Module, weights: dict[str, torch.Tensor], what: str, optional=("pl_mean",)) -> dict:
    """``weights`` completed with ``model``'s own values of the ``optional`` entries it lacks, after
    checking that names and shapes match ganforge's network exactly."""
    own = model.state_dict()
    extra = sorted(set(weights) - set(own))
    missing = sorted(set(own) - set(weights) - set(optional))
    bad = [k for k in weights if k in own and tuple(weights[k].shape) != tuple(own[k].shape)]
    if extra or missing or bad:
        detail = (f"{len(extra)} unknown weights, e.g. {extra[0]}" if extra else
                  f"no {missing[0]} (and {len(missing) - 1} more)" if missing else
                  f"{bad[0]} is {tuple(weights[bad[0]].shape)}, ganforge's {tuple(own[bad[0]].shape)}")
        raise OfficialPickleError(f"the official {what} does not fit the network its settings describe: {detail}")
    return {**{k: own[k] for k in optional if k in own and k not in weights}, **weights}


def convert(data: dict[str, Any], source: str = "") -> OfficialNetworks:
    """ganforge weights and a run config for the networks of an official pickle's dict."""
    g_obj = data.get("G_ema") if isinstance(data.get("G_ema"), Persistent) else data.get("G")
    for key in ("G_ema", "G", "D"):
        obj = data.get(key)
        want = "Discriminator" if key == "D" else "Generator"
        if obj is not None and (not isinstance(obj, Persistent) or obj.class_name != want):
            raise OfficialPickleError(f"its {key} is not an official {want} "
                                      f"({getattr(obj, 'class_name', type(obj).__name__)})")
    g_kwargs = init_kwargs(g_obj, _G_ARGS)
    try:
        model = generator_settings(g_kwargs)
        d_kwargs = init_kwargs(data["D"], _D_ARGS) if isinstance(data.get("D"), Persistent) else None
        if d_kwargs is not None:
            model.update(discriminator_settings(d_kwargs, g_kwargs))
    except (KeyError, TypeError, ValueError) as e:
        raise OfficialPickleError(f"its networks' constructor arguments do not read ({type(e).__name__}: {e})") from None
    cfg = official_training(model.pop("size"), model.pop("channels"), source=source)
    cfg.preset = "imported"
    for key, value in model.items():
        setattr(cfg.model, key, value)
    cfg.model.conditional = cfg.model.num_classes > 0
    cfg.model.mbstd_group = min(cfg.model.mbstd_group, cfg.train.batch_size)
    with torch.random.fork_rng(devices=[]):
        G, D = build_models(cfg.model, cfg.data.channels, cfg.data.size)
    weights = {}
    for key in ("G_ema", "G"):
        if isinstance(data.get(key), Persistent):
            weights[key] = _fit(G, rename_generator(module_tensors(data[key])), key)
    if "G_ema" not in weights:
        weights["G_ema"] = weights["G"]
    d = _fit(D, rename_discriminator(module_tensors(data["D"])), "D", ()) if d_kwargs is not None else None
    notes = []
    pipe = data.get("augment_pipe")
    if isinstance(pipe, Persistent):
        p = (pipe.get("_buffers") or {}).get("p")
        if torch.is_tensor(p) and float(p) > 0:
            notes.append(f"the pickle's augmentation (ADA at p = {float(p):.3f}) is not carried over; fine-tune with "
                         f"--ada-target 0.6 for ganforge's own")
    return OfficialNetworks(cfg, weights["G_ema"], weights.get("G"), d, g_kwargs, notes)


def read_official(path: str | Path) -> OfficialNetworks:
    """:func:`read_pickle` and :func:`convert` of the pickle at ``path``."""
    data = read_pickle(path)
    kw = data.get("training_set_kwargs")
    source = str(kw.get("path")) if isinstance(kw, dict) and kw.get("path") else ""
    try:
        return convert(data, source)
    except OfficialPickleError as e:
        raise OfficialPickleError(f"{path}: {e}") from None
