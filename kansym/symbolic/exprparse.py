"""A whitelisting parser from symbolic-regression output strings to SymPy.

Accepts numbers, the given variable names (and x0, x1, ... positional names), the operators
+ - * / ^ (and **), parentheses, and a fixed set of functions. Anything else is rejected; no
string is ever passed to ``eval``.
"""

from __future__ import annotations

import math
import re

import sympy as sp

from kansym.errors import KansymError
from kansym.symbolic.exprsafety import bounded_pow, check_exponents, not_finite, scan


def real_cbrt(x):
    """Real cube root: sign(x) |x|^(1/3)."""
    return sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)


FUNCTIONS = {
    # one-argument wrappers: sp.sqrt(x, y) and sp.log(x, y) would silently read a second argument
    "sqrt": lambda x: sp.sqrt(x), "cbrt": real_cbrt, "exp": lambda x: sp.exp(x), "log": lambda x: sp.log(x),
    "abs": lambda x: sp.Abs(x), "sin": lambda x: sp.sin(x), "cos": lambda x: sp.cos(x), "tanh": lambda x: sp.tanh(x), "square": lambda x: x ** 2, "cube": lambda x: x ** 3,
    "neg": lambda x: -x, "inv": lambda x: 1 / x, "pow": lambda x, y: _pow(x, y),
    "plus": lambda x, y: x + y, "sub": lambda x, y: x - y, "mult": lambda x, y: x * y, "div": lambda x, y: x / y,
}
MAX_DEPTH = 100  # nesting of parentheses, calls and unary operators (five Python frames each)


def _fail(message):
    raise KansymError(message)


def _pow(base, exponent):
    return bounded_pow(base, exponent, _fail)  # parser values are always SymPy objects


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))", re.ASCII)  # ASCII digits only: '٣' or '３' is an error
MAX_LENGTH = 5000


def tokenize(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_LENGTH:
        raise KansymError(f"equation is longer than {MAX_LENGTH} characters")
    return scan(text, _TOKEN, f"in equation {text[:80]!r}")


def parse_equation(text: str, variables: dict[str, sp.Symbol]) -> sp.Expr:
    """Parse ``text`` into SymPy; ``variables`` maps allowed names to symbols."""
    tokens = tokenize(text)
    pos = 0
    depth = 0

    def nested():
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise KansymError(f"equation nested deeper than {MAX_DEPTH} levels: {text[:80]!r}...")

    def peek():
        return tokens[pos] if pos < len(tokens) else (None, None)

    def take(value=None):
        nonlocal pos
        tok = peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise KansymError(f"malformed equation {text!r}: expected {value or 'more input'}")
        pos += 1
        return tok

    def expr():
        node = term()
        while peek()[1] in ("+", "-"):
            op = take()[1]
            node = node + term() if op == "+" else node - term()
        return node

    def term():
        node = unary()
        while peek()[1] in ("*", "/"):
            op = take()[1]
            node = node * unary() if op == "*" else node / unary()
        return node

    def unary():
        nonlocal depth
        nested()
        try:
            if peek()[1] == "-":
                take()
                return -unary()
            if peek()[1] == "+":
                take()
                return unary()
            return power()
        finally:
            depth -= 1

    def power():
        base = atom()
        if peek()[1] in ("^", "**"):
            take()
            return _pow(base, unary())
        return base

    def atom():
        kind, value = take()
        if kind == "num":
            if len(value) > 40:
                raise KansymError(f"number with more than 40 characters in equation {text[:80]!r}")
            if not math.isfinite(float(value)):
                raise KansymError(f"number {value[:30]} in equation {text[:80]!r} is outside the range of double "
                                  "precision")
            return sp.Float(value) if any(c in value for c in ".eE") else sp.Integer(value)
        if kind == "name":
            if peek()[1] == "(":
                if value not in FUNCTIONS:
                    raise KansymError(f"unknown function {value!r} in equation {text!r}; allowed: "
                                      f"{', '.join(sorted(FUNCTIONS))}")
                take("(")
                args = [expr()]
                while peek()[1] == ",":
                    take()
                    args.append(expr())
                take(")")
                try:
                    return FUNCTIONS[value](*args)
                except KansymError:
                    raise
                except TypeError:
                    raise KansymError(f"wrong number of arguments to {value} in {text!r}") from None
                except (ArithmeticError, ValueError, RecursionError, MemoryError) as exc:
                    raise KansymError(f"{value}(...) in {text[:80]!r} cannot be evaluated: "
                                      f"{type(exc).__name__}") from None
            if value in variables:
                return variables[value]
            raise KansymError(f"unknown name {value!r} in equation {text!r}; allowed: {', '.join(variables)}")
        if value == "(":
            node = expr()
            take(")")
            return node
        raise KansymError(f"malformed equation {text!r}: unexpected {value!r}")

    result = expr()
    if pos != len(tokens):
        raise KansymError(f"malformed equation {text!r}: unexpected {tokens[pos][1]!r}")

    if not_finite(result):
        raise KansymError(f"equation {text[:80]!r} contains an infinite or undefined value (division by zero?)")
    if result.has(sp.I):
        raise KansymError(f"equation {text[:80]!r} is complex (e.g. sqrt of a negative number); formulas must be real")
    check_exponents(result, _fail)
    return result
