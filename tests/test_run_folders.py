"""The run folder: a new run never writes into another run's folder unless told to (--overwrite
says what it deletes), bad --out/--resume/--config places are one-line errors, the files a run
writes are strict JSON, a killed run keeps its figures, and SIGINT/SIGTERM exit 130/143."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from ganforge import api
from ganforge.checkpoint import load_checkpoint
from ganforge.cli import train as cli_train
from ganforge.errors import GanforgeError
from ganforge.runs import folder as runfolder
from ganforge.runs.monitor import Monitor, read_log, write_loss_plot
from ganforge.train.trainer import GANTrainer
from gf_helpers import QUIET, TINY_NETS, one_line_error, signal_after_step, small_cfg



def strict_loads(text: str):
    """json.loads that refuses NaN, Infinity and -Infinity, as strict JSON readers do."""
    def refuse(token):
        raise ValueError(f"not strict JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def train_cmd(npz, out, *extra, steps=2):
    return ("train", "--data", npz, "--steps", steps, "--out", out, "--no-progress", "--batch-size", 4,
            "--n-fixed", 4, "--sample-every", 1, "--checkpoint-every", 1, "--log-every", 1,
            "--precision", "fp32", *TINY_NETS, *extra)


# --------------------------------------------------------------------------- a new run's folder
def test_a_new_run_into_an_existing_run_is_refused_and_changes_nothing(cli, tmp_path, npz_data):
    run = tmp_path / "run"
    assert cli(*train_cmd(npz_data, run))[0] == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, out, err = cli(*train_cmd(npz_data, run, steps=3))
    one_line_error(code, err, "--out", str(run), f"--resume {run}", "--overwrite")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_overwrite_deletes_the_old_runs_files_and_nothing_else(cli, tmp_path, npz_data):
    run = tmp_path / "run"
    assert cli(*train_cmd(npz_data, run, steps=3))[0] == 0
    (run / "notes.txt").write_text("mine")
    (run / "samples" / "favourite.png").write_bytes(b"x")
    code, out, err = cli(*train_cmd(npz_data, run, "--overwrite", steps=1))
    assert code == 0, err
    assert [r["step"] for r in read_log(run)] == [1]
    assert sorted(p.name for p in (run / "samples").glob("step-*.png")) == ["step-0000000.png", "step-0000001.png"]
    assert load_checkpoint(run)["step"] == 1
    assert (run / "notes.txt").read_text() == "mine" and (run / "samples" / "favourite.png").exists()


def test_overwrite_help_names_exactly_what_it_deletes(cli, capsys):
    with pytest.raises(SystemExit):
        cli("train", "--help")
    squeeze = lambda text: "".join(text.split())  # noqa: E731  (--help wraps lines, even at hyphens)
    assert squeeze(f"delete the old run's {cli_train.OVERWRITE_REMOVES}") in squeeze(capsys.readouterr().out)
    named = {n.strip() for n in cli_train.OVERWRITE_REMOVES.replace(" and ", ", ").split(",")}
    assert named == {n.strip() for n in runfolder.OVERWRITE_REMOVES.split(",")}


def test_an_empty_existing_folder_is_used_and_a_full_one_refused(cli, tmp_path, npz_data):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(*train_cmd(npz_data, empty, steps=1))[0] == 0
    full = tmp_path / "photos"
    full.mkdir()
    (full / "cat.jpg").write_bytes(b"x")
    code, _, err = cli(*train_cmd(npz_data, full, steps=1))
    one_line_error(code, err, "--out", str(full), "not empty", "--overwrite")
    assert sorted(p.name for p in full.iterdir()) == ["cat.jpg"]


def test_api_train_follows_the_same_rule(tmp_path, npz_data):
    quiet = dict(progress=False, log=lambda *_: None)
    api.train(small_cfg(npz_data, **{"train.steps": 1}), tmp_path / "r", **quiet)
    with pytest.raises(runfolder.RunFolderError, match="already holds a run") as e:
        api.train(small_cfg(npz_data, **{"train.steps": 2}), tmp_path / "r", **quiet)
    assert isinstance(e.value, GanforgeError)
    res = api.train(small_cfg(npz_data, **{"train.steps": 2}), tmp_path / "r", overwrite=True, **quiet)
    assert res.steps == 2 and [r["step"] for r in read_log(tmp_path / "r")] == [1, 2]


@pytest.mark.parametrize("where", ["file", "under-a-file", "read-only"])
def test_out_that_cannot_be_a_run_folder_is_one_line(cli, tmp_path, npz_data, where):
    f = tmp_path / "afile"
    f.write_text("x")
    out = {"file": f, "under-a-file": f / "run", "read-only": tmp_path / "ro" / "run"}[where]
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        (tmp_path / "ro").mkdir(mode=0o500)
    code, _, err = cli(*train_cmd(npz_data, out, steps=1))
    one_line_error(code, err, "--out")


def test_config_naming_a_folder_is_one_line(cli, tmp_path):
    code, _, err = cli("train", "--config", tmp_path, "--steps", 1, "--no-progress")
    one_line_error(code, err, "--config", "is a folder")


def test_resume_takes_the_run_folder_or_its_checkpoint_file(cli, tmp_path, npz_data):
    run = tmp_path / "run"
    assert cli(*train_cmd(npz_data, run))[0] == 0
    code, out, err = cli("train", "--resume", run / "checkpoint.pt", "--steps", 3, "--no-progress")
    assert code == 0, err
    assert "finished at step 3" in out and load_checkpoint(run)["step"] == 3
    other = tmp_path / "copy.pt"
    other.write_bytes((run / "checkpoint.pt").read_bytes())
    code, _, err = cli("train", "--resume", other, "--steps", 4, "--no-progress")
    one_line_error(code, err, "--resume", "run folder")
    code, _, err = cli("train", "--resume", tmp_path / "nothing-here", "--steps", 4, "--no-progress")
    one_line_error(code, err, "--resume", "nothing-here")


# --------------------------------------------------------------------------- strict JSON
def test_log_lines_are_strict_json_and_nonfinite_values_are_flagged(tmp_path):
    m = Monitor(tmp_path, 0, 10, None, progress=False)
    m.log({"step": 1, "d_loss": 0.5, "g_loss": 1.0, "d_real": 0.6, "d_fake": 0.4})
    m.log({"step": 2, "d_loss": math.nan, "g_loss": math.inf, "d_real": 0.6, "d_fake": 0.4})
    m.log_event({"step": 2, "event": "eval", "fd": math.inf, "protocol": {"n": 10}})
    m.close()
    lines = [strict_loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert "nonfinite" not in lines[0]
    assert lines[1]["d_loss"] is None and lines[1]["g_loss"] is None
    assert lines[1]["nonfinite"] == ["d_loss", "g_loss"] and lines[2]["nonfinite"] == ["fd"]
    back = read_log(tmp_path)
    assert math.isnan(back[1]["d_loss"]) and math.isnan(back[2]["fd"]) and back[0]["d_loss"] == 0.5
    assert write_loss_plot(tmp_path).is_file()


def test_a_run_whose_losses_go_nan_writes_strict_json(tmp_path, npz_data, monkeypatch):
    orig = GANTrainer.train_step

    def nan_at_step_2(self, real, labels=None):
        stats = orig(self, real, labels)
        if self.step == 2:
            stats.d_loss = stats.d_loss * math.nan
        return stats

    monkeypatch.setattr(GANTrainer, "train_step", nan_at_step_2)
    cfg = small_cfg(npz_data, **{"train.steps": 3, "train.diagnose": False})
    api.train(cfg, tmp_path / "r", progress=False, log=lambda *_: None)
    records = [strict_loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert [r.get("nonfinite") for r in records] == [None, ["d_loss", "g_loss"], None]
    strict_loads((tmp_path / "r" / "config.json").read_text())
    assert (tmp_path / "r" / "losses.png").is_file()


def test_a_config_value_that_is_not_finite_is_refused(cli):
    code, _, err = cli("train", "--minutes", "inf", "--dry-run")
    one_line_error(code, err, "--minutes", "finite")


# --------------------------------------------------------------------------- signals
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_a_checkpoint_and_sets_the_exit_code(cli, tmp_path, npz_data, monkeypatch, sig, code):
    signal_after_step(monkeypatch, 2, sig)
    got, out, err = cli(*train_cmd(npz_data, tmp_path / "run", steps=50))
    assert got == code, err
    assert f"stopped by {sig.name} at step 2" in out
    assert load_checkpoint(tmp_path / "run")["step"] == 2


def test_train_result_says_which_signal_stopped_the_run(tmp_path, npz_data, monkeypatch):
    signal_after_step(monkeypatch, 1, signal.SIGTERM)
    res = api.train(small_cfg(npz_data, **{"train.steps": 10}), tmp_path / "r", **QUIET)
    assert res.interrupted and res.stop_signal == signal.SIGTERM and res.steps == 1
    monkeypatch.undo()
    res = api.train(small_cfg(npz_data, **{"train.steps": 1}), tmp_path / "r2", **QUIET)
    assert not res.interrupted and res.stop_signal is None


def test_a_killed_run_has_its_progress_gif_and_loss_plot(tmp_path, npz_data):
    """kill -9 skips everything a run does on its way out: the figures must already be there."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "ganforge.cli", *map(str, train_cmd(npz_data, run, steps=100_000))]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not ((run / "losses.png").exists() and (run / "progress.gif").exists()):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no progress.gif and losses.png while training"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert Image.open(run / "progress.gif").n_frames >= 2
    Image.open(run / "losses.png").verify()
    assert load_checkpoint(run)["step"] >= 1


def test_figures_at_checkpoints_are_rate_limited_but_the_last_is_forced(tmp_path):
    import torch

    m = Monitor(tmp_path, 0, 10, None, progress=False)
    m.log({"step": 1, "d_loss": 0.5, "g_loss": 1.0, "d_real": 0.6, "d_fake": 0.4})
    m.save_samples(1, torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    gif, plot = m.figures()
    assert gif.is_file() and plot.is_file()
    assert m.figures() == (None, None)  # again at once: skipped
    assert all(p is not None for p in m.figures(force=True))
    m.close()
