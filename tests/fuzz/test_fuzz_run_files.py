"""Damaged run files against ``ganforge runs``, ``report`` and ``train --resume``: random bytes,
numbers no float holds and cut lines in log.jsonl (and config.json and run.lock). Each command
exits 0 with what it could read, lists the damaged run beside the others, and never prints a
traceback; a resume goes on and leaves a log of JSON lines only."""
from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzztest_util import fuzz, problems, report, run_cli
from ganforge.runs.monitor import read_json

DAMAGE = [
    b"\x00\xff\xfe", b"\x80" * 10, "\u00e9\u2028\ud7ff".encode() + b"\n", b'{"step": 1' + b"9" * 5000 + b"}\n",
    b'{"step": 1e999, "time_s": -1e999}\n', b'{"step": ' + b"9" * 40 + b"}\n", b'{"step": 2, "d_loss": 1' + b"0" * 400
    + b"}\n", b'{"event": "eval", "step": 1, "fd": 1e999}\n', b"[" * 10000 + b"\n", b"\n" * 1000, b'{"step": 2, "d',
    b'{"nonfinite": ["a.0.b", "' + b"9" * 50 + b'"], "a": [null]}\n', b'{"step": "2", "epoch": [], "time_s": {}}\n',
    b"null\n", b'"text"\n', b"1\n", b"\xef\xbb\xbf" + b'{"step": 2}\n', b'{"step": 2}\r\n',
]


def damaged(tiny_run, root, name, *, log=None, cut=None, config=None, lock=None):
    """A copy of the tiny run in ``root/name`` with ``log`` appended to its log.jsonl (or the log
    cut after ``cut`` bytes), and config.json or run.lock replaced by the bytes given."""
    run = root / name
    shutil.copytree(tiny_run, run)
    path = run / "log.jsonl"
    if cut is not None:
        path.write_bytes(path.read_bytes()[:cut])
    if log is not None:
        path.write_bytes(path.read_bytes() + log)
    for file, data in (("config.json", config), ("run.lock", lock)):
        if data is not None:
            (run / file).write_bytes(data)
    return run


def read_back(tiny_run, root, capsys, **damage) -> list[str]:
    """``ganforge runs`` (table and --json) and ``ganforge report`` on a damaged copy beside a
    good one: what is wrong."""
    root.mkdir()
    damaged(tiny_run, root, "00000-good")
    run = damaged(tiny_run, root, "00001-damaged", **damage)
    found = []
    for argv in (["runs", str(root)], ["runs", str(root), "--json"], ["report", str(run)]):
        o = run_cli(argv, capsys)
        bad = problems(o, argv[0], "ok")
        if argv[0] == "runs" and o.code == 0 and not ("00000-good" in o.out and "00001-damaged" in o.out):
            bad.append("a run is missing from the list")
        found += [f"{argv[0]}{' --json' if '--json' in argv else ''}: {p}  [{o.show()[:300]}]" for p in bad]
    return found


@pytest.mark.parametrize("where", ["log", "config", "lock"])
def test_damaged_run_files_against_runs_and_report(where, tiny_run, tmp_path, capsys):
    bad = []
    for i, data in enumerate(DAMAGE):
        bad += [f"{where} {data[:30]!r}: {p}" for p in read_back(tiny_run, tmp_path / str(i), capsys, **{where: data})]
    size = len((tiny_run / "log.jsonl").read_bytes())
    if where == "log":
        for cut in (0, 1, size // 2, size - 1):
            bad += [f"log cut at {cut}: {p}" for p in read_back(tiny_run, tmp_path / f"cut{cut}", capsys, cut=cut)]
    report(bad, f"damaged {where} files")


@fuzz(30)
@given(where=st.sampled_from(["log", "config", "lock"]), data=st.binary(max_size=200),
       cut=st.one_of(st.none(), st.integers(min_value=0, max_value=400)))
def test_random_bytes_in_run_files(where, data, cut, tiny_run, tmp_path_factory, capsys):
    damage = {where: data, "cut": cut if where == "log" else None}
    found = read_back(tiny_run, tmp_path_factory.mktemp("rb") / "runs", capsys, **damage)
    report([f"{where} {data[:40]!r} cut {cut}: {p}" for p in found], "random bytes in a run file")


def resumed(tiny_run, root, capsys, **damage) -> list[str]:
    """``train --resume`` of a damaged copy, one step further: what is wrong."""
    run = damaged(tiny_run, root, "run", **damage)
    o = run_cli(["train", "--resume", str(run), "--steps", "2", "--no-progress"], capsys)
    found = problems(o, "train", "ok")
    if o.code == 0:
        for number, line in enumerate((run / "log.jsonl").read_bytes().splitlines(), 1):
            try:
                if not isinstance(read_json(line), dict):
                    raise ValueError("not an object")
            except ValueError as e:
                found.append(f"the resumed log's line {number} is not a record ({e})")
    return [f"{p}  [{o.show()[:300]}]" for p in found]


def test_damaged_logs_against_resume(tiny_run, tmp_path, capsys):
    bad = []
    for i, data in enumerate(DAMAGE[:12]):
        bad += [f"log {data[:30]!r}: {p}" for p in resumed(tiny_run, tmp_path / f"l{i}", capsys, log=data)]
    for i, data in enumerate([b"\xff", b"{}", b'{"train": 5}']):
        bad += [f"config {data!r}: {p}" for p in resumed(tiny_run, tmp_path / f"c{i}", capsys, config=data)]
    report(bad, "train --resume of damaged run files")


@fuzz(6)
@given(data=st.binary(min_size=1, max_size=120))
def test_random_bytes_in_the_log_against_resume(data, tiny_run, tmp_path_factory, capsys):
    report([f"{data[:40]!r}: {p}" for p in resumed(tiny_run, tmp_path_factory.mktemp("rr"), capsys, log=data)],
           "train --resume after random bytes in log.jsonl")
