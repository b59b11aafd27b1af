"""The numeric and text flags of ``generate``, ``interpolate``, ``evaluate``, ``arithmetic``,
``neighbours``, ``export`` and ``project`` at and beyond their limits, on a tiny trained run: valid values
work, anything else is exit 2 with one line naming the flag; never a traceback, never a user file
replaced or a temp file left, and absurd amounts of output refused rather than attempted."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fuzztest_util import USER_FILES, file_problems, fuzz, problems, report, run_cli, snapshot, user_folder

BIG = ["1000000000", str(2**63), str(2**64)]
NOT_INT = ["abc", "", "1.5"]
NOT_FINITE = ["nan", "inf", "-inf", "1e309", "NaN", "-nan"]
NO_CUDA = not torch.cuda.is_available()

GRID = ("--out", "grid.png")  # --nrow matters for a grid only

# (flag, value, expect[, (flag, value) also set]): expect is "ok", "error" or "either". Counts use
# only small valid values.
GENERATE = (
    [("-n", v, "error") for v in ["0", "-1", *BIG, *NOT_INT]] + [("-n", v, "ok") for v in ["1", "2", "16"]]
    + [("--seed", v, "ok") for v in ["0", "1", str(2**32), str(2**63 - 1)]]
    + [("--seed", v, "error") for v in ["-1", str(-(2**63)), str(2**64), "1" + "0" * 30, *NOT_INT]]
    + [("--seed", str(2**64 - 1), "ok")]
    + [("--nrow", v, "error", GRID) for v in ["-1", str(2**64), "1000000000", *NOT_INT]]
    + [("--nrow", v, "ok", GRID) for v in ["1", "4"]] + [("--nrow", "0", "either", GRID)]
    + [("--batch-size", v, "error") for v in ["0", "-1", *NOT_INT]]
    + [("--batch-size", v, "ok") for v in ["1", "3", "1000000000"]] + [("--batch-size", str(2**64), "either")]
    + [("--truncation", v, "error") for v in [*NOT_FINITE, "-0.1", "2.01", "abc", ""]]
    + [("--truncation", v, "ok") for v in ["0", "0.7", "1", "2"]]
    + [("--device", v, "error") for v in ["bogus", "", "meta", "mps", "cuda:x", "cuda:-1", "cpu:x"]]
    + ([("--device", v, "error") for v in ["cuda", "cuda:0", "cuda:7"]] if NO_CUDA else [])
    + [("--device", "cpu", "ok")]
    + [("--class", v, "error") for v in ["0", "sneaker", "", "-1"]]  # the tiny run is unconditional
    + [("--out", v, "error") for v in ["x.txt", "x.npz", "x.gif"]]
    + [("--out", v, "ok") for v in ["x.PNG", "x.jpg", "sub/dir/x.npy", "pngs"]]
)
INTERPOLATE = (
    [("--steps", v, "error") for v in ["0", "1", "-1", "100000", *BIG, *NOT_INT]]
    + [("--steps", v, "ok") for v in ["2", "5"]]
    + [("--seeds", v, "error") for v in ["1", "", ",", "a,b", "1;2", "1,2**70", "99999999999999999999999,1",
                                         "1.5,2", "nan,1", "[1,2]"]]
    + [("--seeds", v, "ok") for v in [" 1 , 2 ", "0,0", str(2**64 - 1) + ",1"]]
    + [("--seeds", v, "error") for v in ["-1,2", "1,-0x1", str(2**64) + ",1"]]
    + [("--seeds", v, "either") for v in ["1,,2", "\uff11,\uff12"]]
    + [("--ms-per-frame", v, "error") for v in ["0", "-1", "1", "9", "655360", "1000000000", str(2**64), *NOT_INT]]
    + [("--ms-per-frame", v, "ok") for v in ["10", "105", "65535", "655350"]]
    + [("--ms-per-frame", v, "ok", ("--steps", "3")) for v in ["10", "15", "655350"]]
    + [("--batch-size", v, "error") for v in ["0", "-1"]] + [("--batch-size", "1", "ok")]
    + [("--truncation", v, "error") for v in [*NOT_FINITE, "-1", "3"]] + [("--truncation", "0.5", "ok")]
    + [("--class", "0", "error"), ("--mode", "nope", "error"), ("--mode", "lerp", "ok"), ("--no-loop", None, "ok")]
    + [("--device", v, "error") for v in ["bogus", ""]]
)
EVALUATE = (
    [("-n", v, "error") for v in ["1", "0", "-1", *BIG, *NOT_INT]] + [("-n", "10", "ok")]
    + [("--batch-size", v, "error") for v in ["0", "-1", *NOT_INT]] + [("--batch-size", "3", "ok")]
    + [("--seed", v, "ok") for v in ["0", "123"]]
    + [("--seed", v, "error") for v in ["-1", str(2**64), "1" + "0" * 30]]
    + [("--split", "nope", "error"), ("--split", "train", "ok")]
    + [("--evaluator", v, "error") for v in ["nope", "mnist", "cifar10", "inception"]] + [("--evaluator", "", "either")]
    + [("--data-dir", ".", "error"), ("--images", "missing.npy", "error"), ("--against", "missing.npy", "error")]
    + [("--device", v, "error") for v in ["bogus", ""]]
)
ARITHMETIC = (  # seed-list concepts: --exemplars and --pool (class concepts only) may be ignored
    [("--exemplars", v, "error") for v in NOT_INT] + [("--exemplars", v, "either") for v in ["0", "-1", *BIG]]
    + [("--exemplars", "2", "ok")]
    + [("--pool", v, "either") for v in ["0", "-1"]] + [("--pool", v, "error") for v in BIG] + [("--pool", "30", "ok")]
    + [("--results", v, "error") for v in ["0", "-1", *BIG]] + [("--results", "2", "ok")]
    + [("--noise", v, "error") for v in [*NOT_FINITE, "-1"]] + [("--noise", v, "ok") for v in ["0", "0.5"]]
    + [("--seed", v, "error") for v in ["-1", str(2**64), "1" + "0" * 30]] + [("--seed", "5", "ok")]
    + [("--class", "0", "error"), ("--batch-size", "0", "error"), ("--batch-size", "-1", "error")]
)
NEIGHBOURS = (
    [("-n", v, "error") for v in ["0", "-1", *BIG, *NOT_INT]] + [("-n", "2", "ok")]
    + [("-k", v, "error") for v in ["0", "-1", *BIG, *NOT_INT]] + [("-k", "1", "ok"), ("-k", "64", "either"),
                                                                    ("-k", "65", "either")]
    + [("--seed", v, "error") for v in ["-1", str(2**64)]] + [("--seed", "3", "ok")]
    + [("--truncation", v, "error") for v in NOT_FINITE] + [("--batch-size", "0", "error")]
    + [("--data-dir", "missing-dir", "either")]
)
EXPORT = (  # the base exports safetensors: an --out ending that names another format is refused
    [("--format", v, "error") for v in ["nope", "", "ONNX"]]
    + [("--out", v, "either") for v in ["x.txt", "sub/dir/x.safetensors"]]
    + [("--out", v, "error") for v in ["x.onnx", "x.pt", "X.ONNX", "x.pth", "x.torchscript.pt"]]
    + [("--out", v, "ok") for v in ["x.safetensors", "x.bin", "x"]]
    + [("--out", v, "error", ("--format", "torchscript")) for v in ["x.onnx", "x.safetensors"]]
    + [("--out", v, "ok", ("--format", "torchscript")) for v in ["x.pt", "x.torchscript.pt"]]
)


def base_argv(cmd: str, run) -> list[str]:
    r = str(run)
    return {
        "generate": ["generate", r, "-n", "2", "--out", "g.npy"],
        "interpolate": ["interpolate", r, "--seeds", "1,2", "--steps", "2", "--out", "walk"],
        "evaluate": ["evaluate", r, "-n", "10", "--no-floor", "--no-progress", "--json"],
        "arithmetic": ["arithmetic", r, "[1,2] - [3] + [4]", "--pool", "20", "--results", "2", "--out", "a.png"],
        "neighbours": ["neighbours", r, "-n", "2", "-k", "2", "--no-features", "--out", "nb.png"],
        "export": ["export", r, "--format", "safetensors", "--out", "g.safetensors"],
    }[cmd]


def with_flag(argv: list[str], flag: str, value) -> list[str]:
    """argv with ``flag`` set to ``value`` (replacing a value already there); --flag=value form so
    values starting with '-' stay values."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == flag:
            skip = True
            continue
        out.append(a)
    return out + ([flag] if value is None else [f"{flag}={value}"])


