"""Symbolic stage: edge library, assembly against pykan's own symbolic mode, refit, export."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
from typer.testing import CliRunner

from kansym.report import export
from kansym.symbolic import latex
from kansym.symbolic.candidates import Origin, Scoring, expanded_candidates
from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.symbolic.formula import (Formula, Parameter, check_finite, fit_network, parameterize, refit,
                            variable_symbols)
from kansym.network.regressor import KANRegressor, TrainSchedule, contained
from kansym.nuclear.targets import TARGET_KINDS
from kansym.pipeline.discovery import rerun_symbolic
from kansym.pipeline.registry import export_formula
from kansym.symbolic.library import fit_edge, resolve_library
from kansym.nuclear.targets import Selection, build_dataset


runner = CliRunner()


def test_library_exact_rational_powers():
    lib = {f.name: f for f in resolve_library("x,x^2,x^(2/3),exp")}
    x = sp.Symbol("x", positive=True)
    assert lib["x^(2/3)"].sympy(x) == x ** sp.Rational(2, 3)
    assert "0" in lib  # zero for dead edges is always included
    assert resolve_library("x^(5/3)")[1].sympy(x) == x ** sp.Rational(5, 3)


def test_unknown_library_function():
    with pytest.raises(KansymError, match="unknown function 'sinc'"):
        resolve_library("x,sinc")


@pytest.mark.parametrize("name,fn", [
    ("x^(2/3)", lambda x: 3.0 * np.cbrt(x + 1.5) ** 2 - 2.0),
    ("x^2", lambda x: 0.5 * (x - 0.2) ** 2 + 1.0),
    ("log", lambda x: 2.0 * np.log(x + 1.7) - 0.3),
    ("exp", lambda x: 0.7 * np.exp(1.3 * x)),
])
def test_edge_fit_recovers_function(name, fn):
    x = np.linspace(-1, 1, 200)
    fit = fit_edge(x, fn(x), resolve_library("physics"), tol=1e-9)
    best = fit.alternatives[0]
    assert best.r2 > 1 - 1e-8
    assert fit.chosen.r2 > 1 - 1e-6
    assert name in [c.name for c in fit.alternatives[:3]]


def test_edge_fit_on_repeated_inputs_is_the_fit_on_all_samples():
    """Each distinct input is fitted once, weighted by its multiplicity: every R^2 reported equals the R^2 of that
    function on all the samples, and the fit does not depend on the order of the samples."""
    from kansym.symbolic.library import candidate_numpy

    rng = np.random.default_rng(3)
    x = rng.integers(20, 120, 900).astype(float)  # like Z on the measured nuclei: few values, many repeats
    y = 0.02 * np.sin(0.3 * x + 1.0) + 1e-4 * (x - 60) ** 2
    lib = resolve_library("physics")
    fit = fit_edge(x, y, lib)
    by_name = {f.name: f for f in lib}
    for c in fit.alternatives:
        pred = candidate_numpy(c, x, by_name)
        r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
        assert abs(r2 - c.r2) < 1e-9, c
    perm = rng.permutation(len(x))
    assert fit_edge(x[perm], y[perm], lib) == fit


def test_flat_edge_is_zero():
    fit = fit_edge(np.linspace(-1, 1, 50), np.full(50, 0.25), resolve_library("physics"))
    assert fit.chosen.name == "0" and fit.chosen.d == 0.25


@pytest.fixture(scope="module")
def exact_kan():
    """A tiny [2, 2, 1] KAN whose every edge is fixed in pykan's symbolic mode to an exact function."""
    ds = build_dataset(Selection(subset="even-even", min_z=30, min_n=30, max_unc=None), "be", "zn", "none")
    reg = KANRegressor(width=(2,), schedule=TrainSchedule(grids=(3,), steps=1, lamb=0.0, prune=False), seed=0,
                       detrend=True).fit(ds.X, ds.y)
    m = reg.model_
    edges = [(0, 0, 0, "x", [1.3, 0.2, 0.8, -0.1]), (0, 1, 0, "x^2", [0.9, -0.3, 0.5, 0.2]),
             (0, 0, 1, "x^2", [1.1, 0.1, -0.4, 0.3]), (0, 1, 1, "x", [0.7, 0.0, 1.2, 0.0]),
             (1, 0, 0, "x^2", [0.6, 0.1, 1.5, -0.2]), (1, 1, 0, "x", [1.0, 0.4, 0.9, 0.1])]
    with contained(0):
        for l, i, j, name, aff in edges:
            m.fix_symbolic(l, i, j, name, fit_params_bool=False, verbose=False, log_history=False)
            m.symbolic_fun[l].affine.data[j, i] = torch.tensor(aff, dtype=torch.float64)
    return reg, ds


