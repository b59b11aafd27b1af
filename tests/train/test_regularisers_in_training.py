"""D's regularisers and instance noise observed inside real training steps (through GANTrainer's
public interface): the gradient penalty and lazy R1 add exactly their weighted terms to D's loss,
on the D steps they are due and no others, and move D's weights; instance noise reaches D's
inputs with the scheduled std. The penalties are recomputed here by hand from their papers'
formulas, on the inputs the trainer used."""
from __future__ import annotations

import copy
import sys

import pytest
import torch

import ganforge.regularisers as regularisers
from ganforge.config import set_field
from ganforge.presets import get_preset
from ganforge.train.builder import build_trainer
from ganforge.train.trainer import GANTrainer

N = 8  # images per D step


def make_trainer(**fields) -> GANTrainer:
    """A narrow dcgan trainer on 28x28 grey images, fp32 on the CPU, weights from seed 0."""
    cfg = get_preset("dcgan")
    base = {"model.g_channels": 8, "model.d_channels": 8, "train.batch_size": N, "train.precision": "fp32",
            "train.device": "cpu"}
    for k, v in {**base, **fields}.items():
        set_field(cfg, k, v)
    torch.manual_seed(0)
    return build_trainer(cfg, 1, 28, torch.device("cpu"))


def real_batches(k: int, n: int = N) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g) for _ in range(k)]


def model_range(real_u8: torch.Tensor) -> torch.Tensor:
    return real_u8.float() / 127.5 - 1  # dcgan's G ends in tanh: images in [-1, 1]


def spy_on(monkeypatch, name: str) -> list[dict]:
    """Record every call of ``ganforge.regularisers.<name>`` made by ganforge's code: the
    function is replaced in every ganforge module that holds it (the trainer imports it by
    name), and the real one still runs. Each call records its image arguments, the RNG state it
    started from and the value it returned."""
    original = getattr(regularisers, name)
    calls: list[dict] = []

    def spy(D, *args, **kwargs):
        images = [*args, *(kwargs[k] for k in ("real", "fake") if k in kwargs)]  # as passed: real, then fake
        call = {"images": [x.detach().clone() for x in images if torch.is_tensor(x)], "rng": torch.get_rng_state()}
        out = original(D, *args, **kwargs)
        call["value"] = out.detach().clone()
        calls.append(call)
        return out

    patched = 0
    for mod_name, mod in list(sys.modules.items()):
        if mod_name == "ganforge" or mod_name.startswith("ganforge."):
            for attr, value in list(vars(mod).items()):
                if value is original:
                    monkeypatch.setattr(mod, attr, spy)
                    patched += 1
    assert patched, f"no ganforge module holds regularisers.{name}"
    return calls


def input_gradient(D, x: torch.Tensor) -> torch.Tensor:
    """d(sum of D's logits)/dx per image, flattened: (N, C*H*W)."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    return grad.flatten(1)


def wgan_gp_by_hand(D, real: torch.Tensor, fake: torch.Tensor, rng: torch.Tensor) -> torch.Tensor:
    """Gulrajani et al. eq. 3: mean (||grad D(x_hat)|| - 1)^2, x_hat = eps real + (1 - eps) fake,
    eps ~ U[0, 1) per image - drawn from the RNG state the trainer's call started from."""
    saved = torch.get_rng_state()
    torch.set_rng_state(rng)
    eps = torch.rand(real.shape[0], 1, 1, 1)
    torch.set_rng_state(saved)
    grad = input_gradient(D, eps * real + (1 - eps) * fake)
    return (grad.norm(dim=1) - 1).pow(2).mean()


def r1_by_hand(D, real: torch.Tensor) -> torch.Tensor:
    """Mescheder et al. eq. 9 without gamma / 2: mean ||grad D(real)||^2."""
    return input_gradient(D, real).pow(2).sum(dim=1).mean()


def params_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def record_grads(module: torch.nn.Module) -> list[list[torch.Tensor]]:
    """Every gradient computed for each parameter of ``module``, in parameter order."""
    grads: list[list[torch.Tensor]] = []
    for p in module.parameters():
        grads.append([])
        p.register_hook(lambda g, out=grads[-1]: out.append(g.detach().clone()))
    return grads


