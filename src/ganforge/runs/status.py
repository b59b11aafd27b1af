"""Whether a run is training now, finished, or was interrupted; and the table of ``ganforge runs``.

While it trains, the main process of a run holds an exclusive ``flock`` on ``run.lock`` in the
run folder. The kernel drops the lock when the process ends, however it ends (``kill -9`` and a
power cut included), so a held lock is a reliable sign of a live run. The file's one JSON line
says what the holder last knew: ``running`` while it trains, ``finished`` or ``interrupted`` when
it stopped in an orderly way. A reader concludes:

* the lock is held: **running**;
* not held, and the file still says ``running``: **interrupted** (the process died mid-run);
* not held otherwise: what the file says;
* no ``run.lock`` at all (a run made before it existed): **finished** when the log reached the
  config's ``--steps``/``--epochs`` total, else **interrupted**; a run ``ganforge import`` wrote
  and nothing trained since: **imported**.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import time
import weakref
from pathlib import Path
from typing import Any

from ..checkpoint import load_checkpoint
from ..errors import GanforgeError
from .monitor import CONFIG_NAME, SAMPLES_DIR, read_json_file, read_log
from .folder import RunFolderError
from .layout import BEST_NAME, CHECKPOINT_NAME, LOCK_NAME

try:
    import fcntl
except ImportError:  # not on POSIX: the status then rests on the file and the writer's pid
    fcntl = None

# unreadable: see list_runs; imported: written by ``ganforge import`` and not trained here yet
STATUSES = ("running", "finished", "interrupted", "unreadable", "imported")


def _lock_nb(fd: int, exclusive: bool) -> bool:
    """Try to take a flock without waiting; True when taken (always, without fcntl)."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


class RunLock:
    """The training process's hold on ``run_dir/run.lock`` (see the module docstring).

    Taken on creation; raises RunFolderError when another live process holds it (two trainings
    writing one run folder would interleave their checkpoints and logs). ``update`` rewrites the
    file's line in place (the lock belongs to the open file, so it is never replaced);
    ``release(status)`` writes the final status and lets go.
    """

    def __init__(self, run_dir: str | Path, wait_s: float = 2.0):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s  # a reader holds a shared lock for a moment only
        while not _lock_nb(self.fd, exclusive=True):
            if time.monotonic() >= deadline:
                info = _read_line(self.path)
                os.close(self.fd)
                self.fd = None
                raise RunFolderError(f"{self.path.parent}: another process (pid {info.get('pid', '?')}) is "
                                     f"training this run now; wait for it to finish or stop it first")
            time.sleep(0.05)
        self.info: dict[str, Any] = {"status": "running", "pid": os.getpid(),
                                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self._write()
        # A forked child (a DataLoader worker) shares the open file and with it the lock, and
        # would keep a killed run "running" until it noticed; the child lets go of its copy.
        os.register_at_fork(after_in_child=functools.partial(_drop_in_child, weakref.ref(self)))

    def __del__(self):  # an exception dropped the lock object: let go (the file still says running)
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)
            self.fd = None

    def _write(self) -> None:
        data = (json.dumps(self.info) + "\n").encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def update(self, **info: Any) -> None:
        """Merge ``info`` (e.g. ``step``) into the file's line."""
        if self.fd is not None:
            self.info.update(info)
            self._write()

    def release(self, status: str) -> None:
        """Write the final ``status`` (finished or interrupted) and drop the lock."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.update(status=status, ended=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        os.close(self.fd)
        self.fd = None


def _drop_in_child(ref: "weakref.ref[RunLock]") -> None:
    lock = ref()
    if lock is not None and lock.fd is not None:
        with contextlib.suppress(OSError):
            os.close(lock.fd)  # this process's copy only: the parent's lock stands
        lock.fd = None


def _read_line(path: Path) -> dict[str, Any]:
    return read_json_file(path)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def lock_status(run_dir: str | Path) -> str | None:
    """running, finished or interrupted by ``run.lock``; None when the run has no such file."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError:
        return "interrupted"
    try:
        free = _lock_nb(fd, exclusive=False)
        if free and fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    info = _read_line(path)
    if not free or (fcntl is None and info.get("status") == "running" and _pid_alive(info.get("pid"))):
        return "running"
    status = info.get("status")
    return status if status in ("finished", "interrupted") else "interrupted"


def check_not_running(run_dir: str | Path, flag: str) -> None:
    """Refuse to touch a run that a live process is training (resume, overwrite)."""
    if lock_status(run_dir) == "running":
        pid = _read_line(Path(run_dir) / LOCK_NAME).get("pid", "?")
        raise RunFolderError(f"{flag} {run_dir}: this run is being trained now (pid {pid}); wait for it to "
                             f"finish or stop it first")


