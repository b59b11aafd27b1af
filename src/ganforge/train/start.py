"""Runs that start from weights made elsewhere (``ganforge import``): a run folder at step 0 whose
checkpoint holds those weights, fresh optimizers and the data order of a new run, so that every
tool reads it as any run and ``train --resume`` trains it on (fine-tuning)."""
from __future__ import annotations

from pathlib import Path
import torch

from ..checkpoint import save_checkpoint
from ..config import RunConfig, validate
from ..generator import latents, load_weights
from ..runs.layout import CHECKPOINT_NAME
from ..runs.monitor import CONFIG_NAME, save_run_config
from .builder import build_trainer
from .loop import checkpoint_record, seed_everything


def write_run_from_weights(cfg: RunConfig, run_dir: str | Path, *, G_ema: dict[str, torch.Tensor],
                           G: dict[str, torch.Tensor] | None = None, D: dict[str, torch.Tensor] | None = None,
                           class_names: list[str] | None = None, origin: str = "") -> Path:
    """``run_dir/config.json`` and ``checkpoint.pt`` of a run at step 0 of ``cfg`` (its data's size
    and channels set) whose G_ema, G and D hold these state dicts. Without G, G starts from G_ema;
    without D the run's generator serves every tool, but the run cannot be trained on (its
    checkpoint says so: ``imported.has_D``). Returns the checkpoint's path."""
    validate(cfg)
    run_dir = Path(run_dir)
    seed_everything(cfg.train.seed)
    tr = build_trainer(cfg, int(cfg.data.channels), int(cfg.data.size), torch.device("cpu"))
    where = origin or str(run_dir)
    load_weights(tr.G, G if G is not None else G_ema, where, "G", "network")
    if tr.G_ema is not None:
        load_weights(tr.G_ema, G_ema, where, "G_ema", "network")
    if D is not None:
        load_weights(tr.D, D, where, "D", "network")
    state = checkpoint_record(tr, cfg, epoch=0, pos=0, fixed_z=latents(cfg.train.n_fixed, cfg.model.z_dim, cfg.train.seed),
                              elapsed_s=0.0, img_shape=(int(cfg.data.channels), int(cfg.data.size)),
                              class_names=class_names, best_fd=float("inf"), data_fingerprint=None)
    state["imported"] = {"from": origin, "has_G": G is not None, "has_D": D is not None}
    run_dir.mkdir(parents=True, exist_ok=True)
    save_run_config(cfg, {**tr.state.to_dict(), **tr.dist.describe()}, run_dir / CONFIG_NAME)
    return save_checkpoint(state, run_dir / CHECKPOINT_NAME)
