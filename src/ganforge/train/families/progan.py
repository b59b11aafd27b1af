"""The ProGAN family: progressive growing. Its growth schedule says which stage, and how far its
new block has faded in, after a given number of real images.

Stage 0 (4x4) trains ``stage_kimg``; every later stage first fades its block in over
``fade_kimg`` (alpha rises linearly from 0 to 1), then trains ``stage_kimg`` more; the last
stage trains until the run ends. The state is the generator's ``images_seen`` buffer, and stage
and alpha are buffers of G, D and G_ema, so a checkpoint taken mid-fade resumes exactly.

:class:`ProGANFamily` moves stage and alpha after every step (its update hook), blends the real
images the way G's output is blended, changes the learning rates at stage changes
(``--stage-lr``) and picks each step's batch size (``--stage-batch``), with a sampler whose batch
size may change from step to step.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ...config import RunConfig, field_flag, parse_stage_table
from ...errors import ConfigError
from ...models import ARCHS
from ..family import Family, register_family
from ..hooks import UpdateHook
from ..state import Trainer


MAX_BATCH = 2**31  # images a step takes, at most (beyond any memory)


class GrowthSchedule:
    """``at(images) -> (stage, alpha)`` for stage sizes ``sizes`` (4, 8, ...), in whole images."""

    def __init__(self, sizes: list[int], fade_kimg: float, stage_kimg: float):
        self.sizes = list(sizes)
        self.fade = max(1, round(fade_kimg * 1000))
        self.stable = max(1, round(stage_kimg * 1000))

    def at(self, images: int) -> tuple[int, float]:
        last = len(self.sizes) - 1
        if images < self.stable or last == 0:
            return 0, 1.0
        t = images - self.stable
        stage = 1 + t // (self.fade + self.stable)
        if stage > last:
            return last, 1.0
        into = t - (stage - 1) * (self.fade + self.stable)  # images since this stage's fade began
        return stage, (into / self.fade if into < self.fade else 1.0)

    def fade_start(self, stage: int) -> int:
        """Images after which ``stage`` (>= 1) begins to fade in."""
        return self.stable + (stage - 1) * (self.fade + self.stable)

    @property
    def images_to_final(self) -> int:
        """Images until the last stage is fully faded in."""
        return self.fade_start(len(self.sizes) - 1) + self.fade


def blend_reals(real: torch.Tensor, stage_size: int, alpha: float) -> torch.Tensor:
    """Real images (N, C, S, S) as G makes them during a fade: averaged down to the stage's size,
    blended with the previous stage's size (upsampled, nearest) by ``alpha``, upsampled back to S."""
    factor = real.shape[-1] // stage_size
    x = F.avg_pool2d(real, factor) if factor > 1 else real
    low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    x = low + (x - low) * alpha
    return F.interpolate(x, scale_factor=factor, mode="nearest") if factor > 1 else x


class StagedSampler:
    """Shuffled batches without replacement whose size changes with the stage: the epoch's order
    depends only on (seed, epoch), ``pos`` counts images into it, and a batch that would run past
    the end starts the next epoch (as the fixed-size sampler drops the last partial batch).

    batch_at: real images a step takes after ``images`` real images (the stage's batch);
    images_seen: the images the run has seen so far (the trainer's count). Batch sizes follow
    from these two alone, so :meth:`ahead` can list the batches to come (what streaming workers
    read ahead of training) and :meth:`steps_until` can count the steps an epoch takes.
    """

    def __init__(self, n: int, batch_at: Callable[[int], int], images_seen: Callable[[], int], seed: int,
                 device: torch.device):
        self.n, self.batch_at, self.images_seen, self.seed, self.device = n, batch_at, images_seen, seed, device
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None

    def _take(self, b: int) -> tuple[int, int]:
        """(epoch, start) of the next batch of ``b`` images, and the position moved past it."""
        if self.pos + b > self.n:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        start = self.pos
        self.pos += b
        return self.epoch, start

    def next_indices(self, b: int | None = None) -> torch.Tensor:
        b = self.batch_at(self.images_seen()) if b is None else b
        if b > self.n:  # (the run's checks refuse such a table before it starts)
            raise ConfigError(f"{field_flag('grow', 'stage_batch')}: a batch of {b} images, but the data has "
                              f"only {self.n}")
        epoch, start = self._take(b)
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n, generator=g).to(self.device)
        return self._perm[start:start + b]

    def _done(self, images: int) -> float:
        """Passes over the data so far, an epoch counting as done once its next batch would not fit."""
        return self.epoch + 1.0 if self.pos + self.batch_at(images) > self.n else self.epoch + self.pos / self.n

    @property
    def epochs_done(self) -> float:
        return self._done(self.images_seen())

    def ahead(self) -> Iterator[torch.Tensor]:
        """The batches to come, from the current position on, without moving this sampler."""
        twin = copy.copy(self)
        images = self.images_seen()
        while True:
            b = self.batch_at(images)
            yield twin.next_indices(b)
            images += b

    def steps_until(self, epochs: float) -> int:
        """Steps from now until ``epochs`` passes over the data are done (at least 0)."""
        twin = copy.copy(self)
        images, steps = self.images_seen(), 0
        while twin._done(images) < epochs:
            b = self.batch_at(images)
            twin._take(b)
            images += b
            steps += 1
        return steps


