"""Typed run configuration: dataclasses, validation, JSON load/save and dotted overrides.

A run is described completely by one :class:`RunConfig`. The CLI builds it from a preset,
then an optional JSON file, then flags; the resolved result is saved as ``config.json`` in
the run folder and inside every checkpoint, so a generator can be rebuilt from it alone.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .errors import ConfigError
from .growconfig import GrowConfig, parse_stage_table, validate_grow  # noqa: F401  (re-exported)
from .styleconfig import StyleConfig, validate_style  # noqa: F401  (re-exported)
from .configfile import RUN_RECORD_KEYS, read_config_json  # noqa: F401  (re-exported)

AUGMENT_OPS = ("translation", "cutout", "color")


def opt(default: Any, flag: str, help: str) -> Any:
    """A config field with its default, the CLI flag that sets it and its --help text.

    The flag and help live in the field's metadata: ``ganforge train`` builds its flags from
    them and validation errors name the flag, so each is written once, here.
    """
    return field(default=default, metadata={"flag": flag, "help": help})


@dataclass
class DataConfig:
    """Where the training images come from and how they are shaped."""

    source: str = opt("fashion-mnist", "--data", "dataset name, image folder or .npy/.npz file")
    data_dir: str | None = opt(None, "--data-dir", "folder holding a named dataset's files")
    size: int | None = opt(None, "--size", "square side in pixels; None: the model's native size, else the data's")
    channels: int | None = opt(None, "--channels", "1 (grey) or 3 (RGB); None: keep the data's")
    class_name: str | None = opt(None, "--class", "keep only this class, by name or id")
    split: str = opt("train", "--split", "train or test")
    limit: int | None = opt(None, "--limit", "keep at most this many images, the first ones")
    load: str = opt("auto", "--data-load", "prepared set: memory (read once), stream (DataLoader workers read each "
                    "batch from disk) or auto (memory up to 2 GiB of pixels)")
    workers: int = opt(2, "--data-workers", "DataLoader worker processes reading a streamed prepared set")


@dataclass
class ModelConfig:
    """Which generator/discriminator pair to build, and its width knobs."""

    arch: str = opt("dcgan", "--arch", "architecture name from ganforge.models.ARCHS")
    z_dim: int = opt(100, "--z-dim", "latent size")
    g_channels: int = opt(64, "--g-channels", "generator base width, for configurable archs")
    d_channels: int = opt(64, "--d-channels", "discriminator base width, for configurable archs")
    d_dropout: float | None = opt(None, "--d-dropout", "dropout rate in D; None: the architecture's own")
    init: str = opt("keras", "--init", "weight init: keras (glorot-uniform, zero bias), dcgan (N(0, 0.02)) or torch")
    conditional: bool = opt(False, "--conditional", "class-conditional G and D, trained on the data's labels")
    spectral_norm: bool = opt(False, "--spectral-norm", "spectral normalisation of every D conv/linear weight")
    minibatch_stddev: bool = opt(False, "--minibatch-stddev", "D gets a mini-batch standard-deviation feature map")
    minibatch_disc: int = opt(0, "--minibatch-disc", "mini-batch discrimination kernels in D (Salimans et al.); 0: off")
    num_classes: int = opt(0, "--num-classes", "classes of a conditional model; filled in from the data")
    w_dim: int = opt(256, "--w-dim", "StyleGAN: size of the intermediate latent w")
    mapping_layers: int = opt(4, "--mapping-layers", "StyleGAN: fully connected layers of the mapping network")


@dataclass
class LossConfig:
    """Adversarial loss and the label tricks of the seeds."""

    loss: str = opt("nonsaturating", "--loss", "nonsaturating, minimax, wgan, wgan-gp, hinge, lsgan or ragan")
    label_smoothing: float = opt(0.0, "--label-smoothing", "one-sided: real targets become 1 - s")
    label_noise: float = opt(0.0, "--label-noise", "each D target moves toward the other class by a*U[0,1)")
    gp_weight: float = opt(10.0, "--gp-weight", "gradient-penalty weight for --loss wgan-gp")
    wgan_clip: float = opt(0.01, "--wgan-clip", "D weights clipped to [-c, c] after each step for --loss wgan")
    r1_gamma: float = opt(0.0, "--r1-gamma", "R1 penalty weight on real images; 0: off")
    r1_every: int = opt(16, "--r1-every", "lazy R1: apply every k D steps, scaled by k")
    drift: float = opt(0.0, "--drift", "weight of mean D(real)^2 in D's loss (ProGAN's epsilon_drift, 0.001); 0: off")


@dataclass
class OptimConfig:
    """Optimizers for G and D (Keras semantics where the seeds use Keras)."""

    optimizer: str = opt("adam", "--optimizer", "adam or rmsprop")
    lr_g: float = opt(2e-4, "--lr-g", "generator learning rate")
    lr_d: float = opt(2e-4, "--lr-d", "discriminator learning rate")
    beta1: float = opt(0.5, "--beta1", "Adam beta1")
    beta2: float = opt(0.999, "--beta2", "Adam beta2")
    rho: float = opt(0.9, "--rho", "RMSprop decay of the squared-gradient average")
    eps: float = opt(1e-7, "--eps", "optimizer epsilon; 1e-7 is Keras' default")
    decay: float = opt(0.0, "--lr-decay", "Keras 'decay': lr_t = lr / (1 + decay * t)")
    clip_g: float | None = opt(None, "--clip-g", "clip each G gradient element to [-c, c]")
    clip_d: float | None = opt(None, "--clip-d", "clip each D gradient element to [-c, c]")


@dataclass
class TrainConfig:
    """How long, how, and what to write while training."""

    batch_size: int = opt(64, "--batch-size", "images per step, real and fake each")
    steps: int | None = opt(None, "--steps", "stop after this many steps")
    epochs: float | None = opt(None, "--epochs", "stop after this many passes over the data")
    minutes: float | None = opt(None, "--minutes", "stop after this much time, on --clock")
    clock: str = opt("wall", "--clock", "what --minutes counts: wall (elapsed time) or cpu (this process's CPU time, "
                     "all threads: a budget that a busy machine does not shorten)")
    seed: int = opt(0, "--seed", "seeds weights, data order, noise")
    device: str = opt("auto", "--device", "auto, cpu, cuda or cuda:N")
    precision: str = opt("auto", "--precision",
                         "auto (bf16 where it is faster than fp32: CUDA, AMX, AMD AVX512-BF16), fp32 or bf16")
    step: str = opt("alternating", "--step", "alternating (D phase, then G phase) or joint (one G pass, both updates)")
    channels_last: bool = opt(False, "--channels-last", "channels-last memory layout for conv nets")
    compile: bool = opt(False, "--compile", "torch.compile G and D for training (slow start, faster steps)")
    cuda_graphs: bool = opt(False, "--cuda-graphs",
                            "CUDA only: capture the whole training step once as a CUDA graph and replay it "
                            "(no per-kernel launch cost; static shapes, see ganforge.train.cuda_graphs)")
    reuse_fake: bool = opt(False, "--reuse-fake",
                           "alternating step: the G phase reuses the D phase's fakes, one G forward")
    fast_dropout: bool = opt(True, "--fast-dropout",
                             "CPU: dropout masks from 15-bit random lanes, ~4x faster than bernoulli_")
    mirror_padding: bool = opt(True, "--mirror-padding",
                               "TF-'same' convs that pad asymmetrically run on flipped "
                               "images, padding symmetrically: exact, no pad copies")
    n_fixed: int = opt(64, "--n-fixed", "size of the fixed noise batch watched during training")
    sample_every: int = opt(500, "--sample-every", "steps between fixed-noise grids")
    checkpoint_every: int = opt(1000, "--checkpoint-every", "steps between checkpoints")
    log_every: int = opt(50, "--log-every", "steps between log lines in log.jsonl")
    eval_every: int = opt(0, "--eval-every",
                          "steps between metric evaluations (FD, KID, ...), best.pt kept by FD; 0: by "
                          "--eval-minutes")
    eval_minutes: float = opt(5.0, "--eval-minutes",
                              "minutes of training between evaluations where the data has an evaluator "
                              "(fashion-mnist ships one), best.pt kept by FD; 0: off")
    eval_n: int = opt(5_000, "--eval-n", "generated images per evaluation during training")
    diagnose: bool = opt(True, "--diagnose", "watch the logged values and warn when training goes wrong")
    auto_remedy: bool = opt(False, "--auto-remedy", "apply the diagnostics' suggested fixes automatically")
    sync_batchnorm: bool = opt(False, "--sync-batchnorm", "torchrun on CUDA: BatchNorm statistics of the global batch")
    dist_timeout: float = opt(600.0, "--dist-timeout", "torchrun: seconds to wait for the others (and rank 0's evals)")


@dataclass
class TricksConfig:
    """Stabilising tricks of the seeds and beyond, each off by default."""

    n_critic: int = opt(1, "--n-critic", "D steps per G step")
    replay_size: int = opt(0, "--replay-size", "experience replay: old fakes kept for D (seed 004); 0: off")
    replay_ratio: float = opt(0.5, "--replay-ratio", "share of D's fake batch drawn from the replay buffer")
    instance_noise: float = opt(0.0, "--instance-noise", "std of Gaussian noise on D's inputs, annealed to 0")
    instance_noise_steps: int = opt(10_000, "--instance-noise-steps", "steps over which instance noise anneals to 0")
    augment: str = opt("", "--augment", "DiffAugment ops for D's inputs, e.g. translation,cutout,color; \"\": off")
    augment_p: float = opt(1.0, "--augment-p", "probability of each augmentation per image")
    ada_target: float = opt(0.0, "--ada-target", "adaptive augmentation: tune augment_p to keep r_t at this value; 0: off")
    ema_kimg: float = opt(0.0, "--ema-kimg", "G_ema half-life in thousands of images; 0: no G_ema")
    ema_rampup: float = opt(0.0, "--ema-rampup",
                            "G_ema half-life at most this fraction of the images seen so far (e.g. 0.05), "
                            "so a short run's G_ema is not its initial weights; 0: the full half-life "
                            "from the start")


@dataclass
class RunConfig:
    """Everything needed to start, resume or rebuild a run."""

    preset: str = opt("dcgan", "--preset", "the preset this run started from")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tricks: TricksConfig = field(default_factory=TricksConfig)
    grow: GrowConfig = field(default_factory=GrowConfig)
    style: StyleConfig = field(default_factory=StyleConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        cfg = cls()
        apply_dict(cfg, d)
        return cfg

    def save(self, path: str | Path) -> None:
        # strict JSON: validate() refuses non-finite values, so a valid config always saves
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(read_config_json(path))


# RunConfig's sections by attribute name, in order: {"data": DataConfig, "model": ModelConfig, ...}
_SECTION_TYPES = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)
                  if dataclasses.is_dataclass(f.default_factory)}


class FieldDoc(NamedTuple):
    """How a config field appears on the command line."""

    flag: str  # e.g. --lr-d
    help: str  # the --help text

    @classmethod
    def of(cls, f: dataclasses.Field) -> "FieldDoc":
        return cls(f.metadata.get("flag") or "--" + f.name.replace("_", "-"), f.metadata.get("help", ""))


def field_flag(section: str, name: str) -> str:
    """The CLI flag that sets field ``name`` of ``section`` (``"optim", "decay"`` -> ``--lr-decay``)."""
    f = {f.name: f for f in dataclasses.fields(_SECTION_TYPES[section])}[name]
    return FieldDoc.of(f).flag


def field_docs() -> dict[str, FieldDoc]:
    """Dotted field name (``optim.lr_d``) -> its flag and help, for every section field (used by --help)."""
    return {f"{section}.{f.name}": FieldDoc.of(f)
            for section, typ in _SECTION_TYPES.items() for f in dataclasses.fields(typ)}


INT64 = 2**63  # integers are stored in checkpoints as int64
MAX_WIDTH = 65_536  # latent size, base widths, mini-batch kernels
MAX_FIXED = 4_096  # images in the fixed-noise grid


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce(value: Any, current: Any, typ: Any, where: str) -> Any:
    """Convert a JSON/CLI value to the field's declared type, strictly: JSON booleans are not
    numbers, numbers are not text, integers fit in int64 and floats are finite."""
    t = str(typ)
    kind = t.split(" ")[0]
    if value is None:
        if "None" in t:
            return None
        raise ConfigError(f"{where}: a value is required")
    if isinstance(value, str) and value.strip().lower() in ("none", "null") and "None" in t:
        return None
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off"):
                    return False
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(value)
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise ValueError(value)
            v = int(value.strip()) if isinstance(value, str) else int(value)
            if abs(v) >= INT64:
                raise ConfigError(f"{where}: {_short(value)} is out of range (integers up to 2**63 - 1)")
            return v
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(value)
            v = float(value.strip()) if isinstance(value, str) else float(value)
            if not math.isfinite(v):
                raise ConfigError(f"{where}: must be a finite number (got {_short(value)})")
            return v
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError(value)
            return value
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where}: cannot read {_short(value)} as {kind}") from None
    return value


def apply_dict(cfg: RunConfig, d: dict[str, Any], where: str | None = None) -> RunConfig:
    """Overwrite fields of ``cfg`` from a nested dict (as in config.json). Unknown keys are errors.

    where: where the dict came from, e.g. ``"--config my.json"``; errors then name it and the
        field (``--config my.json: optim.lr_d: ...``) instead of a flag the user never typed.
    """
    for key, value in d.items():
        if key == "preset":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where + ': ' if where else ''}preset: must be a preset name (got {_short(value)})")
            cfg.preset = value
            continue
        section = getattr(cfg, key, None)
        if not dataclasses.is_dataclass(section) or not isinstance(value, dict):
            raise ConfigError(f"{where + ': ' if where else ''}unknown config section {key!r} "
                              f"(known: preset, {', '.join(_SECTION_TYPES)})")
        for name, v in value.items():
            set_field(cfg, f"{key}.{name}", v, where=f"{where}: {key}.{name}" if where else None)
    return cfg


def set_field(cfg: RunConfig, dotted: str, value: Any, where: str | None = None) -> None:
    """Set one field by its dotted name, e.g. ``set_field(cfg, "optim.lr_d", "1e-4")``.

    where: how errors name the value's origin; default ``--set DOTTED`` for an unknown name and
        the field's flag for a bad value.
    """
    parts = dotted.split(".")
    if len(parts) != 2:
        raise ConfigError(f"{where or '--set ' + dotted}: expected SECTION.FIELD, e.g. optim.lr_d")
    section_name, name = parts
    section = getattr(cfg, section_name, None)
    if not dataclasses.is_dataclass(section):
        raise ConfigError(f"{where or '--set ' + dotted}: unknown section {section_name!r} "
                          f"(known: {', '.join(_SECTION_TYPES)})")
    fields = {f.name: f for f in dataclasses.fields(section)}
    if name not in fields:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{where or '--set ' + dotted}: unknown field {name!r} (known: {known})")
    setattr(section, name, _coerce(value, getattr(section, name), fields[name].type,
                                   where or field_flag(section_name, name)))


# Architectures with the paper's own D, which the generic D options (they wrap DCGAN-style layers)
# cannot change: the options refused for them, and what their D is instead.
OWN_D_ARCHS = {
    "progan": "whose D is the paper's (equalised learning rate, a mini-batch standard-deviation layer)",
    "stylegan2": "whose D is the paper's residual one",
}
GENERIC_D_OPTIONS = ("minibatch_disc", "d_dropout", "spectral_norm")


def own_d_refusals(m: ModelConfig) -> list[tuple[str, str]]:
    """``(field, why)`` for each generic D option ``m`` turns on that its architecture's D cannot
    honour (see ``OWN_D_ARCHS``); empty when there is none."""
    why = OWN_D_ARCHS.get(m.arch)
    if why is None:
        return []
    return [(name, f"not available for --arch {m.arch}, {why}") for name in GENERIC_D_OPTIONS if getattr(m, name)]


def field_label(dotted: str, where: dict[str, str] | None = None) -> str:
    """How an error names field ``dotted``: ``where[dotted]`` (where its value came from, such
    as ``--config my.json: optim.lr_d``) when given, else the field's flag."""
    if where and dotted in where:
        return where[dotted]
    return field_flag(*dotted.split("."))


