"""The page's server: the standard library's ThreadingHTTPServer, a fixed table of routes, and
the rules that make it safe to leave running on a shared machine.

* It listens on 127.0.0.1 unless told otherwise; then the command prints a warning.
* It serves three files of its own (the page, its script, its style sheet) and JSON or PNG from
  the run. No route takes a path: nothing a request says is ever opened as a file. Uploads are
  written under names the server makes, in its own temporary folder, deleted when it stops.
* Requests must name this server in their Host header (a web page elsewhere cannot reach it by
  pointing a DNS name at 127.0.0.1), and requests that change state (POST) must carry a header a
  cross-site form cannot send, so only this page can open sessions and upload.
* A bad value from the page (a seed out of range, a damaged upload) gets a one-line message, JSON
  ``{"error": ...}`` with status 200, that the page shows where the user looks; a 4xx status
  would also put a line in the browser's console, which is kept for real faults. Requests that
  are not the page's (a wrong Host, a missing header, an unknown path) get 403, 404 or 405.
  Nothing prints a traceback.
* Each request runs in its own thread; G's work goes through the render queue (:mod:`.queue`)
  and the projection thread (:mod:`.projector`), so no request holds up another page's.
"""
from __future__ import annotations

import base64
import json
import socket
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, GanforgeError
from . import commands
from .commands import Source
from .projector import Projector
from .queue import Job, RenderQueue, Superseded, user_error
from .sessions import MAX_UPLOAD_BYTES, Session, Sessions
from .views import (GRID, INTERP_STEPS, MAX_SEED, Explorer, Projected, file_png, image_png, q_edits, q_int,
                    q_layers, q_psi, q_text)

STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "X-Frame-Options": "DENY"}
POST_HEADER = "X-Ganforge"  # a cross-site form cannot set it, and fetch() from elsewhere needs a preflight we refuse
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DRAIN_BYTES = 4 * MAX_UPLOAD_BYTES  # an over-size upload up to this is read and dropped, so its page gets the message


@dataclass
class Response:
    status: int
    body: bytes
    ctype: str = "application/json"
    headers: dict = field(default_factory=dict)


