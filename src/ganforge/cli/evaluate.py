"""``ganforge evaluate`` and ``ganforge evaluator``: sample quality, offline."""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import GanforgeError
from .common import DEVICE_HELP, _Formatter, add_data_location_flags, add_noise_flag


def add_parsers(sub) -> None:
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
    add_noise_flag(e, "each image its own, as the reference samples for its metrics")
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
    add_data_location_flags(e, "with a run: where its image folder or array file is now, if it moved (checked by "
                               "content)", "folder holding a named dataset's files")
    e.add_argument("--seed", type=int, default=0, help="latent seed (and subset/KID seed)")
    e.add_argument("--batch-size", type=int, default=500, help="images per generator forward pass")
    e.add_argument("--device", default="cpu", help=DEVICE_HELP)
    e.add_argument("--no-ema", action="store_true", help="with a run: sample the raw G, not G_ema")
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
                    help="training precision (auto: bf16 on any CPU with bf16 instructions, "
                         "so such machines train the same weights)")
    et.add_argument("--no-progress", action="store_true", help="no progress bar")
    el = evsub.add_parser("list", help="list the cached evaluators", formatter_class=_Formatter)
    el.add_argument("--json", action="store_true", help="machine-readable output")


# --------------------------------------------------------------------------- evaluate, evaluator
def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..metrics import evaluate_images, evaluate_run

    if args.n < 2:
        raise GanforgeError(f"-n: need at least 2 images (got {args.n})")
    if args.batch_size <= 0:
        raise GanforgeError(f"--batch-size: must be positive (got {args.batch_size})")
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    common = dict(n=args.n, split=args.split, evaluator=args.evaluator, inception_weights=args.inception_weights,
                  seed=args.seed, device=args.device, floor=not args.no_floor, progress=not args.no_progress, log=log)
    if args.images or args.against:
        if args.data or args.no_ema:
            raise GanforgeError(f"{'--data' if args.data else '--no-ema'}: goes with a run; --images and --against "
                                "name the image sets themselves")
        if args.run:
            raise GanforgeError("give either a run (RUN_DIR_OR_CKPT) or --images A --against B, not both")
        if not (args.images and args.against):
            raise GanforgeError("--images and --against go together: ganforge evaluate --images A --against B")
        result = evaluate_images(args.images, args.against, images_split=args.images_split,
                                 data_dir=args.data_dir, **common)
    elif args.run:
        if args.data_dir:
            raise GanforgeError("--data-dir: a run's data location comes from its config; use it with --images")
        result = evaluate_run(args.run, batch_size=args.batch_size, data=args.data, ema=not args.no_ema,
                              noise_mode=args.noise_mode, **common)
    else:
        raise GanforgeError("give a run folder or checkpoint, or --images A --against B")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.table())
    return 0


def cmd_evaluator(args: argparse.Namespace) -> int:
    from ..metrics import networks
    from ..metrics.classifier_training import train_evaluator
    from ..metrics.shipped import SHIPPED

    if args.evaluator_command == "train":
        meta = train_evaluator(args.data.strip().lower(), data_dir=args.data_dir, epochs=args.epochs,
                                        batch_size=args.batch_size, seed=args.seed, precision=args.precision,
                                        progress=not args.no_progress)
        print(f"{meta['dataset']} evaluator: test accuracy {meta['test_accuracy']:.2%} "
              f"({meta['n_test']} test images), trained in {meta['train_seconds']:.0f} s, "
              f"weights hash {meta['hash']}")
        print(f"  saved  {meta['path']}")
        shipped = SHIPPED.get(meta["dataset"])
        if shipped == meta["hash"]:
            print(f"  the same weights as the {meta['dataset']} evaluator shipped with ganforge")
        elif shipped is not None:
            print(f"  note: not the shipped {meta['dataset']} evaluator (hash {shipped}; another CPU type or "
                  f"settings train other weights). Metrics now use this file; delete it to go back to the "
                  f"shipped one, whose results others can compare with yours")
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


COMMANDS = {"evaluate": cmd_evaluate, "evaluator": cmd_evaluator}