def test_sympy_expression_equals_kan_output(exact_kan):
    reg, ds = exact_kan
    net = fit_network(reg, ds.X, resolve_library("poly"), r2_min=0.99)
    assert all(e.chosen.r2 > 1 - 1e-10 for e in net.edges)
    expr = net.expression(variable_symbols(ds.feature_names))
    f = sp.lambdify(variable_symbols(ds.feature_names), expr, "numpy")
    sym = f(*ds.X.T)
    kan = reg.predict(ds.X)
    assert np.max(np.abs(sym - kan)) < 1e-6
    assert np.max(np.abs(net.numeric(ds.X) - kan)) < 1e-6
    # the parameterised form is the same function before any refit
    pexpr, init = parameterize(expr)
    F = Formula(pexpr, ds.feature_names, tuple(Parameter(s.name, v, None, v) for s, v in init.items()))
    assert np.max(np.abs(F.evaluate(ds.X) - kan)) < 1e-6


def test_synthetic_liquid_drop_recovered():
    ds = build_dataset(Selection(subset="even-even", min_z=30, min_n=30, max_unc=None), "be", "zn", "random:0.8")
    Z, N = variable_symbols(("Z", "N"))
    A = Z + N
    truth = 15.7 * A - 17.8 * A ** sp.Rational(2, 3) - 0.71 * Z ** 2 / A ** sp.Rational(1, 3) - 23.0 * (N - Z) ** 2 / A
    y = sp.lambdify((Z, N), truth, "numpy")(ds.X[:, 0], ds.X[:, 1])
    # the route's basis: the right terms plus distractors, with wrong coefficients
    start = (10.0 * A - 10.0 * A ** sp.Rational(2, 3) - 1.0 * Z ** 2 / A ** sp.Rational(1, 3)
             - 10.0 * (N - Z) ** 2 / A + 0.1 * Z ** 2 + 0.01 * N * Z + 3.0)
    masks = ds.masks()
    cands = expanded_candidates("synthetic", start, Scoring(("Z", "N"), ds.X, y, masks), Origin({}, 0.0))
    best = min(cands, key=lambda c: c.rmse["train"])
    assert best.rmse["all"] < 1e-6
    # (N - Z)^2 / A = A - 4 N Z / A, so the truth has an exact 5-term form: Z, N, A^(2/3), Z^2/A^(1/3), N Z / A.
    # Elimination from the 10 expanded terms must find it; no 4-term form is exact.
    five = next(c for c in cands if c.n_constants == 5)
    assert five.rmse["all"] < 1e-6
    assert sp.simplify(five.formula.numeric_expr() - truth) == 0 or five.rmse["all"] < 1e-9
    assert next(c for c in cands if c.n_constants == 4).rmse["all"] > 0.1


def test_refit_uncertainties_and_correlations():
    x = np.linspace(1, 10, 60)
    rng = np.random.default_rng(0)
    y = 2.0 * x + 1.0 + rng.normal(0, 0.1, x.size)
    X = x[:, None]
    a, b = sp.Symbol("c_1", real=True), sp.Symbol("c_2", real=True)
    f = refit(a * variable_symbols(("s",))[0] + b, {a: 1.0, b: 0.0}, ("s",), X, y)
    p = {q.name: q for q in f.parameters}
    assert p["c_1"].value == pytest.approx(2.0, abs=0.02) and 0 < p["c_1"].stderr < 0.02
    assert -1 < f.correlations[0][1] < 0


def test_non_finite_formula_rejected():
    (s,) = variable_symbols(("Z",))
    F = Formula(sp.log(s - 50), ("Z",), ())
    with pytest.raises(KansymError, match="not finite"):
        check_finite(F, np.array([[30.0], [60.0]]))