# --------------------------------------------------------------------------- gradient penalty


def test_gradient_penalty_adds_gp_weight_times_the_penalty_to_D_loss(monkeypatch):
    calls = spy_on(monkeypatch, "gradient_penalty")
    (real_u8,) = real_batches(1)
    off = make_trainer(**{"loss.loss": "wgan-gp", "loss.gp_weight": 0})
    stats_off = off.train_step(real_u8)
    assert calls == [], "gp_weight 0: no penalty is computed"

    on = make_trainer(**{"loss.loss": "wgan-gp", "loss.gp_weight": 10})
    D_at_step = copy.deepcopy(on.D)  # the D the penalty differentiates: before this step's update
    stats_on = on.train_step(real_u8)
    assert len(calls) == 1, "one D step: one gradient penalty"
    real, fake = calls[0]["images"][:2]
    torch.testing.assert_close(real, model_range(real_u8))  # on the real batch as D saw it
    penalty = wgan_gp_by_hand(D_at_step, real, fake, calls[0]["rng"])
    # BatchNorm keeps this D's input gradients near unit norm at the start, so the penalty is
    # small (~2e-3), yet far above the tolerance of the comparison below
    assert penalty.item() > 1e-3
    torch.testing.assert_close(stats_on.d_loss - stats_off.d_loss, 10 * penalty, rtol=1e-4, atol=1e-5)
    assert not params_equal(on.D, off.D), "the penalty's gradient must move D"


def test_gradient_penalty_changes_D_gradient_and_never_G_gradient_in_the_joint_step():
    grads = {}
    for weight in (10.0, 0.0):
        tr = make_trainer(**{"loss.loss": "wgan-gp", "loss.gp_weight": weight, "train.step": "joint"})
        g_grads, d_grads = record_grads(tr.G), record_grads(tr.D)
        tr.train_step(real_batches(1)[0])
        grads[weight] = (g_grads, d_grads, tr)
    (g10, d10, tr10), (g0, d0, tr0) = grads[10.0], grads[0.0]
    assert all(len(g) == 1 for g in g10 + d10 + g0 + d0), "one gradient per parameter"
    assert all(torch.equal(a[0], b[0]) for a, b in zip(g10, g0)), "the penalty must not reach G"
    assert params_equal(tr10.G, tr0.G)
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(d10, d0)), "the penalty must reach D"
    assert not params_equal(tr10.D, tr0.D)


# --------------------------------------------------------------------------- R1


def adam_steps(opt: torch.optim.Optimizer) -> int:
    """The optimizer steps Adam has taken (its per-parameter step count)."""
    return max((int(st["step"]) for st in opt.state.values()), default=0)


def test_lazy_r1_is_a_d_step_of_its_own_after_d_updates_0_and_2_not_1(monkeypatch):
    """r1_every = 2: R1 is not in D's main loss; after D's main updates 0 and 2 (not 1) D takes an
    optimizer step of its own on (gamma / 2) * 2 * R1, taken at D's weights after that main update
    (Karras et al. 2020's "D reg" phase). Each step is compared with a trainer without R1 started
    from the same state (weights, optimizer moments, counters) and the same RNG state."""
    gamma, every = 10.0, 2
    calls = spy_on(monkeypatch, "r1_penalty")
    tr = make_trainer(**{"loss.r1_gamma": gamma, "loss.r1_every": every, "optim.lazy_correction": False})
    ref = make_trainer(**{"loss.r1_gamma": 0.0})
    for step, real_u8 in enumerate(real_batches(3)):
        ref.load_state_dict(copy.deepcopy(tr.state_dict()))
        assert params_equal(ref.D, tr.D) and ref.d_steps == tr.d_steps == step
        rng, n_calls, before = torch.get_rng_state(), len(calls), adam_steps(tr.opt_d)
        stats = tr.train_step(real_u8)
        torch.set_rng_state(rng)
        stats_ref = ref.train_step(real_u8)
        due = step % every == 0
        assert len(calls) - n_calls == int(due), f"D step {step}: R1 {'due' if due else 'not due'}"
        assert adam_steps(tr.opt_d) - before == 1 + int(due), f"D step {step}: D's optimizer steps"
        assert torch.equal(stats.d_loss, stats_ref.d_loss), f"D step {step}: R1 is not in D's main loss"
        if due:
            r1 = r1_by_hand(ref.D, model_range(real_u8))  # ref.D: D after the same main update
            assert r1.item() > 1e-3
            torch.testing.assert_close(calls[-1]["value"], r1, rtol=1e-4, atol=1e-6)
            assert not params_equal(tr.D, ref.D), f"D step {step}: R1 must move D"
        else:
            assert params_equal(tr.D, ref.D) and params_equal(tr.G, ref.G), f"D step {step}: an R1-free update"


