"""The server as a whole: the render queue batches and drops stale requests, a projection does not
hold up another page, Ctrl-C stops it cleanly, and --host warns."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
import torch

from ganforge.explore.queue import Job, RenderQueue, Superseded


def test_the_queue_batches_waiting_images_and_drops_a_superseded_one():
    release, drawn = threading.Event(), []

    def draw(points, y):
        drawn.append(points.shape[0])
        release.wait(5)
        return torch.zeros(points.shape[0], 1, 2, 2, dtype=torch.uint8)

    q = RenderQueue(draw)
    try:
        first = q.submit(("a", "sample"), Job(points=lambda: torch.zeros(1, 3)))
        time.sleep(0.1)  # the worker is inside draw() with the first job
        old = q.submit(("b", "sample"), Job(points=lambda: torch.zeros(1, 3)))
        figure = q.submit(("c", "mix"), Job(call=lambda: "figure"))
        other = q.submit(("c", "sample"), Job(points=lambda: torch.zeros(4, 3)))
        new = q.submit(("b", "sample"), Job(points=lambda: torch.zeros(1, 3)))
        release.set()
        with pytest.raises(Superseded):
            old.wait(5)
        assert first.wait(5).shape[0] == 1 and other.wait(5).shape[0] == 4 and new.wait(5).shape[0] == 1
        assert figure.wait(5) == "figure"
        assert drawn == [1, 5]  # the two waiting image requests of two pages in one forward pass, before the figure
    finally:
        q.stop()


def test_a_failing_request_fails_alone():
    q = RenderQueue(lambda p, y: torch.zeros(p.shape[0], 1, 1, 1, dtype=torch.uint8))
    try:
        def bad():
            raise ValueError("boom")
        good = q.submit("a", Job(points=lambda: torch.zeros(2, 3)))
        broken = q.submit("b", Job(points=bad))
        assert good.wait(5).shape[0] == 2
        with pytest.raises(Exception, match="internal error"):
            broken.wait(5)
    finally:
        q.stop()


def post(url, path, body=b"", headers=None):
    req = urllib.request.Request(url + path, data=body, method="POST", headers={"X-Ganforge": "1", **(headers or {})})
    return json.load(urllib.request.urlopen(req))


def get(url, path):
    return json.load(urllib.request.urlopen(url + path))


def test_a_projection_does_not_hold_up_another_page(style_run, tmp_path):
    import io

    from PIL import Image

    from ganforge.explore import Explorer
    from exploretest_util import running

    ex = Explorer(style_run, project_steps=3000)  # long enough to be running while the other page asks
    with running(ex, tmp_path) as (url, httpd):
        a, b = post(url, "/api/session")["sid"], post(url, "/api/session")["sid"]
        buf = io.BytesIO()
        Image.new("L", (16, 16), 200).save(buf, format="PNG")
        up = post(url, f"/api/upload?sid={a}", buf.getvalue(), {"X-Filename": "x.png"})
        while get(url, f"/api/upload?sid={a}&id={up['id']}")["progress"] == 0:
            time.sleep(0.01)
        t0 = time.perf_counter()
        for seed in range(5):
            assert "image" in get(url, f"/api/sample?sid={b}&seed={seed}")
        took = time.perf_counter() - t0
        st = get(url, f"/api/upload?sid={a}&id={up['id']}")
        assert st["state"] == "running" and 0 < st["progress"] < 1, st  # still projecting, and it was meanwhile
        print(f"\n5 images for another page during a projection: {1000 * took / 5:.0f} ms each")


def start_explore(run, tmp_path, *extra):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "explore", run, "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert "serving" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split(" at ")[1].split()[0].rstrip("/")


def test_ctrl_c_stops_it_cleanly_and_removes_the_uploads(style_run, tmp_path):
    proc, url = start_explore(style_run, tmp_path)
    try:
        assert url.startswith("http://127.0.0.1:")
        sid = post(url, "/api/session")["sid"]
        assert "image" in get(url, f"/api/sample?sid={sid}&seed=1")
        assert any(p.name.startswith("ganforge-explore-") for p in tmp_path.iterdir())
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert err.strip().endswith("stopped") and "Traceback" not in err
    assert not any(p.name.startswith("ganforge-explore-") for p in tmp_path.iterdir())
    print(f"\nstopped {time.perf_counter() - t0:.2f} s after Ctrl-C")


def test_host_other_than_loopback_prints_a_warning(cli, style_run, monkeypatch):
    import ganforge.explore

    seen = {}
    monkeypatch.setattr(ganforge.explore, "serve", lambda ex, host, port, announce: seen.update(host=host))
    code, _, err = cli("explore", style_run, "--host", "0.0.0.0")
    assert code == 0 and seen["host"] == "0.0.0.0"
    assert "warning: --host 0.0.0.0" in err and "no password" in err
    code, _, err = cli("explore", style_run)
    assert code == 0 and seen["host"] == "127.0.0.1" and "warning" not in err


def test_a_port_in_use_is_one_line(cli, style_run):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code, _, err = cli("explore", style_run, "--port", s.getsockname()[1])
    assert code == 2 and "cannot listen there" in err and len(err.strip().splitlines()) == 2  # loading..., error


def test_old_sessions_are_closed_with_their_files_and_uploads_have_a_total_budget(tmp_path, monkeypatch):
    import io

    from PIL import Image

    from ganforge.errors import ConfigError
    from ganforge.explore import sessions as sessions_mod

    store = sessions_mod.Sessions(tmp_path, max_sessions=2)
    first = store.open()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    store.add_upload(first, buf.getvalue(), len(buf.getvalue()), "../../etc/passwd", steps=5)
    assert [p.name for p in first.folder.rglob("*.png")] == ["passwd.png"]  # a name, never a path
    store.open(), store.open()
    with pytest.raises(ConfigError, match="reload the page"):
        store.get(first.sid)
    assert not first.folder.exists() and store.stored == 0
    monkeypatch.setattr(sessions_mod, "MAX_STORED_BYTES", len(buf.getvalue()) + 10)
    s = store.open()
    store.add_upload(s, buf.getvalue(), len(buf.getvalue()), "a.png", steps=5)
    with pytest.raises(ConfigError, match="as many uploads as it keeps"):
        store.add_upload(s, buf.getvalue(), len(buf.getvalue()), "b.png", steps=5)
