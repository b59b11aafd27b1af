"""Fixtures for the metrics tests: an isolated cache holding a tiny random-weight evaluator."""
from __future__ import annotations

import pytest

from ganforge.metrics.networks import evaluator_path, random_evaluator, save_evaluator


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty ganforge cache in a temp folder (GANFORGE_CACHE), and no Inception weights."""
    root = tmp_path / "cache"
    monkeypatch.setenv("GANFORGE_CACHE", str(root))
    monkeypatch.delenv("GANFORGE_INCEPTION", raising=False)
    return root


@pytest.fixture
def tiny_evaluator(cache):
    """A random-weight fashion-mnist evaluator saved where ``evaluate`` looks for it. Its features
    mean nothing about image quality: it only lets the plumbing run in milliseconds."""
    net, meta = random_evaluator("fashion-mnist")
    return save_evaluator(net, meta, evaluator_path("fashion-mnist"))
