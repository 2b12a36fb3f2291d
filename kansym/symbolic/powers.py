"""The power-law route: a network on (N, Z) with no physics baseline, read as a sum of liquid-drop-type terms.

With ``--baseline linear`` (or ``none``) the network learns the whole binding energy, and its edge compositions are
polynomials or nested functions whose constants the data cannot separate. This route reads the network's
prediction instead as a linear combination of power-law terms built from A = Z + N, I = N - Z and Z (``TERMS``):

    A^p (p = 1, 2/3, 1/3, -1/3),  I^2 A^q (q = 0, -1/3, -2/3, -1, -4/3),  |I| A^r (r = 0, -1),  Z^2 A^s (s = -1/3, -2/3, -1)

(beside a linear baseline, which holds a constant, N and Z, A^1 and Z^2/A are left out: Z^2/A = (I^2/A - A + 4Z)/4).
Every set of up to ``MAX_TERMS`` terms is fitted by least squares to the network's prediction on the training
nuclei; the ``PER_SIZE`` sets of each size that reproduce the network best become candidates, their constants (the
linear baseline's and one per term) refitted on the data, and are scored like every other candidate
(cross-validation, far check, determined constants): which powers of A survive is decided there, not given.
Terms with a textbook reading carry its constant name (a_V A, a_S A^(2/3), a_C Z^2 A^(-1/3), a_I I^2/A,
a_SI I^2 A^(-4/3), a_W |I|/A; the fitted sign stays in the constant); the others are c_k.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from kansym.symbolic.formula import term_columns, variable_symbols

_R = sp.Rational
TERMS = (
    ("a_V", 1, _R(1)), ("a_S", 1, _R(2, 3)), (None, 1, _R(1, 3)), (None, 1, _R(-1, 3)),
    (None, "I2", _R(0)), (None, "I2", _R(-1, 3)), (None, "I2", _R(-2, 3)), ("a_I", "I2", _R(-1)), ("a_SI", "I2", _R(-4, 3)),
    (None, "absI", _R(0)), ("a_W", "absI", _R(-1)),
    ("a_C", "Z2", _R(-1, 3)), (None, "Z2", _R(-2, 3)), (None, "Z2", _R(-1)),
)
"""(textbook constant name or None, factor (1, I^2, |I| or Z^2), power of A) of each dictionary term."""

MAX_TERMS = 5  # largest set of dictionary terms in one candidate
PER_SIZE = 4  # candidates per number of terms: the sets that reproduce the network best


def term_expressions(Z: sp.Symbol, N: sp.Symbol, linear_baseline: bool) -> list[tuple[str | None, sp.Expr]]:
    """(textbook constant name or None, SymPy term) of the dictionary; A^1 left out beside a linear baseline."""
    A, I = Z + N, N - Z  # noqa: E741
    factor = {1: sp.Integer(1), "I2": I ** 2, "absI": sp.Abs(I), "Z2": Z ** 2}
    # beside a linear baseline (a constant, Z and N) A is that baseline's, and Z^2/A = (I^2/A - A + 4Z)/4 is I^2/A's
    same = ((1, 1), ("Z2", -1)) if linear_baseline else ()
    return [(name, factor[f] * A ** p) for name, f, p in TERMS if (f, p) not in same]


def ranked_sets(base: np.ndarray, D: np.ndarray, target: np.ndarray, max_terms: int, per_size: int,
                w: np.ndarray | None = None) -> list[tuple[int, ...]]:
    """The ``per_size`` sets of columns of ``D`` of each size 1 .. ``max_terms`` whose least-squares fit (with the
    ``base`` columns, weighted by ``w``) comes closest to ``target``, every set of each size tried."""
    sw = np.ones(len(target)) if w is None else np.sqrt(w)
    scale = np.sqrt(np.mean(D ** 2, axis=0))
    Dn = D / np.where(scale > 0, scale, 1.0) * sw[:, None]
    B, t = base * sw[:, None], target * sw
    out = []
    for k in range(1, min(max_terms, D.shape[1]) + 1):
        scored = []
        for cols in itertools.combinations(range(D.shape[1]), k):
            M = np.column_stack([B, Dn[:, cols]])
            coef, *_ = np.linalg.lstsq(M, t, rcond=None)
            scored.append((float(np.sum((M @ coef - t) ** 2)), cols))
        scored.sort()
        out += [cols for _, cols in scored[:per_size]]
    return out


def power_candidates(names, X: np.ndarray, train: np.ndarray, target: np.ndarray, linear_baseline: bool,
                     max_constants: int, w: np.ndarray | None = None, per_size: int = PER_SIZE):
    """(name, expression, constants fitted to ``target``, that fit's prediction on every row of X) of each set of
    dictionary terms :func:`ranked_sets` picks to reproduce ``target`` (the network's prediction) on the ``train``
    rows, the linear baseline (a constant and each input) kept in each; at most ``max_constants`` constants."""
    symbols = variable_symbols(names)
    Z, N = symbols[list(names).index("Z")], symbols[list(names).index("N")]
    terms = term_expressions(Z, N, linear_baseline)
    D = term_columns(symbols, X, [t for _, t in terms])
    base_syms = [sp.Integer(1), *symbols] if linear_baseline else []
    base = np.column_stack([np.ones(len(X)), X]) if linear_baseline else np.zeros((len(X), 0))
    wt = None if w is None else w[train]
    sets = ranked_sets(base[train], D[train], target, min(MAX_TERMS, max_constants - base.shape[1]), per_size, wt)
    sw = np.ones(int(train.sum())) if wt is None else np.sqrt(wt)
    out = []
    for cols in sets:
        numbered = iter(range(1, 100))
        pairs = [(sp.Symbol(f"c_{next(numbered)}", real=True), b, base[:, k]) for k, b in enumerate(base_syms)]
        for j in cols:  # in the dictionary's order: volume, surface, ..., symmetry, Wigner, Coulomb
            name, t = terms[j]
            pairs.append((sp.Symbol(name or f"c_{next(numbered)}", real=True), t, D[:, j]))
        M = np.column_stack([col for _, _, col in pairs])
        coef, *_ = np.linalg.lstsq(M[train] * sw[:, None], target * sw, rcond=None)
        out.append((f"powers-{len(cols)}", sp.Add(*(p * t for p, t, _ in pairs)),
                    {p: float(c) for (p, _, _), c in zip(pairs, coef)}, M @ coef))
    return out
