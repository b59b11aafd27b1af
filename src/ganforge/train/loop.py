"""The training loop: which batch each step sees, and when to log, draw samples and checkpoint.

``fit`` is the whole of ``ganforge train``: load data, build the trainer, restore a checkpoint
if resuming, then loop over steps (see :mod:`ganforge.train.trainer` for one step).
"""
from __future__ import annotations

import math
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from ..runs.layout import CHECKPOINT_NAME
from ..config import RunConfig
from ..data import ImageData, absolute_data_paths, load_data
from ..device import resolve_device
from ..errors import ConfigError
from ..generator import latents
from ..models import ARCHS, default_size
from ..runs.monitor import CONFIG_NAME, Monitor, save_run_config, truncate_log
from ..runs.report import RunSession
from ..context import RunContext
from ..data.fingerprint import check_same_data, data_fingerprint
from .batches import DataWorkerDied, EpochSampler, batch_source
from .builder import build_trainer
from .checks import check_data, check_imported, check_run
from .distributed import env_world
from .diagnostics import Diagnostics, batch_diversity
from .evaluation import Evaluator, TrainingEvaluation
from .probe import needs_probe, probe_bf16
from .state import StepStats
from .stopping import GracefulStop
from .trainer import GANTrainer


# --------------------------------------------------------------------------- fit
@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    interrupted: bool
    samples: Path | None  # None on a process that writes no files
    gif: Path | None
    plot: Path | None
    checkpoint: Path
    img_per_s: float
    stop_signal: signal.Signals | None = None  # SIGINT or SIGTERM when a signal stopped the run


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare(cfg: RunConfig, progress: bool = True) -> tuple[ImageData, RunConfig]:
    """Load the data for ``cfg`` and return it with a copy of the config whose size and channels
    are resolved, so the saved config alone can rebuild G."""
    check_run(cfg)
    data = load_data(cfg.data, default_size=default_size(cfg.model.arch, cfg.data.source), progress=progress)
    resolved = RunConfig.from_dict(cfg.to_dict())
    resolved.data = absolute_data_paths(resolved.data)  # the run can be resumed from anywhere
    resolved.data.channels = int(data.images.shape[1])
    resolved.data.size = int(data.images.shape[2])
    resolved.model.num_classes = 0
    if cfg.model.conditional:
        if data.labels is None:
            raise ConfigError(f"--conditional: {data.name} has no labels (use a labelled dataset, a folder with "
                              f"one subfolder per class, or an .npz with 'labels')")
        resolved.model.num_classes = len(data.class_names) if data.class_names else int(data.labels.max()) + 1
    check_data(cfg, resolved, int(data.images.shape[0]), env_world()[1])
    return data, resolved


MAX_ROLLBACKS = 3  # NaN rollbacks per session before giving up


def checkpoint_record(trainer: GANTrainer, cfg: RunConfig, *, epoch: int, pos: int, fixed_z: torch.Tensor,
                      elapsed_s: float, img_shape: tuple[int, int], class_names, best_fd: float,
                      data_fingerprint: dict[str, Any] | None) -> dict[str, Any]:
    """What a checkpoint holds: the trainer's state, where the data order stands, the fixed
    latents, every RNG, the config and what a tool needs to rebuild G without the data."""
    return {
        **trainer.state_dict(), "epoch": int(epoch), "pos": int(pos), "fixed_z": fixed_z, "rng": rng_state(),
        "config": cfg.to_dict(), "elapsed_s": float(elapsed_s), "img_channels": int(img_shape[0]),
        "img_size": int(img_shape[1]), "class_names": list(class_names or []), "best_fd": best_fd,
        "data_fingerprint": data_fingerprint, **trainer.dist.state_dict(),
    }


def fit(cfg: RunConfig, run_dir: Path, *, resume: bool = False, progress: bool = True,
        data: ImageData | None = None, log=print, evaluator: Evaluator | None = None,
        ctx: RunContext | None = None) -> TrainResult:
    """Train (or continue) the run in ``run_dir`` with config ``cfg``.

    resume: load ``run_dir/checkpoint.pt`` and continue exactly where it stopped.
    data: already-loaded data (else loaded from ``cfg.data``).
    evaluator: called every ``--eval-every`` steps or ``--eval-minutes`` with a sampler
        ``n -> uint8 images``; returns a dict of metrics with ``fd`` (``best.pt`` is kept by it) and
        has a ``protocol`` (see :mod:`.evaluation`). The loop never builds one itself: see
        :func:`ganforge.metrics.make_training_evaluator`.
    ctx: which process this is (default: the only one, on ``--device``).
    """
    if data is None:
        data, cfg = prepare(cfg, progress)
    ctx = ctx or RunContext(device=resolve_device(cfg.train.device))
    return _Loop(cfg, Path(run_dir), data, resume=resume, progress=progress, log=log, evaluator=evaluator,
                 ctx=ctx).run()


