"""Typed run configuration: dataclasses, validation, JSON load/save and dotted overrides.

A run is described completely by one :class:`RunConfig`. The CLI builds it from a preset,
then an optional JSON file, then flags; the resolved result is saved as ``config.json`` in
the run folder and inside every checkpoint, so a generator can be rebuilt from it alone.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

LOSS_NAMES = ("nonsaturating", "minimax", "wgan", "wgan-gp", "hinge", "lsgan", "ragan")
AUGMENT_OPS = ("translation", "cutout", "color")


@dataclass
class DataConfig:
    """Where the training images come from and how they are shaped."""

    source: str = "fashion-mnist"  # dataset name, image folder or .npy/.npz file (--data)
    data_dir: str | None = None  # folder holding a named dataset's files (--data-dir)
    size: int | None = None  # square side in pixels; None: the model's native size, else the data's (--size)
    channels: int | None = None  # 1 (grey) or 3 (RGB); None: keep the data's (--channels)
    class_name: str | None = None  # keep only this class, by name or id (--class)
    split: str = "train"  # train or test (--split)
    limit: int | None = None  # keep at most this many images, the first ones (--limit)


@dataclass
class ModelConfig:
    """Which generator/discriminator pair to build, and its width knobs."""

    arch: str = "dcgan"  # architecture name from ganforge.models.ARCHS (--arch)
    z_dim: int = 100  # latent size (--z-dim)
    g_channels: int = 64  # generator base width, for configurable archs (--g-channels)
    d_channels: int = 64  # discriminator base width, for configurable archs (--d-channels)
    d_dropout: float | None = None  # dropout rate in D; None: the architecture's own (--d-dropout)
    init: str = "keras"  # weight init: keras (glorot-uniform, zero bias), dcgan (N(0, 0.02)) or torch (--init)
    conditional: bool = False  # class-conditional G and D, trained on the data's labels (--conditional)
    spectral_norm: bool = False  # spectral normalisation of every D conv/linear weight (--spectral-norm)
    minibatch_stddev: bool = False  # D gets a mini-batch standard-deviation feature map (--minibatch-stddev)
    minibatch_disc: int = 0  # mini-batch discrimination kernels in D (Salimans et al.); 0: off (--minibatch-disc)
    num_classes: int = 0  # classes of a conditional model; filled in from the data (--num-classes)


@dataclass
class LossConfig:
    """Adversarial loss and the label tricks of the seeds."""

    loss: str = "nonsaturating"  # nonsaturating, minimax, wgan, wgan-gp, hinge, lsgan or ragan (--loss)
    label_smoothing: float = 0.0  # one-sided: real targets become 1 - s (--label-smoothing)
    label_noise: float = 0.0  # each D target moves toward the other class by a*U[0,1) (--label-noise)
    gp_weight: float = 10.0  # gradient-penalty weight for --loss wgan-gp (--gp-weight)
    wgan_clip: float = 0.01  # D weights clipped to [-c, c] after each step for --loss wgan (--wgan-clip)
    r1_gamma: float = 0.0  # R1 penalty weight on real images; 0: off (--r1-gamma)
    r1_every: int = 16  # lazy R1: apply every k D steps, scaled by k (--r1-every)


@dataclass
class OptimConfig:
    """Optimizers for G and D (Keras semantics where the seeds use Keras)."""

    optimizer: str = "adam"  # adam or rmsprop (--optimizer)
    lr_g: float = 2e-4  # generator learning rate (--lr-g)
    lr_d: float = 2e-4  # discriminator learning rate (--lr-d)
    beta1: float = 0.5  # Adam beta1 (--beta1)
    beta2: float = 0.999  # Adam beta2 (--beta2)
    rho: float = 0.9  # RMSprop decay of the squared-gradient average (--rho)
    eps: float = 1e-7  # optimizer epsilon; 1e-7 is Keras' default (--eps)
    decay: float = 0.0  # Keras 'decay': lr_t = lr / (1 + decay * t) (--lr-decay)
    clip_g: float | None = None  # clip each G gradient element to [-c, c] (--clip-g)
    clip_d: float | None = None  # clip each D gradient element to [-c, c] (--clip-d)


@dataclass
class TrainConfig:
    """How long, how, and what to write while training."""

    batch_size: int = 64  # images per step, real and fake each (--batch-size)
    steps: int | None = None  # stop after this many steps (--steps)
    epochs: float | None = None  # stop after this many passes over the data (--epochs)
    minutes: float | None = None  # stop after this much wall-clock time (--minutes)
    seed: int = 0  # seeds weights, data order, noise (--seed)
    device: str = "auto"  # auto, cpu, cuda or cuda:N (--device)
    precision: str = "auto"  # auto (bf16 where it is faster than fp32: CUDA, AMX, AMD AVX512-BF16), fp32 or bf16 (--precision)
    step: str = "alternating"  # alternating (D phase, then G phase) or joint (one G pass, both updates) (--step)
    channels_last: bool = False  # channels-last memory layout for conv nets (--channels-last)
    compile: bool = False  # torch.compile G and D for training (slow start, faster steps) (--compile)
    reuse_fake: bool = False  # alternating step: the G phase reuses the D phase's fakes, one G forward (--reuse-fake)
    fast_dropout: bool = True  # CPU: dropout masks from 15-bit random lanes, ~4x faster than bernoulli_ (--fast-dropout)
    mirror_padding: bool = True  # TF-'same' convs that pad asymmetrically run on flipped images, padding symmetrically: exact, no pad copies (--mirror-padding)
    n_fixed: int = 64  # size of the fixed noise batch watched during training (--n-fixed)
    sample_every: int = 500  # steps between fixed-noise grids (--sample-every)
    checkpoint_every: int = 1000  # steps between checkpoints (--checkpoint-every)
    log_every: int = 50  # steps between log lines in log.jsonl (--log-every)
    eval_every: int = 0  # steps between metric evaluations (FD, KID, ...), best.pt kept by FD; 0: off (--eval-every)
    eval_n: int = 10_000  # generated images per evaluation during training (--eval-n)
    diagnose: bool = True  # watch the logged values and warn when training goes wrong (--diagnose)
    auto_remedy: bool = False  # apply the diagnostics' suggested fixes automatically (--auto-remedy)


@dataclass
class TricksConfig:
    """Stabilising tricks of the seeds and beyond, each off by default."""

    n_critic: int = 1  # D steps per G step (--n-critic)
    replay_size: int = 0  # experience replay: old fakes kept for D (seed 004); 0: off (--replay-size)
    replay_ratio: float = 0.5  # share of D's fake batch drawn from the replay buffer (--replay-ratio)
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, annealed to 0 (--instance-noise)
    instance_noise_steps: int = 10_000  # steps over which instance noise anneals to 0 (--instance-noise-steps)
    augment: str = ""  # DiffAugment ops for D's inputs, e.g. translation,cutout,color; "": off (--augment)
    augment_p: float = 1.0  # probability of each augmentation per image (--augment-p)
    ada_target: float = 0.0  # adaptive augmentation: tune augment_p to keep r_t at this value; 0: off (--ada-target)
    ema_kimg: float = 0.0  # G_ema half-life in thousands of images; 0: no G_ema (--ema-kimg)


@dataclass
class RunConfig:
    """Everything needed to start, resume or rebuild a run."""

    preset: str = "dcgan"  # the preset this run started from (--preset)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        cfg = cls()
        apply_dict(cfg, d)
        return cfg

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(read_config_json(path))


def read_config_json(path: str | Path, flag: str = "--config") -> dict[str, Any]:
    """The JSON object in a config file (a run's config.json); errors name ``flag`` and the file."""
    try:
        d = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{flag}: {path}: no such file") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{flag}: {path}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{flag}: {path}: expected a JSON object like a run's config.json")
    return d


