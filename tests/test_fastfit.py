"""The fast trainer evaluates pykan's network (same outputs, gradients and sparsity penalty) and trains
it reproducibly; networks it cannot handle go to pykan's fit; runs written before it keep their recipe."""

import dataclasses

import numpy as np
import pytest
import torch

from kansym.pipeline.config import DiscoverConfig, load_dataset
from kansym.network.fastfit import FastForward, fit_stage, sparsity, unsupported
from kansym.network.regressor import KANRegressor, TrainSchedule, contained


def _network(width, grid, k, seed=0):
    """A pykan MultKAN with random (non-initial) coefficients and scales, and data partly off its grid."""
    from kan import MultKAN

    model = MultKAN(width=list(width), grid=grid, k=k, seed=seed, auto_save=False, device="cpu")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.act_fun:
            layer.coef.add_(torch.randn(layer.coef.shape, generator=gen))
            layer.scale_sp.add_(torch.randn(layer.scale_sp.shape, generator=gen))
    x = torch.rand(300, model.width_in[0], generator=gen) * 2.6 - 1.3  # beyond [-1, 1] and the extended grid
    return model, x


def _pykan_grads(model, x, y, lamb=0.0):
    model.save_act = lamb > 0
    for p in model.parameters():
        p.grad = None
    loss = torch.mean((model(x) - y) ** 2)
    if lamb > 0:
        loss = loss + lamb * model.reg("edge_forward_spline_n", 1.0, 2.0, 0.0, 0.0)
    loss.backward()
    return float(loss.detach()), [None if p.grad is None else p.grad.clone() for p in model.parameters()]


def _fast_grads(model, x, y, lamb=0.0):
    for p in model.parameters():
        p.grad = None
    out, scales = FastForward(model)(x, with_reg=lamb > 0)
    loss = torch.mean((out - y) ** 2)
    if lamb > 0:
        loss = loss + lamb * sparsity(scales, 1.0, 2.0)
    loss.backward()
    return float(loss.detach()), [None if p.grad is None else p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("width,grid,k", [([4, 10, 1], 5, 3), ([3, 4, 2, 1], 7, 2), ([2, 3, 1], 4, 5),
                                          ([2, 2, 1], 3, 1)])
@pytest.mark.parametrize("lamb", [0.0, 1e-2])
def test_same_function_gradients_and_penalty_as_pykan(width, grid, k, lamb):
    with contained(0):
        model, x = _network(width, grid, k)
        model.symbolic_enabled = False
        y = torch.sin(3 * x[:, :1])
        with torch.no_grad():
            model.save_act = False
            ref = model(x)
            fast = FastForward(model)(x)[0]
        assert torch.allclose(fast, ref, rtol=1e-12, atol=1e-12)
        loss_ref, g_ref = _pykan_grads(model, x, y, lamb)
        loss_fast, g_fast = _fast_grads(model, x, y, lamb)
    assert loss_fast == pytest.approx(loss_ref, rel=1e-12)
    for a, b in zip(g_ref, g_fast):
        if a is None or b is None:  # parameters outside the loss (symbolic branch, fixed affine maps)
            assert a is None or not a.any()
            continue
        assert torch.allclose(b, a, rtol=1e-9, atol=1e-12 * float(a.abs().max() + 1))


def test_first_layer_cache_follows_grid_updates():
    with contained(0):
        model, x = _network([3, 4, 1], 5, 3)
        model.save_act = False
        model.symbolic_enabled = False
        fast = FastForward(model)
        before = fast(x)[0].detach().clone()
        model.update_grid(x)
        fast.grid_changed()
        with torch.no_grad():
            assert torch.allclose(fast(x)[0], model(x), rtol=1e-12, atol=1e-12)
        assert not torch.equal(before, fast(x)[0].detach())


def test_fit_stage_lowers_the_loss_and_is_bit_reproducible():
    def train():
        with contained(3):
            model, x = _network([2, 3, 1], 3, 3, seed=3)
            y = (x[:, :1] ** 2 - x[:, 1:]).detach()
            data = {"train_input": x, "train_label": y, "test_input": x[:50], "test_label": y[:50]}
            res = fit_stage(model, data, steps=4, lamb=1e-3, lamb_l1=1.0, lamb_entropy=2.0, update_grid=True,
                            stop_grid_update_step=2, grid_update_num=2)
            return res, [p.detach().clone() for p in model.parameters()]

    (res, params), (res2, params2) = train(), train()
    assert res["train_loss"][-1] < res["train_loss"][0]
    assert np.array_equal(res["train_loss"], res2["train_loss"]) and np.array_equal(res["test_loss"], res2["test_loss"])
    assert all(torch.equal(a, b) for a, b in zip(params, params2))


def test_networks_it_cannot_evaluate_go_to_pykan():
    with contained(0):
        model, x = _network([2, 2, 1], 3, 3)
        assert unsupported(model) is None
        model.fix_symbolic(0, 0, 0, "x^2", fit_params_bool=False)
        assert "symbolic" in unsupported(model)
    from kan import MultKAN

    with contained(0):
        assert "multiplication" in unsupported(MultKAN(width=[2, [1, 1], 1], grid=3, k=3, auto_save=False))


def test_both_trainers_reach_the_same_accuracy_on_real_data():
    """On the bundled AME2020 even-even set both trainers fit equally well (noise apart)."""
    cfg = DiscoverConfig(target="be", steps=5, refine=(5,), features="zn").resolved()
    ds = load_dataset(cfg)
    tr, te = ds.mask("train"), ds.mask("test")
    rmse = {}
    for trainer in ("fast", "pykan"):
        sched = dataclasses.replace(cfg.schedule(), trainer=trainer)
        reg = KANRegressor(width=cfg.width, schedule=sched, seed=0, baseline=cfg.baseline,
                           feature_names=ds.feature_names).fit(ds.X[tr], ds.y[tr])
        rmse[trainer] = float(np.sqrt(np.mean((reg.predict(ds.X[te]) - ds.y[te]) ** 2)))
        assert reg.pruned_width_ == [2, 1, 1]
    assert abs(rmse["fast"] - rmse["pykan"]) < 0.25 * rmse["pykan"], rmse


def test_trainer_option_and_the_recipe_of_older_runs():
    assert DiscoverConfig().resolved().schedule().trainer == "fast"
    old = DiscoverConfig().resolved().to_dict()
    del old["trainer"]
    assert DiscoverConfig.from_dict(old).resolved().trainer == "pykan"
    with pytest.raises(Exception, match="unknown --trainer 'adam'; valid choices: fast, pykan"):
        DiscoverConfig(trainer="adam").resolved()
    with pytest.raises(Exception, match="unknown trainer"):
        TrainSchedule(trainer="adam")