TABLE = {"generate": GENERATE, "interpolate": INTERPOLATE, "evaluate": EVALUATE, "arithmetic": ARITHMETIC,
         "neighbours": NEIGHBOURS, "export": EXPORT}


def table_problems(cmd: str, table, base: list[str], run, tmp_path, capsys) -> list[str]:
    """Each (flag, value, expect[, (flag, value) also set]) of ``table`` on top of ``base``: what
    is wrong with the outcome, the run's files or the user's folder (where a refused command wrote
    anything)."""
    bad = []
    before = {str(run): snapshot(run)}
    for flag, value, expect, *also in table:
        argv = base
        for f, v in also:
            argv = with_flag(argv, f, v)
        argv = with_flag(argv, flag, value)
        with user_folder(tmp_path) as cwd:
            o = run_cli(argv, capsys)
            names = [flag, "--" + flag.lstrip("-")] + ([value] if value and len(value) >= 3 else [])
            if flag == "--seeds":
                names.append("seed")
            found = problems(o, cmd, expect, names) + file_problems(cwd, watched=[run], before=before)
            found += refused_but_wrote(o, cwd)
        bad += [f"{flag}={value!r}: {p}  [{o.show()}]" for p in found]
    return bad


def refused_but_wrote(o, cwd) -> list[str]:
    """A refused command must leave the user's folder as it found it."""
    if o.code == 0:
        return []
    new = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*") if p.is_file() and p.name not in USER_FILES)
    return [f"refused, but wrote {new[:4]}"] if new else []


