"""KANSymbolicRegressor: a scikit-learn estimator over the same recipe as `kansym discover`."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (check_do_not_raise_errors_in_init_or_set_params,
                                            check_get_params_invariance, check_no_attributes_set_in_init,
                                            check_parameters_default_constructible, check_set_params)

import kansym
from kansym import KANSymbolicRegressor
from kansym.symbolic.formula import Formula
from kansym.pipeline.recipe import load_run_stage

FAST = dict(steps=5, refine=(5,))


@pytest.fixture(scope="module")
def drop():
    """A liquid drop (the ldx terms at values near their fit to AME2020) planted on the real even-even grid
    (Z, N >= 30), with 0.3 MeV of noise. (The 4-term drop alone has |corr(a_V, a_S)| > 0.995 on these nuclei: no
    formula built on it counts as determined.)"""
    df = kansym.nuclei(subset="even-even", min_z=30, min_n=30, max_unc=None)
    Z, N = df["Z"].to_numpy(float), df["N"].to_numpy(float)
    A = Z + N
    y = (15.5 * A - 17.1 * A ** (2 / 3) - 0.70 * Z * (Z - 1) / A ** (1 / 3) - 33.4 * (N - Z) ** 2 / A
         - 119.0 * np.abs(N - Z) / A + 70.5 * (N - Z) ** 2 / A ** (4 / 3))
    y = y + np.random.default_rng(7).normal(0, 0.3, len(y))
    return df[["Z", "N"]], y


@pytest.fixture(scope="module")
def fitted(drop):
    X, y = drop
    return KANSymbolicRegressor(random_state=0, **FAST).fit(X, y)


# The parameter checks of sklearn.utils.estimator_checks run; the fit-based checks of check_estimator are
# left out: they fit on random 1-5 column arrays of 10-30 rows, where a formula search is meaningless
# (KANSymbolicRegressor needs at least 2 x max_constants training rows) and each fit takes seconds.
@pytest.mark.parametrize("check", [check_parameters_default_constructible, check_no_attributes_set_in_init,
                                   check_get_params_invariance, check_set_params,
                                   check_do_not_raise_errors_in_init_or_set_params])
def test_sklearn_parameter_checks(check):
    check("KANSymbolicRegressor", KANSymbolicRegressor())


def test_clone_and_params():
    est = KANSymbolicRegressor(width=7, lib="poly", random_state=3)
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert twin.set_params(max_constants=6).max_constants == 6 and est.max_constants == 12


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        KANSymbolicRegressor().predict(np.zeros((3, 2)))


def test_planted_liquid_drop_recovered(drop, fitted):
    X, y = drop
    f = fitted.formula_
    values = {p.name: p.value for p in f.parameters}
    assert abs(values["a_V"] - 15.5) < 0.3 and abs(values["a_I"] + 33.4) < 1.5
    assert np.sqrt(np.mean((fitted.predict(X) - y) ** 2)) < 0.4  # at the planted noise
    report = fitted.fit_report()
    assert "[[Constants]]" in report and "a_V" in report and "+/-" in report
    assert fitted.latex().count("N") > 2 and fitted.sympy().free_symbols == set(f.symbols)
    band = fitted.eval_uncertainty(X)
    assert np.isfinite(band).all() and (band > 0).all() and band.max() < 1.0
    assert {"name", "n_constants", "rmse_train_mev", "rmse_test_mev", "pareto", "chosen", "sympy"} <= \
        set(fitted.candidates_.columns) and fitted.candidates_["chosen"].sum() == 1
    assert np.array_equal(fitted.predict(X, use="kan"), fitted.network_.predict(X.to_numpy(float))[0])


def test_same_seed_same_formula(drop, fitted):
    X, y = drop
    again = KANSymbolicRegressor(random_state=0, **FAST).fit(X, y)
    assert again.formula_.to_dict() == fitted.formula_.to_dict()
    assert Formula.from_dict(fitted.formula_.to_dict()).predict(X).tobytes() == fitted.predict(X).tobytes()


@pytest.mark.parametrize("case,match", [
    ("nan", "NaN or infinite"), ("lengths", "rows but y has"), ("few", "too few"),
    ("names", "distinct"), ("columns", "disagree"),
])
def test_bad_input_names_the_argument(drop, case, match):
    X, y = drop
    est = KANSymbolicRegressor(**FAST)
    args = {"nan": (X.assign(Z=X["Z"].where(X["Z"] > 40)), y), "lengths": (X, y[:-3]), "few": (X.iloc[:12], y[:12]),
            "names": (X.to_numpy(), y), "columns": (X, y)}[case]
    kwargs = {"names": {"feature_names": ["Z", "Z"]}, "columns": {"feature_names": ["N", "Z"]}}.get(case, {})
    with pytest.raises(ValueError, match=match):
        est.fit(*args, **kwargs)


def test_predict_checks_columns(fitted, drop):
    X, _ = drop
    with pytest.raises(ValueError, match="lacks the columns"):
        fitted.predict(X.rename(columns={"N": "n"}))


def test_from_run_reproduces_the_run_bit_for_bit(formula_run):
    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    _, stage = load_run_stage(formula_run.run_dir)
    X = stage.dataset.X
    written = pd.read_csv(formula_run.run_dir / "predictions.csv")["prediction"].to_numpy()
    assert est.predict(X, use="kan").tobytes() == written.tobytes()
    entry = Formula.from_dict(__import__("json").loads((formula_run.run_dir / "formula.json").read_text()))
    assert est.predict(X).tobytes() == entry.evaluate(X).tobytes()
    with pytest.raises(kansym.KansymError, match="not a complete kansym run"):
        KANSymbolicRegressor.from_run(formula_run.run_dir / "kan")


def test_score_checks_y_as_fit_does(formula_run):
    """score is the formula's R^2; a y with NaN, text or the wrong length is refused in kansym's words."""
    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    ds = load_run_stage(formula_run.run_dir)[1].dataset
    y = np.asarray(ds.y, dtype=float)
    resid = y - est.predict(ds.X)
    assert est.score(ds.X, y) == pytest.approx(1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum(), rel=1e-12)
    for bad, message in ((np.where(np.arange(len(y)) == 3, np.nan, y), "1 NaN or infinite"),
                         (y[:-1], "rows but y has"), (["a"] * len(y), "real numbers")):
        with pytest.raises(ValueError, match=message):
            est.score(ds.X, bad)


def test_from_run_gives_every_candidate_back_bit_for_bit(formula_run, tmp_path):
    """sympy(i), latex(i) and predict of every candidate of a loaded run are the run's own (candidates.json),
    and an edited candidate is refused naming it."""
    from kansym.pipeline.recipe import round_trip_candidates

    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    search = formula_run.symbolic.search
    names = est.feature_names_in_
    mine = round_trip_candidates(search, names)
    assert len(est.candidates_) == len(mine) == len(search.candidates) >= 2
    X = load_run_stage(formula_run.run_dir)[1].dataset.X
    for i, (f, c) in enumerate(zip(mine, search.candidates)):
        assert sp.srepr(est.sympy(i)) == sp.srepr(f.sympy()) == sp.srepr(c.formula.sympy())  # nothing lost in JSON
        assert est.latex(i) == f.latex(precision=5)
        assert est._formula(i).evaluate(X).tobytes() == c.formula.evaluate(X).tobytes()
        assert [p.stderr for p in est._formula(i).parameters] == [p.stderr for p in c.formula.parameters]
    chosen = int(np.flatnonzero(est.candidates_["chosen"].astype(str) == "True")[0])
    assert est.latex(chosen) == est.latex() and sp.srepr(est.sympy(chosen)) == sp.srepr(est.sympy())
    # an edited constant of a candidate that was not chosen is refused by from_run and show alike
    run = tmp_path / "run"
    shutil.copytree(formula_run.run_dir, run)
    data = json.loads((run / "candidates.json").read_text())
    other = next(k for k in range(len(mine)) if k != chosen)
    data["candidates"][other]["parameters"][0]["value"] *= 1.01
    (run / "candidates.json").write_text(json.dumps(data))
    with pytest.raises(kansym.KansymError, match=f"candidate {other}"):
        KANSymbolicRegressor.from_run(run)


def test_the_estimator_of_a_run_describes_its_recipe(formula_run):
    """get_params of an estimator built from a run's config give back every setting the recipe reads (the
    options that only the command line uses -- stages, cross-check, chains, paths, split -- aside)."""
    from dataclasses import fields

    from kansym.pipeline.config import DiscoverConfig, run_config

    cfg = run_config(json.loads((formula_run.run_dir / "config.json").read_text()))
    est = KANSymbolicRegressor.from_config(cfg)
    twin = clone(est)
    rebuilt, _ = twin._config(("Z", "N"))
    cli_only = {"target", "subset", "model", "features", "split", "min_z", "min_n", "max_unc", "include_estimated",
                "stage", "crosscheck", "crosscheck_budget", "crosscheck_generations", "extrapolate", "chains",
                "runs_dir"}
    for f in fields(DiscoverConfig):
        if f.name not in cli_only:
            assert getattr(rebuilt, f.name) == getattr(cfg, f.name), f.name


def test_readme_notebook_section_runs():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### In a notebook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the documented snippet, as a user runs it
    est, band = namespace["est"], namespace["band"]
    assert est.formula_ is not None and len(namespace["be"]) == 20 and len(band) == 20
    assert np.isfinite(namespace["kan"]).all()


def test_kan_regressor_is_an_sklearn_estimator():
    from kansym.network.regressor import KANRegressor

    r = KANRegressor(width=(3,), seed=4)
    twin = clone(r)
    assert twin.get_params()["width"] == (3,) and twin.seed == 4 and twin.schedule.steps == 20  # the CLI's steps
    with pytest.raises(NotFittedError):
        r.predict(np.zeros((2, 2)))


# --------------------------------------------------------------------------- plain arrays

def test_plain_arrays_fall_back_to_a_linear_baseline(drop):
    """Without columns named Z and N the liquid drop is unavailable: the fit warns, notes it, and uses a
    linear baseline; predict takes the same plain arrays (or a DataFrame with the given names)."""
    X, y = drop
    A = X.to_numpy(dtype=float)
    est = KANSymbolicRegressor(random_state=0, **FAST)
    with pytest.warns(UserWarning, match="liquid-drop baseline is unavailable, using baseline='linear'"):
        est.fit(A, y, feature_names=["a", "b"])
    assert est.config_.baseline == "linear" and "baseline='linear'" in est.notes_[0]
    assert list(est.feature_names_in_) == ["a", "b"] and est.formula_ is not None
    pred, kan = est.predict(A), est.predict(A, use="kan")
    rmse = lambda p: np.sqrt(np.mean((p - y) ** 2))  # noqa: E731  MeV; the targets spread by ~360 MeV
    assert rmse(kan) < 0.05 * np.std(y) and rmse(pred) < 0.1 * np.std(y)
    assert np.array_equal(est.predict(pd.DataFrame(A, columns=["a", "b"])), pred)
    assert "baseline='linear'" in est.fit_report()


@pytest.mark.parametrize("baseline,names,expected", [
    ("auto", ("Z", "N"), "ldx"), ("auto", ("x0", "x1"), "linear"), ("auto", ("Z", "b"), "linear"),
    ("linear", ("x0",), "linear"), ("none", ("Z", "N"), "none"),
])
def test_choose_baseline(baseline, names, expected):
    from kansym.estimator import choose_baseline

    chosen, note = choose_baseline(baseline, names)
    assert chosen == expected and (note is not None) == (baseline == "auto" and expected == "linear")
    if note:
        assert "no column named " + " or ".join(v for v in ("Z", "N") if v not in names) in note


@pytest.mark.parametrize("baseline", ["ldx", "ld"])
def test_explicit_liquid_drop_on_plain_arrays_is_refused(drop, baseline):
    X, y = drop
    with pytest.raises(kansym.KansymError, match=r"lack Z, N: name those columns"):
        KANSymbolicRegressor(baseline=baseline, **FAST).fit(X.to_numpy(), y)


def test_no_baseline_on_plain_arrays(drop):
    X, y = drop
    est = KANSymbolicRegressor(baseline="none", random_state=0, **FAST).fit(X.to_numpy(), y)
    assert np.isfinite(est.predict(X.to_numpy(), use="kan")).all()


@pytest.mark.parametrize("kw, message", [
    (dict(width=0), "width must be positive"),
    (dict(r2_min=2.0), "r2_min 2.0 must lie in"),
    (dict(random_state=-1), "random_state -1 must lie in"),
    (dict(beyond="x"), "unknown beyond rule"),
])
def test_bad_arguments_are_value_errors_naming_the_argument(kw, message):
    """A library error names the estimator's argument, not a command-line option, and is a ValueError."""
    X = np.column_stack([np.arange(40, 80), np.arange(50, 90)]).astype(float)
    with pytest.raises(ValueError, match=message) as err:
        KANSymbolicRegressor(**kw).fit(X, X.sum(axis=1), feature_names=["Z", "N"])
    assert "--" not in str(err.value) and isinstance(err.value, kansym.KansymError)