def test_refit_not_converging():
    (s,) = variable_symbols(("Z",))
    c = sp.Symbol("c_1", real=True)
    X = np.linspace(1, 5, 20)[:, None]
    with pytest.raises(KansymError, match="did not converge"):
        refit(sp.exp(c * s) * sp.sin(1 / (c + 1e-9)), {c: 0.3}, ("Z",), X, np.linspace(0, 1e6, 20), max_nfev=2)


def test_pdg_rounding():
    assert export.shorthand(15.7612, 0.0123) == "15.761(12)"
    assert export.shorthand(15.7612, 0.0456) == "15.76(5)"
    assert export.shorthand(15.7612, 0.0987) == "15.76(10)"
    assert export.shorthand(1234.5, 12.0) == "1234(12)" or export.shorthand(1234.5, 12.0) == "1234.5(12.0)"
    assert export.shorthand(2.0, None) == "2"


@pytest.fixture
def symbolic_run(formula_run):
    return formula_run


def _balanced(tex: str) -> bool:
    depth = 0
    for ch in tex.replace("\\{", "").replace("\\}", ""):
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    envs = [line.strip() for line in tex.splitlines() if line.strip().startswith(("\\begin", "\\end"))]
    return depth == 0 and sum(e.startswith("\\begin") for e in envs) == sum(e.startswith("\\end") for e in envs)


def test_run_formula_outputs(symbolic_run):
    d = symbolic_run.run_dir
    for name in ("formula.json", "formula.tex", "formula.png", "edges.csv", "candidates.csv"):
        assert (d / name).exists(), name
    assert any((d / "figures" / "edges").glob("edge_*.png"))
    tex = (d / "formula.tex").read_text()
    assert _balanced(tex) and "\\toprule" in tex and "S[table-format=" in tex
    run_id = d.name
    assert f"\\label{{eq:{run_id}}}" in tex and f"\\ref{{eq:{run_id}}}" in tex and "\\caption{" in tex
    entry = json.loads((d / "formula.json").read_text())
    assert {p["unit"] for p in entry["parameters"]} <= {"MeV", "1"} and "MeV" in {p["unit"] for p in entry["parameters"]}
    m = json.loads((d / "metrics.json").read_text())["formula"]
    assert m["n_constants"] <= 12 and np.isfinite(m["rmse_mev"]["all"])


def test_json_round_trip(symbolic_run):
    entry = json.loads((symbolic_run.run_dir / "formula.json").read_text())
    F = export.formula_from_entry(entry)
    assert sp.srepr(F.expr) == entry["srepr"]
    assert sp.simplify(F.expr - sp.sympify(entry["text"], locals={s.name: s for s in F.expr.free_symbols})) == 0
    assert F.n_constants == entry["n_constants"]


def test_malicious_srepr_rejected():
    with pytest.raises(KansymError):
        export.formula_from_entry({"srepr": "__import__('os').system('true')", "parameters": [], "variables": []})


def _compile(snippet: str, tmp_path, two_column: bool, name: str = "f", revtex: bool = False) -> str:
    """pdflatex a snippet twice (for the references); return the log."""
    (tmp_path / f"{name}.tex").write_text(export.standalone_document(snippet, two_column, revtex))
    for _ in range(2):
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=tmp_path,
                           capture_output=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:]
    return (tmp_path / f"{name}.log").read_text(errors="replace")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (Debian: texlive-latex-base "
                    "texlive-latex-recommended texlive-science)")
@pytest.mark.parametrize("layout", ["article", "article-twocolumn", "revtex4-2-prc-reprint"])
def test_tex_compiles_without_overfull_boxes(symbolic_run, tmp_path, layout):
    """Every snippet (a run's formula.tex, the registry's entries as written and in the physicist's notation with
    the correlation table) compiles with no overfull box, float error or undefined reference."""
    snippets = {"run": (symbolic_run.run_dir / "formula.tex").read_text()}
    for f in sorted(Path(__file__).resolve().parents[1].joinpath("formulas").glob("*.json")):
        entry = json.loads(f.read_text())
        lhs = TARGET_KINDS[entry["target"]].symbol
        snippets[f.stem] = export.entry_tex(entry, f.stem, lhs)
        snippets[f.stem + "-physics"] = export.formula_tex(export.formula_from_entry(entry), lhs, entry["metrics"],
                                                           label=f.stem, context=entry, correlations=True)
    for name, snippet in snippets.items():
        log = _compile(snippet, tmp_path, layout != "article", name, revtex=layout.startswith("revtex"))
        assert "Overfull \\hbox" not in log, (name, snippet)
        assert "Float too large" not in log and "undefined" not in log, name  # \\ref{eq:...} finds its label


