"""Prepared sets: an image folder converted once (ganforge prepare-data), then memory-mapped or streamed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datatest_util import transparent_images
from ganforge.config import DataConfig
from ganforge.data import load_data
from ganforge.data.prepared import IN_MEMORY_BYTES, BatchReader, prepare_folder
from ganforge.errors import DataError


def image_folder(root, n_per_class=6, sizes=((40, 30), (20, 50), (64, 64))):
    """Two class sub-folders of RGB images in several sizes, and one corrupt file."""
    rng = np.random.default_rng(0)
    for k, cls in enumerate(("cats", "dogs")):
        (root / cls).mkdir(parents=True)
        for i in range(n_per_class):
            w, h = sizes[i % len(sizes)]
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / cls / f"{i:03d}.png")
    (root / "dogs" / "broken.png").write_bytes(b"not a png at all")
    return root


def test_a_folder_becomes_one_memory_mappable_array_with_labels_and_a_header(tmp_path, capsys):
    src = image_folder(tmp_path / "imgs")
    header = prepare_folder(src, 16, tmp_path / "prep", progress=False)
    assert header["n"] == 12 and header["channels"] == 3 and header["size"] == 16
    assert header["class_names"] == ["cats", "dogs"]
    assert [s["file"] for s in header["skipped"]] == ["dogs/broken.png"]
    assert "skipped 1 unreadable image(s)" in capsys.readouterr().err
    arr = np.load(tmp_path / "prep" / header["images"], mmap_mode="r")
    assert arr.shape == (12, 3, 16, 16) and arr.dtype == np.uint8
    assert np.load(tmp_path / "prep" / header["labels"]).tolist() == [0] * 6 + [1] * 6
    assert sorted(f.name for f in (tmp_path / "prep").iterdir()) == sorted(
        ["prepared.json", header["images"], header["labels"]])
    assert json.loads((tmp_path / "prep" / "prepared.json").read_text()) == header
    # the same pixels the in-memory folder loader makes
    direct = load_data(DataConfig(source=str(src), size=16, channels=3), progress=False)
    assert torch.equal(torch.from_numpy(np.array(arr)), direct.images)


def test_prepare_data_composites_transparent_images_on_white(tmp_path):
    transparent_images(tmp_path / "imgs")
    header = prepare_folder(tmp_path / "imgs", 8, tmp_path / "prep", channels=3, progress=False)
    arr = np.load(tmp_path / "prep" / header["images"])
    assert arr.shape == (4, 3, 8, 8) and (arr[:, :, :, 4:] == 255).all()  # no hidden colour left
    assert (arr[:, :, :, :4] < 255).any(axis=(1, 2, 3)).all()  # the visible halves are not white


def test_training_data_from_a_prepared_set_in_memory_or_streamed(tmp_path):
    prepare_folder(image_folder(tmp_path / "imgs"), 16, tmp_path / "prep", progress=False)
    small = load_data(DataConfig(source=str(tmp_path / "prep")), progress=False)
    assert not small.streamed and small.images.shape == (12, 3, 16, 16)  # far below the threshold
    assert small.class_names == ["cats", "dogs"] and small.labels.tolist() == [0] * 6 + [1] * 6
    streamed = load_data(DataConfig(source=str(tmp_path / "prep"), load="stream"), progress=False)
    assert streamed.streamed and torch.equal(streamed.images, small.images)
    reader = BatchReader(tmp_path / "prep", labelled=True)
    images, labels = reader[torch.tensor([11, 0, 5])]
    assert torch.equal(images, small.images[[11, 0, 5]]) and labels.tolist() == [1, 0, 0]
    assert IN_MEMORY_BYTES == 2 * 1024**3


def test_readers_get_plain_indices_and_read_the_samplers_batches(tmp_path, monkeypatch):
    """The trainer sends its readers each batch's indices as a list of ints, never a tensor: a
    tensor would travel as a shared file descriptor served by a thread of the trainer, which prints
    its own traceback when a reader dies mid-handover. The batches read are the sampler's."""
    from ganforge.train import batches
    from ganforge.train.batches import EpochSampler, StreamedBatches

    prepare_folder(image_folder(tmp_path / "imgs"), 16, tmp_path / "prep", progress=False)
    data = load_data(DataConfig(source=str(tmp_path / "prep"), load="stream"), progress=False)
    sent = []
    loader = batches.torch.utils.data.DataLoader

    def spy(dataset, sampler, **kw):
        def record():
            for idx in sampler:
                sent.append(idx)
                yield idx
        return loader(dataset, sampler=record(), **kw)

    monkeypatch.setattr(batches.torch.utils.data, "DataLoader", spy)
    sampler = EpochSampler(12, 4, seed=0, device=torch.device("cpu"))
    expected = EpochSampler(12, 4, seed=0, device=torch.device("cpu"))
    source = StreamedBatches(data, sampler, torch.device("cpu"), labelled=True, workers=0)
    for _ in range(4):
        images, _ = source.next()
        assert torch.equal(images, data.images[expected.next_indices()])
    assert sent and all(type(idx) is list and all(type(i) is int for i in idx) for idx in sent)


