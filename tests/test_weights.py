"""Weighted fits: ``fit(sample_weight=...)`` and ``kansym discover --weights dme`` on the real data."""

import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy as sp

import kansym
from kansym import KANSymbolicRegressor
from kansym.nuclear.targets import dme_weights
from kansym.pipeline.config import load_dataset
from kansym.pipeline.discovery import discover
from kansym.symbolic.formula import refit, uncertainties_at, variable_symbols
from conftest import tiny_config

TINY_FIT = dict(width=(2,), steps=3, refine=(5,), ensemble=1, search_budget=5, max_constants=10, random_state=0)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "kansym", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def drop():
    d = kansym.nuclei("even-even", min_z=30, min_n=30, max_unc=None)
    return d[["Z", "N"]], d["BE"].to_numpy(), d["dME"].to_numpy()


@pytest.fixture(scope="module")
def unweighted(drop):
    X, y, _ = drop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KANSymbolicRegressor(**TINY_FIT).fit(X, y)


@pytest.mark.parametrize("scale", [1.0, 1e-12, 3e11])
def test_uniform_weights_give_the_unweighted_fit_bit_for_bit(drop, unweighted, scale):
    """Only the weights' ratios matter: uniform weights of any scale allowed are no weights at all."""
    X, y, _ = drop
    a = unweighted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = KANSymbolicRegressor(**TINY_FIT).fit(X, y, sample_weight=np.full(len(y), scale))
    assert a.predict(X, use="kan").tobytes() == b.predict(X, use="kan").tobytes()
    assert sp.srepr(a.sympy()) == sp.srepr(b.sympy())
    assert [p.stderr for p in a.formula_.parameters] == [p.stderr for p in b.formula_.parameters]
    cols = [c for c in a.candidates_.columns if c not in ("formula", "sympy")]
    assert a.candidates_[cols].equals(b.candidates_[cols])


def test_the_weighted_refit_is_weighted_least_squares(drop):
    """A formula linear in its constants, refitted with weights 1/(dME^2 + s^2), gives the closed-form weighted
    least-squares constants and covariance (relative weights: s^2 from the weighted residuals)."""
    X, y, dme = drop
    X = X.to_numpy(dtype=float)
    w = dme_weights(dme, 0.1)
    Z, N = variable_symbols(("Z", "N"))
    a, b, c = sp.symbols("a b c", real=True)
    expr = a * (Z + N) + b * (Z + N) ** sp.Rational(2, 3) + c * Z ** 2 / (Z + N) ** sp.Rational(1, 3)
    f = refit(expr, {a: 15.0, b: -17.0, c: -0.7}, ("Z", "N"), X, y, sample_weight=w)
    A = X.sum(axis=1)
    B = np.column_stack([A, A ** (2 / 3), X[:, 0] ** 2 / A ** (1 / 3)])
    r = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(B * r[:, None], y * r, rcond=None)
    assert np.allclose(f.values(), coef, rtol=1e-7)
    res = (B @ coef - y) * r
    cov = np.linalg.inv((B * r[:, None]).T @ (B * r[:, None])) * np.sum(res ** 2) / (len(y) - 3)
    assert np.allclose([p.stderr for p in f.parameters], np.sqrt(np.diag(cov)), rtol=1e-6)
    # the errors do not depend on the weights' scale, and differ from the unweighted fit's
    g = refit(expr, {a: 15.0, b: -17.0, c: -0.7}, ("Z", "N"), X, y, sample_weight=1e3 * w)
    assert np.allclose([p.stderr for p in f.parameters], [p.stderr for p in g.parameters], rtol=1e-8)
    u = refit(expr, {a: 15.0, b: -17.0, c: -0.7}, ("Z", "N"), X, y)
    assert not np.allclose(f.values(), u.values(), rtol=1e-6)
    assert np.allclose(uncertainties_at(f, X, y, w)[0], [p.stderr for p in f.parameters], rtol=1e-6)


def test_dme_weights(drop):
    _, _, dme = drop
    w = dme_weights(dme, 0.1)
    raw = 1 / (dme ** 2 + 0.01)
    assert np.allclose(w, raw / raw.mean()) and abs(w.mean() - 1) < 1e-12
    assert np.isfinite(dme_weights([0.0, 0.5], 0.1)).all()  # 12C's dME = 0 is fine with a floor
    with pytest.raises(kansym.KansymError, match="non-negative"):
        dme_weights([0.1, np.nan], 0.1)


