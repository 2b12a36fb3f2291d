"""From networks to formulas: the edge-function library, the composition, ``Formula`` with refit and covariance, candidate routes, the formula search and its choice rule, the whitelisting readers and the LaTeX printer."""

from kansym.symbolic.library import LIBRARIES, EdgeFit, LibFunction, fit_edge, resolve_library
from kansym.symbolic.formula import (
    Formula,
    Parameter,
    formula_from_entry,
    network_formula,
    refit,
    variable_symbols,
)
from kansym.symbolic.candidates import CandidateOptions, FormulaCandidate, Origin, Scoring, generate
from kansym.symbolic.search import RULE, SearchBudget, choose_structure, member_search
from kansym.symbolic.reference import eq6_form, fit_eq6, liquid_drop
from kansym.symbolic.exprparse import parse_equation
from kansym.symbolic.srepr_reader import parse_srepr
from kansym.symbolic.latex import equation_lines, tex_escape, to_latex

__all__ = [
    "CandidateOptions", "EdgeFit", "Formula", "FormulaCandidate", "Origin", "Scoring", "LIBRARIES", "LibFunction", "Parameter", "RULE", "SearchBudget",
    "choose_structure", "eq6_form", "equation_lines", "fit_edge", "fit_eq6", "formula_from_entry", "generate",
    "liquid_drop", "member_search", "network_formula", "parse_equation", "parse_srepr", "refit",
    "resolve_library", "tex_escape", "to_latex", "variable_symbols",
]
