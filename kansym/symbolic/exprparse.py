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


class _EquationParser:
    """Recursive descent over the tokens of one equation: expr = term (+|- term)*, term = unary (*|/ unary)*,
    unary = (-|+) unary | power, power = atom [(^|**) unary], atom = number | name | name(expr, ...) | (expr)."""

    def __init__(self, text: str, variables: dict[str, sp.Symbol]):
        self.text, self.variables = text, variables
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise KansymError(f"malformed equation {self.text!r}: expected {value or 'more input'}")
        self.pos += 1
        return tok

    def expr(self):
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = node + self.term() if op == "+" else node - self.term()
        return node

    def term(self):
        node = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = node * self.unary() if op == "*" else node / self.unary()
        return node

    def unary(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise KansymError(f"equation nested deeper than {MAX_DEPTH} levels: {self.text[:80]!r}...")
        try:
            if self.peek()[1] == "-":
                self.take()
                return -self.unary()
            if self.peek()[1] == "+":
                self.take()
                return self.unary()
            return self.power()
        finally:
            self.depth -= 1

    def power(self):
        base = self.atom()
        if self.peek()[1] in ("^", "**"):
            self.take()
            return _pow(base, self.unary())
        return base

    def atom(self):
        kind, value = self.take()
        if kind == "num":
            return self.number(value)
        if kind == "name":
            if self.peek()[1] == "(":
                return self.call(value)
            if value in self.variables:
                return self.variables[value]
            raise KansymError(f"unknown name {value!r} in equation {self.text!r}; allowed: "
                              f"{', '.join(self.variables)}")
        if value == "(":
            node = self.expr()
            self.take(")")
            return node
        raise KansymError(f"malformed equation {self.text!r}: unexpected {value!r}")

    def number(self, value: str):
        if len(value) > 40:
            raise KansymError(f"number with more than 40 characters in equation {self.text[:80]!r}")
        if not math.isfinite(float(value)):
            raise KansymError(f"number {value[:30]} in equation {self.text[:80]!r} is outside the range of double "
                              "precision")
        return sp.Float(value) if any(c in value for c in ".eE") else sp.Integer(value)

    def call(self, name: str):
        if name not in FUNCTIONS:
            raise KansymError(f"unknown function {name!r} in equation {self.text!r}; allowed: "
                              f"{', '.join(sorted(FUNCTIONS))}")
        self.take("(")
        args = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr())
        self.take(")")
        try:
            return FUNCTIONS[name](*args)
        except KansymError:
            raise
        except TypeError:
            raise KansymError(f"wrong number of arguments to {name} in {self.text!r}") from None
        except (ArithmeticError, ValueError, RecursionError, MemoryError) as exc:
            raise KansymError(f"{name}(...) in {self.text[:80]!r} cannot be evaluated: "
                              f"{type(exc).__name__}") from None


def parse_equation(text: str, variables: dict[str, sp.Symbol]) -> sp.Expr:
    """Parse ``text`` into SymPy; ``variables`` maps allowed names to symbols."""
    parser = _EquationParser(text, variables)
    result = parser.expr()
    if parser.pos != len(parser.tokens):
        raise KansymError(f"malformed equation {text!r}: unexpected {parser.tokens[parser.pos][1]!r}")
    if not_finite(result):
        raise KansymError(f"equation {text[:80]!r} contains an infinite or undefined value (division by zero?)")
    if result.has(sp.I):
        raise KansymError(f"equation {text[:80]!r} is complex (e.g. sqrt of a negative number); formulas must be real")
    check_exponents(result, _fail)
    return result
