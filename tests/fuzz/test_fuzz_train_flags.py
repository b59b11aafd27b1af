"""``ganforge train --dry-run`` with every config field set to values at and beyond its limits,
by its flag and by ``--set SECTION.FIELD=VALUE``: a valid value is printed back (strict JSON,
finite numbers), anything else exits 2 with one line naming the flag, never a traceback."""
from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzztest_util import fuzz, problems, report, run_cli
from ganforge.config import RunConfig, field_docs, section_types
from ganforge.losses import LOSSES
from ganforge.models import ARCHS

SECTIONS = ("data", "model", "loss", "optim", "train", "tricks", "grow", "style")
HIDDEN = {"data.split", "model.num_classes"}  # no flag; --set only
INT64 = 2**63


def _fields():
    cfg = RunConfig()
    return [(f"{s}.{f.name}", str(f.type)) for s in SECTIONS for f in dataclasses.fields(getattr(cfg, s))]


FIELDS = _fields()
TYPES = dict(FIELDS)
DOCS = field_docs()


def between(lo=None, hi=None, lo_open=False, hi_open=False):
    return lambda v: ((lo is None or (v > lo if lo_open else v >= lo))
                      and (hi is None or (v < hi if hi_open else v <= hi)))


POS, NONNEG, ONE_UP = between(0, lo_open=True), between(0), between(1)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# The documented limits (config.py's field help and validate()); a field not here takes any finite
# float or any int64. None as a result means "either answer is acceptable".
RULES = {
    "data.size": between(4, 1024), "data.channels": lambda v: v in (1, 3), "data.limit": POS,
    "model.z_dim": between(1, 65_536), "model.g_channels": between(1, 65_536), "model.d_channels": between(1, 65_536),
    "model.d_dropout": between(0, 1, hi_open=True), "model.minibatch_disc": between(0, 65_536), "model.num_classes": NONNEG,
    "loss.label_smoothing": between(0, 0.5, hi_open=True), "loss.label_noise": between(0, 0.5, hi_open=True),
    "loss.gp_weight": NONNEG, "loss.wgan_clip": POS, "loss.r1_gamma": NONNEG, "loss.r1_every": ONE_UP,
    "optim.lr_g": POS, "optim.lr_d": POS, "optim.beta1": between(0, 1, hi_open=True),
    "optim.beta2": between(0, 1, hi_open=True), "optim.rho": between(0, 1, hi_open=True), "optim.eps": POS,
    "optim.decay": NONNEG, "optim.clip_g": POS, "optim.clip_d": POS,
    "train.batch_size": POS, "train.steps": NONNEG, "train.epochs": POS, "train.minutes": POS,
    "train.seed": between(0, INT64, hi_open=True), "train.n_fixed": between(1, 4_096), "train.sample_every": POS,
    "train.checkpoint_every": POS, "train.log_every": POS, "train.eval_every": NONNEG, "train.eval_n": between(10),
    "tricks.n_critic": ONE_UP, "tricks.replay_size": NONNEG, "tricks.replay_ratio": between(0, 1),
    "tricks.instance_noise": NONNEG, "tricks.instance_noise_steps": ONE_UP, "tricks.augment_p": between(0, 1),
    "tricks.ada_target": between(0, 1, hi_open=True), "tricks.ema_kimg": NONNEG,
    "train.cuda_graphs": lambda v: not v or _has_cuda(),  # --cuda-graphs needs CUDA
    "loss.drift": NONNEG, "grow.fade_kimg": POS, "grow.stage_kimg": POS,
    "train.eval_minutes": NONNEG, "tricks.ema_rampup": between(0, 1),
    "data.workers": between(0, 64), "train.dist_timeout": between(10, 86_400),
    "model.w_dim": between(1, 4_096), "model.mapping_layers": between(1, 16),
    "model.channel_base": between(1, 2**24), "model.channel_max": between(1, 65_536),
    "model.mbstd_group": between(1, 1024), "model.conv_clamp": NONNEG, "model.lowp_res": between(0, 10),
    "style.mixing_prob": between(0, 1), "style.pl_weight": NONNEG, "style.pl_every": ONE_UP,
    "style.pl_decay": between(0, 1, lo_open=True), "style.pl_batch_shrink": ONE_UP,
}
CHOICES = {
    "train.precision": {"auto", "fp32", "bf16"}, "train.step": {"alternating", "joint"},
    "model.init": {"keras", "dcgan", "torch"}, "optim.optimizer": {"adam", "rmsprop"},
    "loss.loss": set(LOSSES), "model.arch": set(ARCHS), "data.split": {"train", "test"},
    "data.load": {"auto", "memory", "stream"}, "model.d_architecture": {"resnet", "orig"},
}
# The fields' rules above hold on their own for the plain DCGAN; the default preset couples some
# (its reused fakes need the alternating step), so the field sweeps start from dcgan - except a
# model family's own settings, which apply to its architecture only: they start from its preset.
BASE = ["--preset", "dcgan"]


