"""The ``ganforge`` command: parses flags into a RunConfig and calls the API. No training logic here."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from .config import RunConfig, apply_dict, field_docs, read_config_json, set_field, validate
from .errors import GanforgeError

SECTIONS = {
    "data": "data (where the images come from)",
    "model": "model (G and D)",
    "loss": "loss and label tricks",
    "optim": "optimizers",
    "train": "training",
    "tricks": "stabilising tricks",
}
# Flags whose name is not the field's; everything else is --field-name.
FLAG_NAMES = {("data", "source"): "--data", ("data", "class_name"): "--class", ("optim", "decay"): "--lr-decay"}
# Fields the train command does not expose as flags (split is for evaluation; num_classes is resolved).
HIDDEN = {("data", "split"), ("model", "num_classes")}
# On --resume, only these may change: they do not alter what is computed.
RESUME_OK = {"train.steps", "train.epochs", "train.minutes", "train.device", "train.sample_every",
             "train.checkpoint_every", "train.log_every"}
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


METAVARS = {"--data": "NAME|PATH", "--data-dir": "DIR", "--class": "NAME|ID", "--arch": "NAME", "--init": "NAME",
            "--loss": "NAME", "--optimizer": "NAME", "--device": "DEV", "--precision": "P", "--step": "KIND", "--augment": "OPS"}


def _config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, grouped by section; the field's comment is its help."""
    docs = field_docs()
    defaults = RunConfig()
    for section, title in SECTIONS.items():
        group = parser.add_argument_group(title)
        for f in dataclasses.fields(getattr(defaults, section)):
            if (section, f.name) in HIDDEN:
                continue
            flag = FLAG_NAMES.get((section, f.name), "--" + f.name.replace("_", "-"))
            help_text = docs.get(f"{section}.{f.name}", "").rsplit("(--", 1)[0].strip()
            dest = f"cfg.{section}.{f.name}"
            if str(f.type).startswith("bool"):
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                                   default=argparse.SUPPRESS, help=help_text)
            else:
                metavar = METAVARS.get(flag) or {"int": "N", "float": "X"}.get(str(f.type).split(" ")[0], "V")
                group.add_argument(flag, dest=dest, default=argparse.SUPPRESS, metavar=metavar, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ganforge",
        description="Train generative adversarial networks on images and use the trained generator.",
        epilog="Run 'ganforge COMMAND --help' for a command's flags. Quick start: ganforge train --minutes 3",
        formatter_class=_Formatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

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
    _evaluate_parsers(sub)
    _tools_parsers(sub)
    return p


def _evaluate_parsers(sub) -> None:
    """The ``evaluate`` and ``evaluator`` subcommands."""
    e = sub.add_parser("evaluate", help="measure sample quality (FD, KID, precision/recall, ...)",
                       formatter_class=_Formatter,
                       description="Sample N images from a run (G_ema if the checkpoint has it, else G) and compare\n"
                                   "them with real images in a feature space: FD, KID, precision/recall, classifier\n"
                                   "score, class coverage, memorisation; the real-vs-real floor beside them.\n"
                                   "Or compare two image sets with --images A --against B. Real statistics are\n"
                                   "cached in the ganforge cache (refstats/).",
                       epilog="examples:\n"
                              "  ganforge evaluator train --data fashion-mnist      (once: the feature network)\n"
                              "  ganforge evaluate runs/00000-dcgan-fashion-mnist\n"
                              "  ganforge evaluate RUN -n 5000 --split train --json\n"
                              "  ganforge evaluate --images fake.npy --against fashion-mnist\n"
                              "  ganforge evaluate --images ./samples --against ./real_images --evaluator mnist")
    e.add_argument("run", nargs="?", metavar="RUN_DIR_OR_CKPT", help="a run folder or a checkpoint file")
    e.add_argument("-n", type=int, default=10_000, help="generated images (with --images: at most this many)")
    e.add_argument("--split", default="test", choices=("train", "test"),
                   help="real split to compare with (of the run's dataset, or of a dataset named by --against)")
    e.add_argument("--images", metavar="A", help="an image set to evaluate: folder, .npy/.npz file or dataset name")
    e.add_argument("--against", metavar="B", help="the real image set --images is compared with")
    e.add_argument("--images-split", default="train", choices=("train", "test"),
                   help="split of --images when it names a dataset")
    e.add_argument("--evaluator", metavar="NAME", default=None,
                   help="feature network: fashion-mnist, mnist, cifar10 or inception "
                        "(default: by the data; grey non-dataset images use fashion-mnist)")
    e.add_argument("--inception-weights", metavar="FILE", default=None,
                   help="Inception-v3 FID weights (pt_inception-2015-12-05-6726825d.pth); "
                        "else $GANFORGE_INCEPTION or the cache")
    e.add_argument("--data-dir", metavar="DIR", default=None, help="folder holding a named dataset's files")
    e.add_argument("--seed", type=int, default=0, help="latent seed (and subset/KID seed)")
    e.add_argument("--batch-size", type=int, default=500, help="images per generator forward pass")
    e.add_argument("--device", default="cpu", help="cpu or cuda")
    e.add_argument("--no-floor", action="store_true", help="skip the real-vs-real floor")
    e.add_argument("--json", action="store_true", help="machine-readable output (metrics, floor, protocol)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")

    ev = sub.add_parser("evaluator", help="train or list the feature networks 'evaluate' uses",
                        formatter_class=_Formatter,
                        description="Per-dataset CNN classifiers whose penultimate layer is the feature space of\n"
                                    "'ganforge evaluate' for small images. Trained once, cached with a hash of\n"
                                    "their weights (every protocol names it).")
    evsub = ev.add_subparsers(dest="evaluator_command", metavar="ACTION")
    et = evsub.add_parser("train", help="train (or retrain) the evaluator for a dataset", formatter_class=_Formatter,
                          description="Train the classifier on the dataset's train split, print its test accuracy\n"
                                      "and store it as <cache>/evaluators/<dataset>.pt.",
                          epilog="example:\n  ganforge evaluator train --data fashion-mnist")
    et.add_argument("--data", required=True, metavar="NAME", help="fashion-mnist, mnist or cifar10")
    et.add_argument("--data-dir", metavar="DIR", default=None, help="folder holding the dataset's files")
    et.add_argument("--epochs", type=int, default=None, help="passes over the train split (default: the dataset's)")
    et.add_argument("--batch-size", type=int, default=128, help="images per step")
    et.add_argument("--seed", type=int, default=0, help="seeds weights and data order")
    et.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                    help="training precision (auto: bf16 where the CPU runs it natively)")
    et.add_argument("--no-progress", action="store_true", help="no progress bar")
    el = evsub.add_parser("list", help="list the cached evaluators", formatter_class=_Formatter)
    el.add_argument("--json", action="store_true", help="machine-readable output")


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
    from . import api
    from .presets import get_preset

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
    validate(cfg)
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
    from . import api
    from .images import save_folder, save_grid, save_npy

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
    import torch

    from .models import ARCHS, build_models, count_params
    from .presets import PRESETS, get_preset

    rows = []
    for name, info in PRESETS.items():
        cfg = get_preset(name)
        spec = ARCHS[cfg.model.arch]
        channels = 3 if "cifar" in info.seed_data else 1
        size = spec.native_size or 28
        torch.manual_seed(0)
        G, D = build_models(cfg.model, channels, size)
        rows.append({"name": name, "seed": info.seed, "seed_data": info.seed_data, "arch": cfg.model.arch,
                     "shape": f"{channels}x{size}x{size}", "g_params": count_params(G),
                     "d_params": count_params(D), "description": info.description})
    return rows


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


