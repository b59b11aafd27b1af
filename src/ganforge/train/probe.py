"""A guard against a crash below PyTorch: on some CPUs, oneDNN's bf16 kernels kill the process
with SIGFPE, and no message, for particular shapes of a double backward (seen on an Intel Xeon
with AMX: a 1x1 convolution from 3 channels over exactly 2**19 pixels, one thread - the R1 or
gradient penalty of a 256-px model at batch 8). A signal like that cannot be caught inside the
process, and the shapes that trigger it cannot be listed in advance, so before a CPU run trains
in bf16 with a penalty that differentiates a gradient, one training step at every shape the run
will meet (each stage of a growing model) runs in a child process with the same thread count.
If the child dies by a signal, the run trains in fp32 instead and says so in one line:
precision is a speed choice, not one that changes what a run is.

``python -m ganforge.train.probe CONFIG_JSON CHANNELS SIZE THREADS`` is the child.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ..config import RunConfig
from .state import Trainer

PROBE_TIMEOUT_S = 900.0  # a step per stage of a large model on a slow CPU


def needs_probe(tr: Trainer, precision: str) -> bool:
    """Whether a run with this trainer should be probed: bf16 on the CPU, with a penalty that
    differentiates a gradient (the kind of step the crash was seen in)."""
    return (precision == "bf16" and tr.device.type == "cpu"
            and any(getattr(r, "double_backward", False) for r in tr.regularisers))


def probe_bf16(cfg: RunConfig, img_channels: int, img_size: int, threads: int | None = None,
               timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when bf16 training steps of ``cfg`` run here; else why not, in one line. Only a death
    by a signal counts against bf16: any other failure of the child is left for the run itself
    to meet and report."""
    threads = threads or torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="ganforge-probe-") as d:
        path = Path(d) / "config.json"
        cfg.save(path)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        try:
            proc = subprocess.run([sys.executable, "-m", "ganforge.train.probe", str(path), str(img_channels),
                                   str(img_size), str(threads)], capture_output=True, text=True, timeout=timeout,
                                  env=env)
        except subprocess.TimeoutExpired:
            return None  # slow, not dead: the run will find out for itself
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        where = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "its first step"
        return f"a bf16 training step ({where}) was killed by {name} on this CPU with {threads} thread(s)"
    return None


def _main(argv: list[str]) -> int:
    from .builder import build_trainer

    path, channels, size, threads = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    torch.set_num_threads(threads)
    cfg = RunConfig.load(path)
    cfg.train.device, cfg.train.precision, cfg.train.cuda_graphs, cfg.train.compile = "cpu", "bf16", False, False
    torch.manual_seed(0)
    tr = build_trainer(cfg, channels, size)
    for state in tr.family.shape_states():
        print(state, flush=True)  # the parent names the last state begun
        tr.state.step, tr.state.d_steps = 0, 0  # every lazy penalty is due at step 0
        n = tr.family.batch_size() or cfg.train.batch_size * cfg.tricks.n_critic
        images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8)
        labels = torch.randint(0, max(1, cfg.model.num_classes), (n,)) if cfg.model.num_classes else None
        tr.train_step(images, labels)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
