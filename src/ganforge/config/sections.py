"""The generic sections of a run's configuration: data, model, loss, optimizers, training and
tricks. Each field names its flag and help (:func:`~ganforge.config.fields.opt`); the model
families' own sections live beside this file (:mod:`.progan`, :mod:`.stylegan2`)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from .fields import INT64, opt

# need(ok, section, field, message): raise a ConfigError naming the field (its flag, or where its
# value came from) unless ok; label(dotted field) is that name, for messages of their own
Need = Callable[[bool, str, str, str], None]
Label = Callable[[str], str]
MAX_WIDTH = 65_536  # latent size, base widths, mini-batch kernels
MAX_FIXED = 4_096  # images in the fixed-noise grid
# The generic D options: layers in the DCGAN style that an architecture with a D of its own
# (the arch spec's own_d) cannot take.
GENERIC_D_OPTIONS = ("minibatch_disc", "d_dropout", "spectral_norm")

AUGMENT_OPS = ("translation", "cutout", "color")


@dataclass
class DataConfig:
    """Where the training images come from and how they are shaped."""

    source: str = opt("fashion-mnist", "--data", "dataset name, image folder or .npy/.npz file")
    data_dir: str | None = opt(None, "--data-dir", "folder holding a named dataset's files")
    size: int | None = opt(None, "--size", "square side in pixels; None: the model's native size, else the data's")
    fit: str = opt("auto", "--fit", "how data of another size becomes --size: auto (pad square data a few pixels "
                   "smaller, a margin of at most size/16 a side, e.g. 28 -> 32, with its background; resize "
                   "the rest), pad or resize (antialiased bilinear)")
    channels: int | None = opt(None, "--channels", "1 (grey) or 3 (RGB); None: keep the data's")
    class_name: str | None = opt(None, "--class", "keep only this class, by name or id")
    split: str = opt("train", "--split", "train or test")
    limit: int | None = opt(None, "--limit", "keep at most this many images, the first ones")
    load: str = opt("auto", "--data-load", "prepared set: memory (read once), stream (DataLoader workers read each "
                    "batch from disk) or auto (memory up to 2 GiB of pixels)")
    workers: int = opt(2, "--data-workers", "DataLoader worker processes reading a streamed prepared set")

    def check(self, cfg, need: Need, label: Label) -> None:
        d = self
        need(d.size is None or 4 <= d.size <= 1024, "data", "size", "must be between 4 and 1024")
        need(d.channels in (None, 1, 3), "data", "channels", "must be 1 or 3")
        need(d.fit in ("auto", "pad", "resize"), "data", "fit", "must be auto, pad or resize")
        need(d.split in ("train", "test"), "data", "split", "must be train or test")
        need(d.limit is None or d.limit > 0, "data", "limit", "must be positive")
        need(d.load in ("auto", "memory", "stream"), "data", "load", "must be auto, memory or stream")
        need(0 <= d.workers <= 64, "data", "workers", "must be between 0 and 64")


@dataclass
class ModelConfig:
    """Which generator/discriminator pair to build, and its width knobs."""

    arch: str = opt("dcgan", "--arch", "architecture name from ganforge.models.ARCHS")
    z_dim: int = opt(100, "--z-dim", "latent size")
    g_channels: int = opt(64, "--g-channels", "generator base width of the DCGAN", archs=("dcgan",))
    d_channels: int = opt(64, "--d-channels", "discriminator base width of the DCGAN", archs=("dcgan",))
    d_dropout: float | None = opt(None, "--d-dropout", "dropout rate in D; None: the architecture's own")
    init: str = opt("keras", "--init", "weight init: keras (glorot-uniform, zero bias), dcgan (N(0, 0.02)) or torch")
    conditional: bool = opt(False, "--conditional", "class-conditional G and D, trained on the data's labels")
    spectral_norm: bool = opt(False, "--spectral-norm", "spectral normalisation of every D conv/linear weight")
    minibatch_stddev: bool = opt(False, "--minibatch-stddev", "D gets a mini-batch standard-deviation feature map")
    minibatch_disc: int = opt(0, "--minibatch-disc", "mini-batch discrimination kernels in D (Salimans et al.); 0: off")
    num_classes: int = opt(0, "--num-classes", "classes of a conditional model; filled in from the data")
    w_dim: int = opt(512, "--w-dim", "StyleGAN2: size of the intermediate latent w", archs=("stylegan2",))
    mapping_layers: int = opt(8, "--mapping-layers", "StyleGAN2: fully connected layers of the mapping network",
                              archs=("stylegan2",))
    channel_base: int = opt(32768, "--channel-base", "ProGAN/StyleGAN2 widths: the channels at resolution r are "
                            "min(channel_base // r, channel_max)", archs=("progan", "stylegan2"))
    channel_max: int = opt(512, "--channel-max", "ProGAN/StyleGAN2 widths: the most channels of any layer",
                           archs=("progan", "stylegan2"))
    mbstd_group: int = opt(4, "--mbstd-group", "ProGAN/StyleGAN2: images per mini-batch standard-deviation group "
                           "in D", archs=("progan", "stylegan2"))
    d_architecture: str = opt("resnet", "--d-architecture", "StyleGAN2's D: resnet (residual skips) or orig (none, "
                              "the official 'cifar' set-up)", archs=("stylegan2",))
    conv_clamp: float = opt(256.0, "--conv-clamp", "StyleGAN2: clamp every conv's activations to +-X (the official "
                            "configurations' 256); 0: no clamp", archs=("stylegan2",))
    lowp_res: int = opt(4, "--lowp-res", "StyleGAN2 under bf16: only the N highest resolutions run in bf16 (the "
                        "mapping, styles, demodulation and the rest in fp32); 0: all fp32", archs=("stylegan2",))

    def check(self, cfg, need: Need, label: Label) -> None:
        m = self
        # Upper limits far beyond any model that fits in memory: past them a run fails allocating.
        need(0 < m.z_dim <= MAX_WIDTH, "model", "z_dim", f"must be between 1 and {MAX_WIDTH}")
        need(0 < m.g_channels <= MAX_WIDTH, "model", "g_channels", f"must be between 1 and {MAX_WIDTH}")
        need(0 < m.d_channels <= MAX_WIDTH, "model", "d_channels", f"must be between 1 and {MAX_WIDTH}")
        need(m.d_dropout is None or 0 <= m.d_dropout < 1, "model", "d_dropout", "must be in [0, 1)")
        need(m.init in ("keras", "dcgan", "torch"), "model", "init", "must be keras, dcgan or torch")
        need(m.num_classes >= 0, "model", "num_classes", "must be >= 0")
        need(0 <= m.minibatch_disc <= MAX_WIDTH, "model", "minibatch_disc", f"must be between 0 and {MAX_WIDTH}")
        need(1 <= m.w_dim <= 4096, "model", "w_dim", "must be between 1 and 4096")
        need(1 <= m.mapping_layers <= 16, "model", "mapping_layers", "must be between 1 and 16")
        need(1 <= m.channel_base <= 2**24, "model", "channel_base", f"must be between 1 and {2**24}")
        need(1 <= m.channel_max <= MAX_WIDTH, "model", "channel_max", f"must be between 1 and {MAX_WIDTH}")
        need(1 <= m.mbstd_group <= 1024, "model", "mbstd_group", "must be between 1 and 1024")
        need(m.d_architecture in ("resnet", "orig"), "model", "d_architecture", "must be resnet or orig")
        need(m.conv_clamp >= 0, "model", "conv_clamp", "must be >= 0 (0: no clamp)")
        need(0 <= m.lowp_res <= 10, "model", "lowp_res", "must be between 0 and 10")


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

    def check(self, cfg, need: Need, label: Label) -> None:
        lo = self
        need(lo.gp_weight >= 0, "loss", "gp_weight", "must be >= 0")
        need(lo.wgan_clip > 0, "loss", "wgan_clip", "must be positive")
        need(lo.r1_gamma >= 0, "loss", "r1_gamma", "must be >= 0")
        need(lo.r1_every >= 1, "loss", "r1_every", "must be >= 1")
        need(lo.drift >= 0, "loss", "drift", "must be >= 0")
        need(0 <= lo.label_smoothing < 0.5, "loss", "label_smoothing", "must be in [0, 0.5)")
        need(0 <= lo.label_noise < 0.5, "loss", "label_noise", "must be in [0, 0.5)")


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
    lazy_correction: bool = opt(True, "--lazy-correction", "a network whose regulariser runs as its own step every k "
                                "steps (lazy R1, path length) gets its lr scaled by k/(k+1) and its Adam betas "
                                "raised to that power (Karras et al. 2020, appendix B)")

    def check(self, cfg, need: Need, label: Label) -> None:
        o = self
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

    def check(self, cfg, need: Need, label: Label) -> None:
        t = self
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
        need(10 <= t.dist_timeout <= 86400, "train", "dist_timeout", "must be between 10 and 86400 seconds")
        if t.cuda_graphs:  # a captured step freezes Python values; these would change every step
            o, k, lo = cfg.optim, cfg.tricks, cfg.loss
            for on, flag in ((t.compile, "--compile"), (o.decay > 0, "--lr-decay"),
                             (k.instance_noise > 0, "--instance-noise"), (k.ada_target > 0, "--ada-target"),
                             (k.replay_size > 0, "--replay-size"), (lo.r1_gamma > 0 and lo.r1_every > 1, "--r1-every > 1")):
                need(not on, "train", "cuda_graphs", f"cannot be combined with {flag} (see ganforge.train.cuda_graphs)")
            need(_cuda_device(t.device), "train", "cuda_graphs",
                 f"needs CUDA (--device {t.device} is not a CUDA device here)")


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

    def check(self, cfg, need: Need, label: Label) -> None:
        k = self
        need(k.n_critic >= 1, "tricks", "n_critic", "must be >= 1")
        need(k.n_critic == 1 or cfg.train.step == "alternating", "tricks", "n_critic",
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


def _cuda_device(name: str) -> bool:
    """Whether --device NAME means a CUDA device (``auto``: whether this machine has one)."""
    if name == "auto":
        import torch  # only when asked: config itself needs no torch

        return torch.cuda.is_available()
    return name.startswith("cuda")
