"""LaTeX and JSON export of formulas: a SymPy LaTeX printer, PDG rounding, and registry entries."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from kansym.errors import KansymError
from kansym.formula import DEGENERATE_CORR, Formula, Parameter
from kansym.runs import write_json_atomic, write_text_atomic


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


def pdg_round(value: float, err: float | None) -> tuple[str, str | None]:
    """Round value and error by the PDG rule: the error keeps 2 significant digits if its three
    leading digits are 100-354, 1 digit if 355-949, and 950-999 round up to 1000 with 2 digits."""
    if err is None or not np.isfinite(err) or err <= 0:
        return f"{value:.6g}", None
    exp = math.floor(math.log10(err))
    lead = int(round(err / 10 ** (exp - 2)))
    if lead >= 1000:
        exp, lead = exp + 1, lead // 10
    digits = 2 if lead <= 354 else (1 if lead <= 949 else 2)
    if lead >= 950:
        exp, digits = exp + 1, 2
    place = exp - digits + 1  # decimal position of the last kept digit
    e = round(err / 10 ** place) * 10 ** place
    v = round(value / 10 ** place) * 10 ** place
    decimals = max(-place, 0)
    return f"{v:.{decimals}f}", f"{e:.{decimals}f}"


def shorthand(value: float, err: float | None) -> str:
    """'1.234(5)' style value with its uncertainty in the last digits."""
    v, e = pdg_round(value, err)
    if e is None:
        return v
    digits = e.replace(".", "").lstrip("0") or "0"
    if "." in v:
        return f"{v}({digits})"
    return f"{v}({e})"


def parameter_rows(formula: Formula) -> list[dict]:
    """Plain rows for a parameter table."""
    rows = []
    degenerate = formula.degenerate_pairs()
    for k, p in enumerate(formula.parameters):
        if p.stderr is None:
            flags = ["error undetermined (infinite derivative, negative variance or singular fit)"]
        else:
            flags = ["at boundary"] if p.at_boundary else []
        partners = [formula.parameters[b if a == k else a].name for a, b, _ in degenerate if k in (a, b)]
        if partners:
            flags.append(f"|corr| > {DEGENERATE_CORR} with {', '.join(partners)}")
        rel = abs(p.stderr / p.value) if p.stderr is not None and p.value != 0 else None
        rows.append({"name": p.name, "value": p.value, "stderr": p.stderr, "relative_uncertainty": rel,
                     "init": p.init, "shorthand": shorthand(p.value, p.stderr), "at_boundary": p.at_boundary,
                     "flag": "; ".join(flags)})
    return rows


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}


def tex_escape(text: str) -> str:
    """Text safe inside LaTeX: every special character printed as itself, never interpreted."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def _tex_symbol(name: str) -> str:
    base, _, sub = name.partition("_")
    return f"{base}_{{{sub}}}" if sub else base


def formula_tex(formula: Formula, lhs: str, metrics: dict, caption: str = "", label: str = "kansym") -> str:
    """A standalone LaTeX snippet: equation, booktabs + siunitx parameter table, metrics line."""
    eq = to_latex(formula.expr)
    rows = []
    for p in parameter_rows(formula):
        num = p["shorthand"]
        note = f" & {p['flag']}" if p["flag"] else " & "
        rows.append(f"    ${_tex_symbol(p['name'])}$ & \\num{{{num}}}{note} \\\\")
    m = metrics.get("rmse_mev", {})
    mline = ", ".join(f"{k} {v:.3f}" for k, v in m.items() if v is not None and np.isfinite(v))
    return "\n".join([
        "% kansym formula snippet; needs \\usepackage{amsmath,booktabs,siunitx}",
        "\\begin{equation}",
        f"  {lhs} = {eq}",
        f"  \\label{{eq:{label}}}",
        "\\end{equation}",
        "\\begin{table}[h]",
        "  \\centering",
        f"  \\caption{{{caption or 'Refitted constants (MeV units for energies).'}}}",
        "  \\begin{tabular}{lll}",
        "    \\toprule",
        "    Parameter & Value & Note \\\\",
        "    \\midrule",
        *rows,
        "    \\bottomrule",
        "  \\end{tabular}",
        "\\end{table}",
        f"RMSE [\\si{{\\MeV}}]: {mline}; {formula.n_constants} constants.",
        "",
    ])