@pytest.mark.parametrize("weights", ["x", [1.0], [np.nan], [0.0], [-1.0]])
def test_bad_sample_weights_are_refused(drop, weights):
    X, y, _ = drop
    w = np.ones(len(y))
    if isinstance(weights, list):
        w[0] = weights[0]
        if weights == [1.0]:
            w = w[:-1]
    else:
        w = weights
    with pytest.raises(ValueError, match="sample_weight"):
        KANSymbolicRegressor(**TINY_FIT).fit(X, y, sample_weight=w)


def test_a_feature_named_like_a_table_column_is_refused(drop):
    X, y, _ = drop
    with pytest.raises(ValueError, match="kansym's own table"):
        KANSymbolicRegressor(**TINY_FIT).fit(X.rename(columns={"N": "y"}), y)


@pytest.mark.parametrize("name", ["c_1", "a_V", "w_Z", "w_0"])
def test_a_feature_named_like_a_constant_is_refused(drop, name):
    """A formula names its constants a_V, c_1, w_Z, ...: an input of that name would be read as a constant."""
    X, y, _ = drop
    with pytest.raises(ValueError, match="named like a formula's constant"):
        KANSymbolicRegressor(**TINY_FIT).fit(X.rename(columns={"Z": name}), y)


@pytest.mark.parametrize("args, message", [
    (["--weights", "dmee"], "dmee"), (["--weight-floor", "0"], "weight-floor"),
    (["--weight-floor", "nan"], "weight-floor"), (["--weights", "dme", "--trainer", "pykan"], "trainer fast"),
])
def test_bad_weight_options_exit_2(tmp_path, args, message):
    r = _cli("discover", *args, "--runs-dir", tmp_path / "runs", "--steps", "1")
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_weighted_run_is_checked_with_its_weights(tmp_path):
    """A --weights dme run: its dataset carries the weights, show accepts it and prints them, and its formula's
    errors are the weighted ones, so a config.json edited to say 'none' is refused."""
    res = discover(tiny_config(tmp_path, stage="symbolic", steps=4, features="zn", lib="poly", weights="dme"))
    cfg = res.config
    assert cfg["weights"] == "dme" and cfg["weight_floor"] == 0.1
    ds = load_dataset(kansym.pipeline.config.run_config(cfg))
    assert np.allclose(ds.w, dme_weights(ds.frame["dME"], 0.1))
    r = _cli("show", res.run_dir)
    assert r.returncode == 0, r.stderr
    assert "fits weighted by 1/(dME^2 + s^2)" in r.stdout
    assert (res.run_dir / "formula.json").exists()
    edited = tmp_path / "edited"
    shutil.copytree(res.run_dir, edited)
    c = json.loads((edited / "config.json").read_text())
    c["weights"] = "none"
    (edited / "config.json").write_text(json.dumps(c))
    r = _cli("show", edited)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "edited" in r.stderr, r.stderr
    c["weights"], c["weight_floor"] = "dme", 0.3  # probe 32: another floor was accepted and printed
    (edited / "config.json").write_text(json.dumps(c))
    r = _cli("show", edited)
    assert r.returncode == 2 and "weighted RMSE (weights of config.json)" in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["bool", "datetime", "text"])
def test_columns_and_targets_that_are_not_real_numbers_are_refused(drop, kind):
    """Booleans, dates and text are not silently read as 0/1, nanoseconds or parsed numbers."""
    X, y, _ = drop
    bad = {"bool": X["Z"] > 50, "datetime": pd.to_datetime(X["Z"], unit="D"), "text": X["Z"].astype(str)}[kind]
    with pytest.raises(ValueError, match="X's column 'Z' must hold real numbers"):
        KANSymbolicRegressor(**TINY_FIT).fit(X.assign(Z=bad), y)
    ybad = {"bool": y > y.mean(), "datetime": pd.to_datetime(np.arange(len(y)), unit="D"),
            "text": np.asarray(y).astype(str)}[kind]
    with pytest.raises(ValueError, match="y must hold real numbers"):
        KANSymbolicRegressor(**TINY_FIT).fit(X, ybad)
    with pytest.raises(ValueError, match="X must hold real numbers"):
        KANSymbolicRegressor(**TINY_FIT).fit(np.asarray(bad)[:, None], y, feature_names=["x"])


@pytest.mark.parametrize("name", ["sin", "exp", "Abs", "sqrt"])
def test_a_feature_named_like_a_function_is_refused(drop, name):
    """An input named sin or exp would be read as SymPy's function in the formula's code."""
    X, y, _ = drop
    with pytest.raises(ValueError, match="mathematical constants or functions"):
        KANSymbolicRegressor(**TINY_FIT).fit(X.rename(columns={"Z": name}), y)
