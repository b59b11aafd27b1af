"""--cuda-graphs: refused clearly where it cannot work; on a GPU, replays train as eager steps do."""
from __future__ import annotations

import pytest
import torch

from ganforge import api
from ganforge.config import set_field, validate
from ganforge.errors import ConfigError
from ganforge.presets import get_preset
from ganforge.train.cuda_graphs import set_capturable
from ganforge.train.builder import build_trainer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def small(preset: str = "dcgan", **fields):
    cfg = get_preset(preset)
    for k, v in {"model.g_channels": 8, "model.d_channels": 8, "train.batch_size": 8, "train.precision": "fp32",
                 **fields}.items():
        set_field(cfg, k, v)
    return cfg


def test_cpu_run_is_a_config_error_naming_the_flag():
    cfg = small(**{"train.cuda_graphs": True, "train.device": "cpu"})
    with pytest.raises(ConfigError, match=r"--cuda-graphs: needs CUDA"):
        validate(cfg)
    with pytest.raises(ConfigError, match=r"--cuda-graphs: needs CUDA"):  # a trainer built directly, too
        build_trainer(cfg, 1, 28, torch.device("cpu"))


def test_cli_refuses_it_on_cpu_before_making_a_run_folder(cli, npz_data, tmp_path):
    code, out, err = cli("train", "--data", npz_data, "--steps", "1", "--device", "cpu", "--cuda-graphs",
                         "--out", tmp_path / "run")
    assert code == 2 and "--cuda-graphs: needs CUDA" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("field, value, named", [
    ("train.compile", True, "--compile"), ("optim.decay", 1e-4, "--lr-decay"),
    ("tricks.instance_noise", 0.1, "--instance-noise"), ("tricks.ada_target", 0.6, "--ada-target"),
    ("tricks.replay_size", 100, "--replay-size"), ("loss.r1_gamma", 1.0, "--r1-every > 1"),
])
def test_settings_a_captured_step_would_freeze_are_refused(field, value, named):
    cfg = small(**{"train.cuda_graphs": True, "train.device": "cuda", field: value})
    with pytest.raises(ConfigError, match=f"--cuda-graphs: cannot be combined with {named}"):
        validate(cfg)
    set_field(cfg, "train.cuda_graphs", False)
    validate(cfg)  # fine without graphs


def test_lazy_r1_every_update_is_allowed_with_graphs():
    cfg = small(**{"train.cuda_graphs": True, "train.device": "cuda", "loss.r1_gamma": 1.0, "loss.r1_every": 1})
    assert validate(cfg) is cfg  # no ConfigError
    set_field(cfg, "loss.r1_every", 4)
    with pytest.raises(ConfigError, match="--cuda-graphs"):
        validate(cfg)


def test_a_checkpoint_of_a_capturable_run_resumes_on_cpu():
    """A --cuda-graphs checkpoint marks its optimizers capturable; loading it into a CPU trainer
    turns that off again (capturable Adam refuses CPU tensors), and training goes on."""
    torch.manual_seed(0)
    tr = build_trainer(small(), 1, 28, torch.device("cpu"))
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    tr.train_step(images)
    state = tr.state_dict()
    for key in ("opt_g", "opt_d"):
        for group in state[key]["param_groups"]:
            group["capturable"] = True
    tr2 = build_trainer(small(), 1, 28, torch.device("cpu"))
    tr2.load_state_dict(state)
    assert all(not g["capturable"] for opt in (tr2.opt_g, tr2.opt_d) for g in opt.param_groups)
    stats = tr2.train_step(images)
    assert torch.isfinite(stats.d_loss) and tr2.step == 2


def test_set_capturable_moves_step_counters():
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], foreach=True)
    p.grad = torch.ones(3)
    opt.step()
    set_capturable(opt, False)
    assert opt.state[p]["step"].device.type == "cpu" and not opt.param_groups[0]["capturable"]
    set_capturable(opt, True)
    assert opt.param_groups[0]["capturable"]


# --------------------------------------------------------------------------- on a GPU
@cuda
@pytest.mark.parametrize("preset", ["dcgan", "best-fmnist", "tf-tutorial"])
def test_replayed_steps_train_like_eager_ones(preset):
    device = torch.device("cuda")
    images = torch.randint(0, 256, (4, 8, 1, 28, 28), dtype=torch.uint8, device=device)
    params = {}
    for graphs in (False, True):
        torch.manual_seed(0)
        tr = build_trainer(small(preset, **{"train.cuda_graphs": graphs}), 1, 28, device)
        losses = [tr.train_step(images[i % 4]).d_loss for i in range(10)]
        assert tr.step == 10 and len({float(v) for v in losses}) > 1  # statistics are per step, not the last one
        params[graphs] = (torch.cat([p.detach().flatten() for p in tr.G.parameters()]), losses)
        if graphs:
            assert tr.graphed.captures == 1
    (eager, l_eager), (graphed, l_graphed) = params[False], params[True]
    assert torch.allclose(eager, graphed, rtol=1e-3, atol=1e-4), (eager - graphed).abs().max()
    assert torch.allclose(torch.stack(l_eager), torch.stack(l_graphed), rtol=1e-3, atol=1e-4)


@cuda
def test_a_learning_rate_change_captures_again_and_a_run_trains(npz_data, tmp_path):
    device = torch.device("cuda")
    torch.manual_seed(0)
    tr = build_trainer(small(**{"train.cuda_graphs": True}), 1, 28, device)
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8, device=device)
    for _ in range(6):
        tr.train_step(images)
    tr.set_lr("d", 0.5)
    tr.train_step(images)
    assert tr.graphed.captures == 2 and tr.opt_d.param_groups[0]["lr"] == pytest.approx(tr.state.lr_d)
    cfg = small(**{"train.cuda_graphs": True, "data.source": str(npz_data), "train.steps": 12,
                   "train.log_every": 4, "train.n_fixed": 4, "train.device": "cuda"})
    result = api.train(cfg, tmp_path / "run", progress=False)
    assert result.steps == 12


def test_the_capture_key_sees_python_values_a_graph_would_freeze():
    """A graph holds learning rates and modules' plain Python numbers as constants: a change to any
    (a remedy's dropout rate, a halved learning rate, a family's stage kept as an int) forces a
    new capture. Checked on CPU modules; the capture itself needs CUDA."""
    from ganforge.train.cuda_graphs import GraphedStep

    tr = build_trainer(small("tf-tutorial"), 1, 28, torch.device("cpu"))
    g = GraphedStep.__new__(GraphedStep)  # (no CUDA here: only the key's bookkeeping)
    g.tr = tr
    g.watched = g._watch()
    key = g._key()
    assert g._key() == key
    tr.add_d_dropout(0.1)
    assert g._key() != key
    key = g._key()
    tr.set_lr("g", 0.5)
    assert g._key() != key
    key = g._key()
    next(tr.G.modules()).stage = 0  # a new attribute is seen from the next capture on
    g.watched = g._watch()
    key = g._key()
    next(tr.G.modules()).stage = 1
    assert g._key() != key


def test_several_processes_are_refused():
    from types import SimpleNamespace

    from ganforge.train.cuda_graphs import GraphedStep

    fake = SimpleNamespace(device=torch.device("cuda"), ctx=SimpleNamespace(world_size=2))
    with pytest.raises(ConfigError, match="--cuda-graphs: one process only"):
        GraphedStep(fake)
