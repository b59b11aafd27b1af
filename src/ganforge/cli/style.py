"""``ganforge style-mix`` and ``ganforge project``: the tools of a style-based (StyleGAN2) run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import GanforgeError
from .common import _Formatter, _run_class, _truncation, add_class_flag, add_noise_flag, add_run_flags, add_truncation_flag


def add_parsers(sub) -> None:
    """The style-mix and project subcommands."""
    sm = sub.add_parser("style-mix", help="StyleGAN2: mix the styles of sources, layer by layer (a PNG grid)",
                        formatter_class=_Formatter,
                        description="The style-mixing figure: the column sources' images along the top, the row\n"
                                    "sources' images down the left, and each cell draws its row source's styles\n"
                                    "with the --layers taken from its column source. Coarse layers (4-8 px) carry\n"
                                    "pose and shape, the middle ones smaller features, the fine ones colour and\n"
                                    "texture. A source is a seed (its w) or a projected.pt file written by\n"
                                    "'ganforge project' (the styles of a picture), so the coarse structure of one\n"
                                    "picture can meet the fine style of another. StyleGAN2 runs only.",
                        epilog="examples:\n"
                               "  ganforge style-mix runs/00000-stylegan2-fashion-mnist --rows 1,2,3 --cols 4,5,6\n"
                               "  ganforge style-mix RUN --rows 1,2 --cols 7,8,9 --layers fine --truncation 0.7\n"
                               "  ganforge style-mix RUN --rows proj/projected.pt,3 --cols 4,5 --layers 0-3 --out m.png")
    add_run_flags(sm, run_help="a StyleGAN2 run folder or checkpoint file",
                  overwrite_help="replace the figure if it exists")
    sm.add_argument("--rows", required=True, metavar="SOURCES",
                    help="row sources, comma-separated: seeds, or projected.pt files (e.g. 1,2,proj/projected.pt)")
    sm.add_argument("--cols", required=True, metavar="SOURCES", help="column sources, as --rows")
    sm.add_argument("--layers", default="coarse", metavar="coarse|middle|fine|A-B",
                    help="the layers the columns give: a group, or ws indices A-B (inclusive; 0 is the 4x4 "
                         "layer, num_ws-1 the last toRGB) (default: coarse)")
    add_noise_flag(sm, "one draw for every cell, so the cells differ by their styles alone")
    add_class_flag(sm, "for a conditional run: the class every seed is mapped to W with (default: the first)")
    add_truncation_flag(sm, "pull the seeds' w toward w_avg by PSI (projected styles are used as they are; "
                            "default: none)")
    sm.add_argument("--out", default=None, metavar="FILE", help="the figure (default: style-mix-<layers>.png)")

    pj = sub.add_parser("project", help="StyleGAN2: find the styles that redraw a picture (for style-mix)",
                        formatter_class=_Formatter,
                        description="Optimise the W+ styles ws (1, num_ws, w_dim) with which the run's generator\n"
                                    "draws IMAGE: Adam on ws from w_avg, G in eval mode (fixed noise maps). The\n"
                                    "loss is the pixel mean squared error in G's range plus --feature-weight times\n"
                                    "a feature distance in ganforge's shipped Fashion-MNIST evaluator, which reads\n"
                                    "28x28 grey images: for that term both pictures are turned grey and resized\n"
                                    "to 28 px. IMAGE is read with Pillow, converted to G's channels and resized to\n"
                                    "G's size (shorter side, then the centre square). Writes DIR/projected.pt (ws,\n"
                                    "the checkpoint, the loss per step), DIR/reconstruction.png and DIR/compare.png\n"
                                    "(the picture beside its reconstruction). StyleGAN2 runs only. A picture with\n"
                                    "transparency is composited on white. A projection that diverges to NaN or\n"
                                    "infinite values is refused (exit 2, nothing written); one whose loss rose is\n"
                                    "written with a warning.",
                        epilog="examples:\n"
                               "  ganforge project runs/00000-stylegan2-fashion-mnist shoe.png\n"
                               "  ganforge project RUN photo.jpg --steps 500 --out proj/\n"
                               "  ganforge style-mix RUN --rows proj/projected.pt --cols 1,2,3 --layers fine")
    add_run_flags(pj, run_help="a StyleGAN2 run folder or checkpoint file", batch_size=None,
                  overwrite_help="replace the files in DIR if they exist")
    pj.add_argument("image", metavar="IMAGE", help="the picture to project (any format Pillow reads)")
    pj.add_argument("--steps", type=int, default=300, help="optimisation steps (default: 300)")
    pj.add_argument("--out", default=None, metavar="DIR", help="the output folder (default: projection-<image name>)")
    pj.add_argument("--seed", type=int, default=0, help="seeds the noise added to ws early on (default: 0)")
    pj.add_argument("--lr", type=float, default=0.05, help="peak Adam learning rate (default: 0.05)")
    pj.add_argument("--feature-weight", type=float, default=0.5,
                    help="weight of the evaluator-feature term (grey, 28 px); 0: pixels only (default: 0.5)")
    pj.add_argument("--noise", type=float, default=0.05,
                    help="noise added to ws early on, as a fraction of W's spread; 0: none (default: 0.05)")
    pj.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_style_mix(args: argparse.Namespace) -> int:
    from .. import api
    from ..generator import check_batch_size
    from ..images import refuse_existing
    from ..tools import save_style_mix, style_mix
    from ..tools.style_mixing import parse_sources, require_w_space

    psi = _truncation(args)
    check_batch_size(args.batch_size)
    rows, cols = parse_sources(args.rows, "--rows"), parse_sources(args.cols, "--cols")
    out = Path(args.out) if args.out else Path(f"style-mix-{args.layers.strip().replace(' ', '')}.png")
    refuse_existing([out], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    require_w_space(G, "style-mix")
    y = _run_class(G, args.class_)[0]
    res = style_mix(G, rows, cols, args.layers, truncation=psi, batch_size=args.batch_size, noise_mode=args.noise_mode,
                    y=y)
    path = save_style_mix(res, out)
    a, b = res.layers
    print(f"wrote {path}   ({len(rows)} rows x {len(cols)} columns; ws {a}-{b - 1} of {G.num_ws} from the columns)")
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    from .. import api
    from ..images import refuse_existing
    from ..tools import project, read_target, save_projection
    from ..tools.projection import PROJECTION_NAME, check_settings, loss_rose
    from ..tools.style_mixing import require_w_space

    check_settings(args.steps, args.lr, args.feature_weight, args.noise, args.seed)
    image = Path(args.image)
    out = Path(args.out) if args.out else Path(f"projection-{image.stem or 'image'}")
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"--out {out}: is a file (give a folder)")
    refuse_existing([out / PROJECTION_NAME, out / "reconstruction.png", out / "compare.png"], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    require_w_space(G, "project")
    target = read_target(image, G)
    res = project(G, target, steps=args.steps, lr=args.lr, feature_weight=args.feature_weight, noise=args.noise,
                  seed=args.seed, progress=not args.no_progress)
    paths = save_projection(res, out, checkpoint=G.checkpoint_path, image=str(image))
    if loss_rose(res):
        print(f"warning: {loss_rose(res)}", file=sys.stderr)
    print(f"  loss {float(res.loss[0]):.4f} -> {float(res.loss[-1]):.4f} over {args.steps} steps "
          f"(pixel MSE {float(res.pixel_loss[-1]):.4f}"
          + (f", features of {res.feature_network})" if res.feature_network else ")"))
    print(f"wrote {paths['projection']}   (ws {tuple(res.ws.shape)}; ganforge style-mix {args.run} --rows "
          f"{paths['projection']} --cols 1,2,3)")
    print(f"wrote {paths['reconstruction']}")
    print(f"wrote {paths['compare']}   (the picture beside its reconstruction)")
    return 0


COMMANDS = {"style-mix": cmd_style_mix, "project": cmd_project}
