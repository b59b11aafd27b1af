"""Official stylegan2-ada-pytorch network pickles, made here for the tests, and the official
networks' forward pass written out from their published semantics (``training/networks.py`` and
``torch_utils/ops`` of NVIDIA's stylegan2-ada-pytorch: upfirdn2d, conv2d_resample with its fast
paths and weight flips, the fused modulated conv, bias_act), independently of ganforge's code, so
that an imported network can be checked against what the official code computes.

The pickles are written the way the official code writes them: each network an object whose
``__reduce__`` names ``torch_utils.persistence._reconstruct_persistent_obj`` with a ``meta`` dict
(type, version, module_src, class_name, state = the module's ``__dict__``), tensors and
parameters pickled by torch itself, and ``dnnlib.util.EasyDict`` for the constructor arguments.
The modules of those names made here record any call: an importer that ran the pickle's code
would leave a trace in :data:`RAN` (and the stored ``module_src`` writes a marker file if run).
"""
from __future__ import annotations

import collections
import math
import pickle
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F

RAN: list[str] = []  # class names the (fake) official unpickling hook was called for: must stay empty


def _install_official_names() -> tuple[types.ModuleType, type]:
    """``torch_utils.persistence`` and ``dnnlib.util`` as importable modules, so that pickle can
    name their globals as the official files do."""
    if "torch_utils.persistence" in sys.modules:
        return sys.modules["torch_utils.persistence"], sys.modules["dnnlib.util"].EasyDict
    tu, pers = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")
    dn, du = types.ModuleType("dnnlib"), types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # what the official code would do: exec meta["module_src"]
        RAN.append(meta.get("class_name"))
        exec(meta["module_src"], {})  # noqa: S102  (the fake stands for the real hook; the tests check it never runs)
        raise RuntimeError("the official unpickling hook ran")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    pers._reconstruct_persistent_obj = _reconstruct_persistent_obj
    du.EasyDict, dn.util, dn.EasyDict, tu.persistence = EasyDict, du, EasyDict, pers
    sys.modules.update({"torch_utils": tu, "torch_utils.persistence": pers, "dnnlib": dn, "dnnlib.util": du})
    return pers, EasyDict


class _Persistent:
    """An official network object as pickled: the reconstruct hook with its meta dict."""

    def __init__(self, class_name: str, state: dict, module_src: str):
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        pers, _ = _install_official_names()
        meta = dict(type="class", version=6, module_src=self.module_src, class_name=self.class_name, state=self.state)
        return pers._reconstruct_persistent_obj, (meta,)


BUFFERS = ("resample_filter", "noise_const", "w_avg", "p")


def _module(class_name: str, tensors: dict, children: dict, module_src: str, **attrs) -> _Persistent:
    params = collections.OrderedDict((k, torch.nn.Parameter(v, requires_grad=True)) for k, v in tensors.items()
                                     if k not in BUFFERS)
    buffers = collections.OrderedDict((k, v) for k, v in tensors.items() if k in BUFFERS)
    state = {"training": False, "_parameters": params, "_buffers": buffers, "_non_persistent_buffers_set": set(),
             "_backward_hooks": collections.OrderedDict(), "_forward_hooks": collections.OrderedDict(),
             "_forward_pre_hooks": collections.OrderedDict(), "_state_dict_hooks": collections.OrderedDict(),
             "_load_state_dict_pre_hooks": collections.OrderedDict(), "_modules": collections.OrderedDict(children),
             **attrs}
    return _Persistent(class_name, state, module_src)