@pytest.mark.parametrize("call, message", [
    (lambda e: e.latex(precision=0), "precision must be a whole number"),
    (lambda e: e.latex(precision=2.5), "precision must be a whole number"),
    (lambda e: e.latex(precision=10**6), "precision must be a whole number"),
    (lambda e: e.sympy("0"), "index must be None or a whole number"),
    (lambda e: e.sympy(999), "index must be None or a whole number"),
    (lambda e: e.fit_report(min_correl="x"), "min_correl must be a number"),
    (lambda e: e.fit_report(min_correl=float("nan")), "min_correl must be a number"),
])
def test_fitted_estimator_methods_check_their_arguments(fitted, call, message):
    with pytest.raises(ValueError, match=message):
        call(fitted)


def test_score_checks_sample_weights_as_fit_does(formula_run):
    """Probe 17: negative weights gave the unweighted score."""
    est = KANSymbolicRegressor.from_run(formula_run.run_dir)
    ds = load_run_stage(formula_run.run_dir)[1].dataset
    with pytest.raises(ValueError, match="finite and positive"):
        est.score(ds.X, ds.y, sample_weight=-np.ones(len(ds.y)))
    assert est.score(ds.X, ds.y, sample_weight=np.full(len(ds.y), 3.0)) == pytest.approx(est.score(ds.X, ds.y))