def test_a_prepared_set_refuses_another_size_and_a_class(tmp_path):
    prepare_folder(image_folder(tmp_path / "imgs"), 16, tmp_path / "prep", progress=False)
    with pytest.raises(DataError, match="prepared at 16x16"):
        load_data(DataConfig(source=str(tmp_path / "prep"), size=32), progress=False)
    with pytest.raises(DataError, match="--class cats: a prepared set is used whole"):
        load_data(DataConfig(source=str(tmp_path / "prep"), class_name="cats"), progress=False)
    with pytest.raises(DataError, match="only those can be streamed"):
        load_data(DataConfig(source=str(tmp_path / "imgs"), size=16, load="stream"), progress=False)
    with pytest.raises(DataError, match="already holds files"):
        prepare_folder(tmp_path / "imgs", 16, tmp_path / "prep", progress=False)


def test_prepare_data_command_and_a_streamed_run_that_trains_like_the_in_memory_one(tmp_path, cli):
    src = image_folder(tmp_path / "imgs", n_per_class=16, sizes=((20, 20),))
    code, out, err = cli("prepare-data", src, "--size", 28, "--channels", 1, "--out", tmp_path / "prep",
                         "--no-progress")
    assert code == 0, err
    assert "32 images of 1x28x28, 2 classes; 1 unreadable file(s) skipped" in out
    runs = {}
    for how in ("memory", "stream"):
        code, out, err = cli("train", "--data", tmp_path / "prep", "--data-load", how, "--data-workers", 1,
                             "--steps", 3, "--batch-size", 8, "--g-channels", 8, "--d-channels", 8,
                             "--precision", "fp32", "--n-fixed", 4, "--no-progress", "--out", tmp_path / how)
        assert code == 0, err
        runs[how] = torch.load(tmp_path / how / "checkpoint.pt", weights_only=True)
    for name, w in runs["memory"]["G"].items():
        assert torch.equal(w, runs["stream"]["G"][name]), name
    assert runs["stream"]["epoch"] == 0 and runs["stream"]["pos"] == 3


# --------------------------------------------------------------------------- a set is replaced whole or not at all
def test_a_failed_overwrite_leaves_the_old_set_whole(tmp_path, monkeypatch):
    """--overwrite over a good set, failing part-way (here: while decoding): the old set still
    loads, with its own images, and nothing of the attempt is left."""
    from ganforge.data import prepared

    src = image_folder(tmp_path / "imgs")
    prepare_folder(src, 16, tmp_path / "prep", progress=False)
    before = load_data(DataConfig(source=str(tmp_path / "prep")), progress=False).images.clone()
    files_before = sorted(f.name for f in (tmp_path / "prep").iterdir())

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prepared, "_decode_into", fail)
    with pytest.raises(OSError):
        prepare_folder(src, 8, tmp_path / "prep", progress=False, overwrite=True)
    assert sorted(f.name for f in (tmp_path / "prep").iterdir()) == files_before
    assert torch.equal(load_data(DataConfig(source=str(tmp_path / "prep")), progress=False).images, before)


