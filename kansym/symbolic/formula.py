"""Assemble a trained KAN's edge fits into a SymPy formula, name its constants and refit them.

The formula is written in the original input variables (Z, N, v_Z, ...), with the KAN's input and
output normalisations undone. Every free numeric constant becomes a named parameter ``c_k``;
exponents stay exact rationals. The refit is a joint nonlinear least-squares fit of all parameters
to the training data, with standard errors and correlations from the covariance matrix.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import numbers
import re
import time
import warnings
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

from kansym.nuclear.baselines import LIQUID_DROP, Baseline
from kansym.nuclear.features import FEATURE_SETS, check_derived
from kansym.errors import KansymError, real_numbers, unmasked
from kansym.symbolic.latex import FEATURE_SYMBOLS, NOTATIONS, shorthand, to_latex
from kansym.network.regressor import contained
from kansym.symbolic.srepr_reader import parse_srepr
from kansym.symbolic.library import (
    FUNCTIONS,
    Candidate,
    EdgeFit,
    LibFunction,
    candidate_numpy,
    candidate_sympy,
    fit_edge,
)

DEGENERATE_CORR = 0.99  # |correlation| above which two constants are flagged as degenerate


SYMBOL_NAMES = MappingProxyType({name: symbol for name, (symbol, _) in FEATURE_SYMBOLS.items()})
"""The symbols of the feature names that are not names of letters, digits and '_' (kansym's kan4, kan9, kan11)."""


def variable_symbols(names) -> tuple[sp.Symbol, ...]:
    """SymPy symbols for feature names ('N-Z' -> NmZ, 'A^(2/3)' -> A23: :data:`SYMBOL_NAMES`)."""
    return tuple(sp.Symbol(SYMBOL_NAMES.get(n, n), real=True) for n in names)


# --------------------------------------------------------------------------- network trace

@dataclass(frozen=True)
class NetworkTrace:
    """Activations of a (pruned) KAN on samples, in normalised units.

    acts[l]: inputs of layer l, shape (n, width_l); post[l]: edge outputs, shape (n, out, in);
    mask[l]: active edges (out, in); alpha[l], beta[l]: node affine maps so that
    acts[l+1][:, j] = alpha[l][j] * sum_i post[l][:, j, i] + beta[l][j].
    """

    acts: tuple[np.ndarray, ...]
    post: tuple[np.ndarray, ...]
    mask: tuple[np.ndarray, ...]
    alpha: tuple[np.ndarray, ...]
    beta: tuple[np.ndarray, ...]
    output: np.ndarray


def trace_network(reg, X: np.ndarray) -> NetworkTrace:
    """Run the KAN of a fitted KANRegressor on rows of X (original units) and record every edge."""
    import torch


    m = reg.model_
    xn = torch.tensor(reg.x_scaler_.forward(np.asarray(X, dtype=np.float64)), dtype=torch.float64)
    with contained(reg.seed), torch.no_grad():
        save = m.save_act
        m.save_act = True
        out = m(xn)
        m.save_act = save
        acts = tuple(a.numpy().copy() for a in m.acts)
        post = tuple(p.numpy().copy() for p in m.spline_postacts)
        # an edge is active through its spline (act_fun mask) or a pykan symbolic function
        mask = tuple(np.maximum(f.mask.detach().numpy().T, sf.mask.detach().numpy())
                     for f, sf in zip(m.act_fun, m.symbolic_fun))
        alpha = tuple((m.node_scale[l] * m.subnode_scale[l]).numpy().copy() for l in range(m.depth))
        beta = tuple((m.node_scale[l] * m.subnode_bias[l] + m.node_bias[l]).numpy().copy() for l in range(m.depth))
        if any(w[1] for w in m.width[1:-1] if isinstance(w, list)):
            raise KansymError("multiplication nodes are not supported by the symbolic stage")
    for l in range(len(post)):
        recon = alpha[l] * post[l].sum(axis=2) + beta[l]
        if not np.allclose(recon, acts[l + 1], rtol=1e-9, atol=1e-9):
            raise KansymError("internal check failed: the KAN's node maps do not reproduce its activations")
    return NetworkTrace(acts, post, mask, alpha, beta, out.numpy().ravel())


# --------------------------------------------------------------------------- symbolic network

@dataclass(frozen=True)
class SymbolicNetwork:
    """Edge fits of every active edge plus the affine maps; evaluates numerically and symbolically."""

    edges: tuple[EdgeFit, ...]
    alpha: tuple[np.ndarray, ...]
    beta: tuple[np.ndarray, ...]
    widths: tuple[int, ...]
    x_center: tuple[float, ...]
    x_scale: tuple[float, ...]
    y_center: float
    y_scale: float
    trend: Baseline  # baseline added to the output
    library: dict = field(hash=False, compare=False, default_factory=dict)

    def _layer_edges(self, l: int):
        return [e for e in self.edges if e.layer == l]

    def numeric(self, X: np.ndarray) -> np.ndarray:
        """Evaluate the symbolic network with numpy on rows of X (original units)."""
        return self.y_scale * self._forward(X)[-1][:, 0] + self.y_center + self.trend.predict(X)

    def layer_inputs(self, X: np.ndarray) -> list[np.ndarray]:
        """Inputs of every layer (normalised units) of the symbolic network on rows of X."""
        return self._forward(X)[:-1]

    def _forward(self, X: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer, the normalised inputs first and the normalised output last."""
        h = (np.asarray(X, dtype=np.float64) - np.asarray(self.x_center)) / np.asarray(self.x_scale)
        out = [h]
        for l in range(len(self.widths) - 1):
            s = np.zeros((h.shape[0], self.widths[l + 1]))
            for e in self._layer_edges(l):
                s[:, e.j] += candidate_numpy(e.chosen, h[:, e.i], self.library)
            h = self.alpha[l] * s + self.beta[l]
            out.append(h)
        return out

    def active_edges(self) -> list[int]:
        """Indices of edges whose function is not a constant."""
        return [k for k, e in enumerate(self.edges) if e.chosen.name != "0"]

    def drop_edge(self, k: int, X: np.ndarray) -> "SymbolicNetwork":
        """The network with edge ``k`` replaced by its mean value on rows of X (the KAN's own pruning
        of an edge, keeping the rest of the composition)."""

        e = self.edges[k]
        mean = float(np.mean(candidate_numpy(e.chosen, self.layer_inputs(X)[e.layer][:, e.i], self.library)))
        const = EdgeFit(e.layer, e.i, e.j, Candidate("0", 0.0, 0.0, 0.0, mean, float("nan"), 0), e.alternatives)
        return replace(self, edges=self.edges[:k] + (const,) + self.edges[k + 1:])

    def describe(self, names) -> str:
        """Edge functions, e.g. 'v_Z:x^2 v_N:x | h0:x^2' (layer-0 inputs named, constants left out)."""
        parts = []
        for l in range(len(self.widths) - 1):
            parts.append(" ".join(f"{names[e.i] if l == 0 else f'h{e.i}'}:{e.chosen.name}"
                                  for e in self._layer_edges(l) if e.chosen.name != "0") or "-")
        return " | ".join(parts)

    def expression(self, symbols, with_trend: bool = True) -> sp.Expr:
        """The SymPy expression of the network in the original variables (plus its baseline)."""
        h = [(s - sp.Float(c)) / sp.Float(k) for s, c, k in zip(symbols, self.x_center, self.x_scale)]
        for l in range(len(self.widths) - 1):
            sums = [sp.Integer(0)] * self.widths[l + 1]
            for e in self._layer_edges(l):
                sums[e.j] += candidate_sympy(e.chosen, h[e.i], self.library)
            h = [sp.Float(self.alpha[l][j]) * sums[j] + sp.Float(self.beta[l][j]) for j in range(self.widths[l + 1])]
        out = sp.Float(self.y_scale) * h[0] + sp.Float(self.y_center)
        return out + self.trend.expression(symbols) if with_trend else out


def fit_network(reg, X: np.ndarray, library: tuple[LibFunction, ...], tol: float = 1e-5,
                r2_min: float = 0.9, on_poor: str = "error", linear_layers: tuple[int, ...] = (),
                cache: dict | None = None) -> SymbolicNetwork:
    """Fit every active edge of a trained KANRegressor to ``library`` using activations on X.

    An edge with best R^2 below ``r2_min`` raises (``on_poor='error'``), is set to zero
    (``on_poor='zero'``), or keeps its best library function (``on_poor='best'``; reported by the caller). Edges of layers in ``linear_layers`` are restricted to {0, x}.
    ``cache`` (a dict kept by the caller) holds the trace and every edge's fits for the next library on the same X.
    """

    if cache is not None and "trace" in cache:
        tr = cache["trace"]
    else:
        tr = trace_network(reg, X)
        if cache is not None:
            cache["trace"] = tr
    libmap = {f.name: f for f in library} | {"0": FUNCTIONS["0"], "x": FUNCTIONS["x"]}
    edges = []
    for l, post in enumerate(tr.post):
        lib_l = (FUNCTIONS["0"], FUNCTIONS["x"]) if l in linear_layers else library
        for j in range(post.shape[1]):
            for i in range(post.shape[2]):
                if not tr.mask[l][j, i]:
                    continue
                e = fit_edge(tr.acts[l][:, i], post[:, j, i], lib_l, tol=tol, layer=l, i=i, j=j,
                             cache=None if cache is None else cache.setdefault((l, i, j), {}))
                if e.chosen.r2 < r2_min and l not in linear_layers:
                    if on_poor == "error":
                        raise KansymError(
                            f"edge (layer {l}, input {i} -> node {j}) is poorly fitted by the library: best R^2 "
                            f"{e.chosen.r2:.4f} < {r2_min} ({e.chosen.name}); widen --lib, lower --r2-min, or "
                            "pass --poor-edges zero to drop such edges")
                    if on_poor == "zero":
                        zero = fit_edge(tr.acts[l][:, i], post[:, j, i], (FUNCTIONS["0"],), layer=l, i=i, j=j)
                        e = EdgeFit(l, i, j, zero.chosen, e.alternatives)
                edges.append(e)
    widths = tuple([tr.acts[0].shape[1]] + [a.shape[1] for a in tr.acts[1:]])
    return SymbolicNetwork(tuple(edges), tr.alpha, tr.beta, widths, reg.x_scaler_.center, reg.x_scaler_.scale,
                           reg.y_scaler_.center[0], reg.y_scaler_.scale[0], reg.trend_, libmap)


# --------------------------------------------------------------------------- parameterisation

def _normalize_powers(expr: sp.Expr) -> sp.Expr:
    """Pull the leading coefficient out of sums inside powers: (k Z + m)^p -> k^p (Z + m/k)^p.

    Only positive k is pulled out of non-integer powers; this removes one redundant constant per power.
    """
    def norm(e):
        if not e.args:
            return e
        e = e.func(*[norm(a) for a in e.args])
        if isinstance(e, sp.Pow) and isinstance(e.base, sp.Add) and e.base.free_symbols:
            terms = sorted(sp.Add.make_args(e.base), key=sp.default_sort_key)
            lead = next(t for t in terms if t.free_symbols)
            k, rest = lead.as_coeff_Mul()
            if not k.is_Float or not (k > 0 or e.exp.is_integer or k < 0):
                return e
            sign = 1 if (k > 0 or e.exp.is_integer) else -1
            kk = k if sign == 1 else -k
            others = [t for t in terms if t is not lead]
            base = sign * rest + sp.Add(*[sp.expand_mul(t / kk) for t in others])
            return kk ** e.exp * base ** e.exp
        return e
    return norm(expr)


def parameterize(expr: sp.Expr, prefix: str = "c", shared: bool = False) -> tuple[sp.Expr, dict[sp.Symbol, float]]:
    """Replace every free Float in ``expr`` by a parameter symbol; return (expression, initial values).

    By default every occurrence of a number becomes its own parameter (a network's edges are
    independent). With ``shared``, equal numbers share one parameter: an engine constant that SymPy
    writes twice (``cbrt(x)`` = sign(x)|x|^(1/3), a repeated sub-expression) stays one constant."""
    expr = sp.expand_mul(_normalize_powers(sp.expand_mul(expr)))
    expr = _normalize_powers(expr)
    params: dict[sp.Symbol, float] = {}
    by_value: dict[float, sp.Symbol] = {}
    counter = [0]

    def sub(e):
        if isinstance(e, sp.Float):
            if shared and float(e) in by_value:
                return by_value[float(e)]
            counter[0] += 1
            s = sp.Symbol(f"{prefix}_{counter[0]}", real=True)
            params[s] = float(e)
            by_value.setdefault(float(e), s)
            return s
        if isinstance(e, sp.Pow) and e.exp.is_Number and not isinstance(e.exp, sp.Float):
            return sp.Pow(sub(e.base), e.exp, evaluate=False)
        if not e.args:
            return e
        return e.func(*[sub(a) for a in e.args], evaluate=False) if isinstance(e, (sp.Add, sp.Mul)) \
            else e.func(*[sub(a) for a in e.args])
    return sub(expr), params


def network_formula(net: SymbolicNetwork, names) -> tuple[sp.Expr, dict[sp.Symbol, float]]:
    """The network's composition with named constants and their initial values. A liquid-drop
    baseline keeps its own constant names (a_V, a_S, ...); every other number becomes c_k."""

    syms = variable_symbols(names)
    if net.trend.kind in LIQUID_DROP:
        b_expr, b_init = net.trend.parameterized(syms)
        n_expr, n_init = parameterize(net.expression(syms, with_trend=False))
        return b_expr + n_expr, {**b_init, **n_init}
    return parameterize(net.expression(syms))


# --------------------------------------------------------------------------- refit

@dataclass(frozen=True)
class Parameter:
    """A refitted constant: value, standard error (None if undetermined) and the value the refit started from.
    The refit is unbounded (:func:`refit`), so no constant can stop at a bound."""

    name: str
    value: float
    stderr: float | None
    init: float

    @property
    def relative_uncertainty(self) -> float | None:
        """|stderr / value| (None when the error is undetermined or the value is 0)."""
        return abs(self.stderr / self.value) if self.stderr is not None and self.value != 0 else None


@dataclass(frozen=True)
class Formula:
    """A closed-form target(variables; parameters) with refitted constants."""

    expr: sp.Expr  # in variable and parameter symbols
    variables: tuple[str, ...]  # feature names, in the order of ``symbols``
    parameters: tuple[Parameter, ...]
    correlations: tuple[tuple[float, ...], ...] = ()

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        return variable_symbols(self.variables)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(sp.Symbol(p.name, real=True) for p in self.parameters)

    @property
    def n_constants(self) -> int:
        return len(self.parameters)

    @property
    def size(self) -> int:
        """Expression size: the number of nodes in the SymPy tree."""
        return int(sp.count_ops(self.expr, visual=False)) + len(self.expr.atoms(sp.Symbol, sp.Number))

    def degenerate_pairs(self, threshold: float | None = None) -> list[tuple[int, int, float]]:
        """Pairs (i, j, corr) of constants whose |correlation| exceeds ``threshold`` (default
        DEGENERATE_CORR): nearly interchangeable constants, poorly determined one by one."""
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
                                      or not 0 <= threshold <= 1):
            raise KansymError(f"threshold must be a number in [0, 1] (an |correlation|), got {str(threshold)[:20]!r}")
        t = DEGENERATE_CORR if threshold is None else threshold
        c = self.correlations
        return [(i, j, float(c[i][j])) for i in range(len(c)) for j in range(i + 1, len(c))
                if np.isfinite(c[i][j]) and abs(c[i][j]) > t]

    def flags(self) -> tuple[str, ...]:
        """Per constant, what a parameter table notes about it ('' when nothing): an undetermined error, and the
        constants it correlates with beyond DEGENERATE_CORR."""
        degenerate = self.degenerate_pairs()
        out = []
        for k, p in enumerate(self.parameters):
            notes = ["error undetermined (infinite derivative, negative variance or singular fit)"] \
                if p.stderr is None else []
            partners = [self.parameters[b if a == k else a].name for a, b, _ in degenerate if k in (a, b)]
            if partners:
                notes.append(f"|corr| > {DEGENERATE_CORR} with {', '.join(partners)}")
            out.append("; ".join(notes))
        return tuple(out)

    @property
    def max_abs_correlation(self) -> float:
        c = np.asarray(self.correlations, dtype=np.float64)
        if c.size < 4:
            return 0.0
        off = np.abs(c[~np.eye(len(c), dtype=bool)])
        return float(np.nanmax(off)) if np.isfinite(off).any() else float("nan")

    def values(self) -> np.ndarray:
        return np.array([p.value for p in self.parameters])

    def numeric_expr(self) -> sp.Expr:
        """The expression with parameter values substituted."""
        return self.expr.xreplace({s: sp.Float(p.value) for s, p in zip(self.param_symbols, self.parameters)})

    def evaluate(self, X: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Formula values on rows of X (columns in ``variables`` order), at the constants ``values`` (one per
        constant, in ``parameters`` order; default the fitted ones)."""
        f = compiled(self.expr, self.symbols, self.param_symbols)[0]
        X = np.asarray(X, dtype=np.float64)
        if values is not None and np.shape(values) != (len(self.parameters),):
            names = ", ".join(p.name for p in self.parameters)[:80]
            raise KansymError(f"values must give the {len(self.parameters)} constants ({names}), got shape "
                              f"{np.shape(values)}")
        with np.errstate(all="ignore"):
            out = f(tuple(X.T), tuple(self.values() if values is None else values))
        return np.broadcast_to(np.asarray(out, dtype=np.float64), (X.shape[0],)).copy()

    def for_columns(self, names) -> "Formula":
        """The same formula reading its variables by name from data whose columns are ``names`` (a run's
        features): a formula file lists its variables in its own order, which need not be the data's."""
        names = tuple(names)
        extra = [v for v in self.variables if v not in names]
        if extra:
            raise KansymError(f"the formula's variables {', '.join(extra)} are not among the data's columns "
                              f"({', '.join(names)})")
        clash = [p.name for p in self.parameters if p.name in names]
        if clash:
            raise KansymError(f"the formula's constants {', '.join(clash)} are named like the data's columns")
        return self if names == self.variables else replace(self, variables=names)

    def predict(self, X) -> np.ndarray:
        """Formula values on rows of ``X``: an array (columns in ``variables`` order) or a DataFrame with
        those columns. Non-finite values stay NaN/inf, with a RuntimeWarning naming how many; they are never
        replaced."""
        pred = self.evaluate(self._rows(X))
        bad = int((~np.isfinite(pred)).sum())
        if bad:
            warnings.warn(f"the formula is not finite on {bad} of {len(pred)} rows", RuntimeWarning, stacklevel=2)
        return pred

    def _rows(self, X) -> np.ndarray:
        """``X`` as float64 rows of the formula's variables, checked: real numbers (a missing value of a pandas
        column as NaN), the variables' columns (by name in a DataFrame), no masked entries."""
        named = hasattr(X, "columns")
        if named:
            twice = sorted({str(c) for c in X.columns[X.columns.duplicated()]} & set(self.variables))
            if twice:
                raise KansymError(f"X names the column {', '.join(twice)[:60]} twice; name each column once")
            missing = [v for v in self.variables if v not in X.columns]
            if missing:
                raise KansymError(f"X lacks the formula's variables {', '.join(missing)}")
            X = X[list(self.variables)]
            for name, dt in zip(self.variables, X.dtypes):  # booleans, complex numbers, text are not numbers
                real_numbers(getattr(dt, "kind", "O"), f"X's column {name!r}")
            X = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            X = unmasked(X, "X")
            real_numbers(np.asarray(X).dtype.kind, "X")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.variables):
            raise KansymError(f"X must have {len(self.variables)} columns ({', '.join(self.variables)}), "
                              f"got shape {X.shape}")
        names = tuple(self.variables)
        if not named and names not in FEATURE_SETS.values() and any(
                sorted(names) == sorted(v) for v in FEATURE_SETS.values()):
            raise KansymError(f"the formula's variables are in the order {', '.join(names)}, not the order of kansym's "
                              "feature set: an array's columns would be read in an order of the file's choosing; pass "
                              "a DataFrame with the columns named")
        infinite = np.argwhere(np.isinf(X))
        if infinite.size:  # NaN is a missing value (its row gives NaN, with a warning); an infinity is no input
            row, col = infinite[0]
            raise KansymError(f"X's column {names[col]} is {X[row, col]:g} in row {row}: inputs must be finite (a "
                              "missing value may be NaN)")
        check_derived(X[np.isfinite(X).all(axis=1)], names)  # swapped Z and N beside v_Z, ... say so
        return X

    def sympy(self) -> sp.Expr:
        """The formula as a SymPy expression with the refitted values substituted."""
        return self.numeric_expr()

    def latex(self, precision: int = 5, symbolic: bool = False) -> str:
        """LaTeX of the formula: numbers to ``precision`` significant digits (3 .. 17), or with ``symbolic`` the
        named constants (a_V, c_1, ...)."""
        if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or not 3 <= precision <= 17:
            raise KansymError(f"precision must be a whole number of significant digits in 3 .. 17, got "
                              f"{str(precision)[:20]!r}")
        if not isinstance(symbolic, (bool, np.bool_)):
            raise KansymError(f"symbolic must be True or False, got {str(symbolic)[:20]!r}")
        precision = int(precision)
        return to_latex(self.expr if symbolic else self.numeric_expr(), precision=precision)

    def covariance(self) -> np.ndarray:
        """Covariance of the constants [units of the constants squared]; NaN where an error is undetermined."""
        err = np.array([np.nan if p.stderr is None else p.stderr for p in self.parameters], dtype=float)
        if not self.correlations and np.isfinite(err).sum() > 1:
            raise KansymError("the formula records no correlations of its constants: a covariance (and uncertainty "
                              "band) would wrongly take them as independent; use an entry that records them "
                              "(kansym export writes them)")
        corr = np.asarray(self.correlations, dtype=float) if self.correlations else np.eye(len(err))
        return corr * np.outer(err, err)

    def eval_uncertainty(self, X) -> np.ndarray:
        """One-standard-error band of the formula on rows of ``X``: sqrt(J C J^T) with J the derivatives
        with respect to the constants and C their refit covariance (linear propagation, as lmfit's
        ``eval_uncertainty``). NaN where a constant's error is undetermined, never 0. ``X`` as for :meth:`predict`."""
        X = self._rows(X)
        if not self.parameters:
            return np.zeros(len(X))
        J = self.jacobian(X)
        with np.errstate(all="ignore"):
            var = np.einsum("ij,jk,ik->i", J, self.covariance(), J)
        return np.sqrt(np.where(var >= 0, var, np.nan))

    def jacobian(self, X: np.ndarray) -> np.ndarray:
        """Derivatives of the formula with respect to its constants on rows of X (rows x constants),
        from SymPy's exact derivatives."""
        X = np.asarray(X, dtype=np.float64)
        if not self.parameters:
            return np.zeros((len(X), 0))
        grads = [sp.diff(self.expr, s) for s in self.param_symbols]
        g = sp.lambdify((self.symbols, self.param_symbols), grads, modules="numpy")
        with np.errstate(all="ignore"):
            return np.column_stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (len(X),))
                                    for c in g(tuple(X.T), tuple(self.values()))])

    def to_dict(self) -> dict:
        """Plain data: srepr of the expression, variables, constants (value, stderr, init), correlations."""
        return {"srepr": sp.srepr(self.expr), "variables": list(self.variables),
                "parameters": [{"name": p.name, "value": p.value, "stderr": p.stderr, "init": p.init}
                               for p in self.parameters],
                "correlations": [list(r) for r in self.correlations]}

    @classmethod
    def from_dict(cls, entry: dict) -> "Formula":
        """A formula from :meth:`to_dict` output, a run's ``formula.json`` or a registry entry, read by the
        whitelisting parser (``kansym.symbolic.srepr_reader``): data, never code."""
        return formula_from_entry(entry)


