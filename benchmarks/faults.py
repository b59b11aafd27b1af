"""Fault injection: does a run survive kill -9, a full disk, SIGTERM/SIGINT and a NaN?

    python benchmarks/faults.py            # 20 kills, every case (about 5-10 minutes on 2 cores)
    python benchmarks/faults.py --quick    # 4 kills, one try of each other case
    python benchmarks/faults.py --only kill,disk --kills 8 --keep

Every run is a subprocess (``python -m ganforge.cli train``) on a tiny synthetic dataset the
script writes itself (256 grey 28x28 blobs in an .npz) with a small model (dcgan, 8 channels,
batch 16, fp32, CPU, a checkpoint every 5 steps). The cases:

kill    kill -9 at random moments of one run (a seeded RNG picks them: after a random step, right
        after the checkpoint temp file ``.checkpoint.pt.tmp-PID`` appears, or at a random time,
        startup included), each followed by ``ganforge train --resume RUN``. After every kill the
        checkpoint must load (``ganforge.checkpoint.load_checkpoint``), never go back, and lose at
        most one checkpoint interval of the steps the log shows done. The last resume runs to the
        end: log.jsonl must hold every step exactly once (strict JSON) and the final weights and
        optimizer states must equal an uninterrupted run's bit for bit (exact resume on the CPU).
        No temp file may be left in the run folder afterwards.
disk    a full disk while a checkpoint is written (RLIMIT_FSIZE in the child, below the
        checkpoint's size): exit code 2 with a one-line ``ganforge train: error:`` and no
        traceback, the previous checkpoint intact and loadable, no temp file left.
signal  SIGTERM mid-run: a checkpoint at the step reached, then exit code 143; SIGINT: the same
        with exit code 130.
nan     G's weights poisoned with NaN once (a monkeypatched step, in a subprocess running the
        CLI): the run rolls back to the last checkpoint with halved learning rates and finishes;
        its log must stay strict JSON with each step once.
worker  kill -9 of one DataLoader worker of a streamed run (``--data-load stream``, the blobs
        prepared with ``ganforge prepare-data``), as the OOM killer would: exit 1 with one error
        line naming the worker and the saved step, a checkpoint at the step the log reached, and
        ``--resume`` goes on.
progan  a streamed ProGAN run through its stage changes (the batch size changes with the stage),
        killed with kill -9 mid-run and resumed: it must equal an uninterrupted in-memory run of
        the same steps bit for bit.

Prints a table (case, tries, survived, seconds, what was checked) and every failure, writes the
same as JSON with the machine's details to benchmarks/results/faults.json, and exits 1 if any
case failed. Some cases exercise fixes that may not have landed yet; the failures say which.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "faults.json"
sys.path.insert(0, str(HERE))

CE = 5  # --checkpoint-every: the most steps a crash may cost
MODEL = ["--preset", "dcgan", "--g-channels", "8", "--d-channels", "8", "--batch-size", "16",
         "--precision", "fp32", "--device", "cpu", "--no-progress", "--checkpoint-every", str(CE),
         "--log-every", "1", "--sample-every", "5", "--seed", "0"]
TMP_MARK = ".tmp"  # every temp file ganforge writes has it in its name (.checkpoint.pt.tmp-PID, .config.json.tmp)


# --------------------------------------------------------------------------- helpers
def make_images(n: int = 256, size: int = 28, seed: int = 0) -> np.ndarray:
    """Blobs at random places, uint8 (N, H, W): the same generator as tests/gf_helpers.py."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(size * 0.3, size * 0.7, 2).tolist() + [rng.uniform(size * 0.15, size * 0.3)]
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float32)
        out[i] = (blob * rng.uniform(120, 255)).astype(np.uint8)
    return out