class _Loop:
    """The state of one ``fit`` call: trainer, data order, monitor, diagnostics."""

    def __init__(self, cfg: RunConfig, run_dir: Path, data: ImageData, *, resume: bool, progress: bool, log,
                 evaluator: Evaluator | None, ctx: RunContext):
        self.cfg, self.run_dir, self.data, self.log, self.progress = cfg, run_dir, data, log, progress
        self.ctx = ctx
        t = cfg.train
        self.device = device = ctx.device
        n_images = data.images.shape[0]
        per_step = t.batch_size * cfg.tricks.n_critic  # real images one step of this process consumes
        check_data(cfg, cfg, n_images, ctx.world_size)  # (prepare checked it too; fit may be handed data)
        if data.fit and ctx.is_main and not resume:
            log(f"data: {data.fit} (--fit {cfg.data.fit})")
        self.batch_size = t.batch_size * ctx.world_size  # the global batch
        if ctx.world_size > 1 and not ARCHS[cfg.model.arch].shardable:
            raise ConfigError(f"--arch: {cfg.model.arch}'s per-stage batches are not split between processes yet; "
                              f"train it in one process (without torchrun)")
        seed_everything(t.seed)
        self.trainer = build_trainer(cfg, data.images.shape[1], data.images.shape[2], ctx=ctx,
                                     global_batch=per_step * ctx.world_size)
        self.precision_note = self._check_precision(data)
        near = torch.device("cpu") if data.streamed else device  # where batch indices live
        own = self.trainer.family.sampler(n_images, t.batch_size, t.seed, near)
        self.sampler = own or EpochSampler(n_images, per_step, t.seed, near, rank=ctx.rank,
                                           world_size=ctx.world_size, parts=cfg.tricks.n_critic)
        self.dist = self.trainer.dist
        self.fixed_z = latents(t.n_fixed, cfg.model.z_dim, t.seed)
        # A conditional model's fixed batch cycles through the classes: grid column k shows class k.
        k = self.trainer.num_classes
        self.fixed_y = torch.arange(t.n_fixed) % k if k else None
        self.batches = batch_source(data, self.sampler, device, bool(k), cfg.data.workers)
        self.elapsed_before = 0.0
        self.ckpt_path = run_dir / CHECKPOINT_NAME
        ctx.write(run_dir.mkdir, parents=True, exist_ok=True)
        self.diagnostics = None
        if t.diagnose:
            self.diagnostics = Diagnostics(loss=cfg.loss.loss, label_smoothing=cfg.loss.label_smoothing)
            # the yardstick for collapse: how different real images are from each other
            g = torch.Generator().manual_seed(t.seed)
            pick = torch.randperm(n_images, generator=g)[:max(2, t.n_fixed)]
            self.real_diversity = batch_diversity(data.images[pick])
        self.fixed_diversity: float | None = None
        self.rollbacks = 0
        self.best_fd = math.inf
        # which data this is, by content: a resume may name it by another path, not other images
        self.data_fingerprint = data_fingerprint(data.images)
        self.imported = None
        if resume:
            ckpt = ctx.from_main(load_checkpoint, self.ckpt_path)  # (rank 0's disk holds the run)
            self.imported = check_imported(ckpt.get("imported"), run_dir)
            check_same_data(ckpt.get("data_fingerprint"), self.data_fingerprint, cfg.data.source)
            if ("data_fingerprint" not in ckpt and self.imported is None
                    and ckpt["config"]["data"]["source"] != cfg.data.source):
                log(f"note: this run predates data fingerprints, so {cfg.data.source} cannot be checked "
                    f"against the data it was trained on ({ckpt['config']['data']['source']})")
            self.restore(ckpt)
            before = ckpt["config"].get("train", {}).get("precision")
            if before is not None and before != cfg.train.precision:
                log(f"note: resuming with --precision {cfg.train.precision} (the run trained with {before} so far); "
                    f"precision is a speed choice, so the run continues as the same run")
            self.best_fd = float(ckpt.get("best_fd", math.inf))
            ctx.write(truncate_log, run_dir, self.trainer.step)
        self.evaluator = evaluator if t.eval_every or t.eval_minutes else None
        self.evals: TrainingEvaluation | None = None
        self.start_time = time.monotonic()
        self.clock = time.process_time if cfg.train.clock == "cpu" else time.monotonic  # what --minutes counts
        self.start_clock = self.clock()

    def _check_precision(self, data: ImageData) -> str | None:
        """bf16 on this CPU, probed first (see :mod:`.probe`): where a step would crash, the run
        trains in fp32 instead. Returns the note saying so (None when nothing changed)."""
        tr = self.trainer
        if not needs_probe(tr, tr.precision):
            return None
        why = self.ctx.from_main(probe_bf16, self.cfg, int(data.images.shape[1]), int(data.images.shape[2]))
        if why is None:
            return None
        tr.precision = "fp32"
        asked = "--precision bf16" if self.cfg.train.precision == "bf16" else "--precision auto chose bf16, but"
        note = f"note: {asked} {why}; training in fp32 instead (a speed choice: the run is the same)"
        self.log(note)
        return note

    # -- checkpoints and the config
    def checkpoint(self, path: Path | None = None) -> Path:
        state = checkpoint_record(self.trainer, self.cfg, epoch=self.sampler.epoch, pos=self.sampler.pos,
                                  fixed_z=self.fixed_z, elapsed_s=self.elapsed_before + time.monotonic() - self.start_time,
                                  img_shape=tuple(self.data.images.shape[1:3]), class_names=self.data.class_names,
                                  best_fd=self.evals.best_fd if self.evals else self.best_fd,
                                  data_fingerprint=self.data_fingerprint)
        if self.imported is not None:
            state["imported"] = self.imported
        if self.diagnostics is not None:
            state["diagnostics"] = self.diagnostics.state_dict()
        path = path or self.ckpt_path
        self.ctx.write(save_checkpoint, state, path)
        return path

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.trainer.load_state_dict(ckpt, str(self.ckpt_path))
        self.sampler.epoch, self.sampler.pos = int(ckpt["epoch"]), int(ckpt["pos"])
        self.fixed_z = ckpt["fixed_z"]
        self.elapsed_before = float(ckpt.get("elapsed_s", 0.0))
        if self.diagnostics is not None and "diagnostics" in ckpt:
            self.diagnostics.load_state_dict(ckpt["diagnostics"])
        set_rng_state(ckpt["rng"])
        self.dist.load_state_dict(ckpt, self.sampler)
        self.batches.reset()

    def save_config(self) -> None:
        """config.json: the config as asked for, and beside it what training has changed since."""
        self.ctx.write(save_run_config, self.cfg, {**self.trainer.state.to_dict(), **self.dist.describe()},
                       self.run_dir / CONFIG_NAME, self.data_fingerprint)

    # -- samples and diagnostics
    def samples(self, step: int) -> Path | None:
        images = self.trainer.render(self.fixed_z, self.fixed_y)
        if self.diagnostics is not None and images.shape[0] >= 2:
            self.fixed_diversity = batch_diversity(images)
        return self.session.samples_saved(self.monitor.save_samples(step, images, tag=self.trainer.family.tag()))

    def diagnose(self, record: dict[str, Any]) -> None:
        """Feed a log record to the diagnostics; say what they find, and act on it: a NaN always
        rolls back to the last checkpoint with halved learning rates, other remedies only with
        --auto-remedy."""
        for f in self.diagnostics.observe(record):
            applied = []
            if f.kind == "nan":
                applied = self.rollback(f.remedy)
            elif self.cfg.train.auto_remedy:
                applied = self.apply_remedy(f.remedy)
            note = f" Applied: {', '.join(applied)}." if applied else ""
            self.monitor.write(f"ganforge: {f.text()}{note}")
            self.monitor.log_event({"step": f.step, "event": "diagnostic", "kind": f.kind, "message": f.message,
                                    "suggestion": f.suggestion, "applied": applied})

    def apply_remedy(self, remedy: dict[str, Any]) -> list[str]:
        """Carry out a diagnostics remedy on the trainer's state (the config is left as asked)."""
        tr, done = self.trainer, []
        if "lr_factor" in remedy:
            done += [f"lr_g={tr.set_lr('g', remedy['lr_factor']):.3g}", f"lr_d={tr.set_lr('d', remedy['lr_factor']):.3g}"]
        if "lr_d_factor" in remedy:
            done.append(f"lr_d={tr.set_lr('d', remedy['lr_d_factor']):.3g}")
        if "d_dropout_add" in remedy:
            done.append(f"D dropout={tr.add_d_dropout(remedy['d_dropout_add']):.2f}")
        if "replay_size" in remedy and tr.replay is None and not tr.num_classes:
            tr.enable_replay(int(remedy["replay_size"]), float(remedy.get("replay_ratio", 0.5)))
            done.append(f"replay buffer {remedy['replay_size']}")
        if done:
            self.save_config()
        return done

    def rollback(self, remedy: dict[str, Any]) -> list[str]:
        """Restore the last good checkpoint and make the step smaller (NaN/inf in the losses)."""
        self.rollbacks += 1
        if self.rollbacks > MAX_ROLLBACKS:
            raise TrainingDiverged(f"the losses became NaN/inf {self.rollbacks} times even after halving the "
                                   f"learning rates; the last good checkpoint is {self.ckpt_path}")
        ckpt = self.ctx.from_main(load_checkpoint, self.ckpt_path,
                                  map_location=self.device if self.ctx.world_size == 1 else "cpu")
        self.restore(ckpt)
        self.ctx.write(truncate_log, self.run_dir, self.trainer.step)  # the steps after it are run again
        self.acc.clear()
        self.diagnostics.reset()
        done = [f"rolled back to step {self.trainer.step}"]
        done += self.apply_remedy({"lr_factor": remedy.get("lr_factor", 0.5)})
        self.checkpoint()  # the smaller learning rates are part of the last good state now
        return done

    # -- the loop
    def stopping_rule(self) -> tuple[int | None, float | None]:
        """(total steps, clock deadline): the first of --steps, --epochs (both totals) and
        --minutes (this session) ends the run."""
        t, tr = self.cfg.train, self.trainer
        total = t.steps
        if t.epochs is not None:  # an epoch is a pass over the data, whatever the batch of each step
            by_epochs = tr.step + self.sampler.steps_until(t.epochs)
            total = by_epochs if total is None else min(total, by_epochs)
        deadline = self.start_clock + 60 * t.minutes if t.minutes is not None else None
        if total is None and deadline is None:
            raise ConfigError("give a length: --steps, --epochs or --minutes")
        return total, deadline

    def open_monitor(self, total: int | None, deadline: float | None) -> None:
        """The monitor (progress, log.jsonl, grids), the session's first events and the
        training-time evaluation."""
        t, tr, ctx = self.cfg.train, self.trainer, self.ctx
        self.monitor = Monitor(self.run_dir, tr.step, total, deadline, progress=self.progress and ctx.is_main,
                               nrow=tr.num_classes or None, writes=ctx.is_main, clock=self.clock)
        if self.precision_note:
            self.monitor.log_event({"step": tr.step, "event": "precision", "precision": tr.precision,
                                    "message": self.precision_note})
        if ctx.world_size > 1:
            self.monitor.log_event({"step": tr.step, "event": "processes", **self.dist.describe()})
            self.monitor.write(f"{ctx.world_size} processes x batch {t.batch_size} = global batch {self.batch_size}")
        if t.eval_every or t.eval_minutes:  # on every process, evaluator or not: the timed decision is collective
            self.evals = TrainingEvaluation(
                t, self.evaluator, self.run_dir, ctx, checkpoint=self.checkpoint, write=self.monitor.write,
                sample=lambda n: tr.sample_images(n, seed=t.seed), log_event=self.monitor.log_event,
                best_fd=self.best_fd)

    def run(self) -> TrainResult:
        t, tr, ctx = self.cfg.train, self.trainer, self.ctx
        self.session = RunSession(self.run_dir, ctx)  # holds run.lock while training; writes report.html
        self.save_config()
        total, deadline = self.stopping_rule()

        def done() -> bool:
            if total is not None and tr.step >= total:
                return True
            # The clock differs between processes: they stop together when any of them is late.
            return deadline is not None and ctx.agree(self.clock() >= deadline)

        self.open_monitor(total, deadline)
        if tr.step == 0:
            self.samples(0)
            self.checkpoint()  # a good state to roll back to
        self.acc: list[StepStats] = []
        last_log_t, last_log_step = time.monotonic(), tr.step
        img_per_s = 0.0
        died: DataWorkerDied | None = None
        with GracefulStop() as stop:
            try:
                while not done() and not ctx.agree(stop.requested):
                    self.acc.append(tr.train_step(*self.batches.next()))
                    self.monitor.step()
                    s = tr.step
                    if tr.family.take_stage_end() or s % t.sample_every == 0:
                        self.samples(s)
                    log_point = s % t.log_every == 0 or done()
                    if log_point:
                        now = time.monotonic()
                        img_per_s = (s - last_log_step) * self.batch_size / max(now - last_log_t, 1e-9)
                        last_log_t, last_log_step = now, s
                        record = self.log_record(s, now, img_per_s)
                        self.monitor.log(record)
                        if self.diagnostics is not None:
                            self.diagnose(record)
                    if self.evals is not None and tr.step == s and self.evals.due(s, log_point):
                        self.evals.run(s)
                    if s % t.checkpoint_every == 0 and tr.step == s:  # (not right after a rollback)
                        self.checkpoint()
                        self.monitor.figures()  # so a killed run has them too (rate-limited)
            except DataWorkerDied as e:  # between steps: the state is whole, so it is saved
                died = e
            finally:
                self.monitor.close()
                self.batches.close()
            if died is not None:
                self.checkpoint()
                self.monitor.figures(force=True)
                self.session.finish(True, tr.step)
                raise DataWorkerDied(f"{died}; the run is saved at step {tr.step}: continue it with "
                                     f"--resume {self.run_dir}") from None
            interrupted = ctx.agree(stop.requested)
            if interrupted:
                by = f" by {stop.signal.name}" if stop.signal is not None else ""
                self.log(f"interrupted{by} at step {tr.step}: saving a checkpoint before exiting")
        final = self.samples(tr.step)
        if self.evals is not None:
            if not interrupted and self.evals.due_at_end(tr.step):
                self.evals.run(tr.step)
            self.evals.close()
        path = self.checkpoint()
        gif, plot = self.monitor.figures(force=True)
        self.session.finish(interrupted, tr.step)
        return TrainResult(self.run_dir, tr.step, interrupted, final, gif, plot, path, img_per_s,
                           stop_signal=stop.signal)

    def log_record(self, step: int, now: float, img_per_s: float) -> dict[str, Any]:
        """Means over the log interval: the one host-device sync per interval."""
        acc = self.acc
        means = torch.stack([torch.stack([a.d_loss, a.g_loss, a.d_real, a.d_fake]) for a in acc]).mean(0)
        means = self.ctx.mean(means.float())  # all processes diagnose the global picture
        d_loss, g_loss, d_real, d_fake = means.tolist()
        acc.clear()
        record = {"step": step, "epoch": round(self.sampler.epochs_done, 4),
                  "time_s": round(self.elapsed_before + now - self.start_time, 3),
                  "img_per_s": round(img_per_s, 1), "d_loss": d_loss, "g_loss": g_loss,
                  "d_real": d_real, "d_fake": d_fake}
        tr = self.trainer
        record.update(tr.family.log_fields())
        if tr.ada is not None:
            record["augment_p"] = round(float(tr.ada.p), 4)
        if self.diagnostics is not None and self.fixed_diversity is not None:
            record["fixed_diversity"] = round(self.fixed_diversity, 5)
            record["real_diversity"] = round(self.real_diversity, 5)
            self.fixed_diversity = None
        finite = math.isfinite(d_loss) and math.isfinite(g_loss) and _weights_finite(tr)
        if self.ctx.agree(not finite):  # any process diverging rolls all of them back
            record["d_loss"] = record["g_loss"] = float("nan")
        return record


class TrainingDiverged(ConfigError):
    """Training kept producing NaN/inf losses after every rollback."""


def _weights_finite(trainer: GANTrainer) -> bool:
    return all(bool(torch.isfinite(p).all()) for m in (trainer.G, trainer.D) for p in m.parameters())
