"""Config fields carry their flag and help; JSON round-trips; errors name the flag."""
from __future__ import annotations

import dataclasses
import json

import pytest

from ganforge.config import RunConfig, field_docs, field_flag, set_field, validate
from ganforge.errors import ConfigError

SECTIONS = ("data", "model", "loss", "optim", "train", "tricks", "grow", "style")


def test_every_field_has_a_flag_and_help():
    cfg = RunConfig()
    docs = field_docs()
    fields = [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(getattr(cfg, s))]
    assert list(docs) == fields
    for name, (flag, help_text) in docs.items():
        assert flag.startswith("--") and help_text and "(--" not in help_text, name
    flags = [d.flag for d in docs.values()]
    assert len(set(flags)) == len(flags)
    assert docs["optim.lr_d"] == ("--lr-d", "discriminator learning rate")


def test_flags_whose_name_is_not_the_fields():
    assert field_flag("data", "source") == "--data"
    assert field_flag("data", "class_name") == "--class"
    assert field_flag("optim", "decay") == "--lr-decay"
    assert field_flag("train", "batch_size") == "--batch-size"


@pytest.mark.parametrize("dotted, value, flag", [("optim.decay", "-1", "--lr-decay"),
                                                 ("data.channels", "2", "--channels"),
                                                 ("train.batch_size", "many", "--batch-size")])
def test_errors_name_the_flag(dotted, value, flag):
    cfg = RunConfig()
    with pytest.raises(ConfigError, match=f"^{flag}: "):
        set_field(cfg, dotted, value)
        validate(cfg)


def test_json_round_trip_has_only_values(tmp_path):
    cfg = RunConfig()
    set_field(cfg, "optim.lr_d", "1e-4")
    set_field(cfg, "tricks.augment", "translation,color")
    cfg.save(tmp_path / "config.json")
    d = json.loads((tmp_path / "config.json").read_text())
    assert d["optim"]["lr_d"] == 1e-4 and d["data"] == {
        "source": "fashion-mnist", "data_dir": None, "size": None, "channels": None, "class_name": None,
        "split": "train", "limit": None, "load": "auto", "workers": 2}
    assert RunConfig.load(tmp_path / "config.json") == cfg == RunConfig.from_dict(cfg.to_dict())
