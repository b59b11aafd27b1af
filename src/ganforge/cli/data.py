"""``ganforge prepare-data``: an image folder into a prepared set, once, for big data."""
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


COMMANDS = {"prepare-data": cmd_prepare_data}
