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