def _json(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj).encode())


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class App:
    """Routes to views. explorer: the loaded run; root: the server's private upload folder;
    hosts: the Host header values accepted (None: any, when listening beyond this machine)."""

    def __init__(self, explorer: Explorer, root: Path, hosts: set[str] | None):
        self.ex, self.hosts = explorer, hosts
        self.queue = RenderQueue(explorer.draw)
        self.projector = Projector(explorer.G) if explorer.w_space else None
        self.sessions = Sessions(root)
        self.routes: dict[tuple[str, str], Callable] = {
            ("POST", "/api/session"): self.open_session, ("GET", "/api/grid"): self.grid,
            ("GET", "/api/sample"): self.sample, ("GET", "/api/file"): self.file,
            ("GET", "/api/gridfile"): self.grid_file,
            ("GET", "/api/directions"): self.directions, ("GET", "/api/mix"): self.mix,
            ("GET", "/api/interp"): self.interp, ("GET", "/api/figure"): self.figure,
            ("POST", "/api/upload"): self.upload, ("GET", "/api/upload"): self.upload_status}

    def close(self) -> None:
        self.queue.stop()
        if self.projector is not None:
            self.projector.stop()
        self.sessions.close_all()

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, method: str, target: str, headers, body: bytes = b"", declared: int = 0) -> Response:
        """One request -> one response; every failure is a one-line JSON error."""
        url = urllib.parse.urlsplit(target)
        host = (headers.get("Host") or "").lower()
        if self.hosts is not None and host not in self.hosts:
            return _json({"error": f"this server answers to {sorted(self.hosts)[0]} only"}, 403)
        if method == "GET" and url.path in STATIC:
            name, ctype = STATIC[url.path]
            return Response(200, resources.files(__package__).joinpath("static", name).read_bytes(), ctype)
        handler = self.routes.get((method, url.path))
        if handler is None:
            known = any(path == url.path for _, path in self.routes)
            return _json({"error": "method not allowed" if known else "no such page"}, 405 if known else 404)
        if method == "POST" and headers.get(POST_HEADER) != "1":
            return _json({"error": f"missing the {POST_HEADER} header (only the page itself may do this)"}, 403)
        try:
            q = urllib.parse.parse_qs(url.query, keep_blank_values=True, max_num_fields=40)
            return handler(q, headers, body, declared)
        except Superseded:
            return _json({"superseded": True})
        except Exception as e:  # 200: the page shows the line; the console stays for real faults
            return _json({"error": str(user_error(e))})

    def _session(self, q) -> Session:
        return self.sessions.get(q_text(q, "sid"))

    def _source(self, q, s: Session) -> tuple[Source, Projected | None]:
        """``src=seed`` with ``seed=N``, or ``src=upload:ID`` (a projection this page made)."""
        src = q_text(q, "src") or "seed"
        if src == "seed":
            return Source(seed=q_int(q, "seed", 0, 0, MAX_SEED)), None
        if not src.startswith("upload:"):
            raise ConfigError("src: seed or upload:ID")
        up = self.sessions.upload(s, src[len("upload:"):])
        if up.job.state != "done":
            raise ConfigError("that picture is still being projected; wait for its progress bar")
        if up.projected is None:
            up.projected = Projected(up.source, up.job.ws, up.job.out_dir / "projected.pt")
        return up.source, up.projected

    def _w_only(self, what: str) -> None:
        if not self.ex.w_space:
            raise ConfigError(f"{what} needs a style-based generator (a StyleGAN2 run); this run's is a "
                              f"{type(self.ex.G).__name__}")

    # ------------------------------------------------------------------ views
    def open_session(self, q, headers, body, declared) -> Response:
        s = self.sessions.open()
        return _json({"sid": s.sid, **self.ex.info(), "max_upload_bytes": MAX_UPLOAD_BYTES})

    def _grid_images(self, q):
        s = self._session(q)
        start, psi, cls = q_int(q, "start", 0, 0, MAX_SEED - GRID + 1), q_psi(q), self.ex.cls(q)
        job = self.queue.submit((s.sid, "grid"), Job(points=lambda: self.ex.grid_points(start, psi, cls), y=cls))
        return job.wait(), start, psi, cls

    def grid(self, q, *_) -> Response:
        images, start, psi, cls = self._grid_images(q)
        query = urllib.parse.urlencode({k: v[-1] for k, v in q.items()})
        return _json({"seeds": list(range(start, start + GRID)), "images": [data_url(image_png(im)) for im in images],
                      "command": self.ex.grid_command(start, psi, cls), "download": f"/api/gridfile?{query}",
                      "file": f"seeds-{start}-{start + GRID - 1}.png"})

    def grid_file(self, q, *_) -> Response:
        """"save PNG" of the grid: its 16 images tiled as ``generate`` tiles a grid (the command
        beside it writes each one to its own file)."""
        images, start, _, _ = self._grid_images(q)
        return Response(200, file_png(images, nrow=4), "image/png",
                        {"Content-Disposition": f'attachment; filename="seeds-{start}-{start + GRID - 1}.png"'})

    def _sample_image(self, q):
        s = self._session(q)
        (src, projected), psi, cls = self._source(q, s), q_psi(q), self.ex.cls(q)
        layers, edits = q_layers(q, self.ex.G), q_edits(q)
        job = Job(points=lambda: self.ex.sample_points(src, psi, layers, edits, projected, cls), y=cls)
        image = self.queue.submit((s.sid, "sample"), job).wait()[0]
        return image, src, psi, cls, layers, edits

    def sample(self, q, *_) -> Response:
        image, src, psi, cls, layers, edits = self._sample_image(q)
        query = urllib.parse.urlencode({k: v[-1] for k, v in q.items()})
        command = self.ex.sample_command(src, psi, cls, layers, edits)
        return _json({"image": data_url(image_png(image)), "command": command,
                      "file": commands.sample_file(src, bool(edits)), "download": f"/api/file?{query}"})

    def file(self, q, *_) -> Response:
        """"save PNG" of one image: the very file the shown command writes."""
        image, src, _, _, _, edits = self._sample_image(q)
        return Response(200, file_png(image), "image/png",
                        {"Content-Disposition": f'attachment; filename="{commands.sample_file(src, bool(edits))}"'})

    def directions(self, q, *_) -> Response:
        self._session(q)
        layers = q_layers(q, self.ex.G)
        dirs = self.queue.submit(object(), Job(call=lambda: self.ex.directions(layers))).wait()
        return _json(self.ex.describe(dirs))

    def _figure(self, s: Session, view: str, make: Callable[[], bytes], command: str, file: str) -> Response:
        png = self.queue.submit((s.sid, view), Job(call=make)).wait()
        return _json({"image": data_url(png), "command": command, "file": file})

    def mix(self, q, *_) -> Response:
        self._w_only("style mixing")
        s = self._session(q)
        (src, projected), psi = self._source(q, s), q_psi(q)
        seed2, layers = q_int(q, "seed2", 1, 0, MAX_SEED), q_layers(q, self.ex.G, "mix", "coarse")
        if layers == "all":
            raise ConfigError("mix: coarse, middle, fine or A-B")
        out, cls = f"style-mix-{layers}.png", self.ex.cls(q)
        return self._figure(s, "mix", lambda: self.ex.style_mix_png(src, seed2, layers, psi, projected, cls),
                            commands.style_mix_command(self.ex.run, src, seed2, layers, psi, out, self.ex.const_noise,
                                                       cls), out)

    def interp(self, q, *_) -> Response:
        s = self._session(q)
        a, b = q_int(q, "a", 0, 0, MAX_SEED), q_int(q, "b", 1, 0, MAX_SEED)
        steps, psi, cls = q_int(q, "steps", 8, *INTERP_STEPS), q_psi(q), self.ex.cls(q)
        prefix = f"interpolation-{a}-{b}"
        return self._figure(s, "interp", lambda: self.ex.interpolation_png(a, b, steps, psi, cls),
                            commands.interpolate_command(self.ex.run, a, b, steps, psi, cls, prefix, self.ex.const_noise),
                            prefix + ".png")

    def figure(self, q, *_) -> Response:
        s = self._session(q)
        (src, projected), psi, cls = self._source(q, s), q_psi(q), self.ex.cls(q)
        layers = q_layers(q, self.ex.G)
        count = self.ex.slider_count(self.ex.directions(layers))
        base = src.projection_dir if src.upload else f"seed-{src.seed}"
        out = f"directions-{base}.png"
        return self._figure(s, "figure", lambda: self.ex.directions_png(src, psi, cls, layers, projected),
                            commands.directions_command(self.ex.run, src, psi if src.upload is None else None, cls,
                                                        layers, count, out, self.ex.const_noise), out)

    def upload(self, q, headers, body: bytes, declared: int) -> Response:
        self._w_only("projecting a picture")
        s = self._session(q)
        up = self.sessions.add_upload(s, body, declared, headers.get("X-Filename"), self.ex.project_steps)
        self.projector.submit(up.job)
        command = commands.project_command(self.ex.run, up.source)
        return _json({"id": up.id, "name": up.source.upload, "command": command})

    def upload_status(self, q, *_) -> Response:
        s = self._session(q)
        up = self.sessions.upload(s, q_text(q, "id"))
        return _json({"id": up.id, "state": up.job.state, "progress": round(up.job.progress, 3),
                      "error": up.job.error})


