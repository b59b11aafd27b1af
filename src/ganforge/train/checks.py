"""The checks a run passes before anything is written: every setting in range, and the
combination buildable and trainable (:func:`check_run`); on resume, only what may change
changed (:func:`check_resume`). Both raise ConfigError naming the flag, so the CLI and a Python
caller of :func:`ganforge.train` get the same refusals, before a run folder exists."""
from __future__ import annotations

from typing import Any

from ..config import RunConfig, field_flag, field_label, validate
from ..data import is_data_path, source_name
from ..errors import ConfigError
from ..losses import LOSSES
from ..models import ARCHS, own_d_refusals
from .families import family_class

# On resume, only these may change: they do not alter what is computed, beyond rounding (the
# precision: a speed choice, so a run that bf16 cannot continue on a machine continues in fp32).
RESUME_OK_ORDER = ("train.steps", "train.epochs", "train.minutes", "train.clock", "train.device", "train.precision",
                   "train.sample_every", "train.checkpoint_every", "train.log_every", "train.dist_timeout",
                   "data.load", "data.workers")  # (in the order messages list them)
RESUME_OK = set(RESUME_OK_ORDER)
# ...and these may name the same data in another place: the run checks it holds the same images.
RESUME_SAME_DATA = {"data.source", "data.data_dir"}
# ...and these are resolved from the data when a run starts (None, 0: not given, take the run's).
RESUME_RESOLVED = {"data.size", "data.channels", "model.num_classes"}


def check_run(cfg: RunConfig, where: dict[str, str] | None = None) -> RunConfig:
    """:func:`~ganforge.config.validate` plus what only the registries know: the architecture and
    loss exist, the combination can be built, and the architecture and its family can honour every
    setting. Raises ConfigError naming the flag, or where the value came from (``where``: dotted
    field -> a label such as ``--config FILE: loss.loss``)."""
    validate(cfg, where)

    def label(dotted: str) -> str:
        return field_label(dotted, where)

    if cfg.loss.loss not in LOSSES:
        raise ConfigError(f"{label('loss.loss')}: must be one of {', '.join(LOSSES)} (got {cfg.loss.loss!r})")
    spec = ARCHS.get(cfg.model.arch)
    if spec is None:
        raise ConfigError(f"{label('model.arch')}: unknown architecture {cfg.model.arch!r} "
                          f"(known: {', '.join(ARCHS)})")
    if cfg.model.conditional and not spec.conditional:
        can = ", ".join(n for n, s in ARCHS.items() if s.conditional)
        raise ConfigError(f"{label('model.conditional')}: architecture {cfg.model.arch!r} has no "
                          f"class-conditional form (use --arch {can})")
    if cfg.model.conditional and cfg.tricks.replay_size:
        raise ConfigError(f"{label('tricks.replay_size')}: experience replay does not keep class labels; it "
                          f"cannot be used with --conditional")
    for name, why in own_d_refusals(cfg.model):
        raise ConfigError(f"{label('model.' + name)}: {why} (got {getattr(cfg.model, name)!r})")
    if cfg.train.cuda_graphs and not spec.graph_safe:
        raise ConfigError(f"{label('train.cuda_graphs')}: cannot be combined with --arch {spec.name} (its step "
                          f"changes shape as it trains; see ganforge.train.cuda_graphs)")
    for dotted, why in family_class(spec.name).refusals(cfg):
        raise ConfigError(f"{label(dotted)}: {why}")
    if cfg.data.split != "train" and is_data_path(cfg.data.source):
        # (a hidden field: named by where it was set, never by a flag `train` does not have)
        raise ConfigError(f"{(where or {}).get('data.split', 'data.split')}: "
                          f"{cfg.data.source} is a folder or array file, which has one split only "
                          f"(got {cfg.data.split!r}; set data.split to train)")
    return cfg