@pytest.mark.parametrize("cmd", list(TABLE))
def test_flags_at_and_beyond_their_limits(cmd, tiny_run, tmp_path, capsys, guards):
    report(table_problems(cmd, TABLE[cmd], base_argv(cmd, tiny_run), tiny_run, tmp_path, capsys), f"ganforge {cmd}")


# project at and beyond its limits (3 steps, pixels only, on a 1-step 16-px StyleGAN2 run).
PROJECT = (
    [("--steps", v, "error") for v in ["0", "-1", "100001", *BIG, *NOT_INT]] + [("--steps", v, "ok") for v in ["1", "4"]]
    + [("--lr", v, "error") for v in ["0", "-1", "-1e-300", *NOT_FINITE, "abc", ""]]
    + [("--lr", v, "ok") for v in ["1e-300", "0.05", "1"]] + [("--lr", v, "error") for v in ["1001", "1e30", "1e300"]]
    + [("--feature-weight", v, "error") for v in ["-1", *NOT_FINITE]]
    + [("--feature-weight", v, "ok") for v in ["0", "0.5"]] + [("--feature-weight", "1e308", "either")]
    + [("--noise", v, "error") for v in ["-0.1", *NOT_FINITE]] + [("--noise", v, "ok") for v in ["0", "0.05", "1"]]
    + [("--noise", v, "either") for v in ["1e30", "1e308"]]
    + [("--seed", v, "error") for v in ["-1", str(2**64 - 1), str(2**64), *NOT_INT]]
    + [("--seed", v, "ok") for v in ["0", str(2**64 - 2000)]]
    + [("--device", v, "error") for v in ["bogus", ""]] + [("--out", "user.png", "error")]
)


def project_argv(run, picture) -> list[str]:
    return ["project", str(run), str(picture), "--steps", "3", "--feature-weight", "0", "--no-progress",
            "--out", "proj"]


def test_project_settings_at_and_beyond_their_limits(tiny_style_run, picture, tmp_path, capsys, guards):
    report(table_problems("project", PROJECT, project_argv(tiny_style_run, picture), tiny_style_run, tmp_path, capsys),
           "ganforge project")


@pytest.mark.parametrize("image,expect", [("missing.png", "error"), ("user.png", "error"), (".", "error"),
                                          ("{picture}", "ok")])
def test_project_pictures(tiny_style_run, picture, tmp_path, capsys, guards, image, expect):
    argv = project_argv(tiny_style_run, picture)
    argv[2] = image.format(picture=picture)
    with user_folder(tmp_path) as cwd:
        o = run_cli(argv, capsys)
        found = problems(o, "project", expect, [image, "IMAGE"]) + file_problems(cwd)
    report([f"{p}  [{o.show()}]" for p in found], f"ganforge project {image}")


