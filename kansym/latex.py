"""LaTeX for formulas: SymPy's printer with numbers rounded to a set number of significant digits."""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter


class KansymLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer with Floats rounded to ``precision`` significant digits."""

    def __init__(self, settings=None, precision: int = 5):
        super().__init__(settings)
        self.precision = precision

    def _print_Float(self, expr):
        return super()._print_Float(sp.Float(float(expr), self.precision))


def to_latex(expr: sp.Expr, precision: int = 5, **settings) -> str:
    """LaTeX for ``expr``; numbers to ``precision`` significant digits."""
    settings = {"mul_symbol": None, **settings}
    return KansymLatexPrinter(settings, precision=precision).doprint(expr)