def check_data(asked: RunConfig, resolved: RunConfig, n_images: int, world_size: int = 1) -> None:
    """The checks that need the data, once it is loaded (still before a run folder exists): the
    architecture makes images of its size, and every step's batch fits in it. ``asked``: the
    config as given (to tell a size the user chose from the data's own); ``resolved``: with the
    data's size and channels filled in."""
    spec = ARCHS[resolved.model.arch]
    size, source = resolved.data.size, resolved.data.source
    if size not in spec.sizes:
        makes = ", ".join(map(str, spec.sizes))
        others = sorted(n for n, s in ARCHS.items() if size in s.sizes)
        elsewhere = f", or --arch {'/'.join(others)}, which make{'s' if len(others) == 1 else ''} {size}x{size}" \
            if others else ""
        if asked.data.size is None:
            near = min(spec.sizes, key=lambda s: (abs(s - size), -s))
            raise ConfigError(f"--data {source}: its images are {size}x{size}, a size --arch {spec.name} does not "
                              f"make ({makes}); add --size {near} to resize them{elsewhere}")
        raise ConfigError(f"--size: --arch {spec.name} makes images of size {makes} only, not {size}{elsewhere}")
    t = resolved.train
    per_step = t.batch_size * resolved.tricks.n_critic
    if per_step * world_size > n_images:
        raise ConfigError(f"--batch-size: {t.batch_size} x --n-critic {resolved.tricks.n_critic} x {world_size} "
                          f"process(es) real images per step, but the data has only {n_images} images")
    for dotted, why in family_class(spec.name).data_refusals(resolved, n_images):
        raise ConfigError(f"{field_flag(*dotted.split('.'))}: {why}")


def _show(value: Any) -> str:
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)


def _may_be_same_data(key: str, stored: str | None, given: str | None) -> bool:
    """Whether --data/--data-dir on resume may name the run's data in another way: any path may
    (training checks that it holds the same images); a dataset name must be the run's dataset."""
    if key == "data.data_dir" or is_data_path(given or ""):
        return True
    return source_name(given) == source_name(stored or "")  # an alias of the run's dataset


def check_resume(stored: RunConfig, given: RunConfig, where: dict[str, str] | None = None) -> None:
    """What a resume accepts: the length, device and output-frequency settings (RESUME_OK); any
    other setting only when it equals the run's; --data/--data-dir naming the same data elsewhere
    (training checks the images). ``stored``: the run's config; ``given``: the one to resume with.
    Raises ConfigError naming every setting that changed (``where``: how to name them)."""
    changed = []
    for section, fields in given.to_dict().items():
        if not isinstance(fields, dict):
            continue
        for name, value in fields.items():
            key, old = f"{section}.{name}", getattr(getattr(stored, section), name)
            if value == old or key in RESUME_OK or (key in RESUME_SAME_DATA and _may_be_same_data(key, old, value)):
                continue
            if key in RESUME_RESOLVED and not value:
                continue
            changed.append((field_label(key, where), _show(old), _show(value)))
    if changed:
        labels, old, new = zip(*changed)
        can = ", ".join(field_flag(*k.split(".")) for k in RESUME_OK_ORDER)
        raise ConfigError(f"{', '.join(labels)}: cannot change on resume (the run has {' and '.join(old)}, given "
                          f"{' and '.join(new)}; only {can} can: start a new run to change the rest)")


def check_imported(imported: Any, run_dir: Any) -> dict[str, Any] | None:
    """On ``--resume``: a run whose networks were imported (``ganforge import``) trains on only
    with the discriminator it came with (a random D would undo G). Returns its record, kept in
    the run's later checkpoints (None for a run trained here from the start)."""
    if not isinstance(imported, dict):
        return None
    origin = imported.get("from") or "another program"
    if not imported.get("has_D"):
        raise ConfigError(f"--resume {run_dir}: its networks were imported from {origin} without a discriminator, so "
                          f"it cannot be trained on (a new D would undo G); every tool takes its generator as it is")
    return imported
