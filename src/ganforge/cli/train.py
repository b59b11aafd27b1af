"""``ganforge train``, ``generate`` and ``presets``: flags into a RunConfig, then the API."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..config import RunConfig, apply_dict, field_docs, read_config_json, set_field
from ..errors import GanforgeError
from .common import EXIT_INTERRUPTED, _Formatter, _run_class, _truncation

SECTIONS = {
    "data": "data (where the images come from)",
    "model": "model (G and D)",
    "loss": "loss and label tricks",
    "optim": "optimizers",
    "train": "training",
    "tricks": "stabilising tricks",
}
# Fields the train command does not expose as flags (split is for evaluation; num_classes is resolved).
HIDDEN = {("data", "split"), ("model", "num_classes")}
# On --resume, only these may change: they do not alter what is computed.
RESUME_OK = {"train.steps", "train.epochs", "train.minutes", "train.device", "train.sample_every",
             "train.checkpoint_every", "train.log_every"}


METAVARS = {"--data": "NAME|PATH", "--data-dir": "DIR", "--class": "NAME|ID", "--arch": "NAME", "--init": "NAME",
            "--loss": "NAME", "--optimizer": "NAME", "--device": "DEV", "--precision": "P", "--step": "KIND", "--augment": "OPS"}


def _config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, grouped by section; flag and help come from the field's metadata."""
    docs = field_docs()
    defaults = RunConfig()
    for section, title in SECTIONS.items():
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(getattr(defaults, section)):
            if (section, f.name) in HIDDEN:
                continue
            flag, help_text = docs[f"{section}.{f.name}"]
            dest = f"cfg.{section}.{f.name}"
            if str(f.type).startswith("bool"):
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                                   default=argparse.SUPPRESS, help=help_text)
            else:
                metavar = METAVARS.get(flag) or {"int": "N", "float": "X"}.get(str(f.type).split(" ")[0], "V")
                group.add_argument(flag, dest=dest, default=argparse.SUPPRESS, metavar=metavar, help=help_text)


def add_parsers(sub) -> None:
    """The ``train``, ``generate`` and ``presets`` subcommands."""

    t = sub.add_parser("train", help="train a GAN (or resume one)", formatter_class=_Formatter,
                       description="Train a GAN. Settings come from --preset, then --config FILE, then flags.\n"
                                   "A run folder gets config.json, log.jsonl, samples/, progress.gif, losses.png\n"
                                   "and checkpoint.pt. Ctrl-C saves a checkpoint; --resume RUN continues exactly.\n"
                                   "Defaults of the flags below come from the preset: see them with --dry-run.",
                       epilog="examples:\n"
                              "  ganforge train --minutes 5\n"
                              "  ganforge train --preset tf-tutorial --data mnist --epochs 50\n"
                              "  ganforge train --data ./my_images --size 64 --channels 3 --steps 20000\n"
                              "  ganforge train --resume runs/00000-dcgan-fashion-mnist --steps 5000")
    t.add_argument("--preset", default="dcgan", help="named recipe; see 'ganforge presets' (default: dcgan)")
    t.add_argument("--config", metavar="FILE", help="JSON config (as in a run's config.json) applied after the preset")
    t.add_argument("--set", metavar="SECTION.FIELD=VALUE", action="append", default=[],
                   help="set any config field, e.g. --set optim.lr_d=1e-4 (repeatable)")
    t.add_argument("--out", metavar="RUN_DIR", help="run folder (default: the next runs/NNNNN-<preset>-<data>/)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    t.add_argument("--dry-run", action="store_true", help="print the resolved config and stop")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    _config_flags(t)

    g = sub.add_parser("generate", help="generate images from a trained run", formatter_class=_Formatter,
                       description="Rebuild G from a run's stored config and write new images.",
                       epilog="examples:\n"
                              "  ganforge generate runs/00000-dcgan-fashion-mnist -n 64 --out grid.png\n"
                              "  ganforge generate RUN -n 1000 --out samples/      (one PNG each)\n"
                              "  ganforge generate RUN -n 10000 --out fake.npy     (uint8 N,H,W,C)")
    g.add_argument("run", metavar="RUN_DIR_OR_CKPT", help="a run folder or a checkpoint file")
    g.add_argument("-n", type=int, default=64, help="how many images (default: 64)")
    g.add_argument("--seed", type=int, default=0, help="latent seed: same seed, same images (default: 0)")
    g.add_argument("--out", default="generated.png",
                   help="a .png grid, a .npy array, or a folder for PNGs (default: generated.png)")
    g.add_argument("--nrow", type=int, default=None, help="images per grid row (default: square)")
    g.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    g.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")
    g.add_argument("--class", dest="class_", metavar="NAME|ID", default=None,
                   help="for a conditional run: only this class (default: cycle through all classes)")
    g.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation trick: pull latents toward the mean latent, z' = mean + PSI (z - mean); "
                        "1 = none, 0.7 = typical, 0 = the mean image (default: none)")

    pr = sub.add_parser("presets", help="list the presets", formatter_class=_Formatter,
                        description="Every preset, the seed it reproduces and its G/D trainable parameter counts.")
    pr.add_argument("--json", action="store_true", help="machine-readable output")


