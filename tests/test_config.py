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
        "split": "train", "limit": None, "load": "auto", "workers": 2, "fit": "auto"}
    assert RunConfig.load(tmp_path / "config.json") == cfg == RunConfig.from_dict(cfg.to_dict())


def _config_of_0_1(arch: str) -> dict:
    """A config.json as ganforge 0.1 wrote it: every field, StyleGAN2's at its old defaults
    (w_dim 256, 4 mapping layers), no width-rule fields, lazy_correction in the style section."""
    d = RunConfig().to_dict()
    d["model"].update(arch=arch, w_dim=256, mapping_layers=4)
    for name in ("channel_base", "channel_max", "mbstd_group", "d_architecture", "conv_clamp", "lowp_res"):
        del d["model"][name]
    d["style"]["lazy_correction"] = d["optim"].pop("lazy_correction")
    del d["data"]["fit"]
    return d


@pytest.mark.parametrize("arch", ["dcgan", "tf-tutorial"])
def test_a_stored_config_of_0_1_reads_and_its_other_families_settings_settle(arch):
    cfg = validate(RunConfig.from_stored(_config_of_0_1(arch)))
    assert cfg.model.arch == arch and cfg.model.w_dim == RunConfig().model.w_dim
    assert cfg.data.fit == "resize"  # 0.1 resized data of another size
    with pytest.raises(ConfigError, match="--w-dim: applies to --arch stylegan2 only"):  # a user's flag still counts
        validate(RunConfig.from_dict(_config_of_0_1(arch)))


@pytest.mark.parametrize("arch", ["progan", "stylegan2"])
def test_a_progan_or_stylegan2_run_of_0_1_is_refused_in_one_line(arch):
    from ganforge.errors import OlderRunError

    with pytest.raises(OlderRunError, match=f"a {arch} run of ganforge 0.1.*train it anew"):
        RunConfig.from_stored(_config_of_0_1(arch))
