"""Outputs: absurd amounts are refused before any work starts, and a file the user already has is
never replaced without --overwrite (with it, it is)."""
from __future__ import annotations

import pytest

from fuzztest_util import USER_BYTES, file_problems, problems, report, run_cli, user_folder

ABSURD = {  # label: (argv, the flag the refusal names)
    "generate -n 100000 --out grid.png": (["generate", "{run}", "-n", "100000", "--out", "grid.png"], "-n"),
    "generate -n 10**12 --out x.npy": (["generate", "{run}", "-n", str(10**12), "--out", "x.npy"], "-n"),
    "generate -n 10**12 --out pngs/": (["generate", "{run}", "-n", str(10**12), "--out", "pngs"], "-n"),
    "generate -n 4 --nrow 10**9": (["generate", "{run}", "-n", "4", "--nrow", str(10**9), "--out", "grid.png"],
                                   "--nrow"),
    "interpolate --steps 100000": (["interpolate", "{run}", "--seeds", "1,2", "--steps", "100000", "--out", "walk"],
                                   "--steps"),
    "interpolate 5000 seeds x 100 steps": (["interpolate", "{run}", "--seeds", ",".join(map(str, range(5000))),
                                            "--steps", "100", "--out", "walk"], "--seeds"),
    "evaluate -n 10**12": (["evaluate", "{run}", "-n", str(10**12), "--no-floor", "--no-progress"], "-n"),
    "arithmetic --pool 10**12": (["arithmetic", "{run}", "[1] - [2] + [3]", "--pool", str(10**12), "--out", "a.png"],
                                 "--pool"),
    "arithmetic --results 10**9": (["arithmetic", "{run}", "[1] - [2] + [3]", "--results", str(10**9),
                                    "--out", "a.png"], "--results"),
    "neighbours -n 10**9": (["neighbours", "{run}", "-n", str(10**9), "--no-features", "--out", "nb.png"], "-n"),
    "neighbours -k 10**9": (["neighbours", "{run}", "-k", str(10**9), "--no-features", "--out", "nb.png"], "-k"),
}


@pytest.mark.parametrize("label", list(ABSURD))
def test_absurd_outputs_are_refused_not_attempted(label, tiny_run, tmp_path, capsys, guards):
    argv, flag = ABSURD[label]
    argv = [a.replace("{run}", str(tiny_run)) for a in argv]
    with user_folder(tmp_path) as cwd:
        o = run_cli(argv, capsys)
        found = problems(o, argv[0], "error", [flag, "--steps" if flag == "--seeds" else flag]) + file_problems(cwd)
        made = [p.name for p in cwd.iterdir() if p.name not in {"user.png", "user.npy", "user.gif", "user.onnx",
                                                                 "user.safetensors", "user.pt", "user.json"}]
    if made:
        found.append(f"wrote {made[:4]} before refusing")
    report([f"{p}  [{o.show()}]" for p in found], label)


# (command, the user's existing file it would write)
OVERWRITE = {
    "generate grid": (["generate", "{run}", "-n", "2", "--out", "user.png"], "user.png"),
    "generate npy": (["generate", "{run}", "-n", "2", "--out", "user.npy"], "user.npy"),
    "interpolate png": (["interpolate", "{run}", "--seeds", "1,2", "--steps", "2", "--out", "user"], "user.png"),
    "interpolate gif": (["interpolate", "{run}", "--seeds", "1,2", "--steps", "2", "--out", "user.gif"], "user.gif"),
    "arithmetic": (["arithmetic", "{run}", "[1] - [2] + [3]", "--pool", "20", "--results", "2", "--out", "user.png"],
                   "user.png"),
    "neighbours": (["neighbours", "{run}", "-n", "2", "-k", "1", "--no-features", "--out", "user.png"], "user.png"),
    "export safetensors": (["export", "{run}", "--format", "safetensors", "--out", "user.safetensors"],
                           "user.safetensors"),
    "export torchscript": (["export", "{run}", "--format", "torchscript", "--out", "user.pt"], "user.pt"),
    "export sidecar": (["export", "{run}", "--format", "safetensors", "--out", "side.safetensors"],
                       "side.safetensors.json"),
}


@pytest.mark.parametrize("label", list(OVERWRITE))
def test_a_users_file_is_not_replaced_without_overwrite(label, tiny_run, tmp_path, capsys, guards):
    argv, target = OVERWRITE[label]
    argv = [a.replace("{run}", str(tiny_run)) for a in argv]
    found = []
    with user_folder(tmp_path) as cwd:
        if not (cwd / target).exists():
            (cwd / target).write_bytes(USER_BYTES)
        o = run_cli(argv, capsys)
        if (cwd / target).read_bytes() != USER_BYTES:
            found.append(f"without --overwrite: {target} was replaced")
        found += [f"without --overwrite: {p}  [{o.show()}]"
                  for p in problems(o, argv[0], "error", [target, "--out", "--overwrite"])]
        found += [f"without --overwrite: {p}" for p in file_problems(cwd)]
        o = run_cli(argv + ["--overwrite"], capsys)
        found += [f"with --overwrite: {p}  [{o.show()}]" for p in problems(o, argv[0], "ok")]
        if o.code == 0 and (cwd / target).read_bytes() == USER_BYTES:
            found.append(f"with --overwrite: exit 0 but {target} was not replaced")
    report(found, label)
