"""``ganforge interpolate``, ``arithmetic``, ``neighbours`` and ``export``: using a trained generator."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import GanforgeError
from .common import (
    _evaluator_for,
    _Formatter,
    _run_class,
    _truncation,
    add_class_flag,
    add_data_location_flags,
    add_run_flags,
    add_space_flag,
    add_noise_flag,
    add_truncation_flag,
)

# The output limits, as --help states them (ganforge.images and ganforge.tools hold the values;
# written out here so that 'ganforge --help' does not import torch; a test keeps them equal).
MAX_STEPS = 1_000
MAX_GRID_IMAGES = 10_000
MAX_GIF_FRAMES = 5_000


def add_parsers(sub) -> None:
    """The subcommands that use a trained generator: interpolate, arithmetic, neighbours, export."""
    for add in (_interpolate_parser, _arithmetic_parser, _neighbours_parser, _export_parser):
        add(sub)


def _interpolate_parser(sub) -> None:
    it = sub.add_parser("interpolate", help="walk through the latents (or w) of some seeds (PNG grid + GIF)",
                        formatter_class=_Formatter,
                        description="Interpolate between the latents of the given seeds, in order and back to the\n"
                                    "first, and write a grid (one row per segment) and a looping animated GIF.\n"
                                    "Seed s is the image 'ganforge generate RUN -n 1 --seed s' makes. With\n"
                                    "--direction K each seed moves instead along semantic direction K (see 'ganforge\n"
                                    "directions'), from -SPAN to +SPAN standard deviations: one row per seed.\n"
                                    f"At most {MAX_STEPS:,} steps per segment, {MAX_GRID_IMAGES:,} images in the grid "
                                    f"and {MAX_GIF_FRAMES:,} GIF frames.",
                        epilog="examples:\n"
                               "  ganforge interpolate runs/00000-dcgan-fashion-mnist --seeds 1,7,42\n"
                               "  ganforge interpolate RUN --seeds 3,9 --steps 16 --mode lerp --out walk\n"
                               "  ganforge interpolate RUN --seeds 1,2,3,4 --truncation 0.7 --out-dir figures/\n"
                               "  ganforge interpolate RUN --seeds 3,5 --direction 0 --span 3 --steps 9")
    add_run_flags(it)
    it.add_argument("--seeds", required=True, metavar="S1,S2,...",
                    help="two or more latent seeds, e.g. 1,7,42 (one or more with --direction)")
    it.add_argument("--direction", type=int, default=None, metavar="K",
                    help="move each seed along semantic direction K (SeFa on StyleGAN2, PCA otherwise) instead of "
                         "walking between seeds")
    it.add_argument("--span", type=float, default=3.0,
                    help="with --direction: from -SPAN to +SPAN standard deviations (default: 3)")
    it.add_argument("--layers", default="all", metavar="all|coarse|middle|fine|A-B",
                    help="with --direction on StyleGAN2: the style layers the direction is found for and moves "
                         "(default: all)")
    it.add_argument("--steps", type=int, default=8, help="images per segment, both ends included (default: 8)")
    it.add_argument("--mode", default=None, choices=("slerp", "lerp"),
                    help="slerp: along the sphere, norms stay between the ends' (default in z); lerp: straight "
                         "line (default in w)")
    add_space_flag(it, "z: walk between the seeds' latents; w: map them to w first and walk in W (StyleGAN2 runs "
                       "only; their default)")
    add_noise_flag(it, "each segment its start seed's, so a seed's frame is its generate image")
    add_truncation_flag(it, "pull every latent toward the mean latent by PSI (in W: toward w_avg; 1 = none; "
                            "default: none)")
    add_class_flag(it, "class to draw, for a class-conditional run (default: the first class)")
    it.add_argument("--no-loop", action="store_true", help="stop at the last seed instead of returning to the first")
    it.add_argument("--ms-per-frame", type=int, default=100,
                    help="GIF frame time in ms, from 10 to 655,350 (a GIF stores hundredths of a second: other "
                         "values are rounded to the nearest 10 ms, and the output says so) (default: 100)")
    it.add_argument("--out", metavar="PREFIX", default=None,
                    help="write PREFIX.png and PREFIX.gif (default: interpolation-<seeds>-<mode>, with -w "
                         "after the mode for a walk in W)")
    it.add_argument("--out-dir", metavar="DIR", default=None, help="folder for the default-named files")


def _arithmetic_parser(sub) -> None:
    ar = sub.add_parser("arithmetic", help="latent vector arithmetic on concepts: 'A - B + C'",
                        formatter_class=_Formatter,
                        description="Each term is a concept, the mean latent of its exemplars: a class name (or id)\n"
                                    "or a list of seeds in brackets. Conditional run: exemplars of a class are drawn\n"
                                    "with that class. Unconditional run: the evaluator classifier picks, from --pool\n"
                                    "samples, the ones it is most sure show the class (ganforge evaluator train).\n"
                                    "The figure shows each concept's exemplars and mean, then the result and\n"
                                    "results with noise added. Use + and -; a hyphen inside a name (ankle-boot) is\n"
                                    "part of the name, so put spaces around a minus sign.\n"
                                    f"The figure holds at most {MAX_GRID_IMAGES:,} images (exemplars and results).",
                        epilog="examples:\n"
                               "  ganforge arithmetic RUN \"[3,9,12] - [4,5,6] + [7,8,10]\"\n"
                               "  ganforge arithmetic runs/00000-dcgan-fashion-mnist \"sneaker - sandal + ankle boot\"\n"
                               "  ganforge arithmetic RUN \"coat - pullover + shirt\" --exemplars 5 --json\n"
                               "  ganforge arithmetic CONDITIONAL_RUN \"[1,2,3] - [4,5,6] + [7,8,9]\" --class bag")
    add_run_flags(ar)
    ar.add_argument("expression", help="e.g. \"A - B + C\" with class names or [seed, ...] lists")
    ar.add_argument("--exemplars", type=int, default=3, help="exemplars per class concept (default: 3)")
    ar.add_argument("--pool", type=int, default=2000,
                    help="unconditional class concepts: samples the evaluator picks exemplars from (default: 2000)")
    ar.add_argument("--results", type=int, default=8, help="result images: the result, then with noise (default: 8)")
    ar.add_argument("--noise", type=float, default=0.2,
                    help="std of the noise added to the result (default: 0.2); in W, the fraction of a random "
                         "w's offset from w_avg that is added")
    add_noise_flag(ar, "one draw from --seed for every image of the figure")
    add_space_flag(ar, "z: concepts are means of latents; w: means of their w (StyleGAN2 runs only; their default)")
    ar.add_argument("--seed", type=int, default=0, help="seeds the noise, the pool and conditional exemplars")
    add_class_flag(ar, "conditional run: class of the results (default: the first term's class)")
    ar.add_argument("--along", action="append", default=None, metavar="K=AMOUNT",
                    help="move the results AMOUNT standard deviations along semantic direction K (see 'ganforge "
                         "directions'; repeat or comma-separate for several)")
    ar.add_argument("--layers", default="all", metavar="all|coarse|middle|fine|A-B",
                    help="with --along on StyleGAN2: the style layers the directions are found for and move "
                         "(default: all)")
    ar.add_argument("--out", default="arithmetic.png", help="the figure (default: arithmetic.png)")
    ar.add_argument("--json", action="store_true", help="print the concepts and result read-out as JSON")


def _neighbours_parser(sub) -> None:
    nb = sub.add_parser("neighbours", aliases=["neighbors"], help="generated images beside their nearest training images",
                        formatter_class=_Formatter,
                        description="Draw n images and show each with its k nearest training images: by L2 over\n"
                                    "pixel values and, when the evaluator for the run's dataset exists, in its\n"
                                    "feature space. Near-copies of training images show memorisation.\n"
                                    "Feature space runs the evaluator over every training image (1-2 minutes\n"
                                    "for 60,000 on a laptop CPU; --no-features skips it).\n"
                                    f"The figure holds at most {MAX_GRID_IMAGES:,} images (n x (1 + 2k)).",
                        epilog="examples:\n"
                               "  ganforge neighbours runs/00000-dcgan-fashion-mnist\n"
                               "  ganforge neighbours RUN -n 16 -k 6 --out nn.png --json")
    add_run_flags(nb)
    nb.add_argument("-n", type=int, default=8, help="generated images (default: 8)")
    nb.add_argument("-k", type=int, default=4, help="neighbours per image (default: 4)")
    nb.add_argument("--seed", type=int, default=0, help="latent seed, as in generate (default: 0)")
    add_truncation_flag(nb, "truncation, as in generate")
    add_noise_flag(nb, "each image its own, as in generate")
    add_data_location_flags(nb, "where the run's image folder or array file is now, if it moved (checked by content)",
                            "where the run's named dataset is now")
    nb.add_argument("--no-features", action="store_true", help="pixel space only")
    nb.add_argument("--out", default="neighbours.png", help="the figure (default: neighbours.png)")
    nb.add_argument("--json", action="store_true", help="print indices and distances as JSON")


def _export_parser(sub) -> None:
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
    ex.add_argument("--out", metavar="PATH", default=None,
                    help="the file (default: RUN_DIR/generator.<format>); an ending that names another format "
                         "(g.onnx with --format torchscript) is refused")
    ex.add_argument("--no-check", action="store_true", help="do not reload the file to compare outputs")
    ex.add_argument("--synthesis", action="store_true",
                    help="StyleGAN2 run: the synthesis network alone, input ws (N, num_ws, w_dim), for style "
                         "mixing or truncation outside the graph (onnx, torchscript; default file: "
                         "RUN_DIR/synthesis.<format>)")
    ex.add_argument("--overwrite", action="store_true", help="replace PATH and PATH.json if they exist")


def cmd_interpolate(args: argparse.Namespace) -> int:
    from .. import api
    from ..generator import check_batch_size, check_seed
    from ..images import refuse_existing
    from ..tools import interpolate, latent_space, save_interpolation
    from ..tools.interpolation import check_frame_ms, check_walk

    try:
        seeds = [int(s) for s in args.seeds.replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise GanforgeError(f"--seeds: expected comma-separated integers like 1,7,42, got {args.seeds!r}") from None
    seeds = [check_seed(s, "--seeds") for s in seeds]
    if args.out and args.out_dir:
        raise GanforgeError("give --out PREFIX or --out-dir DIR, not both")
    frame_ms = check_frame_ms(args.ms_per_frame)
    psi = _truncation(args)
    check_batch_size(args.batch_size)
    if args.direction is not None:
        return _walk_direction(args, seeds, psi, frame_ms)
    check_walk(len(seeds), args.steps, loop=not args.no_loop)
    G = api.load_generator(args.run, device=args.device)
    space = latent_space(G, args.space).name
    mode = args.mode or ("lerp" if space == "w" else "slerp")
    name = f"interpolation-{'-'.join(map(str, seeds))}-{mode}" + ("-w" if space == "w" else "")
    prefix = Path(args.out) if args.out else Path(args.out_dir or ".") / name
    if prefix.suffix.lower() in (".png", ".gif"):
        prefix = prefix.with_suffix("")
    refuse_existing([prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".gif")], args.overwrite)
    y, names = _run_class(G, args.class_)
    res = interpolate(G, seeds, steps=args.steps, mode=mode, truncation=psi, y=y, loop=not args.no_loop, noise_mode=args.noise_mode,
                      batch_size=args.batch_size, space=space)
    png, gif = save_interpolation(res, prefix, ms_per_frame=frame_ms,
                                  class_label=names[y] if y is not None and names else None)
    segs, steps = res.frames.shape[:2]
    extra = "" if psi is None else f", truncation {psi:g}"
    if y is not None:
        extra += f", class {names[y] if names else y}"
    print(f"wrote {png}   (grid: {segs} segments x {steps} steps, {mode}{' in W' if space == 'w' else ''}{extra})")
    rounded = f", {frame_ms} ms each (GIF frame times are in steps of 10 ms)" if frame_ms != args.ms_per_frame else ""
    print(f"wrote {gif}   (animation, {segs * (steps - 1)} frames{rounded}{'' if args.no_loop else ', looping'})")
    return 0


def _walk_direction(args: argparse.Namespace, seeds: list[int], psi: float | None, frame_ms: int) -> int:
    """``interpolate --direction K``: each seed along one semantic direction."""
    from .. import api
    from ..images import refuse_existing
    from ..tools.directions import save_direction_walk, walk_direction

    if args.mode or args.space or args.no_loop:
        raise GanforgeError("--direction: a walk along a direction has no --mode, --space or --no-loop (it goes "
                            "from -SPAN to +SPAN in the direction's own space)")
    name = f"direction-{args.direction}-seeds-{'-'.join(map(str, seeds))}"
    prefix = Path(args.out) if args.out else Path(args.out_dir or ".") / name
    if prefix.suffix.lower() in (".png", ".gif"):
        prefix = prefix.with_suffix("")
    refuse_existing([prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".gif")], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    y, names = _run_class(G, args.class_)
    walk = walk_direction(G, seeds, args.direction, steps=args.steps, span=args.span, truncation=psi, y=y,
                          layers=args.layers, batch_size=args.batch_size, noise_mode=args.noise_mode)
    png, gif = save_direction_walk(walk, prefix, ms_per_frame=frame_ms,
                                   class_label=names[y] if y is not None and names else None)
    print(f"wrote {png}   ({len(seeds)} seed(s) x {args.steps} steps along direction {args.direction}, "
          f"{-args.span:+g} to {args.span:+g} standard deviations)")
    print(f"wrote {gif}   (animation there and back)")
    return 0


def cmd_arithmetic(args: argparse.Namespace) -> int:
    from .. import api
    from ..generator import check_batch_size, check_seed
    from ..images import refuse_existing
    from ..latent import num_classes
    from ..tools import arithmetic, latent_space, run_class_names, save_arithmetic
    from ..tools.directions import parse_edits

    check_seed(args.seed)
    check_batch_size(args.batch_size)
    refuse_existing([args.out], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    space = latent_space(G, args.space).name
    evaluator, why = _evaluator_for(args.run, args.device)
    if num_classes(G):
        names = run_class_names(G)
    else:
        names = evaluator.class_names if evaluator else run_class_names(G)
    res = arithmetic(G, args.expression, class_names=names, classify=evaluator.classify if evaluator else None,
                     noise_mode=args.noise_mode,
                     exemplars=args.exemplars, pool=args.pool, results=args.results, noise=args.noise,
                     seed=args.seed, result_class=args.class_, batch_size=args.batch_size, evaluator_hint=why,
                     classify_names=evaluator.class_names if evaluator else None, space=space,
                     along=parse_edits(args.along, "--along") if args.along else None, along_layers=args.layers)
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
    from .. import api
    from ..data import load_data
    from ..data.fingerprint import relocated
    from ..generator import check_batch_size, check_seed
    from ..images import refuse_existing
    from ..tools import neighbours, save_neighbours
    from ..tools.nearest import check_neighbours

    check_seed(args.seed)
    psi = _truncation(args)
    check_batch_size(args.batch_size)
    check_neighbours(args.n, args.k, features=not args.no_features)
    refuse_existing([args.out], args.overwrite)
    G = api.load_generator(args.run, device=args.device)
    cfg = api.load_run_config(args.run)
    if args.data_dir:
        cfg.data.data_dir = args.data_dir
    cfg.data, check = relocated(cfg.data, args.data, G.data_fingerprint)
    data = load_data(cfg.data, progress=not args.json)
    check(data.images)
    if args.no_features:
        evaluator, why = None, "--no-features"
    else:
        evaluator, why = _evaluator_for(args.run, args.device)
    res = neighbours(G, data.images, n=args.n, k=args.k, seed=args.seed, truncation=psi, noise_mode=args.noise_mode,
                     features=evaluator.features if evaluator else None,
                     feature_name=evaluator.name if evaluator else "", skipped=why, batch_size=args.batch_size)
    out = save_neighbours(res, data.images, args.out)
    if args.json:
        print(json.dumps({**res.to_dict(), "figure": str(out), "train_images": len(data)}, indent=2))
        return 0
    nearest = res.pixel_dist[:, 0]
    print(f"  {args.n} generated images vs {len(data)} training images ({data.name}); nearest pixel L2 "
          f"distance: min {nearest.min():.0f}, median {nearest.median():.0f} (a training image's nearest "
          f"other: median {res.pixel_scale:.0f})")
    if res.feature_idx is None:
        print(f"  feature space skipped: {why}")
    else:
        nearest = res.feature_dist[:, 0]
        print(f"  in {res.feature_name} features: min {nearest.min():.2f}, median {nearest.median():.2f} "
              f"(training images: median {res.feature_scale:.2f})")
    print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .. import api
    from ..export import check_export_path, default_export_path, export_generator, sidecar_path
    from ..images import refuse_existing
    from ..tools import run_class_names

    path = check_export_path(args.out or default_export_path(args.run, args.format, args.synthesis), args.format)
    refuse_existing([path, sidecar_path(path)], args.overwrite)
    G = api.load_generator(args.run)
    config = api.load_run_config(args.run).to_dict()
    rep = export_generator(G, path, args.format, config=config, class_names=run_class_names(G),
                           check=not args.no_check, synthesis=args.synthesis)
    shape = f"{G.img_channels}, {G.img_size}, {G.img_size}"
    inputs = f"z (N, {G.z_dim})" + (" and y (N,) int64" if getattr(G, "num_classes", 0) else "")
    if args.synthesis:
        inputs = f"ws (N, {G.num_ws}, {G.w_dim})"
    print(f"wrote {rep['path']}   ({args.format}: {inputs} -> images (N, {shape}), {G.output} range)")
    print(f"wrote {rep['sidecar']}   (inputs, output range, class names, mapping to uint8)")
    if rep["max_abs_diff"] is not None:
        print(f"  checked: {rep['checked']}, max |difference| from PyTorch = {rep['max_abs_diff']:.2e}")
    elif not args.no_check:
        print(f"  {rep['checked']}")
    return 0


COMMANDS = {"interpolate": cmd_interpolate, "arithmetic": cmd_arithmetic, "neighbours": cmd_neighbours,
            "neighbors": cmd_neighbours, "export": cmd_export}
