"""The mode route: a mass model's residual read as a sum of named modes over the nuclear chart.

A network on a residual target (AME2020 minus a mass model, from Z, N and inputs such as KAN-WS4's P and S) learns
a correction that varies across the whole chart; read edge by edge, its composition keeps one or two smooth
functions of it (a sine of Z or N). This route reads the ensemble's prediction instead as a
constant plus a linear combination of *modes* (:func:`dictionary`; every mode is bounded on the whole chart):

* chart modes f(pi k Z / 120) g(pi l N / 180), f, g in {sin, cos}, k, l = 0 .. ``CHART_MAX`` (not both 0): trends of
  the residual along Z and N and their products, on wavelengths down to 20 protons and 30 neutrons;
* modulated inputs x and x f(pi k u / span), f in {sin, cos}, k = 1 .. ``MODULATION_MAX``, u = Z, N, A over spans
  120, 180, 300, for x each shell or pairing input of the run (:data:`INPUTS`: P, S, v_Z, ...) and the odd-even
  factors (-1)^Z = cos(pi Z), (-1)^N = cos(pi N), (-1)^A = cos(pi A): shell and odd-even corrections whose size
  changes across the chart;
* the odd-even factors over A and sqrt(A): staggering that scales like the pairing gap (~12 / sqrt(A) MeV).

Modes are chosen one at a time (orthogonal forward selection, :func:`forward_selection`) to reproduce the ensemble's
prediction on the training nuclei, so every member reads the same terms; the first n of them, for each n of
:data:`SIZES` within the run's constants, become a candidate, every constant refitted on the data and scored like
every other candidate (cross-validation, far check over the model's whole table, determined constants). The
constants are c_0 (the constant) and c_1, c_2, ... in the order the modes were chosen. What this can and cannot
reach is measured in ``bench/residual_modes.py``.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from kansym.symbolic.formula import term_columns, variable_symbols

SPANS = {"Z": 120, "N": 180, "A": 300}  # nucleons; a mode's argument is pi k u / span
CHART_MAX = 12  # largest harmonic of the chart modes in Z and in N
MODULATION_MAX = 8  # largest harmonic that modulates an input
INPUTS = ("P", "S", "P_NZ", "v_Z", "v_N", "s_Z", "s_N", "t_Z", "t_N", "mu_Z", "mu_N")
"""The run's inputs that are modulated (those among its features), beside the odd-even factors."""
SIZES = (2, 3, 4, 6, 8, 11, 14, 17, 20, 24, 29)
"""Numbers of modes of the candidates (each also has the constant c_0)."""


def has_mode_inputs(names) -> bool:
    """Whether the feature names hold Z and N, from which every mode is built."""
    return {"Z", "N"} <= set(names)


def _harmonics(u: sp.Expr, span: int, kmax: int, with_one: bool) -> list[sp.Expr]:
    out = [sp.Integer(1)] if with_one else []
    for k in range(1, kmax + 1):
        out += [sp.sin(sp.pi * k * u / span), sp.cos(sp.pi * k * u / span)]
    return out


def dictionary(names) -> list[sp.Expr]:
    """The route's modes for the feature ``names`` (SymPy, in the names' symbols), in a fixed order; each is
    dimensionless or in the unit of the input it multiplies."""
    return list(_dictionary(tuple(names)))


@functools.lru_cache(maxsize=8)
def _dictionary(names: tuple) -> tuple:
    by = dict(zip(names, variable_symbols(names)))
    z, n = by["Z"], by["N"]
    arg = {"Z": z, "N": n, "A": z + n}
    chart = [fz * fn for fz in _harmonics(z, SPANS["Z"], CHART_MAX, True)
             for fn in _harmonics(n, SPANS["N"], CHART_MAX, True)][1:]
    parity = [sp.cos(sp.pi * z), sp.cos(sp.pi * n), sp.cos(sp.pi * (z + n))]
    waves = [h for u, span in SPANS.items() for h in _harmonics(arg[u], span, MODULATION_MAX, False)]
    modulated = [x * w for x in [by[x] for x in INPUTS if x in by] + parity for w in (sp.Integer(1), *waves)]
    scaled = [p / (z + n) for p in parity] + [p / sp.sqrt(z + n) for p in parity]
    return tuple(chart + modulated + scaled)


def forward_selection(D: np.ndarray, target: np.ndarray, n_terms: int, base: np.ndarray | None = None) -> list[int]:
    """Columns of ``D`` chosen one at a time beside the ``base`` column (a constant when None): at each step the
    column whose part orthogonal to the base and the chosen columns has the largest |cosine| with what they leave of
    ``target`` (ties: the earlier column). A column with no such part is never chosen."""
    q = np.ones(len(target)) if base is None else np.asarray(base, dtype=np.float64)
    q = q / np.linalg.norm(q)
    rest = D - np.outer(q, q @ D)
    r = target - q * (q @ target)
    floor = 1e-9 * np.maximum(np.linalg.norm(D, axis=0), np.finfo(float).tiny)
    chosen: list[int] = []
    for _ in range(min(n_terms, D.shape[1])):
        norms = np.linalg.norm(rest, axis=0)
        usable = norms > floor
        usable[chosen] = False
        if not usable.any():
            break
        score = np.where(usable, np.abs(rest.T @ r) / np.where(usable, norms, 1.0), -1.0)
        j = int(np.argmax(score))
        chosen.append(j)
        v = rest[:, j] / norms[j]
        rest = rest - np.outer(v, v @ rest)
        r = r - v * (v @ r)
    return chosen


def mode_candidates(names, X: np.ndarray, train: np.ndarray, target: np.ndarray, max_constants: int,
                    w: np.ndarray | None = None):
    """(name, expression, constants fitted to ``target``, that fit's prediction on every row of X) of the first n
    modes :func:`forward_selection` chooses to reproduce ``target`` (the network's prediction [MeV] on the ``train``
    rows, the fits weighted by ``w``), for each n of :data:`SIZES` with at most ``max_constants`` constants; a mode
    that is not finite on some row of ``X`` is never chosen."""
    sizes = [s for s in SIZES if s + 1 <= max_constants]
    if not sizes:
        return []
    terms = dictionary(names)
    D = term_columns(variable_symbols(names), X, terms)
    finite = np.flatnonzero(np.all(np.isfinite(D), axis=0))
    sw = np.ones(int(train.sum())) if w is None else np.sqrt(w[train])
    order = [int(finite[j]) for j in forward_selection(D[train][:, finite] * sw[:, None], target * sw,
                                                        max(sizes), sw)]
    out = []
    for size in (s for s in sizes if s <= len(order)):
        cols = order[:size]
        consts = [sp.Symbol(f"c_{k}", real=True) for k in range(size + 1)]
        expr = consts[0] + sp.Add(*(c * terms[j] for c, j in zip(consts[1:], cols)))
        M = np.column_stack([np.ones(len(X)), D[:, cols]])
        coef, *_ = np.linalg.lstsq(M[train] * sw[:, None], target * sw, rcond=None)
        out.append((f"modes-{size}", expr, dict(zip(consts, map(float, coef))), M @ coef))
    return out