def test_captions_define_every_input_symbol_as_kansym_computes_it(tmp_path):
    """The caption's definitions say what the features are (P was once called a parity, s_Z a filling), checked
    against kansym's own values, and compile."""
    from kansym.nuclear.features import all_features
    from kansym.report.notation import display
    from kansym.symbolic.formula import variable_symbols

    names = ("Z", "N", "P", "S", "s_Z", "t_Z", "mu_N", "P_NZ")
    Z, N, P, S, sZ, tZ, muN, pnz = variable_symbols(names)
    c = sp.symbols("c_1:9", real=True)
    F = Formula(c[0] * P + c[1] * S + c[2] * sZ + c[3] * tZ + c[4] * muN + c[5] * pnz + c[6] * (N + Z), names,
                tuple(Parameter(f"c_{i}", 0.5, 0.01, 0.5) for i in range(1, 8)))
    text = " ".join(display(F).defined)
    assert "parit" not in text and "fractional" not in text
    for shown in ("$S = v_Z v_N$", "$P = \\Delta (1 + 12/\\sqrt{A})$", "$t_Z = s_Z (2\\mu_Z - 1)$",
                  "$s_Z = (Z - Z_1)(Z_2 - Z)/(Z_2 - Z_1)$", "$\\mu_Z = (Z - Z_1)/(Z_2 - Z_1)$",
                  "$P_{NZ} = v_Z v_N/(v_Z + v_N)$"):
        assert shown in text, shown
    f = all_features([66, 67, 66], [104, 105, 105]).iloc
    delta = (1, -1, 0)  # even-even, odd-odd, odd A
    for i in range(3):
        assert f[i].P == pytest.approx(delta[i] * (1 + 12 / np.sqrt(f[i].A)))
    assert f[0].S == f[0].v_Z * f[0].v_N and f[0].t_Z == pytest.approx(f[0].s_Z * (2 * f[0].mu_Z - 1))
    assert f[0].P_NZ == pytest.approx(f[0].v_Z * f[0].v_N / (f[0].v_Z + f[0].v_N))
    assert f[0].s_Z == pytest.approx((66 - 50) * (82 - 66) / 32) and f[0].mu_N == pytest.approx((104 - 82) / 44)
    if shutil.which("pdflatex"):
        _compile(export.formula_tex(F, "B", {}, label="defs"), tmp_path, False, "defs")


def test_physicist_notation_of_the_liquid_drop():
    """Terms in the order volume, surface, Coulomb, symmetry, ..., then the network's; textbook signs for B with
    the shown constants positive for a physical fit; A for N + Z; network constants numbered from 1; the value
    of every term unchanged."""
    from kansym.report.notation import display
    from kansym.symbolic.formula import Formula, Parameter

    Z, N = sp.symbols("Z N", real=True)
    aV, aS, aC, aI, c3, c7 = sp.symbols("a_V a_S a_C a_I c_3 c_7", real=True)
    A = N + Z
    expr = aC * Z * (Z - 1) / A ** sp.Rational(1, 3) + aI * (N - Z) ** 2 / A + aS * A ** sp.Rational(2, 3) + aV * A \
        + c7 * sp.sin(c3 * N)
    values = {"a_C": -0.7, "a_I": -23.0, "a_S": -17.0, "a_V": 15.5, "c_3": 0.1, "c_7": 0.5}
    params = tuple(Parameter(n, v, 0.01, v) for n, v in values.items())
    F = Formula(expr, ("Z", "N"), params)
    d = display(F, binding_energy=True)
    assert d.order == ("a_V", "a_S", "a_C", "a_I", "c_7", "c_3")
    assert [d.names[n] for n in d.order[4:]] == ["c_1", "c_2"] and d.signs["a_S"] == -1 and d.signs["a_V"] == 1
    tex = export.formula_tex(F, "B", {}, label="t")
    first = tex.splitlines()[2]
    assert first.strip().startswith("B = a_{V} A - a_{S} A^{2/3} - a_{C} \\frac{Z \\left(Z - 1\\right)}{A^{1/3}}"), first
    rows = [ln for ln in tex.splitlines() if ln.strip().startswith("$a_{") or ln.strip().startswith("$c_{")]
    assert [r.split("&")[1].strip() for r in rows[:4]] == ["15.500(10)", "17.000(10)", "0.700(10)", "23.000(10)"]
    assert "$A = N + Z$" in tex and "[tbp]" in tex
    shown = sum(d.terms, sp.Integer(0)).subs(sp.Symbol("A", positive=True), A)
    swap = {sp.Symbol(d.names[n], real=True) if n.startswith("c_") else sp.Symbol(n, real=True):
            d.signs[n] * values[n] for n in values}
    at = {Z: 50, N: 70}
    fitted = {sp.Symbol(k, real=True): v for k, v in values.items()}
    assert float(shown.subs(swap).subs(at)) == pytest.approx(float(expr.subs(fitted).subs(at)), rel=1e-12)
    plain = export.formula_tex(F, "\\delta M", {}, label="t")  # not a binding energy: the fitted signs
    assert "- a_{S}" not in plain and "-17.000(10)" in plain


