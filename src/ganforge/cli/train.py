"""``ganforge train``, ``generate`` and ``presets``: flags into a RunConfig, then the API."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..config import RunConfig, apply_dict, field_docs, field_flag, read_config_json, set_field
from ..errors import ConfigError, GanforgeError
from ..runs.layout import OVERWRITE_REMOVES
from .common import EXIT_INTERRUPTED, _Formatter, _run_class, _truncation, add_noise_flag

SECTIONS = {
    "data": "data (where the images come from)",
    "model": "model (G and D)",
    "loss": "loss and label tricks",
    "optim": "optimizers",
    "train": "training",
    "tricks": "stabilising tricks",
    "grow": "progressive growing (--arch progan)",
    "style": "StyleGAN2 training (--arch stylegan2)",
}
# Fields the train command does not expose as flags (split is for evaluation; num_classes is resolved).
HIDDEN = {("data", "split"), ("model", "num_classes")}
METAVARS = {"--data": "NAME|PATH", "--data-dir": "DIR", "--class": "NAME|ID", "--arch": "NAME", "--init": "NAME",
            "--loss": "NAME", "--optimizer": "NAME", "--device": "DEV", "--precision": "P", "--step": "KIND", "--augment": "OPS",
            "--data-load": "HOW", "--dist-timeout": "S"}


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
                                   "A run folder gets config.json, log.jsonl, samples/, progress.gif, losses.png,\n"
                                   "report.html (all on one page) and checkpoint.pt. Ctrl-C (exit 130) or\n"
                                   "SIGTERM (exit 143) saves a checkpoint; --resume RUN continues exactly. A new\n"
                                   "run never writes into a folder that holds files (see --overwrite). Defaults\n"
                                   "of the flags below come from the preset: see them with --dry-run.\n\n"
                                   "Many processes: start it with torchrun (one process per GPU, or CPU\n"
                                   "processes with gloo). --batch-size is per process: the global batch is\n"
                                   "--batch-size x processes; rank 0 writes the run folder.",
                       epilog="examples:\n"
                              "  ganforge train --minutes 5\n"
                              "  ganforge train --preset tf-tutorial --data mnist --epochs 50\n"
                              "  ganforge train --data ./my_images --size 64 --channels 3 --steps 20000\n"
                              "  ganforge train --resume runs/00000-dcgan-fashion-mnist --steps 5000\n"
                              "  torchrun --nproc_per_node 2 -m ganforge train --data prepared/ --batch-size 32\n"
                              "  torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\\n"
                              "      -m ganforge train --data prepared/ --steps 100000")
    t.add_argument("--preset", default=None, help="named recipe; see 'ganforge presets' (default: best, the best measured recipe;\n"
                   "'dcgan' is the plain DCGAN)")
    t.add_argument("--config", metavar="FILE", help="JSON config (as in a run's config.json) applied after the preset")
    t.add_argument("--set", metavar="SECTION.FIELD=VALUE", action="append", default=[],
                   help="set any config field, e.g. --set optim.lr_d=1e-4 (repeatable)")
    t.add_argument("--out", metavar="RUN_DIR", help="run folder, new or empty (default: the next "
                                                    "runs/NNNNN-<preset>-<data>/)")
    t.add_argument("--overwrite", action="store_true",
                   help=f"train into an --out folder that already holds files: first delete the old run's "
                        f"{OVERWRITE_REMOVES} there; other files are left alone")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run (its folder, or its checkpoint.pt) where its checkpoint stopped; "
                        "only --steps, --epochs, --minutes, --clock, --device, --precision, --sample-every, "
                        "--checkpoint-every, --log-every, --dist-timeout, --data-load and --data-workers may change "
                        "(--data may name the same images in a new place)")
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
    g.add_argument("--overwrite", action="store_true",
                   help="replace --out if it exists (a grid or .npy file; a folder: the PNGs written into it)")
    g.add_argument("--class", dest="class_", metavar="NAME|ID", default=None,
                   help="for a conditional run: only this class (default: cycle through all classes)")
    g.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation trick: pull latents toward the mean latent, z' = mean + PSI (z - mean); "
                        "1 = none, 0.7 = typical, 0 = the mean image (default: none); on a StyleGAN2 run it "
                        "applies in W instead, w' = w_avg + PSI (w - w_avg)")

    g.add_argument("--latents", metavar="FILE.npy", default=None,
                   help="draw these latents instead of the seed's: a float array (N, z_dim) saved with numpy "
                        "(-n is then N; --seed gives only the layer noise)")
    add_noise_flag(g, "each image its own, from its seed")

    pr = sub.add_parser("presets", help="list the presets", formatter_class=_Formatter,
                        description="Every preset, the seed it reproduces and its G/D trainable parameter counts.")
    pr.add_argument("--json", action="store_true", help="machine-readable output")


# --------------------------------------------------------------------------- train
def _overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """Dotted field -> value for every config flag the user gave, then every --set; and dotted
    field -> how errors name it (the flag, or ``--set FIELD``)."""
    out = {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg.")}
    where = {k: field_flag(*k.split(".")) for k in out}
    for item in args.set:
        if "=" not in item:
            raise GanforgeError(f"--set {item}: expected SECTION.FIELD=VALUE")
        key, value = item.split("=", 1)
        key = key.strip()
        out[key] = value.strip()
        where[key] = f"--set {key}"
    return out, where


def _config_file_labels(d: dict[str, Any], path: str) -> dict[str, str]:
    """Dotted field -> ``--config FILE: FIELD`` for every field a config file sets."""
    return {f"{section}.{name}": f"--config {path}: {section}.{name}"
            for section, fields in d.items() if isinstance(fields, dict) for name in fields}


def _check_resume_flags(args: argparse.Namespace) -> None:
    """--preset, --config, --out and --overwrite mean nothing to a resume: refused. (What the
    other flags may change is the API's rule, :func:`ganforge.train.checks.check_resume`.)"""
    for flag, given, why in (("--preset", args.preset, "the preset is the run's"),
                             ("--config", args.config, "the settings are the run's"),
                             ("--out", args.out, f"a resumed run writes into its own folder, {args.resume}"),
                             ("--overwrite", args.overwrite, "a resume continues the run; it deletes nothing")):
        if given:
            raise ConfigError(f"{flag}: cannot be used with --resume ({why}; drop {flag}, or start a new run "
                              f"without --resume)")


def cmd_train(args: argparse.Namespace) -> int:
    from .. import api
    from ..presets import DEFAULT_PRESET, get_preset

    overrides, where = _overrides(args)
    stored = None
    if args.resume:
        _check_resume_flags(args)
        run_dir = api.resume_dir(args.resume)
        stored = api.load_run_config(run_dir)
        cfg = RunConfig.from_dict(stored.to_dict())
    else:
        if args.overwrite and not args.out:
            raise ConfigError("--overwrite: needs --out RUN_DIR (the default run folder is always a new one)")
        cfg = get_preset(DEFAULT_PRESET if args.preset is None else args.preset)
        if args.config:
            settings = read_config_json(args.config)
            apply_dict(cfg, settings, where=f"--config {args.config}")
            where = {**_config_file_labels(settings, args.config), **where}
    for key, value in overrides.items():
        set_field(cfg, key, value, where=where[key])
    for key in HIDDEN:  # a hidden field the user did not set is named by its place in the config
        where.setdefault(".".join(key), f"config field {'.'.join(key)}")
    if stored is not None:
        api.check_resume(stored, cfg, where)
    api.check_run(cfg, where)
    if args.dry_run:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0

    if args.resume:
        result = api.train(cfg, run_dir, resume=True, progress=not args.no_progress)
    else:
        result = api.train(cfg, args.out, overwrite=args.overwrite, progress=not args.no_progress)
    from ..train.distributed import env_world

    if env_world()[0] != 0:  # the other processes of a torchrun job: rank 0 reports
        return 128 + int(result.stop_signal) if result.stop_signal else EXIT_INTERRUPTED if result.interrupted else 0
    run = result.run_dir
    how = f"stopped by {result.stop_signal.name}" if result.stop_signal else \
        "stopped" if result.interrupted else "finished"
    print(f"\n{how} at step {result.steps}. Run folder: {run}/")
    print(f"  samples     {result.samples}   (the fixed noise batch, last step)")
    if result.gif:
        print(f"  progress    {result.gif}   (the same batch over training)")
    if result.plot:
        print(f"  losses      {result.plot}")
    print(f"  checkpoint  {result.checkpoint}")
    if (run / "report.html").is_file():
        print(f"  report      {run / 'report.html'}   (all of it on one page: open it in a browser)")
    print(f"  continue    ganforge train --resume {run} --steps N")
    print(f"  generate    ganforge generate {run} -n 64 --out grid.png")
    if result.stop_signal:
        return 128 + int(result.stop_signal)  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    return EXIT_INTERRUPTED if result.interrupted else 0


# --------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from .. import api
    from ..generator import check_batch_size, check_seed, read_latents
    from ..images import check_grid, refuse_existing, save_folder, save_grid, save_npy

    if args.n <= 0 and args.latents is None:
        raise GanforgeError(f"-n: must be positive (got {args.n})")
    check_seed(args.seed)
    check_batch_size(args.batch_size)  # before the checkpoint is read
    out = Path(args.out)
    kind = {".npy": "npy", ".png": "grid", ".jpg": "grid", ".jpeg": "grid", "": "folder"}.get(out.suffix.lower())
    if kind is None:
        raise GanforgeError(f"--out: {out}: use a .png grid, a .npy file, or a folder name")
    if kind == "folder":
        if out.is_file():
            raise GanforgeError(f"--out {out}: is a file (a name without an extension means a folder of PNGs)")
        if not args.overwrite and out.is_dir() and any(out.glob("*.png")):
            raise GanforgeError(f"--out {out}: already holds PNG files (add --overwrite to replace them, or "
                                f"choose another folder)")
    else:
        refuse_existing([out], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    z = read_latents(args.latents, int(G.z_dim)) if args.latents is not None else None
    n = int(z.shape[0]) if z is not None else args.n
    if kind == "grid":
        check_grid(n)  # before any image is made
    classes = _run_class(G, args.class_)[0] if args.class_ is not None else None
    images = api.generate(G, n, seed=args.seed, batch_size=args.batch_size, classes=classes,
                          truncation=_truncation(args), noise_mode=args.noise_mode, z=z)
    if kind == "npy":
        save_npy(images, out)
        what = f"array {tuple(images.permute(0, 2, 3, 1).shape)} uint8"
    elif kind == "grid":
        save_grid(images, out, nrow=args.nrow)
        what = f"grid of {n} images"
    else:
        save_folder(images, out)
        what = f"{n} PNG files"
    origin = f"latents of {args.latents}" if z is not None else f"seed {args.seed}"
    print(f"wrote {out} ({what}, {origin}, from {G.checkpoint_path})")
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
