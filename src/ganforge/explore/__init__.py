"""``ganforge explore``: a page in the browser to explore a trained generator.

The stack is the standard library's ThreadingHTTPServer and a small page of our own (HTML, one
script and one style sheet, shipped as package data): it adds no dependency, works offline, and
keeps every safety rule in code we can read and test (see :mod:`.server`). The parts:

* :mod:`.views` - the run, loaded once, and what each view of the page draws (no HTTP);
* :mod:`.commands` - the ``ganforge`` command shown beside each view;
* :mod:`.queue` - the render worker that batches every page's image requests;
* :mod:`.projector` - the thread that projects uploaded pictures, with progress;
* :mod:`.sessions` - per-page state and the upload checks;
* :mod:`.server` - routes, HTTP, and :func:`serve`.
"""
from .server import App, allowed_hosts, bind, is_loopback, serve
from .views import Explorer

__all__ = ["App", "Explorer", "allowed_hosts", "bind", "is_loopback", "serve"]