# --------------------------------------------------------------------------- evaluate, evaluator
def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import evaluate

    if args.n < 2:
        raise GanforgeError(f"-n: need at least 2 images (got {args.n})")
    if args.batch_size <= 0:
        raise GanforgeError(f"--batch-size: must be positive (got {args.batch_size})")
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    common = dict(n=args.n, split=args.split, evaluator=args.evaluator, inception_weights=args.inception_weights,
                  seed=args.seed, device=args.device, floor=not args.no_floor, progress=not args.no_progress, log=log)
    if args.images or args.against:
        if args.run:
            raise GanforgeError("give either a run (RUN_DIR_OR_CKPT) or --images A --against B, not both")
        if not (args.images and args.against):
            raise GanforgeError("--images and --against go together: ganforge evaluate --images A --against B")
        result = evaluate.evaluate_images(args.images, args.against, images_split=args.images_split,
                                          data_dir=args.data_dir, **common)
    elif args.run:
        if args.data_dir:
            raise GanforgeError("--data-dir: a run's data location comes from its config; use it with --images")
        result = evaluate.evaluate_run(args.run, batch_size=args.batch_size, **common)
    else:
        raise GanforgeError("give a run folder or checkpoint, or --images A --against B")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.table())
    return 0


def cmd_evaluator(args: argparse.Namespace) -> int:
    from .metrics import networks

    if args.evaluator_command == "train":
        meta = networks.train_evaluator(args.data.strip().lower(), data_dir=args.data_dir, epochs=args.epochs,
                                        batch_size=args.batch_size, seed=args.seed, precision=args.precision,
                                        progress=not args.no_progress)
        print(f"{meta['dataset']} evaluator: test accuracy {meta['test_accuracy']:.2%} "
              f"({meta['n_test']} test images), trained in {meta['train_seconds']:.0f} s, "
              f"weights hash {meta['hash']}")
        print(f"  saved  {meta['path']}")
        print(f"  use    ganforge evaluate RUN   (or --images A --against {meta['dataset']})")
        return 0
    if args.evaluator_command == "list":
        rows = networks.list_evaluators()
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
            return 0
        if not rows:
            print("no evaluators yet; train one with: ganforge evaluator train --data fashion-mnist")
        for r in rows:
            if "error" in r:
                print(f"{r['dataset']:<14} BROKEN  {r['error']}")
            else:
                acc = r.get("test_accuracy")
                print(f"{r['dataset']:<14} hash {r['hash']}  test accuracy "
                      f"{'-' if acc is None else f'{acc:.2%}'}  {r['path']}")
        return 0
    raise GanforgeError("say what to do: ganforge evaluator train --data NAME, or ganforge evaluator list")


