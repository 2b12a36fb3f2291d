"""Physics baselines the KAN learns on top of: a refitted liquid drop or a linear trend.

A baseline is linear in its coefficients, fitted by least squares on the training nuclei; the
network then learns target - baseline, and the symbolic stage adds the baseline's terms, with
their coefficients as named constants, to the formula before the joint refit.

Liquid-drop terms of the binding energy [MeV], A = Z + N, I = N - Z:

* ``a_V A`` volume, ``a_S A^(2/3)`` surface, ``a_C Z(Z-1) A^(-1/3)`` Coulomb,
  ``a_I I^2 / A`` symmetry, ``a_P delta A^(-1/2)`` pairing with
  delta = [(-1)^Z + (-1)^N] / 2 (+1 even-even, 0 odd A, -1 odd-odd);
* extended (``ldx``): ``a_W |I| / A`` Wigner and ``a_SI I^2 A^(-4/3)`` surface symmetry.

``ld`` is the five-term Bethe-Weizsaecker formula, ``ldx`` adds the two extended terms (on a subset whose
nuclei all have the same delta, e.g. even-even, the pairing term is left out: it is then a smooth A^(-1/2)
term, undetermined beside the volume and surface terms), ``linear``
is a least-squares linear function of the network's inputs (plus a constant), ``none`` is zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import sympy as sp

from kansym.nuclear import features
from kansym.errors import KansymError, choose


def _terms(Z, N, delta):
    """Liquid-drop term values (numpy or SymPy): name -> (constant name, expression)."""
    A = Z + N
    I = N - Z  # noqa: E741
    third = sp.Rational(1, 3) if isinstance(Z, sp.Basic) else 1.0 / 3.0
    absf = sp.Abs if isinstance(Z, sp.Basic) else np.abs
    return {
        "volume": ("a_V", A),
        "surface": ("a_S", A ** (2 * third)),
        "coulomb": ("a_C", Z * (Z - 1) * A ** (-third)),
        "symmetry": ("a_I", I ** 2 / A),
        "pairing": ("a_P", delta * A ** (-3 * third / 2)),
        "wigner": ("a_W", absf(I) / A),
        "surface_symmetry": ("a_SI", I ** 2 * A ** (-4 * third)),
    }


BASELINES = MappingProxyType({
    "none": (),
    "linear": None,  # the inputs themselves and a constant
    "ld": ("volume", "surface", "coulomb", "symmetry", "pairing"),
    "ldx": ("volume", "surface", "coulomb", "symmetry", "pairing", "wigner", "surface_symmetry"),
})
LIQUID_DROP = ("ld", "ldx")


def check_baseline(name: str, target: str, variables) -> str:
    """Validate a baseline name for a target and input set; unknown names list the choices."""
    choose("baseline", name, BASELINES)
    if name in LIQUID_DROP:
        if target != "be":
            raise KansymError(f"--baseline {name} is a binding-energy liquid drop; it needs --target be "
                              f"(got {target}); use linear or none")
        missing = [v for v in ("Z", "N") if v not in variables]
        if missing:
            raise KansymError(f"--baseline {name} needs Z and N among the inputs; missing {', '.join(missing)}")
    return name


def pairing_delta(z, n) -> np.ndarray:
    """delta = [(-1)^Z + (-1)^N] / 2 for integer-valued z, n."""
    z = np.rint(np.asarray(z, dtype=np.float64)).astype(np.int64)
    n = np.rint(np.asarray(n, dtype=np.float64)).astype(np.int64)
    return features.pairing_delta(z, n)


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline: target ~ sum_k coef_k term_k(X) [MeV].

    ``delta``: the pairing factor when it is the same on every fitted nucleus (1 for even-even),
    used everywhere so that the numeric and symbolic forms agree; None when it varies.
    """

    kind: str
    terms: tuple[str, ...]
    coef: tuple[float, ...]
    variables: tuple[str, ...]
    delta: float | None = None

    def _columns(self, X: np.ndarray) -> dict:
        X = np.asarray(X, dtype=np.float64)
        if self.kind == "linear":
            cols = {v: X[:, i] for i, v in enumerate(self.variables)}
            cols["1"] = np.ones(len(X))
            return cols
        Z, N = X[:, self.variables.index("Z")], X[:, self.variables.index("N")]
        delta = pairing_delta(Z, N) if self.delta is None else self.delta
        with np.errstate(all="ignore"):
            return {k: np.broadcast_to(v[1], (len(X),)) for k, v in _terms(Z, N, delta).items()}

    def design(self, X: np.ndarray) -> np.ndarray:
        """The term values on rows of X, one column per term."""
        if not self.terms:
            return np.zeros((len(X), 0))
        cols = self._columns(X)
        return np.column_stack([cols[t] for t in self.terms])

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.terms:
            return np.zeros(len(X))
        if self.kind == "linear":  # X w + b, in the same floating-point order as kansym 0.1's trend
            return np.asarray(X, dtype=np.float64) @ np.asarray(self.coef[:-1]) + self.coef[-1]
        return self.design(X) @ np.asarray(self.coef)

    def _sympy_terms(self, symbols) -> list[tuple[str, sp.Expr]]:
        by = dict(zip(self.variables, symbols))
        if not self.terms:  # 'none': no term, so no Z or N needed
            return []
        if self.kind == "linear":
            return [(f"w_{v}", by[v]) for v in self.variables] + [("w_0", sp.Integer(1))]
        Z, N = by["Z"], by["N"]
        delta = (sp.Integer(-1) ** Z + sp.Integer(-1) ** N) / 2 if self.delta is None else sp.nsimplify(self.delta)
        t = _terms(Z, N, delta)
        return [t[name] for name in self.terms]

    def expression(self, symbols) -> sp.Expr:
        """The baseline with its fitted coefficients as numbers."""
        return sp.Add(*[sp.Float(c) * e for c, (_, e) in zip(self.coef, self._sympy_terms(symbols))])

    def parameterized(self, symbols) -> tuple[sp.Expr, dict]:
        """The baseline with named constants (a_V, a_S, ...), and their fitted values."""
        expr, init = sp.Integer(0), {}
        for c, (name, e) in zip(self.coef, self._sympy_terms(symbols)):
            p = sp.Symbol(name, real=True)
            expr += p * e
            init[p] = float(c)
        return expr, init

    def to_dict(self) -> dict:
        return {"kind": self.kind, "terms": list(self.terms), "coef": list(self.coef),
                "variables": list(self.variables), "delta": self.delta}

    @classmethod
    def from_dict(cls, d: dict) -> "Baseline":
        """A saved baseline, checked: a known kind, its own terms, one finite coefficient per term."""
        kind, terms, coef = d["kind"], tuple(d["terms"]), tuple(map(float, d["coef"]))
        variables, delta = tuple(d["variables"]), d.get("delta")
        if kind not in BASELINES:
            raise ValueError(f"unknown baseline kind {str(kind)[:20]!r}")
        allowed = (*variables, "1") if kind == "linear" else BASELINES[kind]
        if not set(terms) <= set(allowed) or len(set(terms)) != len(terms) or len(coef) != len(terms) or not all(np.isfinite(coef)) or \
                (delta is not None and delta not in (-1, 0, 1)):
            raise ValueError(f"a saved {kind} baseline has other terms, coefficients or pairing factor than it can")
        if kind in LIQUID_DROP and not {"Z", "N"} <= set(variables):
            raise ValueError("a saved liquid-drop baseline needs the variables Z and N")
        return cls(kind, terms, coef, variables, delta)


