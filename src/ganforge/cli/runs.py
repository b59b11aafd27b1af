"""``ganforge runs`` and ``ganforge report``: what the run folders hold, at a glance."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import GanforgeError
from .common import _Formatter


def add_parsers(sub) -> None:
    """The ``runs`` and ``report`` subcommands."""
    r = sub.add_parser("runs", help="list the runs in a folder: step, time, best FD, status",
                       formatter_class=_Formatter,
                       description="One line per run folder in DIR: name, preset, data, step reached, time\n"
                                   "trained, best FD (from the metrics logged with --eval-every, else best.pt;\n"
                                   "'-' where there is none) and status:\n"
                                   "  running      a live process is training it (it holds the folder's run.lock)\n"
                                   "  finished     it reached its --steps, --epochs or --minutes\n"
                                   "  interrupted  it stopped early: Ctrl-C, SIGTERM, a crash or a kill\n"
                                   "                (continue it with ganforge train --resume RUN)\n"
                                   "  unreadable   its files could not be read at all (the note under the table\n"
                                   "                says why)\n"
                                   "A run whose files are partly damaged (a log line that is not JSON, say) is\n"
                                   "listed from what could be read, with a note naming what was left out.",
                       epilog="examples:\n"
                              "  ganforge runs\n"
                              "  ganforge runs ~/experiments/runs --json")
    r.add_argument("dir", nargs="?", default="runs", metavar="DIR",
                   help="the folder holding the run folders, or one run folder (default: runs)")
    r.add_argument("--json", action="store_true",
                   help="machine-readable output: a list of {name, path, preset, data, step, time_s, best_fd, "
                        "status, problem}, with null for what is unknown (problem: what could not be read)")

    p = sub.add_parser("report", help="(re)write a run's report.html and print its path",
                       formatter_class=_Formatter,
                       description="Write RUN/report.html: one self-contained page (no network needed) with\n"
                                   "the latest samples, the fixed-noise grids over training behind a slider,\n"
                                   "losses and D outputs with the diagnostics' findings marked, the metrics\n"
                                   "with their protocol, img/s and the resolved config. Training rewrites it\n"
                                   "as it goes; this makes or refreshes it for any run, older ones included.",
                       epilog="example:\n"
                              "  ganforge report runs/00000-dcgan-fashion-mnist   (then open the path it prints)")
    p.add_argument("run", metavar="RUN_DIR", help="a run folder")


def cmd_runs(args: argparse.Namespace) -> int:
    from ..runs.status import list_runs, runs_table

    rows = list_runs(args.dir)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no runs in {args.dir} (a run folder holds config.json or checkpoint.pt)")
    else:
        print(runs_table(rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..runs.report import write_report
    from ..runs.status import is_run_dir

    run = Path(args.run)
    if not run.is_dir():
        raise GanforgeError(f"{run}: no such run folder")
    if not is_run_dir(run):
        raise GanforgeError(f"{run}: not a ganforge run folder (no config.json or checkpoint.pt)")
    problems: list[str] = []
    print(write_report(run, problems=problems))
    for p in problems:
        print(f"note: {run}: {p}", file=sys.stderr)
    return 0


COMMANDS = {"runs": cmd_runs, "report": cmd_report}
