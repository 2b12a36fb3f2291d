"""The power-law route: with no physics baseline, a network on (N, Z) read as liquid-drop-type terms."""

import json

import numpy as np
import pytest
import sympy as sp

import kansym
from kansym import KANSymbolicRegressor
from kansym.errors import KansymError
from kansym.report import export
from kansym.report.notation import display
from kansym.symbolic import powers
from kansym.symbolic.formula import Formula, Parameter, term_columns, variable_symbols

TEXTBOOK = {"a_V": 15.75, "a_S": -17.8, "a_C": -0.711, "a_I": -23.7}  # MeV, the fitted signs of B's terms


@pytest.fixture(scope="module")
def grid():
    """The real even-even grid (Z, N >= 30) of the main job."""
    nuc = kansym.nuclei(subset="even-even")
    nuc = nuc[(nuc["Z"] >= 30) & (nuc["N"] >= 30)].reset_index(drop=True)
    Z, N = nuc["Z"].to_numpy(float), nuc["N"].to_numpy(float)
    A, I = Z + N, N - Z  # noqa: E741
    bw = (TEXTBOOK["a_V"] * A + TEXTBOOK["a_S"] * A ** (2 / 3) + TEXTBOOK["a_C"] * Z ** 2 / A ** (1 / 3)
          + TEXTBOOK["a_I"] * I ** 2 / A)
    return nuc[["Z", "N"]], bw


def test_planted_bethe_weizsaecker_is_rediscovered_from_n_and_z(grid):
    """A Bethe-Weizsaecker binding energy (textbook constants, Coulomb as Z^2 A^(-1/3)) plus 0.5 MeV noise on the real
    even-even grid, learned from (Z, N) alone with a linear baseline: the chosen formula has exactly the surface,
    Coulomb and symmetry terms beside the baseline's N and Z (the volume term, a_V N + a_V Z), every constant within
    3 standard errors of the planted one."""
    X, bw = grid
    y = bw + np.random.default_rng(1).normal(0.0, 0.5, len(bw))
    est = KANSymbolicRegressor(baseline="linear", steps=5, refine=(5,), random_state=0).fit(X, y)
    f = est.formula_
    Z, N = variable_symbols(("Z", "N"))
    A = Z + N
    got = {p.name: p for p in f.parameters}
    assert {"a_S", "a_C", "a_I"} <= set(got) and f.n_constants <= 6
    want = {"a_S": A ** sp.Rational(2, 3), "a_C": Z ** 2 * A ** sp.Rational(-1, 3), "a_I": (N - Z) ** 2 / A}
    for name, term in want.items():  # the named constant multiplies exactly the textbook term
        assert sp.simplify(f.expr.coeff(sp.Symbol(name, real=True)) - term) == 0, (name, f.expr)
    for name in want:
        p = got[name]
        assert abs(p.value - TEXTBOOK[name]) <= 3 * p.stderr, (name, p.value, p.stderr)
    volume = [p for p in f.parameters if p.name.startswith("c_") and f.expr.coeff(sp.Symbol(p.name, real=True)) in (Z, N)]
    assert len(volume) == 2 and all(abs(p.value - TEXTBOOK["a_V"]) <= 3 * p.stderr for p in volume)
    pred = f.predict(X.to_numpy(float))
    assert np.sqrt(np.mean((pred - bw) ** 2)) < 0.3  # the planted surface itself, below the noise
    assert est.candidates_ is not None


def test_ranked_sets_find_the_planted_terms_first(grid):
    """On a noise-free target made of dictionary terms, the best set of that size is the planted one; beside a linear
    baseline A and Z^2/A (= (I^2/A - A + 4Z)/4) are not in the dictionary."""
    X, bw = grid
    Z, N = variable_symbols(("Z", "N"))
    terms = powers.term_expressions(Z, N, linear_baseline=True)
    shown = [str(t) for _, t in terms]
    assert "N + Z" not in shown and "Z**2/(N + Z)" not in shown and len(terms) == len(powers.TERMS) - 2
    D = term_columns(variable_symbols(("Z", "N")), X.to_numpy(float), [t for _, t in terms])
    base = np.column_stack([np.ones(len(X)), X.to_numpy(float)])
    sets = powers.ranked_sets(base, D, bw, max_terms=3, per_size=2)
    names = [terms[j][0] for j in sets[4]]  # the best set of three terms
    assert sorted(names) == ["a_C", "a_I", "a_S"]
    assert len(sets) == 6 and all(len(s) == k for s, k in zip(sets, (1, 1, 2, 2, 3, 3)))


