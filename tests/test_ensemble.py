"""Robust ensembles, sigma_ens and the rule beyond the training range."""

import copy

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_config
from kansym.cli.commands import app
from kansym.network.ensemble import calibration, combine, consensus, departures
from kansym.errors import KansymError
from kansym.network.regressor import KANRegressor, TrainSchedule
from kansym.runs.artifacts import load_network, save_network
from kansym.pipeline.discovery import discover
from kansym.pipeline.recipe import assemble_stage
from kansym.pipeline.config import load_dataset
from typer.testing import CliRunner

runner = CliRunner()


def healthy(n_members=4, n=200, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    truth = rng.normal(0.0, 0.5, n)
    return truth, truth + rng.normal(0.0, noise, (n_members, n))


def test_planted_divergent_member_dropped_and_named():
    truth, P = healthy()
    bad = P[0] + np.where(np.arange(P.shape[1]) % 3 == 0, 2.0, 0.0)  # runs away on a third of the nuclei
    P5 = np.vstack([P[:2], bad, P[2:]])
    c = consensus(P5, scale=0.1)
    assert c.dropped == (2,) and c.kept == (0, 1, 3, 4) and c.agrees
    assert np.array_equal(c.prediction, np.median(P, axis=0))
    assert "member 12" in c.reason([10, 11, 12, 13, 14]) and "threshold" in c.reason()
    # departures: the planted member departs by ~1.2 MeV RMS, the healthy ones by ~0.1
    d = departures(P5)
    assert d[2] > 1.0 and max(np.delete(d, 2)) < 0.2


def test_median_rule_keeps_prediction_near_healthy_members():
    truth, P = healthy(n_members=5)
    P[4] += 3.0  # one member diverges everywhere
    healthy_mean = P[:4].mean(axis=0)
    med, _ = combine(P, "median")
    mean, _ = combine(P, "mean")
    # without any member dropped, the median stays within the healthy members' own scatter
    assert np.sqrt(np.mean((med - healthy_mean) ** 2)) < 0.1
    assert np.sqrt(np.mean((mean - healthy_mean) ** 2)) > 0.5


def test_sigma_ens_zero_for_identical_members_nan_for_one():
    truth, P = healthy()
    same = np.vstack([P[0]] * 4)
    c = consensus(same, scale=0.1)
    assert np.array_equal(c.sigma_ens, np.zeros(P.shape[1])) and np.array_equal(c.prediction, P[0])
    assert c.dropped == () and c.departure == (0.0, 0.0, 0.0, 0.0)
    _, sigma = combine(P[:1])
    assert np.isnan(sigma).all()
    # sigma_ens is the sample standard deviation of the members
    _, sigma = combine(P)
    assert np.allclose(sigma, P.std(axis=0, ddof=1))


def test_members_below_training_accuracy_never_divergent():
    # members agree to 1e-4 MeV but one departs by 0.01 MeV: far below the 0.15 MeV fit accuracy
    truth, P = healthy(noise=1e-4)
    P[1] += 0.01
    assert consensus(P, scale=0.15).dropped == ()


def test_non_finite_member_dropped():
    truth, P = healthy()
    P[3, 5] = np.nan
    c = consensus(P, scale=0.1)
    assert c.dropped == (3,) and np.isfinite(c.prediction).all() and np.isinf(c.departure[3])


def test_most_members_diverging_do_not_agree():
    truth, P = healthy()
    rng = np.random.default_rng(1)
    P[1:] += rng.normal(0.0, 3.0, P[1:].shape)  # three of four members scatter by 3 MeV
    assert not consensus(P, scale=0.1).agrees


def test_calibration_fractions():
    cal = calibration(np.array([0.5, -1.5, 2.5, np.nan]), np.array([1.0, 1.0, 1.0, 1.0]))
    assert cal["n"] == 3 and cal["within_1_sigma"] == pytest.approx(1 / 3) and cal["within_2_sigma"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- real networks

@pytest.fixture(scope="module")
def tiny_member(tmp_path_factory):
    """One tiny KAN-WS4 network (Z, N, P, S) on the default selection with the new-in-AME2020 split."""
    cfg = tiny_config(tmp_path_factory.mktemp("member"), target="residual", model="ws4", split="new-in-ame2020",
                      features="znps").resolved()
    ds = load_dataset(cfg)
    tr = ds.mask("train")
    reg = KANRegressor(width=cfg.width, k=cfg.k, schedule=cfg.schedule(), seed=0, feature_names=ds.feature_names)
    return ds, reg.fit(ds.X[tr], ds.y[tr])


def runaway(member, factor):
    """A copy of a real network whose output is scaled: a planted divergent member."""
    other = copy.copy(member)
    other.y_scaler_ = type(member.y_scaler_)(member.y_scaler_.center, tuple(s * factor for s in member.y_scaler_.scale))
    return other


def test_assemble_stage_drops_planted_member(tiny_member):
    ds, reg = tiny_member
    members = [reg, reg, runaway(reg, 40.0), reg]
    stage = assemble_stage(ds, members)
    assert stage.consensus.dropped == (2,)
    assert np.array_equal(stage.prediction, reg.predict(ds.X))
    assert np.array_equal(stage.sigma_ens, np.zeros(len(ds.y)))
    m = stage.metrics()["ensemble"]
    assert m["kept"] == [0, 0, 0] and m["dropped"] == [0] and "departs" in m["reason"]


def test_assemble_stage_refuses_an_ensemble_that_disagrees(tiny_member):
    ds, reg = tiny_member
    members = [reg, runaway(reg, 40.0), runaway(reg, 60.0), runaway(reg, 80.0)]
    with pytest.raises(KansymError, match="does not agree.*most members diverge"):
        assemble_stage(ds, members)


def test_inputs_beyond_training_range_are_clamped():
    # one input x in [0, 1]: beyond the data every edge is constant at its boundary value
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0.0, 1.0, 200))[:, None]
    y = np.sin(4 * x[:, 0]) + x[:, 0] ** 2
    reg = KANRegressor(width=(3,), schedule=TrainSchedule(grids=(3, 5), steps=5, prune=False), seed=0)
    reg.fit(x, y)
    far = np.array([[1.05], [1.5], [3.0], [-0.2], [-2.0]])
    edge = np.array([[x.max()]] * 3 + [[x.min()]] * 2)
    assert np.array_equal(reg.predict(far), reg.predict(edge))
    assert reg.outside(far).all() and not reg.outside(x).any()
    spline = copy.copy(reg)
    spline.beyond = "spline"
    assert np.array_equal(spline.predict(x), reg.predict(x))  # nothing changes on the training inputs
    assert not np.array_equal(spline.predict(far), reg.predict(far))  # pykan's extended grid differs