def _flag(section: str, name: str) -> str:
    """The CLI flag a config field is set by, for error messages."""
    special = {("data", "source"): "--data", ("data", "class_name"): "--class", ("optim", "decay"): "--lr-decay"}
    return special.get((section, name), "--" + name.replace("_", "-"))


def _coerce(value: Any, current: Any, typ: Any, where: str) -> Any:
    """Convert a JSON/CLI value to the field's declared type."""
    t = str(typ)
    if value is None:
        if "None" in t:
            return None
        raise ConfigError(f"{where}: a value is required")
    if isinstance(value, str) and value.lower() in ("none", "null") and "None" in t:
        return None
    try:
        if t.startswith("bool"):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if t.startswith("int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if t.startswith("float"):
            return float(value)
        if t.startswith("str"):
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: cannot read {value!r} as {t.split(' ')[0]}") from None
    return value


def apply_dict(cfg: RunConfig, d: dict[str, Any]) -> RunConfig:
    """Overwrite fields of ``cfg`` from a nested dict (as in config.json). Unknown keys are errors."""
    for key, value in d.items():
        if key == "preset":
            cfg.preset = str(value)
            continue
        section = getattr(cfg, key, None)
        if not dataclasses.is_dataclass(section) or not isinstance(value, dict):
            raise ConfigError(f"unknown config section {key!r}")
        for name, v in value.items():
            set_field(cfg, f"{key}.{name}", v)
    return cfg


def set_field(cfg: RunConfig, dotted: str, value: Any) -> None:
    """Set one field by its dotted name, e.g. ``set_field(cfg, "optim.lr_d", "1e-4")``."""
    parts = dotted.split(".")
    if len(parts) != 2:
        raise ConfigError(f"--set {dotted}: expected SECTION.FIELD, e.g. optim.lr_d")
    section_name, name = parts
    section = getattr(cfg, section_name, None)
    if not dataclasses.is_dataclass(section):
        raise ConfigError(f"--set {dotted}: unknown section {section_name!r}")
    fields = {f.name: f for f in dataclasses.fields(section)}
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"--set {dotted}: unknown field {name!r} (known: {known})")
    where = _flag(section_name, name)
    setattr(section, name, _coerce(value, getattr(section, name), fields[name].type, where))