class Env:
    """The work folder, the dataset and how children are started."""

    def __init__(self, work: Path, threads: int):
        self.work = work
        self.data = work / "blobs.npz"
        np.savez(self.data, images=make_images(256))
        self.env = dict(os.environ, GANFORGE_CACHE=str(work / "cache"), OMP_NUM_THREADS=str(threads),
                        MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
        self.env.pop("GANFORGE_INCEPTION", None)
        self.n = 0

    def spawn(self, args: list[str], *, python: list[str] | None = None, fsize: int | None = None
              ) -> tuple[subprocess.Popen, Path, Path]:
        """Start ``python -m ganforge.cli ARGS`` (or ``python PYTHON...``); stdout/stderr go to files."""
        self.n += 1
        out, err = self.work / f"p{self.n:03d}.out", self.work / f"p{self.n:03d}.err"

        def limit():  # in the child only: writes past fsize bytes fail with EFBIG (Python ignores SIGXFSZ)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

        cmd = [sys.executable, *(python or ["-m", "ganforge.cli", *args])]
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen(cmd, cwd=self.work, env=self.env, stdout=fo, stderr=fe,
                                 preexec_fn=limit if fsize is not None else None)
        p.cmd = cmd  # type: ignore[attr-defined]
        return p, out, err

    def run(self, args: list[str], timeout: float = 300, **kw) -> tuple[int, str, str]:
        p, out, err = self.spawn(args, **kw)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        return rc, out.read_text(errors="replace"), err.read_text(errors="replace")


def log_steps(run: Path) -> list[int]:
    """Steps of the metric records in run/log.jsonl (a torn last line is skipped)."""
    path = run / "log.jsonl"
    steps = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return steps
    for line in text.splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(r, dict) and "event" not in r and isinstance(r.get("step"), int):
            steps.append(r["step"])
    return steps


def strict_log_problems(run: Path) -> list[str]:
    """Lines of log.jsonl that are not strict JSON objects (NaN/Infinity, torn lines)."""
    def refuse(c):
        raise ValueError(f"non-standard JSON constant {c}")

    bad = []
    for i, line in enumerate((run / "log.jsonl").read_text(errors="replace").splitlines(), 1):
        try:
            if not isinstance(json.loads(line, parse_constant=refuse), dict):
                bad.append(f"line {i}: not an object")
        except ValueError as e:
            bad.append(f"line {i}: {str(e)[:60]}: {line[:80]}")
    return bad


def max_step(run: Path) -> int:
    return max(log_steps(run), default=0)


def temp_files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if TMP_MARK in p.name)


def ckpt_step(run: Path) -> tuple[int | None, str | None]:
    """(step, None) of run's checkpoint, or (None, why it cannot be loaded)."""
    from ganforge.checkpoint import load_checkpoint

    try:
        return int(load_checkpoint(run)["step"]), None
    except Exception as e:  # noqa: BLE001 - any failure to load is the finding
        return None, f"{type(e).__name__}: {str(e).strip().splitlines()[0][:160] if str(e).strip() else ''}"


def tensors_equal(a: Any, b: Any, where: str, diffs: list[str]) -> None:
    import torch

    if torch.is_tensor(a) or torch.is_tensor(b):
        if not (torch.is_tensor(a) and torch.is_tensor(b) and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a, b)):
            diffs.append(where)
    elif isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            tensors_equal(a.get(k), b.get(k), f"{where}.{k}", diffs)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            diffs.append(where)
        for i, (x, y) in enumerate(zip(a, b)):
            tensors_equal(x, y, f"{where}[{i}]", diffs)
    elif a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        diffs.append(where)


