"""Far-extrapolation check, liquid-drop baselines and the choice of physical formulas (real data, pykan, SymPy)."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from typer.testing import CliRunner

from kansym.symbolic import candidates as cands_mod
from kansym.checks import farcheck
from kansym.symbolic import search as S
from kansym.nuclear.baselines import fit_baseline
from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.symbolic.formula import Formula, refit, variable_symbols
from kansym.pipeline.config import DiscoverConfig
from kansym.symbolic.reference import fit_eq6, liquid_drop
from kansym.nuclear.survey import rms
from kansym.nuclear.targets import Selection, build_dataset

runner = CliRunner()
SEL = Selection("even-even", 30, 30, None)
BENCH = Path(__file__).resolve().parent.parent / "bench" / "results" / "formula_physics.json"


@pytest.fixture(scope="module")
def ee():
    """The default even-even binding-energy dataset (538 nuclei, random 80/20, seed 0) and its judge."""
    ds = build_dataset(SEL, "be", "znv", "random:0.8", 0, None)
    return ds, farcheck.make_judge(ds, SEL, "znv")


def test_domain_is_frdm_even_even_range(ee):
    _, judge = ee
    assert len(judge.dom) == 2027 and int(judge.dom["beyond"].sum()) == 1308
    assert judge.reference == "frdm12" and not judge.notes


def test_frdm_against_itself_is_zero(ee):
    _, judge = ee
    rep = judge.report(judge.dom["BE_ref"].to_numpy(), against=("frdm12", "ws4"))
    d = rep["deviation_mev"]["frdm12"]
    assert d["rms_inside"] == 0.0 and d["rms_beyond"] == 0.0 and d["max_abs_beyond"] == 0.0
    assert rep["deviation_mev"]["ws4"]["rms_beyond"] > 1.0  # a different model is not zero
    assert rep["fraction_outside_model_spread"] == 0.0  # FRDM2012 is one of the five models spanning the spread


def test_planted_n4z_polynomial_is_rejected(ee):
    """A polynomial in N, Z (up to N^4 Z) that fits AME2020 about as well as a liquid drop but diverges
    beyond it fails the check."""
    ds, judge = ee
    tr = ds.mask("train")
    Z, N = variable_symbols(("Z", "N"))
    basis = (1, N, Z, N ** 2, N * Z, Z ** 2, N ** 3, N ** 4 * Z)
    c = sp.symbols(f"c_1:{len(basis) + 1}", real=True)
    poly = refit(sum(ci * b for ci, b in zip(c, basis)), {ci: 0.0 for ci in c}, ("Z", "N"), ds.X[tr][:, :2], ds.y[tr])
    assert rms(poly.evaluate(ds.X[:, :2]) - ds.y) < 3.0  # it fits the data
    far = judge(_on_znv(poly))
    assert not far.passed and far.failures()
    assert any("(Z,N) (" in f for f in far.failures())  # the failing nuclei are named
    ld = liquid_drop("ldx", ds.X[tr], ds.y[tr], ds.feature_names)  # (the 4-term drop has |corr(a_V, a_S)| > 0.995)
    assert judge(ld).passed
    # the chooser never takes the polynomial, however well it fits
    masks = ds.masks()
    data = cands_mod.Scoring(tuple(ds.feature_names), ds.X, ds.y, masks, judge)
    good = cands_mod.score_formula("ld", ld, data, cands_mod.Origin({}, float("nan")))
    bad = cands_mod.score_formula("n4z", _on_znv(poly), data, cands_mod.Origin({}, float("nan")))
    bad = replace(bad, rmse={k: v / 10 for k, v in bad.rmse.items()})  # even if it fitted ten times better
    structures = [replace(S.screen(s, 12, 10.0), cv_rmse=s.candidate.rmse["train"])
                  for s in S.pool([(0, [bad, good])])]
    assert S.pick(structures).candidate is good
    assert S.pick([s for s in structures if s.candidate is bad]) is None
    assert bad not in cands_mod.pareto_front([bad, good])


def _on_znv(f: Formula) -> Formula:
    """The same formula read with the default feature columns (Z, N, v_Z, v_N)."""
    return Formula(f.expr, ("Z", "N", "v_Z", "v_N"), f.parameters, f.correlations)


def test_non_finite_formula_is_reported_with_nuclei(ee):
    _, judge = ee
    Z, N = variable_symbols(("Z", "N"))
    f = Formula(16 * (N + Z) + sp.sqrt(150 - N), ("Z", "N", "v_Z", "v_N"), ())
    far = judge(f)
    assert far.non_finite == int((judge.dom["N"] > 150).sum()) > 0  # never zeroed or dropped
    assert "NaN or infinite" in far.failures()[0] and "(Z,N)" in far.failures()[0]


def test_residual_correction_bound():
    ds = build_dataset(Selection("all", 8, 8, 0.1), "residual", "znps", "random:0.8", 0, "ws4")
    judge = farcheck.make_judge(ds, Selection("all", 8, 8, 0.1), "znps")
    assert judge.reference == "ws4" and len(judge.dom) > 9000
    assert judge.values(np.zeros(len(judge.dom))).passed
    big = np.where(judge.dom["N"] > 200, 8.0, 0.0)
    far = judge.values(big)
    assert not far.passed and far.correction_out == int((judge.dom["N"] > 200).sum())


def test_uncovered_nuclei_are_named(ee):
    ds, _ = ee
    extra = ds.frame.iloc[:1].assign(Z=140, N=260)
    judge = farcheck.make_judge(replace(ds, frame=pd.concat([ds.frame, extra], ignore_index=True)), SEL, "znv")
    assert judge.notes and "(140,260)" in judge.notes[0] and "does not cover 1" in judge.notes[0]


def test_eq6_refit_reproduces_benchmark():
    if not BENCH.exists():
        pytest.skip("bench/results/formula_physics.json not written yet (python bench/formula_physics.py)")
    recorded = json.loads(BENCH.read_text())["zn"]
    row = next(r for r in recorded["rows"] if r["formula"].startswith("Eq. 6"))
    ds = build_dataset(SEL, "be", "zn", "random:0.8", 0, None)
    tr = ds.mask("train")
    f = fit_eq6(ds.X[tr], ds.y[tr])
    assert f.n_constants == row["n_constants"] == 9
    assert rms(f.evaluate(ds.X) - ds.y) == pytest.approx(row["rmse_all_mev"], abs=1e-6)


def test_baseline_fit_and_expression_agree(ee):
    ds, _ = ee
    b = fit_baseline("ldx", ds.X, ds.y, ds.feature_names)
    assert b.delta == 1.0 and b.terms[-2:] == ("wigner", "surface_symmetry")
    expr = b.expression(variable_symbols(ds.feature_names))
    num = sp.lambdify(variable_symbols(ds.feature_names), expr, "numpy")(*ds.X.T)
    assert np.allclose(num, b.predict(ds.X), rtol=1e-12, atol=1e-9)
    assert rms(b.predict(ds.X) - ds.y) < 3.0


def test_bad_baseline_inputs(tmp_path):
    with pytest.raises(KansymError, match="valid choices.*ld"):
        DiscoverConfig(target="be", baseline="droplet").resolved()
    with pytest.raises(KansymError, match="needs --target be"):
        DiscoverConfig(target="residual", baseline="ld").resolved()
    r = runner.invoke(app, ["discover", "--baseline", "droplet", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "ldx" in r.output and "Traceback" not in r.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_run_with_no_passing_formula_writes_none(tmp_path):
    """With room for one constant no candidate passes: no formula file, the reason in the notes, exit 0."""
    from conftest import tiny_config

    from kansym.pipeline.discovery import discover

    r = discover(tiny_config(tmp_path, stage="symbolic", features="zn", max_constants=1))
    assert r.metrics["formula"] is None and not (r.run_dir / "formula.json").exists()
    assert any("no formula chosen" in n for n in r.notes)
    assert (r.run_dir / "candidates.csv").exists()
    out = runner.invoke(app, ["show", str(r.run_dir)], terminal_width=200)
    assert out.exit_code == 0 and "none chosen" in out.output
