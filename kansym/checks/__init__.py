"""Checks of a formula or network beyond its data: the far-extrapolation check, chain extrapolation, and the cross-check by an independent symbolic-regression engine."""

from kansym.checks.farcheck import FarCheck, make_judge
from kansym.checks.extrapolation import Extrapolation, extrapolate, far_extrapolation
from kansym.checks.crosscheck import ENGINES, compare, crosscheck_tex, import_hof, make_engine

__all__ = [
    "ENGINES", "Extrapolation", "FarCheck", "compare", "crosscheck_tex", "extrapolate", "far_extrapolation",
    "import_hof", "make_engine", "make_judge",
]