def test_clamp_rule_survives_save_and_load(tmp_path, tiny_member):
    ds, reg = tiny_member
    save_network(reg, tmp_path / "kan")
    again = load_network(tmp_path / "kan")
    assert again.beyond == "clamp"
    far = ds.X.copy()
    far[:, 1] += 40  # 40 more neutrons: outside the training range of N
    assert np.array_equal(again.predict(far), reg.predict(far))
    assert again.outside(far).any()


def test_run_reports_sigma_and_calibration(tmp_path):
    res = discover(tiny_config(tmp_path, target="residual", model="ws4", split="new-in-ame2020", features="znps",
                               ensemble=3, steps=2))
    preds = pd.read_csv(res.run_dir / "predictions.csv")
    assert {"sigma_ens", "sigma", "outside_training_range"} <= set(preds.columns)
    assert (preds.sigma_ens >= 0).all() and (preds.sigma >= preds.sigma_ens).all()
    ens = res.metrics["ensemble"]
    assert ens["seeds"] == [0, 1, 2] and ens["checked_on"] == "test nuclei"
    assert set(ens["members_rmse_mev"]["test"]) == {"0", "1", "2"}
    cal = ens["calibration_test"]["sigma"]
    assert cal["n"] == res.metrics["counts"]["test"] and 0 <= cal["within_1_sigma"] <= cal["within_2_sigma"] <= 1


def test_uncertainty_with_one_member_is_refused(tmp_path):
    with pytest.raises(KansymError, match="one network gives no spread"):
        tiny_config(tmp_path, ensemble=1, uncertainty=True).resolved()
    r = runner.invoke(app, ["discover", "--ensemble", "1", "--uncertainty", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "no spread" in r.output and not any(tmp_path.iterdir())
    r = runner.invoke(app, ["discover", "--beyond-range", "wrap", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "clamp" in r.output


def test_table1_reports_medians_and_spreads_over_split_seeds(tmp_path):
    from kansym.pipeline.config import DiscoverConfig
    from kansym.pipeline.table1 import table1, table1_latex

    base = DiscoverConfig(target="residual", ensemble=2, steps=2, grid=3, refine=(5,), width=(2,), runs_dir=str(tmp_path))
    df = table1(("ws4",), seeds=2, base=base)
    row = df.iloc[0]
    per_seed = [float(v) for v in row["sigma_kan_test_per_seed"].split()]
    assert len(per_seed) == 2 and row["sigma_kan_test"] == pytest.approx(np.median(per_seed), abs=1e-4)
    assert row["sigma_kan_test_spread"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-4)
    tex = table1_latex(df)
    assert "\\pm" in tex and "split seeds 0-1" in tex and "0.205" in tex
    # the differential RMS of WS4 itself, over every pair of the fit's nuclei, is the model's own (seed-independent)
    from kansym.checks import masstable
    from kansym.nuclear import tables
    from kansym.nuclear.nuclides import be_from_me
    from kansym.pipeline.config import load_dataset

    ds = load_dataset(base.resolved())
    f = ds.frame
    s = masstable.Surface("ws4", f["Z"].to_numpy(), f["N"].to_numpy(), np.asarray(be_from_me(f["Z"], f["N"], f["ME_model"])))
    s2n, exp = s.quantity("S_2n")[0], masstable.measured(f[["Z", "N"]])["S_2n_ame2020"].to_numpy()
    d = (s2n - exp)[np.isfinite(s2n - exp)]
    assert row["S_2n_pre"] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-12) and 0.2 < row["S_2n_pre"] < 0.6
    assert np.isfinite(row["S_2n_kan"]) and np.isfinite(row["Q_alpha_kan_test"]) and tables.MODELS["ws4"]