def _family_archs() -> dict[str, tuple[str, ...]]:
    """Dotted field -> the architectures it applies to, for the fields that name some."""
    out = {}
    for section, typ in section_types().items():
        for f in dataclasses.fields(typ):
            archs = f.metadata.get("archs") or getattr(typ, "archs", None)
            if archs:
                out[f"{section}.{f.name}"] = archs
    return out


FAMILY_ARCHS = _family_archs()


def base_for(dotted: str) -> list[str]:
    """The preset a sweep of ``dotted`` starts from: dcgan, or the field's family's preset."""
    archs = FAMILY_ARCHS.get(dotted)
    return ["--preset", archs[0]] if archs else BASE
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
INVALID, EITHER = object(), object()

INT_VALUES = ["0", "1", "-1", "2", "3", "4", "9", "10", "1023", "1024", "1025", str(2**31), str(INT64 - 1),
              str(INT64), str(2**64), "1" + "0" * 40, "-" + "9" * 30, "1e3", "2.5", "7.0", "nan", "inf", "-inf",
              "", " ", "abc", "0x10", "1_0", "\u0663", "None", "null", "+5", "-0", "5 5"]
FLOAT_VALUES = ["0", "1", "-1", "0.5", "0.4999", "0.5000001", "0.9999999", "1.0000001", "1e-300", "5e-324",
                "-0.0", "1e308", "1e309", "-1e309", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e-4", "",
                " ", "abc", "1,5", "1/2", "None", "null", "0x1p-3", "10"]
STR_VALUES = ["", " ", "x", "FP32", "fp32 ", " joint", "auto,fp32", "cuda", "cuda:0", "cuda:-1", "cuda:1:2",
              "cudax", "cpu", "mps", "translation,cutout", "translation,,color", "translation;color", "\u00e9",
              "a" * 5000, "none", "None"]
BOOL_VALUES = ["true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", " On ", "maybe", "", "2", "-1",
               "none", "nan"]

# Tried by the flag as well as by --set: what argparse or the lack of --set's strip() could change.
BY_FLAG = {"", " 5", "-1", "nan", "inf", "-inf", "abc", str(2**64), "1e309", "None", " fp32", "fp32 ", "cuda:-1"}

_ASCII_INT = re.compile(r"[+-]?[0-9]+")
_ASCII_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def expected(dotted: str, text: str, via_set: bool):
    """What a careful ganforge does with ``text`` for field ``dotted``: the value it reads (valid),
    INVALID (exit 2) or EITHER."""
    typ = TYPES[dotted]
    optional = "None" in typ
    s = text.strip() if via_set else text
    if s.strip().lower() in ("none", "null") and (optional or not typ.startswith("str")):
        return None if optional else INVALID
    if typ.startswith("bool"):
        v = True if s.lower() in TRUE else False if s.lower() in FALSE else INVALID
        if v is INVALID or dotted not in RULES:
            return v
    elif typ.startswith("int"):
        t = s.strip()
        if _ASCII_INT.fullmatch(t):
            v = int(t)
        else:
            try:
                v = int(t)
            except ValueError:
                try:
                    f = float(t)
                except ValueError:
                    return INVALID
                return EITHER if math.isfinite(f) and f.is_integer() and abs(f) < INT64 else INVALID
            v = EITHER if abs(v) < INT64 else INVALID  # 1_0, unicode digits: readable, not required
            return v
        if abs(v) >= INT64:
            return INVALID
    elif typ.startswith("float"):
        t = s.strip()
        try:
            v = float(t)
        except ValueError:
            return INVALID
        if not math.isfinite(v):
            return INVALID
        if not _ASCII_FLOAT.fullmatch(t):
            return EITHER
    else:  # str
        if dotted in CHOICES:
            return s if s in CHOICES[dotted] else INVALID
        if dotted == "train.device":
            return EITHER if re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", s) else INVALID
        if dotted == "tricks.augment":
            return s if set(filter(None, s.split(","))) <= {"translation", "cutout", "color"} else INVALID
        return EITHER
    return by_rule(dotted, v)


