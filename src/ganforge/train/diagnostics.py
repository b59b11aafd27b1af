"""Training diagnostics: watch the logged values and say, in plain words, when a run goes wrong.

:class:`Diagnostics` is fed one log record at a time (the dict written to ``log.jsonl``) and
returns :class:`Finding` s. Each finding names a kind, explains what it saw, suggests a fix
and carries a machine-readable ``remedy`` that the loop may apply (``--auto-remedy``).

Kinds:

* ``d_too_strong`` - seed 001's rule (Chollet): "if your adversarial loss rises dramatically
  while your discriminator loss falls to zero, try reducing the learning rate of the
  discriminator and increasing the dropout of the discriminator".
* ``mode_collapse`` - the fixed-noise samples became much more alike than real images are.
* ``d_too_weak`` - from the start D rates real and fake images alike (both near 0.5).
* ``nan`` - a loss is NaN or infinite: training diverged.

Remedy keys (all optional; the loop ignores what it cannot do):
``lr_d_factor`` (multiply D's learning rate), ``lr_factor`` (multiply both learning rates),
``d_dropout_add`` (add to D's dropout rates), ``replay_size`` / ``replay_ratio`` (turn on
experience replay with these settings), ``rollback`` (first restore the last good checkpoint).

Each kind fires once per episode: it re-arms only after its condition has been absent for a
while, so a persisting problem is reported once, not at every log line.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

from ..losses import LOSSES

KINDS = ("d_too_strong", "mode_collapse", "d_too_weak", "nan")


@dataclass
class Finding:
    """One diagnosis: what kind, at which step, what was seen, what to do, and how to do it."""

    kind: str
    step: int
    message: str
    suggestion: str
    remedy: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """One line for the console: ``step N: message Try: suggestion``."""
        return f"step {self.step}: {self.message} Try: {self.suggestion}"


def batch_diversity(images: torch.Tensor) -> float:
    """How different the images of a batch are from each other: the mean over pairs of the L2
    distance between two images, divided by ``sqrt(C*H*W)`` (so a per-pixel RMS difference in
    [0, 1], comparable across image sizes).

    images: uint8 (N, C, H, W), N >= 2. Compare a fixed-noise batch with a real batch of the
    same size: a collapsed G scores far below the data.
    """
    if images.dim() != 4 or images.shape[0] < 2:
        raise ValueError(f"batch_diversity expects uint8 images (N >= 2, C, H, W), got {tuple(images.shape)}")
    x = images.detach().float().reshape(images.shape[0], -1) / 255.0
    return float(torch.pdist(x).mean() / math.sqrt(x.shape[1]))


def _binary_entropy(p: float) -> float:
    return 0.0 if p <= 0 or p >= 1 else -(p * math.log(p) + (1 - p) * math.log(1 - p))


def _finite(v: Any) -> bool:
    return v is not None and math.isfinite(float(v))


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


class Diagnostics:
    """Rules over the log records of one run; see the module docstring for the kinds.

    loss: the run's ``--loss``. ``d_too_strong`` is off for WGAN (its D loss is not bounded
        below), ``d_too_weak`` needs D's output to be a probability (``LossSpec.bounded_logits``).
    label_smoothing: the run's one-sided smoothing; a smoothed cross-entropy cannot fall below
        the entropy of its targets, so that is added to ``d_loss_floor``.
    window: log records over which ``d_too_strong`` compares G's loss (first third vs last third).
    d_loss_floor: D's loss (mean of the window's last third) counts as "fallen to zero" below this.
    g_rise: G's loss counts as "risen substantially" when the last third's mean exceeds the
        first third's by this fraction of ``max(|first|, 0.25)`` (0.5: by half).
    collapse_ratio: ``mode_collapse`` when the fixed batch's diversity is below this fraction
        of the real data's (records with ``fixed_diversity`` and ``real_diversity``)...
    collapse_patience: ...on this many such records in a row...
    collapse_warmup_steps: ...at or after this step (a freshly initialised G may make
        near-identical images before it has learnt anything).
    weak_band: D's mean outputs count as "near 0.5" within this distance.
    weak_records: ``d_too_weak`` after this many records in the band since the first one...
    weak_min_steps: ...once the run is at least this many steps old (D needs some steps).
    rearm_records: records without its condition before ``d_too_strong``/``d_too_weak`` may
        fire again (``mode_collapse``: diversity records; ``nan``: one finite record).
    replay_size: the experience-replay size the ``mode_collapse`` remedy turns on.
    """

    def __init__(self, *, loss: str = "nonsaturating", label_smoothing: float = 0.0, window: int = 10,
                 d_loss_floor: float = 0.05, g_rise: float = 0.5, collapse_ratio: float = 0.5,
                 collapse_patience: int = 2, collapse_warmup_steps: int = 500, weak_band: float = 0.05,
                 weak_records: int = 20, weak_min_steps: int = 200, rearm_records: int = 10,
                 replay_size: int = 2000):
        if loss not in LOSSES:
            raise ValueError(f"Diagnostics: unknown loss {loss!r} (known: {', '.join(LOSSES)})")
        if window < 3:
            raise ValueError(f"Diagnostics: window must be >= 3 records, got {window}")
        self.loss = loss
        spec = LOSSES[loss]
        self.window, self.g_rise = window, g_rise
        self.d_loss_floor = d_loss_floor + (_binary_entropy(1 - label_smoothing) if spec.cross_entropy else 0.0)
        self.collapse_ratio, self.collapse_patience = collapse_ratio, collapse_patience
        self.collapse_warmup_steps = collapse_warmup_steps
        self.weak_band, self.weak_records, self.weak_min_steps = weak_band, weak_records, weak_min_steps
        self.replay_size = replay_size
        self.check_strong = not spec.critic
        self.check_weak = spec.bounded_logits
        self.rearm = {"d_too_strong": rearm_records, "d_too_weak": rearm_records, "mode_collapse": collapse_patience + 1,
                      "nan": 1}
        self.history: deque[tuple[float, float]] = deque(maxlen=window)  # (d_loss, g_loss) of finite records
        self.active = {k: False for k in KINDS}
        self.absent = {k: 0 for k in KINDS}
        self.weak_run = 0  # records in the 0.5 band since the start
        self.separated = False  # D has left the band at least once
        self.collapse_run = 0  # diversity records in a row below the ratio

    # -- the rules. Each but _nan returns (condition, finding): condition True (found), False (absent)
    # or None (this record cannot tell, e.g. it has no diversity values).
    def _nan(self, r: dict[str, Any]) -> Finding | None:
        bad = [k for k in ("d_loss", "g_loss") if k in r and not _finite(r[k])]
        if not bad:
            return None
        which = " and ".join(k.split("_")[0].upper() for k in bad)
        return Finding("nan", r["step"], f"the {which} loss became {r[bad[0]]} - training diverged.",
                       "go back to the last good checkpoint and continue with both learning rates halved "
                       "(--lr-g, --lr-d); with bf16 try --precision fp32.",
                       {"rollback": True, "lr_factor": 0.5})

    def _too_strong(self, r: dict[str, Any]) -> tuple[bool | None, Finding | None]:
        if not self.check_strong or len(self.history) < self.window:
            return None, None
        k = max(1, self.window // 3)
        d = [h[0] for h in self.history]
        g = [h[1] for h in self.history]
        d_end, g_start, g_end = _mean(d[-k:]), _mean(g[:k]), _mean(g[-k:])
        cond = d_end < self.d_loss_floor and g_end - g_start > self.g_rise * max(abs(g_start), 0.25)
        if not cond:
            return False, None
        return True, Finding(
            "d_too_strong", r["step"],
            f"D is overpowering G: D's loss fell to {d_end:.3f} while G's loss rose from {g_start:.2f} "
            f"to {g_end:.2f} over the last {self.window} log records, so G gets little useful signal.",
            "lower D's learning rate (--lr-d, e.g. halve it) and raise its dropout (--d-dropout, e.g. +0.1), "
            "as Chollet advises (seed 001).",
            {"lr_d_factor": 0.5, "d_dropout_add": 0.1})

    def _collapse(self, r: dict[str, Any]) -> tuple[bool | None, Finding | None]:
        fixed, real = r.get("fixed_diversity"), r.get("real_diversity")
        if not (_finite(fixed) and _finite(real)) or real <= 0 or r["step"] < self.collapse_warmup_steps:
            return None, None
        if fixed >= self.collapse_ratio * real:
            self.collapse_run = 0
            return False, None
        self.collapse_run += 1
        if self.collapse_run < self.collapse_patience:
            return None, None
        return True, Finding(
            "mode_collapse", r["step"],
            f"the generator may be collapsing: its fixed-noise samples are only {fixed / real:.0%} as "
            f"different from each other as real images are (diversity {fixed:.3f} vs {real:.3f}).",
            f"turn on experience replay (--replay-size {self.replay_size}), mini-batch discrimination "
            "(--minibatch-disc 32) or --minibatch-stddev, or lower both learning rates.",
            {"replay_size": self.replay_size, "replay_ratio": 0.5})

    def _too_weak(self, r: dict[str, Any]) -> tuple[bool | None, Finding | None]:
        if not self.check_weak or self.separated or not (_finite(r.get("d_real")) and _finite(r.get("d_fake"))):
            return None, None
        dr, df = float(r["d_real"]), float(r["d_fake"])
        if abs(dr - 0.5) >= self.weak_band or abs(df - 0.5) >= self.weak_band:
            self.separated = True  # D has learnt something; the start is over
            return False, None
        self.weak_run += 1
        if self.weak_run < self.weak_records or r["step"] < self.weak_min_steps:
            return None, None
        return True, Finding(
            "d_too_weak", r["step"],
            f"D is not learning: for the first {self.weak_run} log records it has rated real and fake "
            f"images alike (D(real) {dr:.2f}, D(fake) {df:.2f}, both near 0.5), so G learns nothing either.",
            "raise D's learning rate (--lr-d, e.g. double it) or lower its dropout (--d-dropout).",
            {"lr_d_factor": 2.0})

    # -- the public interface
    def _episode(self, kind: str, cond: bool | None, finding: Finding | None) -> list[Finding]:
        if cond is None:
            return []
        if cond:
            self.absent[kind] = 0
            if not self.active[kind]:
                self.active[kind] = True
                return [finding]
            return []
        self.absent[kind] += 1
        if self.absent[kind] >= self.rearm[kind]:
            self.active[kind] = False
        return []

    def observe(self, record: dict[str, Any]) -> list[Finding]:
        """Take one log record (``step``, ``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, and
        optionally ``fixed_diversity``/``real_diversity``); return the findings it triggers."""
        nan = self._nan(record)
        found = self._episode("nan", nan is not None, nan)
        if nan is not None:
            return found  # a diverged record says nothing about the other rules
        if _finite(record.get("d_loss")) and _finite(record.get("g_loss")):
            self.history.append((float(record["d_loss"]), float(record["g_loss"])))
        for kind, rule in (("d_too_strong", self._too_strong), ("mode_collapse", self._collapse),
                           ("d_too_weak", self._too_weak)):
            found += self._episode(kind, *rule(record))
        return found

    def reset(self) -> None:
        """Forget the loss window (after a rollback or a remedy the old values no longer apply)."""
        self.history.clear()
        self.collapse_run = 0

    def state_dict(self) -> dict[str, Any]:
        return {"history": [list(h) for h in self.history], "active": dict(self.active), "absent": dict(self.absent),
                "weak_run": self.weak_run, "separated": self.separated, "collapse_run": self.collapse_run}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history.clear()
        self.history.extend((float(d), float(g)) for d, g in state["history"])
        self.active.update({k: bool(v) for k, v in state["active"].items()})
        self.absent.update({k: int(v) for k, v in state["absent"].items()})
        self.weak_run, self.separated = int(state["weak_run"]), bool(state["separated"])
        self.collapse_run = int(state["collapse_run"])
