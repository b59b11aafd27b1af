"""Fixtures for the tools tests: an empty ganforge cache, so no evaluator trained on this machine
(or missing from it) changes what the tests see."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