def standalone_document(snippet: str) -> str:
    """Wrap a snippet into a compilable document."""
    return ("\\documentclass{article}\n\\usepackage{amsmath,booktabs,siunitx}\n\\begin{document}\n"
            f"{snippet}\n\\end{{document}}\n")


def formula_entry(formula: Formula, metrics: dict, context: dict) -> dict:
    """The JSON registry entry: srepr, LaTeX, parameters, metrics, and provenance ``context``."""
    return {
        "format": "kansym-formula/1",
        "srepr": sp.srepr(formula.expr),
        "latex": to_latex(formula.expr),
        "text": str(formula.expr),
        "variables": list(formula.variables),
        "parameters": parameter_rows(formula),
        "correlations": [list(r) for r in formula.correlations],
        "units": {"output": "MeV", "parameters": "MeV per unit of the variables' powers"},
        "n_constants": formula.n_constants,
        "metrics": metrics,
        **context,
    }


def formula_from_entry(entry: dict) -> Formula:
    """Rebuild a Formula from a registry entry; the srepr is read by ``kansym.srepr_reader`` (data, never code)."""
    from kansym.srepr_reader import parse_srepr

    if not isinstance(entry, dict):
        raise KansymError(f"malformed formula entry: expected a JSON object, got {type(entry).__name__}")
    try:
        expr = parse_srepr(entry["srepr"], where="formula entry 'srepr'")
        params = tuple(Parameter(str(p["name"]), _number(p["value"], "value"),
                                 None if p["stderr"] is None else _number(p["stderr"], "stderr", lo=0.0),
                                 _number(p["init"], "init"))
                       for p in entry["parameters"])
        corr = tuple(tuple(float(c) for c in r) for r in entry.get("correlations", []))
        if corr and (len(corr) != len(params) or any(len(r) != len(params) for r in corr)):
            raise ValueError(f"correlations are not a {len(params)} x {len(params)} matrix")
        variables = tuple(entry["variables"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KansymError(f"malformed formula entry: {type(exc).__name__}: {str(exc)[:200]}") from None
    names = [*map(str, variables), *(p.name for p in params)]
    odd = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", n)]
    if odd:
        raise KansymError(f"malformed formula entry: names must be letters, digits and '_': {odd[0][:40]!r}")
    known = set(names)
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in known)
    if unknown:
        raise KansymError(f"malformed formula entry: symbols {', '.join(unknown)} are neither variables nor parameters")
    return Formula(expr, variables, params, corr)


def _number(value, what: str, lo: float = -np.inf) -> float:
    """A finite float (>= ``lo``) from a formula entry; strings, booleans and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"parameter {what} {str(value)[:40]!r} is not a number")
    if not (np.isfinite(value) and value >= lo):
        raise ValueError(f"parameter {what} {value!r} is not a finite number" + (f" >= {lo}" if lo > -np.inf else ""))
    return float(value)


def write_formula(directory: Path, name: str, formula: Formula, metrics: dict, context: dict, lhs: str,
                  force: bool = False) -> tuple[Path, Path]:
    """Write ``name.json`` and ``name.tex`` into ``directory`` (atomically; refuse to overwrite)."""
    directory = Path(directory)
    js, tex = directory / f"{name}.json", directory / f"{name}.tex"
    exists = KansymError(f"formula {name!r} already exists in {directory}; use --force to overwrite it")
    if not force:
        if tex.exists():
            raise exists
        directory.mkdir(parents=True, exist_ok=True)
        try:  # claim the name exclusively: of two concurrent exports only one gets it
            os.close(os.open(js, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise exists from None
    write_json_atomic(js, formula_entry(formula, metrics, context))
    write_text_atomic(tex, formula_tex(formula, lhs, metrics, label=name))
    return js, tex


def render_png(formula: Formula, lhs: str, path: Path) -> None:
    """The equation rendered with matplotlib mathtext (plain text if mathtext cannot parse it)."""
    from kansym.figures import _plt

    plt = _plt()
    tex = f"${lhs} = {to_latex(formula.expr, precision=4)}$"
    fig = plt.figure(figsize=(min(2 + 0.09 * len(tex), 30), 1.2))
    try:
        fig.text(0.01, 0.5, tex, fontsize=14, va="center")
        fig.savefig(path, dpi=130, bbox_inches="tight")
    except (ValueError, RuntimeError):
        fig.clf()
        fig.text(0.01, 0.5, f"{lhs} = {formula.expr}", fontsize=10, va="center", family="monospace")
        fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)

