"""Edge-function libraries and per-edge symbolic fits.

Every edge of a KAN maps one input x to phi(x). Each library function f is fitted as
``phi(x) ~ c * f(a * x + b) + d``; power-like functions fix a = +-1 (the scale is absorbed into c)
and search the shift b so that the argument stays inside f's domain on every sample.
The chosen function is the simplest one whose unexplained variance is close to the best (see fit_edge).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable

import numpy as np
import sympy as sp

from kansym.errors import KansymError
from kansym.symbolic.exprsafety import MAX_EXPONENT


@dataclass(frozen=True)
class LibFunction:
    """One library function f: numpy form, SymPy form, complexity and the kind of fit it needs.

    ``kind``: 'zero' (dead edge), 'poly' (linear least squares on powers of x, degree ``degree``),
    'shift' (f needs a positive argument: fit c f(s(x + b)) + d with s = +-1 and b searched),
    'shift-any' (f defined everywhere: c f(x + b) + d), 'scale' (c f(a x) + d with a searched),
    'wave' (c f(a x + b) + d with frequency a and phase b searched: oscillating edges such as shell
    structure along N or Z).
    """

    name: str
    numpy: Callable[[np.ndarray], np.ndarray]
    sympy: Callable[[sp.Expr], sp.Expr]
    complexity: int
    kind: str
    degree: int = 1


def _power(p: sp.Rational):
    return LibFunction(f"x^({p})", lambda x, q=float(p): np.power(x, q), lambda x, q=p: x ** q,
                       complexity=3 if p.q != 1 else 2, kind="shift")


FUNCTIONS = MappingProxyType({f.name: f for f in (
    LibFunction("0", lambda x: np.zeros_like(x), lambda x: sp.Integer(0), 0, "zero"),
    LibFunction("x", lambda x: x, lambda x: x, 1, "poly", 1),
    LibFunction("x^2", lambda x: x ** 2, lambda x: x ** 2, 2, "poly", 2),
    LibFunction("x^3", lambda x: x ** 3, lambda x: x ** 3, 3, "shift-any"),
    LibFunction("x^(1/3)", np.cbrt, lambda x: x ** sp.Rational(1, 3), 3, "shift"),
    LibFunction("x^(2/3)", lambda x: np.cbrt(x) ** 2, lambda x: x ** sp.Rational(2, 3), 3, "shift"),
    LibFunction("x^(-1/3)", lambda x: 1.0 / np.cbrt(x), lambda x: x ** sp.Rational(-1, 3), 3, "shift"),
    LibFunction("sqrt", np.sqrt, sp.sqrt, 2, "shift"),
    LibFunction("x^(-1/2)", lambda x: 1.0 / np.sqrt(x), lambda x: x ** sp.Rational(-1, 2), 3, "shift"),
    LibFunction("1/x", lambda x: 1.0 / x, lambda x: 1 / x, 2, "shift"),
    LibFunction("x^(-2)", lambda x: x ** -2.0, lambda x: x ** -2, 3, "shift"),
    LibFunction("exp", np.exp, sp.exp, 3, "scale"),
    LibFunction("log", np.log, sp.log, 3, "shift"),
    LibFunction("sin", np.sin, sp.sin, 4, "wave"),
    LibFunction("tanh", np.tanh, sp.tanh, 4, "scale"),
)})

LIBRARIES = MappingProxyType({
    "physics": ("0", "x", "x^2", "x^3", "x^(1/3)", "x^(2/3)", "x^(-1/3)", "sqrt", "1/x", "exp", "log", "sin"),
    "poly": ("0", "x", "x^2", "x^3"),
    "pykan": ("0", "x", "x^2", "x^3", "sqrt", "x^(-1/2)", "1/x", "x^(-2)", "exp", "log", "sin", "tanh"),
})


_POWER_NAMES = {sp.Rational(1): "x", sp.Rational(2): "x^2", sp.Rational(3): "x^3", sp.Rational(1, 3): "x^(1/3)",
                sp.Rational(2, 3): "x^(2/3)", sp.Rational(-1, 3): "x^(-1/3)", sp.Rational(1, 2): "sqrt",
                sp.Rational(-1, 2): "x^(-1/2)", sp.Rational(-1): "1/x", sp.Rational(-2): "x^(-2)"}
"""The library functions that are powers of x, by exponent."""


def parse_power(name: str) -> LibFunction | None:
    """'x^(p/q)' or 'x^p' with a rational exponent -> a power LibFunction (None if not a power)."""
    text = name.replace(" ", "")
    if not text.startswith("x^"):
        return None
    m = re.fullmatch(r"\((-?\d{1,2})(?:/(\d{1,2}))?\)|(-?\d{1,2})(?:/(\d{1,2}))?", text[2:])  # read as data: no
    # SymPy string parsing; brackets around the whole exponent or none (x^(1/3 is refused)
    if m is None:
        return None
    num, den = int(m.group(1) or m.group(3)), int(m.group(2) or m.group(4) or 1)
    if den == 0:
        raise KansymError(f"--lib power {name!r} divides by zero")
    p = sp.Rational(num, den)
    if p == 0:
        return None
    if abs(p) > MAX_EXPONENT:  # a formula with it could not be read back (kansym.symbolic.exprsafety)
        raise KansymError(f"--lib power {name!r}: exponents are limited to +-{MAX_EXPONENT}")
    if p in _POWER_NAMES:  # a library function under another name (x^(1/2) is sqrt): the same function
        return FUNCTIONS[_POWER_NAMES[p]]
    if p.q == 1 and p > 0:
        return LibFunction(f"x^{p}", lambda x, q=int(p): x ** q, lambda x, q=int(p): x ** q, int(p), "shift-any")
    return _power(p)


def resolve_library(spec: str | None, extra: dict[str, LibFunction] | None = None) -> tuple[LibFunction, ...]:
    """A library by name ('physics', 'poly', 'pykan') or a comma list such as "x,x^2,x^(2/3),exp".

    ``extra`` adds user functions (each with numpy and SymPy forms). The zero function is always included.
    """
    known = {**FUNCTIONS, **(extra or {})}
    spec = "physics" if spec is None else spec
    if not isinstance(spec, str) or not spec.isascii() or len(spec) > 2000:
        raise KansymError(f"--lib {str(spec)[:40]!r} must be ASCII text of at most 2000 characters")
    names = LIBRARIES[spec] if spec in LIBRARIES else tuple(s.strip() for s in spec.split(","))
    if names and not all(names):
        raise KansymError(f"--lib {spec[:60]!r} has an empty element; list functions between commas, e.g. x,x^2,exp")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise KansymError(f"--lib names {', '.join(twice)[:60]} more than once; list each function once")
    if not names:
        raise KansymError(f"--lib {spec!r} names no function; give a library ({', '.join(LIBRARIES)}) "
                          "or a comma list such as x,x^2,exp")
    out = []
    for n in names:
        f = known.get(n) or parse_power(n)
        if f is None:
            raise KansymError(f"unknown function {n!r} in --lib; known: {', '.join(known)}, x^(p/q), "
                              f"or a named library: {', '.join(LIBRARIES)}")
        if f.name in [g.name for g in out]:
            raise KansymError(f"--lib gives {f.name} twice (as {n!r}); list each function once")
        out.append(f)
    if "0" not in [f.name for f in out]:
        out.insert(0, FUNCTIONS["0"])
    return tuple(out)


# --------------------------------------------------------------------------- fitting one edge

@dataclass(frozen=True)
class Candidate:
    """phi(x) ~ c f(a x + b) + d with its R^2 on the samples."""

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int


@dataclass(frozen=True)
class EdgeFit:
    """The chosen function for edge (layer, i -> j) and the ranked alternatives."""

    layer: int
    i: int
    j: int
    chosen: Candidate
    alternatives: tuple[Candidate, ...] = field(default=())


def _r2(y: np.ndarray, yhat: np.ndarray, w: np.ndarray) -> float:
    """R^2 of yhat for y, the samples weighted by w (their multiplicities)."""
    ss = float(w @ (y - (w @ y) / w.sum()) ** 2)
    res = float(w @ (y - yhat) ** 2)
    if not np.isfinite(res):
        return -np.inf
    return 1.0 - res / ss if ss > 0 else (1.0 if res < 1e-24 else -np.inf)


def _linear_cd(g: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted least-squares c, d in y ~ c g + d, and the R^2 (c = 0 for a constant g)."""
    if not np.isfinite(g).all():
        return 0.0, 0.0, -np.inf
    W = w.sum()
    gm, ym = (w @ g) / W, (w @ y) / W
    gc = g - gm
    sgg = float(w @ (gc * gc))
    c = float(w @ (gc * (y - ym))) / sgg if sgg > 0 else 0.0
    d = float(ym - c * gm)
    return c, d, _r2(y, c * g + d, w)


