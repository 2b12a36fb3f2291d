"""The shell-term route: a network on a liquid drop and shell inputs, read as the drop plus products of those inputs.

With a liquid-drop baseline (``ld``, ``ldx``) the network learns the shell correction from the shell inputs among
its features (``v``, ``s``, ``t``, ``mu``: each a proton and a neutron column x_Z, x_N; ``P_NZ``, ``S``, ``P``: one
column). A one-node network can only give one function of one sum of them, while Duflo-Zuker's shell energy is
built from sums and products of occupancies. This route reads the network's prediction instead as the drop plus a
constant plus a linear combination of terms of the dictionary (``dictionary``), each the same for protons and
neutrons (like Duflo-Zuker's shell terms; the drop's symmetry terms carry the isospin dependence):

    for each pair x:  x_Z + x_N, x_Z x_N (the product a multiplication node gives), (x_Z + x_N)^2;
    for each single column x:  x, x^2.

(The same terms times A^(-1/3), a shell energy scaling like a surface term, were tried and left out: over the
measured nuclei A^(-1/3) changes by a factor 1.6 only, so a term and its scaled twin fit the network almost equally
well, and which of them was chosen changed with the seed.) Every set of up to ``MAX_TERMS`` terms is fitted by least
squares (with the drop's terms and a constant) to the network's prediction on the training nuclei; the
``PER_SIZE`` set of each size that reproduces the network best becomes a candidate, every constant refitted on the
data, and is scored like every other candidate
(cross-validation, far check, determined constants). The drop keeps its named constants (a_V, a_S, ...); the
shell terms' constants are c_1, c_2, ...
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from kansym.symbolic.formula import term_columns, variable_symbols

PAIRS = ("v", "s", "t", "mu")
"""Shell inputs with a proton and a neutron column (``v_Z``, ``v_N``, ...), as :mod:`kansym.nuclear.features` names
them."""
SINGLES = ("P_NZ", "S", "P")
"""Shell inputs of one column."""
MAX_TERMS = 5  # largest set of dictionary terms in one candidate
PER_SIZE = 1  # candidates per number of terms: the sets that reproduce the network best


def has_shell_inputs(names) -> bool:
    """Whether the feature names hold a shell input the dictionary is built from, beside Z and N (the drop's)."""
    names = set(names)
    return {"Z", "N"} <= names and (any({f"{p}_Z", f"{p}_N"} <= names for p in PAIRS) or bool(names & set(SINGLES)))


def dictionary(names) -> list[sp.Expr]:
    """The route's terms for the feature ``names`` (SymPy, in the names' symbols), in a fixed order."""
    by = dict(zip(names, variable_symbols(names)))
    out = []
    for p in PAIRS:
        if f"{p}_Z" in by and f"{p}_N" in by:
            xz, xn = by[f"{p}_Z"], by[f"{p}_N"]
            out += [xz + xn, xz * xn, (xz + xn) ** 2]
    for s in SINGLES:
        if s in by:
            out += [by[s], by[s] ** 2]
    return out


def best_sets(base: np.ndarray, D: np.ndarray, target: np.ndarray, max_terms: int, per_size: int) -> list[tuple]:
    """The ``per_size`` sets of columns of ``D`` of each size 1 .. ``max_terms`` whose least-squares fit (beside the
    ``base`` columns) comes closest to ``target``; every set of each size tried, by the normal equations of the
    columns made orthogonal to ``base`` (the same fits as :func:`kansym.symbolic.powers.ranked_sets`, faster)."""
    q, _ = np.linalg.qr(base)
    scale = np.sqrt(np.mean(D ** 2, axis=0))
    Dn = D / np.where(scale > 0, scale, 1.0)
    R = Dn - q @ (q.T @ Dn)  # the dictionary's columns with the base's part removed
    r = target - q @ (q.T @ target)
    G, b = R.T @ R, R.T @ r
    out = []
    for k in range(1, min(max_terms, D.shape[1]) + 1):
        sets = np.array(list(itertools.combinations(range(D.shape[1]), k)))
        Gs = G[sets[:, :, None], sets[:, None, :]]
        bs = b[sets]
        full = np.linalg.matrix_rank(Gs, tol=1e-9 * np.max(np.abs(G))) == k  # not x_Z + x_N beside x_Z and x_N
        sets, Gs, bs = sets[full], Gs[full], bs[full]
        gain = np.einsum("ij,ij->i", np.linalg.solve(Gs, bs[..., None])[..., 0], bs)  # fall of the residual SS
        order = sorted(range(len(sets)), key=lambda i: (-gain[i], tuple(sets[i])))
        out += [tuple(int(c) for c in sets[i]) for i in order[:per_size]]
    return out


def shell_candidates(names, X: np.ndarray, train: np.ndarray, target: np.ndarray, trend, max_constants: int,
                     w: np.ndarray | None = None, per_size: int = PER_SIZE):
    """(name, expression, constants fitted to ``target``, that fit's prediction on every row of X) of each set of
    dictionary terms :func:`best_sets` picks to reproduce ``target`` (the network's prediction, baseline included)
    on the ``train`` rows; ``trend`` is the network's liquid-drop baseline (its terms keep their names); at most
    ``max_constants`` constants."""
    symbols = variable_symbols(names)
    b_expr, b_init = trend.parameterized(symbols)
    b_syms = list(b_init)
    base = np.column_stack([trend.design(X), np.ones(len(X))])
    terms = dictionary(names)
    D = term_columns(symbols, X, terms)
    room = max_constants - base.shape[1]
    if room < 1 or not np.all(np.isfinite(D[train])):
        return []
    sw = np.ones(int(train.sum())) if w is None else np.sqrt(w[train])
    sets = best_sets(base[train] * sw[:, None], D[train] * sw[:, None], target * sw, min(MAX_TERMS, room), per_size)
    out = []
    for cols in sets:
        consts = [sp.Symbol(f"c_{k}", real=True) for k in range(len(cols) + 1)]
        expr = b_expr + consts[0] + sp.Add(*(c * terms[j] for c, j in zip(consts[1:], cols)))
        M = np.column_stack([base, D[:, cols]])
        coef, *_ = np.linalg.lstsq(M[train] * sw[:, None], target * sw, rcond=None)
        init = dict(zip([*b_syms, *consts], map(float, coef)))
        out.append((f"shells-{len(cols)}", expr, init, M @ coef))
    return out
