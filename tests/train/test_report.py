"""report.html: built from the run folder, self-contained, and it renders in a real browser.

The browser tests open the page in headless Chromium (Debian's ``chromium``; ``make test`` installs
it where it can) and skip, saying why, only where no Chromium can be found."""
from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from ganforge import api
from ganforge.runs import report
from ganforge.runs.monitor import read_log
from test_loop import small_cfg

BROWSER = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_browser = pytest.mark.skipif(BROWSER is None, reason="no chromium found (apt-get install chromium)")
WINDOW = (1200, 900)


def open_in_browser(page, tmp_path) -> dict:
    """Render ``page`` in headless Chromium: its DOM after the scripts ran, the console lines it
    printed and a screenshot (a PIL image) of the first WINDOW pixels."""
    shot = tmp_path / "shot.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=60)
    body = re.search(r"<body([^>]*)>", proc.stdout)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1))) if body else {}
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return {"attrs": attrs, "console": console, "shot": Image.open(shot).convert("RGB") if shot.exists() else None,
            "stderr": proc.stderr}


def page_problems(result, expected: Image.Image) -> list[str]:
    """What is wrong with a rendered page: script errors, console output, a page that did not
    finish drawing, or a latest-samples region that does not show ``expected`` (the newest grid)."""
    problems = [f"console: {line}" for line in result["console"]]
    if result["attrs"].get("data-errors"):
        problems.append(f"script error: {result['attrs']['data-errors']}")
    if result["attrs"].get("data-rendered") != "ok":
        problems.append("the page did not finish drawing (no data-rendered=ok)")
    rect = result["attrs"].get("data-samples-rect")
    if not rect:
        problems.append("no latest-samples image on the page")
    elif result["shot"] is None:
        problems.append("no screenshot")
    else:
        x, y, w, h = map(int, rect.split(","))
        region = np.asarray(result["shot"].crop((x, y, x + w, y + h)), dtype=np.float32)
        background = np.asarray(result["shot"].crop((2, WINDOW[1] - 12, 12, WINDOW[1] - 2)), np.float32).mean((0, 1))
        if w < 50 or h < 50 or region.size == 0:
            problems.append(f"the samples image is tiny or off screen ({rect})")
        elif region.std() < 5 or np.abs(region - background).max() < 10:
            problems.append(f"the samples region {rect} is flat: no image shown (std {region.std():.1f})")
        else:  # the pixels there are the grid's own (scaled): compare them
            want = np.asarray(expected.convert("L").resize((w, h), Image.NEAREST), np.float32).ravel()
            got = region.mean(2).ravel()
            r = float(np.corrcoef(want, got)[0, 1]) if want.std() > 0 and got.std() > 0 else 0.0
            if r < 0.9:
                problems.append(f"the samples region {rect} does not show the latest grid (correlation {r:.2f})")
    return problems