def _best_cd(G: np.ndarray, y: np.ndarray, w: np.ndarray) -> int | None:
    """The row k of ``G`` (trials x samples) whose weighted least-squares fit y ~ c G[k] + d explains most
    variance (None if no row is finite); every row in one vectorised pass."""
    with np.errstate(all="ignore"):
        ok = np.isfinite(G).all(axis=1)
        if not ok.any():
            return None
        W = w.sum()
        Gc = G - (G @ w)[:, None] / W
        yc = y - (w @ y) / W
        sgg = (Gc * Gc) @ w
        sgy = Gc @ (w * yc)
        explained = np.where(ok & (sgg > 0), sgy * sgy / np.where(sgg > 0, sgg, 1.0), -np.inf)
    return int(np.argmax(explained))


def _fit(f: LibFunction, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Candidate | None:
    """c f(a x + b) + d fitted to the samples (x, y) weighted by w."""
    if f.kind == "zero":
        ym = float((w @ y) / w.sum())
        return Candidate(f.name, 0.0, 0.0, 0.0, ym, _r2(y, np.full_like(y, ym), w), 0)
    if f.kind == "poly" and f.degree == 1:
        c, d, r2 = _linear_cd(x, y, w)
        return Candidate(f.name, 1.0, 0.0, c, d, r2, f.complexity)
    if f.kind == "poly":  # c (x + b)^2 + d
        with warnings.catch_warnings():  # few distinct x (a binary input): the R^2 below says how well it fits
            warnings.simplefilter("ignore", np.exceptions.RankWarning)
            a2, a1, a0 = np.polyfit(x, y, 2, w=np.sqrt(w))
        if a2 == 0:
            return None
        b = a1 / (2 * a2)
        cand = Candidate(f.name, 1.0, float(b), float(a2), float(a0 - a2 * b * b), 0.0, f.complexity)
        return Candidate(**{**cand.__dict__, "r2": _r2(y, a2 * (x + b) ** 2 + cand.d, w)})
    lo, hi = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-12)
    best = None
    if f.kind == "wave":
        return _fit_wave(f, x, y, w)
    if f.kind == "scale":
        trials = [(a, 0.0) for a in np.concatenate([-np.logspace(-2, 1.3, 60), np.logspace(-2, 1.3, 60)])]
    elif f.kind == "shift-any":
        trials = [(1.0, b) for b in np.linspace(-hi - 2 * span, -lo + 2 * span, 121)]
    else:  # argument s (x + b) > 0 on all samples, s = +-1
        offsets = span * np.logspace(-3, 3, 90)
        trials = [(1.0, -lo + o) for o in offsets] + [(-1.0, hi + o) for o in offsets]
    ab = np.array(trials)
    with np.errstate(all="ignore"):
        k = _best_cd(f.numpy(ab[:, :1] * x[None, :] + ab[:, 1:]), y, w)
        if k is not None:
            a, b = trials[k]
            best = (a, b, *_linear_cd(f.numpy(a * x + b), y, w))
    if best is None or not np.isfinite(best[4]):
        return None
    a, b, c, d, r2 = _polish(f, x, y, w, best)
    return Candidate(f.name, float(a), float(b), c, d, float(r2), f.complexity)