# --------------------------------------------------------------------------- main
COMMANDS = {"train": cmd_train, "generate": cmd_generate, "presets": cmd_presets,
            "evaluate": cmd_evaluate, "evaluator": cmd_evaluator}


# --------------------------------------------------------------------------- interpolate, arithmetic, neighbours, export
def _tools_parsers(sub) -> None:
    """The subcommands that use a trained generator: interpolate, arithmetic, neighbours, export."""
    def common(q) -> None:
        q.add_argument("run", metavar="RUN_DIR_OR_CKPT", help="a run folder or a checkpoint file")
        q.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
        q.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")

    it = sub.add_parser("interpolate", help="walk through the latents of some seeds (PNG grid + GIF)",
                        formatter_class=_Formatter,
                        description="Interpolate between the latents of the given seeds, in order and back to the\n"
                                    "first, and write a grid (one row per segment) and a looping animated GIF.\n"
                                    "Seed s is the image 'ganforge generate RUN -n 1 --seed s' makes.",
                        epilog="examples:\n"
                               "  ganforge interpolate runs/00000-dcgan-fashion-mnist --seeds 1,7,42\n"
                               "  ganforge interpolate RUN --seeds 3,9 --steps 16 --mode lerp --out walk\n"
                               "  ganforge interpolate RUN --seeds 1,2,3,4 --truncation 0.7 --out-dir figures/")
    common(it)
    it.add_argument("--seeds", required=True, metavar="S1,S2,...", help="two or more latent seeds, e.g. 1,7,42")
    it.add_argument("--steps", type=int, default=8, help="images per segment, both ends included (default: 8)")
    it.add_argument("--mode", default="slerp", choices=("slerp", "lerp"),
                    help="slerp: along the sphere, norms stay between the ends' (default); lerp: straight line")
    it.add_argument("--truncation", type=float, default=None, metavar="PSI",
                    help="pull every latent toward the mean latent by PSI (1 = none; default: none)")
    it.add_argument("--class", dest="class_", metavar="NAME|ID", default=None,
                    help="class to draw, for a class-conditional run (default: the first class)")
    it.add_argument("--no-loop", action="store_true", help="stop at the last seed instead of returning to the first")
    it.add_argument("--ms-per-frame", type=int, default=100, help="GIF frame time in ms (default: 100)")
    it.add_argument("--out", metavar="PREFIX", default=None,
                    help="write PREFIX.png and PREFIX.gif (default: interpolation-<seeds>-<mode>)")
    it.add_argument("--out-dir", metavar="DIR", default=None, help="folder for the default-named files")

    ar = sub.add_parser("arithmetic", help="latent vector arithmetic on concepts: 'A - B + C'",
                        formatter_class=_Formatter,
                        description="Each term is a concept, the mean latent of its exemplars: a class name (or id)\n"
                                    "or a list of seeds in brackets. Conditional run: exemplars of a class are drawn\n"
                                    "with that class. Unconditional run: the evaluator classifier picks, from --pool\n"
                                    "samples, the ones it is most sure show the class (ganforge evaluator train).\n"
                                    "The figure shows each concept's exemplars and mean, then the result and\n"
                                    "results with noise added. Use + and -; a hyphen inside a name (ankle-boot) is\n"
                                    "part of the name, so put spaces around a minus sign.",
                        epilog="examples:\n"
                               "  ganforge arithmetic RUN \"[3,9,12] - [4,5,6] + [7,8,10]\"\n"
                               "  ganforge arithmetic runs/00000-dcgan-fashion-mnist \"sneaker - sandal + ankle boot\"\n"
                               "  ganforge arithmetic RUN \"coat - pullover + shirt\" --exemplars 5 --json\n"
                               "  ganforge arithmetic CONDITIONAL_RUN \"[1,2,3] - [4,5,6] + [7,8,9]\" --class bag")
    common(ar)
    ar.add_argument("expression", help="e.g. \"A - B + C\" with class names or [seed, ...] lists")
    ar.add_argument("--exemplars", type=int, default=3, help="exemplars per class concept (default: 3)")
    ar.add_argument("--pool", type=int, default=2000,
                    help="unconditional class concepts: samples the evaluator picks exemplars from (default: 2000)")
    ar.add_argument("--results", type=int, default=8, help="result images: the result, then with noise (default: 8)")
    ar.add_argument("--noise", type=float, default=0.2, help="std of the noise added to the result (default: 0.2)")
    ar.add_argument("--seed", type=int, default=0, help="seeds the noise, the pool and conditional exemplars")
    ar.add_argument("--class", dest="class_", metavar="NAME|ID", default=None,
                    help="conditional run: class of the results (default: the first term's class)")
    ar.add_argument("--out", default="arithmetic.png", help="the figure (default: arithmetic.png)")
    ar.add_argument("--json", action="store_true", help="print the concepts and result read-out as JSON")

    nb = sub.add_parser("neighbours", aliases=["neighbors"], help="generated images beside their nearest training images",
                        formatter_class=_Formatter,
                        description="Draw n images and show each with its k nearest training images: by L2 over\n"
                                    "pixel values and, when the evaluator for the run's dataset exists, in its\n"
                                    "feature space. Near-copies of training images show memorisation.\n"
                                    "Feature space runs the evaluator over every training image (1-2 minutes\n"
                                    "for 60,000 on a laptop CPU; --no-features skips it).",
                        epilog="examples:\n"
                               "  ganforge neighbours runs/00000-dcgan-fashion-mnist\n"
                               "  ganforge neighbours RUN -n 16 -k 6 --out nn.png --json")
    common(nb)
    nb.add_argument("-n", type=int, default=8, help="generated images (default: 8)")
    nb.add_argument("-k", type=int, default=4, help="neighbours per image (default: 4)")
    nb.add_argument("--seed", type=int, default=0, help="latent seed, as in generate (default: 0)")
    nb.add_argument("--truncation", type=float, default=None, metavar="PSI", help="truncation, as in generate")
    nb.add_argument("--data-dir", metavar="DIR", default=None, help="where the run's named dataset is now")
    nb.add_argument("--no-features", action="store_true", help="pixel space only")
    nb.add_argument("--out", default="neighbours.png", help="the figure (default: neighbours.png)")
    nb.add_argument("--json", action="store_true", help="print indices and distances as JSON")

    ex = sub.add_parser("export", help="export the generator alone (ONNX, safetensors, TorchScript)",
                        formatter_class=_Formatter,
                        description="Write G (eval mode) to one file: input z (N, z_dim) ~ N(0, 1) [and y (N,) int64\n"
                                    "class ids for a conditional run], output images (N, C, H, W) float32 in G's\n"
                                    "range. PATH.json beside it documents shapes, range, class names and the\n"
                                    "mapping to uint8. The file is reloaded and compared with G unless --no-check.",
                        epilog="examples:\n"
                               "  ganforge export runs/00000-dcgan-fashion-mnist --format onnx\n"
                               "  ganforge export RUN --format safetensors --out g.safetensors\n"
                               "  ganforge export RUN --format torchscript --out g.pt")
    ex.add_argument("run", metavar="RUN_DIR_OR_CKPT", help="a run folder or a checkpoint file")
    ex.add_argument("--format", required=True, choices=("onnx", "safetensors", "torchscript"), help="file format")
    ex.add_argument("--out", metavar="PATH", default=None, help="the file (default: RUN_DIR/generator.<format>)")
    ex.add_argument("--no-check", action="store_true", help="do not reload the file to compare outputs")


