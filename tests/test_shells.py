"""The shell-term route: a network on a liquid drop and shell inputs read as the drop plus sums and products of them."""

import numpy as np
import pytest
import sympy as sp

import kansym
from kansym import KANSymbolicRegressor
from kansym.nuclear.baselines import fit_baseline
from kansym.nuclear.features import all_features
from kansym.pipeline.config import DiscoverConfig
from kansym.pipeline.recipe import shell_route
from kansym.symbolic import powers, shells
from kansym.symbolic.formula import variable_symbols

TEXTBOOK = {"a_V": 15.75, "a_S": -17.8, "a_C": -0.711, "a_I": -23.7}  # MeV, the fitted signs of B's terms
PRODUCT = 0.02  # MeV per (valence proton x valence neutron): up to ~8 MeV on the grid


@pytest.fixture(scope="module")
def grid():
    """The real even-even grid (Z, N >= 30) of the main job, its shell features and a Bethe-Weizsaecker energy."""
    nuc = kansym.nuclei(subset="even-even")
    nuc = nuc[(nuc["Z"] >= 30) & (nuc["N"] >= 30)].reset_index(drop=True)
    f = all_features(nuc["Z"], nuc["N"])
    Z, N = f["Z"].to_numpy(), f["N"].to_numpy()
    A, I = Z + N, N - Z  # noqa: E741
    bw = (TEXTBOOK["a_V"] * A + TEXTBOOK["a_S"] * A ** (2 / 3) + TEXTBOOK["a_C"] * Z ** 2 / A ** (1 / 3)
          + TEXTBOOK["a_I"] * I ** 2 / A)
    return f, bw


def test_dictionary_holds_isospin_sums_products_and_squares():
    """For (Z, N, s_Z, s_N, t_Z, t_N) the dictionary has each pair's isospin sum, product and squared sum; a single
    shell input gives itself and its square; no shell input, no route."""
    names = ("Z", "N", "s_Z", "s_N", "t_Z", "t_N")
    Z, N, sz, sn, tz, tn = variable_symbols(names)
    assert shells.dictionary(names) == [sz + sn, sz * sn, (sz + sn) ** 2, tz + tn, tz * tn, (tz + tn) ** 2]
    (p,) = variable_symbols(("P_NZ",))
    assert shells.dictionary(("Z", "N", "P_NZ")) == [p, p ** 2]
    assert shells.has_shell_inputs(names) and shells.has_shell_inputs(("Z", "N", "P_NZ"))
    assert not shells.has_shell_inputs(("Z", "N")) and not shells.has_shell_inputs(("s_Z", "s_N"))
    assert shell_route(DiscoverConfig(target="be", features="znst").resolved(), names)
    assert not shell_route(DiscoverConfig(target="be", features="znst", baseline="linear").resolved(), names)
    assert not shell_route(DiscoverConfig(target="be", features="zn").resolved(), ("Z", "N"))


def test_best_sets_are_the_exhaustive_least_squares_choice(grid):
    """The fast search (normal equations beside the drop) ranks the sets as plain least squares over every set does,
    skips sets whose columns are dependent (here a column that is the sum of two others), and finds a planted pair
    of terms first."""
    f, bw = grid
    names = ("Z", "N", "v_Z", "v_N", "s_Z", "s_N")
    X = f[list(names)].to_numpy()
    terms = shells.dictionary(names)
    D = np.column_stack(sp.lambdify(variable_symbols(names), terms, "numpy")(*X.T))
    D = np.column_stack([D, D[:, 0] + D[:, 3]])  # dependent on columns 0 and 3
    trend = fit_baseline("ldx", X, bw, names)
    base = np.column_stack([trend.design(X), np.ones(len(X))])
    vz, vn, sz, sn = (f[c].to_numpy() for c in ("v_Z", "v_N", "s_Z", "s_N"))
    y = bw + PRODUCT * vz * vn - 0.3 * (sz + sn)
    fast = shells.best_sets(base, D, y, max_terms=3, per_size=3)
    slow = [c for c in powers.ranked_sets(base, D, y, max_terms=3, per_size=60)  # every set by plain lstsq
            if np.linalg.matrix_rank(D[:, c]) == len(c)]
    assert fast[:6] == [c for k in (1, 2) for c in [c for c in slow if len(c) == k][:3]]
    assert all(not {0, 3, 6} <= set(c) for c in fast) and all({1, 3} <= set(c) for c in fast[6:])  # exact: ties
    V = variable_symbols(names)
    assert {terms[j] for j in fast[3]} == {V[2] * V[3], V[4] + V[5]}  # the best pair is the planted one


def test_planted_valence_product_is_recovered_by_the_shell_route(grid):
    """A liquid drop plus a planted 0.02 MeV v_Z v_N (plus 0.3 MeV noise) on the real even-even grid, learned from
    (Z, N, v_Z, v_N) beside the refitted drop: the chosen formula holds the product v_Z v_N with its planted constant
    within 3 standard errors, and no other shell term."""
    f, bw = grid
    vz, vn = f["v_Z"].to_numpy(), f["v_N"].to_numpy()
    y = bw + PRODUCT * vz * vn + np.random.default_rng(2).normal(0.0, 0.3, len(bw))
    est = KANSymbolicRegressor(steps=5, refine=(5,), random_state=0).fit(f[["Z", "N", "v_Z", "v_N"]], y)
    form = est.formula_
    Z, N, VZ, VN = variable_symbols(("Z", "N", "v_Z", "v_N"))
    shell_terms = [t for t in sp.Add.make_args(form.expr) if t.free_symbols & {VZ, VN}]
    assert len(shell_terms) == 1, form.expr
    (c,) = shell_terms[0].free_symbols - {VZ, VN}
    assert sp.simplify(shell_terms[0] / c - VZ * VN) == 0, form.expr
    p = next(p for p in form.parameters if p.name == c.name)
    assert abs(p.value - PRODUCT) <= 3 * p.stderr, (p.value, p.stderr)
    assert "shells" in set(est.candidates_["route"]) or any(str(n).startswith("shells") for n in est.candidates_["name"])
