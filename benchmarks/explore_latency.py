"""How long a slider move takes to show its image on `ganforge explore`'s page, in a real browser.

    python benchmarks/explore_latency.py RUN [RUN ...]                 # 20 moves each, idle server
    python benchmarks/explore_latency.py RUN --busy                    # while another page projects
    python benchmarks/explore_latency.py RUN --screenshot docs/x.png [--upload picture.png]

For each run: the page is served in this process (as ``ganforge explore`` serves it), opened in
headless Chromium (Debian's, driven by playwright), sample seed 3 is clicked, and the direction
sliders are moved with the arrow keys, one key press at a time, waiting for each image. The
latency is what the page itself measures: from the slider's input event to the new image decoded
and on screen (the request, the forward pass, the PNG, the JSON and the decode). ``--busy`` first
starts a projection of a picture in a second page (StyleGAN2 runs), the heaviest thing another
user can do. Results are printed and appended, with machine info, to
benchmarks/results/explore_latency.jsonl (not with --no-record).
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402  (benchmarks/machine.py)

RESULTS = Path(__file__).resolve().parent / "results" / "explore_latency.jsonl"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SETTLED = ("(id) => { const e = document.getElementById(id); "
           "return e.dataset.wanted && e.dataset.wanted === e.dataset.version; }")


def serve(run: str, root: Path, project_steps: int):
    from ganforge.explore import Explorer, bind

    ex = Explorer(run, project_steps=project_steps)
    httpd = bind(ex, "127.0.0.1", 0, root)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return ex, httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def start_projection(url: str) -> None:
    """A second page uploads a picture: its projection runs while the first page's sliders move."""
    from PIL import Image

    def post(path, body=b"", headers=None):
        req = urllib.request.Request(url + path, data=body, method="POST",
                                     headers={"X-Ganforge": "1", **(headers or {})})
        return json.load(urllib.request.urlopen(req))

    sid = post("/api/session")["sid"]
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((64, 64)).save(buf, format="PNG")
    up = post(f"/api/upload?sid={sid}", buf.getvalue(), {"X-Filename": "busy.png"})
    while json.load(urllib.request.urlopen(f"{url}/api/upload?sid={sid}&id={up['id']}"))["progress"] == 0:
        time.sleep(0.02)


def measure(page, moves: int, sliders: int) -> list[float]:
    out = []
    for i in range(moves):
        page.focus(f"#dir-{i % sliders}")
        page.keyboard.press("ArrowRight" if (i // sliders) % 2 == 0 else "ArrowLeft")
        page.wait_for_function(SETTLED, arg="sample")
        out.append(float(page.get_attribute("#sample", "data-latency-ms")))
    return out


def screenshot(page, ex, path: Path, upload: str | None) -> None:
    """The page in a typical state: a sample selected and moved along a direction, a second seed,
    the directions figure open, and on a StyleGAN2 run an uploaded picture projected and selected."""
    page.click("#grid button[data-seed='6']", modifiers=["Shift"])
    page.focus("#dir-0")
    for _ in range(15):  # +1.5 standard deviations along the strongest direction
        page.keyboard.press("ArrowRight")
    page.click("#show-figure")
    if upload and ex.w_space:
        page.set_input_files("#file", upload)
        page.wait_for_selector("#uploads button", timeout=600_000)
    for view in ("sample", "mix", "interp", "figure"):
        if ex.w_space or view != "mix":
            page.wait_for_function(SETTLED, arg=view)
    page.wait_for_timeout(300)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path}")


def run_one(browser, run: str, args) -> dict:
    root = Path(tempfile.mkdtemp(prefix="explore-bench-"))
    try:
        ex, httpd, url = serve(run, root, args.project_steps)
        try:
            if args.busy and ex.w_space:
                start_projection(url)
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            page.click("#grid button[data-seed='3']")
            page.wait_for_function(SETTLED, arg="sample")
            ms = measure(page, args.moves, min(3, ex.slider_count(ex.directions("all"))))
            if args.screenshot:
                screenshot(page, ex, Path(args.screenshot), args.upload)
            page.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
            httpd.app.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    row = {"run": run, "family": type(ex.G).__name__, "img_size": int(ex.G.img_size),
           "busy": bool(args.busy and ex.w_space),
           "moves": len(ms), "median_ms": round(statistics.median(ms), 1),
           "p90_ms": round(sorted(ms)[int(0.9 * (len(ms) - 1))], 1), "max_ms": round(max(ms), 1),
           "all_ms": [round(m, 1) for m in ms], "console_errors": errors}
    print(f"{run}: {row['family']} {row['img_size']} px{' (busy: a projection running)' if row['busy'] else ''}: "
          f"slider to image median {row['median_ms']:.0f} ms, p90 {row['p90_ms']:.0f} ms, max {row['max_ms']:.0f} ms "
          f"over {len(ms)} moves")
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--moves", type=int, default=20)
    p.add_argument("--busy", action="store_true", help="measure while another page projects a picture")
    p.add_argument("--project-steps", type=int, default=200)
    p.add_argument("--screenshot", default=None, metavar="PNG", help="(one run) save the page as PNG")
    p.add_argument("--upload", default=None, metavar="IMAGE", help="with --screenshot: project this picture first")
    p.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    p.add_argument("--no-record", action="store_true", help="print only; do not append to the results file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.chromium:
        print("no chromium found (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    t0 = time.time()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=ARGS)
        rows = [run_one(browser, run, args) for run in args.runs]
        browser.close()
    if not args.no_record:
        rec = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
               "args": " ".join(sys.argv[1:] if argv is None else argv), "seconds": round(time.time() - t0),
               "rows": rows}
        with open(RESULTS, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
