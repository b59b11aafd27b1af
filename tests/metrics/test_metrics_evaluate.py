"""`ganforge evaluate` and `ganforge evaluator` end to end, and the training-loop API.

Every test here runs with GANFORGE_CACHE pointed at a temp folder (fixture ``cache``); where an
evaluator is needed, ``tiny_evaluator`` saves a small random-weight classifier there as the
fashion-mnist evaluator. Its numbers say nothing about image quality; the tests check the
plumbing: what is sampled, compared, cached and printed, and the errors a user sees.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganforge.config import DataConfig, RunConfig
from ganforge.metrics import ALL_METRICS, make_training_evaluator
from ganforge.images import save_folder

TINY_G = ["--g-channels", "8", "--d-channels", "8"]


def make_images(n: int, size: int = 28, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Bright discs of random place and size on black: uint8 (N, H, W) or (N, H, W, C)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.uniform(size * 0.3, size * 0.7, (2, n, 1, 1))
    r = rng.uniform(size * 0.15, size * 0.3, (n, 1, 1))
    out = (((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) * rng.uniform(120, 255, (n, 1, 1))).astype(np.uint8)
    return out if channels == 1 else np.repeat(out[..., None], channels, axis=3)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step dcgan run on a 48-image .npz dataset, trained once for this file with the CLI."""
    from ganforge.cli import main

    root = tmp_path_factory.mktemp("evaluate")
    data = root / "tiny.npz"
    np.savez(data, images=make_images(48), labels=np.arange(48) % 4)
    quick = ["--preset", "dcgan", "--no-progress", "--batch-size", "4", "--n-fixed", "4", "--sample-every", "2",
             "--checkpoint-every", "2", "--log-every", "1", "--precision", "fp32"]
    assert main(["train", "--data", str(data), "--steps", "2", "--out", str(root / "run"), *quick, *TINY_G]) == 0
    return root / "run"


def test_evaluate_run_prints_a_table_and_valid_json(cli, run, tiny_evaluator):
    code, out, err = cli("evaluate", run, "-n", 24, "--no-progress")
    assert code == 0, err
    for text in ("FD", "KID x 1000", "precision (k=3)", "recall (k=3)", "classifier score",
                 "memorised fraction", "fashion-mnist-cnn", "(G, step 2)"):
        assert text in out, text
    code, out, err = cli("evaluate", run / "checkpoint.pt", "-n", 24, "--json", "--no-progress")
    assert code == 0, err
    result = json.loads(out)
    m, p = result["metrics"], result["protocol"]
    for key in ("fd", "kid", "kid_std", "precision", "recall", "classifier_score", "class_entropy",
                "class_kl", "memorised_fraction"):
        assert isinstance(m[key], (int, float)), key
    assert m["fd"] >= 0 and 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1
    assert p["feature_network"] == "fashion-mnist-cnn" and len(p["feature_hash"]) == 12
    assert p["n_fake"] == 24 and p["n_real"] == 48 and "one split" in p["note"]
    assert p["resize_fake"].startswith("none") and result["floor"] is None  # .npz data: no test split


def test_evaluate_is_deterministic_and_uses_the_cache(cli, run, tiny_evaluator, cache):
    outs = [json.loads(cli("evaluate", run, "-n", 16, "--json", "--no-progress")[1]) for _ in range(2)]
    assert outs[0]["metrics"]["fd"] == outs[1]["metrics"]["fd"]
    assert len(list((cache / "refstats").glob("*.pt"))) == 1


def test_evaluate_prefers_G_ema_when_the_checkpoint_has_it(cli, run, tiny_evaluator, tmp_path):
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    ckpt["G_ema"] = {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in ckpt["G"].items()}
    torch.save(ckpt, tmp_path / "ema.pt")
    code, out, err = cli("evaluate", tmp_path / "ema.pt", "-n", 12, "--json", "--no-progress")
    assert code == 0, err
    assert "(G_ema, step 2)" in json.loads(out)["protocol"]["fake"]


def test_images_against_folders_and_npy(cli, tiny_evaluator, tmp_path):
    real = tmp_path / "real.npy"
    np.save(real, make_images(40, seed=1))
    folder = tmp_path / "fake_pngs"
    save_folder(torch.from_numpy(make_images(30, seed=2)).unsqueeze(1), folder)
    code, out, err = cli("evaluate", "--images", folder, "--against", real, "--json", "--no-progress")
    assert code == 0, err
    r = json.loads(out)
    assert r["protocol"]["n_fake"] == 30 and r["protocol"]["n_real"] == 40
    code, out, err = cli("evaluate", "--images", real, "--against", folder, "-n", 20, "--no-progress")
    assert code == 0, err
    assert "FD" in out and "20 images, seeded subset" in out
    # a set against itself: FD ~ 0, full precision and recall
    code, out, err = cli("evaluate", "--images", real, "--against", real, "--json", "--no-progress")
    m = json.loads(out)["metrics"]
    assert code == 0 and m["fd"] < 1e-6 and m["precision"] == 1.0 and m["recall"] == 1.0
    assert m["memorised_fraction"] == 1.0  # every image is a copy of a reference image


