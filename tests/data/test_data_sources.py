"""The registry of named data sources: a new one is one decorated function, and loads like the rest."""
from __future__ import annotations

import re

import pytest
import torch

import ganforge.data as data
from ganforge.config import DataConfig
from ganforge.data import SOURCES, data_name, evaluator_for, load_data, register_source
from ganforge.errors import DataError
from ganforge.metrics.networks import EVALUATOR_SPECS


@pytest.fixture
def tiny_source():
    """Register ``tiny-shapes`` (8 RGB 6x6 images, 2 classes) for one test, then remove it."""
    calls = []

    @register_source("tiny-shapes", aliases=("tshapes",), class_names=["square", "ring"],
                     description="a fake source for tests")
    def _tiny(data_dir, split, progress):
        calls.append((data_dir, split, progress))
        images = torch.arange(8 * 3 * 6 * 6, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(8, 3, 6, 6)
        labels = torch.tensor([0, 1] * 4)
        return images, labels, ["square", "ring"], "/nowhere/tiny"

    try:
        yield calls
    finally:
        del SOURCES["tiny-shapes"]


def test_registered_source_loads_through_load_data(tiny_source):
    assert "tiny-shapes" in data.DATASETS  # DATASETS follows the registry
    d = load_data(DataConfig(source="Tiny_Shapes", data_dir="dd", class_name="ring", channels=1), progress=False)
    assert tiny_source == [("dd", "train", False)]
    assert d.name == "tiny-shapes" == data_name(DataConfig(source="TSHAPES"))
    assert d.source_path == "/nowhere/tiny" and d.class_names == ["square", "ring"]
    assert d.images.shape == (4, 1, 6, 6) and d.images.dtype == torch.uint8
    assert d.labels.tolist() == [1, 1, 1, 1]
    assert evaluator_for("tiny-shapes") is None
    assert SOURCES["tiny-shapes"].class_names == ("square", "ring")


def test_unknown_name_lists_the_registered_ones(tiny_source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"known: fashion-mnist, mnist, cifar10, emoji, tiny-shapes\)"):
        load_data(DataConfig(source="svhn"))


def test_source_removed_after_the_test():
    assert "tiny-shapes" not in SOURCES and data.DATASETS == ("fashion-mnist", "mnist", "cifar10", "emoji")


def test_a_name_or_alias_cannot_be_taken_twice():
    with pytest.raises(ValueError, match="'FMNIST' already names 'fashion-mnist'"):
        register_source("other", aliases=("FMNIST",))(lambda data_dir, split, progress: None)
    assert "other" not in SOURCES


def _old_dataset_of(source: str) -> str | None:
    # The mapping ganforge.evaluate.dataset_of has always had, written out.
    key = re.sub(r"[-_ ]", "", source.strip().lower())
    return {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist", "mnist": "mnist",
            "cifar10": "cifar10"}.get(key)


@pytest.mark.parametrize("source", ["fashion-mnist", "Fashion_MNIST", " fashion mnist ", "fmnist", "F-MNIST",
                                    "mnist", "MNIST", "cifar10", "cifar-10", "CIFAR_10", "cifar100", "fashion",
                                    "emnist", "./mnist", "imgs/", "faces.npz", ""])
def test_evaluator_for_matches_the_old_mapping(source):
    assert evaluator_for(source) == _old_dataset_of(source)


def test_every_evaluator_named_exists():
    named = {s.evaluator for s in SOURCES.values()} - {None}
    assert named == {"fashion-mnist", "mnist", "cifar10"} and named <= set(EVALUATOR_SPECS)