def one_error_line(err: str, cmd: str) -> str | None:
    """None if stderr is one ``ganforge CMD: error:`` line without a traceback; else what is wrong."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if "Traceback" in err:
        return "traceback on stderr: " + " | ".join(lines[-2:])[:240]
    errs = [ln for ln in lines if ln.startswith(f"ganforge {cmd}: error:")]
    if len(errs) != 1:
        return f"expected one 'ganforge {cmd}: error:' line, stderr was: " + " | ".join(lines[-3:])[:240]
    if lines[-1] != errs[0]:
        return "the error line is not the last line on stderr: " + " | ".join(lines[-3:])[:240]
    # Diagnostics the run printed before the failure ("ganforge: ...") are fine; anything else is not.
    other = [ln for ln in lines[:-1] if not ln.startswith("ganforge: ")]
    if other:
        return "more on stderr than the error line: " + " | ".join(other)[:240]
    return None


class Row:
    def __init__(self, case: str, checked: str):
        self.case, self.checked = case, checked
        self.tries = self.survived = 0
        self.seconds = 0.0
        self.failures: list[str] = []
        self.details: list[dict] = []
        self._t = time.perf_counter()

    def result(self, ok: bool, why: str = "", **detail) -> None:
        self.tries += 1
        self.survived += ok
        if not ok:
            self.failures.append(why)
        self.details.append({"ok": ok, **({"why": why} if why else {}), **detail})

    def done(self) -> "Row":
        self.seconds = time.perf_counter() - self._t
        return self

    @property
    def ok(self) -> bool:
        return self.tries > 0 and self.survived == self.tries

    def to_dict(self) -> dict:
        return {"case": self.case, "tries": self.tries, "survived": self.survived, "ok": self.ok,
                "checked": self.checked, "seconds": round(self.seconds, 1), "failures": self.failures,
                "details": self.details}


# --------------------------------------------------------------------------- kill -9
def wait_until(p: subprocess.Popen, cond, timeout: float, busy: bool = False) -> bool:
    """Poll ``cond()`` until it holds (True), the process ends or ``timeout`` passes (False)."""
    end = time.monotonic() + timeout
    i = 0
    while time.monotonic() < end:
        if cond():
            return True
        i += 1
        if not busy:
            time.sleep(0.003)
        if (not busy or i % 200 == 0) and p.poll() is not None:
            return bool(cond())
    return False


def case_kill(env: Env, n_kills: int, rng: random.Random) -> list[Row]:
    total = 12 * n_kills + 20
    kill_row = Row(f"kill -9 at {n_kills} random moments, each then --resume",
                   f"after each kill: checkpoint loads, never goes back, <= {CE} logged steps lost")
    end_row = Row(f"resumed run = uninterrupted run ({total} steps)",
                  "last resume exits 0; log.jsonl each step once, strict JSON; G, D, G_ema, optimizers bit for bit")
    tmp_row = Row("no stale temp files after kills + resume", "no *.tmp* file left in the run folder")

    ref = env.work / "kill-ref"
    # The uninterrupted run, timed: how long a start takes and a step, for the "time" kills.
    p, out, err = env.spawn(["train", "--data", str(env.data), *MODEL, "--steps", str(total), "--out", str(ref)])
    t0 = time.monotonic()
    wait_until(p, lambda: max_step(ref) >= 1, 300)
    startup = time.monotonic() - t0
    try:
        rc = p.wait(600)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    step_s = max(time.monotonic() - t0 - startup, 0.0) / total
    err = err.read_text(errors="replace")
    if rc != 0:
        end_row.result(False, f"the uninterrupted run failed (exit {rc}): {err.strip()[-300:]}")
        return [kill_row.done(), end_row.done(), tmp_row.done()]

    run = env.work / "kill-run"
    last_ckpt = 0
    inside = 0
    for i in range(n_kills):
        fresh = i == 0
        args = (["train", "--data", str(env.data), *MODEL, "--steps", str(total), "--out", str(run)] if fresh
                else ["train", "--resume", str(run), "--steps", str(total), "--no-progress"])
        kind = "step" if fresh else rng.choices(["step", "tmp", "time"], weights=[4, 4, 2])[0]
        # A resumed run first drops the log lines past its checkpoint (the killed run's last steps):
        # steps count as this run's once they pass what the log already held.
        base = max(last_ckpt, max_step(run) if not fresh else 0)
        p, out, err = env.spawn(args)
        t0 = time.monotonic()
        if kind == "step":
            k = rng.randint(1, 3 * CE)
            hit = wait_until(p, lambda: max_step(run) >= base + k, 120)
            what = f"after step {base + k}"
        elif kind == "tmp":
            tmp = run / f".checkpoint.pt.tmp-{p.pid}"
            hit = wait_until(p, tmp.exists, 120, busy=True)  # (a resumed run's first save is a new step's)
            what = "as the checkpoint temp file appeared"
        else:
            delay = rng.uniform(0.0, startup + 3 * CE * step_s)  # startup, restore, or a few steps in
            # (at most 3 checkpoint intervals in, whatever the machine's speed, so the run never ends)
            hit = wait_until(p, lambda: time.monotonic() - t0 >= delay or max_step(run) >= base + 3 * CE,
                             delay + 1)
            what = f"{delay:.2f} s after start"
        seen = max_step(run)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        rc = p.wait()
        tmps = [t for t in temp_files(run) if t.startswith(".checkpoint.pt.tmp")]
        landed_in_write = any(t.endswith(f"-{p.pid}") for t in tmps)
        inside += landed_in_write
        done = max_step(run)
        step, why = ckpt_step(run)
        detail = {"kill": i + 1, "kind": kind, "when": what, "exit": rc, "log_step_at_kill": seen,
                  "log_step_after": done, "checkpoint_step": step, "inside_checkpoint_write": landed_in_write,
                  "seconds_alive": round(time.monotonic() - t0, 2)}
        problems = []
        if rc == 0:  # the run reached its end before the kill: no more kills to make
            kill_row.checked += f"; the run finished before kill {i + 1}, so {i} kills"
            break
        if rc != -signal.SIGKILL:
            problems.append(f"the process ended by itself before the kill (exit {rc}, trigger hit: {hit}): "
                            f"{err.read_text(errors='replace').strip()[-200:]}")
        if step is None:
            problems.append(f"checkpoint unreadable: {why}")
        else:
            if step < last_ckpt:
                problems.append(f"checkpoint went back from step {last_ckpt} to {step}")
            if done - step > CE:
                problems.append(f"{done - step} steps lost (log shows step {done}, checkpoint has {step})")
            last_ckpt = max(last_ckpt, step)
        kill_row.result(not problems, f"kill {i + 1} ({kind}, {what}): " + "; ".join(problems), **detail)
        if step is None:
            break
    kill_row.checked += (f"; {inside} of {kill_row.tries} kills landed inside a checkpoint write "
                         f"(start {startup:.1f} s, {1000 * step_s:.0f} ms/step)")
    kill_row.done()

    end_row._t = tmp_row._t = time.perf_counter()  # these rows time the last resume and the checks
    rc, out, err = env.run(["train", "--resume", str(run), "--steps", str(total), "--no-progress"])
    problems = []
    if rc != 0:
        problems.append(f"the last resume exited {rc}: {err.strip()[-300:]}")
    steps = log_steps(run)
    if steps != list(range(1, total + 1)):
        dup = sorted({s for s in steps if steps.count(s) > 1})
        missing = sorted(set(range(1, total + 1)) - set(steps))
        problems.append(f"log.jsonl steps: {len(steps)} records, duplicates {dup[:10]}, missing {missing[:10]}")
    bad = strict_log_problems(run)
    if bad:
        problems.append(f"log.jsonl not strict JSON: {bad[0]} (+{len(bad) - 1} more)")
    try:
        from ganforge.checkpoint import load_checkpoint

        a, b = load_checkpoint(ref), load_checkpoint(run)
        diffs: list[str] = []
        for key in ("step", "G", "D", "G_ema", "opt_g", "opt_d", "train_state"):
            tensors_equal(a.get(key), b.get(key), key, diffs)
        if diffs:
            problems.append(f"final state differs from the uninterrupted run in {len(diffs)} entries: "
                            f"{', '.join(diffs[:6])}")
    except Exception as e:  # noqa: BLE001
        problems.append(f"cannot compare final checkpoints: {type(e).__name__}: {e}")
    end_row.result(not problems, "; ".join(problems), total_steps=total)
    end_row.done()

    left = temp_files(run)
    tmp_row.result(not left, f"temp files left in the run folder after the final resume: {', '.join(left[:5])}",
                   left=left)
    return [kill_row, end_row, tmp_row.done()]


# --------------------------------------------------------------------------- disk full
def case_disk(env: Env, fractions: list[float]) -> Row:
    row = Row("disk full during a checkpoint save (RLIMIT_FSIZE)",
              "exit 2, one 'ganforge train: error:' line, no traceback; previous checkpoint loads; no temp file")
    base = env.work / "disk-base"
    rc, _, err = env.run(["train", "--data", str(env.data), *MODEL, "--steps", "10", "--out", str(base)])
    if rc != 0:
        row.result(False, f"setting up: the 10-step run failed (exit {rc}): {err.strip()[-300:]}")
        return row.done()
    size = (base / "checkpoint.pt").stat().st_size
    for j, frac in enumerate(fractions):
        run = env.work / f"disk-{j}"
        shutil.copytree(base, run)
        limit = int(size * frac)
        rc, out, err = env.run(["train", "--resume", str(run), "--steps", "20", "--no-progress"], fsize=limit)
        problems = []
        if rc != 2:
            problems.append(f"exit {rc}, not 2")
        why = one_error_line(err, "train")
        if why:
            problems.append(why)
        step, bad = ckpt_step(run)
        if step is None:
            problems.append(f"previous checkpoint unreadable: {bad}")
        elif step != 10:
            problems.append(f"checkpoint is at step {step}, expected the previous one (10)")
        left = temp_files(run)
        if left:
            problems.append(f"temp files left: {', '.join(left)}")
        row.result(not problems, f"resume with writes capped at {limit} bytes ({frac:.0%} of a checkpoint): "
                   + "; ".join(problems), limit_bytes=limit, exit=rc, stderr=err.strip()[-400:])
    # A fresh run whose very first checkpoint (step 0) cannot be written.
    run = env.work / "disk-fresh"
    limit = int(size * 0.5)
    rc, out, err = env.run(["train", "--data", str(env.data), *MODEL, "--steps", "10", "--out", str(run)],
                           fsize=limit)
    problems = []
    if rc != 2:
        problems.append(f"exit {rc}, not 2")
    why = one_error_line(err, "train")
    if why:
        problems.append(why)
    left = temp_files(run) if run.exists() else []
    if left:
        problems.append(f"temp files left: {', '.join(left)}")
    row.result(not problems, f"fresh run, first checkpoint capped at {limit} bytes: " + "; ".join(problems),
               limit_bytes=limit, exit=rc, stderr=err.strip()[-400:])
    return row.done()


# --------------------------------------------------------------------------- signals
def case_signal(env: Env, sig: signal.Signals, code: int, tries: int, rng: random.Random) -> Row:
    row = Row(f"{sig.name} mid-run", f"exit {code}; a checkpoint at the step reached, loadable; no temp file")
    for j in range(tries):
        run = env.work / f"{sig.name.lower()}-{j}"
        p, out, err = env.spawn(["train", "--data", str(env.data), *MODEL, "--steps", "100000", "--out", str(run)])
        at = rng.randint(2, 4 * CE)
        hit = wait_until(p, lambda: max_step(run) >= at, 120)
        if p.poll() is None:
            os.kill(p.pid, sig)
        try:
            rc = p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        problems = []
        if not hit:
            problems.append("training never reached the step to signal at")
        if rc != code:
            problems.append(f"exit {rc}, not {code}")
        text_out, text_err = out.read_text(errors="replace"), err.read_text(errors="replace")
        if "Traceback" in text_err:
            problems.append("traceback on stderr: " + text_err.strip().splitlines()[-1][:200])
        step, bad = ckpt_step(run)
        last = max_step(run)
        if step is None:
            problems.append(f"checkpoint unreadable: {bad}")
        elif step != last:
            problems.append(f"checkpoint at step {step}, but the log reached step {last}")
        if not re.search(r"stopped\b.*\bat step \d+", text_out):
            problems.append("no 'stopped ... at step N' on stdout")
        left = temp_files(run)
        if left:
            problems.append(f"temp files left: {', '.join(left)}")
        row.result(not problems, f"{sig.name} after step {at}: " + "; ".join(problems), exit=rc, checkpoint_step=step,
                   log_step=last)
    return row.done()


# --------------------------------------------------------------------------- streamed sets
def prepared_set(env: Env) -> Path:
    """The blobs as a folder of PNGs, prepared once (ganforge prepare-data) for streamed runs."""
    prep = env.work / "prepared"
    if (prep / "prepared.json").is_file():
        return prep
    from PIL import Image

    folder = env.work / "pngs"
    folder.mkdir(exist_ok=True)
    for i, img in enumerate(make_images(256, size=32)):
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    rc, _, err = env.run(["prepare-data", str(folder), "--size", "32", "--channels", "1", "--out", str(prep),
                          "--no-progress"])
    if rc != 0:
        raise RuntimeError(f"prepare-data failed (exit {rc}): {err.strip()[-300:]}")
    return prep


def worker_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (its DataLoader workers), from Linux's /proc."""
    kids: list[int] = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(k) for k in path.read_text().split()]
        except OSError:
            pass
    return kids


