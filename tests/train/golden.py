"""Golden values of training: what 3 steps compute for every preset and every trick the tests cover.

Each case trains 3 steps on CPU, fp32, seed 0, from fixed synthetic images and records the losses
of each step and a SHA-256 of G's, D's (and G_ema's) weights. ``test_golden.py`` recomputes them
and compares: bit for bit on the machine the file was written on (same CPU model, torch version),
to a tight tolerance elsewhere, since another CPU's kernels may round differently.

Refresh the file only when a change is *meant* to change what is computed, and say so in the
commit: ``python tests/train/golden.py --write`` (or ``--add`` for new cases only).
"""
from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import torch

from ganforge.config import RunConfig, set_field
from ganforge.presets import PRESETS, get_preset

GOLDEN_PATH = Path(__file__).with_name("golden.json")
STEPS = 3

# (name, preset, field overrides). Preset cases keep the preset's model and batch size; the rest
# use a narrow dcgan so that the trick, not the model, is what the values pin down.
SMALL = {"model.g_channels": 8, "model.d_channels": 8, "train.batch_size": 8}
CASES: list[tuple[str, str, dict]] = [(f"preset:{name}", name, {}) for name, info in PRESETS.items()
                                      if info.seed != "official"]  # (GPU-sized: narrowed below)
CASES += [(f"preset:{name}-narrow", name, {"model.channel_base": 256, "model.channel_max": 8, "model.z_dim": 16,
                                           "model.w_dim": 16, "model.mapping_layers": 2, "train.batch_size": 8})
          for name, info in PRESETS.items()  # (config F, at 1024 px, costs a minute and a half for no new layer)
          if info.seed == "official" and get_preset(name).data.size <= 256]
CASES += [(f"loss:{loss}", "dcgan", {**SMALL, "loss.loss": loss})
          for loss in ("nonsaturating", "minimax", "wgan", "wgan-gp", "hinge", "lsgan", "ragan")]
CASES += [(name, "dcgan", {**SMALL, **fields}) for name, fields in [
    ("r1-lazy", {"loss.r1_gamma": 10.0, "loss.r1_every": 2}),
    ("r1-joint", {"loss.r1_gamma": 1.0, "loss.r1_every": 1, "train.step": "joint"}),
    ("wgan-gp-joint", {"loss.loss": "wgan-gp", "train.step": "joint"}),
    ("label-noise", {"loss.label_noise": 0.1}),
    ("label-smoothing", {"loss.label_smoothing": 0.1}),
    ("clip-grads", {"optim.clip_d": 0.01, "optim.clip_g": 0.01}),
    ("lr-decay-rmsprop", {"optim.optimizer": "rmsprop", "optim.decay": 0.5}),
    ("n-critic", {"tricks.n_critic": 2}),
    ("replay", {"tricks.replay_size": 16, "tricks.replay_ratio": 0.5}),
    ("instance-noise", {"tricks.instance_noise": 0.2, "tricks.instance_noise_steps": 2}),
    ("diffaugment", {"tricks.augment": "translation,cutout,color", "tricks.augment_p": 0.7}),
    ("ada", {"tricks.ada_target": 0.6}),
    ("ema", {"tricks.ema_kimg": 0.01}),
    ("spectral-norm", {"model.spectral_norm": True}),
    ("minibatch-stddev", {"model.minibatch_stddev": True}),
    ("minibatch-disc", {"model.minibatch_disc": 4}),
    ("conditional", {"model.conditional": True}),
    ("conditional-joint", {"model.conditional": True, "train.step": "joint"}),
    ("reuse-fake", {"train.reuse_fake": True}),
    ("joint", {"train.step": "joint"}),
    ("d-dropout", {"model.d_dropout": 0.3}),
    ("d-dropout-plain", {"model.d_dropout": 0.3, "train.fast_dropout": False}),
    ("channels-last", {"train.channels_last": True}),
]]
CASES += [
    ("tf-tutorial-unmirrored", "tf-tutorial", {"train.batch_size": 16, "train.mirror_padding": False}),
    ("geron-dcgan-unmirrored", "geron-dcgan", {"train.batch_size": 16, "train.mirror_padding": False}),
]