# --------------------------------------------------------------------------- reading a run folder
def sample_grids(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every ``samples/step-NNNNNNN.png`` (or ``step-NNNNNNN-TAG.png``), in step order."""
    found = []
    for p in (Path(run_dir) / SAMPLES_DIR).glob("step-*.png"):
        stem = p.stem[len("step-"):].split("-", 1)[0]  # (a growing model's also name the stage: -8x8)
        if stem.isdigit():
            found.append((int(stem), p))
    return sorted(found)


def read_config(run_dir: Path, problems: list[str] | None = None) -> dict[str, Any]:
    """A run's config.json as a dict ({} when missing or unreadable; see :func:`read_json_file`)."""
    return read_json_file(Path(run_dir) / CONFIG_NAME, problems)


def _section(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    value = cfg.get(name)
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    """A finite number of a run file, else None (a string, a bool, a list, NaN, infinity)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def _data_label(cfg: dict[str, Any]) -> str:
    from ..config import DataConfig
    from ..data import data_name

    source = _section(cfg, "data").get("source")
    if not isinstance(source, str):
        return "-"
    try:
        return data_name(DataConfig(source=source))
    except (GanforgeError, OSError, ValueError):  # a source this version cannot name: show it as stored
        return Path(source).name or source


def _planned_steps(cfg: dict[str, Any], records: list[dict[str, Any]]) -> int | None:
    """The run's --steps/--epochs total in steps, where the log can tell (None: --minutes only)."""
    t = _section(cfg, "train")
    totals = [t["steps"]] if isinstance(t.get("steps"), int) and not isinstance(t["steps"], bool) else []
    epochs = _number(t.get("epochs"))
    per_epoch = next((r["step"] / r["epoch"] for r in reversed(records)
                      if _number(r.get("step")) is not None and _number(r.get("epoch"))), None)
    if epochs is not None and per_epoch and math.isfinite(per_epoch) and math.isfinite(epochs * round(per_epoch)):
        totals.append(math.ceil(epochs * round(per_epoch)))
    return min(totals) if totals else None


def best_fd(run_dir: Path, evals: list[dict[str, Any]]) -> float | None:
    """The lowest FD of the run's eval records; else the one best.pt was kept for; else None."""
    fds = [r["fd"] for r in evals if _number(r.get("fd")) is not None]
    if fds:
        return float(min(fds))
    if (run_dir / BEST_NAME).is_file():
        try:
            fd = load_checkpoint(run_dir / BEST_NAME).get("best_fd")
        except GanforgeError:
            return None
        if _number(fd) is not None:
            return float(fd)
    return None


def run_summary(run_dir: str | Path, records: list[dict[str, Any]] | None = None,
                problems: list[str] | None = None) -> dict[str, Any]:
    """One row of ``ganforge runs``: name, preset, data, step, time_s, best_fd, status, and
    problem: what of the run's files could not be read (None when all could)."""
    run_dir = Path(run_dir)
    problems = [] if problems is None else problems
    cfg = read_config(run_dir, problems)
    records = read_log(run_dir, problems) if records is None else records
    train = [r for r in records if "event" not in r and _is_step(r.get("step"))]
    evals = [r for r in records if r.get("event") == "eval"]
    # The step reached: the log lags by up to --log-every steps, but the last grid of a run that
    # stopped in an orderly way is drawn at its final step, which run.lock also records.
    grids = sample_grids(run_dir)
    known = [_section(cfg, "training_state").get("step"), _read_line(run_dir / LOCK_NAME).get("step"),
             grids[-1][0] if grids else None, *(r["step"] for r in train)]
    step = max((s for s in known if _is_step(s)), default=0)
    times = [r["time_s"] for r in train if _number(r.get("time_s")) is not None]
    status = lock_status(run_dir)
    if status is None and cfg.get("preset") == "imported" and step == 0:
        status = "imported"
    if status is None:
        planned = _planned_steps(cfg, train)
        status = "finished" if planned is not None and step >= planned else "interrupted"
    preset = cfg.get("preset")
    return {"name": run_dir.name, "path": str(run_dir), "preset": preset if isinstance(preset, str) and preset else "-",
            "data": _data_label(cfg), "step": step, "time_s": times[-1] if times else None,
            "best_fd": best_fd(run_dir, evals), "status": status, "problem": "; ".join(problems) or None}


def _is_step(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and ((path / CONFIG_NAME).is_file() or (path / CHECKPOINT_NAME).is_file())


def list_runs(root: str | Path = "runs") -> list[dict[str, Any]]:
    """:func:`run_summary` of every run folder in ``root`` (or of ``root`` itself if it is one),
    by name. Raises GanforgeError when ``root`` is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise GanforgeError(f"{root}: no such folder (give the folder that holds the run folders, "
                            f"e.g. runs)")
    if is_run_dir(root):
        return [_row(root)]
    return [_row(p) for p in sorted(root.iterdir()) if is_run_dir(p)]


def _row(run_dir: Path) -> dict[str, Any]:
    """:func:`run_summary`, or for a run it cannot read, a row saying so: one damaged run folder
    never hides the others."""
    try:
        return run_summary(run_dir)
    except Exception as e:  # noqa: BLE001 - whatever it is, it concerns this run alone
        why = " ".join(str(e).split())[:160] or type(e).__name__
        return {"name": run_dir.name, "path": str(run_dir), "preset": "-", "data": "-", "step": 0,
                "time_s": None, "best_fd": None, "status": "unreadable", "problem": why}


def format_duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h07m``; ``-`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def runs_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table with a header line."""
    head = ("run", "preset", "data", "step", "trained", "best FD", "status")
    body = [(r["name"], r["preset"], r["data"], str(r["step"]), format_duration(r["time_s"]),
             "-" if r["best_fd"] is None else f"{r['best_fd']:.3f}", r["status"]) for r in rows]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    right = {3, 4, 5}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    notes = [f"  {r['name']}: {r['problem']}" for r in rows if r.get("problem")]
    return "\n".join([*(line(c).rstrip() for c in (head, *body)), *notes])
