"""Helpers of the explore tests (imported by name: tests/explore/ is on sys.path)."""
from __future__ import annotations

import contextlib
import shlex
import threading

import numpy as np
from PIL import Image


@contextlib.contextmanager
def running(explorer, tmp_path):
    """A live server for ``explorer`` on a free loopback port, in a thread: yields its base URL."""
    from ganforge.explore import bind

    httpd = bind(explorer, "127.0.0.1", 0, tmp_path)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        httpd.app.close()


def run_shown(cli, command: str) -> None:
    """Run a command the page shows (``a && b`` too) in this process, as the user would paste it."""
    for part in command.split(" && "):
        argv = shlex.split(part)
        assert argv[0] == "ganforge"
        code, _, err = cli(*argv[1:])
        assert code == 0, f"{part}: {err}"


def png_pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))