def case_worker(env: Env, tries: int, rng: random.Random) -> Row:
    row = Row("kill -9 of a DataLoader worker (--data-load stream)",
              "exit 1 with one error line naming the worker; a checkpoint at the step reached; --resume goes on")
    prep = prepared_set(env)
    for j in range(tries):
        run = env.work / f"worker-{j}"
        p, out, err = env.spawn(["train", "--data", str(prep), "--data-load", "stream", "--data-workers", "2",
                                 *MODEL, "--steps", "100000", "--out", str(run)])
        at = rng.randint(2, 4 * CE)
        hit = wait_until(p, lambda: max_step(run) >= at and bool(worker_pids(p.pid)), 120)
        workers = worker_pids(p.pid)
        if p.poll() is None and workers:
            os.kill(rng.choice(workers), signal.SIGKILL)
        try:
            rc = p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        problems = []
        if not hit:
            problems.append("training never reached the step to kill a worker at")
        if rc != 1:
            problems.append(f"exit {rc}, not 1")
        text_err = err.read_text(errors="replace")
        bad = one_error_line(text_err, "train")
        if bad:
            problems.append(bad)
        elif "DataLoader worker" not in text_err or "saved at step" not in text_err:
            problems.append("the error line does not name the worker and the saved step: " + text_err.strip()[:200])
        step, why = ckpt_step(run)
        last = max_step(run)
        if step is None:
            problems.append(f"checkpoint unreadable: {why}")
        elif step != last:
            problems.append(f"checkpoint at step {step}, but the log reached step {last}")
        else:
            rc2, _, err2 = env.run(["train", "--resume", str(run), "--steps", str(step + CE), "--no-progress"])
            if rc2 != 0 or ckpt_step(run)[0] != step + CE:
                problems.append(f"--resume did not go on to step {step + CE} (exit {rc2}): {err2.strip()[-200:]}")
        left = temp_files(run)
        if left:
            problems.append(f"temp files left: {', '.join(left)}")
        row.result(not problems, f"worker killed after step {at}: " + "; ".join(problems), exit=rc,
                   checkpoint_step=step, log_step=last)
    return row.done()


