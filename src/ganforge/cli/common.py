"""Shared pieces of the ``ganforge`` subcommands: help formatting, exit codes, and the argument
helpers several commands use."""
from __future__ import annotations

import argparse

from ..errors import GanforgeError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; a run stopped by SIGTERM exits 143 (128 + the signal)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _truncation(args: argparse.Namespace) -> float | None:
    from ..latent import check_truncation

    return check_truncation(args.truncation)


def _run_class(G, class_arg: str | None) -> tuple[int | None, list[str] | None]:
    """--class resolved against a loaded G (None for unconditional runs), and the run's class names."""
    from ..latent import num_classes, resolve_class
    from ..tools import run_class_names

    names = run_class_names(G)
    k = num_classes(G)
    if not k:
        if class_arg is not None:
            raise GanforgeError("--class: this run's generator is unconditional; it takes no class")
        return None, names
    return resolve_class(class_arg if class_arg is not None else 0, names, k), names


def _evaluator_for(run: str, device: str):
    from .. import api
    from ..data import data_name
    from ..tools import find_evaluator

    return find_evaluator(data_name(api.load_run_config(run).data), device)


# --------------------------------------------------------------------------- flags several commands share
DEVICE_HELP = "cpu, cuda, cuda:N or auto (default: cpu)"


def add_run_flags(q: argparse.ArgumentParser, *, run_help: str = "a run folder or a checkpoint file",
                  overwrite_help: str = "replace output files that already exist",
                  batch_size: int | None = 256) -> None:
    """The run a command uses and how it runs G: RUN_DIR_OR_CKPT, --device, --batch-size (unless
    None) and --overwrite."""
    q.add_argument("run", metavar="RUN_DIR_OR_CKPT", help=run_help)
    q.add_argument("--device", default="cpu", help=DEVICE_HELP)
    if batch_size is not None:
        q.add_argument("--batch-size", type=int, default=batch_size,
                       help=f"images per forward pass (default: {batch_size})")
    q.add_argument("--overwrite", action="store_true", help=overwrite_help)


def add_truncation_flag(q: argparse.ArgumentParser, help: str) -> None:
    q.add_argument("--truncation", type=float, default=None, metavar="PSI", help=help)


NOISE_HELP = ("StyleGAN2's layer noise: random (a fresh draw; {random}), const (the stored maps: what the fixed "
              "grids of training show) or none (default: {default}); other generators have no noise")


def add_noise_flag(q: argparse.ArgumentParser, random: str, default: str = "random") -> None:
    q.add_argument("--noise-mode", default=default, choices=("random", "const", "none"),
                   help=NOISE_HELP.format(random=random, default=default))


def add_class_flag(q: argparse.ArgumentParser, help: str) -> None:
    q.add_argument("--class", dest="class_", metavar="NAME|ID", default=None, help=help)


def add_space_flag(q: argparse.ArgumentParser, help: str) -> None:
    q.add_argument("--space", default=None, choices=("w", "z"), help=help)


def add_data_location_flags(q: argparse.ArgumentParser, data_help: str, data_dir_help: str) -> None:
    """--data PATH and --data-dir DIR: where a run's (or a named) data set is now."""
    q.add_argument("--data-dir", metavar="DIR", default=None, help=data_dir_help)
    q.add_argument("--data", metavar="PATH", default=None, help=data_help)