# --------------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    """HTTP in, :meth:`App.dispatch` out; quiet (a request log line would bury the URL)."""

    protocol_version = "HTTP/1.1"  # keep-alive: a slider's requests reuse one connection
    server_version = "ganforge-explore"
    sys_version = ""
    timeout = 60  # an idle connection is closed, so a stuck client holds no thread forever
    disable_nagle_algorithm = True  # headers and body are two writes: without this, +40 ms per image

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        try:
            declared = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            declared = -1
        body = b""
        if method == "POST" and 0 <= declared <= MAX_UPLOAD_BYTES:
            body = self.rfile.read(declared)
        elif 0 < declared <= DRAIN_BYTES:  # too big to keep: read it into nothing, so the sender hears why
            for left in range(declared, 0, -65536):
                if not self.rfile.read(min(left, 65536)):
                    break
        elif declared:  # far too big, or unreadable: answer, and close rather than read it
            self.close_connection = True
        app: App = self.server.app
        if declared < 0:
            resp = _json({"error": "bad Content-Length"}, 400)  # not from the page
        else:
            try:
                resp = app.dispatch(method, self.path, self.headers, body, declared)
            except Exception as e:  # a bug in the routing itself: one line, not the server's traceback
                resp = _json({"error": str(user_error(e))}, 500)
        try:
            self.send_response(resp.status)
            for k, v in {**SECURITY_HEADERS, "Content-Type": resp.ctype, "Content-Length": str(len(resp.body)),
                         **resp.headers}.items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):  # the page went away mid-answer
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:
        pass


class ExploreServer(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for open keep-alive connections

    def __init__(self, address: tuple[str, int], app_factory: Callable[[int], App]):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.app = app_factory(self.server_address[1])


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The Host headers a loopback server accepts; None (any) for one open to the network."""
    if not is_loopback(host):
        return None
    return {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")} | ({f"{host}:{port}"} if ":" not in host
                                                                             else set())


def bind(explorer: Explorer, host: str, port: int, root: Path) -> ExploreServer:
    """The server, listening (not yet serving); GanforgeError when the port cannot be had."""
    try:
        return ExploreServer((host, port), lambda p: App(explorer, root, allowed_hosts(host, p)))
    except OSError as e:
        raise GanforgeError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e}); choose another "
                            f"--port, or --port 0 for any free one") from None


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int = 8000,
          announce: Callable[[str], None] = print) -> None:
    """Serve the page until Ctrl-C (or SIGTERM); then stop the workers, close every session and
    delete the upload folder. announce: where the URL line goes."""
    import shutil
    import signal
    import tempfile
    import threading

    root = Path(tempfile.mkdtemp(prefix="ganforge-explore-"))  # mode 0700: this user's alone
    httpd = None
    previous = {}

    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        httpd = bind(explorer, host, port, root)
        if threading.current_thread() is threading.main_thread():
            # Ctrl-C even where the shell started us with SIGINT ignored (a job in the background)
            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        shown = f"[{host}]" if ":" in host else host
        announce(f"serving {explorer.run} at http://{shown}:{httpd.server_address[1]}/   (Ctrl-C stops)")
        try:
            httpd.serve_forever(poll_interval=0.25)
        except KeyboardInterrupt:
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if httpd is not None:
            httpd.server_close()
            httpd.app.close()
        shutil.rmtree(root, ignore_errors=True)
