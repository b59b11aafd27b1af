"""Many processes: real gloo process groups of two CPU processes, started as torchrun starts them
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) or by torchrun itself.

These start several Python processes each, so they carry the ``multiprocess`` marker: ``make
test`` leaves them out and ``.ci/run`` runs them as its second step (``pytest -m multiprocess``).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from gf_helpers import PATH_LENGTH_ON, make_images

pytestmark = pytest.mark.multiprocess

SRC = str(Path(__file__).resolve().parents[2] / "src")
QUIET_CPU = ["--no-progress", "--device", "cpu", "--precision", "fp32", "--log-every", "1", "--sample-every", "1000",
             "--n-fixed", "4"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(rank: int, world: int, port: int) -> dict[str, str]:
    env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1", PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return env


def start(world: int, args: list[str]) -> list[subprocess.Popen]:
    """``world`` processes of ``python -m ganforge ARGS``, as torchrun would start them."""
    port = free_port()
    if world == 1:
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            env.pop(k, None)
        envs = [env]
    else:
        envs = [env_for(r, world, port) for r in range(world)]
    return [subprocess.Popen([sys.executable, "-m", "ganforge", *map(str, args)], env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for e in envs]


def finish(procs: list[subprocess.Popen], timeout: float = 240) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append((p.returncode, o, e))
    return out


def run(world: int, args: list[str]) -> list[tuple[int, str, str]]:
    results = finish(start(world, args))
    for rc, o, e in results:
        assert rc == 0, f"exit {rc}\n{o}\n{e}"
    return results


@pytest.fixture
def data256(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, images=make_images(256), labels=np.arange(256) % 4)
    return path


def weights(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    return {net: ckpt[net] for net in ("G", "D")}


def initial_weights(run_dir: Path) -> dict[str, dict[str, torch.Tensor]]:
    """G's and D's weights before the run's first step: the run's own config, seeded and built as
    the training loop does."""
    from ganforge.generator import load_run_config
    from ganforge.train.builder import build_trainer
    from ganforge.train.loop import seed_everything

    cfg = load_run_config(run_dir)
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    with torch.random.fork_rng(devices=[]):
        seed_everything(cfg.train.seed)
        tr = build_trainer(cfg, int(ckpt["img_channels"]), int(ckpt["img_size"]))
    return {"G": tr.G.state_dict(), "D": tr.D.state_dict()}


def test_two_processes_of_batch_32_train_what_one_process_of_batch_64_does(tmp_path, data256):
    """geron-dense has no batch-dependent layer: the mean of the two shards' gradients is the
    gradient of the whole batch, and each shard is exactly its half of the one-process batch."""
    common = ["train", "--preset", "geron-dense", "--data", data256, "--steps", 3, *QUIET_CPU]
    run(1, [*common, "--batch-size", 64, "--out", tmp_path / "one"])
    run(2, [*common, "--batch-size", 32, "--out", tmp_path / "two"])
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    for net in ("G", "D"):
        for name, w in one[net].items():
            assert torch.allclose(w, two[net][name], rtol=1e-4, atol=2e-5), f"{net}.{name}"
    # ...and both moved from where they started: equal weights would also come of no training at all
    assert torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["step"] == 3
    start = initial_weights(tmp_path / "one")
    for trained in (one, two):
        for net in ("G", "D"):
            for name, w in start[net].items():
                moved = float((trained[net][name] - w).abs().max())
                # 3 RMSprop steps of lr 1e-3 move a weight by up to ~0.01: so every tensor moved,
                # and by no more than training can (it started from these very weights)
                assert 1e-3 < moved < 0.05, f"{net}.{name} moved {moved:.2e} from its initial value"
    log = [json.loads(line) for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines()]
    assert log[0] == {"step": 0, "event": "processes", "world_size": 2, "batch_per_process": 32,
                      "global_batch_size": 64}
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["training_state"]["global_batch_size"] == 64
    ref = [json.loads(line) for line in (tmp_path / "one" / "log.jsonl").read_text().splitlines()]
    # the logged losses are the means over both processes: the one-process values
    assert log[3]["d_loss"] == pytest.approx(ref[2]["d_loss"], rel=1e-4)


WORKER = """
import json, os, sys, torch
from pathlib import Path
from ganforge.config import set_field
from ganforge.presets import get_preset
from ganforge.train.distributed import process_group
from ganforge.train.loop import _Loop, prepare
out, data, preset, fields = Path(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
cfg = get_preset(preset)
for k, v in {"data.source": data, **fields}.items():
    set_field(cfg, k, v)
with process_group("cpu") as ctx:
    data, cfg = prepare(cfg, False)
    loop = _Loop(cfg, out / "run", data, resume=False, progress=False, log=print, evaluator=None, ctx=ctx)
    loop.run()
    tr = loop.trainer
    torch.save({"G": tr.G.state_dict(), "G_ema": tr.G_ema.state_dict(), "D": tr.D.state_dict(),
                "z": tr.sample_z(4)}, out / f"rank{ctx.rank}.pt")
# the group is gone with its threads: none of them is left to race the interpreter's exit
threads = [Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task")]
assert not [t for t in threads if "gloo" in t], threads
"""


def run_workers(tmp_path, data, preset: str, fields: dict) -> tuple[dict, dict]:
    """Two processes train ``preset`` with ``fields`` set; each saves its G, G_ema, D and 4 latents."""
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(data), preset, json.dumps(fields)],
                              env=env_for(r, 2, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for rc, o, e in finish(procs):
        assert rc == 0, e
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    return a, b


def assert_equal_on_both(a: dict, b: dict, nets: tuple[str, ...]) -> None:
    for net in nets:
        assert a[net].keys() == b[net].keys()
        for name in a[net]:
            assert torch.equal(a[net][name], b[net][name]), f"{net}.{name} differs between ranks"


def test_g_ema_and_both_networks_stay_equal_on_every_process(tmp_path, data256):
    """dcgan has BatchNorm, D dropout and augmentation drawn from each process's own stream: the
    all-reduced updates (and averaged BatchNorm statistics) keep every copy equal all the same."""
    a, b = run_workers(tmp_path, data256, "dcgan", {
        "model.g_channels": 8, "model.d_channels": 8, "train.batch_size": 8, "train.precision": "fp32",
        "train.n_fixed": 4, "train.steps": 3, "train.log_every": 1, "tricks.ema_kimg": 0.05, "model.d_dropout": 0.3,
        "tricks.augment": "translation"})
    assert_equal_on_both(a, b, ("G_ema", "D"))
    assert any("running_mean" in k for k in a["G_ema"])  # the BatchNorm statistics were compared too
    assert not torch.equal(a["z"], b["z"])  # each process draws its own slice of the latents


def test_a_two_process_checkpoint_resumes_in_one_process_and_the_reverse(tmp_path, data256):
    common = ["train", "--preset", "geron-dense", "--data", data256, "--batch-size", 32, *QUIET_CPU]
    run(2, [*common, "--steps", 2, "--out", tmp_path / "a"])
    run(1, ["train", "--resume", tmp_path / "a", "--steps", 4, "--no-progress"])
    assert torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["step"] == 4
    run(1, [*common, "--steps", 2, "--out", tmp_path / "b"])
    run(2, ["train", "--resume", tmp_path / "b", "--steps", 4, "--no-progress"])
    ckpt = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 4 and ckpt["world_size"] == 2
    # 2 steps of 32 then 2 of 64 images: 192 of the 256 images of the first epoch
    assert (ckpt["epoch"], ckpt["pos"]) == (0, 3)
    steps = [r["step"] for r in map(json.loads, (tmp_path / "b" / "log.jsonl").read_text().splitlines())
             if "d_loss" in r]
    assert steps == [1, 2, 3, 4]


def test_a_killed_process_makes_the_others_exit_with_a_message_not_hang(tmp_path, data256):
    procs = start(2, ["train", "--preset", "geron-dense", "--data", data256, "--batch-size", 32, "--steps", 10**6,
                      *QUIET_CPU, "--out", tmp_path / "r"])
    log = tmp_path / "r" / "log.jsonl"
    t0 = time.monotonic()
    while not (log.exists() and len(log.read_text().splitlines()) >= 3):
        assert time.monotonic() - t0 < 180, "the run did not start"
        assert procs[0].poll() is None, procs[0].communicate()
        time.sleep(0.2)
    procs[1].send_signal(signal.SIGKILL)
    t1 = time.monotonic()
    rc, _, err = finish(procs[:1], timeout=120)[0]
    procs[1].wait()
    assert rc == 1
    assert "another process of this run failed or stopped answering" in err
    assert "Traceback" not in err
    assert time.monotonic() - t1 < 60


def test_torchrun_starts_a_two_process_run(tmp_path, data256):
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--rdzv-backend", "c10d",
           "--rdzv-endpoint", f"127.0.0.1:{port}", "-m", "ganforge", "train", "--preset", "geron-dense",
           "--data", str(data256), "--batch-size", "32", "--steps", "2", *QUIET_CPU, "--out", str(tmp_path / "r")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("finished at step 2") == 1  # rank 0 reports, the other stays quiet
    assert torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)["world_size"] == 2


def test_stylegan2_state_w_avg_and_path_length_mean_agree_on_every_process(tmp_path, data256):
    """StyleGAN2's own state - the running mean of w (moved in G's forward by each process's
    latents) and the path-length mean (moved by each process's lengths) - is averaged over the
    processes with the other floating buffers after each step: every copy of G and G_ema, and D,
    stay equal, with style mixing, lazy R1 and the path-length penalty all acting in 4 steps."""
    a, b = run_workers(tmp_path, data256, "stylegan2", {
        "model.z_dim": 16, "model.w_dim": 16, "model.mapping_layers": 2, "model.channel_base": 256,
        "model.channel_max": 8, "train.batch_size": 4, "train.precision": "fp32", "train.n_fixed": 4,
        "train.steps": 4, "train.log_every": 1, **PATH_LENGTH_ON, "style.pl_every": 2, "loss.r1_every": 2})
    assert_equal_on_both(a, b, ("G", "G_ema", "D"))
    assert a["G"]["w_avg"].abs().sum() > 0 and a["G"]["pl_mean"] > 0  # both moved: the comparison means something
    assert not torch.equal(a["z"], b["z"])
