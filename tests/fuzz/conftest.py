"""Fixtures of the fuzz tests: an isolated cache with a tiny evaluator and no network, one tiny
trained run shared by the session, and the guards against absurd work."""
from __future__ import annotations

import numpy as np
import pytest

from fuzztest_util import install_guards
from gf_helpers import make_images


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/fuzz/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.fuzz)


@pytest.fixture(scope="session", autouse=True)
def fuzz_cache(tmp_path_factory):
    """GANFORGE_CACHE in a temp folder holding a random-weight fashion-mnist evaluator (what grey
    runs are scored with); downloads are disabled, so a bad input can never reach the network."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("cache")
    mp.setenv("GANFORGE_CACHE", str(root))
    mp.delenv("GANFORGE_INCEPTION", raising=False)
    import ganforge.data.download as download

    def no_network(url, dest, progress=True, *a, **k):
        raise download.DownloadError(f"{url}: network disabled in the fuzz tests")

    mp.setattr(download, "download_file", no_network)
    # The fuzz tests make thousands of CLI calls; building the argparse parser is most of the cost of
    # one that is refused early, so it is built once (parse_args leaves a parser as it found it).
    import ganforge.cli as cli

    parser = cli.build_parser()
    mp.setattr(cli, "build_parser", lambda: parser)
    from ganforge.metrics.networks import evaluator_path, random_evaluator, save_evaluator

    net, meta = random_evaluator("fashion-mnist")
    save_evaluator(net, meta, evaluator_path("fashion-mnist"))
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "blobs.npz"
    np.savez(path, images=make_images(64), labels=np.arange(64) % 4)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data, fuzz_cache):
    """A 1-step dcgan run (8 channels) on 64 grey 28x28 images; tests must not change it."""
    from ganforge.cli import main

    run = tmp_path_factory.mktemp("runs") / "tiny"
    code = main(["train", "--preset", "dcgan", "--data", str(tiny_data), "--steps", "1", "--out", str(run), "--g-channels", "8",
                 "--d-channels", "8", "--batch-size", "4", "--n-fixed", "4", "--precision", "fp32",
                 "--device", "cpu", "--no-progress", "--checkpoint-every", "1", "--log-every", "1",
                 "--sample-every", "1"])
    assert code == 0 and (run / "checkpoint.pt").is_file()
    return run


@pytest.fixture(scope="session")
def tiny_style_run(tmp_path_factory, fuzz_cache):
    """A 1-step stylegan2 run (16 px, 8 channels, w_dim 16) on 24 grey blobs; tests must not change it."""
    from gf_helpers import tiny_stylegan_run

    return tiny_stylegan_run(tmp_path_factory.mktemp("style-run"), steps=1)


@pytest.fixture(scope="session")
def picture(tmp_path_factory):
    """A 20x12 RGBA picture with transparent corners, for project."""
    from PIL import Image

    rgba = np.zeros((12, 20, 4), np.uint8)
    rgba[2:10, 4:16] = (250, 200, 30, 255)
    path = tmp_path_factory.mktemp("picture") / "picture.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


@pytest.fixture
def guards(monkeypatch):
    """Absurd work raises fuzztest_util.Attempted instead of running (see install_guards)."""
    install_guards(monkeypatch)


@pytest.fixture
def scratch(tmp_path):
    return tmp_path