def field_docs() -> dict[str, str]:
    """Dotted field name -> its comment, read from this file (used by --help)."""
    docs: dict[str, str] = {}
    section = None
    for line in Path(__file__).read_text().splitlines():
        s = line.strip()
        if s.startswith("class ") and s.endswith("Config:"):
            section = {"DataConfig": "data", "ModelConfig": "model", "LossConfig": "loss",
                       "OptimConfig": "optim", "TrainConfig": "train", "TricksConfig": "tricks"}.get(s[6:-1])
        elif section and ":" in s and "#" in s and not s.startswith(("#", '"')):
            docs[f"{section}.{s.split(':')[0]}"] = s.split("#", 1)[1].strip()
    return docs


def validate(cfg: RunConfig) -> RunConfig:
    """Check ranges and choices; raise ConfigError naming the flag."""

    def need(ok: bool, section: str, name: str, msg: str) -> None:
        if not ok:
            raise ConfigError(f"{_flag(section, name)}: {msg} (got {getattr(getattr(cfg, section), name)!r})")

    d, m, lo, o, t = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    need(d.size is None or 4 <= d.size <= 1024, "data", "size", "must be between 4 and 1024")
    need(d.channels in (None, 1, 3), "data", "channels", "must be 1 or 3")
    need(d.split in ("train", "test"), "data", "split", "must be train or test")
    need(d.limit is None or d.limit > 0, "data", "limit", "must be positive")
    need(m.z_dim > 0, "model", "z_dim", "must be positive")
    need(m.g_channels > 0, "model", "g_channels", "must be positive")
    need(m.d_channels > 0, "model", "d_channels", "must be positive")
    need(m.d_dropout is None or 0 <= m.d_dropout < 1, "model", "d_dropout", "must be in [0, 1)")
    need(m.init in ("keras", "dcgan", "torch"), "model", "init", "must be keras, dcgan or torch")
    need(m.num_classes >= 0, "model", "num_classes", "must be >= 0")
    need(lo.loss in LOSS_NAMES, "loss", "loss", "must be one of " + ", ".join(LOSS_NAMES))
    need(lo.gp_weight >= 0, "loss", "gp_weight", "must be >= 0")
    need(lo.wgan_clip > 0, "loss", "wgan_clip", "must be positive")
    need(lo.r1_gamma >= 0, "loss", "r1_gamma", "must be >= 0")
    need(lo.r1_every >= 1, "loss", "r1_every", "must be >= 1")
    need(m.minibatch_disc >= 0, "model", "minibatch_disc", "must be >= 0")
    k = cfg.tricks
    need(k.n_critic >= 1, "tricks", "n_critic", "must be >= 1")
    need(k.n_critic == 1 or t.step == "alternating", "tricks", "n_critic",
         "needs --step alternating (the joint step updates D and G once each)")
    need(k.replay_size >= 0, "tricks", "replay_size", "must be >= 0")
    need(0 <= k.replay_ratio <= 1, "tricks", "replay_ratio", "must be in [0, 1]")
    need(k.instance_noise >= 0, "tricks", "instance_noise", "must be >= 0")
    need(k.instance_noise_steps >= 1, "tricks", "instance_noise_steps", "must be >= 1")
    bad = sorted(set(filter(None, k.augment.split(","))) - set(AUGMENT_OPS))
    need(not bad, "tricks", "augment", "unknown ops " + ",".join(bad) + "; known: " + ",".join(AUGMENT_OPS))
    need(0 <= k.augment_p <= 1, "tricks", "augment_p", "must be in [0, 1]")
    need(0 <= k.ada_target < 1, "tricks", "ada_target", "must be in [0, 1)")
    need(k.ema_kimg >= 0, "tricks", "ema_kimg", "must be >= 0")
    need(0 <= lo.label_smoothing < 0.5, "loss", "label_smoothing", "must be in [0, 0.5)")
    need(0 <= lo.label_noise < 0.5, "loss", "label_noise", "must be in [0, 0.5)")
    need(o.optimizer in ("adam", "rmsprop"), "optim", "optimizer", "must be adam or rmsprop")
    need(o.lr_g > 0, "optim", "lr_g", "must be positive")
    need(o.lr_d > 0, "optim", "lr_d", "must be positive")
    need(0 <= o.beta1 < 1, "optim", "beta1", "must be in [0, 1)")
    need(0 <= o.beta2 < 1, "optim", "beta2", "must be in [0, 1)")
    need(0 <= o.rho < 1, "optim", "rho", "must be in [0, 1)")
    need(o.eps > 0, "optim", "eps", "must be positive")
    need(o.decay >= 0, "optim", "decay", "must be >= 0")
    need(o.clip_g is None or o.clip_g > 0, "optim", "clip_g", "must be positive")
    need(o.clip_d is None or o.clip_d > 0, "optim", "clip_d", "must be positive")
    need(t.batch_size > 0, "train", "batch_size", "must be positive")
    need(t.steps is None or t.steps >= 0, "train", "steps", "must be >= 0")
    need(t.epochs is None or t.epochs > 0, "train", "epochs", "must be positive")
    need(t.minutes is None or t.minutes > 0, "train", "minutes", "must be positive")
    need(t.precision in ("auto", "fp32", "bf16"), "train", "precision", "must be auto, fp32 or bf16")
    need(t.step in ("alternating", "joint"), "train", "step", "must be alternating or joint")
    need(not t.reuse_fake or t.step == "alternating", "train", "reuse_fake",
         "applies to --step alternating (the joint step has one G forward already)")
    need(t.device == "auto" or t.device == "cpu" or t.device.startswith("cuda"), "train", "device",
         "must be auto, cpu, cuda or cuda:N")
    need(t.n_fixed > 0, "train", "n_fixed", "must be positive")
    need(t.sample_every > 0, "train", "sample_every", "must be positive")
    need(t.checkpoint_every > 0, "train", "checkpoint_every", "must be positive")
    need(t.log_every > 0, "train", "log_every", "must be positive")
    need(t.eval_every >= 0, "train", "eval_every", "must be >= 0")
    need(t.eval_n >= 10, "train", "eval_n", "must be at least 10")
    return cfg