def check_finite(formula: Formula, X: np.ndarray, what: str = "the data") -> None:
    """Reject a formula that is NaN or infinite anywhere on X."""
    v = formula.evaluate(X)
    bad = ~np.isfinite(v)
    if bad.any():
        raise KansymError(f"formula is not finite on {int(bad.sum())} of {len(v)} rows of {what}; rejected")


@functools.lru_cache(maxsize=16)
def _compiled_terms(symbols: tuple, terms: tuple):
    return sp.lambdify(symbols, list(terms), "numpy")


def term_columns(symbols, X: np.ndarray, terms) -> np.ndarray:
    """Each of ``terms``' values on the rows of X (columns named by ``symbols``), one column per term; the terms are
    compiled once per symbols and terms (every member of an ensemble reads the same dictionary)."""
    with np.errstate(all="ignore"):
        cols = _compiled_terms(tuple(symbols), tuple(terms))(*np.asarray(X, dtype=np.float64).T)
    return np.column_stack([np.broadcast_to(np.asarray(c, dtype=np.float64), (len(X),)) for c in cols])


@functools.lru_cache(maxsize=1024)
def compiled(expr: sp.Expr, syms: tuple, psyms: tuple):
    """(f, grads) for ``expr``: numpy functions of (variables, parameters) giving the value and the list of
    derivatives with respect to ``psyms`` (grads None where SymPy leaves a derivative unevaluated).
    Cached: a candidate is evaluated and refitted many times (folds, far check, reductions)."""
    f = sp.lambdify((syms, psyms), expr, modules="numpy")
    # d sign(x)/dx = 2 DiracDelta(x) (from real cube roots) is zero almost everywhere; derivatives that
    # SymPy leaves unevaluated (e.g. of |f| with f of unknown sign) fall back to finite differences
    try:
        derivs = [sp.diff(expr, p).replace(sp.DiracDelta, lambda *a: sp.Integer(0)) for p in psyms]
        if any(d.has(sp.Derivative) for d in derivs):
            raise ValueError("unevaluated derivative")
        grads = sp.lambdify((syms, psyms), derivs, modules="numpy", cse=True) if psyms else None
    except (ValueError, TypeError):
        grads = None
    return f, grads