@fuzz(20)
@given(flag=st.sampled_from(["--lr", "--feature-weight", "--noise", "--seed"]),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=8)))
def test_random_project_settings(flag, value, tiny_style_run, picture, tmp_path_factory, capsys, guards):
    """Any text as a projection setting: exit 0 or one error line, and a refused projection
    leaves nothing behind."""
    argv = with_flag(project_argv(tiny_style_run, picture), flag, value.replace("\x00", ""))
    with user_folder(tmp_path_factory.mktemp("pj")) as cwd:
        o = run_cli(argv, capsys)
        found = problems(o, "project", "either", [flag]) + file_problems(cwd) + refused_but_wrote(o, cwd)
    report([f"{flag}={value!r}: {p}  [{o.show()[:400]}]" for p in found], "ganforge project")


EXPRESSIONS = ["[1,2] - [3] + [4]", "[1]", "", "+", "- [1]", "[", "[]", "[1,]", "[a]", "[1.5]",
               "[99999999999999999999999]", "[-1]", "[1] - [1]", "[1] + + [2]", "a" * 1000,
               "[" + ",".join(map(str, range(40))) + "]", "sneaker - sandal + ankle boot", "nope", "ankle-boot",
               "[1] [2]", "[\uff11]", "[1]\n[2]", "-1", "[" * 10000]


def test_arithmetic_expressions(tiny_run, tmp_path, capsys, guards):
    bad = []
    for expr in EXPRESSIONS:
        argv = ["arithmetic", str(tiny_run), expr, "--pool", "20", "--results", "2", "--exemplars", "2", "--out", "a.png"]
        with user_folder(tmp_path) as cwd:
            o = run_cli(argv, capsys)
            expect = "ok" if expr in ("[1,2] - [3] + [4]", "[1]", "[1] - [1]") else "either"
            found = problems(o, "arithmetic", expect, ["expression", "EXPRESSION", expr[:20], "seed", "class",
                                                       "concept", "term"])
            found += file_problems(cwd)
        bad += [f"{expr[:60]!r}: {p}  [{o.show()[:400]}]" for p in found]
    report(bad, "ganforge arithmetic EXPRESSION")


@fuzz(25)
@given(expr=st.text(alphabet=st.sampled_from(list("[]0123456789,+- .aeknorsd\u00e9")), max_size=40))
def test_random_arithmetic_expressions(expr, tiny_run, tmp_path_factory, capsys, guards):
    argv = ["arithmetic", str(tiny_run), expr, "--pool", "20", "--results", "2", "--exemplars", "2", "--out", "a.png"]
    with user_folder(tmp_path_factory.mktemp("ar")) as cwd:
        o = run_cli(argv, capsys)
        found = problems(o, "arithmetic", "either") + file_problems(cwd)
    report([f"{expr!r}: {p}  [{o.show()[:400]}]" for p in found], "ganforge arithmetic")


_VALUES = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.sampled_from(BIG + NOT_INT + NOT_FINITE),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=8))
_CMD_FLAGS = [("generate", f) for f in ("-n", "--seed", "--nrow", "--batch-size", "--truncation")] + [
    ("interpolate", f) for f in ("--steps", "--seeds", "--ms-per-frame", "--truncation")] + [
    ("neighbours", f) for f in ("-n", "-k", "--seed")] + [("arithmetic", f) for f in ("--pool", "--results", "--noise")]


@fuzz(80)
@given(which=st.sampled_from(_CMD_FLAGS), value=_VALUES)
def test_random_flag_values(which, value, tiny_run, tmp_path_factory, capsys, guards):
    """Any text as any numeric flag: exit 0 or one error line; absurd sizes refused, not attempted."""
    cmd, flag = which
    value = value.replace("\x00", "")
    argv = with_flag(base_argv(cmd, tiny_run), flag, value)
    with user_folder(tmp_path_factory.mktemp("fl")) as cwd:
        o = run_cli(argv, capsys)
        found = problems(o, cmd, "either", [flag]) + file_problems(cwd)
    report([f"{flag}={value!r}: {p}  [{o.show()[:400]}]" for p in found], f"ganforge {cmd}")
