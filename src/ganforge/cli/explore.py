"""``ganforge explore`` (a page in the browser to explore a trained generator) and ``ganforge
directions`` (its semantic directions as a figure, or one edited image)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError
from .common import _Formatter, _run_class, _truncation

# as ganforge.tools.directions holds them (written out so that `ganforge --help` imports no torch)
MAX_DIRECTIONS = 64
MAX_AMOUNT = 10.0


def add_parsers(sub) -> None:
    """The explore and directions subcommands."""
    ex = sub.add_parser("explore", help="a page in the browser to explore a trained generator",
                        formatter_class=_Formatter,
                        description="Serve a page for one run: a grid of samples by seed, truncation, sliders\n"
                                    "along the generator's semantic directions, an interpolation strip, class control\n"
                                    "(conditional runs), and on a StyleGAN2 run style mixing with a second seed and\n"
                                    "your own picture, projected into W and then edited like a sample. Every view can\n"
                                    "be saved as a PNG and shows the ganforge command that makes it again. It works\n"
                                    "offline: the page is served by ganforge itself and fetches nothing elsewhere.\n\n"
                                    "Safety: it listens on 127.0.0.1 (this machine only) unless --host says\n"
                                    "otherwise; it reads no file but the run's, ganforge's own and the pictures\n"
                                    "uploaded to it (kept in a temporary folder of its own, deleted when it stops);\n"
                                    "each page has its own session.\n"
                                    "Ctrl-C stops it.",
                        epilog="examples:\n"
                               "  ganforge explore runs/00000-stylegan2-fashion-mnist\n"
                               "  ganforge explore RUN --port 8123\n"
                               "  ganforge explore RUN --host 0.0.0.0     (reachable from other machines: a warning)")
    ex.add_argument("run", metavar="RUN_DIR_OR_CKPT", help="a run folder or a checkpoint file")
    ex.add_argument("--host", default=None,
                    help="the address to listen on (default: 127.0.0.1, this machine only); anything else lets "
                         "whoever reaches this machine use the page, so it prints a warning")
    ex.add_argument("--port", type=int, default=8000, help="the port (default: 8000; 0: any free port)")
    ex.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    ex.add_argument("--project-steps", type=int, default=200,
                    help="optimisation steps when the page projects an uploaded picture (default: 200)")

    di = sub.add_parser("directions", help="the generator's semantic directions: a figure, or one edited image",
                        formatter_class=_Formatter,
                        description="Find the run's principal semantic directions in closed form and show them: one\n"
                                    "row per direction, columns from -SPAN to +SPAN standard deviations around the\n"
                                    "sample. StyleGAN2: SeFa (the top eigenvectors of A^T A, A the stacked weights of\n"
                                    "the --layers' style affine maps; an edit moves those layers' styles only). Other\n"
                                    "generators: PCA of the images of 2,000 latents, each component regressed back to\n"
                                    "a direction in Z. With --edit the command writes one edited image instead, as\n"
                                    "'generate -n 1' writes one image.",
                        epilog="examples:\n"
                               "  ganforge directions runs/00000-stylegan2-fashion-mnist --seed 3\n"
                               "  ganforge directions RUN --layers coarse -k 8 --out coarse.png\n"
                               "  ganforge directions RUN --seed 3 --truncation 0.7 --edit 0=1.5 --edit 2=-1\n"
                               "  ganforge directions RUN --projected proj/projected.pt --edit 1=2 --json")
    di.add_argument("run", metavar="RUN_DIR_OR_CKPT", help="a run folder or a checkpoint file")
    di.add_argument("-k", type=int, default=5, help="directions in the figure, strongest first (default: 5)")
    di.add_argument("--layers", default="all", metavar="all|coarse|middle|fine|A-B",
                    help="StyleGAN2: the style layers whose affine maps SeFa factorises and an edit moves (ws "
                         "indices A-B inclusive; default: all)")
    di.add_argument("--seed", type=int, default=None,
                    help="the sample: seed s is 'generate -n 1 --seed s' (default: 0)")
    di.add_argument("--projected", metavar="FILE", default=None,
                    help="StyleGAN2: start from the styles of a picture (DIR/projected.pt from ganforge project)")
    di.add_argument("--truncation", type=float, default=None, metavar="PSI",
                    help="truncate the seed's latent (in W on StyleGAN2) before the edit, as generate does")
    di.add_argument("--noise-mode", default=None, choices=("random", "const", "none"),
                    help="StyleGAN2's layer noise: random (the seed's own, as generate draws it, for every image; "
                         "the default), const (the stored maps, which project fits with: the default with "
                         "--projected) or none; other generators have no noise")
    di.add_argument("--class", dest="class_", metavar="NAME|ID", default=None,
                    help="for a conditional run: the class to draw (default: the first)")
    di.add_argument("--edit", action="append", default=None, metavar="K=AMOUNT",
                    help="write one image moved AMOUNT standard deviations along direction K (repeat or comma-"
                         f"separate for several; directions 0-{MAX_DIRECTIONS - 1}, amounts within +/-{MAX_AMOUNT:g})")
    di.add_argument("--steps", type=int, default=7, help="figure columns (default: 7)")
    di.add_argument("--span", type=float, default=3.0, help="the figure's columns go from -SPAN to +SPAN (default: 3)")
    di.add_argument("--out", default=None, metavar="FILE",
                    help="the PNG (default: directions.png, or edit.png with --edit)")
    di.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    di.add_argument("--batch-size", type=int, default=256, help="images per forward pass (default: 256)")
    di.add_argument("--overwrite", action="store_true", help="replace the PNG if it exists")
    di.add_argument("--json", action="store_true", help="also print the directions' strengths as JSON")


def _check_directions_flags(args: argparse.Namespace):
    from ..generator import check_batch_size, check_seed
    from ..tools.directions import parse_edits

    if not 1 <= args.k <= MAX_DIRECTIONS:
        raise ConfigError(f"-k: from 1 to {MAX_DIRECTIONS} directions (got {args.k})")
    if not 2 <= args.steps <= 21:
        raise ConfigError(f"--steps: from 2 to 21 columns (got {args.steps})")
    if not 0 < args.span <= MAX_AMOUNT:
        raise ConfigError(f"--span: from 0 (exclusive) to {MAX_AMOUNT:g} standard deviations (got {args.span})")
    if args.seed is not None and args.projected:
        raise ConfigError("give --seed or --projected, not both")
    if args.projected and args.truncation is not None:
        raise ConfigError("--truncation: projected styles are used as they are (drop --truncation)")
    check_seed(args.seed or 0)
    check_batch_size(args.batch_size)
    return parse_edits(args.edit) if args.edit is not None else None


def cmd_directions(args: argparse.Namespace) -> int:
    from .. import api
    from ..images import refuse_existing, save_grid
    from ..tools.directions import apply_edits, check_edits, draw_points, find_directions, save_directions, seed_points
    from ..tools.projection import load_projection
    from ..tools.style_mixing import require_w_space

    edits = _check_directions_flags(args)
    psi = _truncation(args)
    out = Path(args.out or ("edit.png" if edits is not None else "directions.png"))
    refuse_existing([out], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    y, names = _run_class(G, args.class_)
    dirs = find_directions(G, args.layers, args.batch_size)
    if args.projected:
        require_w_space(G, "directions --projected")
        base, label = load_projection(args.projected, G)["ws"], Path(args.projected).parent.name or args.projected
    else:
        base, label = seed_points(G, [args.seed or 0], psi, args.batch_size, y), f"seed {args.seed or 0}"
    noise = {"noise_mode": args.noise_mode or ("const" if args.projected else "random"), "noise_seed": args.seed or 0}
    if edits is not None:
        check_edits(dirs, edits)
        save_grid(draw_points(G, apply_edits(dirs, base, edits), y, args.batch_size, **noise), out)
        moved = ", ".join(f"{k}: {a:+g}" for k, a in sorted(edits.items())) or "none"
        print(f"wrote {out}   ({label} moved along directions {moved} standard deviations)")
    else:
        cls_label = (names[y] if names else str(y)) if y is not None else None
        save_directions(G, dirs, base, out, source=label, count=args.k, steps=args.steps, span=args.span, y=y,
                        batch_size=args.batch_size, class_label=cls_label, **noise)
        what = f"SeFa on ws {dirs.layers[0]}-{dirs.layers[1] - 1}" if dirs.method == "sefa" else "PCA of the images"
        print(f"wrote {out}   ({min(args.k, len(dirs.vectors))} directions of {label}, {what}, columns "
              f"{-args.span:+g} to {args.span:+g} standard deviations)")
    if args.json:
        rows = [{"index": k, "strength": float(dirs.strength[k]), "share": float(dirs.share[k]),
                 "sigma": float(dirs.sigma[k])} for k in range(min(args.k, len(dirs.vectors)))]
        print(json.dumps({"method": dirs.method, "space": dirs.space, "layers": list(dirs.layers or ()),
                          "directions": rows}, indent=2))
    return 0


def cmd_explore(args: argparse.Namespace) -> int:
    from ..explore import Explorer, is_loopback, serve
    from ..tools.projection import MAX_STEPS

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port: from 0 to 65535 (got {args.port})")
    if not 1 <= args.project_steps <= MAX_STEPS:
        raise ConfigError(f"--project-steps: from 1 to {MAX_STEPS:,} (got {args.project_steps})")
    host = "127.0.0.1" if args.host is None else args.host.strip()
    if not host:
        raise ConfigError("--host: give an address, e.g. 127.0.0.1")
    print(f"loading {args.run} and finding its semantic directions...", file=sys.stderr)
    explorer = Explorer(args.run, device=args.device, project_steps=args.project_steps)
    explorer.directions("all")
    if not is_loopback(host):
        print(f"warning: --host {host}: the page is open to every machine that can reach this one; it has no "
              f"password, and whoever opens it can upload pictures and use this machine's processors",
              file=sys.stderr)
    serve(explorer, host, args.port, announce=lambda line: print(line, flush=True))
    print("stopped", file=sys.stderr)
    return 0


COMMANDS = {"explore": cmd_explore, "directions": cmd_directions}
