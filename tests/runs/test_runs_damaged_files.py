"""Run files damaged on disk (a disk error, an editor, another program writing there): ``ganforge
runs``, ``report`` and ``train --resume`` read what can be read, say once what they left out, and
never stop with a traceback; one damaged run never hides the others from ``ganforge runs``."""
from __future__ import annotations

import json
import shutil

import pytest

from ganforge.runs import status as runstatus
from ganforge.runs.monitor import read_json, read_log, strict_json
from gf_helpers import FAST, TINY_NETS, make_images, one_line, train_once

# Lines that are not a record of a run, as they would read on disk (each ends with its newline).
DAMAGE = {
    "not UTF-8": b'\xff\xfe{"step": 9}\n',
    "a 5,000-digit number": b'{"step": 1' + b"1" * 5000 + b"}\n",
    "a cut line": b'{"step": 9, "d_lo\n',
    "not an object": b"[1, 2, 3]\n",
    "nested too deeply": b"[" * 5000 + b"]" * 5000 + b"\n",
    "a NUL byte": b'{"step": 9}\x00\n',
}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A 3-step dcgan run: log.jsonl holds steps 1, 2 and 3."""
    import numpy as np

    root = tmp_path_factory.mktemp("good-run")
    np.savez(root / "tiny.npz", images=make_images(24))
    train_once(root / "run", root / "tiny.npz", "--preset", "dcgan", "--steps", "3", *FAST, *TINY_NETS)
    return root / "run"


def copy_run(good_run, dest, log_tail: bytes = b"", config: bytes | None = None):
    shutil.copytree(good_run, dest)
    with (dest / "log.jsonl").open("ab") as f:
        f.write(log_tail)
    if config is not None:
        (dest / "config.json").write_bytes(config)
    return dest


# --------------------------------------------------------------------------- reading
@pytest.mark.parametrize("what", DAMAGE)
def test_read_log_leaves_out_a_damaged_line_and_says_so_in_one_line(tmp_path, what):
    good = [strict_json({"step": s, "d_loss": 0.5}).encode() + b"\n" for s in (1, 2, 3)]
    (tmp_path / "log.jsonl").write_bytes(good[0] + DAMAGE[what] + good[1] + DAMAGE[what] + good[2])
    problems: list[str] = []
    assert [r["step"] for r in read_log(tmp_path, problems)] == [1, 2, 3]
    assert problems == [f"log.jsonl: 2 damaged lines left out (line 2: {problems[0].split('(line 2: ')[1]}"]
    assert "\n" not in problems[0]


def test_a_torn_last_line_is_what_a_crash_leaves_and_is_left_out_silently(tmp_path):
    (tmp_path / "log.jsonl").write_bytes(b'{"step": 1}\n{"step": 2, "d_lo')
    problems: list[str] = []
    assert read_log(tmp_path, problems) == [{"step": 1}] and problems == []


def test_read_json_raises_value_error_and_nothing_else():
    for data in [*DAMAGE.values(), b"", b"\x80", "\ud800".encode("utf-8", "surrogatepass"), b"1e400" * 3]:
        try:
            read_json(data)
        except ValueError:
            pass
    assert read_json(b'{"a": 1e400}')["a"] == float("inf")  # a float too large reads as infinity


def test_records_with_values_of_the_wrong_kind_are_read_and_summarised(tmp_path, good_run):
    run = copy_run(good_run, tmp_path / "run", b"".join(json.dumps(r).encode() + b"\n" for r in [
        {"step": "x", "epoch": "y", "time_s": "z"}, {"step": 4, "epoch": 0, "time_s": [1]},
        {"step": True, "nonfinite": "step"}, {"event": "eval", "step": 3, "fd": "low"},
        {"step": 5, "nonfinite": ["a.b.c", "9" * 40, 3, None]}, {"step": -7}]))
    row = runstatus.run_summary(run)
    assert row["step"] == 5 and row["best_fd"] is None and row["problem"] is None


# --------------------------------------------------------------------------- ganforge runs
@pytest.mark.parametrize("what", DAMAGE)
def test_runs_lists_every_run_and_notes_what_it_left_out(cli, good_run, tmp_path, what):
    copy_run(good_run, tmp_path / "runs" / "00000-good")
    copy_run(good_run, tmp_path / "runs" / "00001-bad", DAMAGE[what])
    code, out, err = cli("runs", tmp_path / "runs")
    assert code == 0 and "Traceback" not in err, err
    lines = out.splitlines()
    assert lines[1].startswith("00000-good") and lines[2].startswith("00001-bad") and "finished" in lines[2]
    assert lines[3].strip().startswith("00001-bad: log.jsonl: 1 damaged line left out (line 4:")
    code, out, err = cli("runs", tmp_path / "runs", "--json")
    good, bad = json.loads(out)
    assert good["problem"] is None and bad["step"] == 3 and "log.jsonl: 1 damaged line" in bad["problem"]


@pytest.mark.parametrize("config", [b"\xff\xfe", b'{"train": [1], "data": "x", "preset": {"a": 1}, '
                                                  b'"training_state": 5}', b'{"train": {"epochs": 1e400}}',
                                    b'{"seed": 1' + b"0" * 5000 + b"}"],
                         ids=["not-utf8", "values-of-the-wrong-kind", "epochs-1e400", "a-5000-digit-seed"])
def test_a_damaged_config_json_still_lists_the_run(cli, good_run, tmp_path, config):
    copy_run(good_run, tmp_path / "runs" / "00000-a", config=config)
    copy_run(good_run, tmp_path / "runs" / "00001-b")
    code, out, err = cli("runs", tmp_path / "runs", "--json")
    assert code == 0 and "Traceback" not in err, err
    a, b = json.loads(out)
    assert a["step"] == b["step"] == 3 and b["problem"] is None


def test_one_run_that_cannot_be_read_at_all_does_not_hide_the_others(cli, good_run, tmp_path, monkeypatch):
    for name in ("00000-a", "00001-b", "00002-c"):
        copy_run(good_run, tmp_path / "runs" / name)
    summary = runstatus.run_summary

    def unreadable_b(run_dir, *a, **k):
        if run_dir.name == "00001-b":
            raise OSError(5, "Input/output error")
        return summary(run_dir, *a, **k)

    monkeypatch.setattr(runstatus, "run_summary", unreadable_b)
    code, out, err = cli("runs", tmp_path / "runs")
    assert code == 0, err
    rows = out.splitlines()
    assert [r.split()[0] for r in rows[1:4]] == ["00000-a", "00001-b", "00002-c"]
    assert rows[2].split()[-1] == "unreadable" and "00001-b: [Errno 5] Input/output error" in rows[4]


# --------------------------------------------------------------------------- ganforge report
@pytest.mark.parametrize("what", DAMAGE)
def test_report_of_a_run_with_a_damaged_log_is_written_and_says_what_it_left_out(cli, good_run, tmp_path, what):
    run = copy_run(good_run, tmp_path / "run", DAMAGE[what])
    code, out, err = cli("report", run)
    assert code == 0 and out.strip() == str(run / "report.html"), err
    assert one_line(err) and err.startswith(f"note: {run}: log.jsonl: 1 damaged line left out (line 4:")
    assert '"step":3' in (run / "report.html").read_text()


def test_report_of_a_run_whose_config_json_is_not_text(cli, good_run, tmp_path):
    run = copy_run(good_run, tmp_path / "run", config=b"\x00\xff" * 10)
    code, out, err = cli("report", run)
    assert code == 0 and (run / "report.html").is_file(), err
    assert one_line(err) and "config.json: unreadable (not UTF-8 text)" in err


# --------------------------------------------------------------------------- ganforge train --resume
@pytest.mark.parametrize("what", ["not UTF-8", "a 5,000-digit number", "nested too deeply"])
def test_resume_drops_damaged_lines_says_so_once_and_goes_on(cli, good_run, tmp_path, what):
    run = copy_run(good_run, tmp_path / "run", DAMAGE[what])
    code, out, err = cli("train", "--resume", run, "--steps", 4, "--no-progress")
    assert code == 0 and "Traceback" not in err, err
    notes = [line for line in err.splitlines() if "damaged" in line]
    assert notes == [f"note: {run / 'log.jsonl'}: 1 damaged line left out (line 4: {notes[0].split('(line 4: ')[1]}"]
    problems: list[str] = []
    assert [r["step"] for r in read_log(run, problems) if "event" not in r] == [1, 2, 3, 4] and problems == []
