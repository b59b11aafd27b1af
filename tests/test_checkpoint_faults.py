"""Checkpoint files that are not what they claim, and saves that cannot finish: ganforge says
what is wrong in its own words, on one line naming the file, and never loses the last good
checkpoint or leaves a temp file behind."""
from __future__ import annotations

import errno
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile

import pytest
import torch

from ganforge import checkpoint
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import CheckpointError
from gf_helpers import Payload

TORCH_WORDS = ("weights_only", "WeightsUnpickler", "torch.load", "Traceback", "PytorchStreamReader")


def state(n: int = 1000) -> dict:
    return {"step": 7, "w": torch.arange(float(n)), "config": {"a": 1}}


def refused(path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg, msg
    assert not any(w in msg for w in TORCH_WORDS), msg
    return msg


def test_a_pickle_that_would_run_code_is_refused_in_ganforges_words(tmp_path, capsys):
    p = tmp_path / "evil.pt"
    torch.save({"format": "ganforge-checkpoint", "x": Payload()}, p)
    refused(p, "refused: it contains code, which ganforge never loads")
    legacy = tmp_path / "evil-legacy.pt"
    torch.save({"x": Payload()}, legacy, _use_new_zipfile_serialization=False)
    refused(legacy, "refused: it contains code")
    plain = tmp_path / "evil.pkl"
    plain.write_bytes(pickle.dumps(Payload(), protocol=2))
    refused(plain, "refused: it contains code")
    assert "must never run" not in capsys.readouterr().out


def test_a_whole_pickled_module_is_refused_as_code(tmp_path):
    p = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), p)
    refused(p, "refused: it contains code")


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_files_that_are_not_checkpoints(tmp_path):
    p = tmp_path / "notes.pt"
    p.write_bytes(b"not a checkpoint at all")
    refused(p, "not a ganforge checkpoint .not a file torch.save wrote")
    p.write_bytes(b"")
    refused(p, "empty file")
    p.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    refused(p, "not a ganforge checkpoint")
    torch.save({"state_dict": {"w": torch.zeros(1)}}, p)
    refused(p, "no 'ganforge-checkpoint' marker")
    scripted = tmp_path / "g.torchscript.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(scripted))
    refused(scripted, "TorchScript model")


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_a_truncated_checkpoint_says_so(tmp_path, keep):
    good = save_checkpoint(state(), tmp_path / "c.pt")
    data = good.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[:int(len(data) * keep)])
    refused(cut, "truncated or corrupt checkpoint")


def test_a_corrupt_checkpoint_says_so(tmp_path):
    good = save_checkpoint(state(), tmp_path / "c.pt")
    with zipfile.ZipFile(good) as z:
        offset = z.getinfo(next(n for n in z.namelist() if n.endswith("data.pkl"))).header_offset
    data = bytearray(good.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[offset + 26:offset + 30])
    start = offset + 30 + name_len + extra_len  # the pickled structure itself
    data[start + 2:start + 18] = b"\xff" * 16
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(data))
    refused(bad, "truncated or corrupt checkpoint")


def test_the_cli_prints_one_line(cli, tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": "ganforge-checkpoint", "x": Payload()}, p)
    code, _, err = cli("generate", p, "--out", tmp_path / "g.png")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"ganforge generate: error: {p}: refused: it contains code")
    assert "weights_only" not in err


# --------------------------------------------------------------------------- saves that cannot finish

def test_stale_temp_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".checkpoint.pt.tmp-{dead}"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".checkpoint.pt.tmp-{os.getppid()}"  # a process that is running: maybe writing
    live.write_bytes(b"being written")
    other = tmp_path / f".best.pt.tmp-{dead}"  # another file's temp: left to that file's next save
    other.write_bytes(b"x")
    save_checkpoint(state(), tmp_path / "checkpoint.pt")
    assert not stale.exists() and live.exists() and other.exists()
    assert load_checkpoint(tmp_path)["step"] == 7


def test_a_save_killed_half_way_is_cleaned_up_by_the_next(tmp_path):
    """A process killed while writing (SIGKILL: no handler runs) leaves its temp file; the next
    save in that folder removes it."""
    script = textwrap.dedent(f"""
        import os, signal, torch
        import ganforge.checkpoint as c
        def save_then_die(obj, f, *a, **k):
            f.write(b"PK" + b"x" * 1000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        c.torch.save = save_then_die
        c.save_checkpoint({{"step": 1}}, {str(tmp_path / "checkpoint.pt")!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == [".checkpoint.pt.tmp"]
    save_checkpoint(state(), tmp_path / "checkpoint.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch, code):
    path = save_checkpoint(state(), tmp_path / "checkpoint.pt")
    before = path.read_bytes()
    real_save = torch.save

    def save_until_full(obj, f, *a, **k):
        real_save({"half": torch.zeros(10)}, f)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(checkpoint.torch, "save", save_until_full)
    with pytest.raises(CheckpointError) as e:
        save_checkpoint({**state(), "step": 8}, path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path}: the disk is full") and "intact" in msg and "\n" not in msg
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert load_checkpoint(path)["step"] == 7


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_a_file_size_limit_mid_save_keeps_the_previous_checkpoint(tmp_path):
    """The real thing, not a mock: torch writes until the kernel refuses (EFBIG under
    RLIMIT_FSIZE), in a child process so the limit does not reach the tests."""
    script = textwrap.dedent(f"""
        import resource, torch
        from ganforge.checkpoint import save_checkpoint, load_checkpoint
        from ganforge.errors import CheckpointError
        path = {str(tmp_path / "checkpoint.pt")!r}
        save_checkpoint({{"step": 1, "w": torch.zeros(1000)}}, path)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            save_checkpoint({{"step": 2, "w": torch.zeros(1_000_000)}}, path)
        except CheckpointError as e:
            print("ERROR", e)
        print("STEP", load_checkpoint(path)["step"])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"ERROR {tmp_path}: the disk is full") and lines[1] == "STEP 1", proc.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