class _OutOfTime(Exception):
    """Raised inside the least-squares loop when the refit's deadline has passed."""


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("refit_deadline", default=None)


@contextlib.contextmanager
def deadline_at(when: float | None):
    """Within the block, every :func:`refit` stops (raising) once ``time.monotonic()`` passes ``when``
    (None: no limit); an earlier deadline already in force is kept."""
    outer = _DEADLINE.get()
    token = _DEADLINE.set(when if outer is None else (outer if when is None else min(outer, when)))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def past_deadline() -> bool:
    """True when the deadline of the enclosing :func:`deadline_at` block has passed."""
    when = _DEADLINE.get()
    return when is not None and time.monotonic() > when


def _residuals(f, grads, X, y, deadline, sample_weight=None):
    """(residuals, raw Jacobian) of the compiled formula ``f`` (and its derivatives ``grads``) on (X, y), as
    functions of the constants: a non-finite residual counts as 1e6 MeV; the Jacobian is as SymPy gives it
    (possibly not finite). ``deadline()`` is a ``time.monotonic()`` value (or None) the residuals honour. With
    ``sample_weight`` w both are multiplied by sqrt(w) row by row (weighted least squares; w = 1 changes no bit)."""
    cols = tuple(np.asarray(X, dtype=np.float64).T)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    root = None if sample_weight is None else np.sqrt(np.asarray(sample_weight, dtype=np.float64))

    def resid(p):
        limit = deadline()
        if limit is not None and time.monotonic() > limit:
            raise _OutOfTime
        with np.errstate(all="ignore"):
            r = np.broadcast_to(np.asarray(f(cols, tuple(p)), dtype=np.float64), (n,)) - y
        r = np.where(np.isfinite(r), r, 1e6)
        return r if root is None else r * root

    def raw_jac(p):
        with np.errstate(all="ignore"):
            J = np.column_stack([np.broadcast_to(np.asarray(g, dtype=np.float64), (n,)) for g in grads(cols, tuple(p))])
            return J if root is None else J * root[:, None]

    return resid, raw_jac