def latest_grid(run) -> Image.Image:
    return Image.open(sorted((run / "samples").glob("step-*.png"))[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny finished run (one fixed-noise grid per step), shared by this file's tests."""
    tmp = tmp_path_factory.mktemp("report")
    npz = tmp / "tiny.npz"
    from gf_helpers import make_images

    np.savez(npz, images=make_images(48), labels=np.arange(48) % 4)
    cfg = small_cfg(npz, **{"train.steps": 4, "train.sample_every": 1, "train.log_every": 1, "train.n_fixed": 16})
    api.train(cfg, tmp / "run", progress=False, log=lambda *_: None)
    return tmp / "run"


def test_training_writes_a_self_contained_page(trained):
    page = trained / "report.html"
    text = page.read_text()
    # no network at all: no external scripts, styles, fonts or images
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import|<link\b", text, re.I)
    data = json.loads(re.search(r'<script type="application/json" id="run-data">(.*?)</script>', text, re.S).group(1))
    assert data["status"] == "finished" and data["step"] == 4 and data["name"] == "run"
    assert [f["step"] for f in data["frames"]] == [0, 1, 2, 3, 4]
    last = Image.open(io.BytesIO(base64.b64decode(data["frames"][-1]["src"].split(",", 1)[1])))
    assert last.size == (data["frames"][-1]["w"], data["frames"][-1]["h"])
    assert [row[0] for row in data["train"]["rows"]] == [1, 2, 3, 4]
    assert data["config"]["train"]["steps"] == 4 and data["config"]["preset"] == "dcgan"


@needs_browser
def test_the_page_renders_in_a_browser_with_its_images_and_no_errors(trained, tmp_path):
    t0 = time.monotonic()
    result = open_in_browser(trained / "report.html", tmp_path)
    assert page_problems(result, latest_grid(trained)) == [], result["stderr"][-2000:]
    assert time.monotonic() - t0 < 30


@needs_browser
def test_the_browser_check_catches_a_script_error(trained, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text((trained / "report.html").read_text().replace(
        'document.body.dataset.rendered = "ok"', 'drawNothing(); document.body.dataset.rendered = "ok"'))
    problems = page_problems(open_in_browser(broken, tmp_path), latest_grid(trained))
    assert any("drawNothing" in p for p in problems), problems


@needs_browser
def test_the_browser_check_catches_missing_images(trained, tmp_path):
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", (trained / "report.html").read_text()))
    problems = page_problems(open_in_browser(bare, tmp_path), latest_grid(trained))
    assert any("flat" in p or "does not show" in p for p in problems), problems


def _write_pngs(folder, n, size=256):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(folder / f"step-{i * 10:07d}.png")


def test_the_slider_keeps_a_capped_spread_of_frames_the_newest_included(tmp_path):
    _write_pngs(tmp_path / "samples", 100, size=64)
    frames, total = report.sample_frames(tmp_path, max_frames=12)
    steps = [f["step"] for f in frames]
    assert total == 100 and len(frames) == 12 and steps[0] == 0 and steps[-1] == 990
    assert steps == sorted(steps) and max(np.diff(steps)) - min(np.diff(steps)) <= 10
    # a byte budget smaller than the frames: fewer of them, still the first and the last
    size = (tmp_path / "samples" / "step-0000000.png").stat().st_size
    frames, _ = report.sample_frames(tmp_path, max_frames=60, budget=5 * size)
    assert len(frames) == 5 and frames[-1]["step"] == 990


def test_the_page_of_a_run_with_100_grids_stays_small(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"preset": "dcgan", "data": {"source": "fashion-mnist"},
                                                      "train": {"steps": 1000}}))
    (tmp_path / "log.jsonl").write_text("".join(json.dumps({"step": s, "d_loss": 1.0, "g_loss": 0.5}) + "\n"
                                                for s in range(10, 1001, 10)))
    _write_pngs(tmp_path / "samples", 100)  # incompressible 256x256: ~65 KB each, 6.5 MB in all
    path = report.write_report(tmp_path)
    data_size = path.stat().st_size
    assert data_size < 7 << 20, data_size  # the frame budget (4 MB of PNG, base64) and not all 6.5 MB
    data = report.gather(tmp_path)
    assert data["frames_total"] == 100 and 2 <= len(data["frames"]) < 100 and data["frames"][-1]["step"] == 990


def test_nonfinite_values_and_events_reach_the_page_as_json(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    lines = [{"step": 1, "d_loss": 0.5, "g_loss": 1.0},
             {"step": 2, "d_loss": None, "g_loss": 1.0, "nonfinite": ["d_loss"]},
             {"step": 2, "event": "diagnostic", "kind": "nan", "message": "the D loss became nan",
              "suggestion": "halve the learning rates", "applied": ["rolled back to step 1"]},
             {"step": 2, "event": "eval", "fd": 12.5, "kid": 0.01, "protocol": {"feature_network": "x </script>"}}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    text = report.render(report.gather(tmp_path))
    assert text.count("</script>") == 2  # the page's own two: the data cannot close its element
    data = report.gather(tmp_path)
    assert data["train"]["rows"][1][data["train"]["cols"].index("d_loss")] is None
    assert data["findings"][0]["kind"] == "nan" and data["evals"]["keys"][:2] == ["fd", "kid"]
    assert data["evals"]["protocol"] == {"feature_network": "x </script>"}
    assert data["best_fd"] == 12.5


def test_ganforge_report_writes_the_page_of_an_older_run(cli, trained, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(trained, old)
    (old / "report.html").unlink()
    (old / "run.lock").unlink()  # made before run.lock existed
    code, out, err = cli("report", old)
    assert code == 0, err
    assert out.strip() == str(old / "report.html") and (old / "report.html").is_file()
    assert '"status":"finished"' in (old / "report.html").read_text()
    assert len(read_log(old)) == 4  # the run folder is only read
    code, _, err = cli("report", tmp_path / "nothing")
    assert code == 2 and "no such run folder" in err and "Traceback" not in err
    code, _, err = cli("report", tmp_path)
    assert code == 2 and "not a ganforge run folder" in err


def test_training_refreshes_the_page_at_most_every_few_seconds_and_only_on_the_main_process(tmp_path, monkeypatch):
    from ganforge.context import RunContext

    writes = []
    monkeypatch.setattr(report, "write_report", lambda run_dir, status=None: writes.append(status))
    session = report.RunSession(tmp_path, RunContext(), every_s=3600)
    for step in range(5):  # five sample grids within the interval: one page
        assert session.samples_saved(tmp_path / f"step-{step}.png") == tmp_path / f"step-{step}.png"
    assert writes == [None]
    session.finish(interrupted=True, step=7)  # the last page always, with the status it ends in
    assert writes == [None, "interrupted"]
    assert json.loads((tmp_path / "run.lock").read_text())["step"] == 7

    other = tmp_path / "rank1"
    other.mkdir()
    session = report.RunSession(other, RunContext(rank=1, world_size=2, any_fn=bool), every_s=0)
    session.samples_saved(None)
    session.finish(interrupted=False, step=1)
    assert writes == [None, "interrupted"] and list(other.iterdir()) == []