def by_rule(dotted: str, value):
    """``value`` as the config must hold it, by the field's rule in RULES; EITHER where the rule
    cannot tell, INVALID where it refuses."""
    rule = RULES.get(dotted)
    if rule is None:
        return value
    ok = rule(value)
    return EITHER if ok is None else value if ok else INVALID


def _strict(out: str):
    def refuse(c):
        raise ValueError(f"non-standard JSON constant {c}")

    return json.loads(out, parse_constant=refuse)


def judge_dry_run(o, names, want) -> tuple[dict | None, list[str]]:
    """The problems of a ``train --dry-run`` outcome against ``want`` (a value, EITHER or INVALID),
    and the config it printed (None when it printed none, or no strict JSON, which is a problem)."""
    found = problems(o, "train", "either" if want is EITHER else "error" if want is INVALID else "ok", names)
    if o.exc is not None or o.code != 0:
        return None, found
    try:
        return _strict(o.out), found
    except ValueError as e:
        return None, found + [f"--dry-run printed no strict JSON ({str(e)[:80]})"]


def judge(o, dotted: str, want) -> list[str]:
    flag = DOCS[dotted].flag
    cfg, found = judge_dry_run(o, (flag, dotted, dotted.split(".")[1]), want)
    if cfg is not None:
        section, name = dotted.split(".")
        got = cfg.get(section, {}).get(name, "<missing>")
        if want not in (EITHER, INVALID) and got != want:
            found.append(f"printed {got!r}, expected {want!r}")
        bad = [f"{s}.{k}={v!r}" for s, sec in cfg.items() if isinstance(sec, dict) for k, v in sec.items()
               if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            found.append(f"non-finite values accepted: {bad}")
    return found


def values_for(typ: str) -> list[str]:
    return (BOOL_VALUES if typ.startswith("bool") else INT_VALUES if typ.startswith("int")
            else FLOAT_VALUES if typ.startswith("float") else STR_VALUES)


@pytest.mark.parametrize("dotted", [d for d, _ in FIELDS])
def test_every_field_at_and_beyond_its_limits(dotted, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    typ = TYPES[dotted]
    flag = DOCS[dotted].flag
    bad = []
    for text in values_for(typ):
        want = expected(dotted, text, via_set=True)
        o = run_cli(["train", "--dry-run", *base_for(dotted), "--set", f"{dotted}={text}"], capsys)
        bad += [f"--set {dotted}={text!r}: {p}  [{o.show()}]" for p in judge(o, dotted, want)]
        if dotted in HIDDEN:
            continue
        if typ.startswith("bool") or text not in BY_FLAG:
            continue  # --flag/--no-flag take no value; the flag and --set read values the same way
        want = expected(dotted, text, via_set=False)
        o = run_cli(["train", "--dry-run", *base_for(dotted), f"{flag}={text}"], capsys)
        bad += [f"{flag}={text!r}: {p}  [{o.show()}]" for p in judge(o, dotted, want)]
    assert not list(tmp_path.iterdir()), f"--dry-run wrote files: {list(tmp_path.iterdir())}"
    report(bad, f"train --dry-run with {dotted}")


BAD_SETS = ["optim.lr_d", "=1", "optim.=1", ".lr_d=1", "optim..lr_d=1", "a.b.c=1", "OPTIM.LR_D=1",
            "optim.nope=1", "nope.lr_d=1", "preset=dcgan", "optim.lr_d==1", "training_state.step=3",
            "optim.__class__=1", "optim.lr_d\x00=1", " =", "data=1", "optim.lr_d=1e-4=2"]


@pytest.mark.parametrize("item", BAD_SETS)
def test_malformed_set_items(item, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    o = run_cli(["train", "--dry-run", "--set", item], capsys)
    if item == "optim.lr_d==1" or item == "optim.lr_d=1e-4=2":
        names = ("--lr-d", "lr_d")  # the value is "=1" / "1e-4=2": a bad float
    else:
        names = ("--set", item.split("=")[0].strip() or "--set")
    report([f"--set {item!r}: {p}  [{o.show()}]" for p in problems(o, "train", "error", names)], "--set")


@pytest.mark.parametrize("argv, names", [
    (["--preset", "nope"], ["--preset"]), (["--preset", ""], ["--preset"]),
    (["--resume", "does-not-exist"], ["--resume", "does-not-exist"]),
    (["--resume", "."], ["--resume"]),
    (["--config", "does-not-exist.json"], ["--config", "does-not-exist.json"]),
    (["--steps"], ["--steps"]), (["--conditional=yes"], ["--conditional"]), (["--lr-d", "1", "--lr-d"], ["--lr-d"]),
    (["--bogus-flag", "1"], ["--bogus-flag"]),
])
def test_bad_train_arguments(argv, names, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    o = run_cli(["train", "--dry-run", *argv], capsys)
    report([f"{argv}: {p}  [{o.show()}]" for p in problems(o, "train", "error", names)], "train")


_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(INT_VALUES + FLOAT_VALUES + STR_VALUES + BOOL_VALUES),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@fuzz(250)
@given(dotted=st.sampled_from([d for d, _ in FIELDS]), text=_TEXT, by_flag=st.booleans())
def test_random_values_never_crash(dotted, text, by_flag, capsys):
    """Any text for any field: exit 0 with strict, finite JSON, or exit 2 with one line."""
    if "\x00" in text:
        text = text.replace("\x00", "")  # no argv can hold a NUL
    typ = TYPES[dotted]
    if by_flag and dotted not in HIDDEN and not typ.startswith("bool"):
        argv = ["train", "--dry-run", *base_for(dotted), f"{DOCS[dotted].flag}={text}"]
        want = expected(dotted, text, via_set=False)
    else:
        argv = ["train", "--dry-run", *base_for(dotted), "--set", f"{dotted}={text}"]
        want = expected(dotted, text, via_set=True)
    o = run_cli(argv, capsys)
    report([f"{p}  [{o.show()}]" for p in judge(o, dotted, want)], "train --dry-run")


# Values --dry-run accepts but training cannot use: each fails within the first second of a real
# run (an allocation far beyond any machine, or a seed torch cannot take), so training is tried.
UNBUILDABLE = [("--seed", str(2**64)), ("--seed", str(-(10**30))), ("--z-dim", str(10**12)),
               ("--g-channels", str(10**12)), ("--d-channels", str(10**12)), ("--n-fixed", str(10**12)),
               ("--minibatch-disc", str(2**63))]


@pytest.mark.parametrize("flag, value", UNBUILDABLE)
def test_training_refuses_values_it_cannot_use(flag, value, tiny_data, tmp_path, capsys, monkeypatch, guards):
    monkeypatch.chdir(tmp_path)
    o = run_cli(["train", "--data", tiny_data, "--steps", "1", "--out", "run", "--g-channels", "8",
                 "--d-channels", "8", "--batch-size", "4", "--n-fixed", "4", "--precision", "fp32", "--device",
                 "cpu", "--no-progress", f"{flag}={value}"], capsys)
    report([f"{p}  [{o.show()[:300]}]" for p in problems(o, "train", "error", [flag])], f"train {flag}={value}")