@functools.lru_cache(maxsize=1024)
def not_real(expr: sp.Expr) -> bool:
    """Whether ``expr`` holds the imaginary unit, an infinity or NaN, or a constant part that is not real (a negative
    number under a fractional power, as folding a pruned edge's mean into x^(2/3) can leave)."""
    if expr.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo):
        return True
    return any(a.args and not a.free_symbols and a.is_extended_real is False for a in sp.preorder_traversal(expr))


def refit(expr: sp.Expr, init: dict[sp.Symbol, float], variables, X: np.ndarray, y: np.ndarray,
          max_nfev: int = 3000, accept_budget_end: bool = False, deadline: float | None = None,
          sample_weight: np.ndarray | None = None, linear_start: bool = False) -> Formula:
    """Jointly fit all parameters of ``expr`` to (X, y) by least squares (analytic Jacobian), weighted by
    ``sample_weight`` when given (the covariance then uses the weighted residuals, as scipy's ``curve_fit`` with
    relative sigma does: it does not depend on the weights' scale). With ``linear_start`` the constants that enter
    ``expr`` linearly are first solved for by linear least squares at the others' starting values
    (:func:`_linear_start`).

    Raises if ``expr`` is not real (the imaginary unit or an infinity in it), if the fit fails, if it stops at
    ``max_nfev`` evaluations unless ``accept_budget_end``, or when ``deadline`` (a ``time.monotonic()`` value)
    passes before it ends."""
    if not_real(expr):
        raise KansymError("the expression is not real (it holds the imaginary unit, an infinity or a complex "
                          "number such as (-1)^(2/3)); rejected")
    syms = variable_symbols(variables)
    psyms = tuple(init)
    p0 = np.array([init[s] for s in psyms], dtype=np.float64)
    outer = _DEADLINE.get()
    deadline = outer if deadline is None else (deadline if outer is None else min(deadline, outer))
    if deadline is not None and time.monotonic() > deadline:
        raise KansymError("the refit ran out of its time budget")
    f, grads = compiled(expr, syms, psyms)
    resid, raw_jac = _residuals(f, grads, X, y, lambda: deadline, sample_weight)

    def jac(p):  # for the optimiser only; the covariance below uses the raw Jacobian
        J = raw_jac(p)
        return np.where(np.isfinite(J), J, 0.0)

    if len(psyms) == 0:
        return Formula(expr, tuple(variables), ())
    if linear_start and grads is not None:
        p0 = _linear_start(expr, psyms, p0, resid, raw_jac)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in trial steps is handled by the optimiser
            res = least_squares(resid, p0, jac=jac if grads is not None else "2-point", method="trf",
                                x_scale="jac", max_nfev=max_nfev)
    except _OutOfTime:
        raise KansymError("the refit ran out of its time budget") from None
    deadline = None  # the covariance below evaluates the residuals once more
    # status 0: the evaluation budget ran out; with ``accept_budget_end`` that iterate (a least-squares
    # improvement on the start) is kept, as for large network compositions
    if res.status < 0 or not np.all(np.isfinite(res.x)) or (res.status == 0 and not accept_budget_end):
        raise KansymError(f"the refit did not converge ({res.message}); try another library or candidate")
    J = raw_jac(res.x) if grads is not None else np.asarray(res.jac, dtype=np.float64)
    err, corr, ok = _uncertainties(J, resid(res.x))
    params = tuple(Parameter(s.name, float(v), float(e) if k else None, float(v0))
                   for s, v, e, k, v0 in zip(psyms, res.x, err, ok, p0))
    return Formula(expr, tuple(variables), params, tuple(tuple(map(float, row)) for row in corr))


