"""Safety checks shared by the two formula readers (``exprparse`` for equations, ``srepr_reader`` for
SymPy's constructor syntax): a strict tokenizer, and powers bounded before SymPy computes them."""

from __future__ import annotations

import math
import re

import sympy as sp

from kansym.errors import KansymError

MAX_EXPONENT = 64  # |numeric exponent|
MAX_BITS = 4096  # of a numeric power's value


def scan(text: str, pattern: re.Pattern, where: str) -> list[tuple[str, str]]:
    """(group name, text) of each token of ``text``; anything ``pattern`` does not match is an error."""
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = pattern.match(text, pos)
        if not m or m.end() == pos:
            raise KansymError(f"unexpected character {text[pos]!r} at position {pos} {where}")
        out.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def not_finite(expr: sp.Expr) -> bool:
    """True if ``expr`` contains an infinity or NaN (e.g. from a division by zero)."""
    return expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo)


def _short(number: sp.Expr) -> str:
    """A number for a message: as written when short, else in scientific notation (1e308 has 309 digits)."""
    text = str(number)
    return text if len(text) <= 24 else f"{float(number):.6g}" if number.is_finite else text[:24] + "..."


def bounded_pow(base: sp.Expr, exponent: sp.Expr, fail) -> sp.Expr:
    """base**exponent, refused (``fail(message)``) for a numeric exponent beyond +-MAX_EXPONENT or a
    numeric power whose value would need more than MAX_BITS bits, before SymPy computes it."""
    if not_finite(exponent) or not_finite(base):
        fail("a power of an infinite or undefined value (division by zero?)")
    if exponent.is_Number:
        if not exponent.is_finite or abs(float(exponent)) > MAX_EXPONENT:
            fail(f"exponent {_short(exponent)} is beyond +-{MAX_EXPONENT}")
        if base.is_Rational and base != 0 and exponent.is_Integer:
            p, q = sp.fraction(base)
            if abs(int(exponent)) * max(math.log2(abs(int(p)) + 1), math.log2(abs(int(q)) + 1)) > MAX_BITS:
                fail(f"numeric power {_short(base)}^{_short(exponent)} is too large")
    out = sp.Pow(base, exponent)
    check_exponents(out, fail)  # SymPy folds (x^a)^b into x^(ab): nested powers can pass each check alone
    return out


def check_exponents(expr: sp.Expr, fail) -> None:
    """``fail(message)`` if any power in ``expr`` has a numeric exponent beyond +-MAX_EXPONENT (after SymPy's
    folding of nested powers and of products of equal bases)."""
    pows = [expr] if isinstance(expr, sp.Pow) else [a for a in sp.Mul.make_args(expr) if isinstance(a, sp.Pow)]
    if not isinstance(expr, (sp.Pow, sp.Mul)):
        pows = list(expr.atoms(sp.Pow))
    for p in pows:
        e = p.exp
        if e.is_Number and (not e.is_finite or abs(float(e)) > MAX_EXPONENT):
            fail(f"exponent {str(e)[:40]} is beyond +-{MAX_EXPONENT}")