def fit_baseline(kind: str, X: np.ndarray, y: np.ndarray, variables, sample_weight=None) -> Baseline:
    """Least-squares fit of baseline ``kind`` to (X, y) (weighted by ``sample_weight`` when given); X's columns
    are named by ``variables``."""
    variables = tuple(variables)
    choose("baseline", kind, BASELINES)
    if kind == "none":
        return Baseline("none", (), (), variables)
    if kind == "linear":
        base = Baseline("linear", (*variables, "1"), (), variables)
    else:
        X = np.asarray(X, dtype=np.float64)
        d = pairing_delta(X[:, variables.index("Z")], X[:, variables.index("N")])
        delta = float(d[0]) if np.all(d == d[0]) else None
        # with the same delta on every nucleus (0 for odd A; +1 on even-even nuclei) the pairing term is no
        # pairing term: it vanishes, or it is a smooth A^(-1/2) term that the volume and surface terms nearly
        # reproduce over A = 60-260 (its constant then flips sign from fit to fit); it is left out
        terms = tuple(t for t in BASELINES[kind] if not (t == "pairing" and delta is not None))
        base = Baseline(kind, terms, (), variables, delta)
    B = base.design(X)
    y = np.asarray(y, dtype=np.float64)
    if sample_weight is not None:
        root = np.sqrt(np.asarray(sample_weight, dtype=np.float64))
        B, y = B * root[:, None], y * root
    coef, *_ = np.linalg.lstsq(B, y, rcond=None)
    return Baseline(base.kind, base.terms, tuple(map(float, coef)), variables, base.delta)