class _Advance(UpdateHook):
    """After each step: count its real images and move stage and alpha."""

    def __init__(self, family: "ProGANFamily"):
        self.family = family

    def after_step(self, tr: Trainer, n: int) -> None:
        self.family.advance(n)


@register_family("progan")
class ProGANFamily(Family):
    """Progressive growing (see the module docstring)."""

    def __init__(self, cfg: RunConfig):
        super().__init__(cfg)
        gr = cfg.grow
        self.batch_table = parse_stage_table(gr.stage_batch, field_flag("grow", "stage_batch"))
        self.lr_table = parse_stage_table(gr.stage_lr, field_flag("grow", "stage_lr"))
        self.base_batch, self.n_critic = cfg.train.batch_size, cfg.tricks.n_critic
        self.schedule: GrowthSchedule | None = None  # (G's stage sizes: known once bound)
        self._stage_ended = False

    @classmethod
    def refusals(cls, cfg: RunConfig) -> list[tuple[str, str]]:
        """Stage tables naming sizes that are not stages of this run, or giving a batch or a
        learning rate no step can use."""
        out = []
        final = cfg.data.size or ARCHS["progan"].native_size
        stages = [s for s in (4 << i for i in range(12)) if s <= final]
        o, base = cfg.optim, cfg.train.batch_size * cfg.tricks.n_critic
        for name, check in (("stage_batch", lambda f: base * f <= MAX_BATCH),
                            ("stage_lr", lambda f: math.isfinite(max(o.lr_g, o.lr_d) * f))):
            table = parse_stage_table(getattr(cfg.grow, name), field_flag("grow", name))
            strays = sorted(k for k in table if k not in stages)
            if strays:
                out.append((f"grow.{name}", f"{', '.join(map(str, strays))} is not a stage of this run (its stages: "
                                            f"{', '.join(map(str, stages))})"))
            wild = sorted(k for k, f in table.items() if not check(f))
            if wild:
                what = (f"a batch beyond {MAX_BATCH:,} images" if name == "stage_batch"
                        else "a learning rate that is not a finite number")
                out.append((f"grow.{name}", f"the factor of stage {wild[0]} gives {what}"))
        return out

    @classmethod
    def data_refusals(cls, cfg: RunConfig, n_images: int) -> list[tuple[str, str]]:
        """A stage whose batch is larger than the data."""
        family = cls(cfg)
        base = cfg.train.batch_size
        for size, f in sorted(family.batch_table.items()):
            b = max(1, round(base * f)) * cfg.tricks.n_critic
            if b > n_images:
                return [("grow.stage_batch", f"stage {size} takes batches of {b} images, but the data has only "
                                             f"{n_images}")]
        return []

    def hooks(self) -> list[UpdateHook]:
        return [_Advance(self)]

    def bind(self, tr: Trainer) -> None:
        """Bind to the trainer; on a fresh one, the first stage's learning-rate factor is applied
        to the training state."""
        super().bind(tr)
        self.schedule = GrowthSchedule(tr.G.resolutions, self.cfg.grow.fade_kimg, self.cfg.grow.stage_kimg)
        if self.images_seen == 0:
            factor = self.lr_factor(0)
            tr.state.lr_g *= factor
            tr.state.lr_d *= factor
        self.apply()
        self._stage_ended = False

    # -- the schedule
    @property
    def images_seen(self) -> int:
        return int(self.tr.G.images_seen)

    def lr_factor(self, stage: int) -> float:
        return self.lr_table.get(self.tr.G.resolutions[stage], 1.0)

    def batch_size(self) -> int:
        """Real images the next step takes: --batch-size times the stage's factor (at least 1),
        times --n-critic."""
        return self.batch_at(self.images_seen)

    def batch_at(self, images: int) -> int:
        """Real images a step takes after ``images`` real images (the batch of that stage)."""
        stage, _ = self.schedule.at(images)
        factor = self.batch_table.get(self.schedule.sizes[stage], 1.0)
        return max(1, round(self.base_batch * factor)) * self.n_critic

    def apply(self) -> None:
        """Set every network's stage and alpha from ``images_seen``; at a stage change, scale the
        learning rates from the old stage's factor to the new one's (remedies' changes stay)."""
        tr = self.tr
        old = tr.G.stage_index
        stage, alpha = self.schedule.at(self.images_seen)
        for net in (tr.G, tr.D, tr.G_ema):
            if net is not None:
                net.set_stage(stage, alpha)
        if stage != old:
            self._stage_ended = True
            ratio = self.lr_factor(stage) / self.lr_factor(old)
            tr.state.lr_g *= ratio
            tr.state.lr_d *= ratio
            if self.cfg.grow.reset_adam:  # (--stage-reset-adam) each step then starts the moments anew
                for opt in (tr.opt_g, tr.opt_d):
                    opt.state.clear()

    def advance(self, n: int) -> None:
        """After a step of ``n`` real images per D update."""
        tr = self.tr
        tr.G.images_seen += n * self.n_critic  # every real image of the step (n per D update)
        if tr.G_ema is not None:
            tr.G_ema.images_seen.copy_(tr.G.images_seen)
        self.apply()

    # -- what the trainer and the loop ask
    def ema_images(self, step: int, n: int) -> int:
        """G_ema's ramp counts the images since the newest block began to fade in: at each stage
        change G_ema follows G closely again, so a new block is not averaged with its random start
        for a whole half-life."""
        seen = self.images_seen
        stage = self.tr.G.stage_index
        return seen - self.schedule.fade_start(stage) if stage >= 1 else seen

    def blend_reals(self, real: torch.Tensor) -> torch.Tensor:
        G = self.tr.G
        return blend_reals(real, G.stage_size, float(G.alpha)) if G.fading else real

    def sampler(self, n: int, batch_size: int, seed: int, device: torch.device) -> StagedSampler:
        return StagedSampler(n, self.batch_at, lambda: self.images_seen, seed, device)

    def tag(self) -> str:
        """What the samples show now: ``8x8``; ``16x16-fade40`` at alpha 0.4; at alpha 0 the
        previous stage's size, which is exactly what G draws then."""
        G = self.tr.G
        stage, alpha = G.stage_index, float(G.alpha)
        if stage > 0 and alpha == 0.0:
            stage, alpha = stage - 1, 1.0
        res = G.resolutions[stage]
        return f"{res}x{res}" + (f"-fade{int(alpha * 100):02d}" if alpha < 1.0 else "")

    def take_stage_end(self) -> bool:
        """True once after each stage change (the loop saves a grid of the finished stage)."""
        ended, self._stage_ended = self._stage_ended, False
        return ended

    def shape_states(self) -> Iterator[str]:
        """Every stage, stable and (past the first) mid-fade: each computes on other shapes."""
        sched = self.schedule
        for stage in range(len(sched.sizes)):
            points = [("fade", sched.fade_start(stage) + sched.fade // 2)] if stage else []
            points.append(("stable", sched.fade_start(stage) + sched.fade if stage else 0))
            for phase, images in points:
                self.tr.G.images_seen.fill_(images)
                self.apply()
                yield f"{sched.sizes[stage]}x{sched.sizes[stage]} {phase}"

    def log_fields(self) -> dict:
        G = self.tr.G
        return {"stage": G.stage_size, "alpha": round(float(G.alpha), 4), "kimg": round(self.images_seen / 1000, 3)}
