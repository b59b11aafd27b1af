"""The page's server without a browser: every view answers with an image and a command that really
makes that image, bad requests get one line, nothing reads a path from a request, uploads are
checked, and each page's uploads are its own."""
from __future__ import annotations

import base64
import io
import json
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from exploretest_util import png_pixels, run_shown
from ganforge.explore import App

H = {"Host": "127.0.0.1:1", "X-Ganforge": "1"}


@pytest.fixture(scope="module")
def style_app(style_explorer, tmp_path_factory):
    app = App(style_explorer, tmp_path_factory.mktemp("up"), {"127.0.0.1:1"})
    yield app
    app.close()


@pytest.fixture(scope="module")
def dcgan_app(dcgan_explorer, tmp_path_factory):
    app = App(dcgan_explorer, tmp_path_factory.mktemp("up"), {"127.0.0.1:1"})
    yield app
    app.close()


def call(app, method, target, body=b"", headers=None):
    resp = app.dispatch(method, target, headers or H, body, len(body))
    return resp.status, (json.loads(resp.body) if resp.ctype == "application/json" else resp.body)


def session(app) -> str:
    status, data = call(app, "POST", "/api/session")
    assert status == 200 and "error" not in data, data
    return data["sid"]


def pixels(data_url_or_png) -> np.ndarray:
    raw = data_url_or_png
    if isinstance(raw, str):
        raw = base64.b64decode(raw.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def test_session_info_describes_the_run(style_app, dcgan_app):
    _, info = call(style_app, "POST", "/api/session")
    assert info["w_space"] and info["num_ws"] == 6 and info["directions"]["method"] == "sefa"
    assert info["sliders"] == 8 and not info["classes"]
    _, info2 = call(dcgan_app, "POST", "/api/session")
    assert not info2["w_space"] and info2["directions"]["method"] == "pca" and len(info2["classes"]) == 3
    assert info["sid"] != info2["sid"] and len(info["sid"]) >= 20


@pytest.mark.parametrize("view", ["sample", "sample-edited", "mix", "interp", "figure"])
def test_every_view_shows_a_command_that_makes_its_image(cli, style_app, tmp_path, monkeypatch, view):
    sid = session(style_app)
    q = f"sid={sid}&seed=3&psi=0.7"
    target = {"sample": f"/api/sample?{q}", "sample-edited": f"/api/sample?{q}&layers=coarse&edits=0:1.5,2:-1",
              "mix": f"/api/mix?{q}&seed2=5&mix=fine", "interp": f"/api/interp?{q}&a=3&b=5&steps=4",
              "figure": f"/api/figure?{q}&layers=all"}[view]
    status, data = call(style_app, "GET", target)
    assert status == 200 and "error" not in data, data
    monkeypatch.chdir(tmp_path)
    run_shown(cli, data["command"])
    written = tmp_path / data["file"]
    assert written.is_file(), (data["command"], data["file"])
    if view.startswith("sample"):  # the page shows the image itself; "save PNG" is the command's file
        _, saved = call(style_app, "GET", data["download"])
        assert np.array_equal(pixels(saved), png_pixels(written))
        f = Image.open(written).width // 20  # `generate -n 1`: 16 px and a 2-px border, upscaled (nearest)
        assert np.array_equal(png_pixels(written)[2 * f::f, 2 * f::f][:16, :16], pixels(data["image"]))
    else:  # a figure: the page shows the command's own figure
        assert np.array_equal(pixels(data["image"]), png_pixels(written))


def test_a_grid_sample_is_the_seed_alone(cli, style_app, tmp_path):
    sid = session(style_app)
    status, data = call(style_app, "GET", f"/api/grid?sid={sid}&start=20&psi=0.5")
    assert status == 200 and data["seeds"] == list(range(20, 36)) and len(data["images"]) == 16
    assert "seq 20 35" in data["command"] and "--truncation 0.5" in data["command"]
    assert "--noise-mode const" in data["command"]
    code, _, err = cli("generate", style_app.ex.run, "-n", 1, "--seed", 27, "--truncation", 0.5, "--noise-mode",
                       "const", "--out", tmp_path / "g.npy")
    assert code == 0, err
    want = np.load(tmp_path / "g.npy")[0]
    got = pixels(data["images"][7])[..., :1]
    assert np.abs(want.astype(int) - got.astype(int)).max() <= 1  # a batch of 16 may round a level apart
    _, saved = call(style_app, "GET", data["download"])  # "save PNG": the 16 tiled 4 a row, as generate tiles
    tiled = pixels(saved)
    f = tiled.shape[1] // (2 + 4 * 18)
    assert data["file"] == "seeds-20-35.png" and tiled.shape[:2] == (74 * f, 74 * f)
    assert np.array_equal(tiled[(2 + 18) * f::f, (2 + 3 * 18) * f::f][:16, :16], got.repeat(3, axis=2))


def test_conditional_run_draws_the_class_asked_for(cli, dcgan_app, tmp_path, monkeypatch):
    sid = session(dcgan_app)
    _, a = call(dcgan_app, "GET", f"/api/sample?sid={sid}&seed=1&cls=0")
    _, b = call(dcgan_app, "GET", f"/api/sample?sid={sid}&seed=1&cls=2")
    assert "--class 2" in b["command"] and not np.array_equal(pixels(a["image"]), pixels(b["image"]))
    monkeypatch.chdir(tmp_path)
    run_shown(cli, b["command"])
    _, saved = call(dcgan_app, "GET", b["download"])
    assert np.array_equal(pixels(saved), png_pixels(tmp_path / b["file"]))
    _, c = call(dcgan_app, "GET", f"/api/sample?sid={sid}&seed=1&cls=2&edits=0:2")
    assert "ganforge directions" in c["command"] and "--edit 0=2" in c["command"]
    status, err = call(dcgan_app, "GET", f"/api/sample?sid={sid}&seed=1&cls=3")
    assert status == 200 and "cls" in err["error"]


@pytest.mark.parametrize("target, msg", [
    ("/api/sample?sid={sid}&seed=abc", "seed: expected a whole number"),
    ("/api/sample?sid={sid}&seed=-1", "seed: must be from 0"),
    ("/api/sample?sid={sid}&psi=nan", "psi: must be from 0 to 2"),
    ("/api/sample?sid={sid}&edits=0:1;rm", "edits: expected"),
    ("/api/sample?sid={sid}&edits=9:1", "edits: directions 0-7"),
    ("/api/sample?sid={sid}&layers=../../etc", "layers: all, coarse"),
    ("/api/sample?sid={sid}&src=/etc/passwd", "src: seed or upload"),
    ("/api/sample?sid={sid}&src=upload:../x", "no such upload"),
    ("/api/mix?sid={sid}&mix=all", "mix: coarse"),
    ("/api/interp?sid={sid}&steps=99", "steps: must be from 2 to 16"),
    ("/api/sample?sid=nope", "reload the page"),
    ("/api/grid", "reload the page"),
])
def test_bad_requests_get_one_line(style_app, target, msg):
    sid = session(style_app)
    status, data = call(style_app, "GET", target.format(sid=sid))
    assert status == 200 and msg in data["error"], data
    assert "\n" not in data["error"] and "Traceback" not in data["error"]


@pytest.mark.parametrize("method, target, headers, status", [
    ("GET", "/../../etc/passwd", H, 404), ("GET", "/static/../../pyproject.toml", H, 404),
    ("GET", "/index.html", H, 404), ("GET", "/", {"Host": "evil.example:1"}, 403),
    ("POST", "/api/session", {"Host": "127.0.0.1:1"}, 403), ("GET", "/api/session", H, 405),
])
def test_no_path_reaches_the_filesystem_and_strangers_are_refused(style_app, method, target, headers, status):
    got, data = call(style_app, method, target, headers=headers)
    assert got == status and "error" in data


def test_the_page_and_its_files_are_served_with_safety_headers(style_server):
    url, _ = style_server
    with urllib.request.urlopen(url + "/") as r:
        assert b"ganforge explore" in r.read() and "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("/app.js", "/style.css"):
        with urllib.request.urlopen(url + name) as r:
            assert r.status == 200 and len(r.read()) > 500


def png_of(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 80).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("body, msg", [
    (b"", "empty"), (b"hello, not a picture" * 10, "not a picture the page reads"),
    (png_of(20, 20)[:40], "damaged or cut short"), (png_of(8000, 6000), "megapixels"),
])
def test_a_bad_upload_gets_one_line(style_app, body, msg):
    sid = session(style_app)
    status, data = call(style_app, "POST", f"/api/upload?sid={sid}", body, {**H, "X-Filename": "a.png"})
    assert status == 200 and msg in data["error"] and "\n" not in data["error"]


def test_an_upload_too_big_is_refused_unread(style_server):
    url, _ = style_server
    req = urllib.request.Request(url + "/api/session", method="POST", headers={"X-Ganforge": "1"})
    sid = json.load(urllib.request.urlopen(req))["sid"]
    req = urllib.request.Request(f"{url}/api/upload?sid={sid}", method="POST", data=b"x" * (9 * 2 ** 20),
                                 headers={"X-Ganforge": "1", "Content-Type": "image/png"})
    assert "the page takes pictures of up to 8 MB" in json.load(urllib.request.urlopen(req))["error"]


def test_a_dcgan_run_refuses_uploads_and_style_mixing(dcgan_app):
    sid = session(dcgan_app)
    for method, target in (("POST", f"/api/upload?sid={sid}"), ("GET", f"/api/mix?sid={sid}")):
        status, data = call(dcgan_app, method, target, png_of(28, 28))
        assert status == 200 and "needs a style-based generator" in data["error"]


def wait_projected(app, sid, uid, timeout=60.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        _, st = call(app, "GET", f"/api/upload?sid={sid}&id={uid}")
        if st["state"] in ("done", "failed"):
            return st
        time.sleep(0.05)
    raise AssertionError("the projection did not finish")


def test_an_upload_is_projected_edited_and_mixed_and_the_commands_agree(cli, style_app, tmp_path, monkeypatch):
    sid, other = session(style_app), session(style_app)
    status, up = call(style_app, "POST", f"/api/upload?sid={sid}", png_of(24, 30),
                      {**H, "X-Filename": "my%20shoe%3B.png"})
    assert status == 200 and up["name"] == "my-shoe.png", up
    assert wait_projected(style_app, sid, up["id"]) == {"id": up["id"], "state": "done", "progress": 1.0, "error": ""}
    status, data = call(style_app, "GET", f"/api/sample?sid={sid}&src=upload:{up['id']}&edits=1:1")
    assert status == 200 and data["command"].startswith("ganforge project ")
    status, mix = call(style_app, "GET", f"/api/mix?sid={sid}&src=upload:{up['id']}&seed2=2&mix=coarse")
    assert status == 200 and "--rows projection-my-shoe/projected.pt" in mix["command"]
    # another page cannot see this page's upload
    status, err = call(style_app, "GET", f"/api/sample?sid={other}&src=upload:{up['id']}")
    assert status == 200 and "no such upload on this page" in err["error"]
    monkeypatch.chdir(tmp_path)
    Image.open(io.BytesIO(png_of(24, 30))).save(tmp_path / "my-shoe.png")
    run_shown(cli, data["command"])
    _, saved = call(style_app, "GET", data["download"])
    assert np.array_equal(pixels(saved), png_pixels(tmp_path / data["file"]))
    assert "--noise-mode const" in mix["command"]
    code, _, err = cli("style-mix", style_app.ex.run, "--rows", "projection-my-shoe/projected.pt", "--cols", 2,
                       "--layers", "coarse", "--noise-mode", "const", "--out", "m.png")
    assert code == 0, err
    assert np.array_equal(pixels(mix["image"]), png_pixels(tmp_path / "m.png"))