def test_an_overwrite_that_completes_replaces_the_set_and_cleans_up(tmp_path):
    src = image_folder(tmp_path / "imgs")
    prepare_folder(src, 16, tmp_path / "prep", progress=False)
    (tmp_path / "prep" / "images-stale.npy.part").write_bytes(b"left by a killed preparation")
    header = prepare_folder(src, 8, tmp_path / "prep", progress=False, overwrite=True)
    assert sorted(f.name for f in (tmp_path / "prep").iterdir()) == sorted(
        ["prepared.json", header["images"], header["labels"]])
    assert load_data(DataConfig(source=str(tmp_path / "prep")), progress=False).images.shape == (12, 3, 8, 8)


def test_out_must_be_a_folder_for_a_set(tmp_path, cli):
    src = image_folder(tmp_path / "imgs")
    (tmp_path / "file").write_text("x")
    code, _, err = cli("prepare-data", src, "--size", 16, "--out", tmp_path / "file", "--no-progress")
    assert code == 2 and "is a file, not a folder" in err and "Traceback" not in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, _, err = cli("prepare-data", src, "--size", 16, "--out", tmp_path / "mine", "--overwrite", "--no-progress")
    assert code == 2 and "not a prepared set (notes.txt)" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_links_to_files_and_folders_are_followed_and_a_dangling_one_is_skipped(tmp_path):
    """A linked class folder counts as a class (as a linked file counts as an image); a link to
    nothing is listed as unreadable, never a traceback; a link loop is read once."""
    src = image_folder(tmp_path / "imgs")
    elsewhere = image_folder(tmp_path / "other")
    (src / "birds").symlink_to(elsewhere / "cats", target_is_directory=True)
    (src / "cats" / "gone.png").symlink_to(tmp_path / "nothing-here.png")
    (src / "cats" / "loop").symlink_to(src, target_is_directory=True)
    header = prepare_folder(src, 16, tmp_path / "prep", progress=False)
    assert header["class_names"] == ["birds", "cats", "dogs"] and header["n"] == 18
    assert {s["file"] for s in header["skipped"]} == {"cats/gone.png", "dogs/broken.png"}


# --------------------------------------------------------------------------- streaming
def test_a_growing_model_streams_like_it_trains_in_memory(tmp_path, cli):
    """ProGAN's batch size changes with its stage; the streaming workers read ahead exactly the
    batches training then takes, across stage changes."""
    src = image_folder(tmp_path / "imgs", n_per_class=16, sizes=((20, 20),))
    assert cli("prepare-data", src, "--size", 16, "--channels", 1, "--out", tmp_path / "prep", "--no-progress")[0] == 0
    runs = {}
    for how in ("memory", "stream"):
        code, out, err = cli("train", "--preset", "progan", "--data", tmp_path / "prep", "--data-load", how,
                             "--data-workers", 1, "--steps", 12, "--batch-size", 4, "--stage-batch", "8:2,16:0.5",
                             "--size", 16,
                             "--stage-kimg", "0.008", "--fade-kimg", "0.008", "--channel-base", 256, "--channel-max", 8,
                             "--z-dim", 16, "--precision", "fp32", "--n-fixed", 4, "--no-progress", "--out",
                             tmp_path / how)
        assert code == 0, err
        runs[how] = torch.load(tmp_path / how / "checkpoint.pt", weights_only=True)
    assert int(runs["stream"]["G"]["stage"]) == 2  # it went through two stage changes
    for net in ("G", "D"):
        for name, w in runs["memory"][net].items():
            assert torch.equal(w, runs["stream"][net][name]), (net, name)