# --------------------------------------------------------------------------- train
def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted field -> value for every config flag the user gave, then every --set."""
    out = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg.")}
    for item in args.set:
        if "=" not in item:
            raise GanforgeError(f"--set {item}: expected SECTION.FIELD=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from .. import api
    from ..presets import get_preset

    overrides = _overrides(args)
    if args.resume:
        run_dir = Path(args.resume)
        cfg = api.load_run_config(run_dir)
        changed = sorted(set(overrides) - RESUME_OK)
        if changed or args.config:
            what = ", ".join(changed) or "--config"
            raise GanforgeError(f"--resume: {what} cannot change on resume (only the length, device and "
                                f"output frequency can); start a new run instead")
    else:
        cfg = get_preset(args.preset)
        if args.config:
            apply_dict(cfg, read_config_json(args.config))
    for key, value in overrides.items():
        set_field(cfg, key, value)
    api.check_run(cfg)
    if args.dry_run:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0

    result = api.train(cfg, args.resume or args.out, resume=bool(args.resume), progress=not args.no_progress)
    run = result.run_dir
    print(f"\n{'stopped' if result.interrupted else 'finished'} at step {result.steps}. Run folder: {run}/")
    print(f"  samples     {result.samples}   (the fixed noise batch, last step)")
    if result.gif:
        print(f"  progress    {result.gif}   (the same batch over training)")
    if result.plot:
        print(f"  losses      {result.plot}")
    print(f"  checkpoint  {result.checkpoint}")
    print(f"  continue    ganforge train --resume {run} --steps N")
    print(f"  generate    ganforge generate {run} -n 64 --out grid.png")
    return EXIT_INTERRUPTED if result.interrupted else 0


# --------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from .. import api
    from ..images import save_folder, save_grid, save_npy

    if args.n <= 0:
        raise GanforgeError(f"-n: must be positive (got {args.n})")
    G = api.load_generator(args.run, device=args.device)
    classes = _run_class(G, args.class_)[0] if args.class_ is not None else None
    images = api.generate(G, args.n, seed=args.seed, batch_size=args.batch_size, classes=classes,
                          truncation=_truncation(args))
    out = Path(args.out)
    if out.suffix.lower() == ".npy":
        save_npy(images, out)
        what = f"array {tuple(images.permute(0, 2, 3, 1).shape)} uint8"
    elif out.suffix.lower() in (".png", ".jpg", ".jpeg"):
        save_grid(images, out, nrow=args.nrow)
        what = f"grid of {args.n} images"
    elif out.suffix == "":
        save_folder(images, out)
        what = f"{args.n} PNG files"
    else:
        raise GanforgeError(f"--out: {out}: use a .png grid, a .npy file, or a folder name")
    print(f"wrote {out} ({what}, seed {args.seed}, from {G.checkpoint_path})")
    return 0


# --------------------------------------------------------------------------- presets
def preset_rows() -> list[dict[str, Any]]:
    """One row per preset with its G/D trainable parameter counts at its native shape."""
    from ..presets import describe_presets

    return describe_presets()


def cmd_presets(args: argparse.Namespace) -> int:
    rows = preset_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'preset':<18} {'seed':<9} {'seed data':<21} {'shape':<8} {'G params':>10} {'D params':>10}")
    for r in rows:
        print(f"{r['name']:<18} {r['seed']:<9} {r['seed_data']:<21} {r['shape']:<8} "
              f"{r['g_params']:>10,} {r['d_params']:>10,}")
    print()
    for r in rows:
        print(f"{r['name']}: {r['description']}")
    return 0


COMMANDS = {"train": cmd_train, "generate": cmd_generate, "presets": cmd_presets}
