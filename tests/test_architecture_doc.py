"""docs/ARCHITECTURE.md stays true: every module its map names exists, and every module of the
package is on the map (a package counts as named by its folder)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "ganforge"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def mapped_paths(text: str) -> set[str]:
    """The paths (relative to src/ganforge) the map's tree names. Each entry line starts with its
    names (``a.py, b.py`` or ``folder/``), indented two spaces a level, then its description after
    two or more spaces; lines that continue a description start with anything else."""
    block = text.split("```", 2)[1]
    paths: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indent, folder) of the enclosing folders
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        names = re.split(r"\s{2,}", line.strip())[0]
        tokens = [t.strip() for t in names.split(",")]
        if not all(re.fullmatch(r"[\w]+(\.py|/)", t) for t in tokens):
            continue  # a continued description
        folders = [(i, f) for i, f in folders if i < indent]
        prefix = "".join(f for _, f in folders)
        for t in tokens:
            paths.add(prefix + t)
        if tokens[-1].endswith("/"):
            folders.append((indent, tokens[-1]))
    return paths


def package_paths() -> set[str]:
    out = set()
    for p in SRC.rglob("*.py"):
        rel = p.relative_to(SRC).as_posix()
        out.add(rel)
    return out


def test_every_module_the_map_names_exists():
    named = mapped_paths(DOC.read_text())
    missing = sorted(p for p in named if not (SRC / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names modules that do not exist: {missing}"
    assert len(named) > 50


def test_every_module_is_on_the_map():
    named = mapped_paths(DOC.read_text())
    absent = sorted(p for p in package_paths()
                    if p not in named and not (p.endswith("__init__.py") and p[: -len("__init__.py")] in named))
    assert not absent, f"modules missing from docs/ARCHITECTURE.md: {absent}"


def test_the_map_reader_follows_folders_and_skips_descriptions():
    text = "```\na/                 x\n  b.py, c.py         y\n                     a continued description.py\n" \
           "  d/               z\n    e.py           w\n  f.py             v\ng.py               u\n```"
    assert mapped_paths(text) == {"a/", "a/b.py", "a/c.py", "a/d/", "a/d/e.py", "a/f.py", "g.py"}
