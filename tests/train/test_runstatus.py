"""``ganforge runs``: one line per run, and its status - running, finished or interrupted - from
run.lock, which a live training process holds (a killed one's stale file reads as interrupted)."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from ganforge import api
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.runs import status as runstatus
from ganforge.runs.monitor import read_log
from ganforge.runs.folder import RunFolderError
from gf_helpers import QUIET, signal_after_step, small_cfg


def train_run(npz, run, steps=2, **fields):
    return api.train(small_cfg(npz, **{"train.steps": steps, **fields}), run, **QUIET)


def hold_lock_in_a_subprocess(run):
    """A separate process that takes run.lock as training does and waits; returns it once it holds it."""
    code = textwrap.dedent(f"""
        import sys, time
        from ganforge.runs.status import RunLock
        lock = RunLock({str(run)!r})
        print("holding", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "holding", proc.stderr.read()
    return proc


def test_a_finished_run_reads_as_finished_in_the_table_and_the_json(cli, tmp_path, npz_data):
    train_run(npz_data, tmp_path / "runs" / "00000-a", steps=3)
    code, out, err = cli("runs", tmp_path / "runs")
    assert code == 0, err
    head, row = out.strip().splitlines()
    assert head.split() == ["run", "preset", "data", "step", "trained", "best", "FD", "status"]
    cells = row.split()
    assert cells[:4] == ["00000-a", "dcgan", "tiny", "3"] and cells[-2:] == ["-", "finished"]
    code, out, _ = cli("runs", tmp_path / "runs", "--json")
    (r,) = json.loads(out)
    assert (r["name"], r["step"], r["status"], r["best_fd"]) == ("00000-a", 3, "finished", None)
    assert r["time_s"] > 0 and r["data"] == "tiny" and r["preset"] == "dcgan"


def test_a_stopped_run_reads_as_interrupted_and_its_page_says_so(cli, tmp_path, npz_data, monkeypatch):
    signal_after_step(monkeypatch, 2, signal.SIGINT)
    res = train_run(npz_data, tmp_path / "run", steps=10, **{"train.log_every": 5})
    assert res.interrupted and read_log(tmp_path / "run") == []
    row = runstatus.run_summary(tmp_path / "run")
    assert row["status"] == "interrupted" and row["step"] == 2  # the step it stopped at, not the last log line
    assert '"status":"interrupted"' in (tmp_path / "run" / "report.html").read_text()
    monkeypatch.undo()
    api.train(small_cfg(npz_data, **{"train.steps": 3}), tmp_path / "run", resume=True, **QUIET)
    assert runstatus.run_summary(tmp_path / "run")["status"] == "finished"


def test_a_run_being_trained_reads_as_running_and_a_killed_one_as_interrupted(cli, tmp_path, npz_data):
    run = tmp_path / "runs" / "r"
    train_run(npz_data, run)
    proc = hold_lock_in_a_subprocess(run)
    try:
        code, out, _ = cli("runs", tmp_path / "runs", "--json")
        assert json.loads(out)[0]["status"] == "running"
        # a second trainer of the same run is refused, and so are a resume and an overwrite
        with pytest.raises(RunFolderError, match=f"pid {proc.pid}"):
            runstatus.RunLock(run, wait_s=0.2)
        with pytest.raises(RunFolderError, match="being trained now"):
            api.train(small_cfg(npz_data, **{"train.steps": 4}), run, resume=True, **QUIET)
        code, _, err = cli("train", "--data", npz_data, "--out", run, "--overwrite", "--steps", 1, "--no-progress")
        assert code == 2 and "being trained now" in err and (run / "checkpoint.pt").is_file()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    # the killed holder left its file saying "running", but nobody holds the lock
    assert json.loads((run / "run.lock").read_text())["status"] == "running"
    code, out, _ = cli("runs", tmp_path / "runs")
    assert out.splitlines()[1].split()[-1] == "interrupted"


def test_the_lock_of_this_process_reads_as_running_until_released(tmp_path):
    lock = runstatus.RunLock(tmp_path)
    assert runstatus.lock_status(tmp_path) == "running"
    lock.release("finished")
    assert runstatus.lock_status(tmp_path) == "finished"
    lock = runstatus.RunLock(tmp_path)  # a resume takes it again
    del lock  # dropped without release (an exception): the file still says running
    assert runstatus.lock_status(tmp_path) == "interrupted"


def test_runs_made_before_run_lock_are_judged_by_their_planned_length(tmp_path):
    for name, steps in (("done", 4), ("cut", 10)):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"preset": "dcgan", "data": {"source": "fashion-mnist"},
                                                     "train": {"steps": steps, "epochs": None}}))
        (run / "log.jsonl").write_text("".join(json.dumps({"step": s, "epoch": s / 100, "time_s": 30.0 * s}) + "\n"
                                               for s in (2, 4)))
    rows = {r["name"]: r for r in runstatus.list_runs(tmp_path)}
    assert rows["done"]["status"] == "finished" and rows["cut"]["status"] == "interrupted"
    assert rows["done"]["data"] == "fashion-mnist" and rows["done"]["time_s"] == 120.0
    assert "2m00s" in runstatus.runs_table(list(rows.values()))


def test_best_fd_comes_from_eval_records_else_best_pt(tmp_path, npz_data):
    run = tmp_path / "run"
    train_run(npz_data, run)
    assert runstatus.run_summary(run)["best_fd"] is None
    shutil.copy(run / "checkpoint.pt", run / "best.pt")
    ck = load_checkpoint(run / "best.pt")
    ck["best_fd"] = 7.25
    save_checkpoint(ck, run / "best.pt")
    assert runstatus.run_summary(run)["best_fd"] == 7.25
    with (run / "log.jsonl").open("a") as f:
        for step, fd in ((1, 9.0), (2, 6.5)):
            f.write(json.dumps({"step": step, "event": "eval", "fd": fd, "protocol": {}}) + "\n")
    assert runstatus.run_summary(run)["best_fd"] == 6.5


def test_runs_errors_and_empty_folders_are_one_line(cli, tmp_path):
    code, _, err = cli("runs", tmp_path / "missing")
    assert code == 2 and "no such folder" in err and "Traceback" not in err
    code, out, _ = cli("runs", tmp_path)
    assert code == 0 and out.startswith("no runs in")


def test_runs_and_report_explain_themselves(cli, capsys):
    for cmd, words in (("runs", ("running", "finished", "interrupted", "--json", "DIR")),
                       ("report", ("report.html", "no network", "slider", "RUN_DIR"))):
        with pytest.raises(SystemExit):
            cli(cmd, "--help")
        out = capsys.readouterr().out
        assert all(w in out for w in words), (cmd, out)


def test_a_forked_child_does_not_keep_the_run_locked(tmp_path):
    """A DataLoader worker is a forked child sharing the lock's open file: were it to keep the
    lock, a run killed with kill -9 would read as running (and refuse --resume) until its
    workers noticed. The child drops its copy; once the parent lets go, the run is free."""
    import os

    from ganforge.runs.status import RunLock

    lock = RunLock(tmp_path)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child outlives its parent's lock, as a worker outlives a killed trainer
        os.read(r, 1)
        os._exit(0)
    try:
        os.close(lock.fd)  # the parent's copy goes, as when kill -9 ends it
        lock.fd = None
        again = RunLock(tmp_path, wait_s=0.5)  # free at once, the child still alive (else RunFolderError)
        assert again.fd is not None
        again.release("finished")
    finally:
        os.write(w, b"x")
        os.waitpid(pid, 0)