def linear_constants(expr: sp.Expr, psyms: tuple) -> list[int]:
    """Indices of constants in which ``expr`` is jointly linear (every second derivative among them is zero),
    chosen greedily in the order of ``psyms``: of c_1 c_2 A only c_1 is taken."""
    out: list[int] = []
    for k, s in enumerate(psyms):
        if all(sp.diff(expr, s, t) == 0 for t in (s, *(psyms[m] for m in out))):
            out.append(k)
    return out


def _linear_start(expr: sp.Expr, psyms: tuple, p0: np.ndarray, resid, raw_jac) -> np.ndarray:
    """``p0`` with its linear constants (:func:`linear_constants`) replaced by their least-squares values at the
    other constants' starting values (the formula is h + sum_k c_k g_k there, g_k its derivatives); ``p0`` itself
    where that solve is not finite or fits worse. Starting values of an edge function fitted to another edge's
    activations (the joint search) can have the wrong sign or scale, from which the refit does not recover."""
    lin = linear_constants(expr, psyms)
    if not lin:
        return p0
    base = p0.copy()
    base[lin] = 0.0
    with np.errstate(all="ignore"):
        r0, J = resid(base), raw_jac(base)[:, lin]
        if not (np.all(np.isfinite(J)) and np.all(np.abs(r0) < 1e6)):
            return p0
        c, *_ = np.linalg.lstsq(J, -r0, rcond=None)
    start = base
    start[lin] = c
    if not np.all(np.isfinite(c)) or np.sum(resid(start) ** 2) >= np.sum(resid(p0) ** 2):
        return p0
    return start


