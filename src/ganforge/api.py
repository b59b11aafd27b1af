"""The Python API: what the CLI calls, and what a notebook or script calls directly."""
from __future__ import annotations

import re
from pathlib import Path

from .config import RunConfig
from .data import data_name, is_data_path
from .errors import DataError
from .generator import class_labels, generate, load_generator, load_run_config  # noqa: F401  (the public API)
from .train.checks import check_resume, check_run  # noqa: F401  (for the CLI)
from .train.loop import TrainResult, fit, prepare  # noqa: F401
from .runs.folder import (OVERWRITE_REMOVES, RunFolderError, check_out_dir, clear_run,  # noqa: F401
                              make_run_dir, resume_dir)
from .runs.report import write_report  # noqa: F401  (the public API: ganforge report RUN)
from .runs.status import check_not_running, list_runs  # noqa: F401  (list_runs: ganforge runs)

RUNS_ROOT = Path("runs")


def new_run_dir(cfg: RunConfig, root: str | Path = RUNS_ROOT) -> Path:
    """The next free ``root/NNNNN-<preset>-<data>`` folder (not created)."""
    root = Path(root)
    numbers = [int(m.group(1)) for p in root.glob("*") if (m := re.match(r"(\d{5})-", p.name))]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cfg.preset}-{data_name(cfg.data)}").strip("-")
    return root / f"{max(numbers, default=-1) + 1:05d}-{slug}"


def train(config: RunConfig, out: str | Path | None = None, *, resume: bool = False, overwrite: bool = False,
          progress: bool = True, log=print) -> TrainResult:
    """Train a GAN as ``config`` describes.

    out: the run folder; default the next ``runs/NNNNN-<preset>-<data>/``. A new run never
        writes into a folder that holds files: it must not exist yet or be empty, unless
        ``overwrite`` (else RunFolderError).
    resume: continue the run in ``out`` (its folder, or its checkpoint.pt) exactly. ``config``
        must be the run's own (``load_run_config(out)``) but for its length, device and output
        frequencies (``ganforge.train.checks.RESUME_OK``); anything else is refused
        (ConfigError). Its data may be given by another path, but must be the same images
        (checked by content).
    overwrite: first delete the ganforge files of the run already in ``out`` (config.json,
        log.jsonl, checkpoints, samples/step-*.png, progress.gif, losses.png, report.html, run.lock,
        tensorboard/); other files in it are left alone. A run that a live process is training
        is never resumed or overwritten (RunFolderError).
    """
    from .train.distributed import process_group

    # Under torchrun each process runs this; rank 0 decides the run folder and writes the files.
    with process_group(config.train.device, config.train.dist_timeout) as ctx:
        main = ctx.is_main
        return _train(config, out, resume=resume, overwrite=overwrite, progress=progress and main,
                      log=log if main else _silent, ctx=ctx)


def _silent(*args, **kwargs) -> None:
    pass


def _train(config: RunConfig, out, *, resume: bool, overwrite: bool, progress: bool, log, ctx) -> TrainResult:
    if resume:
        if out is None:
            raise ValueError("resume=True needs the run folder as out")
        if overwrite:
            raise RunFolderError("--overwrite: cannot be combined with --resume (a resume continues the run "
                                 "in its folder; to start afresh, drop --resume)")
        run_dir = ctx.from_main(resume_dir, out)
        ctx.from_main(check_not_running, run_dir, "--resume")
        check_resume(ctx.from_main(load_run_config, run_dir), config)  # what a resume may change
        source = config.data.source
        if is_data_path(source) and not Path(source).expanduser().exists():
            raise DataError(f"--data {source}: the run's data is not there any more (if it moved, pass "
                            f"--data NEW_PLACE; resuming checks that it holds the same images)")
        data, resolved = prepare(config, progress)
        return fit(resolved, run_dir, resume=True, progress=progress, data=data, log=log,
                   evaluator=training_evaluator(resolved, log) if ctx.is_main else None, ctx=ctx)
    if out is not None:
        ctx.from_main(check_out_dir, out, overwrite=overwrite)
        if overwrite:
            ctx.from_main(check_not_running, out, "--overwrite")
    data, resolved = prepare(config, progress)
    run_dir = Path(out) if out is not None else ctx.from_main(new_run_dir, resolved)
    if overwrite:
        ctx.write(clear_run, run_dir)
    ctx.write(make_run_dir, run_dir)
    return fit(resolved, run_dir, progress=progress, data=data, log=log, ctx=ctx,
               evaluator=training_evaluator(resolved, log) if ctx.is_main else None)


def import_network(pkl: str | Path, out: str | Path | None = None, *, overwrite: bool = False):
    """A network pickle of NVIDIA's stylegan2-ada-pytorch as a ganforge run (read without running
    any of its code: :mod:`ganforge.tools.official`). out: the run folder, default
    ``runs/<pickle name>``; as for :func:`train`, a folder with files in it needs ``overwrite``.

    Returns ``(run_dir, networks)``: the folder, and the :class:`~ganforge.tools.official.OfficialNetworks`
    read (config, weights, notes). Every tool takes the run; ``train --resume`` fine-tunes it when
    the pickle held D."""
    from .tools.official import read_official
    from .train.start import write_run_from_weights

    nets = read_official(pkl)
    run_dir = Path(out) if out is not None else RUNS_ROOT / re.sub(r"[^A-Za-z0-9._-]+", "-", Path(pkl).stem)
    check_out_dir(run_dir, overwrite=overwrite)
    if overwrite:
        check_not_running(run_dir, "--overwrite")
        clear_run(run_dir)
    make_run_dir(run_dir)
    k = nets.num_classes
    write_run_from_weights(nets.config, run_dir, G_ema=nets.G_ema, G=nets.G, D=nets.D,
                           class_names=[str(i) for i in range(k)] if k else None, origin=str(pkl))
    return run_dir, nets


def training_evaluator(cfg: RunConfig, log=print):
    """The evaluator a run is handed, or None (with a note saying why).

    ``--eval-every N``: built now, so a missing evaluator is said at the start. The timed default
    (``--eval-minutes``): only for data with its own evaluator (fashion-mnist ships one), built at
    the first evaluation, so runs shorter than one interval never load it.
    """
    t = cfg.train
    if not t.eval_every and not t.eval_minutes:
        return None
    from .metrics import LazyTrainingEvaluator, make_training_evaluator  # on demand: most runs never need them

    if not t.eval_every:
        from .data.sources import evaluator_for

        return LazyTrainingEvaluator(cfg, log) if evaluator_for(cfg.data.source) else None
    ev, why = make_training_evaluator(cfg, n=t.eval_n)
    if ev is None:
        log(f"note: --eval-every is on but no metrics can be computed: {why}")
    return ev


def prepare_data(folder: str | Path, size: int, out: str | Path, *, channels: int | None = None,
                 progress: bool = True, overwrite: bool = False) -> dict:
    """Convert an image folder into a prepared set in ``out`` (see :mod:`ganforge.data.prepared`);
    returns its header (count, shape, class names, skipped files)."""
    from .data.prepared import prepare_folder

    return prepare_folder(folder, size, out, channels=channels, progress=progress, overwrite=overwrite)
