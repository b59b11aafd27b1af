"""Imports flow one way: no cycles between ganforge's modules, and no module imports one ranked above it.

The graph is read from the source with ``ast`` (nothing is imported), including imports inside
functions: a lazy import still ties the two modules together, it only hides the tie until
the call. ``from PKG import name`` counts as importing ``PKG.name`` when that is a module,
else ``PKG`` itself. Names loaded by string (``importlib.import_module``, the lazy name tables
of ``ganforge/__init__.py`` and ``metrics/__init__.py``) are not seen.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ganforge"

# Rank of each top-level module or package of ganforge (its submodules share it). A module may
# import modules of a lower rank, and of its own rank as long as no cycle forms. From the top:
#   7 cli        parses flags into a config and calls the API; no logic below depends on it
#                (and __main__, which runs it: ``python -m ganforge``, ``torchrun -m ganforge``)
#   6 api        the public functions a script calls (train, load_generator, generate, ...)
#     explore    the page's server: uses a trained G through generator and tools
#   5 train, tools, latent, export, presets
#                the training loop, and what uses a trained G; presets build models to count them
#   4 metrics    feature networks, the metric registry, the evaluator: handed to the loop, never
#                importing it; ``evaluate RUN`` samples G through generator
#     runs       the run folder: log and grids, status and lock, the report page; the loop writes
#                through it, ``ganforge runs``/``report`` read it, and it never imports train (its
#                runs.layout, the names of a run's files, is rank 0: it imports nothing)
#   3 generator, checkpoint
#                the one loader and sampler of a trained G (and truncation), which rebuilds G
#                with models and maps its output range with data; the checkpoint file format
#   2 models, data
#                networks (a model file never imports the loop), image sources
#   1 losses, regularisers
#                pure functions on logits and penalties: a loss never imports a model
#   0 images, progress, context (which process this is), config (a package: the generic sections
#                and the families' own beside them), device, errors, and the root
#                ganforge/__init__.py (its public names load lazily by string; it imports nothing)
RANKS = {
    "cli": 7, "__main__": 7,
    "api": 6, "explore": 6,
    "train": 5, "tools": 5, "latent": 5, "export": 5, "presets": 5,
    "metrics": 4, "runs": 4, "runs.layout": 0,
    "generator": 3, "checkpoint": 3,
    "models": 2, "data": 2,
    "losses": 1, "regularisers": 1, "truncation": 1,
    "images": 0, "progress": 0, "config": 0, "device": 0, "errors": 0, "context": 0, "": 0,
}


def modules(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package in ``src``: dotted name -> file."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = ("ganforge", *path.relative_to(src).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:``: imports that never run."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports_of(name: str, path: Path, known: set[str], typing: bool = False) -> dict[str, int]:
    """The ganforge modules ``name`` imports (anywhere in the file) -> the first line doing so.

    typing: also the imports under ``if TYPE_CHECKING:``, which only annotations use.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = set() if typing else _type_checking_only(tree)
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target != name:
            found.setdefault(target, line)

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "ganforge" or alias.name.startswith("ganforge."):
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            if base_name != "ganforge" and not base_name.startswith("ganforge."):
                continue
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                add(sub if sub in known else base_name, node.lineno)
    return found


def import_graph(src: Path = SRC, typing: bool = False) -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    """``{module: {imported module: line}}`` for every module in ``src``, and the modules' files.
    typing: include the imports under ``if TYPE_CHECKING:``."""
    mods = modules(src)
    return {name: imports_of(name, path, set(mods), typing) for name, path in mods.items()}, mods


def rank(module: str) -> int:
    parts = module.split(".")[1:]
    for n in range(len(parts), 1, -1):  # a submodule ranked on its own ("runs.layout")
        if ".".join(parts[:n]) in RANKS:
            return RANKS[".".join(parts[:n])]
    top = parts[0] if parts else ""
    if top not in RANKS:
        raise KeyError(f"{module}: give ganforge.{top} a rank in RANKS (tests/test_imports.py)")
    return RANKS[top]


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, {})):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (cycle := visit(t)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def upward_imports(graph: dict[str, dict[str, int]], mods: dict[str, Path]) -> list[str]:
    """One line per import of a module ranked above the importer: ``file:line: who imports what``."""
    return [f"{mods[m]}:{line}: {m} (rank {rank(m)}) imports {t} (rank {rank(t)})"
            for m, targets in sorted(graph.items()) for t, line in sorted(targets.items(), key=lambda kv: kv[1])
            if rank(t) > rank(m)]


# --------------------------------------------------------------------------- the tests


def test_every_import_names_a_module_that_exists():
    graph, mods = import_graph(typing=True)
    missing = [f"{mods[m]}:{line}: {t}" for m, targets in graph.items()
               for t, line in targets.items() if t not in mods]
    assert not missing, "imports of ganforge modules that do not exist:\n" + "\n".join(missing)


def test_every_module_has_a_rank():
    top = {m.split(".")[1] if "." in m else "" for m in modules()}
    assert not sorted(top - set(RANKS)), "give these ganforge modules a rank in RANKS"


def test_no_import_cycles():
    # Type-only imports count: they never run, but a module that names, for its annotations, the
    # class that calls it back is a circle of concepts all the same (plug-ins are written against
    # ganforge.train.state.Trainer instead).
    graph, _ = import_graph(typing=True)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_one_ranked_above_it():
    # Type-only imports count here: a module that names a higher one's classes depends on them.
    graph, mods = import_graph(typing=True)
    bad = upward_imports(graph, mods)
    assert not bad, "imports against the rank table in tests/test_imports.py:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- the checker itself


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_the_checker_sees_lazy_relative_and_from_package_imports(tmp_path):
    src = tmp_path / "ganforge"
    _write(src, {"__init__.py": "", "errors.py": "", "models/__init__.py": "from .dense import D\n",
                 "models/dense.py": "def f():\n    from ..cli import main\n    from .. import errors\n",
                 "cli/__init__.py": "import ganforge.models.dense\nfrom ganforge.models import dense\n",
                 "models/base.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import dense\n"})
    graph, mods = import_graph(src)
    assert graph["ganforge.models.base"] == {}
    assert import_graph(src, typing=True)[0]["ganforge.models.base"] == {"ganforge.models.dense": 3}
    assert set(graph["ganforge.models.dense"]) == {"ganforge.cli", "ganforge.errors"}
    assert set(graph["ganforge.models"]) == {"ganforge.models.dense"}
    assert set(graph["ganforge.cli"]) == {"ganforge.models.dense"}
    assert find_cycle(graph) == ["ganforge.cli", "ganforge.models.dense", "ganforge.cli"]
    assert [line.split(": ", 1)[1] for line in upward_imports(graph, mods)] == [
        "ganforge.models.dense (rank 2) imports ganforge.cli (rank 7)"]


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, None),
    ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}, ["a", "b", "c", "a"]),
    ({"a": {"a.x": 1}, "a.x": {"a.y": 1}, "a.y": {"a.x": 1}}, ["a.x", "a.y", "a.x"]),
])
def test_cycles_are_found_and_named(graph, cycle):
    assert find_cycle(graph) == cycle
