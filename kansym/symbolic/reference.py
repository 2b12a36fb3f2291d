"""Hand-made reference formulas for binding energies, refitted like kansym's own formulas.

* ``liquid_drop(kind)``: the liquid drops of :mod:`kansym.nuclear.baselines` (``ld``: 5 terms, ``ldx``: 7)
  as formulas with named constants, linear in them.
* ``eq6_form()``: the composition the KAN binding-energy paper's pruned [2,2,1] network gives
  (its Eq. 6 keeps ``[A_N (N+n)^(2/3) - A_Z (Z+z)^(2/3) + C_2]^2``), written here with 9 constants:
  BE = B_N N + B_Z Z + C_1 + S (N+Z)^(2/3) - [A_N (N+n)^(2/3) - A_Z (Z+z)^(2/3) + C_2]^2.
  The published equation's other terms are not bundled; this is a stand-in of the same structure
  and size, refitted on the run's own training nuclei, not the published constants.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from kansym.nuclear.baselines import fit_baseline
from kansym.errors import KansymError
from kansym.symbolic.formula import Formula, refit, variable_symbols
from kansym.metrics import rms


def liquid_drop(kind: str, X: np.ndarray, y: np.ndarray, variables) -> Formula:
    """The ``ld``/``ldx`` liquid drop fitted to (X, y) [MeV], as a Formula with named constants."""

    base = fit_baseline(kind, X, y, variables)
    expr, init = base.parameterized(variable_symbols(variables))
    return refit(expr, init, variables, X, y)


def eq6_form(variables=("Z", "N")) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """The Eq. 6-type expression and its constants (B_N, B_Z, C_1, S, A_N, n, A_Z, z, C_2)."""
    by = dict(zip(variables, variable_symbols(variables)))
    Z, N = by["Z"], by["N"]
    c = sp.symbols("B_N B_Z C_1 S A_N n A_Z z C_2", real=True)
    BN, BZ, C1, S, AN, n, AZ, z, C2 = c
    two3 = sp.Rational(2, 3)
    expr = BN * N + BZ * Z + C1 + S * (N + Z) ** two3 - (AN * (N + n) ** two3 - AZ * (Z + z) ** two3 + C2) ** 2
    return expr, c


def fit_eq6(X: np.ndarray, y: np.ndarray, variables=("Z", "N"), starts: int = 20, seed: int = 0) -> Formula:
    """Refit the Eq. 6-type form to (X, y) from ``starts`` seeded random starts; the lowest RMSE wins."""
    expr, consts = eq6_form(variables)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(starts):
        start = (15 + rng.normal(), 15 + rng.normal(), 50 * rng.normal(), -17 + 5 * rng.normal(),
                 rng.uniform(1, 6), rng.uniform(0, 20), rng.uniform(1, 6), rng.uniform(0, 20), 5 * rng.normal())
        try:
            f = refit(expr, dict(zip(consts, start)), variables, X, y)
        except KansymError:
            continue
        r = rms(f.evaluate(X) - y)
        if np.isfinite(r) and (best is None or r < best[0]):
            best = (r, f)
    if best is None:
        raise KansymError("the Eq. 6-type form could not be refitted from any start")
    return best[1]
