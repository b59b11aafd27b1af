"""The ``ganforge`` command: parses flags and calls the API. No training logic here.

One module per group of subcommands: :mod:`.train` (train, generate, presets),
:mod:`.evaluate` (evaluate, evaluator), :mod:`.tools` (interpolate, arithmetic,
neighbours, export), :mod:`.style` (style-mix, project), :mod:`.runs` (runs, report) and
:mod:`.explore` (explore, directions); each adds its parsers and names its commands.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..errors import GanforgeError
from . import data, evaluate, explore, runs, style, tools, train
from .common import EXIT_INTERRUPTED, EXIT_USAGE, _Formatter

GROUPS = (train, data, evaluate, tools, style, runs, explore)
COMMANDS = {name: fn for group in GROUPS for name, fn in group.COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ganforge",
        description="Train generative adversarial networks on images and use the trained generator.",
        epilog="Run 'ganforge COMMAND --help' for a command's flags. Quick start: ganforge train --minutes 3",
        formatter_class=_Formatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.add_parsers(sub)
    p.subcommands = sub.choices  # name -> its parser, to report a stray argument as that command's error
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse would blame 'ganforge'; the user typed it for the subcommand
        where = parser.subcommands.get(args.command, parser) if args.command else parser
        where.error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except GanforgeError as e:
        print(f"ganforge {args.command}: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", EXIT_USAGE)
    except BrokenPipeError:
        # whoever read the output stopped reading (`ganforge runs | head -1`): end quietly, as
        # Unix tools do, and point stdout at /dev/null so that Python's own flush at exit is quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE
    except KeyboardInterrupt as e:
        # a second Ctrl-C or SIGTERM while stopping (see train.stopping.StopNow) says which it was
        signum = getattr(e, "signum", None)
        print("interrupted", file=sys.stderr)
        return 128 + signum if signum else EXIT_INTERRUPTED