def test_lazy_r1_interval_counts_D_updates_not_G_steps(monkeypatch):
    calls = spy_on(monkeypatch, "r1_penalty")
    tr = make_trainer(**{"loss.r1_gamma": 1.0, "loss.r1_every": 3, "tricks.n_critic": 2, "train.batch_size": 4})
    per_step = []
    for real_u8 in real_batches(4, n=8):  # 2 D updates of 4 images per step: D steps 0-1, 2-3, 4-5, 6-7
        n_calls = len(calls)
        tr.train_step(real_u8)
        per_step.append(len(calls) - n_calls)
    assert per_step == [1, 1, 0, 1]  # R1 on D steps 0, 3 and 6


# --------------------------------------------------------------------------- instance noise


def test_instance_noise_reaches_real_and_fake_inputs_of_D_with_the_annealed_std():
    """std 0.4 annealed to 0 over 4 steps: 0.4, 0.3, 0.2, 0.1, then none. Real images are all
    black (-1), so what D sees of them minus -1 is the noise; with reuse_fake the G phase scores
    the D phase's fakes again, with fresh noise, so their difference is noise times sqrt(2)."""
    tr = make_trainer(**{"tricks.instance_noise": 0.4, "tricks.instance_noise_steps": 4, "train.reuse_fake": True})
    seen: list[torch.Tensor] = []
    tr.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    black = torch.zeros(N, 1, 28, 28, dtype=torch.uint8)
    for step, std in enumerate([0.4, 0.3, 0.2, 0.1, 0.0]):
        seen.clear()
        tr.train_step(black)
        assert len(seen) == 3  # real and fake (BatchNorm D: separate passes), then the G phase's fake
        offsets = [(x + 1).mean().abs().item() for x in seen]
        i_real = min(range(3), key=offsets.__getitem__)
        assert offsets[i_real] < 0.05, "D's real input: black images plus zero-mean noise"
        real_noise = seen[i_real] + 1
        fake_d, fake_g = (x for i, x in enumerate(seen) if i != i_real)
        if std == 0:
            assert torch.equal(real_noise, torch.zeros_like(real_noise)), f"step {step}: annealed to 0"
            assert torch.equal(fake_d, fake_g)
            continue
        assert real_noise.std().item() == pytest.approx(std, rel=0.05), f"step {step}"
        assert (fake_d - fake_g).std().item() == pytest.approx(std * 2 ** 0.5, rel=0.05), f"step {step}"


@pytest.mark.parametrize("every", [1, 4])
def test_r1_is_taken_on_the_reals_before_augmentation(monkeypatch, every):
    """With DiffAugment on, R1's gradient is taken with respect to the un-augmented reals (D sees
    them through a fresh draw of the augmentation), lazy or not."""
    calls = spy_on(monkeypatch, "r1_penalty")
    tr = make_trainer(**{"loss.r1_gamma": 1.0, "loss.r1_every": every, "tricks.augment": "translation,cutout",
                         "tricks.augment_p": 1.0})
    seen = []
    orig = tr.d_input
    tr.d_input = lambda x: (seen.append(x.detach().clone()), orig(x))[1]
    (real_u8,) = real_batches(1)
    tr.train_step(real_u8)
    (call,) = calls
    torch.testing.assert_close(call["images"][0], model_range(real_u8))  # the reals as they are
    augmented = orig(model_range(real_u8))
    assert not torch.allclose(augmented, model_range(real_u8))  # (the augmentation does change them)
    assert any(torch.equal(x, model_range(real_u8)) for x in seen)  # and D's input went through it
