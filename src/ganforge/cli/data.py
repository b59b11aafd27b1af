"""Bringing things in: ``ganforge prepare-data`` (an image folder into a prepared set, once, for
big data) and ``ganforge import`` (an official StyleGAN2 network pickle as a run)."""
from __future__ import annotations

import argparse

from ..errors import GanforgeError
from .common import _Formatter


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "prepare-data", help="convert an image folder into a prepared set for big data", formatter_class=_Formatter,
        description="Decode every image under FOLDER once (any sizes and modes; the shorter side scaled to\n"
                    "--size, the centre square kept) into DIR/images.npy, one uint8 (N, C, H, W) array that\n"
                    "training memory-maps, plus DIR/labels.npy when FOLDER has one sub-folder per class and\n"
                    "DIR/prepared.json (shape, class names, the source's fingerprint, the files skipped as\n"
                    "unreadable). Then 'ganforge train --data DIR': sets over 2 GiB of pixels are read from\n"
                    "disk batch by batch by DataLoader workers (--data-load, --data-workers), so memory stays\n"
                    "flat, and every process of a torchrun job reads its own shard of the same file.",
        epilog="examples:\n"
               "  ganforge prepare-data ./photos --size 64 --out prepared/photos-64\n"
               "  ganforge train --data prepared/photos-64 --steps 50000\n"
               "  torchrun --nproc_per_node 4 -m ganforge train --data prepared/photos-64 --batch-size 32")
    p.add_argument("folder", metavar="FOLDER", help="folder of images, searched recursively")
    p.add_argument("--size", type=int, required=True, help="square side in pixels of the prepared images")
    p.add_argument("--out", metavar="DIR", required=True, help="folder for the prepared set (new or empty)")
    p.add_argument("--channels", type=int, default=None, choices=(1, 3),
                   help="1 (grey) or 3 (RGB); default: 1 when every image is grey, else 3")
    p.add_argument("--overwrite", action="store_true", help="replace a prepared set already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    im = sub.add_parser(
        "import", help="an official StyleGAN2 network pickle as a run, without running its code",
        formatter_class=_Formatter,
        description="Read a network pickle of NVIDIA's stylegan2-ada-pytorch (network-snapshot-*.pkl: G_ema, and\n"
                    "G and D where present; any resolution and configuration, conditional or not) and write a\n"
                    "ganforge run: every tool takes it (generate, interpolate, arithmetic, style-mix, project,\n"
                    "neighbours, directions, export, evaluate), and 'train --resume' fine-tunes it when the\n"
                    "pickle held D. Nothing of the pickle is run: a restricted unpickler rebuilds tensors and\n"
                    "plain values only and refuses anything else in one line (official pickles otherwise\n"
                    "execute the source code stored in them, and fail with 'No module named torch_utils').",
        epilog="examples:\n"
               "  ganforge import network-snapshot-025000.pkl --out runs/ffhq\n"
               "  ganforge generate runs/ffhq -n 16 --truncation 0.7 --out grid.png\n"
               "  ganforge generate runs/ffhq --latents z.npy --noise-mode const --out images\n"
               "  ganforge train --resume runs/ffhq --data ./my-faces --steps 2000   # fine-tune")
    im.add_argument("pickle", metavar="PKL", help="the network pickle (.pkl)")
    im.add_argument("--out", metavar="RUN_DIR", default=None, help="the run folder (default: runs/<pickle name>)")
    im.add_argument("--overwrite", action="store_true", help="replace a run already in --out")


def cmd_prepare_data(args: argparse.Namespace) -> int:
    from .. import api

    if not 4 <= args.size <= 1024:
        raise GanforgeError(f"--size: must be between 4 and 1024 (got {args.size})")
    header = api.prepare_data(args.folder, args.size, args.out, channels=args.channels,
                              progress=not args.no_progress, overwrite=args.overwrite)
    c, s = header["channels"], header["size"]
    classes = f", {len(header['class_names'])} classes" if header["class_names"] else ""
    print(f"wrote {args.out}: {header['n']} images of {c}x{s}x{s}{classes}; "
          f"{len(header['skipped'])} unreadable file(s) skipped")
    print(f"  train       ganforge train --data {args.out}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .. import api
    from ..models import count_params

    run_dir, nets = api.import_network(args.pickle, args.out, overwrite=args.overwrite)
    m, d = nets.config.model, nets.config.data
    held = ", ".join(k for k, v in (("G_ema", True), ("G", nets.G is not None), ("D", nets.D is not None)) if v)
    G = api.load_generator(run_dir)
    cls = f", {m.num_classes} classes" if m.num_classes else ""
    print(f"imported {held} of {args.pickle}: StyleGAN2 {d.size}x{d.size}x{d.channels}{cls}, z {m.z_dim}, w {m.w_dim}, "
          f"{m.mapping_layers} mapping layers, channels min({m.channel_base} // r, {m.channel_max}), "
          f"G {count_params(G):,} parameters -> {run_dir}")
    for note in nets.notes:
        print(f"note: {note}")
    print(f"  generate    ganforge generate {run_dir} -n 16 --truncation 0.7 --out grid.png")
    if nets.D is not None:
        print(f"  fine-tune   ganforge train --resume {run_dir} --data YOUR_IMAGES --steps 1000")
    else:
        print("  (the pickle held no D: the run's generator serves every tool, but it cannot be trained on)")
    return 0


COMMANDS = {"prepare-data": cmd_prepare_data, "import": cmd_import}