NUM_CLASSES = 4


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "isa": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__}


def weights_hash(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def case_config(preset: str, fields: dict) -> RunConfig:
    cfg = get_preset(preset)
    for k, v in {"train.precision": "fp32", "train.device": "cpu", "train.seed": 0, **fields}.items():
        set_field(cfg, k, v)
    return cfg


def images_for(cfg: RunConfig, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed synthetic uint8 images (n, C, H, W) of the preset's native shape, and labels."""
    from ganforge.models import ARCHS

    size = cfg.data.size or ARCHS[cfg.model.arch].native_size or 28  # a preset's own size (progan-64)
    channels = 3 if cfg.model.arch == "chollet-cifar10" or cfg.data.channels == 3 else 1
    g = torch.Generator().manual_seed(1234)
    base = torch.rand(n, channels, size // 4, size // 4, generator=g)
    smooth = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
    return (smooth * 255).round().to(torch.uint8), torch.randint(0, NUM_CLASSES, (n,), generator=g)


def run_case(preset: str, fields: dict) -> dict:
    """Train STEPS steps; the losses of each step and hashes of the weights after them."""
    from golden_adapter import make_trainer  # the one place that knows the trainer's API

    cfg = case_config(preset, fields)
    if cfg.model.conditional:
        cfg.model.num_classes = NUM_CLASSES
    per_step = cfg.train.batch_size * cfg.tricks.n_critic
    images, labels = images_for(cfg, per_step * STEPS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reductions in a fixed order, whatever the core count
    try:
        tr = make_trainer(cfg, images.shape[1], images.shape[2])
        losses = []
        for i in range(STEPS):
            sl = slice(i * per_step, (i + 1) * per_step)
            st = tr.train_step(images[sl], labels[sl] if cfg.model.conditional else None)
            losses.append([float(st.d_loss), float(st.g_loss)])
        out = {"losses": losses, "G": weights_hash(tr.G), "D": weights_hash(tr.D)}
        if tr.G_ema is not None:
            out["G_ema"] = weights_hash(tr.G_ema)
        nets = (tr.G, tr.D) if tr.G_ema is None else (tr.G, tr.D, tr.G_ema)
        # L1 norms of every weight (G_ema's too): what another CPU can compare, closely, not bitwise
        out["norms"] = [float(sum(p.detach().double().abs().sum() for p in m.parameters())) for m in nets]
        return out
    finally:
        torch.set_num_threads(threads)


def compute_all() -> dict:
    return {"machine": machine(), "steps": STEPS,
            "cases": {name: run_case(preset, fields) for name, preset, fields in CASES}}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    if "--write" not in sys.argv and "--add" not in sys.argv:
        sys.exit("usage: python tests/train/golden.py --write   (recomputes every case: overwrites golden.json)\n"
                 "       python tests/train/golden.py --add     (computes only the cases golden.json lacks)")
    if "--add" in sys.argv:
        values = json.loads(GOLDEN_PATH.read_text())
        new = [(name, preset, fields) for name, preset, fields in CASES if name not in values["cases"]]
        values["cases"].update({name: run_case(preset, fields) for name, preset, fields in new})
        print(f"added {len(new)} cases: {', '.join(n for n, _, _ in new) or 'none'}")
    else:
        values = compute_all()
    lines = [f" {json.dumps(name)}: {json.dumps(v)}" for name, v in values["cases"].items()]
    GOLDEN_PATH.write_text(f'{{"machine": {json.dumps(values["machine"])}, "steps": {STEPS}, "cases": {{\n'
                           + ",\n".join(lines) + "\n}}\n")
    print(f"wrote {len(values['cases'])} cases to {GOLDEN_PATH} on {values['machine']}")