PROGAN = ["--preset", "progan", "--channel-base", "256", "--channel-max", "8", "--z-dim", "32", "--batch-size", "16",
          "--stage-batch", "8:2,32:0.5", "--fade-kimg", "0.1", "--stage-kimg", "0.1", "--precision", "fp32",
          "--device", "cpu", "--no-progress", "--checkpoint-every", str(CE), "--log-every", "1",
          "--sample-every", "10", "--seed", "0"]


def case_progan_stream(env: Env, rng: random.Random) -> Row:
    row = Row("streamed ProGAN through its stages, kill -9, --resume",
              "equals the uninterrupted in-memory run bit for bit (G, D, G_ema, optimizers, data position)")
    prep = prepared_set(env)
    total = 60  # 4x4 -> 32x32 with these stage lengths: three stage changes
    ref, run = env.work / "progan-memory", env.work / "progan-stream"
    rc, _, err = env.run(["train", "--data", str(prep), "--data-load", "memory", *PROGAN, "--steps", str(total),
                          "--out", str(ref)])
    if rc != 0:
        row.result(False, f"the in-memory run failed (exit {rc}): {err.strip()[-300:]}")
        return row.done()
    stream = ["--data-load", "stream", "--data-workers", "2"]
    p, _, err = env.spawn(["train", "--data", str(prep), *stream, *PROGAN, "--steps", str(total), "--out", str(run)])
    at = rng.randint(CE + 1, total - CE)
    wait_until(p, lambda: max_step(run) >= at, 300)
    if p.poll() is None:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    problems = []
    rc, _, err = env.run(["train", "--resume", str(run), "--steps", str(total), "--no-progress"])
    if rc != 0:
        problems.append(f"the resume exited {rc}: {err.strip()[-300:]}")
    try:
        from ganforge.checkpoint import load_checkpoint

        a, b = load_checkpoint(ref), load_checkpoint(run)
        diffs: list[str] = []
        for key in ("step", "G", "D", "G_ema", "opt_g", "opt_d", "train_state", "epoch", "pos"):
            tensors_equal(a.get(key), b.get(key), key, diffs)
        if diffs:
            problems.append(f"differs from the in-memory run in {len(diffs)} entries: {', '.join(diffs[:6])}")
        if int(b["G"]["stage"]) != 3:
            problems.append(f"the run ended at stage {int(b['G']['stage'])}, not 32x32")
    except Exception as e:  # noqa: BLE001
        problems.append(f"cannot compare the checkpoints: {type(e).__name__}: {e}")
    row.result(not problems, f"killed after step {at}: " + "; ".join(problems), killed_after=at, total_steps=total)
    return row.done()