def test_rgb_and_other_sizes_are_converted_for_the_grey_evaluator(cli, tiny_evaluator, tmp_path):
    rgb = tmp_path / "rgb.npy"
    np.save(rgb, make_images(20, size=32, channels=3))
    code, out, err = cli("evaluate", "--images", rgb, "--against", rgb, "--evaluator", "fashion-mnist",
                         "--json", "--no-progress")
    assert code == 0, err
    p = json.loads(out)["protocol"]
    assert "RGB to grey" in p["resize_fake"] and "32->28" in p["resize_fake"]


def test_missing_evaluator_names_the_command_that_trains_it(cli, run, cache):
    code, out, err = cli("evaluate", run, "-n", 8, "--no-progress", "--evaluator", "mnist")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ganforge evaluator train --data mnist" in err


def test_with_an_empty_cache_the_shipped_evaluator_scores_the_run(cli, run, cache):
    from ganforge.metrics.shipped import SHIPPED

    code, out, err = cli("evaluate", run, "-n", 24, "--no-progress", "--no-floor")
    assert code == 0, err
    assert f"fashion-mnist-cnn {SHIPPED['fashion-mnist']}" in out


def test_corrupt_evaluator_file_is_a_one_line_error(cli, run, tiny_evaluator):
    data = tiny_evaluator.read_bytes()
    tiny_evaluator.write_bytes(data[: len(data) // 2])  # truncated
    code, _, err = cli("evaluate", run, "-n", 8, "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(tiny_evaluator) in err and "corrupt" in err and "ganforge evaluator train --data fashion-mnist" in err
    tiny_evaluator.write_bytes(b"not a torch file")
    code, _, err = cli("evaluate", run, "-n", 8, "--no-progress")
    assert code == 2 and "corrupt" in err and len(err.strip().splitlines()) == 1


def test_tampered_evaluator_weights_fail_their_hash(cli, run, tiny_evaluator):
    blob = torch.load(tiny_evaluator, weights_only=True)
    blob["state_dict"]["head.bias"] += 1
    torch.save(blob, tiny_evaluator)
    code, _, err = cli("evaluate", run, "-n", 8, "--no-progress")
    assert code == 2 and "do not match their hash" in err


def test_inception_without_weights_says_how_to_get_them(cli, run, cache):
    code, _, err = cli("evaluate", run, "-n", 8, "--evaluator", "inception", "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--inception-weights" in err


@pytest.mark.parametrize("args,msg", [
    ([], "give a run folder"),
    (["--images", "x.npy"], "--images and --against go together"),
    (["RUN", "-n", "1"], "-n"),
    (["RUN", "--evaluator", "imagenet"], "unknown evaluator"),
])
def test_bad_evaluate_usage_is_a_one_line_error(cli, run, tiny_evaluator, args, msg):
    args = [str(run) if a == "RUN" else a for a in args]
    code, _, err = cli("evaluate", *args, "--no-progress")
    assert code == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_evaluator_list_and_bad_train_request(cli, tiny_evaluator):
    code, out, _ = cli("evaluator", "list")
    assert code == 0 and "fashion-mnist" in out and str(tiny_evaluator) in out
    code, _, err = cli("evaluator", "train", "--data", "imagenet")
    assert code == 2 and "--data" in err


# --------------------------------------------------------------------------- training-loop API
def test_make_training_evaluator_and_call_it_with_a_sampler(tiny_evaluator, npz_data):
    cfg = RunConfig(data=DataConfig(source=str(npz_data), channels=1, size=28))
    ev, why = make_training_evaluator(cfg, n=20)
    assert ev is not None and why == ""
    calls = []

    def sampler(n):
        calls.append(n)
        return torch.from_numpy(make_images(n, seed=9)).unsqueeze(1)

    metrics = ev(sampler)
    assert calls == [20]
    assert {"fd", "kid", "precision", "recall", "classifier_score", "class_entropy", "eval_seconds"} <= set(metrics)
    assert all(isinstance(v, (int, float)) for v in metrics.values())
    assert ev.protocol["feature_network"] == "fashion-mnist-cnn" and ev.protocol["n_fake"] == 20
    with pytest.raises(ValueError, match="uint8"):
        ev(lambda n: torch.zeros(n, 1, 28, 28))


def test_make_training_evaluator_without_an_evaluator_gives_the_reason(cache, npz_data):
    # RGB images, no Inception weights and no cifar10 evaluator in the cache: nothing fits
    cfg = RunConfig(data=DataConfig(source=str(npz_data), channels=3, size=32))
    ev, why = make_training_evaluator(cfg, n=20)
    assert ev is None and "ganforge evaluator train --data cifar10" in why


def test_all_metrics_include_memorisation(tiny_evaluator, npz_data):
    cfg = RunConfig(data=DataConfig(source=str(npz_data), channels=1, size=28))
    ev, _ = make_training_evaluator(cfg, n=12, metrics=ALL_METRICS)
    real = torch.from_numpy(np.load(npz_data)["images"]).unsqueeze(1)  # the training images themselves
    assert ev(lambda n: real[:n])["memorised_fraction"] == 1.0