def _fit_wave(f: LibFunction, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Candidate | None:
    """c f(a x + b) + d: grid over frequency a (up to ~6 periods over the samples' span) and phase b
    (c, d by linear least squares), then a joint local refinement of (a, b)."""
    from scipy.optimize import minimize

    span = max(float(np.ptp(x)), 1e-12)
    best = None
    with np.errstate(all="ignore"):
        ab = np.array([(a, b) for a in np.linspace(0.25, 12 * np.pi, 96) / span
                       for b in np.linspace(0, 2 * np.pi, 12, endpoint=False)])
        k = _best_cd(f.numpy(ab[:, :1] * x[None, :] + ab[:, 1:]), y, w)
        if k is None:
            return None
        best = (ab[k, 0], ab[k, 1], *_linear_cd(f.numpy(ab[k, 0] * x + ab[k, 1]), y, w))

        def miss(t):
            return 1.0 - _linear_cd(f.numpy(t[0] * x + t[1]), y, w)[2]
        res = minimize(miss, np.array(best[:2]), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14,
                                                                                "maxiter": 2000})
    a, b = (res.x if res.fun < 1.0 - best[4] else best[:2])
    c, d, r2 = _linear_cd(f.numpy(a * x + b), y, w)
    if not np.isfinite(r2):
        return None
    b = float(np.mod(b + (np.pi if c < 0 else 0.0), 2 * np.pi))  # c > 0 with the phase in [0, 2 pi)
    return Candidate(f.name, float(a), b, abs(c), d, float(r2), f.complexity)