def test_export_refuses_existing_name(symbolic_run, tmp_path):
    export_formula(symbolic_run.run_dir, "ee", tmp_path)
    with pytest.raises(KansymError, match="already exists"):
        export_formula(symbolic_run.run_dir, "ee", tmp_path)
    export_formula(symbolic_run.run_dir, "ee", tmp_path, force=True)
    assert (tmp_path / "ee.tex").exists()
    r = runner.invoke(app, ["export", str(symbolic_run.run_dir), "--name", "ee", "--registry", str(tmp_path)])
    assert r.exit_code == 2 and "--force" in r.output


def test_export_run_without_formula(tiny_run, tmp_path):
    with pytest.raises(KansymError, match="has no formula"):
        export_formula(tiny_run.run_dir, "x", tmp_path)


def test_symbolic_on_run_without_checkpoint(symbolic_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(symbolic_run.run_dir, broken)
    shutil.rmtree(broken / "kan")
    with pytest.raises(KansymError, match="no KAN checkpoint"):
        rerun_symbolic(broken)


def test_poor_edge_named(symbolic_run):
    with pytest.raises(KansymError, match=r"edge \(layer \d, input \d -> node \d\) is poorly fitted"):
        rerun_symbolic(symbolic_run.run_dir, lib="0", r2_min=0.999, poor_edges="error")


def test_units_line_breaks_and_escaping():
    Z, N = sp.symbols("Z N", real=True)
    a, b, c = sp.symbols("a b c", real=True)
    f = Formula(a * Z + b * sp.exp(c * N), ("Z", "N"), tuple(Parameter(n, 1.0, 0.1, 1.0) for n in "abc"))
    assert [export.parameter_unit(f, n) for n in "abc"] == ["MeV", "MeV", "1"]
    long = sum(sp.Symbol(f"c_{k}", real=True) * Z ** k for k in range(1, 13))
    lines = latex.equation_lines(long, "B")
    assert len(lines) > 2 and all(latex._visible(ln) <= latex.LINE_BUDGET + 1 for ln in lines)
    inner = sp.Symbol("d", real=True) * sp.sin(long)  # one term: broken inside its brackets
    lines = latex.equation_lines(inner, "B")
    assert len(lines) > 2 and "\\Bigl(" in lines[0] and lines[-1].endswith("\\Bigr)")
    assert latex.tex_escape("\\input{/etc/x}_%$&#|") == \
        "\\textbackslash{}input\\{/etc/x\\}\\_\\%\\$\\&\\#\\textbar{}"
    assert latex.tex_value("0.0000063(16)") == "6.3(16)e-6" and latex.tex_value("15.66(7)") == "15.66(7)"


def test_export_with_the_correlation_matrix(symbolic_run, tmp_path):
    """export --correlations adds the lower triangle of the shown constants' correlation matrix."""
    r = runner.invoke(app, ["export", str(symbolic_run.run_dir), "--name", "c", "--registry", str(tmp_path / "reg"),
                            "--correlations"])
    assert r.exit_code == 0, r.output
    tex = (tmp_path / "reg" / "c.tex").read_text()
    entry = json.loads((tmp_path / "reg" / "c.json").read_text())
    assert "\\label{tab:c-corr}" in tex and entry["notation"] == export.NOTATION
    n = entry["n_constants"]
    rows = [ln.strip().rstrip("\\").split("&") for ln in tex.split("tab:c-corr")[1].splitlines()
            if ln.strip().startswith("$")]
    assert len(rows) == n and all(r[k + 1].strip() == "1" for k, r in enumerate(rows))


HOF_FOR_TEX = ('Complexity,Loss,Equation\n3,900.0,"Z + N"\n5,400.0,"15.5*Z + 15.5*N"\n'
               '9,100.0,"15.5*(Z + N) - 17.0*cbrt(Z + N)^2 - 0.7*Z*Z/cbrt(Z + N)"\n'
               '15,40.0,"15.5*(Z + N) - 17.0*cbrt(Z + N)^2 - 0.7*Z*(Z - 1)/cbrt(Z + N) - 23.0*(N - Z)^2/(Z + N)'
               ' + 1.5*sin(0.2*N + 0.3*Z + 0.1)*exp(0.01*Z) + 2.0*cos(0.05*N*Z)"\n'
               '17,10.0,"(Z + 0.5*N + 1.0)*(Z + 1.5*N + 2.0)*(Z + 2.5*N + 3.0)*(Z + 3.5*N + 4.0)/(Z*N + 7.0)"\n')


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (Debian: texlive-latex-base "
                    "texlive-latex-recommended texlive-science texlive-publishers)")
@pytest.mark.parametrize("layout", ["article", "article-twocolumn", "revtex4-2-prc-reprint"])
def test_crosscheck_tex_fits_the_page(formula_run, tmp_path, layout):
    """crosscheck.tex of a front with long expressions (cut into lines in their column) compiles beside the
    formula's snippet with no overfull box or float error; |N| and sign(N) of a cube root read as N."""
    run = tmp_path / formula_run.run_dir.name
    shutil.copytree(formula_run.run_dir, run)
    (tmp_path / "hof.csv").write_text(HOF_FOR_TEX)
    r = runner.invoke(app, ["crosscheck", str(run), "--pysr-hof", str(tmp_path / "hof.csv")])
    assert r.exit_code == 0, r.output
    tex = (run / "crosscheck.tex").read_text()
    assert "\\newline" in tex and "sign" not in tex and "\\left|" not in tex.split("pysr-hof[")[1]
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0  # the snippet is what crosscheck.json gives
    log = _compile((run / "formula.tex").read_text() + "\n" + tex, tmp_path, layout != "article", "cc",
                   revtex=layout.startswith("revtex"))
    assert "Overfull \\hbox" not in log and "Float too large" not in log and "undefined" not in log, log[-3000:]


def test_a_candidate_that_is_not_real_is_refused_before_its_refit():
    """An expression with the imaginary unit or a complex constant such as (-1)^(2/3) (what folding a negative edge
    mean into x^(2/3) can leave) is refused by the refit, not evaluated with its imaginary part discarded; a real
    one with a cube root of a negative number's magnitude is kept."""
    import numpy as np
    import sympy as sp

    from kansym.errors import KansymError
    from kansym.symbolic.formula import not_real, refit

    a, c1, c2 = sp.Symbol("A", real=True), sp.Symbol("c_1", real=True), sp.Symbol("c_2", real=True)
    X = np.arange(16.0, 60.0)[:, None]
    y = 15.8 * X[:, 0] - 18.3 * np.cbrt(X[:, 0]) ** 2
    for bad in (c1 * a + c2 * sp.Pow(-1, sp.Rational(2, 3)) * a ** sp.Rational(2, 3), c1 * a + sp.I * c2, c1 * a + sp.oo):
        assert not_real(bad)
        with pytest.raises(KansymError, match="not real"):
            refit(bad, {c1: 1.0, c2: 1.0}, ("A",), X, y)
    good = c1 * a + c2 * a ** sp.Rational(2, 3)
    assert not not_real(good) and not not_real(c1 * sp.cbrt(-a) + c2)
    f = refit(good, {c1: 1.0, c2: 1.0}, ("A",), X, y)
    assert np.allclose([p.value for p in f.parameters], [15.8, -18.3])