def validate(cfg: RunConfig, where: dict[str, str] | None = None) -> RunConfig:
    """Check ranges and choices; raise ConfigError naming the flag.

    where: dotted field -> where its value came from (see :func:`field_label`), for errors about
        a value the user did not give by its flag (a config file, ``--set``, a hidden field).
    """

    def need(ok: bool, section: str, name: str, msg: str) -> None:
        if not ok:
            label = field_label(f"{section}.{name}", where)
            raise ConfigError(f"{label}: {msg} (got {getattr(getattr(cfg, section), name)!r})")

    # No setting wants inf or nan, and a run's config.json is strict JSON (no Infinity/NaN tokens).
    for section in _SECTION_TYPES:
        for f in dataclasses.fields(getattr(cfg, section)):
            value = getattr(getattr(cfg, section), f.name)
            need(not isinstance(value, float) or math.isfinite(value), section, f.name, "must be a finite number")

    d, m, lo, o, t = cfg.data, cfg.model, cfg.loss, cfg.optim, cfg.train
    need(d.size is None or 4 <= d.size <= 1024, "data", "size", "must be between 4 and 1024")
    need(d.channels in (None, 1, 3), "data", "channels", "must be 1 or 3")
    need(d.split in ("train", "test"), "data", "split", "must be train or test")
    need(d.limit is None or d.limit > 0, "data", "limit", "must be positive")
    # Upper limits far beyond any model that fits in memory: past them a run fails allocating.
    need(0 < m.z_dim <= MAX_WIDTH, "model", "z_dim", f"must be between 1 and {MAX_WIDTH}")
    need(0 < m.g_channels <= MAX_WIDTH, "model", "g_channels", f"must be between 1 and {MAX_WIDTH}")
    need(0 < m.d_channels <= MAX_WIDTH, "model", "d_channels", f"must be between 1 and {MAX_WIDTH}")
    need(m.d_dropout is None or 0 <= m.d_dropout < 1, "model", "d_dropout", "must be in [0, 1)")
    need(m.init in ("keras", "dcgan", "torch"), "model", "init", "must be keras, dcgan or torch")
    need(m.num_classes >= 0, "model", "num_classes", "must be >= 0")
    need(lo.gp_weight >= 0, "loss", "gp_weight", "must be >= 0")
    need(lo.wgan_clip > 0, "loss", "wgan_clip", "must be positive")
    need(lo.r1_gamma >= 0, "loss", "r1_gamma", "must be >= 0")
    need(lo.r1_every >= 1, "loss", "r1_every", "must be >= 1")
    need(0 <= m.minibatch_disc <= MAX_WIDTH, "model", "minibatch_disc", f"must be between 0 and {MAX_WIDTH}")
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
    need(0 <= k.ema_rampup <= 1, "tricks", "ema_rampup", "must be between 0 and 1")
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
    need(t.clock in ("wall", "cpu"), "train", "clock", "must be wall or cpu")
    need(t.precision in ("auto", "fp32", "bf16"), "train", "precision", "must be auto, fp32 or bf16")
    need(t.step in ("alternating", "joint"), "train", "step", "must be alternating or joint")
    need(not t.reuse_fake or t.step == "alternating", "train", "reuse_fake",
         "applies to --step alternating (the joint step has one G forward already)")
    need(re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", t.device) is not None, "train", "device",
         "must be auto, cpu, cuda or cuda:N")
    need(0 <= t.seed < INT64, "train", "seed", "must be between 0 and 2**63 - 1")
    need(0 < t.n_fixed <= MAX_FIXED, "train", "n_fixed", f"must be between 1 and {MAX_FIXED}")
    need(t.sample_every > 0, "train", "sample_every", "must be positive")
    need(t.checkpoint_every > 0, "train", "checkpoint_every", "must be positive")
    need(t.log_every > 0, "train", "log_every", "must be positive")
    need(t.eval_every >= 0, "train", "eval_every", "must be >= 0")
    need(math.isfinite(t.eval_minutes) and t.eval_minutes >= 0, "train", "eval_minutes", "must be >= 0")
    need(t.eval_n >= 10, "train", "eval_n", "must be at least 10")
    if t.cuda_graphs:  # a captured step freezes Python values; these would change every step
        for on, flag in ((t.compile, "--compile"), (o.decay > 0, "--lr-decay"), (k.instance_noise > 0, "--instance-noise"),
                         (k.ada_target > 0, "--ada-target"), (k.replay_size > 0, "--replay-size"),
                         (lo.r1_gamma > 0 and lo.r1_every > 1, "--r1-every > 1"), (m.arch == "progan", "--arch progan")):
            need(not on, "train", "cuda_graphs", f"cannot be combined with {flag} (see ganforge.train.cuda_graphs)")
        need(_cuda_device(t.device), "train", "cuda_graphs", f"needs CUDA (--device {t.device} is not a CUDA device here)")
    for name, why in own_d_refusals(m):  # (build_models refuses them too; here, before a run folder exists)
        need(False, "model", name, why)
    validate_grow(cfg, need, lambda dotted: field_label(dotted, where))
    validate_style(cfg, need)
    return cfg


def _cuda_device(name: str) -> bool:
    """Whether --device NAME means a CUDA device (``auto``: whether this machine has one)."""
    if name == "auto":
        import torch  # only when asked: config itself needs no torch

        return torch.cuda.is_available()
    return name.startswith("cuda")