# --------------------------------------------------------------------------- NaN
NAN_SCRIPT = """
import sys, torch
from ganforge.train.trainer import GANTrainer
orig, poisoned, at = GANTrainer.train_step, [], int(sys.argv[1])
def poison_once(self, real, labels=None):
    if self.step == at and not poisoned:  # G's weights blow up during step at + 1
        poisoned.append(True)
        with torch.no_grad():
            next(self.G.parameters()).fill_(float("nan"))
    return orig(self, real, labels)
GANTrainer.train_step = poison_once
from ganforge.cli import main
sys.exit(main(sys.argv[2:]))
"""


def case_nan(env: Env, poison_steps: list[int]) -> list[Row]:
    from ganforge.checkpoint import load_checkpoint

    total = 20
    row = Row("NaN in G's weights once", "exit 0 at the last step; rolled back to the last checkpoint; "
                                          "weights finite; learning rates halved")
    log_row = Row("NaN: log.jsonl afterwards", "strict JSON (no NaN/Infinity), each step once")
    for at in poison_steps:
        run = env.work / f"nan-{at}"
        rc, out, err = env.run([], python=["-c", NAN_SCRIPT, str(at), "train", "--data", str(env.data), *MODEL,
                                           "--steps", str(total), "--out", str(run)])
        problems = []
        if rc != 0:
            problems.append(f"exit {rc}: {err.strip()[-300:]}")
        if f"finished at step {total}" not in out:
            problems.append(f"no 'finished at step {total}' on stdout")
        events = []
        if (run / "log.jsonl").exists():
            for line in (run / "log.jsonl").read_text().splitlines():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r.get("event") == "diagnostic" and r.get("kind") == "nan":
                    events.append(r)
        expect = (at // CE) * CE
        if not events:
            problems.append("no 'nan' diagnostic in log.jsonl")
        elif not any(f"rolled back to step {expect}" in " ".join(map(str, e.get("applied", []))) for e in events):
            problems.append(f"no rollback to step {expect}: {events[0].get('applied')}")
        try:
            ck = load_checkpoint(run)
            import torch

            if not all(torch.isfinite(v).all() for v in ck["G"].values() if v.is_floating_point()):
                problems.append("final G has non-finite weights")
            lr = ck.get("train_state", {}).get("lr_g")
            if lr is None or not lr < ck["config"]["optim"]["lr_g"]:
                problems.append(f"lr_g not lowered after the rollback (train_state lr_g={lr})")
        except Exception as e:  # noqa: BLE001
            problems.append(f"final checkpoint unreadable: {type(e).__name__}: {e}")
        row.result(not problems, f"poisoned before step {at + 1}: " + "; ".join(problems), exit=rc)

        problems = []
        if (run / "log.jsonl").exists():
            bad = strict_log_problems(run)
            if bad:
                problems.append(f"{len(bad)} lines not strict JSON, e.g. {bad[0]}")
            steps = log_steps(run)
            dup = sorted({s for s in steps if steps.count(s) > 1})
            missing = sorted(set(range(1, total + 1)) - set(steps))
            if dup or missing:
                problems.append(f"steps logged twice {dup}, missing {missing}")
        else:
            problems.append("no log.jsonl")
        log_row.result(not problems, f"poisoned before step {at + 1}: " + "; ".join(problems))
    return [row.done(), log_row.done()]


# --------------------------------------------------------------------------- main
def git_state() -> dict:
    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD"), "src_changes": git("status", "--short", "--", "src").splitlines()}


def print_table(rows: list[Row]) -> None:
    w = max(len(r.case) for r in rows)
    print(f"{'case':<{w}}  {'tries':>5}  {'survived':>8}  {'seconds':>7}  checked")
    for r in rows:
        mark = "" if r.ok else "   <-- FAILED"
        print(f"{r.case:<{w}}  {r.tries:>5}  {r.survived:>8}  {r.seconds:>7.1f}  {r.checked}{mark}")
    failed = [r for r in rows if not r.ok]
    if failed:
        print("\nfailures:")
        for r in failed:
            for f in r.failures or ["no tries ran"]:
                print(f"  [{r.case}] {f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--quick", action="store_true", help="4 kills and one try of each other case (about 2 minutes)")
    p.add_argument("--kills", type=int, default=None, help="kill -9 moments (default: 20, --quick: 4)")
    p.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    p.add_argument("--only", default="kill,disk,signal,nan,worker,progan", help="comma-separated cases (default: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per child process (default: 1)")
    p.add_argument("--workdir", default=None, help="work folder (default: a new temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (runs and child outputs)")
    p.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/faults.json")
    a = p.parse_args(argv)
    n_kills = a.kills if a.kills is not None else (4 if a.quick else 20)
    only = {c.strip() for c in a.only.split(",") if c.strip()}
    unknown = only - {"kill", "disk", "signal", "nan", "worker", "progan"}
    if unknown:
        p.error(f"--only: unknown cases {', '.join(sorted(unknown))}")

    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="ganforge-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    env = Env(work, a.threads)
    rng = random.Random(a.seed)
    t0 = time.perf_counter()
    rows: list[Row] = []
    try:
        if "kill" in only:
            rows += case_kill(env, n_kills, rng)
        if "disk" in only:
            rows.append(case_disk(env, [0.5] if a.quick else [0.25, 0.5, 0.9]))
        if "signal" in only:
            rows.append(case_signal(env, signal.SIGTERM, 143, 1 if a.quick else 2, rng))
            rows.append(case_signal(env, signal.SIGINT, 130, 1 if a.quick else 2, rng))
        if "nan" in only:
            rows += case_nan(env, [7] if a.quick else [3, 7, 12])
        if "worker" in only:
            rows.append(case_worker(env, 1 if a.quick else 3, rng))
        if "progan" in only:
            rows.append(case_progan_stream(env, rng))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - t0
    print_table(rows)
    print(f"\n{sum(r.ok for r in rows)} of {len(rows)} cases survived every try, {total:.0f} s"
          + (f"; work folder kept: {work}" if a.keep else ""))

    if not a.no_save:
        from machine import machine_info  # benchmarks/machine.py

        record = {"script": "benchmarks/faults.py", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "args": {"quick": a.quick, "kills": n_kills, "seed": a.seed, "only": sorted(only),
                           "threads": a.threads},
                  "git": git_state(), "machine": machine_info("cpu"), "seconds": round(total, 1),
                  "all_survived": all(r.ok for r in rows), "cases": [r.to_dict() for r in rows]}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_name(RESULTS.name + ".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(RESULTS)
        print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0 if rows and all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