def _truncation(args: argparse.Namespace) -> float | None:
    from .latent import check_truncation

    return check_truncation(args.truncation)


def _run_class(G, class_arg: str | None) -> tuple[int | None, list[str] | None]:
    """--class resolved against a loaded G (None for unconditional runs), and the run's class names."""
    from .latent import num_classes, resolve_class
    from .tools import run_class_names

    names = run_class_names(G)
    k = num_classes(G)
    if not k:
        if class_arg is not None:
            raise GanforgeError("--class: this run's generator is unconditional; it takes no class")
        return None, names
    return resolve_class(class_arg if class_arg is not None else 0, names, k), names


def _evaluator_for(run: str, device: str):
    from . import api
    from .data import data_name
    from .tools import find_evaluator

    return find_evaluator(data_name(api.load_run_config(run).data), device)


def cmd_interpolate(args: argparse.Namespace) -> int:
    from . import api
    from .tools import interpolate, save_interpolation

    try:
        seeds = [int(s) for s in args.seeds.replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise GanforgeError(f"--seeds: expected comma-separated integers like 1,7,42, got {args.seeds!r}") from None
    if args.out and args.out_dir:
        raise GanforgeError("give --out PREFIX or --out-dir DIR, not both")
    if args.ms_per_frame <= 0:
        raise GanforgeError(f"--ms-per-frame: must be positive (got {args.ms_per_frame})")
    psi = _truncation(args)
    G = api.load_generator(args.run, device=args.device)
    y, names = _run_class(G, args.class_)
    res = interpolate(G, seeds, steps=args.steps, mode=args.mode, truncation=psi, y=y, loop=not args.no_loop,
                      batch_size=args.batch_size)
    name = f"interpolation-{'-'.join(map(str, seeds))}-{args.mode}"
    prefix = Path(args.out) if args.out else Path(args.out_dir or ".") / name
    if prefix.suffix.lower() in (".png", ".gif"):
        prefix = prefix.with_suffix("")
    png, gif = save_interpolation(res, prefix, ms_per_frame=args.ms_per_frame,
                                  class_label=names[y] if y is not None and names else None)
    segs, steps = res.frames.shape[:2]
    extra = "" if psi is None else f", truncation {psi:g}"
    if y is not None:
        extra += f", class {names[y] if names else y}"
    print(f"wrote {png}   (grid: {segs} segments x {steps} steps, {args.mode}{extra})")
    print(f"wrote {gif}   (animation, {segs * (steps - 1)} frames{'' if args.no_loop else ', looping'})")
    return 0


def cmd_arithmetic(args: argparse.Namespace) -> int:
    from . import api
    from .latent import num_classes
    from .tools import arithmetic, run_class_names, save_arithmetic

    G = api.load_generator(args.run, device=args.device)
    evaluator, why = _evaluator_for(args.run, args.device)
    if num_classes(G):
        names = run_class_names(G)
    else:
        names = evaluator.class_names if evaluator else run_class_names(G)
    res = arithmetic(G, args.expression, class_names=names, classify=evaluator.classify if evaluator else None,
                     exemplars=args.exemplars, pool=args.pool, results=args.results, noise=args.noise,
                     seed=args.seed, result_class=args.class_, batch_size=args.batch_size, evaluator_hint=why,
                     classify_names=evaluator.class_names if evaluator else None)
    out = save_arithmetic(res, args.out)
    if args.json:
        d = res.to_dict()
        d.update(figure=str(out), evaluator=evaluator.name if evaluator else None,
                 readout_skipped=None if evaluator else why)
        print(json.dumps(d, indent=2))
        return 0
    for r in res.rows:
        sign = "+" if r.term.sign > 0 else "-"
        conf = f" (evaluator p = {', '.join(f'{p:.2f}' for p in r.confidences)})" if r.confidences else ""
        what = "" if r.term.concept.seeds is not None else f"{r.description}, exemplar "
        print(f"  {r.letter}  {sign} {r.term.concept.text:<16} {what}seeds {', '.join(map(str, r.seeds))}{conf}")
    for note in res.notes:
        print(f"  note: {note}")
    if res.readout is not None:
        total = sum(res.readout.values())
        print(f"  the evaluator reads the {total} results as: "
              + ", ".join(f"{n} {c}/{total}" for n, c in sorted(res.readout.items(), key=lambda kv: -kv[1])))
    else:
        print(f"  no class read-out of the results: {why}")
    print(f"wrote {out}")
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    from . import api
    from .data import load_data
    from .tools import neighbours, save_neighbours

    psi = _truncation(args)
    G = api.load_generator(args.run, device=args.device)
    cfg = api.load_run_config(args.run)
    if args.data_dir:
        cfg.data.data_dir = args.data_dir
    data = load_data(cfg.data, progress=not args.json)
    if args.no_features:
        evaluator, why = None, "--no-features"
    else:
        evaluator, why = _evaluator_for(args.run, args.device)
    res = neighbours(G, data.images, n=args.n, k=args.k, seed=args.seed, truncation=psi,
                     features=evaluator.features if evaluator else None,
                     feature_name=evaluator.name if evaluator else "", skipped=why, batch_size=args.batch_size)
    out = save_neighbours(res, data.images, args.out)
    if args.json:
        print(json.dumps({**res.to_dict(), "figure": str(out), "train_images": len(data)}, indent=2))
        return 0
    nearest = res.pixel_dist[:, 0]
    print(f"  {args.n} generated images vs {len(data)} training images ({data.name}); nearest pixel L2 "
          f"distance: min {nearest.min():.0f}, median {nearest.median():.0f}")
    if res.feature_idx is None:
        print(f"  feature space skipped: {why}")
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from . import api
    from .export import default_export_path, export_generator
    from .tools import run_class_names
    from .train.checkpoint import load_checkpoint

    G = api.load_generator(args.run)
    config = load_checkpoint(args.run)["config"]
    path = Path(args.out) if args.out else default_export_path(args.run, args.format)
    rep = export_generator(G, path, args.format, config=config, class_names=run_class_names(G),
                           check=not args.no_check)
    shape = f"{G.img_channels}, {G.img_size}, {G.img_size}"
    inputs = f"z (N, {G.z_dim})" + (" and y (N,) int64" if getattr(G, "num_classes", 0) else "")
    print(f"wrote {rep['path']}   ({args.format}: {inputs} -> images (N, {shape}), {G.output} range)")
    print(f"wrote {rep['sidecar']}   (inputs, output range, class names, mapping to uint8)")
    if rep["max_abs_diff"] is not None:
        print(f"  checked: {rep['checked']}, max |difference| from PyTorch = {rep['max_abs_diff']:.2e}")
    elif not args.no_check:
        print(f"  {rep['checked']}")
    return 0


COMMANDS.update({"interpolate": cmd_interpolate, "arithmetic": cmd_arithmetic, "neighbours": cmd_neighbours,
                 "neighbors": cmd_neighbours, "export": cmd_export})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except GanforgeError as e:
        print(f"ganforge {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