def test_power_terms_are_shown_by_liquid_drop_family():
    """Notation 2 orders a power-law formula as a physicist reads it: volume (c N, c Z), surface and curvature (higher
    power of A first), Coulomb, symmetry, Wigner; notation 1 (entries written before) keeps its own order."""
    Z, N = variable_symbols(("Z", "N"))
    A = Z + N
    c = [sp.Symbol(f"c_{k}", real=True) for k in range(1, 6)]
    aI, aW = sp.Symbol("a_I", real=True), sp.Symbol("a_W", real=True)
    expr = (aW * sp.Abs(N - Z) / A + c[0] * Z ** 2 / A ** sp.Rational(2, 3) + c[1] * N + aI * (N - Z) ** 2 / A
            + c[2] * A ** sp.Rational(-1, 3) + c[3] * Z + c[4] * A ** sp.Rational(1, 3))
    names = ("c_1", "c_2", "c_3", "c_4", "c_5", "a_I", "a_W")
    f = Formula(expr, ("Z", "N"), tuple(Parameter(n, 1.0, 0.1, 1.0) for n in names))
    d = display(f)
    order = [d.names[n] for n in d.order]
    assert order[:2] == ["c_1", "c_2"]  # the volume-like N and Z terms first
    shown = [str(t) for t in d.terms]
    assert shown[2].startswith("A**(1/3)") and shown[3].endswith("/A**(1/3)")  # surface family: higher power first
    assert "Z**2" in shown[4] and "a_I" in shown[5] and "Abs" in shown[6]
    assert display(f, by_family=False).terms[0].has(aI)  # notation 1: the liquid-drop constants first
    assert export.entry_notation({"notation": "kansym-physics/1"}) == "kansym-physics/1"
    assert export.entry_notation({}) is None  # written before notations
    with pytest.raises(KansymError, match="notation"):  # another version's, or edited
        export.entry_notation({"notation": "kansym-physics/9"})


@pytest.mark.parametrize("baseline", ["linear", "none"])
def test_paper_setting_run_with_the_power_route_passes_show(tmp_path, baseline):
    """A run with --features zn and no physics baseline builds power-law candidates; show accepts the run as written
    (among its candidates a numerically singular pair of constants and a candidate with no constant at all)."""
    from conftest import tiny_config
    from typer.testing import CliRunner

    from kansym.cli.commands import app
    from kansym.pipeline.discovery import discover

    r = discover(tiny_config(tmp_path, stage="symbolic", steps=4, features="zn", lib="poly", baseline=baseline))
    routes = {c["route"] for c in json.loads((r.run_dir / "candidates.json").read_text())["candidates"]}
    assert "powers" in routes
    out = CliRunner().invoke(app, ["show", str(r.run_dir)])
    assert out.exit_code == 0, out.output
    if baseline == "linear" and (r.run_dir / "formula.json").exists():
        # probe 20: a cross-check of a --stage symbolic run with its own settings left a run every command refused
        out = CliRunner().invoke(app, ["crosscheck", str(r.run_dir), "--engine", "pyoperon", "--generations", "2"])
        assert out.exit_code == 0, out.output
        out = CliRunner().invoke(app, ["show", str(r.run_dir)])
        assert out.exit_code == 0, out.output
        # probe 21: and the formula could not be remade after that cross-check
        out = CliRunner().invoke(app, ["symbolic", str(r.run_dir), "--max-constants", "9"])
        assert out.exit_code == 0, out.output
        assert CliRunner().invoke(app, ["show", str(r.run_dir)]).exit_code == 0
