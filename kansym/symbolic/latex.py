"""LaTeX for formulas: SymPy's printer with numbers rounded to a set number of significant digits, equations
cut into lines that fit a two-column page, escaped text, siunitx value formats, and PDG rounding of a value with
its error."""

from __future__ import annotations

import math
import re
from types import MappingProxyType

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

NOTATION = "kansym-physics/2"
"""The ``notation`` field of the entries this version writes: their ``.tex`` is in the physicist's notation of
:mod:`kansym.report.notation`, terms by liquid-drop family (entries of ``kansym-physics/1`` have the liquid-drop
constants' terms first, then the others; entries without the field SymPy's own order and signs)."""
NOTATIONS = ("kansym-physics/1", NOTATION)


FEATURE_SYMBOLS = MappingProxyType({"N-Z": ("NmZ", "(N - Z)"), "A^(2/3)": ("A23", "{A^{2/3}}")})
"""Feature names that are no symbol names (kansym's kan4, kan9, kan11): the symbol formulas use, and its LaTeX."""
_SYMBOL_TEX = {symbol: tex for symbol, tex in FEATURE_SYMBOLS.values()}


class KansymLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with Floats rounded to ``precision`` significant digits, and the symbols of
    :data:`FEATURE_SYMBOLS` printed as what they stand for."""

    def __init__(self, settings=None, precision: int = 5):
        super().__init__(settings)
        self.precision = precision

    def _print_Float(self, expr):
        return super()._print_Float(sp.Float(float(expr), self.precision))

    def _print_Symbol(self, expr, style="plain"):
        return _SYMBOL_TEX.get(expr.name) or super()._print_Symbol(expr, style)


def to_latex(expr: sp.Expr, precision: int = 5, **settings) -> str:
    """LaTeX for ``expr``; numbers to ``precision`` significant digits."""
    settings = {"mul_symbol": None, **settings}
    return KansymLatexPrinter(settings, precision=precision).doprint(expr)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "|": r"\textbar{}", "<": r"\textless{}",
                ">": r"\textgreater{}"}


def tex_escape(text: str) -> str:
    """Text safe inside LaTeX: every special character printed as itself, never interpreted; control characters
    (an escape byte in a directory name) shown as '?'."""
    return "".join(_TEX_SPECIAL.get(ch, "?" if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch) for ch in str(text))


LINE_BUDGET = 38
"""Visible characters of mathematics per line of a two-column page (a 246 pt column at 10 pt)."""


def _group(tex: str, i: int) -> tuple[str, int]:
    """The brace group starting at ``tex[i]`` ('{'), and the index after it."""
    depth = 0
    for j in range(i, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        if depth == 0:
            return tex[i + 1:j], j + 1
    return tex[i + 1:], len(tex)


def _visible(tex: str) -> float:
    """Rough printed width of LaTeX mathematics, in characters: a fraction is as wide as its wider part,
    scripts count 0.6, sizing and spacing commands nothing."""
    width, i = 0.0, 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            cmd, i = m.group(1), i + len(m.group(0))
            if cmd == "frac":
                a, i = _group(tex, tex.index("{", i))
                b, i = _group(tex, tex.index("{", i))
                width += max(_visible(a), _visible(b))
            elif cmd in ("sin", "cos", "tanh", "log", "exp", "sqrt"):
                width += len(cmd)
            elif cmd not in ("left", "right", "Bigl", "Bigr", "bigl", "bigr", ",", ";", "!", " "):
                width += 1
        elif ch in "^_":
            i += 1
            if i < len(tex) and tex[i] == "{":
                g, i = _group(tex, i)
                width += 0.6 * _visible(g)
            else:
                width += 0.6
                i += 1
        elif ch == "{":
            g, i = _group(tex, i)
            width += _visible(g)
        else:
            width += 2.5 if ch in "+-=" else (ch not in " }")  # binary operators carry their spacing
            i += 1
    return width


_BREAKABLE_FUNCTIONS = {sp.sin: r"\sin", sp.cos: r"\cos", sp.tanh: r"\tanh", sp.log: r"\log"}


def _term_tex(term: sp.Expr, printer, leading: frozenset) -> str:
    """LaTeX of one term; a constant named in ``leading`` that multiplies it is printed first (a_C Z(Z-1)...)."""
    if leading and isinstance(term, sp.Mul):
        first = next((f for f in term.args if isinstance(f, sp.Symbol) and f.name in leading), None)
        if first is not None:
            rest = sp.Mul(*[f for f in term.args if f is not first])
            if rest == 1:
                return printer.doprint(first)
            shown = printer.parenthesize(rest, PRECEDENCE["Mul"]) if isinstance(rest, sp.Add) else printer.doprint(rest)
            return printer.doprint(first) + " " + shown
    return printer.doprint(term)


def _pieces(expr: sp.Expr, printer, budget: float, lead: str = "", terms=None,
            leading: frozenset = frozenset()) -> list[str]:
    """LaTeX pieces of ``expr`` between which a line may break: the terms of a sum (``terms``: in this order);
    inside a term too wide for a line, the terms of the sum in its brackets (with \\Bigl( ... \\Bigr), which
    may span lines). Constants named in ``leading`` are printed first in their terms."""
    if terms is None:
        terms = printer._as_ordered_terms(expr) if isinstance(expr, sp.Add) else [expr]
    out = []
    for k, term in enumerate(terms):
        sign = "" if k == 0 and not lead else "+ "
        if leading and term.could_extract_minus_sign():
            sign, term = "- ", -term
        tex = _term_tex(term, printer, leading)
        if tex.startswith("-"):
            sign, term, tex = "- ", -term, tex[1:].lstrip()
        if k == 0 and lead:
            sign = lead + sign if sign.strip() == "-" else lead
        if _visible(tex) <= budget:
            out.append(sign + tex)
            continue
        inner = _open_term(term, printer, budget)
        if inner is None:
            out.append(sign + tex)  # nothing to open: the line is as wide as this term
            continue
        prefix, body, suffix = inner
        sub = _pieces(body, printer, budget, lead=prefix)
        sub[0] = sign + sub[0]
        sub[-1] += suffix
        out.extend(sub)
    return out


def _open_term(term: sp.Expr, printer, budget: float):
    """(prefix, inner sum, suffix) of a term ``factors * f(sum)`` or ``factors * (sum)^k``, or None."""
    factors = sp.Mul.make_args(term)
    if any(f.is_Pow and f.exp.is_negative for f in factors):
        return None
    for f in sorted(factors, key=lambda f: -_visible(printer.doprint(f))):
        rest = sp.Mul(*[g for g in factors if g is not f])
        pre = "" if rest == 1 else printer.doprint(rest) + " "
        if f.func in _BREAKABLE_FUNCTIONS and isinstance(f.args[0], sp.Add):
            return pre + _BREAKABLE_FUNCTIONS[f.func] + r"\Bigl(", f.args[0], r"\Bigr)"
        if f.is_Pow and isinstance(f.base, sp.Add) and f.exp.is_Rational and f.exp.q != 2:
            return pre + r"\Bigl(", f.base, r"\Bigr)^{" + printer.doprint(f.exp) + "}"
    return None


def equation_lines(expr: sp.Expr, lhs: str, budget: int = LINE_BUDGET, terms=None,
                   leading: frozenset = frozenset(), settings: dict | None = None) -> list[str]:
    """The equation ``lhs = expr`` cut into lines of about ``budget`` characters, between the terms of the
    sum and, where one term is wider than a line, between the terms inside its brackets (``terms``: the sum's
    terms in the order shown; ``leading``: constants printed first in their terms)."""
    return expression_lines(expr, budget, terms, leading, settings, lead=f"{lhs} = ")


def expression_lines(expr: sp.Expr, budget: float = LINE_BUDGET, terms=None, leading: frozenset = frozenset(),
                     settings: dict | None = None, lead: str = "") -> list[str]:
    """``expr`` in LaTeX cut into lines of about ``budget`` characters, as :func:`equation_lines` cuts it
    (``lead``: text before the first term)."""
    printer = KansymLatexPrinter({"mul_symbol": None, **(settings or {})}, precision=5)
    lines, current = [], ""
    for piece in _pieces(expr, printer, budget, lead=lead, terms=terms, leading=leading):
        if current and _visible(current + piece) > budget:
            lines.append(current.rstrip())
            current = ""
        current += piece + " "
    lines.append(current.rstrip())
    return lines


def tex_value(short: str) -> str:
    """A shorthand value for an siunitx column; 0.0000063(16) becomes 6.3(16)e-6 (narrower, same digits)."""
    m = re.fullmatch(r"(-?)0\.(0{3,})(\d+)(\(\d+\))?", short)
    if not m:
        return short
    sign, zeros, digits, unc = m.groups()
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}{unc or ''}e-{len(zeros) + 1}"


def _table_format(shorthands: list[str]) -> str:
    """siunitx ``table-format`` wide enough for every value of a column ('-3.4(2)e-1' style)."""
    sign = integer = decimals = unc = exponent = 0
    for text in shorthands:
        m = re.fullmatch(r"(-?)(\d*)\.?(\d*)(?:\((\d+)\))?(?:e([-+]?\d+))?", text.replace("(.", "("))
        if not m:
            continue
        sign |= bool(m.group(1))
        integer, decimals = max(integer, len(m.group(2)) or 1), max(decimals, len(m.group(3)))
        unc, exponent = max(unc, len(m.group(4) or "")), max(exponent, len((m.group(5) or "").lstrip("+-")))
    fmt = ("-" if sign else "") + f"{integer}.{decimals}" + (f"({unc})" if unc else "")
    return fmt + (f"e-{exponent}" if exponent else "")


def pdg_round(value: float, err: float | None) -> tuple[str, str | None]:
    """Round value and error by the PDG rule: the error keeps 2 significant digits if its three
    leading digits are 100-354, 1 digit if 355-949, and 950-999 round up to 1000 with 2 digits."""
    if err is None or not np.isfinite(err) or err <= 0:
        return f"{value:.6g}", None
    if not 1e-290 < err < 1e290:  # powers of ten of the rounding would leave float64's range
        return f"{value:.15g}", f"{err:.2g}"
    exp = math.floor(math.log10(err))
    lead = int(round(err / 10 ** (exp - 2)))
    if lead >= 1000:
        exp, lead = exp + 1, lead // 10
    digits = 2 if lead <= 354 else (1 if lead <= 949 else 2)
    if lead >= 950:
        exp, digits = exp + 1, 2
    place = exp - digits + 1  # decimal position of the last kept digit
    if not abs(value / 10.0 ** place) < 1e15:  # more digits than a float holds (|value| >> err): the plain numbers
        return f"{value:.15g}", f"{err:.2g}"
    e = round(err / 10 ** place) * 10 ** place
    v = round(value / 10 ** place) * 10 ** place
    decimals = max(-place, 0)
    return f"{v:.{decimals}f}", f"{e:.{decimals}f}"


def shorthand(value: float, err: float | None) -> str:
    """'1.234(5)' style value with its uncertainty in the last digits."""
    v, e = pdg_round(value, err)
    if e is None:
        return v
    if "e" in v + e:  # beyond a float's digits (pdg_round): no digits in parentheses
        return f"{v} +- {e}"
    digits = e.replace(".", "").lstrip("0") or "0"
    if "." in v:
        return f"{v}({digits})"
    return f"{v}({e})"
