"""The page in a real browser (Debian's chromium driven by playwright): it loads, a click selects a
sample, the truncation and direction sliders change the image to exactly what the shown command
makes, an uploaded picture is projected with a progress bar, a bad one gets a line in the page,
and the console stays empty. The slider latency is measured and printed.

Skips, saying why, where the playwright package or a chromium binary is missing (`make test`
installs both where it can)."""
from __future__ import annotations

import base64
import io
import os
import shutil
import statistics

import numpy as np
import pytest
from PIL import Image

from exploretest_util import png_pixels, running, run_shown

CHROMIUM = os.environ.get("GANFORGE_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
# offline and quiet: no update checks, no sync, no GPU on a headless server
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
LATENCY_TARGET_MS = 200


def why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; it drives Debian's chromium)"
    if CHROMIUM is None:
        return "no chromium found (apt-get install chromium, or set GANFORGE_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = why_no_browser()
    if reason:
        print(f"\nbrowser tests skipped: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Error as e:
            msg = f"chromium at {CHROMIUM} does not start ({str(e).splitlines()[0][:160]})"
            print(f"\nbrowser tests skipped: {msg}")
            pytest.skip(msg)
        yield b
        b.close()


def open_page(browser, url):
    """The page loaded and drawn; the list that collects its console errors and warnings."""
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']")
    settle(page, "sample")
    settle(page, "grid")
    return page, problems


def settle(page, element_id: str) -> None:
    """Wait until the view's newest request is the one shown."""
    page.wait_for_function("(id) => { const e = document.getElementById(id); "
                           "return e.dataset.wanted && e.dataset.wanted === e.dataset.version; }", arg=element_id)


def shown(page, selector: str = "#sample") -> np.ndarray:
    src = page.get_attribute(selector, "src")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def interior(path, size: int) -> np.ndarray:
    """The image inside a `generate -n 1` file (a 2-px border, then upscaled by nearest)."""
    arr = png_pixels(path)
    f = arr.shape[1] // (size + 4)
    return arr[2 * f::f, 2 * f::f][:size, :size]


def move_slider(page, selector: str, key: str, times: int = 1) -> float:
    """Press an arrow key on a range input, as a user does; the latency the page measured, in ms."""
    page.focus(selector)
    for _ in range(times):
        page.keyboard.press(key)
    settle(page, "sample")
    return float(page.get_attribute("#sample", "data-latency-ms"))


def test_the_page_in_a_browser(browser, style_explorer, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with running(style_explorer, tmp_path / "uploads") as (url, _):
        (tmp_path / "uploads").mkdir(exist_ok=True)
        page, problems = open_page(browser, url)
        run = style_explorer.run
        # click a sample: it is selected and shown, and is `generate`'s image of that seed (with the
        # stored noise maps the page draws with, which its command names)
        page.click("#grid button[data-seed='5']")
        settle(page, "sample")
        assert page.inner_text("#selected-name") == "seed 5"
        assert "--noise-mode const" in page.inner_text("#sample-cmd")
        before = shown(page)
        code, _, err = cli("generate", run, "-n", 1, "--seed", 5, "--noise-mode", "const", "--out", "g.png")
        assert code == 0, err
        assert np.array_equal(before, interior("g.png", 16))
        # the truncation slider: a new image, equal to generate --truncation for that seed
        move_slider(page, "#psi", "ArrowLeft", 6)
        after = shown(page)
        assert "--truncation 0.7" in page.inner_text("#sample-cmd") and not np.array_equal(before, after)
        code, _, err = cli("generate", run, "-n", 1, "--seed", 5, "--truncation", 0.7, "--noise-mode", "const",
                           "--out", "g07.png")
        assert code == 0, err
        assert np.array_equal(after, interior("g07.png", 16))
        # a direction slider: the image the shown command writes
        latencies = [move_slider(page, "#dir-0", "ArrowRight") for _ in range(5)]
        latencies += [move_slider(page, "#dir-1", "ArrowLeft") for _ in range(5)]
        command = page.inner_text("#sample-cmd")
        assert "--edit 0=0.5 --edit 1=-0.5" in command
        run_shown(cli, command)
        assert np.array_equal(shown(page), interior(tmp_path / page.get_attribute("#sample-save", "download"), 16))
        settle(page, "mix")
        settle(page, "interp")
        assert "ganforge style-mix" in page.inner_text("#mix-cmd")
        print(f"\nslider latency (tiny 16-px StyleGAN2, {len(latencies)} moves): median "
              f"{statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms")
        assert statistics.median(latencies) < LATENCY_TARGET_MS
        upload_and_project(page, tmp_path)
        assert problems == []
        page.close()


def upload_and_project(page, tmp_path) -> None:
    """A picture is projected with a progress bar and becomes the selected sample; a file that is
    not a picture gets a line in the page."""
    page.evaluate("""() => { const bar = document.getElementById('proj-progress');
        new MutationObserver(() => { if (!bar.hidden) document.body.dataset.sawProgress = '1'; })
          .observe(bar, {attributes: true}); }""")
    picture = tmp_path / "blob.png"
    Image.fromarray((np.indices((40, 40)).sum(0) * 3).astype(np.uint8)).save(picture)
    before = shown(page)
    page.set_input_files("#file", str(picture))
    page.wait_for_selector("#uploads button")
    settle(page, "sample")
    assert page.inner_text("#selected-name") == "blob.png"
    assert page.get_attribute("body", "data-saw-progress") == "1"
    assert page.inner_text("#sample-cmd").startswith("ganforge project ")
    assert not np.array_equal(before, shown(page))
    page.set_input_files("#file", files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"just text"}])
    page.wait_for_selector("#msg.error")
    assert "not a picture the page reads" in page.inner_text("#msg")


def test_the_latency_benchmark_runs(browser, style_run, capsys):
    """benchmarks/explore_latency.py (the figures in docs/explore.md), 2 moves, in this browser."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "explore_latency.py"
    spec = importlib.util.spec_from_file_location("bench_explore_latency", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.run_one(browser, style_run, bench.parse_args([style_run, "--moves", "2", "--no-record"]))
    assert row["moves"] == 2 and row["console_errors"] == [] and row["median_ms"] > 0
    assert "slider to image median" in capsys.readouterr().out