def _polish(f: LibFunction, x: np.ndarray, y: np.ndarray, w: np.ndarray, start: tuple) -> tuple:
    """Refine the grid-search optimum of the inner parameter (b for shifts, a for scales) locally."""
    from scipy.optimize import minimize_scalar

    a0, b0, *_ = start
    lo, hi = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-12)

    def inner(t):
        a, b = (t, 0.0) if f.kind == "scale" else (a0, t)
        arg = a * x + b
        if f.kind == "shift" and np.any(arg <= 0):
            return np.inf, (a, b, 0.0, 0.0, -np.inf)
        with np.errstate(all="ignore"):
            c, d, r2 = _linear_cd(f.numpy(arg), y, w)
        return 1.0 - r2, (a, b, c, d, r2)

    t0 = a0 if f.kind == "scale" else b0
    width = max(abs(t0) * 0.5, span)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize_scalar(lambda t: inner(t)[0], bracket=None, bounds=(t0 - width, t0 + width), method="bounded",
                              options={"xatol": 1e-12 * max(1.0, abs(t0)), "maxiter": 200})
    cand = inner(res.x)[1]
    return cand if np.isfinite(cand[4]) and cand[4] >= start[4] else start


def fit_edge(x: np.ndarray, y: np.ndarray, library: tuple[LibFunction, ...], tol: float = 1e-5,
             layer: int = 0, i: int = 0, j: int = 0, cache: dict | None = None) -> EdgeFit:
    """Fit every library function to the samples (x, phi(x)) and choose one.

    Rule: the lowest-complexity candidate whose unexplained variance 1 - R^2 is at most
    max(min(2 m, m + 0.01), ``tol``) with m = 1 - R^2_best. A flat edge (zero variance) is the zero
    function (a constant). ``cache`` (function name -> fit) keeps the fits of these samples for the next library.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
        zero = Candidate("0", 0.0, 0.0, 0.0, float(y.mean()), 1.0, 0)
        return EdgeFit(layer, i, j, zero, (zero,))
    cached = {} if cache is None else cache
    # an edge is a function of x: fit each distinct x once, weighted by how often it occurs (the same fit)
    xu, inv, w = np.unique(x, return_inverse=True, return_counts=True)
    yu = np.bincount(inv.ravel(), weights=y) / w
    w = w.astype(np.float64)
    for f in library:
        if f.name not in cached:
            cached[f.name] = _fit(f, xu, yu, w)
    cands = [c for c in (cached[f.name] for f in library) if c is not None and np.isfinite(c.r2)]
    if not cands:
        raise KansymError(f"no library function could be fitted to edge ({layer},{i},{j})")
    ranked = sorted(cands, key=lambda c: (-c.r2, c.complexity))
    miss = 1.0 - ranked[0].r2
    allowed = max(min(2.0 * miss, miss + 0.01), tol)
    ok = [c for c in cands if 1.0 - c.r2 <= allowed]
    chosen = min(ok, key=lambda c: (c.complexity, -c.r2))
    return EdgeFit(layer, i, j, chosen, tuple(ranked))


def candidate_sympy(c: Candidate, x: sp.Expr, lib: dict[str, LibFunction]) -> sp.Expr:
    """The SymPy form c f(a x + b) + d of a candidate (x may be any expression)."""
    f = lib[c.name]
    if f.kind == "zero":
        return sp.Float(c.d)
    if f.kind == "poly" and f.degree == 1:
        return sp.Float(c.c) * x + sp.Float(c.d)
    return sp.Float(c.c) * f.sympy(sp.Float(c.a) * x + sp.Float(c.b)) + sp.Float(c.d)


def candidate_numpy(c: Candidate, x: np.ndarray, lib: dict[str, LibFunction]) -> np.ndarray:
    """The numeric value c f(a x + b) + d of a candidate."""
    f = lib[c.name]
    if f.kind == "zero":
        return np.full_like(np.asarray(x, dtype=np.float64), c.d)
    if f.kind == "poly" and f.degree == 1:
        return c.c * x + c.d
    with np.errstate(all="ignore"):
        return c.c * f.numpy(c.a * x + c.b) + c.d