def _tree(flat: dict[str, torch.Tensor], prefix: str, classes: dict[str, str], module_src: str,
          extra_modules: tuple[str, ...] = (), **attrs) -> _Persistent:
    """The module at ``prefix`` (``""``: the root) of the official names in ``flat``."""
    own = {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
    names = {k[len(prefix):].split(".")[0] for k in [*flat, *extra_modules] if k.startswith(prefix)
             and "." in k[len(prefix):]}
    names |= {m[len(prefix):] for m in extra_modules if m.startswith(prefix) and "." not in m[len(prefix):]}
    children = {n: _tree(flat, f"{prefix}{n}.", classes, module_src, extra_modules) for n in sorted(names)}
    name = prefix.rstrip(".").split(".")[-1]
    cls = next((c for key, c in classes.items() if name.startswith(key)), "Module") if prefix else classes[""]
    return _module(cls, own, children, module_src, **attrs)


def official_filter() -> torch.Tensor:
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(f, f)
    return f / f.sum()


def channels(r: int, base: int, cmax: int) -> int:
    return min(base // r, cmax)


def generator_tensors(*, z_dim, w_dim, c_dim, res, img_channels, base, cmax, mapping_layers, seed=0):
    """Random weights of an official Generator, by its own names and shapes."""
    g = torch.Generator().manual_seed(seed)
    rn = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    t = {}
    embed = w_dim if c_dim else 0
    if c_dim:
        t["mapping.embed.weight"], t["mapping.embed.bias"] = rn(embed, c_dim), 0.1 * rn(embed)
    feats = [z_dim + embed] + [w_dim] * mapping_layers
    for i in range(mapping_layers):
        t[f"mapping.fc{i}.weight"], t[f"mapping.fc{i}.bias"] = rn(feats[i + 1], feats[i]) / 0.01, 0.1 * rn(w_dim)
    t["mapping.w_avg"] = 0.5 * rn(w_dim)

    def layer(p, cin, cout, r):
        t[p + "resample_filter"] = official_filter()
        t[p + "affine.weight"], t[p + "affine.bias"] = rn(cin, w_dim), 1 + 0.1 * rn(cin)
        t[p + "weight"], t[p + "noise_const"] = rn(cout, cin, 3, 3), rn(r, r)
        t[p + "noise_strength"], t[p + "bias"] = 0.3 * rn(()), 0.1 * rn(cout)

    r = 4
    while r <= res:
        b, c = f"synthesis.b{r}.", channels(r, base, cmax)
        t[b + "resample_filter"] = official_filter()
        if r == 4:
            t[b + "const"] = rn(c, 4, 4)
        else:
            layer(b + "conv0.", channels(r // 2, base, cmax), c, r)
        layer(b + "conv1.", c, c, r)
        t[b + "torgb.affine.weight"], t[b + "torgb.affine.bias"] = rn(c, w_dim), 1 + 0.1 * rn(c)
        t[b + "torgb.weight"], t[b + "torgb.bias"] = rn(img_channels, c, 1, 1), 0.1 * rn(img_channels)
        r *= 2
    return t


def discriminator_tensors(*, c_dim, res, img_channels, base, cmax, architecture, mapping_layers, seed=1):
    """Random weights of an official Discriminator, by its own names and shapes."""
    g = torch.Generator().manual_seed(seed)
    rn = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    t = {}

    def conv(p, cin, cout, k, bias=True):
        t[p + "resample_filter"] = official_filter()
        t[p + "weight"] = rn(cout, cin, k, k)
        if bias:
            t[p + "bias"] = 0.1 * rn(cout)

    r = res
    while r >= 8:
        b, c = f"b{r}.", channels(r, base, cmax)
        t[b + "resample_filter"] = official_filter()
        if r == res:
            conv(b + "fromrgb.", img_channels, c, 1)
        conv(b + "conv0.", c, c, 3)
        conv(b + "conv1.", c, channels(r // 2, base, cmax), 3)
        if architecture == "resnet":
            conv(b + "skip.", c, channels(r // 2, base, cmax), 1, bias=False)
        r //= 2
    c4 = channels(4, base, cmax)
    cmap = c4 if c_dim else 0
    if c_dim:
        t["mapping.embed.weight"], t["mapping.embed.bias"] = rn(cmap, c_dim), 0.1 * rn(cmap)
        for i in range(mapping_layers):
            t[f"mapping.fc{i}.weight"], t[f"mapping.fc{i}.bias"] = rn(cmap, cmap) / 0.01, 0.1 * rn(cmap)
    conv("b4.conv.", c4 + 1, c4, 3)
    t["b4.fc.weight"], t["b4.fc.bias"] = rn(c4, c4 * 16), 0.1 * rn(c4)
    t["b4.out.weight"], t["b4.out.bias"] = rn(cmap or 1, c4), 0.1 * rn(cmap or 1)
    return t


G_CLASSES = {"": "Generator", "mapping": "MappingNetwork", "synthesis": "SynthesisNetwork", "b": "SynthesisBlock",
             "conv": "SynthesisLayer", "torgb": "ToRGBLayer", "affine": "FullyConnectedLayer",
             "fc": "FullyConnectedLayer", "embed": "FullyConnectedLayer"}
D_CLASSES = {"": "Discriminator", "mapping": "MappingNetwork", "b4": "DiscriminatorEpilogue", "b": "DiscriminatorBlock",
             "fromrgb": "Conv2dLayer", "conv": "Conv2dLayer", "skip": "Conv2dLayer", "mbstd": "MinibatchStdLayer",
             "fc": "FullyConnectedLayer", "out": "FullyConnectedLayer", "embed": "FullyConnectedLayer"}


def write_official_pickle(path: Path, *, res=16, img_channels=1, z_dim=8, w_dim=8, c_dim=0, base=64, cmax=8,
                          mapping_layers=2, architecture="resnet", mbstd=4, conv_clamp=256, fp16_res=0,
                          with_d=True, with_g=True, augment_p=0.0, marker: Path | None = None) -> dict:
    """An official network pickle at ``path``; returns the flat official tensors of G_ema, G, D and
    the settings. ``marker``: the file the stored module source would create if it were run."""
    _, EasyDict = _install_official_names()
    src = f"open({str(marker)!r}, 'w').write('the pickle ran')\n" if marker else "raise SystemExit('ran')\n"
    gk = EasyDict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=res, img_channels=img_channels,
                  mapping_kwargs=EasyDict(num_layers=mapping_layers),
                  synthesis_kwargs=EasyDict(channel_base=base, channel_max=cmax, num_fp16_res=fp16_res,
                                            conv_clamp=conv_clamp))
    dk = EasyDict(c_dim=c_dim, img_resolution=res, img_channels=img_channels, architecture=architecture,
                  channel_base=base, channel_max=cmax, num_fp16_res=fp16_res, conv_clamp=conv_clamp,
                  block_kwargs=EasyDict(), mapping_kwargs=EasyDict(num_layers=mapping_layers),
                  epilogue_kwargs=EasyDict(mbstd_group_size=mbstd))
    gt = dict(z_dim=z_dim, w_dim=w_dim, c_dim=c_dim, res=res, img_channels=img_channels, base=base, cmax=cmax,
              mapping_layers=mapping_layers)
    flat = {"G_ema": generator_tensors(**gt, seed=0), "G": generator_tensors(**gt, seed=2),
            "D": discriminator_tensors(c_dim=c_dim, res=res, img_channels=img_channels, base=base, cmax=cmax,
                                       architecture=architecture, mapping_layers=mapping_layers)}

    def g_obj(t):
        return _tree(t, "", G_CLASSES, src, _init_args=(), _init_kwargs=gk, z_dim=z_dim, c_dim=c_dim, w_dim=w_dim,
                     img_resolution=res, img_channels=img_channels)

    data = {"G_ema": g_obj(flat["G_ema"]), "training_set_kwargs": EasyDict(path="/data/official.zip", use_labels=bool(c_dim)),
            "augment_pipe": _module("AugmentPipe", {"p": torch.tensor(float(augment_p))}, {}, src)}
    if with_g:
        data["G"] = g_obj(flat["G"])
    if with_d:
        data["D"] = _tree(flat["D"], "", D_CLASSES, src, ("b4.mbstd",), _init_args=(), _init_kwargs=dk)
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return {"flat": flat, "conv_clamp": conv_clamp, "c_dim": c_dim, "architecture": architecture, "mbstd": mbstd,
            "num_ws": 2 * int(math.log2(res)) - 2}


# --------------------------------------------------------------------------- the official forward pass
def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0), gain=1.0):
    """Zeros between pixels, pad (x0, x1, y0, y1; negative crops), true convolution with f * gain,
    every ``down``-th pixel: the reference semantics of the official op."""
    n, c, h, w = x.shape
    if up > 1:
        y = x.new_zeros(n, c, h * up, w * up)
        y[:, :, ::up, ::up] = x
        x = y
    x = F.pad(x, list(pad))
    k = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)[:, :, ::down, ::down]


def _conv(x, w, stride=1, padding=0, groups=1, transpose=False, flip_weight=True):
    if not flip_weight and w.shape[-1] > 1:
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x, w, f, up=1, down=1, padding=0, groups=1, flip_weight=True):
    out_ch, in_per_group, kh, kw = w.shape
    fw = f.shape[-1] if f is not None else 1  # (no filter: the official op takes a 1x1 identity)
    px0 = px1 = padding
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
    if kw == 1 and down > 1 and up == 1:
        return _conv(upfirdn2d(x, f, down=down, pad=(px0, px1, px0, px1)), w, groups=groups, flip_weight=flip_weight)
    if down > 1 and up == 1:
        return _conv(upfirdn2d(x, f, pad=(px0, px1, px0, px1)), w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        px0, px1 = px0 - (kw - 1), px1 - (kw - up)
        pt = max(min(-px0, -px1), 0)
        x = _conv(x, w, stride=up, padding=pt, groups=groups, transpose=True, flip_weight=not flip_weight)
        return upfirdn2d(x, f, pad=(px0 + pt, px1 + pt, px0 + pt, px1 + pt), gain=up ** 2)
    return _conv(x, w, padding=padding, groups=groups, flip_weight=flip_weight)


def bias_act(x, b, act="linear", gain=None, clamp=None):
    if b is not None:
        x = x + b.reshape(1, -1, *([1] * (x.dim() - 2)))
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
    x = x * (gain if gain is not None else (math.sqrt(2) if act == "lrelu" else 1.0))
    return x.clamp(-clamp, clamp) if clamp is not None else x


def fc(t, p, x, act="linear", lr_mul=1.0):
    w = t[p + "weight"] * (lr_mul / math.sqrt(t[p + "weight"].shape[1]))
    return bias_act(x @ w.t(), t[p + "bias"] * lr_mul, act)


def normalize(x):
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def modconv(x, weight, styles, noise=None, up=1, padding=0, f=None, demodulate=True, flip_weight=True):
    n, cin = x.shape[:2]
    w = weight[None] * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    x = conv2d_resample(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, cin, *weight.shape[2:]), f, up=up,
                        padding=padding, groups=n, flip_weight=flip_weight)
    x = x.reshape(n, -1, *x.shape[2:])
    return x + noise if noise is not None else x


def mapping(t, z, c, layers, prefix="mapping."):
    parts = [normalize(z.float())] if z is not None else []
    if c is not None:
        parts.append(normalize(fc(t, prefix + "embed.", c.float())))
    x = torch.cat(parts, dim=1)
    for i in range(layers):
        x = fc(t, f"{prefix}fc{i}.", x, "lrelu", 0.01)
    return x


@torch.no_grad()
def official_G(t, z, c=None, *, psi=1.0, mapping_layers, res, conv_clamp, noise_mode="const"):
    """Images (N, C, res, res) of official G weights ``t`` (flat names) for latents z [and one-hot c]."""
    f = official_filter()
    num_ws = 2 * int(math.log2(res)) - 2
    w = mapping(t, z, c, mapping_layers)
    ws = w[:, None].repeat(1, num_ws, 1)
    if psi != 1:
        ws = t["mapping.w_avg"].lerp(ws, psi)

    def layer(p, x, w, up=1):
        styles = fc(t, p + "affine.", w)
        noise = t[p + "noise_const"] * t[p + "noise_strength"] if noise_mode == "const" else None
        x = modconv(x, t[p + "weight"], styles, noise, up=up, padding=1, f=f, flip_weight=(up == 1))
        return bias_act(x, t[p + "bias"], "lrelu", clamp=conv_clamp)

    x = img = None
    i, r = 0, 4
    while r <= res:
        b = f"synthesis.b{r}."
        if r == 4:
            x = layer(b + "conv1.", t[b + "const"][None].repeat(z.shape[0], 1, 1, 1), ws[:, 0])
            i += 1
        else:
            x = layer(b + "conv0.", x, ws[:, i], up=2)
            x = layer(b + "conv1.", x, ws[:, i + 1])
            i += 2
        if img is not None:
            img = upfirdn2d(img, f, up=2, pad=(2, 1, 2, 1), gain=4)
        styles = fc(t, b + "torgb.affine.", ws[:, i]) * (1 / math.sqrt(t[b + "torgb.weight"].shape[1]))
        y = bias_act(modconv(x, t[b + "torgb.weight"], styles, demodulate=False), t[b + "torgb.bias"], clamp=conv_clamp)
        img = y if img is None else img + y
        r *= 2
    return img


def official_uint8(img: torch.Tensor) -> torch.Tensor:
    """The official scripts' pixels: ``(img * 127.5 + 128).clamp(0, 255).to(uint8)``."""
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def official_D(t, img, c=None, *, res, conv_clamp, architecture, mbstd, mapping_layers):
    """Logits (N, 1) of official D weights ``t`` for images in G's range [and one-hot c]."""
    f = official_filter()

    def conv(p, x, k, act="lrelu", down=1, gain=1.0, clamp=conv_clamp):
        w = t[p + "weight"] * (1 / math.sqrt(t[p + "weight"].shape[1] * k * k))
        x = conv2d_resample(x, w, f, down=down, padding=k // 2)
        return bias_act(x, t.get(p + "bias"), act, gain=(math.sqrt(2) if act == "lrelu" else 1.0) * gain,
                        clamp=clamp * gain if clamp is not None else None)

    x, r = None, res
    while r >= 8:
        b = f"b{r}."
        if x is None:
            x = conv(b + "fromrgb.", img, 1)
        if architecture == "resnet":
            y = conv(b + "skip.", x, 1, "linear", down=2, gain=math.sqrt(0.5), clamp=None)
            x = y + conv(b + "conv1.", conv(b + "conv0.", x, 3), 3, down=2, gain=math.sqrt(0.5))
        else:
            x = conv(b + "conv1.", conv(b + "conv0.", x, 3), 3, down=2)
        r //= 2
    n, ch, h, w_ = x.shape
    g = min(mbstd, n)
    y = x.reshape(g, -1, 1, ch, h, w_)
    y = ((y - y.mean(dim=0)).square().mean(dim=0) + 1e-8).sqrt().mean(dim=[2, 3, 4]).reshape(-1, 1, 1, 1)
    x = torch.cat([x, y.repeat(g, 1, h, w_)], dim=1)
    x = conv("b4.conv.", x, 3)
    x = fc(t, "b4.out.", fc(t, "b4.fc.", x.flatten(1), "lrelu"))
    if c is not None:
        cmap = mapping(t, None, c, mapping_layers)
        x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(cmap.shape[1])
    return x
