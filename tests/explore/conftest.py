"""Runs for the explore tests, trained once per session through the CLI (2 steps, tiny models):
a StyleGAN2 run (16 px) and a conditional DCGAN run (28 px), and servers on free ports."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from ganforge.cli import main
from exploretest_util import running
from gf_helpers import make_images

TINY_STYLEGAN = ["--preset", "stylegan2", "--size", "16", "--z-dim", "16", "--w-dim", "16", "--mapping-layers", "2",
                 "--channel-base", "128", "--channel-max", "8"]
TINY_DCGAN = ["--preset", "dcgan", "--conditional", "--z-dim", "8", "--g-channels", "16", "--d-channels", "8"]


def _train(root, name: str, flags: list[str], labels: bool) -> str:
    data = root / f"{name}.npz"
    size = 16 if "stylegan2" in flags else 28
    extra = {"labels": np.arange(24) % 3} if labels else {}
    np.savez(data, images=make_images(24, size=size), **extra)
    out = root / name
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["train", *flags, "--data", str(data), "--batch-size", "4", "--steps", "2", "--n-fixed", "4",
                     "--no-progress", "--precision", "fp32", "--device", "cpu", "--eval-minutes", "0",
                     "--out", str(out)])
    assert code == 0
    return str(out)


@pytest.fixture(scope="session")
def style_run(tmp_path_factory) -> str:
    return _train(tmp_path_factory.mktemp("explore-runs"), "stylegan", TINY_STYLEGAN, labels=False)


@pytest.fixture(scope="session")
def dcgan_run(tmp_path_factory) -> str:
    return _train(tmp_path_factory.mktemp("explore-runs"), "dcgan", TINY_DCGAN, labels=True)


@pytest.fixture(scope="session")
def style_explorer(style_run):
    from ganforge.explore import Explorer

    return Explorer(style_run, project_steps=12)


@pytest.fixture(scope="session")
def dcgan_explorer(dcgan_run):
    from ganforge.explore import Explorer

    return Explorer(dcgan_run)


@pytest.fixture(scope="module")
def style_server(style_explorer, tmp_path_factory):
    with running(style_explorer, tmp_path_factory.mktemp("uploads")) as (url, httpd):
        yield url, httpd