def _uncertainties(J: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(standard errors, correlations, determined) of least-squares constants from the Jacobian ``J`` and the
    residuals ``r`` at the optimum: cov = (J^T J)^-1 s^2 with s^2 = sum r^2 / (n - k). A constant whose
    derivative is not finite somewhere, whose variance comes out negative or zero, or whose correlation with another
    determined constant leaves [-1, 1] (a numerically singular J^T J) is undetermined: its error is reported as
    None, never 0, and its row and column of the correlations are NaN."""
    k = J.shape[1]
    determined = np.isfinite(J).all(axis=0)
    J = np.where(np.isfinite(J), J, 0.0)
    dof = max(len(r) - k, 1)
    s2 = float(np.sum(r ** 2)) / dof
    try:
        with np.errstate(all="ignore"):  # a Jacobian so large that J^T J overflows leaves its constants undetermined
            JTJ = J.T @ J
            cov = np.linalg.inv(JTJ) * s2
            cov = (cov + cov.T) / 2  # the inverse of an ill-conditioned J^T J is symmetric only to rounding
            var = np.diag(cov)
            err = np.sqrt(np.where(var >= 0, var, np.nan))
            corr = cov / np.outer(err, err)
            # (LAPACK would print its complaint about a J^T J that overflowed on the standard output)
            cond = np.linalg.cond(JTJ) if np.isfinite(JTJ).all() else np.inf
            ok = np.isfinite(err) & (err > 0) & determined & (cond < 1e30)
            # a covariance that is not one (a correlation beyond [-1, 1] by more than rounding: J^T J numerically
            # singular) determines neither constant of the pair
            off = ok[:, None] & ok[None, :] & ~(np.abs(corr) <= 1 + 1e-6)
        ok &= ~off.any(axis=1)
        corr[~ok, :] = np.nan
        corr[:, ~ok] = np.nan
    except np.linalg.LinAlgError:
        err, corr, ok = np.full(k, np.nan), np.full((k, k), np.nan), np.zeros(k, bool)
    return err, corr, ok


def uncertainties_at(formula: Formula, X: np.ndarray, y: np.ndarray,
                     sample_weight: np.ndarray | None = None) -> tuple[tuple[float | None, ...], np.ndarray]:
    """(standard errors, None where undetermined; correlation matrix) of ``formula``'s constants at their values
    on (X, y) (weighted by ``sample_weight``), computed as :func:`refit` computes them at its optimum: a check of
    recorded uncertainties."""
    from scipy.optimize._numdiff import approx_derivative

    syms, psyms = variable_symbols(formula.variables), formula.param_symbols
    f, grads = compiled(formula.expr, syms, psyms)
    resid, raw_jac = _residuals(f, grads, X, y, lambda: None, sample_weight)
    p = np.array(formula.values(), dtype=np.float64)
    with np.errstate(all="ignore"):
        J = raw_jac(p) if grads is not None else approx_derivative(resid, p, method="2-point")
    err, corr, ok = _uncertainties(J, resid(p))
    return tuple(float(e) if k else None for e, k in zip(err, ok)), corr


# --------------------------------------------------------------------------- reading formula entries

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")  # a variable or constant name in a formula entry
ENTRY_FORMAT = "kansym-formula/1"
"""The ``format`` field of the formula entries this version writes and reads."""


MAX_PARAMETERS = 120
"""Most parameters (and variables) a formula entry may have: --max-constants is at most 100 and a search keeps
candidates up to a few constants above it."""


def formula_from_entry(entry: dict) -> Formula:
    """Rebuild a Formula from a registry entry or a run's ``formula.json``, validated as a schema: the srepr is
    read by ``kansym.symbolic.srepr_reader`` (data, never code); variables and parameters are distinct names; every symbol
    is real and is a variable or a parameter; correlations form a symmetric matrix with unit diagonal and entries
    in [-1, 1] (NaN only for a constant whose error is undetermined). Errors name the field."""
    if not isinstance(entry, dict):
        raise KansymError(f"malformed formula entry: expected a JSON object, got {type(entry).__name__}")
    for key, kind in (("srepr", str), ("variables", list), ("parameters", list)):
        if key not in entry:
            raise KansymError(f"malformed formula entry: field {key!r} is missing")
        if not isinstance(entry[key], kind):
            raise KansymError(f"malformed formula entry: field {key!r} must be a {kind.__name__}, "
                              f"got {type(entry[key]).__name__}")
    if "format" in entry and entry["format"] != ENTRY_FORMAT:
        raise KansymError(f"malformed formula entry: field 'format' is {str(entry['format'])[:40]!r}; this kansym "
                          f"reads {ENTRY_FORMAT}")
    entry_notation(entry)
    variables = tuple(entry["variables"])
    bad = [v for v in variables if not isinstance(v, str) or not (v in SYMBOL_NAMES or _NAME.fullmatch(v))]
    if bad:
        raise KansymError(f"malformed formula entry: field 'variables' holds {str(bad[0])[:40]!r}, not a name of "
                          f"letters, digits and '_' starting with a letter (nor {', '.join(SYMBOL_NAMES)})")
    if len(entry["parameters"]) > MAX_PARAMETERS or len(variables) > MAX_PARAMETERS:
        raise KansymError(f"malformed formula entry: more than {MAX_PARAMETERS} parameters or variables (a kansym "
                          "formula has at most about 100)")
    params = tuple(_parameter(p, k) for k, p in enumerate(entry["parameters"]))
    names = [*(v.name for v in variable_symbols(variables)), *(p.name for p in params)]  # as the srepr names them
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise KansymError(f"malformed formula entry: {', '.join(twice)} named twice (variables and parameters must "
                          "be distinct names)")
    if "n_constants" in entry and (type(entry["n_constants"]) is not int or entry["n_constants"] != len(params)):
        raise KansymError(f"malformed formula entry: field 'n_constants' ({str(entry['n_constants'])[:20]}) is not "
                          f"the number of parameters ({len(params)})")
    corr = _correlations(entry.get("correlations", []), params)
    expr = parse_srepr(entry["srepr"], where="formula entry 'srepr'")
    known = set(names)
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in known)
    if unknown:
        raise KansymError(f"malformed formula entry: symbols {', '.join(unknown)} are neither variables nor parameters")
    unreal = sorted(str(s) for s in expr.free_symbols if s != sp.Symbol(str(s), real=True))
    if unreal:
        raise KansymError(f"malformed formula entry: 'srepr' symbols {', '.join(unreal)} are not declared real, and "
                          "only real (Symbol(..., real=True)); kansym writes every symbol so")
    unused = [p.name for p in params if sp.Symbol(p.name, real=True) not in expr.free_symbols]
    if unused:
        raise KansymError(f"malformed formula entry: parameters {', '.join(unused)[:80]} do not occur in 'srepr'")
    _finite_subexpressions(expr)
    formula = Formula(expr, variables, params, corr)
    _own_fields_agree(entry, formula)
    return formula


def entry_notation(entry: dict) -> str | None:
    """The notation an entry's ``.tex`` was written in: one of :data:`NOTATIONS`, or None for entries written before
    kansym had one; another value is refused."""
    notation = entry.get("notation")
    if notation is not None and notation not in NOTATIONS:
        raise KansymError(f"malformed formula entry: field 'notation' is {str(notation)[:40]!r}, not one of "
                          f"{', '.join(NOTATIONS)}")
    return notation


def _own_fields_agree(entry: dict, formula: "Formula") -> None:
    """An entry's derived fields, where it has them, are those of its srepr and constants: ``text`` and ``latex`` the
    formula's, each parameter's ``shorthand`` and ``relative_uncertainty`` those of its value and error, and its
    ``flag`` what its error and correlations give (naming the partners: two names swapped show there). An entry
    edited in one field and not the others contradicts itself; which one to believe is not knowable."""
    expr, params = formula.expr, formula.parameters
    if "format" in entry:  # an entry kansym wrote as a file (a run's formula.json, the registry) holds them all
        lacking = [f"'{k}'" for k in ("text", "latex") if k not in entry] + [
            f"'parameters'[{k}]['{f}']" for k, raw in enumerate(entry["parameters"])
            for f in ("shorthand", "relative_uncertainty", "flag") if f not in raw]
        if lacking:
            raise KansymError(f"malformed formula entry: field {lacking[0]} is missing (an entry with a 'format' "
                              "is written with it; without it the entry cannot be checked against itself)")
    for key, mine in (("text", lambda: str(expr)), ("latex", lambda: to_latex(expr))):
        if key in entry and entry[key] != mine():
            raise KansymError(f"malformed formula entry: field {key!r} is not the formula its 'srepr' gives (the entry "
                              "was edited in one field and not the others)")
    for k, (raw, p) in enumerate(zip(entry["parameters"], params)):
        if "shorthand" in raw and raw["shorthand"] != shorthand(p.value, p.stderr):
            raise KansymError(f"malformed formula entry: field 'parameters'[{k}] ({p.name}) has shorthand "
                              f"{str(raw['shorthand'])[:30]!r}, but its value and stderr give "
                              f"{shorthand(p.value, p.stderr)!r}")
        if "relative_uncertainty" in raw:
            rel, want = raw["relative_uncertainty"], p.relative_uncertainty
            same = (rel is None and want is None) or (isinstance(rel, (int, float)) and want is not None
                                                      and math.isclose(rel, want, rel_tol=1e-9, abs_tol=1e-300))
            if not same:
                raise KansymError(f"malformed formula entry: field 'parameters'[{k}] ({p.name}) has relative_uncertainty "
                                  f"{str(rel)[:30]}, not its stderr over its value")
        if "unit" in raw and raw["unit"] != parameter_unit(formula, p.name):
            raise KansymError(f"malformed formula entry: field 'parameters'[{k}] ({p.name}) has unit "
                              f"{str(raw['unit'])[:20]!r}, but the formula gives it {parameter_unit(formula, p.name)!r}")
    for k, (raw, flag) in enumerate(zip(entry["parameters"], formula.flags())):
        if "flag" in raw and raw["flag"] != flag:
            raise KansymError(f"malformed formula entry: field 'parameters'[{k}] ({params[k].name}) has flag "
                              f"{str(raw['flag'])[:60]!r}, but its error and correlations give {flag[:60]!r} (names "
                              "swapped, or the correlations edited)")


def parameter_unit(formula: Formula, name: str, output_unit: str = "MeV") -> str:
    """MeV for a constant the formula is linear in (an energy coefficient: Z and N are pure numbers),
    1 for a constant inside a function, an exponent or a shift (dimensionless)."""
    sym = next((s for s in formula.expr.free_symbols if s.name == name), None)
    return output_unit if sym is not None and not sp.diff(formula.expr, sym).has(sym) else "1"


def _finite_subexpressions(expr: sp.Expr) -> None:
    """Every number and every subexpression free of symbols is a finite float (``exp(100000)`` overflows)."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Basic) and not node.free_symbols and (node.is_Number or node.args):
            try:
                value = float(node.evalf(30))
            except (TypeError, ValueError, OverflowError):
                value = float("inf")
            if not np.isfinite(value):
                raise KansymError("malformed formula entry: 'srepr' holds a constant expression that is not a finite "
                                  f"float ({str(node)[:40]})")


def _parameter(p, k: int) -> "Parameter":
    """Parameter ``k`` of a formula entry (fields name, value, stderr and, in a run's formula.json, init)."""
    where = f"field 'parameters'[{k}]"
    if not isinstance(p, dict):
        raise KansymError(f"malformed formula entry: {where} must be an object, got {type(p).__name__}")
    missing = [f for f in ("name", "value", "stderr") if f not in p]
    if missing:
        raise KansymError(f"malformed formula entry: {where} lacks {', '.join(missing)}")
    name = p["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise KansymError(f"malformed formula entry: {where} name {str(name)[:40]!r} must be letters, digits and '_', starting with a letter")
    try:
        return Parameter(name, _number(p["value"], "value"),
                         None if p["stderr"] is None else _number(p["stderr"], "stderr", lo=0.0),
                         _number(p.get("init", p["value"]), "init"))  # a registry entry has no 'init'
    except ValueError as exc:
        raise KansymError(f"malformed formula entry: {where} ({name}): {exc}") from None


def _correlations(rows, params) -> tuple[tuple[float, ...], ...]:
    """The correlation matrix of a formula entry, checked (an empty list: none recorded)."""
    n = len(params)
    if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) != n for r in rows) or \
            (rows and len(rows) != n):
        raise KansymError(f"malformed formula entry: field 'correlations' must be a {n} x {n} matrix (or empty)")
    if not rows:
        return ()
    special = {"NaN": float("nan")}
    c = np.empty((n, n))
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            x = special.get(v) if isinstance(v, str) else _real(v)
            if x is None:
                raise KansymError(f"malformed formula entry: 'correlations'[{i}][{j}] = {str(v)[:20]!r} is not a number")
            c[i, j] = x
    known = np.array([p.stderr is not None for p in params])
    both = np.outer(known, known)
    with np.errstate(invalid="ignore"):
        if not np.isfinite(c[both]).all() or np.isinf(c).any():
            raise KansymError("malformed formula entry: 'correlations' is NaN or infinite between constants whose "
                              "errors are determined")
        fin = np.isfinite(c)
        if (np.abs(c[fin]) > 1 + 1e-6).any():
            raise KansymError("malformed formula entry: 'correlations' has entries outside [-1, 1]")
        if (fin != fin.T).any() or (np.abs(np.where(fin, c - c.T, 0.0)) > 1e-9).any():
            raise KansymError("malformed formula entry: 'correlations' is not symmetric")
        d = np.diag(c)[known]
        if (np.abs(d - 1) > 1e-9).any():
            raise KansymError("malformed formula entry: 'correlations' must have 1 on its diagonal")
        # every constant determined: a covariance's correlations, positive semidefinite to rounding (-7e-11 at
        # worst over 24100 kansym formulas); with undetermined ones the rest need not be
        if known.all() and len(known) > 1 and np.linalg.eigvalsh(c).min() < -1e-6:
            raise KansymError("malformed formula entry: 'correlations' is not a correlation matrix (not positive "
                              "semidefinite)")
    return tuple(tuple(float(v) for v in r) for r in c)


def _real(value) -> float | None:
    """``value`` as a float if it is a real number (Python's or NumPy's, not a boolean), else None; an integer
    too large for a float gives infinity."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _number(value, what: str, lo: float = -np.inf) -> float:
    """A finite float (>= ``lo``) from a formula entry; strings, booleans and NaN are refused."""
    x = _real(value)
    if x is None:
        raise ValueError(f"parameter {what} {str(value)[:40]!r} is not a number")
    if not (np.isfinite(x) and x >= lo):
        raise ValueError(f"parameter {what} {str(value)[:40]} is not a finite number"
                         + (f" >= {lo}" if lo > -np.inf else ""))
    return x
