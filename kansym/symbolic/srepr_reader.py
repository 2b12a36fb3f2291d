"""A bounded, whitelisting reader for SymPy ``srepr`` text (the ``srepr`` field of formula files).

Formula files travel between people, so their text is data, never code: no ``eval``, no
``sympify`` of strings. The grammar is srepr's own: ``Name(arg, ...)`` where a name is one of
:data:`CONSTRUCTORS`, an argument is another call, a quoted string (symbol names and Float
digits only), an integer, or a keyword ``assumption=True/False`` / ``precision=N``; the bare
constants ``E`` and ``pi``. Limits: text length, number of nodes, nesting depth, digits of an
integer, and exponents — a numeric exponent beyond :data:`MAX_EXPONENT` or a numeric power whose
value would exceed :data:`MAX_BITS` bits is refused before SymPy computes it.
"""

from __future__ import annotations

import math
import re

import sympy as sp

from kansym.errors import KansymError
from kansym.symbolic.exprsafety import bounded_pow, check_exponents, not_finite, scan

MAX_LENGTH = 200_000  # characters
MAX_NODES = 5_000
MAX_DEPTH = 200
MAX_DIGITS = 40  # of an integer literal
ASSUMPTIONS = {"real", "positive", "negative", "nonnegative", "nonpositive", "integer", "finite", "nonzero"}
FUNCTIONS = {"exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos, "tanh": sp.tanh, "Abs": sp.Abs,
             "sign": sp.sign}
CONSTRUCTORS = {"Add", "Mul", "Pow", "Symbol", "Integer", "Rational", "Float", *FUNCTIONS}
CONSTANTS = {"E": sp.E, "pi": sp.pi}

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<int>-?\d+)|(?P<str>'[^'\\]*'|\"[^\"\\]*\")"
                    r"|(?P<op>[(),=]))", re.ASCII)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", re.ASCII)  # finite decimals, ASCII digits


class _SreprParser:
    """Recursive descent over srepr tokens: value = int | 'str' | CONSTANT | Constructor(value, ..., key=literal)."""

    def __init__(self, tokens: list, where: str):
        self.tokens, self.where = tokens, where
        self.pos = self.nodes = 0

    def fail(self, msg):
        raise KansymError(f"{self.where}: {msg}")

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            self.fail(f"malformed srepr: expected {value or 'more input'} at token {self.pos}")
        self.pos += 1
        return tok

    def value(self, depth: int):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(f"srepr has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            self.fail(f"srepr nested deeper than {MAX_DEPTH} levels")
        kind, tok = self.take()
        if kind == "int":
            if len(tok.lstrip("-")) > MAX_DIGITS:
                self.fail(f"integer with more than {MAX_DIGITS} digits")
            return int(tok)
        if kind == "str":
            return tok[1:-1]
        if kind != "name":
            self.fail(f"malformed srepr: unexpected {tok!r}")
        if self.peek()[1] != "(":
            if tok in CONSTANTS:
                return CONSTANTS[tok]
            self.fail(f"unknown name {tok!r} (allowed: {', '.join(sorted(CONSTANTS))} and calls)")
        if tok not in CONSTRUCTORS:
            self.fail(f"unknown constructor {tok!r}; allowed: {', '.join(sorted(CONSTRUCTORS))}")
        return self.construct(tok, depth)

    def construct(self, tok: str, depth: int):
        self.take("(")
        args, kwargs = [], {}
        while self.peek()[1] != ")":
            if self.peek()[0] == "name" and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1][1] == "=":
                key = self.take()[1]
                self.take("=")
                kwargs[key] = _keyword(key, self.take(), self.fail)
            else:
                args.append(self.value(depth + 1))
            if self.peek()[1] == ",":
                self.take(",")
            elif self.peek()[1] != ")":
                self.fail("malformed srepr: expected ',' or ')'")
        self.take(")")
        try:
            return _build(tok, args, kwargs, self.fail)
        except KansymError:
            raise
        except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:
            # e.g. exp(exp(Float('1e40'))): SymPy evaluates the numbers and overflows
            self.fail(f"{tok}(...) cannot be evaluated: {type(exc).__name__}")


def parse_srepr(text: str, where: str = "srepr") -> sp.Expr:
    """The SymPy expression written as ``text`` by ``sympy.srepr``; ``where`` names the source in errors."""
    if not isinstance(text, str):
        raise KansymError(f"{where}: expected srepr text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise KansymError(f"{where}: srepr longer than {MAX_LENGTH} characters")
    try:
        tokens = scan(text, _TOKEN, "")
    except KansymError as exc:
        raise KansymError(f"{where}: {str(exc).strip()}") from None
    parser = _SreprParser(tokens, where)
    result = parser.value(0)
    if parser.pos != len(tokens):
        parser.fail(f"malformed srepr: unexpected {tokens[parser.pos][1]!r} after the expression")
    if not isinstance(result, sp.Expr):
        parser.fail("srepr is not an expression")
    if not_finite(result):
        parser.fail("the expression contains an infinite or undefined value (division by zero?)")
    check_exponents(result, parser.fail)
    if result.has(sp.I):
        parser.fail("the expression is complex (e.g. the square root of a negative number); formulas must be real")
    return result


def _keyword(key, tok, fail):
    kind, val = tok
    if key in ASSUMPTIONS and kind == "name" and val in ("True", "False"):
        return val == "True"
    if key == "precision" and kind == "int" and 1 <= int(val) <= 1000:
        return int(val)
    fail(f"keyword {key}={val} is not allowed")


def _expr_args(name, args, fail, n=None):
    if n is not None and len(args) != n:
        fail(f"{name} takes {n} argument(s), got {len(args)}")
    if not all(isinstance(a, sp.Basic) for a in args):
        fail(f"{name} needs expressions as arguments")
    return args


def _build(name, args, kwargs, fail):
    if name == "Symbol":
        if len(args) != 1 or not isinstance(args[0], str) or not _IDENT.fullmatch(args[0]):
            fail("Symbol needs one name made of letters, digits and '_'")
        if set(kwargs) - ASSUMPTIONS:
            fail(f"Symbol takes only assumptions, got {sorted(set(kwargs) - ASSUMPTIONS)}")
        return sp.Symbol(args[0], **kwargs)
    if kwargs and name != "Float":
        fail(f"{name} takes no keywords")
    if name == "Integer":
        if len(args) != 1 or not isinstance(args[0], int):
            fail("Integer needs one integer")
        return sp.Integer(args[0])
    if name == "Rational":
        if len(args) != 2 or not all(isinstance(a, int) for a in args) or args[1] == 0:
            fail("Rational needs two integers, the second nonzero")
        return sp.Rational(args[0], args[1])
    if name == "Float":
        if len(args) != 1 or not isinstance(args[0], str) or not _FLOAT.fullmatch(args[0]) or len(args[0]) > 64:
            fail("Float needs one decimal number as a string")
        if set(kwargs) - {"precision"}:
            fail("Float takes only precision=")
        if not math.isfinite(float(args[0])) or (float(args[0]) == 0 and any(c in "123456789" for c in
                                                                             args[0].split("e")[0].split("E")[0])):
            fail(f"Float {args[0][:30]} is outside the range of double precision")
        return sp.Float(args[0], precision=kwargs.get("precision", 53))
    if name == "Add":
        return sp.Add(*_expr_args(name, args, fail))
    if name == "Mul":
        return sp.Mul(*_expr_args(name, args, fail))
    if name == "Pow":
        return bounded_pow(*_expr_args(name, args, fail, 2), fail)
    return FUNCTIONS[name](*_expr_args(name, args, fail, 1))