def _children(pid: int) -> list[int]:
    import glob

    kids = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(path) as f:
            kids += [int(k) for k in f.read().split()]
    return kids


def _streamed_run(tmp_path):
    """A streamed run with two reader workers, started as a subprocess: (process, run folder,
    the workers' pids), once it has logged and its workers are up."""
    import subprocess
    import sys
    import time

    src = image_folder(tmp_path / "imgs", n_per_class=16, sizes=((20, 20),))
    prepare_folder(src, 28, tmp_path / "prep", channels=1, progress=False)
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganforge", "train", "--data", str(tmp_path / "prep"), "--data-load", "stream",
         "--data-workers", "2", "--batch-size", "4", "--g-channels", "8", "--d-channels", "8", "--z-dim", "16",
         "--precision", "fp32", "--n-fixed", "4", "--no-progress", "--log-every", "5", "--steps", "100000",
         "--epochs", "none", "--out", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not (
                (run / "log.jsonl").exists() and len(_children(proc.pid)) == 2):
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1]
        workers = _children(proc.pid)
        assert len(workers) == 2, f"DataLoader workers: {workers}"
    except BaseException:
        proc.kill()  # not left training in the background
        raise
    return proc, run, workers


def _last_step(run) -> int:
    lines = (run / "log.jsonl").read_text().splitlines()
    return max((json.loads(line)["step"] for line in lines if line.endswith("}")), default=0)


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(),
                                reason="needs Linux's /proc to find the worker processes")


@needs_proc
def test_a_ctrl_c_is_the_trainers_to_answer_not_a_readers(tmp_path):
    """A Ctrl-C reaches every process of the terminal's group. A reader ignores it: the trainer
    goes on (SIGINT sent to a reader alone changes nothing), and answers its own by saving and
    exiting 130 without a traceback."""
    import os
    import signal
    import time

    proc, run, workers = _streamed_run(tmp_path)
    try:
        os.kill(workers[0], signal.SIGINT)
        at_signal = _last_step(run)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and _last_step(run) < at_signal + 200:
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()[1]
        assert _last_step(run) >= at_signal + 200, "training stalled after a reader got SIGINT"
        state = Path(f"/proc/{workers[0]}/status").read_text().split("State:")[1].split()[0]
        assert state != "Z", "the reader ended on SIGINT"
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] > 0


def test_a_reader_ignores_ctrl_c_and_reports_errors_but_not_the_trainer_hanging_up():
    """However the reader was started (a spawned one inherits no handler), it ignores SIGINT. The
    resource sharer's thread reports through sys.excepthook; in a reader a connection the trainer
    dropped is not reported, any other error is."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from ganforge.train.batches import _reader_worker_init\n"
            "import signal\n"
            "_reader_worker_init(0)\n"
            "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN, 'SIGINT not ignored'\n"
            "for e in (ConnectionResetError(104, 'reset by peer'), BrokenPipeError(32, 'pipe'), ValueError('kept')):\n"
            "    try:\n"
            "        raise e\n"
            "    except Exception:\n"
            "        sys.excepthook(*sys.exc_info())\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stderr
    assert "ValueError: kept" in err and "reset by peer" not in err and "BrokenPipe" not in err, err


@needs_proc
def test_a_killed_reader_worker_saves_the_run_and_says_which(tmp_path):
    """kill -9 of a DataLoader worker (as the OOM killer would): the run saves a checkpoint, exits
    1 with one line naming the dead worker, and --resume continues from it."""
    import os
    import signal
    import subprocess
    import sys

    proc, run, workers = _streamed_run(tmp_path)
    try:
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "a DataLoader worker" in lines[0] and "the run is saved at step" in lines[0], err
    saved = torch.load(run / "checkpoint.pt", weights_only=True)["step"]
    assert saved > 0
    resumed = subprocess.run([sys.executable, "-m", "ganforge", "train", "--resume", str(run), "--steps",
                              str(saved + 2), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == saved + 2
